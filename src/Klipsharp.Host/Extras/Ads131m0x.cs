using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>An ADS131M02/ADS131M04 24 bit ADC on SPI, for load cells (upstream ads131m0x.ADS131M0X).</summary>
public sealed class ADS131M0X : IBulkSensorAdc
{
    public const int NullCmd = 0x00;
    public const int ResetCmd = 0x11;
    public const int StandbyCmd = 0x22;
    public const int WakeupCmd = 0x33;
    public const int ResetAck = 0xFF22;
    public const double TRegacq = 5e-6;
    public const int RegId = 0x00;
    public const int RegStatus = 0x01;
    public const int RegMode = 0x02;
    public const int RegClock = 0x03;
    public const int RegGain1 = 0x04;
    public const int RegCfg = 0x06;
    public const int Word24Mode = 0x100;
    public const int PwrMode = 0x2;
    public const int GcMode = 0x100;
    public const int StatusRegMask = 0xBFFC;
    public const double UpdateInterval = 0.100;
    public const int MinimumClockFreq = 300000;
    public const int MaximumClockFreq = 8400000;
    public const int NominalClockFreq = 8192000;
    public const double MaxSampleRateDeviation = 0.5;

    // Oversampling ratio to CLOCK register OSR code, in upstream's (search) order
    private static readonly (int Osr, int Reg)[] OsrToReg =
        [(64, 8), (128, 0), (256, 1), (512, 2), (1024, 3), (2048, 4), (4096, 5), (8192, 6), (16384, 7)];

    private static readonly Dictionary<int, int> GainToReg = new()
    {
        [1] = 0x00, [2] = 0x01, [4] = 0x02, [8] = 0x03, [16] = 0x04, [32] = 0x05, [64] = 0x06, [128] = 0x07,
    };

    private static readonly Dictionary<int, int> GcDlyToReg = new()
    {
        [2] = 0x00, [4] = 0x01, [8] = 0x02, [16] = 0x03, [32] = 0x04, [64] = 0x05, [128] = 0x06, [256] = 0x07,
        [512] = 0x08, [1024] = 0x09, [2048] = 0x0a, [4096] = 0x0b, [8192] = 0x0c, [16384] = 0x0d, [32768] = 0x0e,
        [65536] = 0x0f,
    };

    private readonly Printer _printer;
    private readonly McuSpi _spi;
    private readonly Mcu.Mcu _mcu;
    private readonly FixedFreqReader _ffreader;
    private readonly BatchBulkHelper _batchBulk;
    private readonly int _sensorId;
    private Dictionary<long, string> _sensorErrors = new();
    private McuObjCommand? _queryAds131m0xCmd;
    private long _lastErrorCount;

    public ADS131M0X(ConfigWrapper config, string sensorType, int numChannels)
    {
        _printer = config.GetPrinter();
        Name = config.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        SensorType = sensorType;
        _sensorId = 0x20 | numChannels;
        NumChannels = numChannels;
        Channel = config.GetInt("adc_channel", 0, minval: 0, maxval: numChannels - 1);
        string? pwmClockName = config.GetOrNull("pwm_clock");
        if (pwmClockName is not null)
        {
            var pwmConfig = config.GetSection(string.Join(' ', pwmClockName.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
            double? freq = pwmConfig.GetFloatOrNull("frequency", noteValid: false, minval: MinimumClockFreq, maxval: MaximumClockFreq);
            ClockFreq = freq ?? throw config.Error($"pwm_clock '{pwmClockName}' must support and specify a 'frequency' parameter");
        }
        else
        {
            ClockFreq = config.GetInt("clock_freq", minval: MinimumClockFreq, maxval: MaximumClockFreq);
        }
        Gain = config.GetChoice("gain", GainToReg.Keys.ToList(), 128);
        EnableGlobalChop = config.GetBoolean("enable_global_chop", false);
        if (EnableGlobalChop)
            GcDly = config.GetChoice("global_chop_delay", GcDlyToReg.Keys.ToList(), 16);
        double configSampleRate = config.GetFloat("sample_rate", 500.0, above: 0.0);
        // The OSR whose rate is closest to the request
        int? bestOsr = null;
        double bestSps = 0;
        foreach (var (osr, _) in OsrToReg)
        {
            double sps = CalcSampleRate(osr);
            if (bestOsr is null || Math.Abs(sps - configSampleRate) < Math.Abs(bestSps - configSampleRate))
            {
                bestOsr = osr;
                bestSps = sps;
            }
        }
        if (Math.Abs(bestSps - configSampleRate) >= MaxSampleRateDeviation * configSampleRate)
            throw config.Error($"Requested sample rate {PyFmt.F(configSampleRate, 1)} Hz is not available with the configured parameters");
        _printer.Log?.Invoke($"{SensorType} '{Name}' configured sample_rate = {PyFmt.F(bestSps, 1)} SPS");
        Osr = bestOsr!.Value;
        Sps = bestSps;
        _spi = McuSpi.FromConfig(config, 1, defaultSpeed: 4000000);
        _mcu = _spi.GetMcu();
        Oid = _mcu.CreateOid();
        string drdyPin = config.Get("data_ready_pin");
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var drdyPpin = ppins.LookupPin(drdyPin);
        DataReadyPin = drdyPpin.Pin;
        if (drdyPpin.Chip != _mcu)
            throw config.Error($"{SensorType} config error: SPI communication and data_ready_pin must be on the same MCU");
        double chipSmooth = Sps * UpdateInterval * 2;
        _ffreader = new FixedFreqReader(_mcu, chipSmooth, "<i");
        _batchBulk = new BatchBulkHelper(_printer, ProcessBatch, StartMeasurements, FinishMeasurements, UpdateInterval);
        _mcu.AddConfigCmd($"config_ads131m0x oid={Oid} spi_oid={_spi.Oid} channel={Channel} num_channels={NumChannels} data_ready_pin={DataReadyPin}");
        _mcu.AddConfigCmd($"query_ads131m0x oid={Oid} rest_ticks=0", onRestart: true);
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    public string Name { get; }

    public string SensorType { get; }

    public int Oid { get; }

    public int NumChannels { get; }

    public int Channel { get; }

    public double ClockFreq { get; }

    public int Gain { get; }

    public bool EnableGlobalChop { get; }

    public int? GcDly { get; }

    public int Osr { get; }

    public double Sps { get; }

    public string DataReadyPin { get; }

    public void SetupTriggerAnalog(int triggerAnalogOid) =>
        _mcu.AddConfigCmd($"ads131m0x_attach_trigger_analog oid={Oid} trigger_analog_oid={triggerAnalogOid}", isInit: true);

    private void BuildConfig()
    {
        var cmdqueue = _spi.GetCommandQueue();
        _queryAds131m0xCmd = new McuObjCommand(_mcu, "query_ads131m0x oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_ads131m0x_status oid=%c", Oid, cmdqueue);
        var errors = _mcu.Serial.MsgParser.Enumerations.GetValueOrDefault("ads131m0x_error:");
        _sensorErrors = errors is null ? new() : errors.ToDictionary(kv => kv.Value, kv => kv.Key);
    }

    public Mcu.Mcu GetMcu() => _mcu;

    public double GetSamplesPerSecond() => Sps;

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["errors"] = _lastErrorCount,
        ["overflows"] = _ffreader.GetLastOverflows(),
        ["sample_rate"] = Sps,
    };

    public string LookupSensorError(long errorCode) => _sensorErrors.GetValueOrDefault(errorCode, $"Unknown {SensorType} error");

    public (long Min, long Max) GetRange() => (-0x800000, 0x7FFFFF);

    public double CalcSampleRate(int osr) =>
        EnableGlobalChop ? ClockFreq / (2.0 * (GcDly!.Value + 3.0 * osr)) : ClockFreq / (2.0 * osr);

    public void AddClient(Func<BulkBatch, bool> callback) => _batchBulk.AddClient(callback);

    private void ConvertSamples(List<double[]> samples)
    {
        double adcFactor = 1.0 / (1 << 23);
        int count = 0;
        foreach (var sample in samples.ToList())
        {
            long val = (long)sample[1];
            long topByte = (val >> 24) & 0xFF;
            if (topByte != 0x00 && topByte != 0xFF)
            {
                _lastErrorCount++;
                _printer.Log?.Invoke($"'{Name}' sample error: {LookupSensorError(topByte)}");
                continue;
            }
            samples[count] = [PyFmt.Round(sample[0], 6), val, PyFmt.Round(val * adcFactor, 9)];
            count++;
        }
        samples.RemoveRange(count, samples.Count - count);
    }

    private void StartMeasurements()
    {
        _lastErrorCount = 0;
        // Stop bulk reading before the reset
        _queryAds131m0xCmd!.SendWaitAck([(long)Oid, 0L]);
        ResetChip();
        SetupChip();
        long restTicks = _mcu.SecondsToClock(1.0 / (10.0 * Sps));
        _queryAds131m0xCmd.Send([(long)Oid, restTicks]);
        _printer.Log?.Invoke($"{SensorType} starting '{Name}' measurements");
        _ffreader.NoteStart();
    }

    private void FinishMeasurements()
    {
        // The link is unusable after a shutdown
        if (_printer.IsShutdown)
            return;
        _queryAds131m0xCmd!.SendWaitAck([(long)Oid, 0L]);
        _ffreader.NoteEnd();
        _printer.Log?.Invoke($"{SensorType} finished '{Name}' measurements");
    }

    private BulkBatch? ProcessBatch(double eventtime)
    {
        var samples = _ffreader.PullSamples();
        ConvertSamples(samples);
        return new BulkBatch(samples, _lastErrorCount, _ffreader.GetLastOverflows());
    }

    /// <summary>16 bit words as a full SPI frame of 24 bit words (at least 4).</summary>
    public static byte[] ConvertToSpiFrame(IReadOnlyList<int> vals16)
    {
        var result = new List<byte>();
        foreach (int val in vals16.Concat(Enumerable.Repeat(0, Math.Max(0, 4 - vals16.Count))))
        {
            result.Add((byte)((val & 0xFF00) >> 8));
            result.Add((byte)(val & 0xFF));
            result.Add(0x00);
        }
        return result.ToArray();
    }

    public void ResetChip()
    {
        bool isBatchMode = _mcu.IsFileOutput;
        // The ID register's upper byte names the chip
        int? idVal = ReadReg(RegId);
        if (!isBatchMode && (idVal >> 8) != _sensorId)
            throw new CommandError($"Invalid {SensorType} ID register (got 0x{PyHex(idVal)} vs 0x{_sensorId:x}).\nThis is generally indicative of connection problems\n(e.g. faulty wiring) or a faulty chip.");
        SendCommand16(ResetCmd);
        // Wait tREGACQ after the reset before reading the acknowledgment
        double curtime = _printer.Reactor.Monotonic();
        double printTime = _mcu.EstimatedPrintTime(curtime);
        long minclock = _mcu.PrintTimeToClock(printTime + TRegacq);
        int? ack = SendCommand16(NullCmd, (ulong)minclock);
        if (!isBatchMode && ack != ResetAck)
            throw new CommandError($"Failed to reset {SensorType} (got 0x{PyHex(ack)} vs 0x{ResetAck:x}).\nThis is generally indicative of connection problems\n(e.g. faulty wiring) or a faulty chip.");
    }

    private static string PyHex(int? v) => v is int i ? i.ToString("x", System.Globalization.CultureInfo.InvariantCulture) : "None";

    public void SetupChip()
    {
        bool isBatchMode = _mcu.IsFileOutput;
        const int modeVal = Word24Mode;
        WriteReg(RegMode, modeVal);
        int? actualModeVal = ReadReg(RegMode);
        if (!isBatchMode && actualModeVal != modeVal)
            throw new CommandError($"Failed to set MODE register to {modeVal:x}, got {PyHex(actualModeVal)}");
        // CLOCK: channel enable bits 11-8, OSR bits 4:2 (TBM bit 5), power mode bits 1:0
        int osrCode = OsrToReg.First(o => o.Osr == Osr).Reg;
        int chEn = 1 << (Channel + 8);
        int clockVal = (osrCode << 2) | chEn | PwrMode;
        WriteReg(RegClock, clockVal);
        int? actualClockVal = ReadReg(RegClock);
        if (!isBatchMode && actualClockVal != clockVal)
            throw new CommandError($"Failed to set CLOCK register to {clockVal:x}, got {PyHex(actualClockVal)}");
        int gainVal = 0;
        for (int i = 0; i < NumChannels; i++)
            gainVal |= GainToReg[Gain] << (i * 4);
        WriteReg(RegGain1, gainVal);
        int? actualGainVal = ReadReg(RegGain1);
        if (!isBatchMode && actualGainVal != gainVal)
            throw new CommandError($"Failed to set GAIN1 register to {gainVal:x}, got {PyHex(actualGainVal)}");
        int cfgVal = 0;
        if (EnableGlobalChop)
            cfgVal = GcDlyToReg[GcDly!.Value] << 9 | GcMode;
        WriteReg(RegCfg, cfgVal);
        int? actualCfgVal = ReadReg(RegCfg);
        if (!isBatchMode && actualCfgVal != cfgVal)
            throw new CommandError($"Failed to set CFG register to {cfgVal:x}, got {PyHex(actualCfgVal)}");
        int? actualStatusVal = ReadReg(RegStatus);
        if (!isBatchMode && (actualStatusVal & StatusRegMask) != Word24Mode)
            throw new CommandError($"Invalid STATUS register value {PyHex(actualStatusVal)}");
        // Ending on NULL_CMD makes the MCU's later data reads return STATUS
    }

    public int? ReadReg(int reg)
    {
        // RREG: 101a aaaa annn nnnn (address, count-1)
        int cmd = 0xA000 | (reg << 7);
        _spi.SpiSend(ConvertToSpiFrame([cmd]));
        // A NULL_CMD frame clocks out the register value
        return SendCommand16(NullCmd);
    }

    public void WriteReg(int reg, int value)
    {
        // WREG: 011a aaaa annn nnnn (start address, count-1)
        int cmd = 0x6000 | (reg << 7);
        _spi.SpiSend(ConvertToSpiFrame([cmd, value]));
    }

    public int? SendCommand16(int cmd, ulong minclock = 0)
    {
        var response = _spi.SpiTransfer(ConvertToSpiFrame([cmd]), minclock);
        var resp = response.GetBytes("response");
        if (resp.Length == 0)
            return null;
        return (resp[0] << 8) | resp[1];
    }

    /// <summary>The sensor_type names this module provides (upstream ADS131M0X_SENSOR_TYPES).</summary>
    public static readonly IReadOnlyList<(string Name, Func<ConfigWrapper, IBulkSensorAdc> Create)> SensorTypes =
    [
        ("ads131m02", c => new ADS131M0X(c, "ADS131M02", 2)),
        ("ads131m04", c => new ADS131M0X(c, "ADS131M04", 4)),
    ];
}
