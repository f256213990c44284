using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Mcu;

/// <summary>
/// One micro-controller (upstream mcu.py's MCU with its connect, config and stats
/// helpers): owns the link, allocates oids, collects config commands from the pin and
/// stepper objects, and converts print time to MCU clock.
/// </summary>
public sealed class Mcu : IPinChip
{
    /// <summary>Minimum time the host needs to get scheduled events queued into the MCU.</summary>
    public const double MinScheduleTime = 0.100;
    /// <summary>The most clock ticks an MCU schedules into the future.</summary>
    public const long MaxScheduleTicks = (1L << 31) - 1;
    /// <summary>Maximum time all MCUs can internally schedule into the future.</summary>
    public const double MaxNominalDuration = 3.0;

    private readonly Printer _printer;
    private readonly ClockSync _clockSync;
    private readonly List<Action> _configCallbacks = new();
    private readonly List<Action> _postInitCallbacks = new();
    private readonly List<string> _configCmds = new();
    private readonly List<string> _restartCmds = new();
    private readonly List<string> _initCmds = new();
    private IMcuSerial? _serial;
    private int _oidCount;
    private int _lastQueueId;
    private int _reservedMoveSlots;
    private double _mcuFreq;
    private McuCommand? _emergencyStopCmd;

    public Mcu(ConfigWrapper config, ClockSync clockSync)
    {
        _printer = config.GetPrinter();
        _clockSync = clockSync;
        Name = config.Name.StartsWith("mcu ", StringComparison.Ordinal) ? config.Name[4..] : config.Name;
        // Connection options (read even in batch mode so they are valid options)
        string? canbusUuid = config.GetOrNull("canbus_uuid");
        if (canbusUuid is not null)
        {
            SerialPort = canbusUuid;
            config.Get("canbus_interface", "can0");
        }
        else
        {
            SerialPort = config.Get("serial");
            if (!(SerialPort.StartsWith("/dev/rpmsg_", StringComparison.Ordinal)
                  || SerialPort.StartsWith("/tmp/klipper_host_", StringComparison.Ordinal)))
                Baud = config.GetInt("baud", 250000, minval: 2400);
        }
        RestartMethod = "command";
        if (Baud != 0)
            RestartMethod = config.GetChoiceOrNull("restart_method", new[] { "arduino", "cheetah", "command", "rpi_usb" });
        _printer.LookupObject<PrinterPins>("pins").RegisterChip(Name, this);
        _printer.RegisterEventHandler("klippy:mcu_identify", Identify);
        _printer.RegisterEventHandler("klippy:connect", Connect);
        _printer.RegisterEventHandler("klippy:shutdown", OnShutdown);
    }

    public string Name { get; }

    public Printer Printer => _printer;

    public string SerialPort { get; }

    public int Baud { get; }

    public string? RestartMethod { get; }

    public bool IsFileOutput => _printer.IsFileOutput;

    public bool IsConfigFinalized { get; private set; }

    /// <summary>True once the MCU reported that it shut down (no emergency_stop is sent then).</summary>
    public bool IsShutdown { get; internal set; }

    public IMcuSerial Serial => _serial ?? throw new McuError($"MCU '{Name}' is not connected");

    public ClockSync ClockSync => _clockSync;

    /// <summary>CRC32 of the config commands, as sent in finalize_config.</summary>
    public uint ConfigCrc { get; private set; }

    /// <summary>Creates the MCU link; the host sets this before klippy:mcu_identify (batch: a file writer).</summary>
    public Func<Mcu, IMcuSerial>? SerialFactory { get; set; }

    // ---- Connection phase

    private void Identify()
    {
        if (IsFileOutput)
            _serial = AttachFile();
        else if (SerialFactory is not null)
            _serial = SerialFactory(this);
        else
            throw new McuError($"MCU '{Name}': live connections are not available in this build");
        var msgparser = _serial.MsgParser;
        _mcuFreq = msgparser.GetConstantFloat("CLOCK_FREQ");
        if (IsFileOutput)
            _clockSync.ConnectFile(_mcuFreq);
        _emergencyStopCmd = LookupCommand("emergency_stop");
        var resolver = _printer.LookupObject<PrinterPins>("pins").GetPinResolver(Name);
        foreach (var (cname, value) in msgparser.GetConstants())
        {
            if (cname.StartsWith("RESERVE_PINS_", StringComparison.Ordinal))
                foreach (var pin in (value?.ToString() ?? "").Split(','))
                    resolver.ReservePin(pin, cname[13..]);
        }
        if (MaxNominalDuration * _mcuFreq > MaxScheduleTicks)
        {
            double maxPossible = MaxScheduleTicks * 1 / _mcuFreq;
            throw new McuError($"Too high clock speed for MCU '{Name}' to be able to resolve a maximum nominal duration of {(int)MaxNominalDuration}s. Max possible duration: {(int)maxPossible}s");
        }
    }

    // Batch mode: the output file and dictionary come from the command line
    private FileMcuSerial AttachFile()
    {
        var args = _printer.StartArgs;
        string outName = Name == "mcu" ? args.DebugOutput! : args.DebugOutput + "-" + Name;
        if (!args.Dictionaries.TryGetValue(Name, out var dictName))
            throw new McuError($"No dictionary given for MCU '{Name}' (use -d {(Name == "mcu" ? "" : Name + "=")}FILE)");
        DataDictionary dictionary;
        try
        {
            dictionary = DataDictionary.Load(dictName);
        }
        catch (IOException e)
        {
            throw new McuError($"Unable to read dictionary '{dictName}' for MCU '{Name}': {e.Message}");
        }
        return new FileMcuSerial(outName, dictionary);
    }

    /// <summary>Closes the link (at exit).</summary>
    public void Disconnect() => _serial?.Disconnect();

    private void FinalizeConfig()
    {
        foreach (var cb in _configCallbacks)
            cb();
        IsConfigFinalized = true;
        _configCmds.Insert(0, $"allocate_oids count={_oidCount}");
        var resolver = _printer.LookupObject<PrinterPins>("pins").GetPinResolver(Name);
        foreach (var list in new[] { _configCmds, _restartCmds, _initCmds })
            for (int i = 0; i < list.Count; i++)
                list[i] = resolver.UpdateCommand(list[i]);
        ConfigCrc = Crc32(Encoding.UTF8.GetBytes(string.Join('\n', _configCmds)));
        _configCmds.Add($"finalize_config crc={ConfigCrc}");
    }

    private void SendConfigCommands(IEnumerable<string> cmds)
    {
        foreach (var c in cmds)
        {
            byte[] encoded;
            try
            {
                encoded = Serial.MsgParser.CreateCommand(c);
            }
            catch (EnumerationError e) when (e.EnumName == "pin")
            {
                throw new ConfigError($"Pin '{e.Value}' is not a valid pin name on mcu '{Name}'");
            }
            Serial.RawSend(encoded, 0, 0, DefaultCommandQueue);
        }
    }

    private void Connect()
    {
        if (!IsFileOutput)
            throw new McuError($"MCU '{Name}': live connections are not available in this build");
        // A file has no existing config: always send the full config
        FinalizeConfig();
        SendConfigCommands(_configCmds.Concat(_initCmds));
        foreach (var cb in _postInitCallbacks)
            cb();
        const int fileMoveCount = 500;
        if (fileMoveCount < _reservedMoveSlots)
            throw new McuError($"Too few moves available on MCU '{Name}'");
        var motionQueuing = _printer.LookupObject<MotionQueuing>("motion_queuing");
        motionQueuing.SetupMcuMoveQueue(this, fileMoveCount - _reservedMoveSlots);
    }

    private void OnShutdown()
    {
        if (_emergencyStopCmd is null || IsShutdown)
            return;
        _emergencyStopCmd.Send();
    }

    // ---- Config creation helpers

    private void VerifyNotFinalized()
    {
        if (IsConfigFinalized)
            throw new McuError("Internal error! MCU already configured");
    }

    public object SetupPin(string pinType, PinParams pinParams)
    {
        VerifyNotFinalized();
        return pinType switch
        {
            "endstop" => new McuEndstop(this, pinParams),
            "digital_out" => new McuDigitalOut(this, pinParams),
            "pwm" => new McuPwm(this, pinParams),
            "adc" => new McuAdc(this, pinParams),
            _ => throw new PinError($"pin type {pinType} not supported on mcu"),
        };
    }

    public int CreateOid()
    {
        VerifyNotFinalized();
        return _oidCount++;
    }

    public void RegisterConfigCallback(Action cb)
    {
        VerifyNotFinalized();
        _configCallbacks.Add(cb);
    }

    public void AddConfigCmd(string cmd, bool isInit = false, bool onRestart = false)
    {
        VerifyNotFinalized();
        if (isInit)
            _initCmds.Add(cmd);
        else if (onRestart)
            _restartCmds.Add(cmd);
        else
            _configCmds.Add(cmd);
    }

    public void RegisterPostInitCallback(Action cb)
    {
        VerifyNotFinalized();
        _postInitCallbacks.Add(cb);
    }

    /// <summary>A start clock for a periodic query, spread by oid so queries do not bunch up.</summary>
    public long GetQuerySlot(int oid)
    {
        long slot = SecondsToClock(oid * .01);
        double t = (long)(EstimatedPrintTime(_printer.Reactor.Monotonic()) + 1.5);
        return PrintTimeToClock(t) + slot;
    }

    public long SecondsToClock(double time) => (long)(time * _mcuFreq);

    public void RequestMoveQueueSlot() => _reservedMoveSlots++;

    // ---- Command helpers

    public McuCommand LookupCommand(string msgformat, CommandQueue? cq = null) =>
        new(Serial, Serial.MsgParser.LookupCommand(msgformat), cq ?? DefaultCommandQueue);

    public McuCommand? TryLookupCommand(string msgformat)
    {
        try
        {
            return LookupCommand(msgformat);
        }
        catch (ProtocolError)
        {
            return null;
        }
    }

    public McuQueryCommand LookupQueryCommand(string msgformat, string respformat, long? oid = null, CommandQueue? cq = null)
    {
        var fmt = Serial.MsgParser.LookupCommand(msgformat);
        var resp = Serial.MsgParser.LookupCommand(respformat);
        return new McuQueryCommand(this, fmt, resp, oid, cq ?? DefaultCommandQueue);
    }

    public bool CheckValidResponse(string msgformat)
    {
        try
        {
            Serial.MsgParser.LookupCommand(msgformat);
            return true;
        }
        catch (ProtocolError)
        {
            return false;
        }
    }

    /// <summary>The queue for commands that name none.</summary>
    public CommandQueue DefaultCommandQueue { get; } = new(0);

    public CommandQueue AllocCommandQueue() => new(++_lastQueueId);

    /// <summary>Registers a response handler now, or after config if the link is not up yet.</summary>
    public void RegisterResponse(Action<McuResponse>? callback, string msgformat, long? oid = null)
    {
        string name = msgformat.Split(' ')[0];
        if (IsConfigFinalized)
        {
            Serial.MsgParser.LookupCommand(msgformat);
            Serial.RegisterResponse(callback, name, oid);
        }
        else
        {
            RegisterPostInitCallback(() =>
            {
                Serial.MsgParser.LookupCommand(msgformat);
                Serial.RegisterResponse(callback, name, oid);
            });
        }
    }

    internal McuResponse SendQuery(byte[] cmd, string responseName, long? oid, ulong minClock, ulong reqClock, CommandQueue queue) =>
        throw new McuError($"Timeout on wait for '{responseName}' response");

    // ---- Dictionary wrappers

    public IReadOnlyDictionary<string, object?> GetConstants() => Serial.MsgParser.GetConstants();

    public double GetConstantFloat(string name) => Serial.MsgParser.GetConstantFloat(name);

    // ---- Clock wrappers

    public long PrintTimeToClock(double printTime) => _clockSync.PrintTimeToClock(printTime);

    public double ClockToPrintTime(long clock) => _clockSync.ClockToPrintTime(clock);

    public double EstimatedPrintTime(double eventtime) => IsFileOutput ? 0.0 : _clockSync.EstimatedPrintTime(eventtime);

    public long Clock32ToClock64(long clock32) => _clockSync.Clock32ToClock64(clock32);

    public (double Offset, double Freq) CalibrateClock(double printTime, double eventtime) => _clockSync.CalibrateClock(printTime, eventtime);

    /// <summary>zlib's CRC-32 (the config CRC is zlib.crc32 of the joined config commands).</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xffffffff;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>Creates the "mcu" and "mcu NAME" printer objects (upstream mcu.add_printer_objects).</summary>
    public static void AddPrinterObjects(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        var mainSync = new ClockSync();
        printer.AddObject("mcu", new Mcu(config.GetSection("mcu"), mainSync));
        foreach (var s in config.GetPrefixSections("mcu "))
            printer.AddObject(s.Name, new Mcu(s, new SecondaryClockSync(mainSync)));
    }

    /// <summary>The MCU called <paramref name="name"/> ("mcu" or the suffix of an [mcu NAME] section).</summary>
    public static Mcu GetPrinterMcu(Printer printer, string name) =>
        printer.LookupObject<Mcu>(name == "mcu" ? name : "mcu " + name);
}
