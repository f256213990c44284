using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>Run/hold current via vsense and IHOLD_IRUN (upstream tmc2130.TMCCurrentHelper, also used by tmc2208/2209).</summary>
public sealed class TmcCurrentHelper : ITmcCurrentHelper
{
    public const double MaxCurrent = 2.000;
    private readonly IMcuTmc _mcuTmc;
    private readonly TmcFieldHelper _fields;
    private readonly double _senseResistor;
    private double _reqHoldCurrent;

    public TmcCurrentHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        _mcuTmc = mcuTmc;
        _fields = mcuTmc.GetFields();
        double runCurrent = config.GetFloat("run_current", above: 0.0, maxval: MaxCurrent);
        double holdCurrent = config.GetFloat("hold_current", MaxCurrent, above: 0.0, maxval: MaxCurrent);
        _reqHoldCurrent = holdCurrent;
        _senseResistor = config.GetFloat("sense_resistor", 0.110, above: 0.0);
        var (vsense, irun, ihold) = CalcCurrent(runCurrent, holdCurrent);
        _fields.SetField("vsense", vsense);
        _fields.SetField("ihold", ihold);
        _fields.SetField("irun", irun);
    }

    private long CalcCurrentBits(double current, bool vsense)
    {
        double senseResistor = _senseResistor + 0.020;
        double vref = vsense ? 0.18 : 0.32;
        long cs = (long)(32.0 * senseResistor * current * Math.Sqrt(2.0) / vref + .5) - 1;
        return Math.Max(0, Math.Min(31, cs));
    }

    private double CalcCurrentFromBits(long cs, bool vsense)
    {
        double senseResistor = _senseResistor + 0.020;
        double vref = vsense ? 0.18 : 0.32;
        return (cs + 1) * vref / (32.0 * senseResistor * Math.Sqrt(2.0));
    }

    private (bool Vsense, long Irun, long Ihold) CalcCurrent(double runCurrent, double holdCurrent)
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
        long ihold = CalcCurrentBits(Math.Min(holdCurrent, runCurrent), vsense);
        return (vsense, irun, ihold);
    }

    public (double RunCurrent, double? HoldCurrent, double ReqHoldCurrent, double MaxCurrent) GetCurrent()
    {
        long irun = _fields.GetField("irun");
        long ihold = _fields.GetField("ihold");
        bool vsense = _fields.GetField("vsense") != 0;
        return (CalcCurrentFromBits(irun, vsense), CalcCurrentFromBits(ihold, vsense), _reqHoldCurrent, MaxCurrent);
    }

    public void SetCurrent(double runCurrent, double holdCurrent, double printTime)
    {
        _reqHoldCurrent = holdCurrent;
        var (vsense, irun, ihold) = CalcCurrent(runCurrent, holdCurrent);
        if ((vsense ? 1 : 0) != _fields.GetField("vsense"))
        {
            long val = _fields.SetField("vsense", vsense);
            _mcuTmc.SetRegister("CHOPCONF", val, printTime);
        }
        _fields.SetField("ihold", ihold);
        long v = _fields.SetField("irun", irun);
        _mcuTmc.SetRegister("IHOLD_IRUN", v, printTime);
    }
}

/// <summary>An SPI link shared by a chain of TMC drivers (upstream tmc2130.MCU_TMC_SPI_chain).</summary>
public sealed class McuTmcSpiChain
{
    private readonly Printer _printer;

    public McuTmcSpiChain(ConfigWrapper config, int chainLen = 1)
    {
        _printer = config.GetPrinter();
        Mutex = _printer.Reactor.Mutex();
        ChainLen = chainLen;
        string? share = chainLen > 1 ? "tmc_spi_cs" : null;
        Spi = McuSpi.FromConfig(config, 3, defaultSpeed: 4000000, shareType: share);
    }

    public int ChainLen { get; }

    /// <summary>Held for each register access of any driver on the chain.</summary>
    public ReactorMutex Mutex { get; }

    public McuSpi Spi { get; }

    public List<int> TakenChainPositions { get; } = new();

    private byte[] BuildCmd(byte[] data, int chainPos)
    {
        var res = new List<byte>();
        res.AddRange(new byte[(ChainLen - chainPos) * 5]);
        res.AddRange(data);
        res.AddRange(new byte[(chainPos - 1) * 5]);
        return res.ToArray();
    }

    public (long? Data, double ReceiveTime) RegRead(int reg, int chainPos)
    {
        var cmd = BuildCmd([(byte)reg, 0x00, 0x00, 0x00, 0x00], chainPos);
        Spi.SpiSend(cmd);
        if (_printer.IsFileOutput)
            return (0, 0.0);
        var resp = Spi.SpiTransfer(cmd);
        return (ChainValue(resp, chainPos), resp.ReceiveTime);
    }

    // The 32-bit value in this chain position's 5 bytes of an SPI response
    private long ChainValue(Mcu.McuResponse resp, int chainPos)
    {
        var pr = resp.GetBytes("response").AsSpan((ChainLen - chainPos) * 5, 5);
        return ((long)pr[1] << 24) | ((long)pr[2] << 16) | ((long)pr[3] << 8) | pr[4];
    }

    public long RegWrite(int reg, long val, int chainPos, double? printTime = null)
    {
        ulong minclock = 0;
        if (printTime is double pt)
            minclock = (ulong)Spi.GetMcu().PrintTimeToClock(pt);
        byte[] data = [(byte)((reg | 0x80) & 0xff), (byte)((val >> 24) & 0xff), (byte)((val >> 16) & 0xff),
            (byte)((val >> 8) & 0xff), (byte)(val & 0xff)];
        if (_printer.IsFileOutput)
        {
            Spi.SpiSend(BuildCmd(data, chainPos), minclock);
            return val;
        }
        var writeCmd = BuildCmd(data, chainPos);
        var dummyRead = BuildCmd([0x00, 0x00, 0x00, 0x00, 0x00], chainPos);
        return ChainValue(Spi.SpiTransferWithPreface(writeCmd, dummyRead, minclock), chainPos);
    }

    public Mcu.Mcu GetMcu() => Spi.GetMcu();

    /// <summary>Finds or creates the (possibly daisy chained) SPI link for a driver section (upstream lookup_tmc_spi_chain).</summary>
    public static (McuTmcSpiChain Chain, int ChainPos) Lookup(ConfigWrapper config)
    {
        int? chainLen = config.GetIntOrNull("chain_length", minval: 2);
        if (chainLen is null)
            return (new McuTmcSpiChain(config, 1), 1);
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        var csPinParams = ppins.LookupPin(config.Get("cs_pin"), shareType: "tmc_spi_cs");
        var tmcSpi = PinClassStore.Get<McuTmcSpiChain>(csPinParams);
        if (tmcSpi is null)
        {
            tmcSpi = new McuTmcSpiChain(config, chainLen.Value);
            PinClassStore.Set(csPinParams, tmcSpi);
        }
        if (chainLen != tmcSpi.ChainLen)
            throw config.Error("TMC SPI chain must have same length");
        int chainPos = config.GetInt("chain_position", minval: 1, maxval: chainLen.Value);
        if (tmcSpi.TakenChainPositions.Contains(chainPos))
            throw config.Error("TMC SPI chain can not have duplicate position");
        tmcSpi.TakenChainPositions.Add(chainPos);
        return (tmcSpi, chainPos);
    }
}

/// <summary>Register access to an SPI connected TMC driver (upstream tmc2130.MCU_TMC_SPI).</summary>
public sealed class McuTmcSpi : IMcuTmc
{
    private readonly Printer _printer;
    private readonly string _name;
    private readonly McuTmcSpiChain _tmcSpi;
    private readonly int _chainPos;
    private readonly TmcFieldHelper _fields;
    private readonly double _tmcFrequency;

    public McuTmcSpi(ConfigWrapper config, IReadOnlyDictionary<string, int> nameToReg, TmcFieldHelper fields, double tmcFrequency)
    {
        _printer = config.GetPrinter();
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        (_tmcSpi, _chainPos) = McuTmcSpiChain.Lookup(config);
        NameToReg = nameToReg;
        _fields = fields;
        _tmcFrequency = tmcFrequency;
    }

    public IReadOnlyDictionary<string, int> NameToReg { get; }

    public TmcFieldHelper GetFields() => _fields;

    public (long? Data, double ReceiveTime) GetRegisterRaw(string regName)
    {
        int reg = NameToReg[regName];
        using var held = _tmcSpi.Mutex.Lock();
        return _tmcSpi.RegRead(reg, _chainPos);
    }

    public long GetRegister(string regName) => GetRegisterRaw(regName).Data ?? 0;

    public void SetRegister(string regName, long val, double? printTime = null)
    {
        int reg = NameToReg[regName];
        using var held = _tmcSpi.Mutex.Lock();
        for (int retry = 0; retry < 5; retry++)
        {
            long v = _tmcSpi.RegWrite(reg, val, _chainPos, printTime);
            if (v == val)
                return;
        }
        throw new CommandError($"Unable to write tmc spi '{_name}' register {regName}");
    }

    public double? GetTmcFrequency() => _tmcFrequency;

    public Mcu.Mcu GetMcu() => _tmcSpi.GetMcu();
}

/// <summary>[tmc2130 STEPPER] (upstream tmc2130.TMC2130).</summary>
public sealed class TMC2130 : IStatusProvider, ITmcDriver
{
    private readonly TmcCommandHelper _cmdhelper;

    public TMC2130(ConfigWrapper config)
    {
        Fields = new TmcFieldHelper(TmcRegisterData.TMC2130Fields, TmcRegisterData.TMC2130SignedFields,
            TmcFormatters.For(TmcRegisterData.TMC2130Formatters));
        McuTmc = new McuTmcSpi(config, TmcRegisterData.TMC2130Registers, Fields, TmcRegisterData.TMC2130Frequency);
        _ = new TmcVirtualPinHelper(config, McuTmc);
        var currentHelper = new TmcCurrentHelper(config, McuTmc);
        _cmdhelper = new TmcCommandHelper(config, McuTmc, currentHelper);
        _cmdhelper.SetupRegisterDump(TmcRegisterData.TMC2130ReadRegisters);
        TmcHelpers.WaveTableHelper(config, McuTmc);
        TmcHelpers.StealthchopHelper(config, McuTmc);
        TmcHelpers.VcoolthrsHelper(config, McuTmc);
        TmcHelpers.VhighHelper(config, McuTmc);
        var f = Fields;
        f.SetConfigField(config, "toff", 4);
        f.SetConfigField(config, "hstrt", 0);
        f.SetConfigField(config, "hend", 7);
        f.SetConfigField(config, "tbl", 1);
        f.SetConfigField(config, "vhighfs", 0);
        f.SetConfigField(config, "vhighchm", 0);
        f.SetConfigField(config, "semin", 0);
        f.SetConfigField(config, "seup", 0);
        f.SetConfigField(config, "semax", 0);
        f.SetConfigField(config, "sedn", 0);
        f.SetConfigField(config, "seimin", 0);
        f.SetConfigField(config, "sgt", 0);
        f.SetConfigField(config, "sfilt", 0);
        f.SetConfigField(config, "iholddelay", 8);
        f.SetConfigField(config, "pwm_ampl", 128);
        f.SetConfigField(config, "pwm_grad", 4);
        f.SetConfigField(config, "pwm_freq", 1);
        f.SetConfigField(config, "pwm_autoscale", true);
        f.SetConfigField(config, "freewheel", 0);
        f.SetConfigField(config, "tpowerdown", 0);
    }

    public TmcFieldHelper Fields { get; }

    public IMcuTmc McuTmc { get; }

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => _cmdhelper.GetPhaseOffset();

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdhelper.GetStatus(eventtime);
}
