using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>TMC2660 current via cs/vsense, with an optional idle current (upstream TMC2660CurrentHelper).</summary>
public sealed class Tmc2660CurrentHelper : ITmcCurrentHelper
{
    public const double MaxCurrent = 2.400;
    private readonly Printer _printer;
    private readonly IMcuTmc _mcuTmc;
    private readonly TmcFieldHelper _fields;
    private double _current;
    private readonly double _senseResistor;
    private readonly int _idleCurrentPercentage;

    public Tmc2660CurrentHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        _printer = config.GetPrinter();
        _mcuTmc = mcuTmc;
        _fields = mcuTmc.GetFields();
        _current = config.GetFloat("run_current", minval: 0.1, maxval: MaxCurrent);
        _senseResistor = config.GetFloat("sense_resistor");
        var (vsense, cs) = CalcCurrent(_current);
        _fields.SetField("cs", cs);
        _fields.SetField("vsense", vsense);
        _idleCurrentPercentage = config.GetInt("idle_current_percent", 100, minval: 0, maxval: 100);
        if (_idleCurrentPercentage < 100)
        {
            _printer.RegisterEventHandler<double>("idle_timeout:printing", HandlePrinting);
            _printer.RegisterEventHandler<double>("idle_timeout:ready", HandleReady);
        }
    }

    private long CalcCurrentBits(double current, bool vsense)
    {
        double vref = vsense ? 0.165 : 0.310;
        long cs = (long)(32.0 * _senseResistor * current * Math.Sqrt(2.0) / vref + .5) - 1;
        return Math.Max(0, Math.Min(31, cs));
    }

    private double CalcCurrentFromBits(long cs, bool vsense)
    {
        double vref = vsense ? 0.165 : 0.310;
        return (cs + 1) * vref / (32.0 * _senseResistor * Math.Sqrt(2.0));
    }

    private (bool Vsense, long Cs) CalcCurrent(double runCurrent)
    {
        bool vsense = true;
        long irun = CalcCurrentBits(runCurrent, true);
        if (irun == 31)
        {
            double cur = CalcCurrentFromBits(irun, true);
            if (cur < runCurrent)
            {
                long irun2 = CalcCurrentBits(runCurrent, false);
                double cur2 = CalcCurrentFromBits(irun2, false);
                if (Math.Abs(runCurrent - cur2) < Math.Abs(runCurrent - cur))
                {
                    vsense = false;
                    irun = irun2;
                }
            }
        }
        return (vsense, irun);
    }

    private void HandlePrinting(double printTime)
    {
        printTime -= 0.100;
        double current = _current;
        _printer.Reactor.RegisterCallback(_ => UpdateCurrent(current, printTime));
    }

    private void HandleReady(double printTime)
    {
        double current = _current * _idleCurrentPercentage / 100.0;
        _printer.Reactor.RegisterCallback(_ => UpdateCurrent(current, printTime));
    }

    private void UpdateCurrent(double current, double printTime)
    {
        var (vsense, cs) = CalcCurrent(current);
        long val = _fields.SetField("cs", cs);
        _mcuTmc.SetRegister("SGCSCONF", val, printTime);
        if ((vsense ? 1 : 0) != _fields.GetField("vsense"))
        {
            val = _fields.SetField("vsense", vsense);
            _mcuTmc.SetRegister("DRVCONF", val, printTime);
        }
    }

    public (double RunCurrent, double? HoldCurrent, double ReqHoldCurrent, double MaxCurrent) GetCurrent() =>
        (_current, null, double.NaN, MaxCurrent);

    public void SetCurrent(double runCurrent, double holdCurrent, double printTime)
    {
        _current = runCurrent;
        UpdateCurrent(runCurrent, printTime);
    }
}

/// <summary>Register access to a TMC2660 over SPI (upstream MCU_TMC2660_SPI).</summary>
public sealed class McuTmc2660Spi : IMcuTmc
{
    private readonly Printer _printer;
    private readonly McuSpi _spi;
    private readonly TmcFieldHelper _fields;
    private readonly ReactorMutex _mutex;

    public McuTmc2660Spi(ConfigWrapper config, IReadOnlyDictionary<string, int> nameToReg, TmcFieldHelper fields)
    {
        _printer = config.GetPrinter();
        _mutex = _printer.Reactor.Mutex();
        _spi = McuSpi.FromConfig(config, 0, defaultSpeed: 4000000);
        NameToReg = nameToReg;
        _fields = fields;
    }

    public IReadOnlyDictionary<string, int> NameToReg { get; }

    public TmcFieldHelper GetFields() => _fields;

    public (long? Data, double ReceiveTime) GetRegisterRaw(string regName)
    {
        int newRdsel = Array.IndexOf(TmcRegisterData.TMC2660ReadRegisters, regName);
        if (newRdsel < 0)
            throw new KeyNotFoundException(regName);
        int reg = NameToReg["DRVCONF"];
        if (_printer.IsFileOutput)
            return (0, 0.0);
        using var held = _mutex.Lock();
        long oldRdsel = _fields.GetField("rdsel");
        long val = _fields.SetField("rdsel", newRdsel);
        byte[] msg = [(byte)(((val >> 16) | (long)reg) & 0xff), (byte)((val >> 8) & 0xff), (byte)(val & 0xff)];
        if (newRdsel != oldRdsel)
            // RDSEL must be set first
            _spi.SpiSend(msg);
        var resp = _spi.SpiTransfer(msg);
        var pr = resp.GetBytes("response");
        return (((long)pr[0] << 16) | ((long)pr[1] << 8) | pr[2], resp.ReceiveTime);
    }

    public long GetRegister(string regName) => GetRegisterRaw(regName).Data ?? 0;

    public void SetRegister(string regName, long val, double? printTime = null)
    {
        ulong minclock = 0;
        if (printTime is double pt)
            minclock = (ulong)_spi.GetMcu().PrintTimeToClock(pt);
        int reg = NameToReg[regName];
        byte[] msg = [(byte)(((val >> 16) | (long)reg) & 0xff), (byte)((val >> 8) & 0xff), (byte)(val & 0xff)];
        using var held = _mutex.Lock();
        _spi.SpiSend(msg, minclock);
    }

    public double? GetTmcFrequency() => null;

    public Mcu.Mcu GetMcu() => _spi.GetMcu();
}

/// <summary>[tmc2660 STEPPER] (upstream tmc2660.TMC2660).</summary>
public sealed class TMC2660 : IStatusProvider, ITmcDriver
{
    private readonly TmcCommandHelper _cmdhelper;

    public TMC2660(ConfigWrapper config)
    {
        Fields = new TmcFieldHelper(TmcRegisterData.TMC2660Fields, TmcRegisterData.TMC2660SignedFields,
            TmcFormatters.For(TmcRegisterData.TMC2660Formatters));
        Fields.SetField("sdoff", 0);
        McuTmc = new McuTmc2660Spi(config, TmcRegisterData.TMC2660Registers, Fields);
        var currentHelper = new Tmc2660CurrentHelper(config, McuTmc);
        _cmdhelper = new TmcCommandHelper(config, McuTmc, currentHelper);
        _cmdhelper.SetupRegisterDump(TmcRegisterData.TMC2660ReadRegisters);
        var f = Fields;
        f.SetConfigField(config, "tbl", 2);
        f.SetConfigField(config, "rndtf", 0);
        f.SetConfigField(config, "hdec", 0);
        f.SetConfigField(config, "chm", 0);
        f.SetConfigField(config, "hend", 3);
        f.SetConfigField(config, "hstrt", 3);
        f.SetConfigField(config, "toff", 4);
        if (f.GetField("chm") == 0 && f.GetField("hstrt") + f.GetField("hend") > 15)
            throw config.Error("driver_HEND + driver_HSTRT must be <= 15");
        f.SetConfigField(config, "seimin", 0);
        f.SetConfigField(config, "sedn", 0);
        f.SetConfigField(config, "semax", 0);
        f.SetConfigField(config, "seup", 0);
        f.SetConfigField(config, "semin", 0);
        f.SetConfigField(config, "sfilt", 0);
        f.SetConfigField(config, "sgt", 0);
        f.SetConfigField(config, "slph", 0);
        f.SetConfigField(config, "slpl", 0);
        f.SetConfigField(config, "diss2g", 0);
        f.SetConfigField(config, "ts2g", 3);
    }

    public TmcFieldHelper Fields { get; }

    public IMcuTmc McuTmc { get; }

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => _cmdhelper.GetPhaseOffset();

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdhelper.GetStatus(eventtime);
}
