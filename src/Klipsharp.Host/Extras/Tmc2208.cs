using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[tmc2208 STEPPER] (upstream tmc2208.TMC2208).</summary>
public sealed class TMC2208 : IStatusProvider, ITmcDriver
{
    private readonly TmcCommandHelper _cmdhelper;

    public TMC2208(ConfigWrapper config)
    {
        Fields = new TmcFieldHelper(TmcRegisterData.TMC2208Fields, TmcRegisterData.TMC2208SignedFields,
            TmcFormatters.For(TmcRegisterData.TMC2208Formatters));
        McuTmc = new McuTmcUart(config, TmcRegisterData.TMC2208Registers, Fields, 0, TmcRegisterData.TMC2208Frequency);
        Fields.SetField("pdn_disable", true);
        var currentHelper = new TmcCurrentHelper(config, McuTmc);
        _cmdhelper = new TmcCommandHelper(config, McuTmc, currentHelper);
        _cmdhelper.SetupRegisterDump(TmcRegisterData.TMC2208ReadRegisters, ReadTranslate);
        Fields.SetField("mstep_reg_select", true);
        TmcHelpers.StealthchopHelper(config, McuTmc);
        var f = Fields;
        f.SetConfigField(config, "multistep_filt", true);
        f.SetConfigField(config, "toff", 3);
        f.SetConfigField(config, "hstrt", 5);
        f.SetConfigField(config, "hend", 0);
        f.SetConfigField(config, "tbl", 2);
        f.SetConfigField(config, "iholddelay", 8);
        f.SetConfigField(config, "pwm_ofs", 36);
        f.SetConfigField(config, "pwm_grad", 14);
        f.SetConfigField(config, "pwm_freq", 1);
        f.SetConfigField(config, "pwm_autoscale", true);
        f.SetConfigField(config, "pwm_autograd", true);
        f.SetConfigField(config, "freewheel", 0);
        f.SetConfigField(config, "pwm_reg", 8);
        f.SetConfigField(config, "pwm_lim", 12);
        f.SetConfigField(config, "tpowerdown", 20);
    }

    public TmcFieldHelper Fields { get; }

    public IMcuTmc McuTmc { get; }

    private (string, long) ReadTranslate(string regName, long val)
    {
        if (regName == "IOIN")
        {
            long drvType = Fields.GetField("sel_a", val);
            regName = drvType != 0 ? "IOIN@TMC220x" : "IOIN@TMC222x";
        }
        return (regName, val);
    }

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => _cmdhelper.GetPhaseOffset();

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdhelper.GetStatus(eventtime);
}

/// <summary>[tmc2209 STEPPER] (upstream tmc2209.TMC2209).</summary>
public sealed class TMC2209 : IStatusProvider, ITmcDriver
{
    private readonly TmcCommandHelper _cmdhelper;

    public TMC2209(ConfigWrapper config)
    {
        Fields = new TmcFieldHelper(TmcRegisterData.TMC2209Fields, TmcRegisterData.TMC2208SignedFields,
            TmcFormatters.For(TmcRegisterData.TMC2209Formatters));
        McuTmc = new McuTmcUart(config, TmcRegisterData.TMC2209Registers, Fields, 3, TmcRegisterData.TMC2209Frequency);
        Fields.SetField("pdn_disable", true);
        Fields.SetField("senddelay", 2);
        _ = new TmcVirtualPinHelper(config, McuTmc);
        var currentHelper = new TmcCurrentHelper(config, McuTmc);
        _cmdhelper = new TmcCommandHelper(config, McuTmc, currentHelper);
        _cmdhelper.SetupRegisterDump(TmcRegisterData.TMC2209ReadRegisters);
        Fields.SetField("mstep_reg_select", true);
        TmcHelpers.StealthchopHelper(config, McuTmc);
        TmcHelpers.VcoolthrsHelper(config, McuTmc);
        var f = Fields;
        f.SetConfigField(config, "multistep_filt", true);
        f.SetConfigField(config, "toff", 3);
        f.SetConfigField(config, "hstrt", 5);
        f.SetConfigField(config, "hend", 0);
        f.SetConfigField(config, "tbl", 2);
        f.SetConfigField(config, "semin", 0);
        f.SetConfigField(config, "seup", 0);
        f.SetConfigField(config, "semax", 0);
        f.SetConfigField(config, "sedn", 0);
        f.SetConfigField(config, "seimin", 0);
        f.SetConfigField(config, "iholddelay", 8);
        f.SetConfigField(config, "pwm_ofs", 36);
        f.SetConfigField(config, "pwm_grad", 14);
        f.SetConfigField(config, "pwm_freq", 1);
        f.SetConfigField(config, "pwm_autoscale", true);
        f.SetConfigField(config, "pwm_autograd", true);
        f.SetConfigField(config, "freewheel", 0);
        f.SetConfigField(config, "pwm_reg", 8);
        f.SetConfigField(config, "pwm_lim", 12);
        f.SetConfigField(config, "tpowerdown", 20);
        f.SetConfigField(config, "sgthrs", 0);
    }

    public TmcFieldHelper Fields { get; }

    public IMcuTmc McuTmc { get; }

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => _cmdhelper.GetPhaseOffset();

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdhelper.GetStatus(eventtime);
}
