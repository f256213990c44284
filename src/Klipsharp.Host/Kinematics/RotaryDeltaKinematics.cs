using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Rotary delta kinematics (upstream kinematics/rotary_delta.py): three shoulder motors
/// swing upper arms (positions in radians); lower arms join the elbows to the effector.
/// </summary>
public sealed class RotaryDeltaKinematics : IKinematics, IDeltaCalibrationKinematics
{
    private readonly GenericPrinterRail[] _rails;
    private readonly double _maxZVelocity;
    private readonly RotaryDeltaCalibration _calibration;
    private readonly double[] _homePosition;
    private readonly double _maxZ, _minZ, _maxXy2, _limitZ;
    private readonly double[] _axesMin, _axesMax;
    private bool _needHome = true;
    private double _limitXy2 = -1.0;

    public RotaryDeltaKinematics(ToolHead toolhead, ConfigWrapper config)
    {
        var stepperConfigs = new[] { "a", "b", "c" }.Select(a => config.GetSection("stepper_" + a)).ToArray();
        var railA = StepperRails.LookupRail(stepperConfigs[0], needPositionMinMax: false, unitsInRadians: true);
        double aEndstop = railA.GetHomingInfo().PositionEndstop;
        var railB = StepperRails.LookupRail(stepperConfigs[1], needPositionMinMax: false, defaultPositionEndstop: aEndstop, unitsInRadians: true);
        var railC = StepperRails.LookupRail(stepperConfigs[2], needPositionMinMax: false, defaultPositionEndstop: aEndstop, unitsInRadians: true);
        _rails = [railA, railB, railC];
        var (maxVelocity, _) = toolhead.GetMaxVelocity();
        _maxZVelocity = config.GetFloat("max_z_velocity", maxVelocity, above: 0.0, maxval: maxVelocity);
        double shoulderRadius = config.GetFloat("shoulder_radius", above: 0.0);
        double shoulderHeight = config.GetFloat("shoulder_height", above: 0.0);
        double aUpperArm = stepperConfigs[0].GetFloat("upper_arm_length", above: 0.0);
        var upperArms = stepperConfigs.Select(sc => sc.GetFloat("upper_arm_length", aUpperArm, above: 0.0)).ToArray();
        double aLowerArm = stepperConfigs[0].GetFloat("lower_arm_length", above: 0.0);
        var lowerArms = stepperConfigs.Select(sc => sc.GetFloat("lower_arm_length", aLowerArm, above: 0.0)).ToArray();
        double[] defaultAngles = [30.0, 150.0, 270.0];
        var angles = new double[3];
        for (int i = 0; i < 3; i++)
            angles[i] = stepperConfigs[i].GetFloat("angle", defaultAngles[i]);
        var endstops = _rails.Select(r => r.GetHomingInfo().PositionEndstop).ToArray();
        var stepdists = _rails.Select(r => r.GetSteppers()[0].GetStepDist()).ToArray();
        _calibration = new RotaryDeltaCalibration(shoulderRadius, shoulderHeight, angles, upperArms, lowerArms, endstops, stepdists);
        for (int i = 0; i < 3; i++)
        {
            double angle = angles[i] * (Math.PI / 180.0), ua = upperArms[i], la = lowerArms[i];
            _rails[i].SetupItersolve(() => new RotaryDeltaStepperKinematics(shoulderRadius, shoulderHeight, angle, ua, la));
        }
        foreach (var s in GetSteppers())
            s.SetTrapq(toolhead.GetTrapq());
        var eangles = new double[3];
        for (int i = 0; i < 3; i++)
            eangles[i] = _rails[i].CalcPositionFromCoord([0.0, 0.0, endstops[i]]);
        _homePosition = _calibration.ActuatorToCartesian(eangles);
        _maxZ = endstops.Min();
        _minZ = config.GetFloat("minimum_z_position", 0, maxval: _maxZ);
        double minUa = upperArms.Select(ua => shoulderRadius + ua).Min();
        double minLa = lowerArms.Select(la => la - shoulderRadius).Min();
        _maxXy2 = Math.Pow(Math.Min(minUa, minLa), 2);
        var armZ = new double[3];
        for (int i = 0; i < 3; i++)
            armZ[i] = _calibration.ElbowCoord(i, eangles[i])[2];
        _limitZ = Enumerable.Range(0, 3).Min(i => armZ[i] - lowerArms[i]);
        toolhead.Printer.Log?.Invoke($"Delta max build height {PyFmt.F(_maxZ, 2)}mm (radius tapered above {PyFmt.F(_limitZ, 2)}mm)");
        double maxXy = MathUtil.Sqrt(_maxXy2);
        _axesMin = [-maxXy, -maxXy, _minZ];
        _axesMax = [maxXy, maxXy, _maxZ];
        SetPosition([0.0, 0.0, 0.0], "");
    }

    public List<McuStepper> GetSteppers() => _rails.SelectMany(r => r.GetSteppers()).ToList();

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions) =>
        _calibration.ActuatorToCartesian(_rails.Select(r => stepperPositions[r.GetName()]).ToArray());

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
        // All arms home together.
        homingState.SetAxes([0, 1, 2]);
        double?[] forcepos = _homePosition.Select(v => (double?)v).ToArray();
        forcepos[2] = -1.0;
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
            limitXy2 = Math.Min(limitXy2, Math.Pow(_maxZ - endZ, 2));
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
            move.LimitSpeed(_maxZVelocity, move.Accel);
            limitXy2 = -1.0;
        }
        _limitXy2 = limitXy2;
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["homed_axes"] = _needHome ? "" : "xyz",
        ["axis_minimum"] = new Coord(_axesMin),
        ["axis_maximum"] = new Coord(_axesMax),
    };

    /// <summary>The current geometry for DELTA_CALIBRATE.</summary>
    public IDeltaCalibration GetCalibration() => _calibration;
}

/// <summary>Rotary delta geometry parameters for DELTA_CALIBRATE (upstream rotary_delta.py RotaryDeltaCalibration).</summary>
public sealed class RotaryDeltaCalibration : IDeltaCalibration
{
    private readonly RotaryDeltaStepperKinematics[] _sks;

    public RotaryDeltaCalibration(double shoulderRadius, double shoulderHeight, IReadOnlyList<double> angles,
        IReadOnlyList<double> upperArms, IReadOnlyList<double> lowerArms, IReadOnlyList<double> endstops,
        IReadOnlyList<double> stepdists)
    {
        ShoulderRadius = shoulderRadius;
        ShoulderHeight = shoulderHeight;
        Angles = angles.ToArray();
        UpperArms = upperArms.ToArray();
        LowerArms = lowerArms.ToArray();
        Endstops = endstops.ToArray();
        Stepdists = stepdists.ToArray();
        _sks = new RotaryDeltaStepperKinematics[3];
        for (int i = 0; i < 3; i++)
            _sks[i] = new RotaryDeltaStepperKinematics(shoulderRadius, shoulderHeight,
                Angles[i] * (Math.PI / 180.0), UpperArms[i], LowerArms[i]);
        AbsEndstops = new double[3];
        for (int i = 0; i < 3; i++)
            AbsEndstops[i] = _sks[i].CalcPositionFromCoord(0.0, 0.0, Endstops[i]);
    }

    public double ShoulderRadius { get; }
    public double ShoulderHeight { get; }
    public double[] Angles { get; }
    public double[] UpperArms { get; }
    public double[] LowerArms { get; }
    public double[] Endstops { get; }
    public double[] Stepdists { get; }
    public double[] AbsEndstops { get; }

    /// <summary>Names of the parameters coordinate descent may adjust, and all parameter values.</summary>
    public (string[] AdjParams, Dictionary<string, double> Params) CoordinateDescentParams(bool isExtended)
    {
        var adj = new List<string> { "shoulder_height", "endstop_a", "endstop_b", "endstop_c" };
        if (isExtended)
            adj.AddRange(["shoulder_radius", "angle_a", "angle_b"]);
        var p = new Dictionary<string, double>
        {
            ["shoulder_radius"] = ShoulderRadius,
            ["shoulder_height"] = ShoulderHeight,
        };
        for (int i = 0; i < 3; i++)
        {
            string axis = "abc"[i].ToString();
            p["angle_" + axis] = Angles[i];
            p["upper_arm_" + axis] = UpperArms[i];
            p["lower_arm_" + axis] = LowerArms[i];
            p["endstop_" + axis] = Endstops[i];
            p["stepdist_" + axis] = Stepdists[i];
        }
        return (adj.ToArray(), p);
    }

    public IDeltaCalibration NewCalibration(IReadOnlyDictionary<string, double> p)
    {
        string[] abc = ["a", "b", "c"];
        return new RotaryDeltaCalibration(p["shoulder_radius"], p["shoulder_height"],
            abc.Select(a => p["angle_" + a]).ToArray(),
            abc.Select(a => p["upper_arm_" + a]).ToArray(),
            abc.Select(a => p["lower_arm_" + a]).ToArray(),
            abc.Select(a => p["endstop_" + a]).ToArray(),
            abc.Select(a => p["stepdist_" + a]).ToArray());
    }

    /// <summary>Elbow position of arm <paramref name="elbowId"/> at shoulder angle <paramref name="spos"/>.</summary>
    public double[] ElbowCoord(int elbowId, double spos)
    {
        // In the shoulder joint's frame, then shifted and rotated to the printer frame.
        double sjElbowX = UpperArms[elbowId] * Math.Cos(spos);
        double sjElbowY = UpperArms[elbowId] * Math.Sin(spos);
        double angle = Angles[elbowId] * (Math.PI / 180.0);
        double x = (sjElbowX + ShoulderRadius) * Math.Cos(angle);
        double y = (sjElbowX + ShoulderRadius) * Math.Sin(angle);
        double z = sjElbowY + ShoulderHeight;
        return [x, y, z];
    }

    public double[] ActuatorToCartesian(IReadOnlyList<double> spos)
    {
        var sphereCoords = new double[3][];
        for (int i = 0; i < 3; i++)
            sphereCoords[i] = ElbowCoord(i, spos[i]);
        return MathUtil.Trilateration(sphereCoords, LowerArms.Select(la => Math.Pow(la, 2)).ToArray());
    }

    public double[] GetPositionFromStable(IReadOnlyList<double> stablePosition)
    {
        var spos = new double[3];
        for (int i = 0; i < 3; i++)
            spos[i] = AbsEndstops[i] - stablePosition[i] * Stepdists[i];
        return ActuatorToCartesian(spos);
    }

    public double[] CalcStablePosition(IReadOnlyList<double> coord)
    {
        var res = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double pos = _sks[i].CalcPositionFromCoord(coord[0], coord[1], coord[2]);
            res[i] = (AbsEndstops[i] - pos) / Stepdists[i];
        }
        return res;
    }

    public void SaveState(PrinterConfig configfile, Printer printer)
    {
        configfile.Set("printer", "shoulder_radius", PyFmt.F(ShoulderRadius, 6));
        configfile.Set("printer", "shoulder_height", PyFmt.F(ShoulderHeight, 6));
        for (int i = 0; i < 3; i++)
        {
            string section = "stepper_" + "abc"[i];
            configfile.Set(section, "angle", PyFmt.F(Angles[i], 6));
            configfile.Set(section, "position_endstop", PyFmt.F(Endstops[i], 6));
        }
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        var lines = new List<string>();
        for (int i = 0; i < 3; i++)
            lines.Add($"stepper_{"abc"[i]}: position_endstop: {PyFmt.F(Endstops[i], 6)} angle: {PyFmt.F(Angles[i], 6)}");
        lines.Add($"shoulder_radius: {PyFmt.F(ShoulderRadius, 6)} shoulder_height: {PyFmt.F(ShoulderHeight, 6)}");
        gcode.RespondInfo(string.Join("\n", lines));
    }
}
