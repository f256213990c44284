using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Deltesian kinematics (upstream kinematics/deltesian.py): two arm carriages (left and
/// right) move the effector in the XZ plane, a cartesian rail moves Y.
/// </summary>
public sealed class DeltesianKinematics : IKinematics
{
    /// <summary>Moves are slowed once the ratio of carriage to X movement exceeds this.</summary>
    public const double SlowRatio = 3.0;

    /// <summary>Minimum angle of an arm with the horizontal, in degrees.</summary>
    public const double MinAngle = 5.0;

    private readonly GenericPrinterRail[] _rails;
    private readonly double[] _armX, _arm2;
    private readonly (double Min, double Max)[] _limits;
    private readonly double[] _absEndstop;
    private readonly double _homeZ;
    private readonly double? _slowX2, _verySlowX2;
    private readonly double _maxZVelocity, _maxZAccel;
    private readonly double[] _axesMin, _axesMax;
    private readonly bool[] _homedAxis = new bool[3];

    public DeltesianKinematics(ToolHead toolhead, ConfigWrapper config)
    {
        var stepperConfigs = new[] { "left", "right", "y" }.Select(s => config.GetSection("stepper_" + s)).ToArray();
        _rails = new GenericPrinterRail[3];
        _rails[0] = StepperRails.LookupRail(stepperConfigs[0], needPositionMinMax: false);
        double defPosEs = _rails[0].GetHomingInfo().PositionEndstop;
        _rails[1] = StepperRails.LookupRail(stepperConfigs[1], needPositionMinMax: false, defaultPositionEndstop: defPosEs);
        _rails[2] = StepperRails.LookupMultiRail(stepperConfigs[2]);
        var armX = _armX = new double[2];
        armX[0] = stepperConfigs[0].GetFloat("arm_x_length", above: 0.0);
        armX[1] = stepperConfigs[1].GetFloat("arm_x_length", armX[0], above: 0.0);
        var arm = new double[2];
        arm[0] = stepperConfigs[0].GetFloat("arm_length", above: armX[0]);
        arm[1] = stepperConfigs[1].GetFloat("arm_length", arm[0], above: armX[1]);
        var arm2 = _arm2 = arm.Select(a => Math.Pow(a, 2)).ToArray();
        _rails[0].SetupItersolve(() => new DeltesianStepperKinematics(arm2[0], -armX[0]));
        _rails[1].SetupItersolve(() => new DeltesianStepperKinematics(arm2[1], armX[1]));
        _rails[2].SetupItersolve(() => new CartesianStepperKinematics('y'));
        foreach (var s in GetSteppers())
            s.SetTrapq(toolhead.GetTrapq());
        _limits = [(1.0, -1.0), (1.0, -1.0), (1.0, -1.0)];
        // X axis limits
        double minAngle = config.GetFloat("min_angle", MinAngle, minval: 0.0, maxval: 90.0);
        double cosAngle = Math.Cos(minAngle * (Math.PI / 180.0));
        double xKinMin = Math.Ceiling(-Math.Min(armX[0], cosAngle * arm[1] - armX[1]));
        double xKinMax = Math.Floor(Math.Min(armX[1], cosAngle * arm[0] - armX[0]));
        double xKinRange = Math.Min(Math.Min(xKinMax - xKinMin, xKinMax * 2), -xKinMin * 2);
        // Python's ceil/floor give ints, so the bound reads "200" rather than "200.0" in errors.
        ConfigBound maxWidth = Math.Abs(xKinRange) < int.MaxValue ? (ConfigBound)(int)xKinRange : (ConfigBound)xKinRange;
        double? printWidth = config.GetFloatOrNull("print_width", minval: 0.0, maxval: maxWidth);
        if (printWidth is { } pw && pw != 0.0)
            _limits[0] = (-pw * 0.5, pw * 0.5);
        else
            _limits[0] = (xKinMin, xKinMax);
        // Y axis limits
        _limits[1] = _rails[2].GetRange();
        // Z axis limits
        double[] pmax = [_rails[0].GetHomingInfo().PositionEndstop, _rails[1].GetHomingInfo().PositionEndstop];
        _absEndstop = new double[2];
        for (int i = 0; i < 2; i++)
            _absEndstop[i] = pmax[i] + MathUtil.Sqrt(arm2[i] - Math.Pow(armX[i], 2));
        _homeZ = ActuatorToCartesian(_absEndstop)[1];
        double zMax = Math.Min(PillarsZMax(_limits[0].Min), PillarsZMax(_limits[0].Max));
        double zMin = config.GetFloat("minimum_z_position", 0, maxval: zMax);
        _limits[2] = (zMin, zMax);
        // Slow moves near the ends of the X axis
        double slowRatio = config.GetFloat("slow_ratio", SlowRatio, minval: 0.0);
        if (slowRatio > 0.0)
        {
            double sr2 = Math.Pow(slowRatio, 2);
            _slowX2 = Math.Pow(Math.Min(
                MathUtil.Sqrt((sr2 * arm2[0]) / (sr2 + 1)) - armX[0],
                MathUtil.Sqrt((sr2 * arm2[1]) / (sr2 + 1)) - armX[1]), 2);
            _verySlowX2 = Math.Pow(Math.Min(
                MathUtil.Sqrt((2 * sr2 * arm2[0]) / (2 * sr2 + 1)) - armX[0],
                MathUtil.Sqrt((2 * sr2 * arm2[1]) / (2 * sr2 + 1)) - armX[1]), 2);
            toolhead.Printer.Log?.Invoke($"Deltesian kinematics: moves slowed past {PyFmt.F(MathUtil.Sqrt(_slowX2.Value), 2)}mm and {PyFmt.F(MathUtil.Sqrt(_verySlowX2.Value), 2)}mm");
        }
        var (maxVelocity, maxAccel) = toolhead.GetMaxVelocity();
        _maxZVelocity = config.GetFloat("max_z_velocity", maxVelocity, above: 0.0, maxval: maxVelocity);
        _maxZAccel = config.GetFloat("max_z_accel", maxAccel, above: 0.0, maxval: maxAccel);
        _axesMin = _limits.Select(l => l.Min).ToArray();
        _axesMax = _limits.Select(l => l.Max).ToArray();
        SetPosition([0.0, 0.0, 0.0], "");
    }

    public List<McuStepper> GetSteppers() => _rails.SelectMany(r => r.GetSteppers()).ToList();

    private double[] ActuatorToCartesian(IReadOnlyList<double> sp)
    {
        double dx = _armX[0] + _armX[1], dz = sp[1] - sp[0];
        double pivots = MathUtil.Sqrt(Math.Pow(dx, 2) + Math.Pow(dz, 2));
        // Trilateration in a frame along the line between the two pivots
        double xt = (Math.Pow(pivots, 2) + _arm2[0] - _arm2[1]) / (2 * pivots);
        double zt = MathUtil.Sqrt(_arm2[0] - Math.Pow(xt, 2));
        // Rotate and translate back
        double x = xt * dx / pivots + zt * dz / pivots - _armX[0];
        double z = xt * dz / pivots - zt * dx / pivots + sp[0];
        return [x, z];
    }

    private double PillarsZMax(double x)
    {
        double dz0 = MathUtil.Sqrt(_arm2[0] - Math.Pow(_armX[0] + x, 2));
        double dz1 = MathUtil.Sqrt(_arm2[1] - Math.Pow(_armX[1] - x, 2));
        return Math.Min(_absEndstop[0] - dz0, _absEndstop[1] - dz1);
    }

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        var sp = _rails.Select(r => stepperPositions[r.GetName()]).ToArray();
        var xz = ActuatorToCartesian(sp);
        return [xz[0], sp[2], xz[1]];
    }

    public void SetPosition(double[] newpos, string homingAxes)
    {
        foreach (var rail in _rails)
            rail.SetPosition(newpos);
        foreach (char axisName in homingAxes)
            _homedAxis["xyz".IndexOf(axisName)] = true;
    }

    public void ClearHomingState(string clearAxes)
    {
        for (int axis = 0; axis < 3; axis++)
            if (clearAxes.Contains("xyz"[axis]))
                _homedAxis[axis] = false;
    }

    public void Home(Homing homingState)
    {
        var homingAxes = homingState.GetAxes();
        bool homeXz = homingAxes.Contains(0) || homingAxes.Contains(2);
        bool homeY = homingAxes.Contains(1);
        int[] forceaxes = homeXz && homeY ? [0, 1, 2] : homeXz ? [0, 2] : homeY ? [1] : [];
        homingState.SetAxes(forceaxes);
        var homepos = new double?[4];
        if (homeXz)
        {
            homingState.SetAxes(homeY ? [0, 1, 2] : [0, 2]);
            homepos[0] = 0.0;
            homepos[2] = _homeZ;
            var forcepos = (double?[])homepos.Clone();
            double maxDz2 = Math.Max(_arm2[0] - Math.Pow(_armX[0], 2), _arm2[1] - Math.Pow(_armX[1], 2));
            forcepos[2] = -1.5 * MathUtil.Sqrt(maxDz2);
            homingState.HomeRails([_rails[0], _rails[1]], forcepos, homepos);
        }
        if (homeY)
        {
            var (positionMin, positionMax) = _rails[2].GetRange();
            var hi = _rails[2].GetHomingInfo();
            homepos[1] = hi.PositionEndstop;
            var forcepos = (double?[])homepos.Clone();
            if (hi.PositiveDir)
                forcepos[1] -= 1.5 * (hi.PositionEndstop - positionMin);
            else
                forcepos[1] += 1.5 * (positionMax - hi.PositionEndstop);
            homingState.HomeRails([_rails[2]], forcepos, homepos);
        }
    }

    public void CheckMove(Move move)
    {
        var limits = ((double Min, double Max)[])_limits.Clone();
        var spos = move.StartPos;
        var epos = move.EndPos;
        bool homingMove = false;
        if (epos[0] == 0.0 && epos[2] == _homeZ && move.AxesD[1] == 0)
            homingMove = true;
        else if (epos[2] > limits[2].Max)
            limits[2].Max = PillarsZMax(epos[0]); // the top narrows with X
        for (int i = 0; i < 3; i++)
        {
            if (move.AxesD[i] == 0)
                continue;
            if (!_homedAxis[i])
                throw move.MoveError("Must home axis first");
            if (epos[i] < limits[i].Min || epos[i] > limits[i].Max)
            {
                if (!homingMove)
                    throw move.MoveError();
            }
        }
        if (move.AxesD[2] != 0)
        {
            double zRatio = move.MoveD / Math.Abs(move.AxesD[2]);
            move.LimitSpeed(_maxZVelocity * zRatio, _maxZAccel * zRatio);
        }
        // Slow moves near the ends of the X axis
        if (move.AxesD[0] != 0 && _slowX2 is { } slowX2 && slowX2 != 0 && _verySlowX2 is { } verySlowX2 && verySlowX2 != 0)
        {
            double moveX2 = Math.Max(Math.Pow(spos[0], 2), Math.Pow(epos[0], 2));
            // Upstream reads max_velocity/max_accel attributes it never sets here.
            if (moveX2 > verySlowX2 || moveX2 > slowX2)
                throw new InvalidOperationException("'DeltesianKinematics' object has no attribute 'max_velocity'");
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        string axes = "";
        for (int i = 0; i < 3; i++)
            if (_homedAxis[i])
                axes += "xyz"[i];
        return new()
        {
            ["homed_axes"] = axes,
            ["axis_minimum"] = new Coord(_axesMin),
            ["axis_maximum"] = new Coord(_axesMax),
        };
    }
}
