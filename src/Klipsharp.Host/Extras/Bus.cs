using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>SPI and I2C bus helpers (upstream bus.py).</summary>
public static class Bus
{
    /// <summary>Validates a bus name against the MCU's enumerations and reserves its pins (upstream resolve_bus_name).</summary>
    public static string ResolveBusName(Mcu.Mcu mcu, string param, string? bus)
    {
        var enumerations = mcu.Serial.MsgParser.Enumerations;
        if (!enumerations.TryGetValue(param, out var enums) && !enumerations.TryGetValue("bus", out enums))
            return bus ?? "0";
        var printer = mcu.Printer;
        var ppins = printer.LookupObject<PrinterPins>("pins");
        string mcuName = mcu.Name;
        if (bus is null)
        {
            var zero = enums.FirstOrDefault(kv => kv.Value == 0);
            if (zero.Key is null)
                throw new PinError($"Must specify {param} on mcu '{mcuName}'");
            bus = zero.Key;
        }
        if (!enums.ContainsKey(bus))
            throw new PinError($"Unknown {param} '{bus}'");
        var constants = mcu.GetConstants();
        var pinResolver = ppins.GetPinResolver(mcuName);
        if (constants.TryGetValue($"BUS_PINS_{bus}", out var reservePins) && reservePins is not null)
            foreach (var pin in reservePins.ToString()!.Split(','))
                pinResolver.ReservePin(pin, bus);
        return bus;
    }

    internal static string Hex(IEnumerable<byte> data) => string.Concat(data.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}

/// <summary>A device on an MCU SPI bus, hardware or software (upstream MCU_SPI).</summary>
public sealed class McuSpi
{
    private readonly Mcu.Mcu _mcu;
    private readonly string? _bus;
    private readonly int _speed;
    private string _configFmt;
    private readonly string? _configFmtTicks;
    private readonly CommandQueue _cmdQueue;
    private McuRawCommand? _spiSendCmd;

    public McuSpi(Mcu.Mcu mcu, string? bus, string? pin, int mode, int speed, string[]? swPins = null, bool csActiveHigh = false)
    {
        _mcu = mcu;
        _bus = bus;
        _speed = speed;
        Oid = mcu.CreateOid();
        if (pin is null)
            mcu.AddConfigCmd($"config_spi_without_cs oid={Oid}");
        else
            mcu.AddConfigCmd($"config_spi oid={Oid} pin={pin} cs_active_high={(csActiveHigh ? 1 : 0)}");
        if (swPins is not null)
        {
            _configFmt = $"spi_set_software_bus oid={Oid} miso_pin={swPins[0]} mosi_pin={swPins[1]} sclk_pin={swPins[2]} mode={mode} rate={speed}";
            _configFmtTicks = $"spi_set_sw_bus oid={Oid} miso_pin={swPins[0]} mosi_pin={swPins[1]} sclk_pin={swPins[2]} mode={mode} pulse_ticks=";
        }
        else
        {
            _configFmt = $"spi_set_bus oid={Oid} spi_bus=\0 mode={mode} rate={speed}";
        }
        _cmdQueue = mcu.AllocCommandQueue();
        mcu.RegisterConfigCallback(BuildConfig);
    }

    public int Oid { get; }

    public Mcu.Mcu GetMcu() => _mcu;

    public CommandQueue GetCommandQueue() => _cmdQueue;

    public void SetupShutdownMsg(IEnumerable<byte> shutdownSeq)
    {
        _mcu.AddConfigCmd($"config_spi_shutdown oid={_mcu.CreateOid()} spi_oid={Oid} shutdown_msg={Bus.Hex(shutdownSeq)}");
    }

    private void BuildConfig()
    {
        if (_configFmt.Contains('\0'))
        {
            string bus = Bus.ResolveBusName(_mcu, "spi_bus", _bus);
            _configFmt = _configFmt.Replace("\0", bus);
        }
        if (_configFmtTicks is not null)
        {
            if (_mcu.TryLookupCommand("spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u") is not null)
            {
                long pulseTicks = _mcu.SecondsToClock(1.0 / _speed);
                _configFmt = _configFmtTicks + pulseTicks.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                _mcu.Printer.TryLookupObject<PrinterConfig>("configfile")?.DeprecateMcuCode(_mcu.Name, "spi_set_sw_bus",
                    $"MCU '{_mcu.Name}' uses a deprecated spi_set_software_bus command");
            }
        }
        _mcu.AddConfigCmd(_configFmt);
        _spiSendCmd = new McuRawCommand(_mcu, "spi_send oid=%c data=%*s", _cmdQueue);
    }

    public void SpiSend(IReadOnlyList<byte> data, ulong minclock = 0, ulong reqclock = 0)
    {
        if (_spiSendCmd is null)
        {
            // Before configuration: send as part of the MCU init
            _mcu.AddConfigCmd($"spi_send oid={Oid} data={Bus.Hex(data)}", isInit: true);
            return;
        }
        _spiSendCmd.Send([(long)Oid, data.ToArray()], minclock, reqclock);
    }

    /// <summary>Creates an SPI device from a config section's cs_pin/spi_* options (upstream MCU_SPI_from_config).</summary>
    public static McuSpi FromConfig(ConfigWrapper config, int mode, string pinOption = "cs_pin", int defaultSpeed = 100000,
        string? shareType = null, bool csActiveHigh = false)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        string csPin = config.Get(pinOption);
        var csPinParams = ppins.LookupPin(csPin, shareType: shareType);
        string? pin = csPinParams.Pin;
        if (pin == "None")
        {
            ppins.ResetPinSharing(csPinParams);
            pin = null;
        }
        var mcu = OutputPins.ChipMcu(csPinParams);
        int speed = config.GetInt("spi_speed", defaultSpeed, minval: 100000);
        string? bus;
        string[]? swPins;
        if (config.GetOrNull("spi_software_sclk_pin") is not null)
        {
            var names = new[] { "miso", "mosi", "sclk" }.Select(n => $"spi_software_{n}_pin");
            var swPinParams = names.Select(n => ppins.LookupPin(config.Get(n), shareType: n)).ToList();
            foreach (var pp in swPinParams)
                if (pp.Chip != mcu)
                    throw new PinError($"{config.Name}: spi pins must be on same mcu");
            swPins = swPinParams.Select(pp => pp.Pin).ToArray();
            bus = null;
        }
        else
        {
            bus = config.GetOrNull("spi_bus");
            swPins = null;
        }
        return new McuSpi(mcu, bus, pin, mode, speed, swPins, csActiveHigh);
    }
}

/// <summary>A device on an MCU I2C bus (upstream MCU_I2C); batch mode sends writes without waiting for replies.</summary>
public sealed class McuI2c
{
    private readonly Mcu.Mcu _mcu;
    private readonly string? _bus;
    private readonly int _speed;
    private readonly bool _asyncWriteOnly;
    private string _configFmt;
    private readonly string? _configFmtTicks;
    private readonly CommandQueue _cmdQueue;
    private readonly List<byte[]> _toWrite = new();
    private McuRawCommand? _i2cWriteCmd, _i2cWriteOnlyCmd, _i2cTransferCmd;
    private bool _configured;

    public McuI2c(Mcu.Mcu mcu, string? bus, int addr, int speed, string[]? swPins = null, bool asyncWriteOnly = false)
    {
        _mcu = mcu;
        _bus = bus;
        I2cAddress = addr;
        Oid = mcu.CreateOid();
        _speed = speed;
        _asyncWriteOnly = asyncWriteOnly;
        mcu.AddConfigCmd($"config_i2c oid={Oid}");
        if (swPins is not null)
        {
            _configFmt = $"i2c_set_software_bus oid={Oid} scl_pin={swPins[0]} sda_pin={swPins[1]} rate={speed} address={addr}";
            _configFmtTicks = $"i2c_set_sw_bus oid={Oid} scl_pin={swPins[0]} sda_pin={swPins[1]} pulse_ticks=\0 address={addr}";
        }
        else
        {
            _configFmt = $"i2c_set_bus oid={Oid} i2c_bus=\0 rate={speed} address={addr}";
        }
        _cmdQueue = mcu.AllocCommandQueue();
        mcu.RegisterConfigCallback(BuildConfig);
        mcu.Printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    public int Oid { get; }

    public int I2cAddress { get; }

    public Mcu.Mcu GetMcu() => _mcu;

    public CommandQueue GetCommandQueue() => _cmdQueue;

    private void HandleConnect()
    {
        foreach (var data in _toWrite)
            I2cWrite(data);
    }

    private void BuildConfig()
    {
        if (_configFmtTicks is null && _configFmt.Contains('\0'))
        {
            string bus = Bus.ResolveBusName(_mcu, "i2c_bus", _bus);
            _configFmt = _configFmt.Replace("\0", bus);
        }
        if (_configFmtTicks is not null)
        {
            if (_mcu.TryLookupCommand("i2c_set_sw_bus oid=%c scl_pin=%u sda_pin=%u pulse_ticks=%u address=%u") is not null)
            {
                long pulseTicks = _mcu.SecondsToClock(1.0 / _speed / 2);
                _configFmt = _configFmtTicks.Replace("\0", pulseTicks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        _mcu.AddConfigCmd(_configFmt);
        if (_mcu.TryLookupCommand("i2c_read oid=%c reg=%*s read_len=%u") is not null)
        {
            _i2cWriteCmd = new McuRawCommand(_mcu, "i2c_write oid=%c data=%*s", _cmdQueue);
            _i2cWriteOnlyCmd = _i2cWriteCmd;
        }
        else
        {
            _i2cWriteOnlyCmd = new McuRawCommand(_mcu, "i2c_transfer oid=%c write=%*s read_len=%u", _cmdQueue);
            _i2cTransferCmd = _i2cWriteOnlyCmd;
        }
        _configured = true;
    }

    public void I2cWriteNoack(IReadOnlyList<byte> data, ulong minclock = 0, ulong reqclock = 0)
    {
        if (_asyncWriteOnly)
        {
            _i2cWriteOnlyCmd!.Send([(long)Oid, data.ToArray(), 0L], minclock, reqclock);
            return;
        }
        if (_i2cWriteCmd is not null)
            _i2cWriteCmd.Send([(long)Oid, data.ToArray()], minclock, reqclock);
        else
            _i2cTransferCmd!.Send([(long)Oid, data.ToArray(), 0L], minclock, reqclock);
    }

    public void I2cWrite(IReadOnlyList<byte> data, ulong minclock = 0, ulong reqclock = 0)
    {
        if (!_configured)
        {
            _toWrite.Add(data.ToArray());
            return;
        }
        if (_asyncWriteOnly)
        {
            _i2cWriteOnlyCmd!.Send([(long)Oid, data.ToArray(), 0L], minclock, reqclock);
            return;
        }
        if (_i2cTransferCmd is not null)
        {
            _i2cTransferCmd.Send([(long)Oid, data.ToArray(), 0L], minclock, reqclock);
            return;
        }
        if (!_mcu.IsFileOutput)
            throw new McuError($"MCU '{_mcu.Name}' I2C acknowledged writes are not available in this build");
        _i2cWriteCmd!.Send([(long)Oid, data.ToArray()], minclock, reqclock);
    }

    /// <summary>Creates an I2C device from i2c_* options (upstream MCU_I2C_from_config).</summary>
    public static McuI2c FromConfig(ConfigWrapper config, int? defaultAddr = null, int defaultSpeed = 100000, bool asyncWriteOnly = false)
    {
        var printer = config.GetPrinter();
        var i2cMcu = Mcu.Mcu.GetPrinterMcu(printer, config.Get("i2c_mcu", "mcu"));
        int speed = config.GetInt("i2c_speed", defaultSpeed, minval: 100000);
        int addr = defaultAddr is null
            ? config.GetInt("i2c_address", minval: 0, maxval: 127)
            : config.GetInt("i2c_address", defaultAddr, minval: 0, maxval: 127);
        var ppins = printer.LookupObject<PrinterPins>("pins");
        string? bus;
        string[]? swPins;
        if (config.GetOrNull("i2c_software_scl_pin") is not null)
        {
            var names = new[] { "scl", "sda" }.Select(n => $"i2c_software_{n}_pin");
            var swPinParams = names.Select(n => ppins.LookupPin(config.Get(n), shareType: n)).ToList();
            foreach (var pp in swPinParams)
                if (pp.Chip != i2cMcu)
                    throw new PinError($"{config.Name}: i2c pins must be on same mcu");
            swPins = swPinParams.Select(pp => pp.Pin).ToArray();
            bus = null;
        }
        else
        {
            bus = config.GetOrNull("i2c_bus");
            swPins = null;
        }
        return new McuI2c(i2cMcu, bus, addr, speed, swPins, asyncWriteOnly);
    }
}

/// <summary>A digital output updated in order with a bus command queue (upstream MCU_bus_digital_out).</summary>
public sealed class McuBusDigitalOut
{
    private readonly Mcu.Mcu _mcu;
    private McuCommand? _updatePinCmd;

    public McuBusDigitalOut(Mcu.Mcu mcu, string pinDesc, CommandQueue? cmdQueue = null, int value = 0)
    {
        _mcu = mcu;
        Oid = mcu.CreateOid();
        var ppins = mcu.Printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.LookupPin(pinDesc);
        if (pinParams.Chip != mcu)
            throw new PinError($"Pin {pinDesc} must be on mcu {mcu.Name}");
        mcu.AddConfigCmd($"config_digital_out oid={Oid} pin={pinParams.Pin} value={value} default_value={value} max_duration=0");
        mcu.RegisterConfigCallback(BuildConfig);
        CommandQueue = cmdQueue ?? mcu.AllocCommandQueue();
    }

    public int Oid { get; }

    public CommandQueue CommandQueue { get; }

    public Mcu.Mcu GetMcu() => _mcu;

    private void BuildConfig() =>
        _updatePinCmd = _mcu.LookupCommand("update_digital_out oid=%c value=%c", CommandQueue);

    public void UpdateDigitalOut(int value, ulong minclock = 0, ulong reqclock = 0)
    {
        int v = value != 0 ? 1 : 0;
        if (_updatePinCmd is null)
        {
            _mcu.AddConfigCmd($"update_digital_out oid={Oid} value={v}");
            return;
        }
        _updatePinCmd.Send([Oid, v], minclock, reqclock);
    }
}
