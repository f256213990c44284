using Klipsharp.Protocol;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Select pins of an analog mux in front of shared TMC UART lines (upstream tmc_uart.MCU_analog_mux).</summary>
public sealed class McuAnalogMux
{
    private readonly Mcu.Mcu _mcu;
    private readonly CommandQueue _cmdQueue;
    private readonly List<int> _oids;
    private readonly List<string> _pins;
    private int[] _pinValues;
    private McuCommand? _updatePinCmd;

    public McuAnalogMux(Mcu.Mcu mcu, CommandQueue cmdQueue, IReadOnlyList<string> selectPinsDesc)
    {
        _mcu = mcu;
        _cmdQueue = cmdQueue;
        var ppins = mcu.Printer.LookupObject<PrinterPins>("pins");
        var selectPinParams = selectPinsDesc.Select(spd => ppins.LookupPin(spd, canInvert: true)).ToList();
        _oids = selectPinParams.Select(_ => _mcu.CreateOid()).ToList();
        _pins = selectPinParams.Select(pp => pp.Pin).ToList();
        _pinValues = selectPinParams.Select(_ => -1).ToArray();
        for (int i = 0; i < _oids.Count; i++)
            _mcu.AddConfigCmd($"config_digital_out oid={_oids[i]} pin={_pins[i]} value=0 default_value=0 max_duration=0");
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    private void BuildConfig() => _updatePinCmd = _mcu.LookupCommand("update_digital_out oid=%c value=%c", _cmdQueue);

    public int[] GetInstanceId(IReadOnlyList<string> selectPinsDesc)
    {
        var ppins = _mcu.Printer.LookupObject<PrinterPins>("pins");
        var selectPinParams = selectPinsDesc.Select(spd => ppins.ParsePin(spd, canInvert: true)).ToList();
        foreach (var pp in selectPinParams)
            if (pp.Chip != _mcu)
                throw new ConfigError("TMC mux pins must be on the same mcu");
        if (!selectPinParams.Select(pp => pp.Pin).SequenceEqual(_pins))
            throw new ConfigError("All TMC mux instances must use identical pins");
        return selectPinParams.Select(pp => pp.Invert == 0 ? 1 : 0).ToArray();
    }

    public void Activate(int[] instanceId)
    {
        for (int i = 0; i < _oids.Count; i++)
            if (_pinValues[i] != instanceId[i])
                _updatePinCmd!.Send([_oids[i], instanceId[i]]);
        _pinValues = instanceId;
    }
}

/// <summary>The per-MCU TMC UART mutexes (upstream PrinterTMCUartMutexes, printer object "tmc_uart").</summary>
public sealed class PrinterTmcUartMutexes
{
    public Dictionary<Mcu.Mcu, ReactorMutex> McuToMutex { get; } = new();
}

/// <summary>A bit-banged TMC UART on an MCU, possibly shared by several drivers (upstream MCU_TMC_uart_bitbang).</summary>
public sealed class McuTmcUartBitbang
{
    public const int TmcBaudRate = 40000;
    public const int TmcBaudRateAvr = 9000;

    private readonly Mcu.Mcu _mcu;
    private readonly int _pullup;
    private readonly string _rxPin, _txPin;
    private readonly int _oid;
    private readonly CommandQueue _cmdQueue;
    private readonly McuAnalogMux? _analogMux;
    private readonly HashSet<string> _instances = new();
    private Protocol.MessageFormat? _tmcuartSendFmt;

    public McuTmcUartBitbang(PinParams rxPinParams, PinParams txPinParams, IReadOnlyList<string>? selectPinsDesc)
    {
        _mcu = OutputPins.ChipMcu(rxPinParams);
        Mutex = LookupMutex(_mcu);
        _pullup = rxPinParams.Pullup;
        _rxPin = rxPinParams.Pin;
        _txPin = txPinParams.Pin;
        _oid = _mcu.CreateOid();
        _cmdQueue = _mcu.AllocCommandQueue();
        if (selectPinsDesc is not null)
            _analogMux = new McuAnalogMux(_mcu, _cmdQueue, selectPinsDesc);
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    /// <summary>Held for each register access: one TMC UART transfer at a time on an MCU (upstream lookup_tmc_uart_mutex).</summary>
    public ReactorMutex Mutex { get; }

    // The MCU's shared mutex, kept in the "tmc_uart" printer object
    private static ReactorMutex LookupMutex(Mcu.Mcu mcu)
    {
        var printer = mcu.Printer;
        var mutexes = printer.TryLookupObject<PrinterTmcUartMutexes>("tmc_uart");
        if (mutexes is null)
        {
            mutexes = new PrinterTmcUartMutexes();
            printer.AddObject("tmc_uart", mutexes);
        }
        if (!mutexes.McuToMutex.TryGetValue(mcu, out var mutex))
            mutexes.McuToMutex[mcu] = mutex = printer.Reactor.Mutex();
        return mutex;
    }

    private void BuildConfig()
    {
        int baud = TmcBaudRate;
        string mcuType = _mcu.GetConstants().TryGetValue("MCU", out var m) ? m?.ToString() ?? "" : "";
        if (mcuType.StartsWith("atmega", StringComparison.Ordinal) || mcuType.StartsWith("at90usb", StringComparison.Ordinal))
            baud = TmcBaudRateAvr;
        long bitTicks = _mcu.SecondsToClock(1.0 / baud);
        _mcu.AddConfigCmd($"config_tmcuart oid={_oid} rx_pin={_rxPin} pull_up={_pullup} tx_pin={_txPin} bit_time={bitTicks}");
        _tmcuartSendFmt = _mcu.Serial.MsgParser.LookupCommand("tmcuart_send oid=%c write=%*s read=%c");
    }

    public int[]? RegisterInstance(PinParams rxPinParams, PinParams txPinParams, IReadOnlyList<string>? selectPinsDesc, int addr)
    {
        if (rxPinParams.Pin != _rxPin || txPinParams.Pin != _txPin || (selectPinsDesc is null) != (_analogMux is null))
            throw new ConfigError("Shared TMC uarts must use the same pins");
        int[]? instanceId = null;
        if (_analogMux is not null)
            instanceId = _analogMux.GetInstanceId(selectPinsDesc!);
        string key = (instanceId is null ? "None" : string.Join(",", instanceId)) + "/" + addr;
        if (!_instances.Add(key))
            throw new ConfigError("Shared TMC uarts need unique address or select_pins polarity");
        return instanceId;
    }

    private static byte[] EncodeRead(byte sync, byte addr, byte reg) => TmcUartFrame.EncodeDatagram([sync, addr, reg]);

    private static byte[] EncodeWrite(byte sync, byte addr, byte reg, long val) =>
        TmcUartFrame.EncodeDatagram([sync, addr, reg, (byte)(val >> 24), (byte)(val >> 16), (byte)(val >> 8), (byte)val]);

    private static long? DecodeRead(byte reg, byte[] data)
    {
        if (data.Length != 10)
            return null;
        UInt128 mval = 0;
        for (int i = 0; i < data.Length; i++)
            mval |= (UInt128)data[i] << (8 * i);
        long val = (long)((((mval >> 31) & 0xff) << 24) | (((mval >> 41) & 0xff) << 16)
                          | (((mval >> 51) & 0xff) << 8) | ((mval >> 61) & 0xff));
        // Verify start/stop bits and crc
        if (!data.AsSpan().SequenceEqual(EncodeWrite(0x05, 0xff, reg, val)))
            return null;
        return val;
    }

    private McuResponse Send(byte[] msg, int readLen, ulong minclock) =>
        _mcu.SendQuery([_tmcuartSendFmt!.Encode([(long)_oid, msg, (long)readLen])], "tmcuart_response", _oid,
                       minclock, minclock, _cmdQueue, true, isAsync: true);

    /// <summary>Reads a register (upstream reg_read): the value, or null when the reply did not decode.</summary>
    public (long? Data, double ReceiveTime) RegRead(int[]? instanceId, int addr, int reg)
    {
        if (_analogMux is not null)
            _analogMux.Activate(instanceId!);
        var msg = EncodeRead(0xf5, (byte)addr, (byte)reg);
        var resp = Send(msg, 10, 0);
        return (DecodeRead((byte)reg, resp.GetBytes("read")), resp.ReceiveTime);
    }

    /// <summary>Writes a register (upstream reg_write), no earlier than <paramref name="printTime"/>.</summary>
    public void RegWrite(int[]? instanceId, int addr, int reg, long val, double? printTime = null)
    {
        ulong minclock = 0;
        if (printTime is double pt)
            minclock = (ulong)_mcu.PrintTimeToClock(pt);
        if (_analogMux is not null)
            _analogMux.Activate(instanceId!);
        var msg = EncodeWrite(0xf5, (byte)addr, (byte)(reg | 0x80), val);
        Send(msg, 0, minclock);
    }

    public Mcu.Mcu GetMcu() => _mcu;

    /// <summary>Looks up (or creates) the UART for a driver section (upstream lookup_tmc_uart_bitbang).</summary>
    public static (int[]? InstanceId, int Addr, McuTmcUartBitbang Uart) Lookup(ConfigWrapper config, int maxAddr)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        var rxPinParams = ppins.LookupPin(config.Get("uart_pin"), canPullup: true, shareType: "tmc_uart_rx");
        string? txPinDesc = config.GetOrNull("tx_pin");
        var txPinParams = txPinDesc is null ? rxPinParams : ppins.LookupPin(txPinDesc, shareType: "tmc_uart_tx");
        if (rxPinParams.Chip != txPinParams.Chip)
            throw new PinError("TMC uart rx and tx pins must be on the same mcu");
        var selectPinsDesc = config.GetListOrNull("select_pins");
        int addr = config.GetInt("uart_address", 0, minval: 0, maxval: maxAddr);
        var mcuUart = PinClassStore.Get<McuTmcUartBitbang>(rxPinParams);
        if (mcuUart is null)
        {
            mcuUart = new McuTmcUartBitbang(rxPinParams, txPinParams, selectPinsDesc);
            PinClassStore.Set(rxPinParams, mcuUart);
        }
        var instanceId = mcuUart.RegisterInstance(rxPinParams, txPinParams, selectPinsDesc, addr);
        return (instanceId, addr, mcuUart);
    }
}

/// <summary>Register access to a UART connected TMC driver (upstream tmc_uart.MCU_TMC_uart); batch mode neither reads nor writes.</summary>
public sealed class McuTmcUart : IMcuTmc
{
    private readonly Printer _printer;
    private readonly string _name;
    private readonly TmcFieldHelper _fields;
    private readonly McuTmcUartBitbang _mcuUart;
    private readonly int[]? _instanceId;
    private readonly int _addr;
    private readonly double _tmcFrequency;
    private long? _ifcnt;

    public McuTmcUart(ConfigWrapper config, IReadOnlyDictionary<string, int> nameToReg, TmcFieldHelper fields, int maxAddr, double tmcFrequency)
    {
        _printer = config.GetPrinter();
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        NameToReg = nameToReg;
        _fields = fields;
        (_instanceId, _addr, _mcuUart) = McuTmcUartBitbang.Lookup(config, maxAddr);
        _tmcFrequency = tmcFrequency;
    }

    public IReadOnlyDictionary<string, int> NameToReg { get; }

    public TmcFieldHelper GetFields() => _fields;

    public (long? Data, double ReceiveTime) GetRegisterRaw(string regName)
    {
        if (_printer.IsFileOutput)
            return (0, 0.0);
        using var held = _mcuUart.Mutex.Lock();
        return DoGetRegister(regName);
    }

    private (long? Data, double ReceiveTime) DoGetRegister(string regName)
    {
        int reg = NameToReg[regName];
        for (int retry = 0; retry < 5; retry++)
        {
            var val = _mcuUart.RegRead(_instanceId, _addr, reg);
            if (val.Data is not null)
                return val;
        }
        throw new CommandError($"Unable to read tmc uart '{_name}' register {regName}");
    }

    public long GetRegister(string regName) => GetRegisterRaw(regName).Data ?? 0;

    public void SetRegister(string regName, long val, double? printTime = null)
    {
        int reg = NameToReg[regName];
        if (_printer.IsFileOutput)
            return;
        using var held = _mcuUart.Mutex.Lock();
        for (int retry = 0; retry < 5; retry++)
        {
            long? ifcnt = _ifcnt;
            if (ifcnt is null)
                _ifcnt = ifcnt = DoGetRegister("IFCNT").Data;
            _mcuUart.RegWrite(_instanceId, _addr, reg, val, printTime);
            _ifcnt = DoGetRegister("IFCNT").Data;
            if (_ifcnt == ((ifcnt + 1) & 0xff))
                return;
        }
        throw new CommandError($"Unable to write tmc uart '{_name}' register {regName}");
    }

    public double? GetTmcFrequency() => _tmcFrequency;

    public Mcu.Mcu GetMcu() => _mcuUart.GetMcu();
}
