using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>LDC_CALIBRATE_DRIVE_CURRENT: finds the LDC1612 DRIVE_CURRENT register value (upstream ldc1612.DriveCurrentCalibrate).</summary>
public sealed class DriveCurrentCalibrate
{
    public const string CmdLdcCalibrateHelp = "Calibrate LDC1612 DRIVE_CURRENT register";

    private readonly Printer _printer;
    private readonly LDC1612 _sensor;
    private readonly int _driveCur;
    private readonly string _name;

    public DriveCurrentCalibrate(ConfigWrapper config, LDC1612 sensor)
    {
        _printer = config.GetPrinter();
        _sensor = sensor;
        _driveCur = config.GetInt("reg_drive_current", LDC1612.DriveCur, minval: 0, maxval: 31);
        _name = config.Name;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("LDC_CALIBRATE_DRIVE_CURRENT", "CHIP", _name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1],
            CmdLdcCalibrate, desc: CmdLdcCalibrateHelp);
    }

    public int GetDriveCurrent() => _driveCur;

    private void CmdLdcCalibrate(GCodeCommand gcmd)
    {
        bool isInProgress = true;
        _sensor.AddClient(_ => isInProgress);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.Dwell(0.100);
        toolhead.WaitMoves();
        int oldConfig = _sensor.ReadReg(LDC1612.RegConfig);
        _sensor.SetReg(LDC1612.RegConfig, 0x001 | (1 << 9));
        toolhead.WaitMoves();
        toolhead.Dwell(0.100);
        toolhead.WaitMoves();
        int regDriveCurrent0 = _sensor.ReadReg(LDC1612.RegDriveCurrent0);
        _sensor.SetReg(LDC1612.RegConfig, oldConfig);
        isInProgress = false;
        int driveCur = (regDriveCurrent0 >> 6) & 0x1f;
        gcmd.RespondInfo($"{_name}: reg_drive_current: {driveCur}\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.");
        _printer.LookupObject<PrinterConfig>("configfile").Set(_name, "reg_drive_current", driveCur.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>An LDC1612 inductance-to-digital converter on I2C, the sensor of eddy current probes (upstream ldc1612.LDC1612).</summary>
public sealed class LDC1612 : ITriggerAnalogSensor
{
    public const double BatchUpdates = 0.100;
    public const int Ldc1612Addr = 0x2a;
    public const int DefaultLdc1612Freq = 12000000;
    public const double SettleTime = 0.005;
    public const int DriveCur = 15;
    public const int Deglitch = 0x05;
    public const int Ldc1612ManufId = 0x5449;
    public const int Ldc1612DevId = 0x3055;
    public const int RegRcount0 = 0x08;
    public const int RegOffset0 = 0x0c;
    public const int RegSettlecount0 = 0x10;
    public const int RegClockDividers0 = 0x14;
    public const int RegErrorConfig = 0x19;
    public const int RegConfig = 0x1a;
    public const int RegMuxConfig = 0x1b;
    public const int RegDriveCurrent0 = 0x1e;
    public const int RegManufacturerId = 0x7e;
    public const int RegDeviceId = 0x7f;

    private readonly Printer _printer;
    private readonly EddyCalibration? _calibration;
    private readonly DriveCurrentCalibrate _dccal;
    private readonly McuI2c _i2c;
    private readonly Mcu.Mcu _mcu;
    private readonly FixedFreqReader _ffreader;
    private readonly BatchBulkHelper _batchBulk;
    private Dictionary<long, string> _sensorErrors = new();
    private McuObjCommand? _queryLdc1612Cmd;
    private long _lastErrorCount;

    public LDC1612(ConfigWrapper config, EddyCalibration? calibration = null)
    {
        _printer = config.GetPrinter();
        Name = config.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        _calibration = calibration;
        _dccal = new DriveCurrentCalibrate(config, this);
        DataRate = 400;
        _i2c = McuI2c.FromConfig(config, defaultAddr: Ldc1612Addr, defaultSpeed: 400000);
        _mcu = _i2c.GetMcu();
        Oid = _mcu.CreateOid();
        ClockFreq = config.GetInt("frequency", DefaultLdc1612Freq, minval: 2000000, maxval: 40000000);
        // The sensor divider keeps 4*max_hz below the reference clock
        double maxHz = config.GetFloat("max_sensor_hz", 5000000.0, minval: 3000000.0, maxval: 20000000.0);
        SensorDiv = (int)Math.Ceiling(4.0 * maxHz / ClockFreq);
        FreqConv = (double)((long)ClockFreq * SensorDiv) / (1 << 28);
        if (_calibration is not null)
        {
            var (calFreqs, _) = _calibration.GetCalibration();
            if (calFreqs.Count > 0 && calFreqs.Max() > maxHz)
            {
                var pconfig = _printer.LookupObject<PrinterConfig>("configfile");
                pconfig.RuntimeWarning($"ldc1612 {Name}: Should set 'max_sensor_hz' to at least {PyFmt.D((long)Math.Ceiling(calFreqs.Max()))}");
            }
        }
        if (config.GetOrNull("intb_pin") is not null)
        {
            var ppins = _printer.LookupObject<PrinterPins>("pins");
            var pinParams = ppins.LookupPin(config.Get("intb_pin"));
            if (pinParams.Chip != _mcu)
                throw config.Error("ldc1612 intb_pin must be on same mcu");
            _mcu.AddConfigCmd($"config_ldc1612_with_intb oid={Oid} i2c_oid={_i2c.Oid} intb_pin={pinParams.Pin}");
        }
        else
        {
            _mcu.AddConfigCmd($"config_ldc1612 oid={Oid} i2c_oid={_i2c.Oid}");
        }
        _mcu.AddConfigCmd($"query_ldc1612 oid={Oid} rest_ticks=0", onRestart: true);
        _mcu.RegisterConfigCallback(BuildConfig);
        double chipSmooth = DataRate * BatchUpdates * 2;
        _ffreader = new FixedFreqReader(_mcu, chipSmooth, ">I");
        _batchBulk = new BatchBulkHelper(_printer, ProcessBatch, StartMeasurements, FinishMeasurements, BatchUpdates);
    }

    public string Name { get; }

    public int Oid { get; }

    public int DataRate { get; }

    public int ClockFreq { get; }

    public int SensorDiv { get; }

    /// <summary>Hz per raw count.</summary>
    public double FreqConv { get; }

    public void SetupTriggerAnalog(int triggerAnalogOid) =>
        _mcu.AddConfigCmd($"ldc1612_attach_trigger_analog oid={Oid} trigger_analog_oid={triggerAnalogOid}", isInit: true);

    private void BuildConfig()
    {
        var cmdqueue = _i2c.GetCommandQueue();
        _queryLdc1612Cmd = new McuObjCommand(_mcu, "query_ldc1612 oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_status_ldc1612 oid=%c", Oid, cmdqueue);
        var errors = _mcu.Serial.MsgParser.Enumerations.GetValueOrDefault("ldc1612_error:");
        _sensorErrors = errors is null ? new() : errors.ToDictionary(kv => kv.Value, kv => kv.Key);
    }

    public Mcu.Mcu GetMcu() => _i2c.GetMcu();

    public double GetSamplesPerSecond() => DataRate;

    public int ReadReg(int reg)
    {
        if (_mcu.IsFileOutput)
            return 0;
        var p = _i2c.I2cRead([(byte)reg], 2);
        var response = p.GetBytes("response");
        return (response[0] << 8) | response[1];
    }

    public void SetReg(int reg, int val, ulong minclock = 0) =>
        _i2c.I2cWrite([(byte)reg, (byte)((val >> 8) & 0xff), (byte)(val & 0xff)], minclock);

    /// <summary>Adds a batch client: rows (time, frequency, z); returning false ends it.</summary>
    public void AddClient(Func<BulkBatch, bool> cb) => _batchBulk.AddClient(cb);

    public string LookupSensorError(long error) => _sensorErrors.GetValueOrDefault(error, "Unknown ldc1612 error");

    public double ConvertRawToFrequency(double rawValue) => rawValue * FreqConv;

    public long ConvertFrequencyToRaw(double freq) => (long)(freq / FreqConv + 0.5);

    // Raw readings to (time, frequency, z placeholder) rows; error codes are counted and dropped
    private void ConvertSamples(List<double[]> samples)
    {
        double freqConv = FreqConv;
        int count = 0;
        var errors = new Dictionary<string, int>();
        void LogOnce(string msg) => errors[msg] = errors.GetValueOrDefault(msg) + 1;
        foreach (var sample in samples.ToList())
        {
            double ptime = sample[0];
            long val = (long)sample[1];
            long mv = val & 0x0fffffff;
            if (val > 0x03ffffff || val == 0x0)
            {
                _lastErrorCount++;
                if ((val >> 16 & 0xffff) == 0xffff)
                {
                    // Error encoded by the MCU code
                    LogOnce(LookupSensorError(val & 0xffff));
                    continue;
                }
                long errorBits = (val >> 28) & 0x0f;
                if ((errorBits & 0x8) != 0 || mv == 0)
                    LogOnce("Frequency under valid range");
                if ((errorBits & 0x4) != 0 || mv > 0x3ffffff)
                    LogOnce($"Frequency over valid {((errorBits & 0x4) != 0 ? "hard" : "soft")} range");
                if ((errorBits & 0x2) != 0)
                    LogOnce("Conversion Watchdog timeout");
                if ((errorBits & 0x1) != 0)
                    LogOnce("Amplitude Low/High warning");
            }
            samples[count] = [PyFmt.Round(ptime, 6), PyFmt.Round(freqConv * mv, 3), 999.9];
            count++;
        }
        samples.RemoveRange(count, samples.Count - count);
        foreach (var (msg, n) in errors)
            _printer.Log?.Invoke($"{Name}: {msg} ({n})");
    }

    private void StartMeasurements()
    {
        // A wrong device id means wiring problems (or noise read as data)
        int manufId = ReadReg(RegManufacturerId);
        int devId = ReadReg(RegDeviceId);
        if ((manufId != Ldc1612ManufId || devId != Ldc1612DevId) && !_mcu.IsFileOutput)
            throw new CommandError($"Invalid ldc1612 id (got {manufId:x},{devId:x} vs {Ldc1612ManufId:x},{Ldc1612DevId:x}).\nThis is generally indicative of connection problems\n(e.g. faulty wiring) or a faulty ldc1612 chip.");
        // Configure the chip for the query rate
        double rcount0 = ClockFreq / (16.0 * DataRate);
        SetReg(RegRcount0, (int)(rcount0 + 0.5));
        SetReg(RegOffset0, 0);
        SetReg(RegSettlecount0, (int)(SettleTime * ClockFreq / 16.0 + .5));
        SetReg(RegClockDividers0, (SensorDiv << 12) | 1);
        SetReg(RegErrorConfig, (0x1f << 11) | 1);
        SetReg(RegMuxConfig, 0x0208 | Deglitch);
        SetReg(RegConfig, 0x001 | (1 << 12) | (1 << 10) | (1 << 9));
        SetReg(RegDriveCurrent0, _dccal.GetDriveCurrent() << 11);
        // Start bulk reading
        long restTicks = _mcu.SecondsToClock(0.5 / DataRate);
        _queryLdc1612Cmd!.Send([(long)Oid, restTicks]);
        _printer.Log?.Invoke($"LDC1612 starting '{Name}' measurements");
        _ffreader.NoteStart();
        _lastErrorCount = 0;
    }

    private void FinishMeasurements()
    {
        _queryLdc1612Cmd!.SendWaitAck([(long)Oid, 0L]);
        _ffreader.NoteEnd();
        _printer.Log?.Invoke($"LDC1612 finished '{Name}' measurements");
    }

    private BulkBatch? ProcessBatch(double eventtime)
    {
        var samples = _ffreader.PullSamples();
        ConvertSamples(samples);
        if (samples.Count == 0)
            return null;
        _calibration?.ApplyCalibration(samples);
        return new BulkBatch(samples, _lastErrorCount, _ffreader.GetLastOverflows());
    }
}
