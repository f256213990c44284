using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;
using Klipsharp.Motion;

namespace Klipsharp.Host.Extras;

/// <summary>
/// Moving single steppers outside the kinematics, for diagnostics (upstream
/// extras/force_move.py): STEPPER_BUZZ for every stepper and, when
/// <c>enable_force_move</c> is set, FORCE_MOVE and SET_KINEMATIC_POSITION.
/// </summary>
public sealed class ForceMove : IStepperRegistry
{
    public const double BuzzDistance = 1.0;
    public const double BuzzVelocity = BuzzDistance / .250;
    public const double BuzzRadiansDistance = 1.0 * (Math.PI / 180.0);
    public const double BuzzRadiansVelocity = BuzzRadiansDistance / .250;

    public const string CmdStepperBuzzHelp = "Oscillate a given stepper to help id it";
    public const string CmdForceMoveHelp = "Manually move a stepper; invalidates kinematics";
    public const string CmdSetKinematicPositionHelp = "Force a low-level kinematic position";

    private readonly Printer _printer;
    private readonly Dictionary<string, McuStepper> _steppers = new();
    private readonly MotionQueuing _motionQueuing;
    private readonly TrapQ _trapq;
    private readonly CartesianStepperKinematics _stepperKinematics;
    private readonly bool _enableForceMove;

    public ForceMove(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _motionQueuing = _printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _trapq = _motionQueuing.AllocateTrapq();
        _stepperKinematics = new CartesianStepperKinematics('x');
        _enableForceMove = config.GetBoolean("enable_force_move", false);
        if (_enableForceMove)
        {
            var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
            gcode.RegisterCommand("SET_KINEMATIC_POSITION", CmdSetKinematicPosition, desc: CmdSetKinematicPositionHelp);
        }
    }

    /// <summary>
    /// A move's direction, accel time, cruise time and cruise velocity for a straight
    /// trapezoid of <paramref name="dist"/> (upstream calc_move_time); no accel means
    /// constant speed.
    /// </summary>
    public static (double AxisR, double AccelT, double CruiseT, double CruiseV) CalcMoveTime(double dist, double speed, double accel)
    {
        double axisR = 1.0;
        if (dist < 0.0)
        {
            axisR = -1.0;
            dist = -dist;
        }
        if (accel == 0 || dist == 0)
            return (axisR, 0.0, dist / speed, speed);
        double maxCruiseV2 = dist * accel;
        if (maxCruiseV2 < Math.Pow(speed, 2))
            speed = MathUtil.Sqrt(maxCruiseV2);
        double accelT = speed / accel;
        double accelDecelD = accelT * speed;
        double cruiseT = (dist - accelDecelD) / speed;
        return (axisR, accelT, cruiseT, speed);
    }

    public void RegisterStepper(ConfigWrapper config, McuStepper mcuStepper)
    {
        string name = mcuStepper.GetName();
        _steppers[name] = mcuStepper;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("STEPPER_BUZZ", "STEPPER", name, CmdStepperBuzz, desc: CmdStepperBuzzHelp);
        if (_enableForceMove)
            gcode.RegisterMuxCommand("FORCE_MOVE", "STEPPER", name, CmdForceMove, desc: CmdForceMoveHelp);
    }

    public McuStepper LookupStepper(string name) =>
        _steppers.TryGetValue(name, out var s) ? s : throw new ConfigError($"Unknown stepper {name}");

    private bool ForceEnable(McuStepper stepper)
    {
        var stepperEnable = _printer.LookupObject<PrinterStepperEnable>("stepper_enable");
        return stepperEnable.SetMotorsEnable([stepper.GetName()], true);
    }

    private void RestoreEnable(McuStepper stepper, bool didEnable)
    {
        if (!didEnable)
            return;
        var stepperEnable = _printer.LookupObject<PrinterStepperEnable>("stepper_enable");
        stepperEnable.SetMotorsEnable([stepper.GetName()], false);
    }

    /// <summary>Moves <paramref name="stepper"/> alone by <paramref name="dist"/> (its own units) and restores its kinematics.</summary>
    public void ManualMove(McuStepper stepper, double dist, double speed, double accel = 0.0)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        var prevSk = stepper.SetStepperKinematics(_stepperKinematics);
        var prevTrapq = stepper.SetTrapq(_trapq);
        stepper.SetPosition([0.0, 0.0, 0.0]);
        var (axisR, accelT, cruiseT, cruiseV) = CalcMoveTime(dist, speed, accel);
        double printTime = toolhead.GetLastMoveTime();
        _trapq.Append(printTime, accelT, cruiseT, accelT, 0.0, 0.0, 0.0, axisR, 0.0, 0.0, 0.0, cruiseV, accel);
        printTime = printTime + accelT + cruiseT + accelT;
        _motionQueuing.NoteMcuMovequeueActivity(printTime);
        toolhead.Dwell(accelT + cruiseT + accelT);
        toolhead.FlushStepGeneration();
        stepper.SetTrapq(prevTrapq);
        stepper.SetStepperKinematics(prevSk!);
        _motionQueuing.WipeTrapq(_trapq);
    }

    public void CmdStepperBuzz(GCodeCommand gcmd)
    {
        var stepper = LookupStepper(gcmd.Get("STEPPER"));
        _printer.Log?.Invoke($"Stepper buzz {stepper.GetName()}");
        bool didEnable = ForceEnable(stepper);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        double dist = BuzzDistance, speed = BuzzVelocity;
        if (stepper.UnitsInRadians)
            (dist, speed) = (BuzzRadiansDistance, BuzzRadiansVelocity);
        for (int i = 0; i < 10; i++)
        {
            ManualMove(stepper, dist, speed);
            toolhead.Dwell(.050);
            ManualMove(stepper, -dist, speed);
            toolhead.Dwell(.450);
        }
        RestoreEnable(stepper, didEnable);
    }

    public void CmdForceMove(GCodeCommand gcmd)
    {
        var stepper = LookupStepper(gcmd.Get("STEPPER"));
        double distance = gcmd.GetFloat("DISTANCE");
        double speed = gcmd.GetFloat("VELOCITY", above: 0.0);
        double accel = gcmd.GetFloat("ACCEL", 0.0, minval: 0.0);
        _printer.Log?.Invoke($"FORCE_MOVE {stepper.GetName()} distance={PyFmt.F(distance, 3)} velocity={PyFmt.F(speed, 3)} accel={PyFmt.F(accel, 3)}");
        ForceEnable(stepper);
        ManualMove(stepper, distance, speed, accel);
    }

    public void CmdSetKinematicPosition(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.GetLastMoveTime();
        var curpos = toolhead.GetPosition();
        double x = gcmd.GetFloat("X", curpos[0]);
        double y = gcmd.GetFloat("Y", curpos[1]);
        double z = gcmd.GetFloat("Z", curpos[2]);
        string setHomed = gcmd.Get("SET_HOMED", "xyz").ToLowerInvariant();
        string setHomedAxes = string.Concat("xyz".Where(a => setHomed.Contains(a)));
        // "CLEAR" is an older alias of "CLEAR_HOMED"
        string clearHomed = gcmd.GetOrNull("CLEAR_HOMED") is null
            ? gcmd.Get("CLEAR", "").ToLowerInvariant()
            : gcmd.Get("CLEAR_HOMED", "").ToLowerInvariant();
        string clearHomedAxes = string.Concat("xyz".Where(a => clearHomed.Contains(a)));
        _printer.Log?.Invoke($"SET_KINEMATIC_POSITION pos={PyFmt.F(x, 3)},{PyFmt.F(y, 3)},{PyFmt.F(z, 3)} set_homed={setHomedAxes} clear_homed={clearHomedAxes}");
        toolhead.SetPosition([x, y, z], homingAxes: setHomedAxes);
        toolhead.GetKinematics().ClearHomingState(clearHomedAxes);
    }
}
