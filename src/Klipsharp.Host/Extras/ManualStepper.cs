using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;
using Klipsharp.Host.Mcu;
using Klipsharp.Motion;

namespace Klipsharp.Host.Extras;

/// <summary>
/// A stepper moved by MANUAL_STEPPER commands (upstream extras/manual_stepper.py), with
/// its own trapq and print time; it can home to an endstop and can be registered as an
/// extra G-code axis of the toolhead (GCODE_AXIS). For homing it acts as its own
/// "toolhead" and "kinematics".
/// </summary>
public sealed class ManualStepper : IExtraAxis, IHomingToolhead, IHomingKinematics
{
    public const string CmdManualStepperHelp = "Command a manually configured stepper";

    private readonly Printer _printer;
    private readonly string _name;
    private readonly bool _canHome;
    private readonly GenericPrinterRail? _rail;
    private readonly McuStepper? _stepperOnly;
    private readonly List<McuStepper> _steppers;
    private readonly double _velocity, _accel;
    private double _homingAccel;
    private double _nextCmdTime;
    private double _commandedPos;
    private readonly double? _posMin, _posMax;
    private readonly MotionQueuing _motionQueuing;
    private readonly TrapQ _trapq;
    private string? _axisGcodeId;
    private double _instantCornerV;
    private double _gaxisLimitVelocity, _gaxisLimitAccel;

    public ManualStepper(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _name = config.Name;
        if (config.GetOrNull("endstop_pin") is not null)
        {
            _canHome = true;
            _rail = StepperRails.LookupRail(config, needPositionMinMax: false, defaultPositionEndstop: 0.0);
            _steppers = _rail.GetSteppers();
        }
        else
        {
            _canHome = false;
            _stepperOnly = McuStepper.PrinterStepper(config);
            _steppers = [_stepperOnly];
        }
        _velocity = config.GetFloat("velocity", 5.0, above: 0.0);
        _accel = _homingAccel = config.GetFloat("accel", 0.0, minval: 0.0);
        _posMin = config.GetFloatOrNull("position_min");
        _posMax = config.GetFloatOrNull("position_max");
        _motionQueuing = _printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _trapq = _motionQueuing.AllocateTrapq();
        if (_rail is not null)
        {
            _rail.SetupItersolve(() => new CartesianStepperKinematics('x'));
            _rail.SetTrapq(_trapq);
        }
        else
        {
            _stepperOnly!.SetupItersolve(new CartesianStepperKinematics('x'));
            _stepperOnly.SetTrapq(_trapq);
        }
        string stepperName = _name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("MANUAL_STEPPER", "STEPPER", stepperName, CmdManualStepper, desc: CmdManualStepperHelp);
    }

    public string GetName() => _name;

    private string RailName => _rail?.GetName() ?? _stepperOnly!.GetName();

    private void RailSetPosition(double[] coord)
    {
        if (_rail is not null)
            _rail.SetPosition(coord);
        else
            _stepperOnly!.SetPosition(coord);
    }

    public void SyncPrintTime()
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        double printTime = toolhead.GetLastMoveTime();
        if (_nextCmdTime > printTime)
            toolhead.Dwell(_nextCmdTime - printTime);
        else
            _nextCmdTime = printTime;
    }

    public void DoEnable(bool enable)
    {
        var stepperNames = _steppers.Select(s => s.GetName()).ToList();
        var stepperEnable = _printer.LookupObject<PrinterStepperEnable>("stepper_enable");
        stepperEnable.SetMotorsEnable(stepperNames, enable);
    }

    public void DoSetPosition(double setpos)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        _commandedPos = setpos;
        RailSetPosition([_commandedPos, 0.0, 0.0]);
    }

    private double SubmitMove(double movetime, double movepos, double speed, double accel)
    {
        double cp = _commandedPos;
        double dist = movepos - cp;
        var (axisR, accelT, cruiseT, cruiseV) = ForceMove.CalcMoveTime(dist, speed, accel);
        _trapq.Append(movetime, accelT, cruiseT, accelT, cp, 0.0, 0.0, axisR, 0.0, 0.0, 0.0, cruiseV, accel);
        _commandedPos = movepos;
        return movetime + accelT + cruiseT + accelT;
    }

    public void DoMove(double movepos, double speed, double accel, bool sync = true)
    {
        SyncPrintTime();
        _nextCmdTime = SubmitMove(_nextCmdTime, movepos, speed, accel);
        _motionQueuing.NoteMcuMovequeueActivity(_nextCmdTime);
        if (sync)
            SyncPrintTime();
    }

    public void DoHomingMove(double movepos, double speed, double accel, bool probePos, bool triggered, bool checkTrigger)
    {
        if (!_canHome)
            throw new CommandError("No endstop for this manual stepper");
        _homingAccel = accel;
        double[] pos = [movepos, 0.0, 0.0, 0.0];
        var endstops = McuEndstopAdapter.FromRail(_rail!);
        var phoming = _printer.LookupObject<PrinterHoming>("homing");
        // This object stands in for the toolhead during the homing move.
        phoming.ManualHome(this, endstops, pos, speed, probePos, triggered, checkTrigger);
        SyncPrintTime();
    }

    public void CmdManualStepper(GCodeCommand gcmd)
    {
        if (gcmd.GetOrNull("GCODE_AXIS") is not null)
        {
            CommandWithGcodeAxis(gcmd);
            return;
        }
        if (_axisGcodeId is not null)
            throw gcmd.Error("Must unregister from gcode axis first");
        int? enable = gcmd.GetIntOrNull("ENABLE");
        if (enable is { } en)
            DoEnable(en != 0);
        double? setpos = gcmd.GetFloatOrNull("SET_POSITION");
        if (setpos is { } sp)
            DoSetPosition(sp);
        double speed = gcmd.GetFloat("SPEED", _velocity, above: 0.0);
        double accel = gcmd.GetFloat("ACCEL", _accel, minval: 0.0);
        string? homingMove = gcmd.GetOrNull("STOP_ON_ENDSTOP");
        if (homingMove is not null)
        {
            string? oldMap = homingMove switch
            {
                "-2" => "try_inverted_home",
                "-1" => "inverted_home",
                "1" => "home",
                "2" => "try_home",
                _ => null,
            };
            if (oldMap is not null)
            {
                _printer.LookupObject<PrinterConfig>("configfile").DeprecateGcode("MANUAL_STEPPER", "STOP_ON_ENDSTOP", homingMove);
                homingMove = oldMap;
            }
            bool isTry = homingMove.StartsWith("try_", StringComparison.Ordinal);
            if (isTry)
                homingMove = homingMove[4..];
            bool isInverted = homingMove.StartsWith("inverted_", StringComparison.Ordinal);
            if (isInverted)
                homingMove = homingMove[9..];
            if (homingMove is not ("probe" or "home"))
                throw gcmd.Error("Unknown STOP_ON_ENDSTOP request");
            bool isProbe = homingMove == "probe";
            double movepos = gcmd.GetFloat("MOVE");
            if ((_posMin is { } mn && movepos < mn) || (_posMax is { } mx && movepos > mx))
                throw gcmd.Error("Move out of range");
            DoHomingMove(movepos, speed, accel, isProbe, !isInverted, !isTry);
        }
        else if (gcmd.GetFloatOrNull("MOVE") is not null)
        {
            double movepos = gcmd.GetFloat("MOVE");
            if ((_posMin is { } mn && movepos < mn) || (_posMax is { } mx && movepos > mx))
                throw gcmd.Error("Move out of range");
            int sync = gcmd.GetInt("SYNC", 1);
            DoMove(movepos, speed, accel, sync != 0);
        }
        else if (gcmd.GetInt("SYNC", 0) != 0)
        {
            SyncPrintTime();
        }
    }

    // Registers with (or, given an empty GCODE_AXIS, unregisters from) the toolhead as an extra axis.
    private void CommandWithGcodeAxis(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        string gcodeAxis = gcmd.Get("GCODE_AXIS").ToUpperInvariant();
        double instantCornerV = gcmd.GetFloat("INSTANTANEOUS_CORNER_VELOCITY", 1.0, minval: 0.0);
        double limitVelocity = gcmd.GetFloat("LIMIT_VELOCITY", 999999.9, above: 0.0);
        double limitAccel = gcmd.GetFloat("LIMIT_ACCEL", 999999.9, above: 0.0);
        if (_axisGcodeId is not null)
        {
            if (gcodeAxis.Length > 0)
                throw gcmd.Error("Must unregister axis first");
            toolhead.RemoveExtraAxis(this);
            _axisGcodeId = null;
            return;
        }
        if (gcodeAxis.Length != 1 || !IsPyUpper(gcodeAxis) || "XYZEFN".Contains(gcodeAxis, StringComparison.Ordinal))
        {
            if (gcodeAxis.Length == 0)
                return; // unregistering an axis that was never registered
            throw gcmd.Error("Not a valid GCODE_AXIS");
        }
        foreach (var ea in toolhead.GetExtraAxes())
        {
            if (ea is not null && ea.GetAxisGcodeId() == gcodeAxis)
                throw gcmd.Error($"Axis '{gcodeAxis}' already registered");
        }
        _axisGcodeId = gcodeAxis;
        _instantCornerV = instantCornerV;
        _gaxisLimitVelocity = limitVelocity;
        _gaxisLimitAccel = limitAccel;
        toolhead.AddExtraAxis(this, _commandedPos);
    }

    // Python str.isupper(): at least one cased character and no lower case ones.
    private static bool IsPyUpper(string s) =>
        s.Any(char.IsUpper) && !s.Any(char.IsLower);

    public void ProcessMove(double printTime, Move move, int eaIndex)
    {
        double axisR = move.AxesR[eaIndex];
        double startPos = move.StartPos[eaIndex];
        double accel = move.Accel * axisR;
        double startV = move.StartV * axisR;
        double cruiseV = move.CruiseV * axisR;
        _trapq.Append(printTime, move.AccelT, move.CruiseT, move.DecelT,
            startPos, 0.0, 0.0, 1.0, 0.0, 0.0, startV, cruiseV, accel);
        _commandedPos = move.EndPos[eaIndex];
    }

    public void CheckMove(Move move, int eaIndex)
    {
        double movepos = move.EndPos[eaIndex];
        if ((_posMin is { } mn && movepos < mn) || (_posMax is { } mx && movepos > mx))
            throw move.MoveError();
        // Scale this axis' limits to the move's overall speed
        double axisRatio = move.MoveD / Math.Abs(move.AxesD[eaIndex]);
        double limitVelocity = _gaxisLimitVelocity * axisRatio;
        double limitAccel = _gaxisLimitAccel * axisRatio;
        if (!move.IsKinematicMove && _accel != 0)
            limitAccel = Math.Min(limitAccel, _accel * axisRatio);
        move.LimitSpeed(limitVelocity, limitAccel);
    }

    public double CalcJunction(Move prevMove, Move move, int eaIndex)
    {
        double diffR = move.AxesR[eaIndex] - prevMove.AxesR[eaIndex];
        if (diffR != 0)
            return Math.Pow(_instantCornerV / Math.Abs(diffR), 2);
        return move.MaxCruiseV2;
    }

    public string? GetAxisGcodeId() => _axisGcodeId;

    public TrapQ GetTrapq() => _trapq;

    // ---- toolhead stand-ins used by homing

    public void FlushStepGeneration() => _printer.LookupObject<ToolHead>("toolhead").FlushStepGeneration();

    public double[] GetPosition() => [_commandedPos, 0.0, 0.0, 0.0];

    public void SetPosition(double[] newpos, string homingAxes = "") => DoSetPosition(newpos[0]);

    public double GetLastMoveTime()
    {
        SyncPrintTime();
        return _nextCmdTime;
    }

    public void Dwell(double delay) => _nextCmdTime += Math.Max(0.0, delay);

    public void DripMove(double[] newpos, double speed, MotionQueuing.IDripCompletion dripCompletion)
    {
        SyncPrintTime();
        double startTime = _nextCmdTime;
        double endTime = SubmitMove(startTime, newpos[0], speed, _homingAccel);
        _motionQueuing.DripUpdateTime(startTime, endTime, dripCompletion);
        // Drop whatever of the move did not run
        _motionQueuing.WipeTrapq(_trapq);
    }

    public IHomingKinematics GetKinematics() => this;

    public List<McuStepper> GetSteppers() => new(_steppers);

    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions) =>
        [stepperPositions[RailName], 0.0, 0.0];
}
