using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>An HX711 or HX717 load cell ADC on two MCU pins (upstream hx71x.HX71xBase).</summary>
public sealed class HX71xBase : IBulkSensorAdc
{
    public const double UpdateInterval = 0.10;
    public const long SampleErrorDesync = -0x80000000L;
    public const long SampleErrorLongRead = 0x40000000;

    private readonly Printer _printer;
    private readonly Mcu.Mcu _mcu;
    private readonly FixedFreqReader _ffreader;
    private readonly BatchBulkHelper _batchBulk;
    private McuObjCommand? _queryHx71xCmd;
    private long _lastErrorCount;
    private int _consecutiveFails;

    public HX71xBase(ConfigWrapper config, string sensorType, IReadOnlyDictionary<int, int> sampleRateOptions, int defaultSampleRate,
        IReadOnlyDictionary<string, int> gainOptions, string defaultGain)
    {
        _printer = config.GetPrinter();
        Name = config.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        SensorType = sensorType;
        string doutPinName = config.Get("dout_pin");
        string sclkPinName = config.Get("sclk_pin");
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var doutPpin = ppins.LookupPin(doutPinName);
        var sclkPpin = ppins.LookupPin(sclkPinName);
        _mcu = (Mcu.Mcu)doutPpin.Chip;
        Oid = _mcu.CreateOid();
        if (sclkPpin.Chip != _mcu)
            throw config.Error($"{Name} config error: All pins must be connected to the same MCU");
        DoutPin = doutPpin.Pin;
        SclkPin = sclkPpin.Pin;
        Sps = config.GetChoice("sample_rate", sampleRateOptions, defaultSampleRate);
        GainChannel = config.GetChoice("gain", gainOptions, defaultGain);
        double chipSmooth = Sps * UpdateInterval * 2;
        _ffreader = new FixedFreqReader(_mcu, chipSmooth, "<i");
        _batchBulk = new BatchBulkHelper(_printer, ProcessBatch, StartMeasurements, FinishMeasurements, UpdateInterval);
        _mcu.AddConfigCmd($"config_hx71x oid={Oid} gain_channel={GainChannel} dout_pin={DoutPin} sclk_pin={SclkPin}");
        _mcu.AddConfigCmd($"query_hx71x oid={Oid} rest_ticks=0", onRestart: true);
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    public string Name { get; }

    public string SensorType { get; }

    public int Oid { get; }

    public string DoutPin { get; }

    public string SclkPin { get; }

    public int Sps { get; }

    public int GainChannel { get; }

    public void SetupTriggerAnalog(int triggerAnalogOid) =>
        _mcu.AddConfigCmd($"hx71x_attach_trigger_analog oid={Oid} trigger_analog_oid={triggerAnalogOid}", isInit: true);

    private void BuildConfig()
    {
        var cmdQueue = _mcu.AllocCommandQueue();
        _queryHx71xCmd = new McuObjCommand(_mcu, "query_hx71x oid=%c rest_ticks=%u", cmdQueue);
        _ffreader.SetupQueryCommand("query_hx71x_status oid=%c", Oid, cmdQueue);
    }

    public Mcu.Mcu GetMcu() => _mcu;

    public double GetSamplesPerSecond() => Sps;

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["errors"] = _lastErrorCount,
        ["overflows"] = _ffreader.GetLastOverflows(),
        ["sample_rate"] = Sps,
    };

    public string LookupSensorError(long errorCode) => $"Unknown hx71x error {errorCode}";

    public (long Min, long Max) GetRange() => (-0x800000, 0x7FFFFF);

    public void AddClient(Func<BulkBatch, bool> callback) => _batchBulk.AddClient(callback);

    // Raw readings to (time, counts, fraction of range) rows; an error ends the batch
    private void ConvertSamples(List<double[]> samples)
    {
        double adcFactor = 1.0 / (1 << 23);
        int count = 0;
        foreach (var sample in samples.ToList())
        {
            long val = (long)sample[1];
            if (val == SampleErrorDesync || val == SampleErrorLongRead)
            {
                _lastErrorCount++;
                // Later errors are duplicates
                break;
            }
            samples[count] = [PyFmt.Round(sample[0], 6), val, PyFmt.Round(val * adcFactor, 9)];
            count++;
        }
        samples.RemoveRange(count, samples.Count - count);
    }

    private void StartMeasurements()
    {
        _consecutiveFails = 0;
        _lastErrorCount = 0;
        long restTicks = _mcu.SecondsToClock(1.0 / (10.0 * Sps));
        _queryHx71xCmd!.Send([(long)Oid, restTicks]);
        _printer.Log?.Invoke($"{SensorType} starting '{Name}' measurements");
        _ffreader.NoteStart();
    }

    private void FinishMeasurements()
    {
        // The link is unusable after a shutdown
        if (_printer.IsShutdown)
            return;
        _queryHx71xCmd!.SendWaitAck([(long)Oid, 0L]);
        _ffreader.NoteEnd();
        _printer.Log?.Invoke($"{SensorType} finished '{Name}' measurements");
    }

    private BulkBatch? ProcessBatch(double eventtime)
    {
        long prevOverflows = _ffreader.GetLastOverflows();
        long prevErrorCount = _lastErrorCount;
        var samples = _ffreader.PullSamples();
        ConvertSamples(samples);
        long overflows = _ffreader.GetLastOverflows() - prevOverflows;
        long errors = _lastErrorCount - prevErrorCount;
        if (errors > 0)
        {
            _printer.Log?.Invoke($"{Name}: Forced sensor restart due to error");
            FinishMeasurements();
            StartMeasurements();
        }
        else if (overflows > 0)
        {
            _consecutiveFails++;
            if (_consecutiveFails > 4)
            {
                _printer.Log?.Invoke($"{Name}: Forced sensor restart due to overflows");
                FinishMeasurements();
                StartMeasurements();
            }
        }
        else
        {
            _consecutiveFails = 0;
        }
        return new BulkBatch(samples, _lastErrorCount, _ffreader.GetLastOverflows());
    }

    /// <summary>An HX711: 80 or 10 samples per second.</summary>
    public static HX71xBase HX711(ConfigWrapper config) => new(config, "hx711",
        new Dictionary<int, int> { [80] = 80, [10] = 10 }, 80,
        new Dictionary<string, int> { ["A-128"] = 1, ["B-32"] = 2, ["A-64"] = 3 }, "A-128");

    /// <summary>An HX717: 320, 80, 20 or 10 samples per second.</summary>
    public static HX71xBase HX717(ConfigWrapper config) => new(config, "hx717",
        new Dictionary<int, int> { [320] = 320, [80] = 80, [20] = 20, [10] = 10 }, 320,
        new Dictionary<string, int> { ["A-128"] = 1, ["B-64"] = 2, ["A-64"] = 3, ["B-8"] = 4 }, "A-128");

    /// <summary>The sensor_type names this module provides (upstream HX71X_SENSOR_TYPES).</summary>
    public static readonly IReadOnlyList<(string Name, Func<ConfigWrapper, IBulkSensorAdc> Create)> SensorTypes =
    [
        ("hx711", HX711),
        ("hx717", HX717),
    ];
}
