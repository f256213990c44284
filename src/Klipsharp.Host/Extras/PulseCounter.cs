using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>An MCU GPIO edge counter (upstream pulse_counter MCU_counter).</summary>
public sealed class McuCounter
{
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly string _pin;
    private readonly int _pullup;
    private readonly double _pollTime, _sampleTime;
    private long _pollTicks;
    private long _lastCount;
    private Action<double, long, double>? _callback;

    public McuCounter(Printer printer, string pin, double sampleTime, double pollTime)
    {
        var ppins = printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.LookupPin(pin, canPullup: true);
        _mcu = OutputPins.ChipMcu(pinParams);
        _oid = _mcu.CreateOid();
        _pin = pinParams.Pin;
        _pullup = pinParams.Pullup;
        _pollTime = pollTime;
        _sampleTime = sampleTime;
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    private void BuildConfig()
    {
        _mcu.AddConfigCmd($"config_counter oid={_oid} pin={_pin} pull_up={_pullup}");
        long clock = _mcu.GetQuerySlot(_oid);
        _pollTicks = _mcu.SecondsToClock(_pollTime);
        long sampleTicks = _mcu.SecondsToClock(_sampleTime);
        _mcu.AddConfigCmd($"query_counter oid={_oid} clock={clock} poll_ticks={_pollTicks} sample_ticks={sampleTicks}", isInit: true);
        _mcu.RegisterResponse(HandleCounterState, "counter_state oid=%c next_clock=%u count=%u count_clock=%u", _oid);
    }

    /// <summary>Called every sample_time with (time, count, count_time).</summary>
    public void SetupCallback(Action<double, long, double> cb) => _callback = cb;

    private void HandleCounterState(McuResponse p)
    {
        long nextClock = _mcu.Clock32ToClock64(p["next_clock"]);
        double time = _mcu.ClockToPrintTime(nextClock - _pollTicks);
        long countClock = _mcu.Clock32ToClock64(p["count_clock"]);
        double countTime = _mcu.ClockToPrintTime(countClock);
        long lastCount = _lastCount;
        long deltaCount = (p["count"] - lastCount) & 0xffffffffL;
        long count = lastCount + deltaCount;
        _lastCount = count;
        _callback?.Invoke(time, count, countTime);
    }
}

/// <summary>Measures a pulse frequency from an edge counter (upstream pulse_counter FrequencyCounter).</summary>
public sealed class FrequencyCounter
{
    private double? _lastTime;
    private long _lastCount;
    private double _freq;

    public FrequencyCounter(Printer printer, string pin, double sampleTime, double pollTime)
    {
        var counter = new McuCounter(printer, pin, sampleTime, pollTime);
        counter.SetupCallback(CounterCallback);
    }

    public Action<double, double>? Callback { get; set; }

    private void CounterCallback(double time, long count, double countTime)
    {
        if (_lastTime is null)
        {
            _lastTime = time;
        }
        else
        {
            double deltaTime = countTime - _lastTime.Value;
            if (deltaTime > 0)
            {
                _lastTime = countTime;
                long deltaCount = count - _lastCount;
                _freq = deltaCount / deltaTime;
            }
            else
            {
                _lastTime = time;
                _freq = 0.0;
            }
            Callback?.Invoke(time, _freq);
        }
        _lastCount = count;
    }

    public double GetFrequency() => _freq;
}
