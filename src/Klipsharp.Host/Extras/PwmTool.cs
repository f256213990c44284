using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Motion;

namespace Klipsharp.Host.Extras;

/// <summary>A PWM pin whose updates are queued with the step data (upstream pwm_tool MCU_queued_pwm).</summary>
public sealed class McuQueuedPwm : IPwmPin
{
    private readonly Mcu.Mcu _mcu;
    private readonly Printer _printer;
    private readonly int _oid;
    private readonly MotionQueuing _motionQueuing;
    private readonly SyncEmitter _syncEmitter;
    private readonly string _pin;
    private readonly int _invert;
    private bool _hardwarePwm;
    private double _cycleTime = 0.100, _maxDuration = 2.0;
    private double _startValue, _shutdownValue;
    private long _lastClock, _lastValue, _defaultValue, _durationTicks;
    private double _pwmMax;
    private uint _setCmdTag;

    public McuQueuedPwm(ConfigWrapper config, PinParams pinParams)
    {
        _mcu = OutputPins.ChipMcu(pinParams);
        _oid = _mcu.CreateOid();
        _printer = _mcu.Printer;
        _motionQueuing = _printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _syncEmitter = _motionQueuing.AllocateSyncEmitter(_mcu, config.Name, allocStepCompress: false);
        _mcu.RegisterConfigCallback(BuildConfig);
        _pin = pinParams.Pin;
        _invert = pinParams.Invert;
        _startValue = _shutdownValue = _invert;
    }

    public Mcu.Mcu GetMcu() => _mcu;

    public void SetupMaxDuration(double maxDuration) => _maxDuration = maxDuration;

    public void SetupCycleTime(double cycleTime, bool hardwarePwm = false)
    {
        _cycleTime = cycleTime;
        _hardwarePwm = hardwarePwm;
    }

    public void SetupStartValue(double startValue, double shutdownValue)
    {
        if (_invert != 0)
        {
            startValue = 1.0 - startValue;
            shutdownValue = 1.0 - shutdownValue;
        }
        _startValue = Math.Max(0.0, Math.Min(1.0, startValue));
        _shutdownValue = Math.Max(0.0, Math.Min(1.0, shutdownValue));
    }

    public double NextAlignedPrintTime(double printTime, double allowEarly = 0.0) => printTime;

    private void BuildConfig()
    {
        if (_maxDuration != 0.0 && _startValue != _shutdownValue)
            throw new ConfigError("Pin with max duration must have start value equal to shutdown value");
        var cmdQueue = _mcu.AllocCommandQueue();
        double curtime = _printer.Reactor.Monotonic();
        double printtime = _mcu.EstimatedPrintTime(curtime);
        _lastClock = _mcu.PrintTimeToClock(printtime + 0.200);
        long cycleTicks = _mcu.SecondsToClock(_cycleTime);
        if (cycleTicks >= 1L << 31)
            throw new ConfigError("PWM pin cycle time too large");
        _durationTicks = _mcu.SecondsToClock(_maxDuration);
        if (_durationTicks >= 1L << 31)
            throw new ConfigError("PWM pin max duration too large");
        if (_durationTicks != 0)
            _motionQueuing.RegisterFlushCallback(FlushNotification);
        if (_hardwarePwm)
        {
            _pwmMax = _mcu.GetConstantFloat("PWM_MAX");
            double defaultValue = _shutdownValue * _pwmMax;
            _defaultValue = (long)defaultValue;
            _mcu.AddConfigCmd($"config_pwm_out oid={_oid} pin={_pin} cycle_ticks={cycleTicks} value={(long)(_startValue * _pwmMax)} default_value={(long)defaultValue} max_duration={_durationTicks}");
            _lastValue = (long)(_startValue * _pwmMax + 0.5);
            _mcu.AddConfigCmd($"queue_pwm_out oid={_oid} clock={_lastClock} value={_lastValue}", onRestart: true);
            _setCmdTag = _mcu.LookupCommand("queue_pwm_out oid=%c clock=%u value=%hu", cmdQueue).CommandTag;
            return;
        }
        if (_shutdownValue != 0.0 && _shutdownValue != 1.0)
            throw new ConfigError("shutdown value must be 0.0 or 1.0 on soft pwm");
        _mcu.AddConfigCmd($"config_digital_out oid={_oid} pin={_pin} value={(_startValue >= 1.0 ? 1 : 0)} default_value={(_shutdownValue >= 0.5 ? 1 : 0)} max_duration={_durationTicks}");
        _defaultValue = (_shutdownValue >= 0.5 ? 1 : 0) * cycleTicks;
        _mcu.AddConfigCmd($"set_digital_out_pwm_cycle oid={_oid} cycle_ticks={cycleTicks}");
        _pwmMax = cycleTicks;
        _lastValue = (long)(_startValue * _pwmMax + 0.5);
        _mcu.AddConfigCmd($"queue_digital_out oid={_oid} clock={_lastClock} on_ticks={_lastValue}", isInit: true);
        _setCmdTag = _mcu.LookupCommand("queue_digital_out oid=%c clock=%u on_ticks=%u", cmdQueue).CommandTag;
    }

    private void SendUpdate(long clock, long val)
    {
        _lastClock = clock = Math.Max(_lastClock, clock);
        _lastValue = val;
        Span<uint> data = [_setCmdTag, (uint)_oid, (uint)(clock & 0xffffffff), (uint)val];
        _syncEmitter.QueueMsg((ulong)clock, data);
        // Make sure the update gets flushed
        long wakeclock = clock;
        if (_lastValue != _defaultValue)
            wakeclock += _durationTicks;
        double wakePrintTime = _mcu.ClockToPrintTime(wakeclock);
        _motionQueuing.NoteMcuMovequeueActivity(wakePrintTime, isStepGen: false);
    }

    private void GenIntermediateUpdates(long clock)
    {
        if (_lastValue == _defaultValue)
            return;
        while (clock >= _lastClock + _durationTicks)
            SendUpdate(_lastClock + _durationTicks, _lastValue);
    }

    public void SetPwm(double printTime, double value)
    {
        long clock = _mcu.PrintTimeToClock(printTime);
        if (_invert != 0)
            value = 1.0 - value;
        long v = (long)(Math.Max(0.0, Math.Min(1.0, value)) * _pwmMax + 0.5);
        if (_durationTicks != 0)
            GenIntermediateUpdates(clock - 1);
        SendUpdate(clock, v);
    }

    private void FlushNotification(double mustFlushTime, double maxStepGenTime)
    {
        long clock = _mcu.PrintTimeToClock(mustFlushTime);
        GenIntermediateUpdates(clock);
    }
}

/// <summary>[pwm_tool NAME]: a PWM output synchronized with motion (upstream pwm_tool PrinterOutputPin).</summary>
public sealed class PrinterPwmTool : IStatusProvider
{
    public const string CmdSetPinHelp = "Set the value of an output pin";
    private readonly Printer _printer;
    private readonly McuQueuedPwm _mcuPin;
    private readonly double _scale;
    private double _lastPrintTime, _lastValue;

    public PrinterPwmTool(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.LookupPin(config.Get("pin"), canInvert: true);
        _mcuPin = new McuQueuedPwm(config, pinParams);
        double maxDuration = Mcu.Mcu.MaxNominalDuration;
        double cycleTime = config.GetFloat("cycle_time", 0.100, above: 0.0, maxval: maxDuration);
        bool hardwarePwm = config.GetBoolean("hardware_pwm", false);
        _mcuPin.SetupCycleTime(cycleTime, hardwarePwm);
        _scale = config.GetFloat("scale", 1.0, above: 0.0);
        double maxMcuDuration = config.GetFloat("maximum_mcu_duration", 0.0, minval: 0.500, maxval: maxDuration);
        _mcuPin.SetupMaxDuration(maxMcuDuration);
        _lastValue = config.GetFloat("value", 0.0, minval: 0.0, maxval: _scale) / _scale;
        double shutdownValue = config.GetFloat("shutdown_value", 0.0, minval: 0.0, maxval: _scale) / _scale;
        _mcuPin.SetupStartValue(_lastValue, shutdownValue);
        string pinName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_PIN", "PIN", pinName, CmdSetPin, desc: CmdSetPinHelp);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["value"] = _lastValue };

    private void SetPin(double printTime, double value)
    {
        if (value == _lastValue)
            return;
        printTime = Math.Max(printTime, _lastPrintTime);
        _mcuPin.SetPwm(printTime, value);
        _lastValue = value;
        _lastPrintTime = printTime;
    }

    private void CmdSetPin(GCodeCommand gcmd)
    {
        double value = gcmd.GetFloat("VALUE", minval: 0.0, maxval: _scale);
        value /= _scale;
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.RegisterLookaheadCallback(pt => SetPin(pt, value));
    }
}
