using System.Globalization;
using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.Serial;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Mcu;

/// <summary>
/// One micro-controller (upstream mcu.py's MCU with its connect, restart, config and
/// stats helpers): owns the link, allocates oids, collects config commands from the pin
/// and stepper objects, converts print time to MCU clock, and turns MCU shutdowns and
/// lost links into printer shutdowns.
/// </summary>
public sealed class Mcu : IPinChip, IStatusProvider, IStatsProvider
{
    /// <summary>Minimum time the host needs to get scheduled events queued into the MCU.</summary>
    public const double MinScheduleTime = 0.100;
    /// <summary>The most clock ticks an MCU schedules into the future.</summary>
    public const long MaxScheduleTicks = (1L << 31) - 1;
    /// <summary>Maximum time all MCUs can internally schedule into the future.</summary>
    public const double MaxNominalDuration = 3.0;
    /// <summary>Prefix of a <c>serial:</c> option naming the built-in simulated MCU (<c>sim:atmega2560</c>).</summary>
    public const string SimulatedPrefix = "sim:";

    private readonly Printer _printer;
    private readonly ClockSync _clockSync;
    private readonly List<Action> _configCallbacks = new();
    private readonly List<Action> _postInitCallbacks = new();
    private readonly List<string> _configCmds = new();
    private readonly List<string> _restartCmds = new();
    private readonly List<string> _initCmds = new();
    private readonly string? _canbusUuid;
    private IMcuSerial? _serial;
    private SerialReader? _liveSerial;
    private bool _disconnected;
    private int _oidCount;
    private int _lastQueueId;
    private int _reservedMoveSlots;
    private double _mcuFreq;
    private McuCommand? _emergencyStopCmd;
    // Connection/shutdown tracking (upstream MCUConnectHelper)
    private bool _isTimeout;
    private string _shutdownMsg = "";
    // Restart tracking (upstream MCURestartHelper)
    private McuCommand? _resetCmd, _configResetCmd;
    private bool _isMcuBridge;
    // Statistics (upstream MCUStatsHelper)
    private readonly Dictionary<string, object?> _statusInfo = new();
    private double _statsSumsqBase;
    private double _mcuTickAvg, _mcuTickStddev, _mcuTickAwake;

    public Mcu(ConfigWrapper config, ClockSync clockSync)
    {
        _printer = config.GetPrinter();
        _clockSync = clockSync;
        Name = config.Name.StartsWith("mcu ", StringComparison.Ordinal) ? config.Name[4..] : config.Name;
        // Connection options (read even in batch mode so they are valid options)
        _canbusUuid = config.GetOrNull("canbus_uuid");
        if (_canbusUuid is not null)
        {
            SerialPort = _canbusUuid;
            config.Get("canbus_interface", "can0");
        }
        else
        {
            SerialPort = config.Get("serial");
            if (!(SerialPort.StartsWith("/dev/rpmsg_", StringComparison.Ordinal)
                  || SerialPort.StartsWith("/tmp/klipper_host_", StringComparison.Ordinal)
                  || IsSimulated))
                Baud = config.GetInt("baud", 250000, minval: 2400);
        }
        RestartMethod = "command";
        if (Baud != 0)
            RestartMethod = config.GetChoiceOrNull("restart_method", new[] { "arduino", "cheetah", "command", "rpi_usb" });
        _printer.LookupObject<PrinterPins>("pins").RegisterChip(Name, this);
        // Handlers in upstream's order: connect helper, restart helper, config helper, stats helper
        _printer.RegisterEventHandler("klippy:mcu_identify", Identify);
        _printer.RegisterEventHandler("klippy:firmware_restart", () => FirmwareRestart());
        _printer.RegisterEventHandler("klippy:disconnect", Disconnect);
        _printer.RegisterEventHandler("klippy:shutdown", () => OnShutdown());
        _printer.RegisterEventHandler<string, Dictionary<string, object?>>("klippy:analyze_shutdown", AnalyzeShutdown);
        _printer.RegisterEventHandler("klippy:connect", Connect);
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _printer.TryLoadObject(config, "error_mcu");
    }

    public string Name { get; }

    public Printer Printer => _printer;

    public string SerialPort { get; }

    public int Baud { get; }

    public string? RestartMethod { get; private set; }

    /// <summary>True when <c>serial:</c> names the built-in simulated MCU (<c>sim:BOARD[:MACHINE.json]</c>).</summary>
    public bool IsSimulated => SerialPort.StartsWith(SimulatedPrefix, StringComparison.Ordinal);

    public bool IsFileOutput => _printer.IsFileOutput;

    public bool IsConfigFinalized { get; private set; }

    /// <summary>True once the MCU reported that it shut down (no emergency_stop is sent then).</summary>
    public bool IsShutdown { get; internal set; }

    /// <summary>The reason the MCU gave for its shutdown ("" when none).</summary>
    public string ShutdownMessage => _shutdownMsg;

    public IMcuSerial Serial => _serial ?? throw new McuError($"MCU '{Name}' is not connected");

    /// <summary>The live link (null in batch mode or before identify).</summary>
    public SerialReader? LiveSerial => _liveSerial;

    public ClockSync ClockSync => _clockSync;

    /// <summary>CRC32 of the config commands, as sent in finalize_config.</summary>
    public uint ConfigCrc { get; private set; }

    /// <summary>
    /// Opens an in-process link to the simulated MCU named by a <c>sim:</c> serial option
    /// (argument: the option's value). The host sets this before klippy:mcu_identify.
    /// </summary>
    public Func<string, Stream>? SimulatedLinkFactory { get; set; }

    private void Log(string msg) => _printer.Log?.Invoke(msg);

    // ---- Connection phase (upstream MCUConnectHelper / MCURestartHelper / MCUStatsHelper identify)

    private void Identify()
    {
        if (IsFileOutput)
        {
            _serial = AttachFile();
            _clockSync.ConnectFile(_serial.MsgParser.GetConstantFloat("CLOCK_FREQ"));
        }
        else
        {
            _serial = Attach();
        }
        var msgparser = _serial.MsgParser;
        Log(LogInfo());
        // Shutdown handling
        _emergencyStopCmd = LookupCommand("emergency_stop");
        _serial.RegisterResponse(HandleShutdown, "shutdown");
        _serial.RegisterResponse(HandleShutdown, "is_shutdown");
        _serial.RegisterResponse(HandleStarting, "starting");
        // Restart methods
        _resetCmd = TryLookupCommand("reset");
        _configResetCmd = TryLookupCommand("config_reset");
        bool extOnly = _resetCmd is null && _configResetCmd is null;
        if (RestartMethod is null && msgparser.GetConstant("SERIAL_BAUD", null) is null && !extOnly)
            RestartMethod = "command";
        if ((msgparser.GetConstantInt("CANBUS_BRIDGE", 0) ?? 0) != 0)
        {
            _isMcuBridge = true;
            _printer.RegisterEventHandler("klippy:firmware_restart", () => FirmwareRestart(force: true));
        }
        // Pin reservations and clock limits
        _mcuFreq = msgparser.GetConstantFloat("CLOCK_FREQ");
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
        // Statistics
        _statsSumsqBase = msgparser.GetConstantFloat("STATS_SUMSQ_BASE", null) ?? 0.0;
        _statusInfo["mcu_version"] = msgparser.Version;
        _statusInfo["mcu_build_versions"] = msgparser.BuildVersions;
        _statusInfo["mcu_constants"] = msgparser.GetConstants();
        _serial.RegisterResponse(HandleMcuStats, "stats");
    }

    // Live mode: open the port (or the simulated MCU), identify, and start clock sync
    private SerialReader Attach()
    {
        if (_clockSync is not LiveClockSync liveSync)
            throw new McuError($"MCU '{Name}': no live clock synchronisation");
        if (_canbusUuid is not null)
            throw new McuError($"MCU '{Name}': CAN bus connections are not supported");
        var sr = new SerialReader(_printer.Reactor, Name, _printer.Log);
        _liveSerial = sr;
        if (IsSimulated)
        {
            var factory = SimulatedLinkFactory
                ?? throw new McuError($"MCU '{Name}': no simulated MCU available for serial '{SerialPort}'");
            sr.ConnectTransport(() => new StreamTransport(OpenSimulatedLink(factory), "sim"));
        }
        else
        {
            sr.Connect(SerialPort, Baud, rts: RestartMethod != "cheetah");
        }
        liveSync.Log = _printer.Log;
        liveSync.Connect(sr);
        sr.ConnectionLost += _ => LostCommunication(_printer.Reactor.Monotonic());
        return sr;
    }

    private Stream OpenSimulatedLink(Func<string, Stream> factory)
    {
        try
        {
            return factory(SerialPort);
        }
        catch (ArgumentException e)
        {
            throw new McuError($"MCU '{Name}': {e.Message}");
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

    /// <summary>The "Loaded MCU ..." and "MCU ... config:" log lines.</summary>
    public string LogInfo()
    {
        var msgparser = Serial.MsgParser;
        string constants = string.Join(" ", msgparser.GetConstants().Select(kv => $"{kv.Key}={PyFormat.Str(kv.Value)}"));
        return $"Loaded MCU '{Name}' {msgparser.Messages.Count} commands ({msgparser.Version} / {msgparser.BuildVersions})\nMCU '{Name}' config: {constants}";
    }

    private void HandleShutdown(McuResponse p)
    {
        if (IsShutdown)
            return;
        IsShutdown = true;
        _shutdownMsg = p.GetString("static_string_id");
        long? shutdownClock = p.TryGetInt("clock", out long c) ? Clock32ToClock64(c) : null;
        _printer.InvokeAsyncShutdown("MCU shutdown", new Dictionary<string, object?>
        {
            ["reason"] = _shutdownMsg,
            ["mcu"] = Name,
            ["event_type"] = p.Name,
            ["shutdown_clock"] = shutdownClock,
        });
    }

    private void HandleStarting(McuResponse p)
    {
        if (!IsShutdown)
            _printer.InvokeAsyncShutdown($"MCU '{Name}' spontaneous restart");
    }

    private void AnalyzeShutdown(string msg, Dictionary<string, object?> details)
    {
        if (IsFileOutput || _liveSerial is null)
            return;
        string clockDump = (_clockSync as LiveClockSync)?.DumpDebug() ?? "";
        Log($"MCU '{Name}' shutdown: {_shutdownMsg}\n{clockDump}\n{_liveSerial.DumpDebug()}");
    }

    private void OnShutdown(bool force = false)
    {
        if (_emergencyStopCmd is null || (IsShutdown && !force))
            return;
        _emergencyStopCmd.Send();
    }

    /// <summary>Marks the MCU shut down and sends emergency_stop (before a config_reset).</summary>
    public void ForceLocalShutdown()
    {
        IsShutdown = true;
        OnShutdown(force: true);
    }

    /// <summary>Shuts the printer down once when the MCU stopped answering clock queries (upstream check_timeout).</summary>
    public void CheckTimeout(double eventtime)
    {
        if (_clockSync.IsActive || IsFileOutput || _isTimeout)
            return;
        LostCommunication(eventtime);
    }

    private void LostCommunication(double eventtime)
    {
        if (_isTimeout)
            return;
        _isTimeout = true;
        Log(string.Create(CultureInfo.InvariantCulture, $"Timeout with MCU '{Name}' (eventtime={eventtime:F6})"));
        _printer.InvokeShutdown($"Lost communication with MCU '{Name}'");
    }

    // ---- Restarting (upstream MCURestartHelper)

    private void CheckRestart(string reason)
    {
        if (_printer.StartArgs.StartReason == "firmware_restart")
            return;
        Log($"Attempting automated MCU '{Name}' restart: {reason}");
        _printer.RequestExit("firmware_restart");
        _printer.Reactor.Pause(_printer.Reactor.Monotonic() + 2.000);
        throw new McuError($"Attempt MCU '{Name}' restart failed");
    }

    private void FirmwareRestart(bool force = false)
    {
        if (_isMcuBridge && !force)
            return;
        switch (RestartMethod)
        {
            case "rpi_usb":
                Log($"MCU '{Name}': restart_method rpi_usb is not supported; not restarting");
                break;
            case "command":
                RestartViaCommand();
                break;
            case "cheetah":
                Log($"Attempting MCU '{Name}' Cheetah-style reset");
                Disconnect();
                SerialReader.CheetahReset(SerialPort, _printer.Reactor);
                break;
            default:
                Log($"Attempting MCU '{Name}' reset");
                Disconnect();
                SerialReader.ArduinoReset(SerialPort, _printer.Reactor);
                break;
        }
    }

    // How long a config_reset may take to be acknowledged or end the link (the process re-executing)
    private const double ConfigResetTimeout = 2.0;

    private void RestartViaCommand()
    {
        var reactor = _printer.Reactor;
        if ((_resetCmd is null && _configResetCmd is null) || !_clockSync.IsActive)
        {
            Log($"Unable to issue reset command on MCU '{Name}'");
            return;
        }
        if (_resetCmd is null)
        {
            Log($"Attempting MCU '{Name}' config_reset command");
            ForceLocalShutdown();
            reactor.Pause(reactor.Monotonic() + 0.015);
            // The MCU closes the link when it resets (a Linux-process MCU re-executes at once)
            _liveSerial?.ExpectDisconnect();
            _configResetCmd!.Send();
            reactor.Pause(reactor.Monotonic() + 0.015);
            // Upstream disconnects after the 15 ms. A Linux MCU that was not scheduled in that
            // time reads emergency_stop and config_reset at once and loses the latter when its
            // shutdown unwinds; keeping the link until the process re-executes (or the MCU
            // acknowledged config_reset) lets the queue retransmit it.
            if (_liveSerial is not null && !_liveSerial.WaitForAcksOrLinkEnd(ConfigResetTimeout))
                Log($"MCU '{Name}' did not answer config_reset");
        }
        else
        {
            Log($"Attempting MCU '{Name}' reset command");
            _liveSerial?.ExpectDisconnect();
            _resetCmd.Send();
            reactor.Pause(reactor.Monotonic() + 0.015);
        }
        Disconnect();
    }

    /// <summary>Closes the link (at exit and before a restart); safe to call twice.</summary>
    public void Disconnect()
    {
        if (_disconnected)
            return;
        _disconnected = true;
        (_clockSync as LiveClockSync)?.Stop();
        _serial?.Disconnect();
    }

    // ---- Configuring (upstream MCUConfigHelper)

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

    private (long IsConfig, long Crc, long MoveCount) SendGetConfig()
    {
        var getConfigCmd = LookupQueryCommand("get_config", "config is_config=%c crc=%u is_shutdown=%c move_count=%hu");
        if (IsFileOutput)
            return (0, 0, 500);
        var p = getConfigCmd.Send();
        if (IsShutdown)
            throw new McuError($"MCU '{Name}' error during config: {_shutdownMsg}");
        if (p["is_shutdown"] != 0)
            throw new McuError($"Can not update MCU '{Name}' config as it is shutdown");
        return (p["is_config"], p["crc"], p["move_count"]);
    }

    private void Connect()
    {
        var configParams = SendGetConfig();
        List<string> cfgInitCmds;
        if (configParams.IsConfig == 0)
        {
            // Not configured: send the full config
            if (RestartMethod == "rpi_usb")
                CheckRestart("full reset before config");
            FinalizeConfig();
            cfgInitCmds = _configCmds.Concat(_initCmds).ToList();
            if (!IsFileOutput)
                Log($"Sending MCU '{Name}' printer configuration...");
        }
        else
        {
            // Already configured: only the restart and init commands are needed
            if (_printer.StartArgs.StartReason == "firmware_restart")
                throw new McuError($"Failed automated reset of MCU '{Name}'");
            FinalizeConfig();
            if (ConfigCrc != (uint)configParams.Crc)
            {
                CheckRestart("CRC mismatch");
                throw new McuError($"MCU '{Name}' CRC does not match config");
            }
            cfgInitCmds = _restartCmds.Concat(_initCmds).ToList();
        }
        SendConfigCommands(cfgInitCmds);
        configParams = SendGetConfig();
        if (configParams.IsConfig == 0 && !IsFileOutput)
            throw new McuError($"Unable to configure MCU '{Name}'");
        foreach (var cb in _postInitCallbacks)
            cb();
        long moveCount = configParams.MoveCount;
        if (moveCount < _reservedMoveSlots)
            throw new McuError($"Too few moves available on MCU '{Name}'");
        var motionQueuing = _printer.LookupObject<MotionQueuing>("motion_queuing");
        motionQueuing.SetupMcuMoveQueue(this, (int)(moveCount - _reservedMoveSlots));
        if (!IsFileOutput)
            Log($"Configured MCU '{Name}' ({moveCount} moves)");
    }

    // ---- Statistics (upstream MCUStatsHelper)

    private void HandleMcuStats(McuResponse p)
    {
        long count = p["count"];
        long tickSum = p["sum"];
        double c = 1.0 / (count * _mcuFreq);
        _mcuTickAvg = tickSum * c;
        double tickSumsq = p["sumsq"] * _statsSumsqBase;
        double diff = count * tickSumsq - Math.Pow(tickSum, 2);
        _mcuTickStddev = c * Math.Sqrt(Math.Max(0.0, diff));
        _mcuTickAwake = tickSum / _mcuFreq;
    }

    private void HandleReady()
    {
        if (IsFileOutput || _clockSync is not LiveClockSync sync)
            return;
        // Check that the reported MCU frequency is in range
        double systime = _printer.Reactor.Monotonic();
        double calcFreq = sync.GetClock(systime + 1) - sync.GetClock(systime);
        double freqDiff = Math.Abs(_mcuFreq - calcFreq);
        long mcuFreqMhz = (long)(_mcuFreq / 1000000.0 + 0.5);
        long calcFreqMhz = (long)(calcFreq / 1000000.0 + 0.5);
        if (freqDiff > _mcuFreq * 0.01 && mcuFreqMhz != calcFreqMhz)
        {
            var pconfig = _printer.LookupObject<PrinterConfig>("configfile");
            pconfig.RuntimeWarning($"MCU '{Name}' configured for {mcuFreqMhz}Mhz but running at {calcFreqMhz}Mhz!");
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new(_statusInfo);

    public (bool IsActive, string Message) Stats(double eventtime)
    {
        var ci = CultureInfo.InvariantCulture;
        string load = string.Create(ci, $"mcu_awake={_mcuTickAwake:F3} mcu_task_avg={_mcuTickAvg:F6} mcu_task_stddev={_mcuTickStddev:F6}");
        string serialStats = _liveSerial?.Stats(eventtime) ?? "";
        string clockStats = (_clockSync as LiveClockSync)?.Stats(eventtime) ?? "";
        string stats = string.Join(' ', load, serialStats, clockStats);
        var lastStats = new Dictionary<string, object?>();
        foreach (var part in stats.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            if (eq < 0)
                continue;
            string k = part[..eq], v = part[(eq + 1)..];
            if (v.Contains('.'))
                lastStats[k] = double.TryParse(v, NumberStyles.Float, ci, out double d) ? d : 0.0;
            else
                lastStats[k] = long.TryParse(v, NumberStyles.Integer, ci, out long l) ? l : 0L;
        }
        _statusInfo["last_stats"] = lastStats;
        return (false, $"{Name}: {stats}");
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

    public McuQueryCommand LookupQueryCommand(string msgformat, string respformat, long? oid = null, CommandQueue? cq = null,
                                              bool isAsync = false)
    {
        var fmt = Serial.MsgParser.LookupCommand(msgformat);
        var resp = Serial.MsgParser.LookupCommand(respformat);
        return new McuQueryCommand(this, fmt, resp, oid, cq ?? DefaultCommandQueue, isAsync);
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

    internal McuResponse SendQuery(IReadOnlyList<byte[]> cmds, string responseName, long? oid, ulong minClock, ulong reqClock,
                                   CommandQueue queue, bool retry, bool isAsync)
    {
        var sr = _liveSerial ?? throw new CommandError($"MCU '{Name}' is not connected");
        try
        {
            if (isAsync)
                return new RetryAsyncCommand(sr, responseName, oid).GetResponse(cmds, queue, minClock, reqClock, retry);
            return new SerialRetryCommand(sr, responseName, oid).GetResponse(cmds, queue, minClock, reqClock, retry);
        }
        catch (McuError e)
        {
            throw new CommandError(e.Message);
        }
    }

    // ---- Dictionary wrappers

    public IReadOnlyDictionary<string, object?> GetConstants() => Serial.MsgParser.GetConstants();

    public double GetConstantFloat(string name) => Serial.MsgParser.GetConstantFloat(name);

    // ---- Clock wrappers

    public long PrintTimeToClock(double printTime) => _clockSync.PrintTimeToClock(printTime);

    public double ClockToPrintTime(long clock) => _clockSync.ClockToPrintTime(clock);

    public double EstimatedPrintTime(double eventtime) => IsFileOutput ? 0.0 : _clockSync.EstimatedPrintTime(eventtime);

    public long Clock32ToClock64(long clock32) => _clockSync.Clock32ToClock64(clock32);

    public (double Offset, double Freq) CalibrateClock(double printTime, double eventtime)
    {
        var res = _clockSync.CalibrateClock(printTime, eventtime);
        CheckTimeout(eventtime);
        return res;
    }

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
        if (printer.IsFileOutput)
        {
            var fileSync = new ClockSync();
            printer.AddObject("mcu", new Mcu(config.GetSection("mcu"), fileSync));
            foreach (var s in config.GetPrefixSections("mcu "))
                printer.AddObject(s.Name, new Mcu(s, new SecondaryClockSync(fileSync)));
            return;
        }
        // Live: the main MCU connects (and syncs its clock) first, secondaries follow it
        var mainSync = new LiveClockSync(printer.Reactor);
        printer.AddObject("mcu", new Mcu(config.GetSection("mcu"), mainSync));
        foreach (var s in config.GetPrefixSections("mcu "))
            printer.AddObject(s.Name, new Mcu(s, new SecondarySync(printer.Reactor, mainSync)));
    }

    /// <summary>The MCU called <paramref name="name"/> ("mcu" or the suffix of an [mcu NAME] section).</summary>
    public static Mcu GetPrinterMcu(Printer printer, string name) =>
        printer.LookupObject<Mcu>(name == "mcu" ? name : "mcu " + name);
}
