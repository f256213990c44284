using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Polar kinematics (upstream kinematics/polar.py): a rotating bed (radians), a radial
/// arm and a cartesian Z rail. X and Y always home together.
/// </summary>
public sealed class PolarKinematics : IKinematics
{
    private readonly GenericPrinterRail[] _rails;
    private readonly List<McuStepper> _steppers;
    private readonly double _maxVelocity, _maxAccel, _maxZVelocity, _maxZAccel, _vRadMax;
    private (double Min, double Max) _limitZ = (1.0, -1.0);
    private double _limitXy2 = -1.0;
    private readonly double[] _axesMin, _axesMax;

    public PolarKinematics(ToolHead toolhead, ConfigWrapper config)
    {
        var stepperBed = McuStepper.PrinterStepper(config.GetSection("stepper_bed"), unitsInRadians: true);
        var railArm = StepperRails.LookupRail(config.GetSection("stepper_arm"));
        var railZ = StepperRails.LookupMultiRail(config.GetSection("stepper_z"));
        stepperBed.SetupItersolve(new PolarStepperKinematics('a'));
        railArm.SetupItersolve(() => new PolarStepperKinematics('r'));
        railZ.SetupItersolve(() => new CartesianStepperKinematics('z'));
        _rails = [railArm, railZ];
        _steppers = [stepperBed, .. _rails.SelectMany(r => r.GetSteppers())];
        foreach (var s in GetSteppers())
            s.SetTrapq(toolhead.GetTrapq());
        (_maxVelocity, _maxAccel) = toolhead.GetMaxVelocity();
        _maxZVelocity = config.GetFloat("max_z_velocity", _maxVelocity, above: 0.0, maxval: _maxVelocity);
        _maxZAccel = config.GetFloat("max_z_accel", _maxAccel, above: 0.0, maxval: _maxAccel);
        _vRadMax = config.GetFloat("max_angular_velocity", 0, above: 0.0);
        double maxXy = _rails[0].GetRange().Max;
        var (minZ, maxZ) = _rails[1].GetRange();
        _axesMin = [-maxXy, -maxXy, minZ];
        _axesMax = [maxXy, maxXy, maxZ];
    }

    /// <summary>Shortest distance from the origin to the segment p1-p2 (XY).</summary>
    public static double DistanceToCenter(double p1x, double p1y, double p2x, double p2y)
    {
        double abX = p2x - p1x, abY = p2y - p1y;
        double apX = -p1x, apY = -p1y;
        double abApDotProduct = abX * apX + abY * apY;
        double abLength = MathUtil.Sqrt(Math.Pow(abX, 2) + Math.Pow(abY, 2));
        // Is the projection of the origin inside the segment?
        if (abApDotProduct <= 0)
            return MathUtil.Sqrt(Math.Pow(apX, 2) + Math.Pow(apY, 2));
        if (abApDotProduct >= Math.Pow(abLength, 2))
            return MathUtil.Sqrt(Math.Pow(p2x, 2) + Math.Pow(p2y, 2));
        return Math.Abs(abX * apY - abY * apX) / abLength;
    }

    public List<McuStepper> GetSteppers() => new(_steppers);

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        double bedAngle = stepperPositions[_steppers[0].GetName()];
        double armPos = stepperPositions[_rails[0].GetName()];
        double zPos = stepperPositions[_rails[1].GetName()];
        return [Math.Cos(bedAngle) * armPos, Math.Sin(bedAngle) * armPos, zPos];
    }

    public void SetPosition(double[] newpos, string homingAxes)
    {
        foreach (var s in _steppers)
            s.SetPosition(newpos);
        if (homingAxes.Contains('z'))
            _limitZ = _rails[1].GetRange();
        if (homingAxes.Contains('x') && homingAxes.Contains('y'))
            _limitXy2 = Math.Pow(_rails[0].GetRange().Max, 2);
    }

    public void ClearHomingState(string clearAxes)
    {
        // X and Y are only ever cleared together.
        if (clearAxes.Contains('x') || clearAxes.Contains('y'))
            _limitXy2 = -1.0;
        if (clearAxes.Contains('z'))
            _limitZ = (1.0, -1.0);
    }

    private static void HomeAxis(Homing homingState, int axis, GenericPrinterRail rail)
    {
        var (positionMin, positionMax) = rail.GetRange();
        var hi = rail.GetHomingInfo();
        var homepos = new double?[4];
        homepos[axis] = hi.PositionEndstop;
        if (axis == 0)
            homepos[1] = 0.0;
        var forcepos = (double?[])homepos.Clone();
        if (hi.PositiveDir)
            forcepos[axis] -= hi.PositionEndstop - positionMin;
        else
            forcepos[axis] += positionMax - hi.PositionEndstop;
        homingState.HomeRails([rail], forcepos, homepos);
    }

    public void Home(Homing homingState)
    {
        var homingAxes = homingState.GetAxes();
        bool homeXy = homingAxes.Contains(0) || homingAxes.Contains(1);
        bool homeZ = homingAxes.Contains(2);
        var updatedAxes = new List<int>();
        if (homeXy)
            updatedAxes.AddRange([0, 1]);
        if (homeZ)
            updatedAxes.Add(2);
        homingState.SetAxes(updatedAxes.ToArray());
        if (homeXy)
            HomeAxis(homingState, 0, _rails[0]);
        if (homeZ)
            HomeAxis(homingState, 2, _rails[1]);
    }

    public void CheckMove(Move move)
    {
        var endPos = move.EndPos;
        double xy2 = Math.Pow(endPos[0], 2) + Math.Pow(endPos[1], 2);
        if (xy2 > _limitXy2)
        {
            if (_limitXy2 < 0.0)
                throw move.MoveError("Must home axis first");
            throw move.MoveError();
        }
        if (move.AxesD[2] != 0)
        {
            if (endPos[2] < _limitZ.Min || endPos[2] > _limitZ.Max)
            {
                if (_limitZ.Min > _limitZ.Max)
                    throw move.MoveError("Must home axis first");
                throw move.MoveError();
            }
            double zRatio = move.MoveD / Math.Abs(move.AxesD[2]);
            move.LimitSpeed(_maxZVelocity * zRatio, _maxZAccel * zRatio);
        }
        // Slow down near the center, where the bed must spin fast
        if (move.AxesD[0] != 0 || move.AxesD[1] != 0)
        {
            if (_vRadMax == 0)
                return;
            double minDist = DistanceToCenter(move.StartPos[0], move.StartPos[1], move.EndPos[0], move.EndPos[1]);
            if (minDist == 0)
                return;
            double vAngular = MathUtil.Sqrt(move.MaxCruiseV2) / minDist;
            if (_vRadMax < vAngular)
            {
                double scaleRadius = _vRadMax / vAngular;
                move.LimitSpeed(_maxVelocity * scaleRadius, _maxAccel * scaleRadius);
            }
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        string xyHome = _limitXy2 >= 0.0 ? "xy" : "";
        string zHome = _limitZ.Min <= _limitZ.Max ? "z" : "";
        return new()
        {
            ["homed_axes"] = xyHome + zHome,
            ["axis_minimum"] = new Coord(_axesMin),
            ["axis_maximum"] = new Coord(_axesMax),
        };
    }
}
