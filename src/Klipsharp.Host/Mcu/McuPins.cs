using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Mcu;

/// <summary>An endstop pin on an MCU used for homing (upstream MCU_endstop).</summary>
public sealed class McuEndstop : IMcuEndstop
{
    private readonly Mcu _mcu;
    private readonly string _pin;
    private readonly int _pullup;
    private readonly int _invert;
    private readonly TriggerDispatch _dispatch;
    private McuCommand? _homeCmd;
    private McuQueryCommand? _queryCmd;
    private long _restTicks;

    public McuEndstop(Mcu mcu, PinParams pinParams)
    {
        _mcu = mcu;
        _pin = pinParams.Pin;
        _pullup = pinParams.Pullup;
        _invert = pinParams.Invert;
        Oid = mcu.CreateOid();
        mcu.RegisterConfigCallback(BuildConfig);
        _dispatch = new TriggerDispatch(mcu);
    }

    public int Oid { get; }

    public Mcu Mcu => _mcu;

    public void AddStepper(IMcuStepper stepper) => _dispatch.AddStepper(stepper);

    public IReadOnlyList<IMcuStepper> GetSteppers() => _dispatch.GetSteppers();

    private void BuildConfig()
    {
        _mcu.AddConfigCmd($"config_endstop oid={Oid} pin={_pin} pull_up={_pullup}");
        _mcu.AddConfigCmd($"endstop_home oid={Oid} clock=0 sample_ticks=0 sample_count=0 rest_ticks=0 pin_value=0 trsync_oid=0 trigger_reason=0", onRestart: true);
        var cq = _dispatch.CommandQueue;
        _homeCmd = _mcu.LookupCommand("endstop_home oid=%c clock=%u sample_ticks=%u sample_count=%c rest_ticks=%u pin_value=%c trsync_oid=%c trigger_reason=%c", cq);
        _queryCmd = _mcu.LookupQueryCommand("endstop_query_state oid=%c", "endstop_state oid=%c homing=%c next_clock=%u pin_value=%c", Oid, cq);
    }

    public ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime, bool triggered = true)
    {
        long clock = _mcu.PrintTimeToClock(printTime);
        long restTicks = _mcu.PrintTimeToClock(printTime + restTime) - clock;
        _restTicks = restTicks;
        var completion = _dispatch.Start(printTime);
        _homeCmd!.Send([Oid, clock, _mcu.SecondsToClock(sampleTime), sampleCount, restTicks,
            (triggered ? 1 : 0) ^ _invert, _dispatch.Oid, McuTrsync.ReasonEndstopHit], reqClock: (ulong)clock);
        return completion;
    }

    public double HomeWait(double homeEndTime)
    {
        _dispatch.WaitEnd(homeEndTime);
        _homeCmd!.Send([Oid, 0, 0, 0, 0, 0, 0, 0]);
        int res = _dispatch.Stop();
        if (res >= McuTrsync.ReasonCommsTimeout)
            throw new CommandError("Communication timeout during homing");
        if (res != McuTrsync.ReasonEndstopHit)
            return 0.0;
        if (_mcu.IsFileOutput)
            return homeEndTime;
        var p = _queryCmd!.Send([Oid]);
        long nextClock = _mcu.Clock32ToClock64(p["next_clock"]);
        return _mcu.ClockToPrintTime(nextClock - _restTicks);
    }

    public int QueryEndstop(double printTime)
    {
        long clock = _mcu.PrintTimeToClock(printTime);
        if (_mcu.IsFileOutput)
            return 0;
        var p = _queryCmd!.Send([Oid], minClock: (ulong)clock);
        return (int)p["pin_value"] ^ _invert;
    }
}

/// <summary>A digital output pin scheduled by clock (upstream MCU_digital_out).</summary>
public sealed class McuDigitalOut
{
    private readonly Mcu _mcu;
    private readonly string _pin;
    private readonly int _invert;
    private int _startValue, _shutdownValue;
    private double _maxDuration = 2.0;
    private long _lastClock;
    private McuCommand? _setCmd;

    public McuDigitalOut(Mcu mcu, PinParams pinParams)
    {
        _mcu = mcu;
        _pin = pinParams.Pin;
        _invert = pinParams.Invert;
        _startValue = _shutdownValue = _invert;
        mcu.RegisterConfigCallback(BuildConfig);
    }

    public Mcu Mcu => _mcu;

    public int Oid { get; private set; } = -1;

    public void SetupMaxDuration(double maxDuration) => _maxDuration = maxDuration;

    public void SetupStartValue(double startValue, double shutdownValue)
    {
        _startValue = (startValue != 0 ? 1 : 0) ^ _invert;
        _shutdownValue = (shutdownValue != 0 ? 1 : 0) ^ _invert;
    }

    private void BuildConfig()
    {
        if (_maxDuration != 0 && _startValue != _shutdownValue)
            throw new PinError("Pin with max duration must have start value equal to shutdown value");
        long mdurTicks = _mcu.SecondsToClock(_maxDuration);
        if (mdurTicks > Mcu.MaxScheduleTicks)
            throw new PinError("Digital pin max duration too large");
        _mcu.RequestMoveQueueSlot();
        Oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_digital_out oid={Oid} pin={_pin} value={_startValue} default_value={_shutdownValue} max_duration={mdurTicks}");
        _mcu.AddConfigCmd($"update_digital_out oid={Oid} value={_startValue}", onRestart: true);
        var cq = _mcu.AllocCommandQueue();
        _setCmd = _mcu.LookupCommand("queue_digital_out oid=%c clock=%u on_ticks=%u", cq);
    }

    public void SetDigital(double printTime, double value)
    {
        long clock = _mcu.PrintTimeToClock(printTime);
        _setCmd!.Send([Oid, clock, (value != 0 ? 1 : 0) ^ _invert], minClock: (ulong)_lastClock, reqClock: (ulong)clock);
        _lastClock = clock;
    }
}

/// <summary>A PWM output, hardware or software (upstream MCU_pwm).</summary>
public sealed class McuPwm
{
    private readonly Mcu _mcu;
    private readonly string _pin;
    private readonly int _invert;
    private bool _hardwarePwm;
    private double _cycleTime = 0.100;
    private double _maxDuration = 2.0;
    private double _startValue, _shutdownValue;
    private long _lastClock;
    private double _lastValue;
    private double _pwmMax;
    private McuCommand? _setCmd;

    public McuPwm(Mcu mcu, PinParams pinParams)
    {
        _mcu = mcu;
        _pin = pinParams.Pin;
        _invert = pinParams.Invert;
        _startValue = _shutdownValue = _invert;
        mcu.RegisterConfigCallback(BuildConfig);
    }

    public Mcu Mcu => _mcu;

    public int Oid { get; private set; } = -1;

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
        _lastValue = _startValue;
    }

    private void BuildConfig()
    {
        if (_maxDuration != 0 && _startValue != _shutdownValue)
            throw new PinError("Pin with max duration must have start value equal to shutdown value");
        var cq = _mcu.AllocCommandQueue();
        double curtime = _mcu.Printer.Reactor.Monotonic();
        double printtime = _mcu.EstimatedPrintTime(curtime);
        _lastClock = _mcu.PrintTimeToClock(printtime + 0.200);
        long cycleTicks = _mcu.SecondsToClock(_cycleTime);
        long mdurTicks = _mcu.SecondsToClock(_maxDuration);
        if (mdurTicks > Mcu.MaxScheduleTicks)
            throw new PinError("PWM pin max duration too large");
        if (_hardwarePwm)
        {
            _pwmMax = _mcu.GetConstantFloat("PWM_MAX");
            _mcu.RequestMoveQueueSlot();
            Oid = _mcu.CreateOid();
            // Python's "%d" truncates the float products toward zero
            _mcu.AddConfigCmd($"config_pwm_out oid={Oid} pin={_pin} cycle_ticks={cycleTicks} value={(long)(_startValue * _pwmMax)} default_value={(long)(_shutdownValue * _pwmMax)} max_duration={mdurTicks}");
            long svalue = (long)(_startValue * _pwmMax + 0.5);
            _mcu.AddConfigCmd($"queue_pwm_out oid={Oid} clock={_lastClock} value={svalue}", onRestart: true);
            _setCmd = _mcu.LookupCommand("queue_pwm_out oid=%c clock=%u value=%hu", cq);
            return;
        }
        if (_shutdownValue != 0.0 && _shutdownValue != 1.0)
            throw new PinError("shutdown value must be 0.0 or 1.0 on soft pwm");
        if (cycleTicks > Mcu.MaxScheduleTicks)
            throw new PinError("PWM pin cycle time too large");
        _mcu.RequestMoveQueueSlot();
        Oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_digital_out oid={Oid} pin={_pin} value={(_startValue >= 1.0 ? 1 : 0)} default_value={(_shutdownValue >= 0.5 ? 1 : 0)} max_duration={mdurTicks}");
        _mcu.AddConfigCmd($"set_digital_out_pwm_cycle oid={Oid} cycle_ticks={cycleTicks}");
        _pwmMax = cycleTicks;
        long sv = (long)(_startValue * cycleTicks + 0.5);
        _mcu.AddConfigCmd($"queue_digital_out oid={Oid} clock={_lastClock} on_ticks={sv}", isInit: true);
        _setCmd = _mcu.LookupCommand("queue_digital_out oid=%c clock=%u on_ticks=%u", cq);
    }

    /// <summary>The first PWM cycle boundary at or after <paramref name="printTime"/> (software PWM only).</summary>
    public double NextAlignedPrintTime(double printTime, double allowEarly = 0.0)
    {
        if (_hardwarePwm)
            return printTime;
        if (_lastValue == 1.0 || _lastValue == 0.0)
            return printTime;
        double reqPtime = printTime - Math.Min(allowEarly, 0.5 * _cycleTime);
        long cycleTicks = _mcu.SecondsToClock(_cycleTime);
        long reqClock = _mcu.PrintTimeToClock(reqPtime);
        long pulses = FloorDiv(reqClock - _lastClock + cycleTicks - 1, cycleTicks);
        long nextClock = _lastClock + pulses * cycleTicks;
        return _mcu.ClockToPrintTime(nextClock);
    }

    private static long FloorDiv(long a, long b) => a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);

    public void SetPwm(double printTime, double value)
    {
        if (_invert != 0)
            value = 1.0 - value;
        long v = (long)(Math.Max(0.0, Math.Min(1.0, value)) * _pwmMax + 0.5);
        long clock = _mcu.PrintTimeToClock(printTime);
        _setCmd!.Send([Oid, clock, v], minClock: (ulong)_lastClock, reqClock: (ulong)clock);
        _lastClock = clock;
        _lastValue = value;
    }
}

/// <summary>An analog input sampled periodically by the MCU (upstream MCU_adc).</summary>
public sealed class McuAdc
{
    private readonly Mcu _mcu;
    private readonly string _pin;
    private double _minSample, _maxSample;
    private double _sampleTime, _reportTime;
    private int _sampleCount, _batchNum, _rangeCheckCount;
    private long _reportClock;
    private double _invMaxAdc;
    private Action<IReadOnlyList<(double Time, double Value)>>? _callback;

    public McuAdc(Mcu mcu, PinParams pinParams)
    {
        _mcu = mcu;
        _pin = pinParams.Pin;
        mcu.RegisterConfigCallback(BuildConfig);
    }

    public Mcu Mcu => _mcu;

    public int Oid { get; private set; } = -1;

    /// <summary>Time and value (0..1) of the latest sample.</summary>
    public (double Time, double Value) LastValue { get; private set; }

    public void SetupAdcSample(double reportTime, double sampleTime = 0.0, int sampleCount = 1, int batchNum = 1,
        double minval = 0.0, double maxval = 1.0, int rangeCheckCount = 0)
    {
        _reportTime = reportTime;
        _sampleTime = sampleTime;
        _sampleCount = sampleCount;
        _batchNum = Math.Max(1, Math.Min(48 / 2, batchNum));
        _minSample = minval;
        _maxSample = maxval;
        _rangeCheckCount = rangeCheckCount;
    }

    public void SetupAdcCallback(Action<IReadOnlyList<(double Time, double Value)>> callback) => _callback = callback;

    private void BuildConfig()
    {
        if (_sampleCount == 0)
            return;
        Oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_analog_in oid={Oid} pin={_pin}");
        long clock = _mcu.GetQuerySlot(Oid);
        long sampleTicks = _mcu.SecondsToClock(_sampleTime);
        double mcuAdcMax = _mcu.GetConstantFloat("ADC_MAX");
        double maxAdc = _sampleCount * mcuAdcMax;
        if (maxAdc >= (1 << 16))
            throw new ConfigError($"ADC sample_count={_sampleCount} too large for MCU");
        _invMaxAdc = 1.0 / maxAdc;
        _reportClock = _mcu.SecondsToClock(_reportTime);
        long minSample = Math.Max(0, Math.Min(0xffff, (long)(_minSample * maxAdc)));
        long maxSample = Math.Max(0, Math.Min(0xffff, (long)Math.Ceiling(_maxSample * maxAdc)));
        const string oldCmd = "query_analog_in oid=%c clock=%u sample_ticks=%u sample_count=%c rest_ticks=%u min_value=%hu max_value=%hu range_check_count=%c";
        if (_batchNum == 1 && _mcu.TryLookupCommand(oldCmd) is not null)
        {
            _mcu.AddConfigCmd($"query_analog_in oid={Oid} clock={clock} sample_ticks={sampleTicks} sample_count={_sampleCount} rest_ticks={_reportClock} min_value={minSample} max_value={maxSample} range_check_count={_rangeCheckCount}", isInit: true);
            _mcu.RegisterResponse(HandleOldAnalogInState, "analog_in_state oid=%c next_clock=%u value=%hu", Oid);
            return;
        }
        const int bytesPerSample = 2;
        int bytesPerReport = _batchNum * bytesPerSample;
        _mcu.AddConfigCmd($"query_analog_in oid={Oid} clock={clock} sample_ticks={sampleTicks} sample_count={_sampleCount} rest_ticks={_reportClock} bytes_per_report={bytesPerReport} min_value={minSample} max_value={maxSample} range_check_count={_rangeCheckCount}", isInit: true);
        _mcu.RegisterResponse(HandleAnalogInState, "analog_in_state oid=%c next_clock=%u values=%*s", Oid);
    }

    private void HandleOldAnalogInState(McuResponse p)
    {
        double lastValue = p["value"] * _invMaxAdc;
        long nextClock = _mcu.Clock32ToClock64(p["next_clock"]);
        double lastReadTime = _mcu.ClockToPrintTime(nextClock - _reportClock);
        LastValue = (lastReadTime, lastValue);
        _callback?.Invoke([(lastReadTime, lastValue)]);
    }

    private void HandleAnalogInState(McuResponse p)
    {
        byte[] values = p.GetBytes("values");
        // Upstream unpacks only the first 16-bit sample of the report
        int count = values.Length >= 2 ? 1 : 0;
        long nextClock = _mcu.Clock32ToClock64(p["next_clock"]);
        var samples = new List<(double, double)>(count);
        for (int i = 0; i < count; i++)
        {
            int raw = values[2 * i] | (values[2 * i + 1] << 8);
            long sampleClock = nextClock - _reportClock * (count - i);
            samples.Add((_mcu.ClockToPrintTime(sampleClock), raw * _invMaxAdc));
        }
        if (samples.Count > 0)
            LastValue = samples[^1];
        _callback?.Invoke(samples);
    }
}
