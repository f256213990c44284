using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>An ADS1220 24 bit ADC on SPI, for load cells (upstream ads1220.ADS1220).</summary>
public sealed class ADS1220 : IBulkSensorAdc
{
    public const double UpdateInterval = 0.10;
    public const int ResetCmd = 0x06;
    public const int StartSyncCmd = 0x08;
    public const int RregCmd = 0x20;
    public const int WregCmd = 0x40;
    public const int NoopCmd = 0x0;
    private static readonly byte[] ResetState = [0x0, 0x0, 0x0, 0x0];

    private static readonly Dictionary<string, int> GainOptions = new()
    {
        ["1"] = 0x0, ["2"] = 0x1, ["4"] = 0x2, ["8"] = 0x3, ["16"] = 0x4, ["32"] = 0x5, ["64"] = 0x6, ["128"] = 0x7,
    };

    // Key order matters: a rate's index is its DR register value
    private static readonly string[] SpsNormal = ["20", "45", "90", "175", "330", "600", "1000"];
    private static readonly string[] SpsTurbo = ["40", "90", "180", "350", "660", "1200", "2000"];

    private static readonly Dictionary<string, int> MuxOptions = new()
    {
        ["AIN0_AIN1"] = 0b0000, ["AIN0_AIN2"] = 0b0001, ["AIN0_AIN3"] = 0b0010, ["AIN1_AIN2"] = 0b0011,
        ["AIN1_AIN3"] = 0b0100, ["AIN2_AIN3"] = 0b0101, ["AIN1_AIN0"] = 0b0110, ["AIN3_AIN2"] = 0b0111,
        ["AIN0_AVSS"] = 0b1000, ["AIN1_AVSS"] = 0b1001, ["AIN2_AVSS"] = 0b1010, ["AIN3_AVSS"] = 0b1011,
    };

    private static readonly Dictionary<string, int> VrefOptions = new()
    {
        ["internal"] = 0b0, ["REF0"] = 0b01, ["REF1"] = 0b10, ["analog_supply"] = 0b11,
    };

    private readonly Printer _printer;
    private readonly McuSpi _spi;
    private readonly Mcu.Mcu _mcu;
    private readonly FixedFreqReader _ffreader;
    private readonly BatchBulkHelper _batchBulk;
    private McuObjCommand? _queryAds1220Cmd;
    private long _lastErrorCount;

    public ADS1220(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        Name = config.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        Gain = config.GetChoice("gain", GainOptions, "128");
        var spsOptions = new Dictionary<string, int>();
        foreach (var s in SpsNormal.Concat(SpsTurbo))
            spsOptions[s] = int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        Sps = config.GetChoice("sample_rate", spsOptions, "660");
        IsTurbo = SpsTurbo.Contains(Sps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Mux = config.GetChoice("input_mux", MuxOptions, "AIN0_AIN1");
        bool pgaBypass = config.GetBoolean("pga_bypass", false);
        // AVSS as the negative input needs the PGA bypassed
        bool forcePgaBypass = Mux >= 0b1000;
        PgaBypass = forcePgaBypass || pgaBypass;
        Vref = config.GetChoice("vref", VrefOptions, "internal");
        int[] muxConflict = [0b0000, 0b0001, 0b0010, 0b0100, 0b0101, 0b0110, 0b0111, 0b1000, 0b1011];
        if (Vref == 0b10 && muxConflict.Contains(Mux))
            throw config.Error("ADS1220 config error: AIN0/REFP1 and AIN3/REFN1 cant be used as a voltage reference and an input at the same time");
        int spiSpeed = IsTurbo ? 512000 : 256000;
        _spi = McuSpi.FromConfig(config, 1, defaultSpeed: spiSpeed);
        _mcu = _spi.GetMcu();
        Oid = _mcu.CreateOid();
        string drdyPin = config.Get("data_ready_pin");
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var drdyPpin = ppins.LookupPin(drdyPin);
        DataReadyPin = drdyPpin.Pin;
        if (drdyPpin.Chip != _mcu)
            throw config.Error("ADS1220 config error: SPI communication and data_ready_pin must be on the same MCU");
        double chipSmooth = Sps * UpdateInterval * 2;
        _ffreader = new FixedFreqReader(_mcu, chipSmooth, "<i");
        _batchBulk = new BatchBulkHelper(_printer, ProcessBatch, StartMeasurements, FinishMeasurements, UpdateInterval);
        _mcu.AddConfigCmd($"config_ads1220 oid={Oid} spi_oid={_spi.Oid} data_ready_pin={DataReadyPin}");
        _mcu.AddConfigCmd($"query_ads1220 oid={Oid} rest_ticks=0", onRestart: true);
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    public string Name { get; }

    public int Oid { get; }

    public int Gain { get; }

    public int Sps { get; }

    public bool IsTurbo { get; }

    public int Mux { get; }

    public bool PgaBypass { get; }

    public int Vref { get; }

    public string DataReadyPin { get; }

    public void SetupTriggerAnalog(int triggerAnalogOid) =>
        _mcu.AddConfigCmd($"ads1220_attach_trigger_analog oid={Oid} trigger_analog_oid={triggerAnalogOid}", isInit: true);

    private void BuildConfig()
    {
        var cmdqueue = _spi.GetCommandQueue();
        _queryAds1220Cmd = new McuObjCommand(_mcu, "query_ads1220 oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_ads1220_status oid=%c", Oid, cmdqueue);
    }

    public Mcu.Mcu GetMcu() => _mcu;

    public double GetSamplesPerSecond() => Sps;

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["errors"] = _lastErrorCount,
        ["overflows"] = _ffreader.GetLastOverflows(),
        ["sample_rate"] = Sps,
    };

    // Upstream's format string has no placeholder, so Python raises a TypeError here
    public string LookupSensorError(long errorCode) =>
        throw new InvalidOperationException("not all arguments converted during string formatting");

    public (long Min, long Max) GetRange() => (-0x800000, 0x7FFFFF);

    public void AddClient(Func<BulkBatch, bool> callback) => _batchBulk.AddClient(callback);

    private static void ConvertSamples(List<double[]> samples)
    {
        double adcFactor = 1.0 / (1 << 23);
        for (int i = 0; i < samples.Count; i++)
        {
            double val = samples[i][1];
            samples[i] = [PyFmt.Round(samples[i][0], 6), val, PyFmt.Round(val * adcFactor, 9)];
        }
    }

    private void StartMeasurements()
    {
        _lastErrorCount = 0;
        ResetChip();
        SetupChip();
        long restTicks = _mcu.SecondsToClock(1.0 / (10.0 * Sps));
        _queryAds1220Cmd!.Send([(long)Oid, restTicks]);
        _printer.Log?.Invoke($"ADS1220 starting '{Name}' measurements");
        _ffreader.NoteStart();
    }

    private void FinishMeasurements()
    {
        // The link is unusable after a shutdown
        if (_printer.IsShutdown)
            return;
        _queryAds1220Cmd!.SendWaitAck([(long)Oid, 0L]);
        _ffreader.NoteEnd();
        _printer.Log?.Invoke($"ADS1220 finished '{Name}' measurements");
    }

    private BulkBatch? ProcessBatch(double eventtime)
    {
        var samples = _ffreader.PullSamples();
        ConvertSamples(samples);
        return new BulkBatch(samples, _lastErrorCount, _ffreader.GetLastOverflows());
    }

    /// <summary>Python's repr of a byte list as hex values: [0xff, 0x1].</summary>
    public static string Hexify(IEnumerable<byte> bytes) => "[" + string.Join(", ", bytes.Select(b => $"0x{b:x}")) + "]";

    public void ResetChip()
    {
        // The reset takes 50us
        SendCommand(ResetCmd);
        var val = ReadReg(0x0, 4);
        if (!val.SequenceEqual(ResetState))
        {
            if (_mcu.IsFileOutput)
                return;
            throw new CommandError($"Invalid ads1220 reset state (got {Hexify(val)} vs {Hexify(ResetState)}).\nThis is generally indicative of connection problems\n(e.g. faulty wiring) or a faulty ADS1220 chip.");
        }
    }

    /// <summary>The four configuration register values.</summary>
    public byte[] RegisterValues()
    {
        const int continuous = 0x1;
        int mode = IsTurbo ? 0x2 : 0x0;
        var spsList = IsTurbo ? SpsTurbo : SpsNormal;
        int dataRate = Array.IndexOf(spsList, Sps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return
        [
            (byte)((Mux << 4) | (Gain << 1) | (PgaBypass ? 1 : 0)),
            (byte)((dataRate << 5) | (mode << 3) | (continuous << 2)),
            (byte)(Vref << 6),
            0x0,
        ];
    }

    public void SetupChip()
    {
        WriteReg(0x0, RegisterValues());
        // Start converting now
        SendCommand(StartSyncCmd);
    }

    public byte[] ReadReg(int reg, int byteCount)
    {
        var readCommand = new List<byte> { (byte)(RregCmd | (reg << 2) | (byteCount - 1)) };
        readCommand.AddRange(Enumerable.Repeat((byte)NoopCmd, byteCount));
        var p = _spi.SpiTransfer(readCommand);
        var resp = p.GetBytes("response");
        return resp.Length > 1 ? resp[1..] : [];
    }

    public void SendCommand(int cmd) => _spi.SpiSend([(byte)cmd]);

    public void WriteReg(int reg, byte[] registerBytes)
    {
        var writeCommand = new List<byte> { (byte)(WregCmd | (reg << 2) | (registerBytes.Length - 1)) };
        writeCommand.AddRange(registerBytes);
        _spi.SpiSend(writeCommand);
        var storedVal = ReadReg(reg, registerBytes.Length);
        if (!registerBytes.SequenceEqual(storedVal))
        {
            if (_mcu.IsFileOutput)
                return;
            throw new CommandError($"Failed to set ADS1220 register [0x{reg:x}] to {Hexify(registerBytes)}: got {Hexify(storedVal)}. This may be a connection problem (e.g. faulty wiring)");
        }
    }

    /// <summary>The sensor_type names this module provides (upstream ADS1220_SENSOR_TYPE).</summary>
    public static readonly IReadOnlyList<(string Name, Func<ConfigWrapper, IBulkSensorAdc> Create)> SensorTypes =
    [
        ("ads1220", c => new ADS1220(c)),
    ];
}
