using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>TMC5160 current via GLOBALSCALER and IHOLD_IRUN (upstream TMC5160CurrentHelper).</summary>
public sealed class Tmc5160CurrentHelper : ITmcCurrentHelper
{
    public const double Vref = 0.325;
    public const double MaxCurrent = 10.000;
    private readonly IMcuTmc _mcuTmc;
    private readonly TmcFieldHelper _fields;
    private readonly double _senseResistor;
    private double _reqHoldCurrent;

    public Tmc5160CurrentHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        _mcuTmc = mcuTmc;
        _fields = mcuTmc.GetFields();
        double runCurrent = config.GetFloat("run_current", above: 0.0, maxval: MaxCurrent);
        double holdCurrent = config.GetFloat("hold_current", MaxCurrent, above: 0.0, maxval: MaxCurrent);
        _reqHoldCurrent = holdCurrent;
        _senseResistor = config.GetFloat("sense_resistor", 0.075, above: 0.0);
        var (gscaler, irun, ihold) = CalcCurrent(runCurrent, holdCurrent);
        _fields.SetField("globalscaler", gscaler);
        _fields.SetField("ihold", ihold);
        _fields.SetField("irun", irun);
    }

    private long CalcGlobalscaler(double current)
    {
        long globalscaler = (long)((current * 256.0 * Math.Sqrt(2.0) * _senseResistor / Vref) + .5);
        globalscaler = Math.Max(32, globalscaler);
        if (globalscaler >= 256)
            globalscaler = 0;
        return globalscaler;
    }

    private long CalcCurrentBits(double current, long globalscaler)
    {
        if (globalscaler == 0)
            globalscaler = 256;
        long cs = (long)((current * 256.0 * 32.0 * Math.Sqrt(2.0) * _senseResistor) / (globalscaler * Vref) - 1.0 + .5);
        return Math.Max(0, Math.Min(31, cs));
    }

    private (long, long, long) CalcCurrent(double runCurrent, double holdCurrent)
    {
        long gscaler = CalcGlobalscaler(runCurrent);
        long irun = CalcCurrentBits(runCurrent, gscaler);
        long ihold = CalcCurrentBits(Math.Min(holdCurrent, runCurrent), gscaler);
        return (gscaler, irun, ihold);
    }

    private double CalcCurrentFromField(string fieldName)
    {
        long globalscaler = _fields.GetField("globalscaler");
        if (globalscaler == 0)
            globalscaler = 256;
        long bits = _fields.GetField(fieldName);
        return globalscaler * (bits + 1) * Vref / (256.0 * 32.0 * Math.Sqrt(2.0) * _senseResistor);
    }

    public (double RunCurrent, double? HoldCurrent, double ReqHoldCurrent, double MaxCurrent) GetCurrent() =>
        (CalcCurrentFromField("irun"), CalcCurrentFromField("ihold"), _reqHoldCurrent, MaxCurrent);

    public void SetCurrent(double runCurrent, double holdCurrent, double printTime)
    {
        _reqHoldCurrent = holdCurrent;
        var (gscaler, irun, ihold) = CalcCurrent(runCurrent, holdCurrent);
        long val = _fields.SetField("globalscaler", gscaler);
        _mcuTmc.SetRegister("GLOBALSCALER", val, printTime);
        _fields.SetField("ihold", ihold);
        val = _fields.SetField("irun", irun);
        _mcuTmc.SetRegister("IHOLD_IRUN", val, printTime);
    }
}

/// <summary>[tmc5160 STEPPER] (upstream tmc5160.TMC5160).</summary>
public sealed class TMC5160 : IStatusProvider, ITmcDriver
{
    private readonly TmcCommandHelper _cmdhelper;

    public TMC5160(ConfigWrapper config)
    {
        Fields = new TmcFieldHelper(TmcRegisterData.TMC5160Fields, TmcRegisterData.TMC5160SignedFields,
            TmcFormatters.For(TmcRegisterData.TMC5160Formatters));
        McuTmc = new McuTmcSpi(config, TmcRegisterData.TMC5160Registers, Fields, TmcRegisterData.TMC5160Frequency);
        _ = new TmcVirtualPinHelper(config, McuTmc);
        var currentHelper = new Tmc5160CurrentHelper(config, McuTmc);
        _cmdhelper = new TmcCommandHelper(config, McuTmc, currentHelper);
        _cmdhelper.SetupRegisterDump(TmcRegisterData.TMC5160ReadRegisters);
        TmcHelpers.WaveTableHelper(config, McuTmc);
        TmcHelpers.StealthchopHelper(config, McuTmc);
        TmcHelpers.VcoolthrsHelper(config, McuTmc);
        TmcHelpers.VhighHelper(config, McuTmc);
        var f = Fields;
        f.SetConfigField(config, "multistep_filt", true);
        f.SetConfigField(config, "toff", 3);
        f.SetConfigField(config, "hstrt", 5);
        f.SetConfigField(config, "hend", 2);
        f.SetConfigField(config, "fd3", 0);
        f.SetConfigField(config, "disfdcc", 0);
        f.SetConfigField(config, "chm", 0);
        f.SetConfigField(config, "tbl", 2);
        f.SetConfigField(config, "vhighfs", 0);
        f.SetConfigField(config, "vhighchm", 0);
        f.SetConfigField(config, "tpfd", 4);
        f.SetConfigField(config, "diss2g", 0);
        f.SetConfigField(config, "diss2vs", 0);
        f.SetConfigField(config, "semin", 0);
        f.SetConfigField(config, "seup", 0);
        f.SetConfigField(config, "semax", 0);
        f.SetConfigField(config, "sedn", 0);
        f.SetConfigField(config, "seimin", 0);
        f.SetConfigField(config, "sgt", 0);
        f.SetConfigField(config, "sfilt", 0);
        f.SetConfigField(config, "drvstrength", 0);
        f.SetConfigField(config, "bbmclks", 4);
        f.SetConfigField(config, "bbmtime", 0);
        f.SetConfigField(config, "filt_isense", 0);
        f.SetConfigField(config, "iholddelay", 6);
        f.SetConfigField(config, "pwm_ofs", 30);
        f.SetConfigField(config, "pwm_grad", 0);
        f.SetConfigField(config, "pwm_freq", 0);
        f.SetConfigField(config, "pwm_autoscale", true);
        f.SetConfigField(config, "pwm_autograd", true);
        f.SetConfigField(config, "freewheel", 0);
        f.SetConfigField(config, "pwm_reg", 4);
        f.SetConfigField(config, "pwm_lim", 12);
        f.SetConfigField(config, "tpowerdown", 10);
    }

    public TmcFieldHelper Fields { get; }

    public IMcuTmc McuTmc { get; }

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => _cmdhelper.GetPhaseOffset();

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdhelper.GetStatus(eventtime);
}
