using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>Shared limit tracking of the cartesian-family kinematics (homed ranges, endstop checks, Z limits).</summary>
public abstract class CartesianFamilyKinematics : IDualCarriageKinematics
{
    protected readonly Printer Printer;
    protected List<GenericPrinterRail> Rails = new();
    protected (double Min, double Max)[] Limits = [(1.0, -1.0), (1.0, -1.0), (1.0, -1.0)];
    protected double MaxZVelocity, MaxZAccel;
    protected Coord AxesMin = new([0.0, 0.0, 0.0]);
    protected Coord AxesMax = new([0.0, 0.0, 0.0]);
    protected DualCarriages? DcModule;

    protected CartesianFamilyKinematics(ConfigWrapper config) => Printer = config.GetPrinter();

    protected void SetupRanges()
    {
        var ranges = Rails.Select(r => r.GetRange()).ToList();
        AxesMin = new Coord(ranges.Take(3).Select(r => r.Min));
        AxesMax = new Coord(ranges.Take(3).Select(r => r.Max));
    }

    protected void SetupZLimits(ToolHead toolhead, ConfigWrapper config)
    {
        var (maxVelocity, maxAccel) = toolhead.GetMaxVelocity();
        MaxZVelocity = config.GetFloat("max_z_velocity", maxVelocity, above: 0.0, maxval: maxVelocity);
        MaxZAccel = config.GetFloat("max_z_accel", maxAccel, above: 0.0, maxval: maxAccel);
        Limits = [(1.0, -1.0), (1.0, -1.0), (1.0, -1.0)];
    }

    public List<McuStepper> GetSteppers() => Rails.SelectMany(r => r.GetSteppers()).ToList();

    public abstract double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions);

    public void UpdateLimits(int i, (double Min, double Max) range)
    {
        var (l, h) = Limits[i];
        // Only a homed axis takes the new limits
        if (l <= h)
            Limits[i] = range;
    }

    public virtual void SetPosition(double[] newpos, string homingAxes)
    {
        foreach (var rail in Rails)
            rail.SetPosition(newpos);
        foreach (char axisName in homingAxes)
        {
            int axis = "xyz".IndexOf(axisName);
            GenericPrinterRail? rail = null;
            if (DcModule is not null && axis == DualCarriageAxis)
                rail = DcModule.GetPrimaryRail(axis);
            rail ??= Rails[axis];
            Limits[axis] = rail.GetRange();
        }
    }

    /// <summary>The axis with a dual carriage, or -1.</summary>
    protected virtual int DualCarriageAxis => -1;

    public void ClearHomingState(string clearAxes)
    {
        for (int axis = 0; axis < 3; axis++)
            if (clearAxes.Contains("xyz"[axis]))
                Limits[axis] = (1.0, -1.0);
    }

    public void HomeAxis(Homing homingState, int axis, GenericPrinterRail rail)
    {
        var (positionMin, positionMax) = rail.GetRange();
        var hi = rail.GetHomingInfo();
        var homepos = new double?[] { null, null, null, null };
        homepos[axis] = hi.PositionEndstop;
        var forcepos = homepos.ToArray();
        if (hi.PositiveDir)
            forcepos[axis] -= 1.5 * (hi.PositionEndstop - positionMin);
        else
            forcepos[axis] += 1.5 * (positionMax - hi.PositionEndstop);
        homingState.HomeRails([rail], forcepos, homepos);
    }

    public virtual void Home(Homing homingState)
    {
        // Axes home one at a time, in order
        foreach (int axis in homingState.GetAxes())
        {
            if (DcModule is not null && axis == DualCarriageAxis)
                DcModule.Home(homingState, axis);
            else
                HomeAxis(homingState, axis, Rails[axis]);
        }
    }

    private void CheckEndstops(Move move)
    {
        var endPos = move.EndPos;
        for (int i = 0; i < 3; i++)
        {
            if (move.AxesD[i] != 0.0 && (endPos[i] < Limits[i].Min || endPos[i] > Limits[i].Max))
            {
                if (Limits[i].Min > Limits[i].Max)
                    throw move.MoveError("Must home axis first");
                throw move.MoveError();
            }
        }
    }

    public void CheckMove(Move move)
    {
        var limits = Limits;
        double xpos = move.EndPos[0], ypos = move.EndPos[1];
        if (xpos < limits[0].Min || xpos > limits[0].Max || ypos < limits[1].Min || ypos > limits[1].Max)
            CheckEndstops(move);
        if (move.AxesD[2] == 0.0)
            return; // XY move: defaults apply
        // Z moves use the slower Z limits
        CheckEndstops(move);
        double zRatio = move.MoveD / Math.Abs(move.AxesD[2]);
        move.LimitSpeed(MaxZVelocity * zRatio, MaxZAccel * zRatio);
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        string axes = string.Concat(Enumerable.Range(0, 3).Where(i => Limits[i].Min <= Limits[i].Max).Select(i => "xyz"[i]));
        return new Dictionary<string, object?>
        {
            ["homed_axes"] = axes,
            ["axis_minimum"] = AxesMin,
            ["axis_maximum"] = AxesMax,
        };
    }

    protected void SetToolheadTrapq(ToolHead toolhead)
    {
        foreach (var s in GetSteppers())
            s.SetTrapq(toolhead.GetTrapq());
    }
}

/// <summary>Cartesian kinematics, optionally with a dual carriage (upstream kinematics/cartesian.py).</summary>
public sealed class CartKinematics : CartesianFamilyKinematics
{
    private readonly int _dualCarriageAxis = -1;

    public CartKinematics(ToolHead toolhead, ConfigWrapper config) : base(config)
    {
        Rails = "xyz".Select(n => StepperRails.LookupMultiRail(config.GetSection("stepper_" + n))).ToList();
        for (int i = 0; i < 3; i++)
        {
            char axis = "xyz"[i];
            Rails[i].SetupItersolve(() => new CartesianStepperKinematics(axis));
        }
        SetupRanges();
        if (config.HasSection("dual_carriage"))
        {
            var dcConfig = config.GetSection("dual_carriage");
            string dcAxis = dcConfig.GetChoice("axis", ["x", "y"]);
            _dualCarriageAxis = dcAxis == "x" ? 0 : 1;
            // The second carriage's rail
            Rails.Add(StepperRails.LookupMultiRail(dcConfig));
            char dcAxisChar = dcAxis[0];
            Rails[3].SetupItersolve(() => new CartesianStepperKinematics(dcAxisChar));
            DcModule = new DualCarriages(Printer, [Rails[_dualCarriageAxis]], [Rails[3]], [_dualCarriageAxis],
                [dcConfig.GetFloatOrNull("safe_distance", minval: 0.0)]);
        }
        SetToolheadTrapq(toolhead);
        SetupZLimits(toolhead, config);
    }

    protected override int DualCarriageAxis => _dualCarriageAxis;

    public override double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        var rails = Rails.Take(3).ToList();
        if (DcModule is not null)
            rails[_dualCarriageAxis] = DcModule.GetPrimaryRail(_dualCarriageAxis) ?? Rails[_dualCarriageAxis];
        return rails.Select(r => stepperPositions[r.GetName()]).ToArray();
    }
}

/// <summary>The "none" kinematics: no steppers, every move allowed (upstream kinematics/none.py).</summary>
public sealed class NoneKinematics : IKinematics
{
    private readonly Coord _axesMinmax = new([0.0, 0.0, 0.0]);

    public NoneKinematics(ToolHead toolhead, ConfigWrapper config)
    {
    }

    public List<McuStepper> GetSteppers() => new();

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions) => [0.0, 0.0, 0.0];

    public void SetPosition(double[] newpos, string homingAxes)
    {
    }

    public void ClearHomingState(string clearAxes)
    {
    }

    public void Home(Homing homingState)
    {
    }

    public void CheckMove(Move move)
    {
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["homed_axes"] = "",
        ["axis_minimum"] = _axesMinmax,
        ["axis_maximum"] = _axesMinmax,
    };
}
