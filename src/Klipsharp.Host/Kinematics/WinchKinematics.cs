using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Cable winch kinematics (upstream kinematics/winch.py): each stepper winds a cable to
/// a fixed anchor. Upstream implements neither homing nor boundary checks.
/// </summary>
public sealed class WinchKinematics : IKinematics
{
    private readonly List<McuStepper> _steppers = new();
    private readonly List<double[]> _anchors = new();
    private readonly double[] _axesMin, _axesMax;

    public WinchKinematics(ToolHead toolhead, ConfigWrapper config)
    {
        for (int i = 0; i < 26; i++)
        {
            string name = "stepper_" + (char)('a' + i);
            if (i >= 3 && !config.HasSection(name))
                break;
            var stepperConfig = config.GetSection(name);
            var s = McuStepper.PrinterStepper(stepperConfig);
            _steppers.Add(s);
            double[] a = [stepperConfig.GetFloat("anchor_x"), stepperConfig.GetFloat("anchor_y"), stepperConfig.GetFloat("anchor_z")];
            _anchors.Add(a);
            s.SetupItersolve(new WinchStepperKinematics(a[0], a[1], a[2]));
            s.SetTrapq(toolhead.GetTrapq());
        }
        _axesMin = Enumerable.Range(0, 3).Select(k => _anchors.Min(a => a[k])).ToArray();
        _axesMax = Enumerable.Range(0, 3).Select(k => _anchors.Max(a => a[k])).ToArray();
        SetPosition([0.0, 0.0, 0.0], "");
    }

    public List<McuStepper> GetSteppers() => new(_steppers);

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        // Only the first three cables determine the position.
        var pos = _steppers.Take(3).Select(s => stepperPositions[s.GetName()]).ToArray();
        return MathUtil.Trilateration(_anchors.Take(3).ToArray(), pos.Select(sp => sp * sp).ToArray());
    }

    public void SetPosition(double[] newpos, string homingAxes)
    {
        foreach (var s in _steppers)
            s.SetPosition(newpos);
    }

    public void ClearHomingState(string clearAxes)
    {
        // Homing is not implemented upstream.
    }

    public void Home(Homing homingState)
    {
        // Homing is not implemented upstream: just declare the origin.
        homingState.SetAxes([0, 1, 2]);
        homingState.SetHomedPosition([0.0, 0.0, 0.0]);
    }

    public void CheckMove(Move move)
    {
        // Boundary checks and speed limits are not implemented upstream.
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["homed_axes"] = "xyz",
        ["axis_minimum"] = new Coord(_axesMin),
        ["axis_maximum"] = new Coord(_axesMax),
    };
}
