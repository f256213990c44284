using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Linear delta kinematics (upstream kinematics/delta.py): three tower carriages joined
/// to the effector by diagonal rods. Moves far from the center or with a large tower to
/// XY ratio are slowed; above <c>limit_z</c> the usable radius tapers.
/// </summary>
public sealed class DeltaKinematics : IKinematics, IDeltaCalibrationKinematics
{
    /// <summary>Moves are slowed once the ratio of tower to XY movement exceeds this.</summary>
    public const double SlowRatio = 3.0;

    private readonly GenericPrinterRail[] _rails;
    private readonly double _maxVelocity, _maxAccel, _maxZVelocity, _maxZAccel;
    private readonly double _radius;
    private readonly double[] _armLengths, _arm2, _absEndstops, _angles;
    private readonly double[][] _towers;
    private readonly double _maxZ, _minZ, _limitZ, _minArmLength, _minArm2;
    private readonly double _slowXy2, _verySlowXy2, _maxXy2;
    private readonly double[] _homePosition;
    private readonly double[] _axesMin, _axesMax;
    private bool _needHome = true;
    private double _limitXy2 = -1.0;

    public DeltaKinematics(ToolHead toolhead, ConfigWrapper config)
    {
        var stepperConfigs = new[] { "a", "b", "c" }.Select(a => config.GetSection("stepper_" + a)).ToArray();
        var railA = StepperRails.LookupMultiRail(stepperConfigs[0], needPositionMinMax: false);
        double aEndstop = railA.GetHomingInfo().PositionEndstop;
        var railB = StepperRails.LookupMultiRail(stepperConfigs[1], needPositionMinMax: false, defaultPositionEndstop: aEndstop);
        var railC = StepperRails.LookupMultiRail(stepperConfigs[2], needPositionMinMax: false, defaultPositionEndstop: aEndstop);
        _rails = [railA, railB, railC];
        (_maxVelocity, _maxAccel) = toolhead.GetMaxVelocity();
        _maxZVelocity = config.GetFloat("max_z_velocity", _maxVelocity, above: 0.0, maxval: _maxVelocity);
        _maxZAccel = config.GetFloat("max_z_accel", _maxAccel, above: 0.0, maxval: _maxAccel);
        double radius = _radius = config.GetFloat("delta_radius", above: 0.0);
        double printRadius = config.GetFloat("print_radius", radius, above: 0.0);
        double armLengthA = stepperConfigs[0].GetFloat("arm_length", above: radius);
        _armLengths = stepperConfigs.Select(sc => sc.GetFloat("arm_length", armLengthA, above: radius)).ToArray();
        _arm2 = _armLengths.Select(arm => Math.Pow(arm, 2)).ToArray();
        _absEndstops = new double[3];
        for (int i = 0; i < 3; i++)
            _absEndstops[i] = _rails[i].GetHomingInfo().PositionEndstop + MathUtil.Sqrt(_arm2[i] - Math.Pow(radius, 2));
        double[] defaultAngles = [210.0, 330.0, 90.0];
        _angles = new double[3];
        for (int i = 0; i < 3; i++)
            _angles[i] = stepperConfigs[i].GetFloat("angle", defaultAngles[i]);
        _towers = _angles.Select(angle => new[] { Math.Cos(Radians(angle)) * radius, Math.Sin(Radians(angle)) * radius }).ToArray();
        for (int i = 0; i < 3; i++)
        {
            double a2 = _arm2[i], tx = _towers[i][0], ty = _towers[i][1];
            _rails[i].SetupItersolve(() => new DeltaStepperKinematics(a2, tx, ty));
        }
        foreach (var s in GetSteppers())
            s.SetTrapq(toolhead.GetTrapq());
        _homePosition = ActuatorToCartesian(_absEndstops);
        _maxZ = _rails.Min(r => r.GetHomingInfo().PositionEndstop);
        _minZ = config.GetFloat("minimum_z_position", 0, maxval: _maxZ);
        _limitZ = Enumerable.Range(0, 3).Min(i => _absEndstops[i] - _armLengths[i]);
        double minArmLength = _minArmLength = _armLengths.Min();
        _minArm2 = Math.Pow(minArmLength, 2);
        toolhead.Printer.Log?.Invoke($"Delta max build height {PyFmt.F(_maxZ, 2)}mm (radius tapered above {PyFmt.F(_limitZ, 2)}mm)");
        // Beyond these radii an XY move could cause excessive tower movement.
        double halfMinStepDist = _rails.Min(r => r.GetSteppers()[0].GetStepDist()) * .5;
        double RatioToXy(double ratio) =>
            ratio * MathUtil.Sqrt(Math.Pow(minArmLength, 2) / (Math.Pow(ratio, 2) + 1.0) - Math.Pow(halfMinStepDist, 2))
            + halfMinStepDist - radius;
        _slowXy2 = Math.Pow(RatioToXy(SlowRatio), 2);
        _verySlowXy2 = Math.Pow(RatioToXy(2.0 * SlowRatio), 2);
        _maxXy2 = Math.Pow(Math.Min(Math.Min(printRadius, minArmLength - radius), RatioToXy(4.0 * SlowRatio)), 2);
        double maxXy = MathUtil.Sqrt(_maxXy2);
        toolhead.Printer.Log?.Invoke($"Delta max build radius {PyFmt.F(maxXy, 2)}mm (moves slowed past {PyFmt.F(MathUtil.Sqrt(_slowXy2), 2)}mm and {PyFmt.F(MathUtil.Sqrt(_verySlowXy2), 2)}mm)");
        _axesMin = [-maxXy, -maxXy, _minZ];
        _axesMax = [maxXy, maxXy, _maxZ];
        SetPosition([0.0, 0.0, 0.0], "");
    }

    private static double Radians(double deg) => deg * (Math.PI / 180.0);

    public List<McuStepper> GetSteppers() => _rails.SelectMany(r => r.GetSteppers()).ToList();

    private double[] ActuatorToCartesian(IReadOnlyList<double> spos)
    {
        var sphereCoords = new double[3][];
        for (int i = 0; i < 3; i++)
            sphereCoords[i] = [_towers[i][0], _towers[i][1], spos[i]];
        return MathUtil.Trilateration(sphereCoords, _arm2);
    }

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions) =>
        ActuatorToCartesian(_rails.Select(r => stepperPositions[r.GetName()]).ToArray());

    public void SetPosition(double[] newpos, string homingAxes)
    {
        foreach (var rail in _rails)
            rail.SetPosition(newpos);
        _limitXy2 = -1.0;
        if (homingAxes == "xyz")
            _needHome = false;
    }

    public void ClearHomingState(string clearAxes)
    {
        // Axes cannot be unhomed individually on a delta.
        if (clearAxes.Length > 0)
        {
            _limitXy2 = -1;
            _needHome = true;
        }
    }

    public void Home(Homing homingState)
    {
        // All towers home together.
        homingState.SetAxes([0, 1, 2]);
        double?[] forcepos = _homePosition.Select(v => (double?)v).ToArray();
        forcepos[2] = -1.5 * MathUtil.Sqrt(_arm2.Max() - _maxXy2);
        homingState.HomeRails(_rails, forcepos, _homePosition.Select(v => (double?)v).ToArray());
    }

    public void CheckMove(Move move)
    {
        var endPos = move.EndPos;
        double endXy2 = Math.Pow(endPos[0], 2) + Math.Pow(endPos[1], 2);
        if (endXy2 <= _limitXy2 && move.AxesD[2] == 0)
            return; // Normal XY move
        if (_needHome)
            throw move.MoveError("Must home first");
        double endZ = endPos[2];
        double limitXy2 = _maxXy2;
        if (endZ > _limitZ)
        {
            double aboveZLimit = endZ - _limitZ;
            double allowedRadius = _radius - MathUtil.Sqrt(_minArm2 - Math.Pow(_minArmLength - aboveZLimit, 2));
            limitXy2 = Math.Min(limitXy2, Math.Pow(allowedRadius, 2));
        }
        if (endXy2 > limitXy2 || endZ > _maxZ || endZ < _minZ)
        {
            // Out of range unless it is the homing move
            if (endPos[0] != _homePosition[0] || endPos[1] != _homePosition[1]
                || endZ < _minZ || endZ > _homePosition[2])
                throw move.MoveError();
            limitXy2 = -1.0;
        }
        if (move.AxesD[2] != 0)
        {
            double zRatio = move.MoveD / Math.Abs(move.AxesD[2]);
            move.LimitSpeed(_maxZVelocity * zRatio, _maxZAccel * zRatio);
            limitXy2 = -1.0;
        }
        // Slow moves at the edge of the build envelope
        double extremeXy2 = Math.Max(endXy2, Math.Pow(move.StartPos[0], 2) + Math.Pow(move.StartPos[1], 2));
        if (extremeXy2 > _slowXy2)
        {
            double r = 0.5;
            if (extremeXy2 > _verySlowXy2)
                r = 0.25;
            move.LimitSpeed(_maxVelocity * r, _maxAccel * r);
            limitXy2 = -1.0;
        }
        _limitXy2 = Math.Min(limitXy2, _slowXy2);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["homed_axes"] = _needHome ? "" : "xyz",
        ["axis_minimum"] = new Coord(_axesMin),
        ["axis_maximum"] = new Coord(_axesMax),
        ["cone_start_z"] = _limitZ,
    };

    /// <summary>The current geometry for DELTA_CALIBRATE.</summary>
    public IDeltaCalibration GetCalibration()
    {
        var endstops = _rails.Select(r => r.GetHomingInfo().PositionEndstop).ToArray();
        var stepdists = _rails.Select(r => r.GetSteppers()[0].GetStepDist()).ToArray();
        return new DeltaCalibration(_radius, _angles, _armLengths, endstops, stepdists);
    }
}

/// <summary>
/// Geometry parameters DELTA_CALIBRATE adjusts, for linear or rotary deltas. A "stable
/// position" is the step count of each tower since its endstop, which describes a
/// position independently of the geometry parameters.
/// </summary>
public interface IDeltaCalibration
{
    /// <summary>Names of the parameters coordinate descent may adjust, and all parameter values.</summary>
    (string[] AdjParams, Dictionary<string, double> Params) CoordinateDescentParams(bool isExtended);

    /// <summary>A calibration with the geometry in <paramref name="p"/> (from <see cref="CoordinateDescentParams"/>).</summary>
    IDeltaCalibration NewCalibration(IReadOnlyDictionary<string, double> p);

    double[] GetPositionFromStable(IReadOnlyList<double> stablePosition);

    double[] CalcStablePosition(IReadOnlyList<double> coord);

    /// <summary>Stores the parameters for SAVE_CONFIG and reports them.</summary>
    void SaveState(PrinterConfig configfile, Printer printer);
}

/// <summary>Kinematics that DELTA_CALIBRATE can calibrate (upstream's get_calibration duck type).</summary>
public interface IDeltaCalibrationKinematics
{
    IDeltaCalibration GetCalibration();
}

/// <summary>Delta geometry parameters for the DELTA_CALIBRATE tool (upstream delta.py DeltaCalibration).</summary>
public sealed class DeltaCalibration : IDeltaCalibration
{
    public DeltaCalibration(double radius, IReadOnlyList<double> angles, IReadOnlyList<double> arms,
        IReadOnlyList<double> endstops, IReadOnlyList<double> stepdists)
    {
        Radius = radius;
        Angles = angles.ToArray();
        Arms = arms.ToArray();
        Endstops = endstops.ToArray();
        Stepdists = stepdists.ToArray();
        Towers = Angles.Select(a => a * (Math.PI / 180.0)).Select(a => new[] { Math.Cos(a) * radius, Math.Sin(a) * radius }).ToArray();
        double radius2 = Math.Pow(radius, 2);
        AbsEndstops = new double[3];
        for (int i = 0; i < 3; i++)
            AbsEndstops[i] = Endstops[i] + MathUtil.Sqrt(Math.Pow(Arms[i], 2) - radius2);
    }

    public double Radius { get; }
    public double[] Angles { get; }
    public double[] Arms { get; }
    public double[] Endstops { get; }
    public double[] Stepdists { get; }
    public double[][] Towers { get; }
    public double[] AbsEndstops { get; }

    /// <summary>Names of the parameters coordinate descent may adjust, and all parameter values.</summary>
    public (string[] AdjParams, Dictionary<string, double> Params) CoordinateDescentParams(bool isExtended)
    {
        var adj = new List<string> { "radius", "angle_a", "angle_b", "endstop_a", "endstop_b", "endstop_c" };
        if (isExtended)
            adj.AddRange(["arm_a", "arm_b", "arm_c"]);
        var p = new Dictionary<string, double> { ["radius"] = Radius };
        for (int i = 0; i < 3; i++)
        {
            string axis = "abc"[i].ToString();
            p["angle_" + axis] = Angles[i];
            p["arm_" + axis] = Arms[i];
            p["endstop_" + axis] = Endstops[i];
            p["stepdist_" + axis] = Stepdists[i];
        }
        return (adj.ToArray(), p);
    }

    public IDeltaCalibration NewCalibration(IReadOnlyDictionary<string, double> p)
    {
        string[] abc = ["a", "b", "c"];
        return new DeltaCalibration(p["radius"],
            abc.Select(a => p["angle_" + a]).ToArray(),
            abc.Select(a => p["arm_" + a]).ToArray(),
            abc.Select(a => p["endstop_" + a]).ToArray(),
            abc.Select(a => p["stepdist_" + a]).ToArray());
    }

    /// <summary>Cartesian position of a "stable position" (step counts below each endstop).</summary>
    public double[] GetPositionFromStable(IReadOnlyList<double> stablePosition)
    {
        var sphereCoords = new double[3][];
        for (int i = 0; i < 3; i++)
            sphereCoords[i] = [Towers[i][0], Towers[i][1], AbsEndstops[i] - stablePosition[i] * Stepdists[i]];
        return MathUtil.Trilateration(sphereCoords, Arms.Select(a => Math.Pow(a, 2)).ToArray());
    }

    public double[] CalcStablePosition(IReadOnlyList<double> coord)
    {
        var res = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double[] t = Towers[i];
            double steppos = MathUtil.Sqrt(Math.Pow(Arms[i], 2) - Math.Pow(t[0] - coord[0], 2) - Math.Pow(t[1] - coord[1], 2)) + coord[2];
            res[i] = (AbsEndstops[i] - steppos) / Stepdists[i];
        }
        return res;
    }

    public void SaveState(PrinterConfig configfile, Printer printer)
    {
        configfile.Set("printer", "delta_radius", PyFmt.F(Radius, 6));
        for (int i = 0; i < 3; i++)
        {
            string section = "stepper_" + "abc"[i];
            configfile.Set(section, "angle", PyFmt.F(Angles[i], 6));
            configfile.Set(section, "arm_length", PyFmt.F(Arms[i], 6));
            configfile.Set(section, "position_endstop", PyFmt.F(Endstops[i], 6));
        }
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        var lines = new List<string>();
        for (int i = 0; i < 3; i++)
            lines.Add($"stepper_{"abc"[i]}: position_endstop: {PyFmt.F(Endstops[i], 6)} angle: {PyFmt.F(Angles[i], 6)} arm_length: {PyFmt.F(Arms[i], 6)}");
        lines.Add($"delta_radius: {PyFmt.F(Radius, 6)}");
        gcode.RespondInfo(string.Join("\n", lines));
    }
}
