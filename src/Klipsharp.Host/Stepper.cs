using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;
using Klipsharp.Motion;

namespace Klipsharp.Host;

/// <summary>
/// A stepper motor driven by an MCU (upstream stepper.py MCU_stepper): owns its step
/// compression queue and stepper kinematics, and converts between the commanded
/// position (mm) and the MCU step position.
/// </summary>
public sealed class McuStepper : IMcuStepper
{
    private const double MinBothEdgeDuration = 0.000000500;
    private const double MinOptimizedBothEdgeDuration = 0.000000150;
    private const double MaxStepcompressError = 0.000025;

    private readonly Mcu.Mcu _mcu;
    private readonly string _stepPin;
    private readonly int _invertStep;
    private readonly string _dirPin;
    private readonly bool _origInvertDir;
    private readonly SyncEmitter _syncEmitter;
    private readonly StepCompress _stepqueue;
    private readonly int _stepsPerRotationInt;
    private double _rotationDist;
    private readonly double _stepsPerRotation;
    private double? _stepPulseDuration;
    private bool _stepBothEdge, _reqStepBothEdge;
    private bool _invertDir;
    private double _mcuPositionOffset;
    private uint _resetCmdTag;
    private McuQueryCommand? _getPositionCmd;
    private List<Action<double>> _activeCallbacks = new();
    private StepperKinematics? _stepperKinematics;
    private TrapQ? _trapq;

    public McuStepper(ConfigWrapper config, PinParams stepPinParams, PinParams dirPinParams,
        double rotationDist, double stepsPerRotation, double? stepPulseDuration = null, bool unitsInRadians = false)
    {
        Name = config.Name;
        _rotationDist = rotationDist;
        _stepsPerRotation = stepsPerRotation;
        _stepsPerRotationInt = (int)stepsPerRotation;
        _stepPulseDuration = stepPulseDuration;
        UnitsInRadians = unitsInRadians;
        StepDist = rotationDist / stepsPerRotation;
        _mcu = (Mcu.Mcu)stepPinParams.Chip;
        Oid = _mcu.CreateOid();
        _mcu.RegisterConfigCallback(BuildConfig);
        _stepPin = stepPinParams.Pin;
        _invertStep = stepPinParams.Invert;
        var printer = _mcu.Printer;
        if (dirPinParams.Chip != _mcu)
            throw new ConfigError("Stepper dir pin must be on same mcu as step pin");
        _dirPin = dirPinParams.Pin;
        _invertDir = _origInvertDir = dirPinParams.Invert != 0;
        var motionQueuing = printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _syncEmitter = motionQueuing.AllocateSyncEmitter(_mcu, Name);
        _stepqueue = _syncEmitter.StepCompress!;
        _stepqueue.SetInvertSdir(_invertDir);
        printer.RegisterEventHandler("klippy:connect", QueryMcuPosition);
    }

    public string Name { get; }

    public Mcu.Mcu Mcu => _mcu;

    public int Oid { get; }

    public double StepDist { get; private set; }

    public bool UnitsInRadians { get; }

    /// <summary>The name without its "stepper_" prefix when <paramref name="shortName"/> (upstream get_name(short=True)).</summary>
    public string GetName(bool shortName = false) =>
        shortName && Name.StartsWith("stepper", StringComparison.Ordinal) && Name.Length > 8 ? Name[8..] : Name;

    public double GetStepDist() => StepDist;

    public (double? PulseDuration, bool StepBothEdge) GetPulseDuration() => (_stepPulseDuration, _stepBothEdge);

    public void SetupDefaultPulseDuration(double pulseDuration, bool stepBothEdge)
    {
        _stepPulseDuration ??= pulseDuration;
        _reqStepBothEdge = stepBothEdge;
    }

    private void BuildConfig()
    {
        _stepPulseDuration ??= .000002;
        int invertStep = _invertStep;
        var constants = _mcu.GetConstants();
        int ConstantInt(string name) => constants.TryGetValue(name, out var v) && v is not null ? Convert.ToInt32(v.ToString(), System.Globalization.CultureInfo.InvariantCulture) : 0;
        int ssbe = ConstantInt("STEPPER_STEP_BOTH_EDGE");
        int sbe = ConstantInt("STEPPER_BOTH_EDGE");
        int sou = ConstantInt("STEPPER_OPTIMIZED_UNSTEP");
        bool wantBothEdges = _reqStepBothEdge;
        if (_stepPulseDuration > MinBothEdgeDuration)
            wantBothEdges = false;
        else if (sbe != 0 && _stepPulseDuration > MinOptimizedBothEdgeDuration)
            wantBothEdges = false;
        else if (sbe == 0 && ssbe == 0)
            wantBothEdges = false;
        else if (sou != 0)
            wantBothEdges = false;
        if (wantBothEdges)
        {
            _stepBothEdge = true;
            invertStep = -1;
            if (sbe != 0)
                _stepPulseDuration = 0.0;
        }
        long stepPulseTicks = _mcu.SecondsToClock(_stepPulseDuration.Value);
        _mcu.AddConfigCmd($"config_stepper oid={Oid} step_pin={_stepPin} dir_pin={_dirPin} invert_step={invertStep} step_pulse_ticks={stepPulseTicks}");
        _mcu.AddConfigCmd($"reset_step_clock oid={Oid} clock=0", onRestart: true);
        uint stepCmdTag = _mcu.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi").CommandTag;
        uint dirCmdTag = _mcu.LookupCommand("set_next_step_dir oid=%c dir=%c").CommandTag;
        _resetCmdTag = _mcu.LookupCommand("reset_step_clock oid=%c clock=%u").CommandTag;
        _getPositionCmd = _mcu.LookupQueryCommand("stepper_get_position oid=%c", "stepper_position oid=%c pos=%i", Oid);
        long maxErrorTicks = _mcu.SecondsToClock(MaxStepcompressError);
        _stepqueue.Fill((uint)Oid, (uint)maxErrorTicks, (int)stepCmdTag, (int)dirCmdTag);
    }

    public (double RotationDist, double StepsPerRotation) GetRotationDistance() => (_rotationDist, _stepsPerRotation);

    public void SetRotationDistance(double rotationDist)
    {
        long mcuPos = GetMcuPosition();
        _rotationDist = rotationDist;
        StepDist = rotationDist / _stepsPerRotation;
        SetTrapq(_trapq);
        SetMcuPosition(mcuPos);
    }

    public (bool InvertDir, bool OrigInvertDir) GetDirInverted() => (_invertDir, _origInvertDir);

    public void SetDirInverted(bool invertDir)
    {
        if (invertDir == _invertDir)
            return;
        _invertDir = invertDir;
        _stepqueue.SetInvertSdir(invertDir);
        _mcu.Printer.SendEvent("stepper:set_dir_inverted", this);
    }

    public double CalcPositionFromCoord(double[] coord) =>
        _stepperKinematics!.CalcPositionFromCoord(coord[0], coord[1], coord[2]);

    public void SetPosition(double[] coord)
    {
        long mcuPos = GetMcuPosition();
        _stepperKinematics!.SetPosition(coord[0], coord[1], coord[2]);
        SetMcuPosition(mcuPos);
    }

    public double GetCommandedPosition() => _stepperKinematics!.GetCommandedPos();

    public long GetMcuPosition(double? cmdPos = null)
    {
        double pos = cmdPos ?? GetCommandedPosition();
        double mcuPosDist = pos + _mcuPositionOffset;
        double mcuPos = mcuPosDist / StepDist;
        // Python's int() refuses these (an internal error, not a wild position)
        if (double.IsNaN(mcuPos))
            throw new InvalidOperationException("cannot convert float NaN to integer");
        if (double.IsInfinity(mcuPos))
            throw new OverflowException("cannot convert float infinity to integer");
        return mcuPos >= 0.0 ? (long)(mcuPos + 0.5) : (long)(mcuPos - 0.5);
    }

    private void SetMcuPosition(long mcuPos)
    {
        double mcuPosDist = mcuPos * StepDist;
        _mcuPositionOffset = mcuPosDist - GetCommandedPosition();
    }

    public long GetPastMcuPosition(double printTime)
    {
        long clock = _mcu.PrintTimeToClock(printTime);
        return _stepqueue.FindPastPosition((ulong)clock);
    }

    public double McuToCommandedPosition(long mcuPos) => mcuPos * StepDist - _mcuPositionOffset;

    public int DumpSteps(Span<PullHistorySteps> dest, ulong startClock, ulong endClock) =>
        _stepqueue.ExtractOld(dest, startClock, endClock);

    public StepperKinematics? GetStepperKinematics() => _stepperKinematics;

    /// <summary>Installs new stepper kinematics, keeping the MCU position; returns the previous ones.</summary>
    public StepperKinematics? SetStepperKinematics(StepperKinematics sk)
    {
        var oldSk = _stepperKinematics;
        long mcuPos = 0;
        if (oldSk is not null)
            mcuPos = GetMcuPosition();
        _stepperKinematics = sk;
        _syncEmitter.SetStepperKinematics(sk);
        SetTrapq(_trapq);
        SetMcuPosition(mcuPos);
        return oldSk;
    }

    /// <summary>Upstream setup_itersolve(alloc_func, ...): the caller constructs the kinematics.</summary>
    public void SetupItersolve(StepperKinematics sk) => SetStepperKinematics(sk);

    public void NoteHomingEnd()
    {
        if (_stepqueue.Reset(0) != 0)
            throw new McuError("Internal error in stepcompress");
        ReadOnlySpan<uint> data = [_resetCmdTag, (uint)Oid, 0];
        _syncEmitter.QueueMsg(0, data);
        QueryMcuPosition();
    }

    private void QueryMcuPosition()
    {
        if (_mcu.IsFileOutput)
            return;
        var p = _getPositionCmd!.Send([Oid]);
        long lastPos = p["pos"];
        if (_invertDir)
            lastPos = -lastPos;
        double printTime = _mcu.EstimatedPrintTime(p.ReceiveTime);
        long clock = _mcu.PrintTimeToClock(printTime);
        if (_stepqueue.SetLastPosition((ulong)clock, lastPos) != 0)
            throw new McuError("Internal error in stepcompress");
        SetMcuPosition(lastPos);
        _mcu.Printer.SendEvent("stepper:sync_mcu_position", this);
    }

    public TrapQ? GetTrapq() => _trapq;

    public TrapQ? SetTrapq(TrapQ? tq)
    {
        _stepperKinematics?.SetTrapQ(tq, StepDist);
        var old = _trapq;
        _trapq = tq;
        return old;
    }

    /// <summary>Calls <paramref name="cb"/> with the print time at which this stepper next becomes active.</summary>
    public void AddActiveCallback(Action<double> cb)
    {
        _activeCallbacks.Add(cb);
        if (_activeCallbacks.Count == 1)
            _mcu.Printer.LookupObject<MotionQueuing>("motion_queuing").RegisterFlushCallback(CheckActive);
    }

    private void CheckActive(double mustFlushTime, double maxStepGenTime)
    {
        double ret = _stepperKinematics!.CheckActive(maxStepGenTime);
        if (ret == 0.0)
            return;
        _mcu.Printer.LookupObject<MotionQueuing>("motion_queuing").UnregisterFlushCallback(CheckActive);
        var cbs = _activeCallbacks;
        _activeCallbacks = new List<Action<double>>();
        foreach (var cb in cbs)
            cb(ret);
    }

    public bool IsActiveAxis(char axis) => _stepperKinematics!.IsActiveAxis(axis);

    /// <summary>Creates the stepper of a [stepper_*] style section (upstream PrinterStepper()).</summary>
    public static McuStepper PrinterStepper(ConfigWrapper config, bool unitsInRadians = false)
    {
        var printer = config.GetPrinter();
        var ppins = printer.LookupObject<PrinterPins>("pins");
        var stepPinParams = ppins.LookupPin(config.Get("step_pin"), canInvert: true);
        var dirPinParams = ppins.LookupPin(config.Get("dir_pin"), canInvert: true);
        var (rotationDist, stepsPerRotation) = StepperRails.ParseStepDistance(config, unitsInRadians, true);
        double? stepPulseDuration = config.GetFloatOrNull("step_pulse_duration", minval: 0.0, maxval: .001);
        var stepper = new McuStepper(config, stepPinParams, dirPinParams, rotationDist, stepsPerRotation, stepPulseDuration, unitsInRadians);
        foreach (var mname in new[] { "stepper_enable", "force_move", "motion_report" })
        {
            if (printer.TryLoadObject(config, mname) is IStepperRegistry m)
                m.RegisterStepper(config, stepper);
        }
        return stepper;
    }
}

/// <summary>A module that wants to know about every stepper (stepper_enable, force_move, motion_report).</summary>
public interface IStepperRegistry
{
    void RegisterStepper(ConfigWrapper config, McuStepper stepper);
}

/// <summary>The homing parameters of a rail (upstream's homing_info namedtuple).</summary>
public sealed record HomingInfo(double Speed, double PositionEndstop, double RetractSpeed, double RetractDist, bool PositiveDir, double SecondHomingSpeed);

/// <summary>What a rail needs from the query_endstops module.</summary>
public interface IEndstopRegistry
{
    void RegisterEndstop(IMcuEndstop endstop, string name);
}

/// <summary>One or more steppers that move together along an axis, with their endstops and homing settings (upstream GenericPrinterRail).</summary>
public sealed class GenericPrinterRail
{
    private readonly Printer _printer;
    private readonly bool _stepperUnitsInRadians;
    private readonly List<McuStepper> _steppers = new();
    private readonly List<(IMcuEndstop Endstop, string Name)> _endstops = new();
    private readonly Dictionary<string, (IMcuEndstop Endstop, int Invert, int Pullup)> _endstopMap = new();
    private readonly string _endstopPin;
    private readonly IEndstopRegistry? _queryEndstops;

    public GenericPrinterRail(ConfigWrapper config, bool needPositionMinMax = true, double? defaultPositionEndstop = null, bool unitsInRadians = false)
    {
        _stepperUnitsInRadians = unitsInRadians;
        _printer = config.GetPrinter();
        Name = config.Name;
        _endstopPin = config.Get("endstop_pin");
        _queryEndstops = _printer.TryLoadObject(config, "query_endstops") as IEndstopRegistry;
        var mcuEndstop = LookupEndstop(_endstopPin, Name);
        if (mcuEndstop is IPositionEndstop pe)
            PositionEndstop = pe.GetPositionEndstop();
        else if (defaultPositionEndstop is null)
            PositionEndstop = config.GetFloat("position_endstop");
        else
            PositionEndstop = config.GetFloat("position_endstop", defaultPositionEndstop);
        if (needPositionMinMax)
        {
            PositionMin = config.GetFloat("position_min", 0.0);
            PositionMax = config.GetFloat("position_max", above: PositionMin);
        }
        else
        {
            PositionMin = 0.0;
            PositionMax = PositionEndstop;
        }
        if (PositionEndstop < PositionMin || PositionEndstop > PositionMax)
            throw new ConfigError($"position_endstop in section '{config.Name}' must be between position_min and position_max");
        HomingSpeed = config.GetFloat("homing_speed", 5.0, above: 0.0);
        SecondHomingSpeed = config.GetFloat("second_homing_speed", HomingSpeed / 2.0, above: 0.0);
        HomingRetractSpeed = config.GetFloat("homing_retract_speed", HomingSpeed, above: 0.0);
        HomingRetractDist = config.GetFloat("homing_retract_dist", 5.0, minval: 0.0);
        bool? positiveDir = config.GetBooleanOrNull("homing_positive_dir");
        if (positiveDir is null)
        {
            double axisLen = PositionMax - PositionMin;
            if (PositionEndstop <= PositionMin + axisLen / 4.0)
                HomingPositiveDir = false;
            else if (PositionEndstop >= PositionMax - axisLen / 4.0)
                HomingPositiveDir = true;
            else
                throw new ConfigError($"Unable to infer homing_positive_dir in section '{config.Name}'");
            config.GetBoolean("homing_positive_dir", HomingPositiveDir);
        }
        else
        {
            HomingPositiveDir = positiveDir.Value;
            if ((HomingPositiveDir && PositionEndstop == PositionMin) || (!HomingPositiveDir && PositionEndstop == PositionMax))
                throw new ConfigError($"Invalid homing_positive_dir / position_endstop in '{config.Name}'");
        }
    }

    public string Name { get; }
    public double PositionEndstop { get; }
    public double PositionMin { get; }
    public double PositionMax { get; }
    public double HomingSpeed { get; }
    public double SecondHomingSpeed { get; }
    public double HomingRetractSpeed { get; }
    public double HomingRetractDist { get; }
    public bool HomingPositiveDir { get; }

    public string GetName(bool shortName = false)
    {
        if (!shortName)
            return Name;
        if (Name.StartsWith("stepper", StringComparison.Ordinal))
            return Name.Length > 8 ? Name[8..] : "";
        return Name.Split(' ')[^1];
    }

    public (double Min, double Max) GetRange() => (PositionMin, PositionMax);

    public HomingInfo GetHomingInfo() =>
        new(HomingSpeed, PositionEndstop, HomingRetractSpeed, HomingRetractDist, HomingPositiveDir, SecondHomingSpeed);

    public List<McuStepper> GetSteppers() => new(_steppers);

    public List<(IMcuEndstop Endstop, string Name)> GetEndstops() => new(_endstops);

    private IMcuEndstop LookupEndstop(string endstopPin, string name)
    {
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.ParsePin(endstopPin, true, true);
        string pinName = $"{pinParams.ChipName}:{pinParams.Pin}";
        if (!_endstopMap.TryGetValue(pinName, out var endstop))
        {
            var mcuEndstop = (IMcuEndstop)ppins.SetupPin("endstop", endstopPin);
            _endstopMap[pinName] = (mcuEndstop, pinParams.Invert, pinParams.Pullup);
            _endstops.Add((mcuEndstop, name));
            _queryEndstops?.RegisterEndstop(mcuEndstop, name);
            return mcuEndstop;
        }
        if (pinParams.Invert != endstop.Invert || pinParams.Pullup != endstop.Pullup)
            throw new ConfigError($"Printer rail {GetName()} shared endstop pin {pinName} must specify the same pullup/invert settings");
        return endstop.Endstop;
    }

    public void AddStepper(McuStepper stepper, string? endstopPin = null, string? endstopName = null)
    {
        _steppers.Add(stepper);
        var mcuEndstop = endstopPin is not null
            ? LookupEndstop(endstopPin, endstopName ?? stepper.GetName(shortName: true))
            : LookupEndstop(_endstopPin, Name);
        mcuEndstop.AddStepper(stepper);
    }

    public void AddStepperFromConfig(ConfigWrapper config)
    {
        var stepper = McuStepper.PrinterStepper(config, _stepperUnitsInRadians);
        AddStepper(stepper, config.GetOrNull("endstop_pin"));
    }

    public double GetCommandedPosition() => _steppers[0].GetCommandedPosition();

    public double CalcPositionFromCoord(double[] coord) => _steppers[0].CalcPositionFromCoord(coord);

    /// <summary>Gives every stepper of the rail its own kinematics object from <paramref name="create"/>.</summary>
    public void SetupItersolve(Func<StepperKinematics> create)
    {
        foreach (var s in _steppers)
            s.SetupItersolve(create());
    }

    public void SetTrapq(TrapQ? trapq)
    {
        foreach (var s in _steppers)
            s.SetTrapq(trapq);
    }

    public void SetPosition(double[] coord)
    {
        foreach (var s in _steppers)
            s.SetPosition(coord);
    }
}

/// <summary>Rail construction and step distance parsing (upstream stepper.py module functions).</summary>
public static class StepperRails
{
    public static GenericPrinterRail LookupRail(ConfigWrapper config, bool needPositionMinMax = true, double? defaultPositionEndstop = null, bool unitsInRadians = false)
    {
        var rail = new GenericPrinterRail(config, needPositionMinMax, defaultPositionEndstop, unitsInRadians);
        rail.AddStepperFromConfig(config);
        return rail;
    }

    public static GenericPrinterRail LookupMultiRail(ConfigWrapper config, bool needPositionMinMax = true, double? defaultPositionEndstop = null, bool unitsInRadians = false)
    {
        var rail = LookupRail(config, needPositionMinMax, defaultPositionEndstop, unitsInRadians);
        for (int i = 1; i < 99; i++)
        {
            string name = config.Name + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!config.HasSection(name))
                break;
            rail.AddStepperFromConfig(config.GetSection(name));
        }
        return rail;
    }

    public static double ParseGearRatio(ConfigWrapper config, bool noteValid)
    {
        var gearRatio = config.GetFloatLists("gear_ratio", [], innerSep: ':', outerSep: ',', count: 2, noteValid: noteValid);
        double result = 1.0;
        foreach (var pair in gearRatio)
            result *= pair[0] / pair[1];
        return result;
    }

    public static (double RotationDist, double StepsPerRotation) ParseStepDistance(ConfigWrapper config, bool? unitsInRadians = null, bool noteValid = false)
    {
        if (unitsInRadians is null)
        {
            string? rd = config.GetOrNull("rotation_distance", noteValid: false);
            string? gr = config.GetOrNull("gear_ratio", noteValid: false);
            unitsInRadians = rd is null && gr is not null;
        }
        double rotationDist;
        if (unitsInRadians.Value)
        {
            rotationDist = 2.0 * Math.PI;
            config.Get("gear_ratio", noteValid: noteValid);
        }
        else
        {
            rotationDist = config.GetFloat("rotation_distance", above: 0.0, noteValid: noteValid);
        }
        int microsteps = config.GetInt("microsteps", minval: 1, noteValid: noteValid);
        int fullSteps = config.GetInt("full_steps_per_rotation", 200, minval: 1, noteValid: noteValid);
        if (fullSteps % 4 != 0)
            throw new ConfigError($"full_steps_per_rotation invalid in section '{config.Name}'");
        double gearing = ParseGearRatio(config, noteValid);
        return (rotationDist, fullSteps * microsteps * gearing);
    }
}
