using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>TMC2240 current via current_range, GLOBALSCALER and IHOLD_IRUN (upstream TMC2240CurrentHelper).</summary>
public sealed class Tmc2240CurrentHelper : ITmcCurrentHelper
{
    private static readonly double[] Kifs = [11750.0, 24000.0, 36000.0, 36000.0];
    private readonly IMcuTmc _mcuTmc;
    private readonly TmcFieldHelper _fields;
    private readonly double _rref;
    private double _reqHoldCurrent;

    public Tmc2240CurrentHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        _mcuTmc = mcuTmc;
        _fields = mcuTmc.GetFields();
        _rref = config.GetFloat("rref", 12000.0, minval: 12000.0, maxval: 60000.0);
        double maxCur = GetIfsRms(3);
        double runCurrent = config.GetFloat("run_current", above: 0.0, maxval: maxCur);
        double holdCurrent = config.GetFloat("hold_current", maxCur, above: 0.0, maxval: maxCur);
        _reqHoldCurrent = holdCurrent;
        int currentRange = CalcCurrentRange(runCurrent);
        _fields.SetField("current_range", currentRange);
        var (gscaler, irun, ihold) = CalcCurrent(runCurrent, holdCurrent);
        _fields.SetField("globalscaler", gscaler);
        _fields.SetField("ihold", ihold);
        _fields.SetField("irun", irun);
    }

    private double GetIfsRms(long? currentRange = null)
    {
        long cr = currentRange ?? _fields.GetField("current_range");
        return (Kifs[cr] / _rref) / Math.Sqrt(2.0);
    }

    private int CalcCurrentRange(double current)
    {
        int currentRange = 0;
        for (currentRange = 0; currentRange < 4; currentRange++)
            if (current <= GetIfsRms(currentRange))
                break;
        return Math.Min(currentRange, 3);
    }

    private long CalcGlobalscaler(double current)
    {
        double ifsRms = GetIfsRms();
        long globalscaler = (long)(((current * 256.0) / ifsRms) + .5);
        globalscaler = Math.Max(32, globalscaler);
        if (globalscaler >= 256)
            globalscaler = 0;
        return globalscaler;
    }

    private long CalcCurrentBits(double current, long globalscaler)
    {
        double ifsRms = GetIfsRms();
        if (globalscaler == 0)
            globalscaler = 256;
        long cs = (long)((current * 256.0 * 32.0) / (globalscaler * ifsRms) - 1.0 + .5);
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
        double ifsRms = GetIfsRms();
        long globalscaler = _fields.GetField("globalscaler");
        if (globalscaler == 0)
            globalscaler = 256;
        long bits = _fields.GetField(fieldName);
        return globalscaler * (bits + 1) * ifsRms / (256.0 * 32.0);
    }

    public (double RunCurrent, double? HoldCurrent, double ReqHoldCurrent, double MaxCurrent) GetCurrent() =>
        (CalcCurrentFromField("irun"), CalcCurrentFromField("ihold"), _reqHoldCurrent, GetIfsRms());

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

/// <summary>[tmc2240 STEPPER] over SPI or UART (upstream tmc2240.TMC2240).</summary>
public sealed class TMC2240 : IStatusProvider, ITmcDriver
{
    private readonly TmcCommandHelper _cmdhelper;

    public TMC2240(ConfigWrapper config)
    {
        Fields = new TmcFieldHelper(TmcRegisterData.TMC2240Fields, TmcRegisterData.TMC2240SignedFields,
            TmcFormatters.For(TmcRegisterData.TMC2240Formatters));
        if (config.GetOrNull("uart_pin") is not null)
            McuTmc = new McuTmcUart(config, TmcRegisterData.TMC2240Registers, Fields, 7, TmcRegisterData.TMC2240Frequency);
        else
            McuTmc = new McuTmcSpi(config, TmcRegisterData.TMC2240Registers, Fields, TmcRegisterData.TMC2240Frequency);
        _ = new TmcVirtualPinHelper(config, McuTmc);
        var currentHelper = new Tmc2240CurrentHelper(config, McuTmc);
        _cmdhelper = new TmcCommandHelper(config, McuTmc, currentHelper);
        _cmdhelper.SetupRegisterDump(TmcRegisterData.TMC2240ReadRegisters);
        TmcHelpers.WaveTableHelper(config, McuTmc);
        Fields.SetConfigField(config, "offset_sin90", 0);
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
        f.SetConfigField(config, "iholddelay", 6);
        f.SetConfigField(config, "irundelay", 4);
        f.SetConfigField(config, "pwm_ofs", 29);
        f.SetConfigField(config, "pwm_grad", 0);
        f.SetConfigField(config, "pwm_freq", 0);
        f.SetConfigField(config, "pwm_autoscale", true);
        f.SetConfigField(config, "pwm_autograd", true);
        f.SetConfigField(config, "freewheel", 0);
        f.SetConfigField(config, "pwm_reg", 4);
        f.SetConfigField(config, "pwm_lim", 12);
        f.SetConfigField(config, "tpowerdown", 10);
        f.SetConfigField(config, "sg4_thrs", 0);
        f.SetConfigField(config, "sg4_angle_offset", 1);
        f.SetConfigField(config, "slope_control", 0);
    }

    public TmcFieldHelper Fields { get; }

    public IMcuTmc McuTmc { get; }

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => _cmdhelper.GetPhaseOffset();

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdhelper.GetStatus(eventtime);
}
