using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>A software PWM pin whose cycle time can change at run time (upstream MCU_pwm_cycle).</summary>
public sealed class McuPwmCycle
{
    private readonly Mcu.Mcu _mcu;
    private readonly string _pin;
    private readonly int _invert;
    private readonly double _cycleTime, _startValue, _shutdownValue;
    private int _oid = -1;
    private long _lastClock, _cycleTicks;
    private McuCommand? _setCmd, _setCycleTicks;

    public McuPwmCycle(PinParams pinParams, double cycleTime, double startValue, double shutdownValue)
    {
        _mcu = OutputPins.ChipMcu(pinParams);
        _cycleTime = cycleTime;
        _mcu.RegisterConfigCallback(BuildConfig);
        _pin = pinParams.Pin;
        _invert = pinParams.Invert;
        if (_invert != 0)
        {
            startValue = 1.0 - startValue;
            shutdownValue = 1.0 - shutdownValue;
        }
        _startValue = Math.Max(0.0, Math.Min(1.0, startValue));
        _shutdownValue = Math.Max(0.0, Math.Min(1.0, shutdownValue));
    }

    public Mcu.Mcu GetMcu() => _mcu;

    private void BuildConfig()
    {
        var cmdQueue = _mcu.AllocCommandQueue();
        double curtime = _mcu.Printer.Reactor.Monotonic();
        double printtime = _mcu.EstimatedPrintTime(curtime);
        _lastClock = _mcu.PrintTimeToClock(printtime + 0.200);
        long cycleTicks = _mcu.SecondsToClock(_cycleTime);
        if (_shutdownValue != 0.0 && _shutdownValue != 1.0)
            throw new ConfigError("shutdown value must be 0.0 or 1.0 on soft pwm");
        if (cycleTicks >= 1L << 31)
            throw new ConfigError("PWM pin cycle time too large");
        _mcu.RequestMoveQueueSlot();
        _oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_digital_out oid={_oid} pin={_pin} value={(_startValue >= 1.0 ? 1 : 0)} default_value={(_shutdownValue >= 0.5 ? 1 : 0)} max_duration=0");
        _mcu.AddConfigCmd($"set_digital_out_pwm_cycle oid={_oid} cycle_ticks={cycleTicks}");
        _cycleTicks = cycleTicks;
        long svalue = (long)(_startValue * cycleTicks + 0.5);
        _mcu.AddConfigCmd($"queue_digital_out oid={_oid} clock={_lastClock} on_ticks={svalue}", isInit: true);
        _setCmd = _mcu.LookupCommand("queue_digital_out oid=%c clock=%u on_ticks=%u", cmdQueue);
        _setCycleTicks = _mcu.LookupCommand("set_digital_out_pwm_cycle oid=%c cycle_ticks=%u", cmdQueue);
    }

    public void SetPwmCycle(double printTime, double value, double cycleTime)
    {
        long clock = _mcu.PrintTimeToClock(printTime);
        long minclock = _lastClock;
        long cycleTicks = _mcu.SecondsToClock(cycleTime);
        if (cycleTicks != _cycleTicks)
        {
            if (cycleTicks >= 1L << 31)
                throw new CommandError("PWM cycle time too large");
            _setCycleTicks!.Send([_oid, cycleTicks], minClock: (ulong)minclock, reqClock: (ulong)clock);
            _cycleTicks = cycleTicks;
        }
        if (_invert != 0)
            value = 1.0 - value;
        long v = (long)(Math.Max(0.0, Math.Min(1.0, value)) * (double)_cycleTicks + 0.5);
        _setCmd!.Send([_oid, clock, v], minClock: (ulong)_lastClock, reqClock: (ulong)clock);
        _lastClock = clock;
    }
}

/// <summary>[pwm_cycle_time NAME]: SET_PIN with VALUE and CYCLE_TIME (upstream PrinterOutputPWMCycle).</summary>
public sealed class PrinterOutputPwmCycle : IStatusProvider
{
    public const string CmdSetPinHelp = "Set the value of an output pin";
    private readonly Printer _printer;
    private readonly double _scale;
    private readonly McuPwmCycle _mcuPin;
    private readonly double _defaultCycleTime;
    private double _lastPrintTime, _lastValue, _lastCycleTime;

    public PrinterOutputPwmCycle(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _scale = config.GetFloat("scale", 1.0, above: 0.0);
        _lastValue = config.GetFloat("value", 0.0, minval: 0.0, maxval: _scale) / _scale;
        double shutdownValue = config.GetFloat("shutdown_value", 0.0, minval: 0.0, maxval: _scale) / _scale;
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.LookupPin(config.Get("pin"), canInvert: true);
        double maxDuration = Mcu.Mcu.MaxNominalDuration;
        double cycleTime = config.GetFloat("cycle_time", 0.100, above: 0.0, maxval: maxDuration);
        _mcuPin = new McuPwmCycle(pinParams, cycleTime, _lastValue, shutdownValue);
        _lastCycleTime = _defaultCycleTime = cycleTime;
        string pinName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_PIN", "PIN", pinName, CmdSetPin, desc: CmdSetPinHelp);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["value"] = _lastValue };

    private void SetPin(double printTime, double value, double cycleTime)
    {
        if (value == _lastValue && cycleTime == _lastCycleTime)
            return;
        printTime = Math.Max(printTime, _lastPrintTime + Mcu.Mcu.MinScheduleTime);
        _mcuPin.SetPwmCycle(printTime, value, cycleTime);
        _lastValue = value;
        _lastCycleTime = cycleTime;
        _lastPrintTime = printTime;
    }

    private void CmdSetPin(GCodeCommand gcmd)
    {
        double value = gcmd.GetFloat("VALUE", minval: 0.0, maxval: _scale);
        value /= _scale;
        double cycleTime = gcmd.GetFloat("CYCLE_TIME", _defaultCycleTime, above: 0.0, maxval: Mcu.Mcu.MaxNominalDuration);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.RegisterLookaheadCallback(pt => SetPin(pt, value, cycleTime));
    }
}
