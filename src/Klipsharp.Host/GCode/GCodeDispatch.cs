using System.Text;
using System.Text.RegularExpressions;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.GCode;

/// <summary>
/// Parses G-code lines and dispatches them to registered command handlers
/// (upstream gcode.GCodeDispatch, printer object "gcode").
/// </summary>
public sealed partial class GCodeDispatch
{
    public const string CmdRestartHelp = "Reload config file and restart host software";
    public const string CmdFirmwareRestartHelp = "Restart firmware, host, and reload config";
    public const string CmdStatusHelp = "Report the printer status";
    public const string CmdHelpHelp = "Report the list of available extended G-Code commands";

    private readonly Printer _printer;
    private readonly bool _isFileinput;
    // Held while commands run; other G-code sources wait for it (upstream reactor.mutex())
    private readonly ReactorMutex _mutex;
    private readonly List<Action<string>> _outputCallbacks = new();
    private readonly Dictionary<string, Action<GCodeCommand>> _baseGcodeHandlers = new();
    private readonly Dictionary<string, Action<GCodeCommand>> _readyGcodeHandlers = new();
    private Dictionary<string, Action<GCodeCommand>> _gcodeHandlers;
    // Commands registered to run without CommandBarrier (only the plain move path); a
    // handler registered again under the name (a macro) drops the name.
    private readonly HashSet<string> _barrierFree = new();

    /// <summary>
    /// Runs before every command except those registered barrier-free: background step
    /// generation finishes there (see MotionQueuing.SyncStepGeneration).
    /// </summary>
    public Action? CommandBarrier { get; set; }
    private readonly Dictionary<string, MuxEntry> _muxCommands = new();
    private readonly Dictionary<string, string> _gcodeHelp = new();
    private Dictionary<string, object?> _statusCommands = new();

    private sealed class MuxEntry
    {
        public required string Key;
        public readonly List<(string? Value, Action<GCodeCommand> Func)> Values = new();

        public bool TryGet(string? value, out Action<GCodeCommand> func)
        {
            foreach (var (v, f) in Values)
                if (v == value)
                {
                    func = f;
                    return true;
                }
            func = null!;
            return false;
        }
    }

    public GCodeDispatch(Printer printer)
    {
        _printer = printer;
        _isFileinput = printer.StartArgs.DebugInput is not null;
        printer.RegisterEventHandler("klippy:ready", HandleReady);
        printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
        printer.RegisterEventHandler("klippy:disconnect", HandleDisconnect);
        _mutex = printer.Reactor.Mutex();
        _gcodeHandlers = _baseGcodeHandlers;
        // Commands available before the config file is loaded
        RegisterCommand("M110", CmdM110, true);
        RegisterCommand("M112", CmdM112, true);
        RegisterCommand("M115", CmdM115, true);
        RegisterCommand("RESTART", CmdRestart, true, CmdRestartHelp);
        RegisterCommand("FIRMWARE_RESTART", CmdFirmwareRestart, true, CmdFirmwareRestartHelp);
        RegisterCommand("ECHO", CmdEcho, true);
        RegisterCommand("STATUS", CmdStatus, true, CmdStatusHelp);
        RegisterCommand("HELP", CmdHelp, true, CmdHelpHelp);
    }

    /// <summary>True once klippy:ready ran and until shutdown.</summary>
    public bool IsPrinterReady { get; private set; }

    /// <summary>A "traditional" command is a letter followed by a number (G1, M104).</summary>
    public static bool IsTraditionalGcode(string cmd)
    {
        var words = cmd.ToUpperInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
            return false;
        string w = words[0];
        if (w.Length < 2 || !PyFormat.TryParseFloat(w[1..], out _))
            return false;
        return char.IsUpper(w[0]) && char.IsDigit(w[1]);
    }

    /// <summary>
    /// Registers <paramref name="func"/> for <paramref name="cmd"/>; a null func removes the
    /// command and returns the previous handler.
    /// </summary>
    public Action<GCodeCommand>? RegisterCommand(string cmd, Action<GCodeCommand>? func, bool whenNotReady = false,
                                                 string? desc = null, bool barrierFree = false)
    {
        if (func is null)
        {
            _barrierFree.Remove(cmd);
            _readyGcodeHandlers.TryGetValue(cmd, out var oldCmd);
            _readyGcodeHandlers.Remove(cmd);
            _baseGcodeHandlers.Remove(cmd);
            BuildStatusCommands();
            return oldCmd;
        }
        if (_readyGcodeHandlers.ContainsKey(cmd))
            throw new ConfigError($"gcode command {cmd} already registered");
        if (!IsTraditionalGcode(cmd))
        {
            if (cmd.ToUpperInvariant() != cmd || !IsPyAlnum(cmd.Replace('_', 'A'))
                || char.IsDigit(cmd[0]) || (cmd.Length > 1 && char.IsDigit(cmd[1])))
                throw new ConfigError($"Can't register '{cmd}' as it is an invalid name");
            var origfunc = func;
            func = gcmd => origfunc(GetExtendedParams(gcmd));
        }
        _readyGcodeHandlers[cmd] = func;
        if (whenNotReady)
            _baseGcodeHandlers[cmd] = func;
        // barrierFree: the handler changes nothing but G-code state and queues moves
        if (barrierFree)
            _barrierFree.Add(cmd);
        if (desc is not null)
            _gcodeHelp[cmd] = desc;
        BuildStatusCommands();
        return null;
    }

    private static bool IsPyAlnum(string s)
    {
        if (s.Length == 0)
            return false;
        foreach (char c in s)
            if (!char.IsLetterOrDigit(c))
                return false;
        return true;
    }

    /// <summary>Registers a command whose handler is chosen by the value of parameter <paramref name="key"/> (null value = the default handler).</summary>
    public void RegisterMuxCommand(string cmd, string key, string? value, Action<GCodeCommand> func, string? desc = null)
    {
        if (!_muxCommands.TryGetValue(cmd, out var prev))
        {
            RegisterCommand(cmd, gcmd => CmdMux(cmd, gcmd), desc: desc);
            _muxCommands[cmd] = prev = new MuxEntry { Key = key };
        }
        if (prev.Key != key)
            throw new ConfigError($"mux command {cmd} {key} {PyFormat.Str(value)} may have only one key ({prev.Key})");
        if (prev.TryGet(value, out _))
            throw new ConfigError($"mux command {cmd} {key} {PyFormat.Str(value)} already registered ({MuxValuesRepr(prev)})");
        prev.Values.Add((value, func));
    }

    private static string MuxValuesRepr(MuxEntry entry)
    {
        var parts = entry.Values.Select(v => (v.Value is null ? "None" : PyFormat.Repr(v.Value)) + ": <function>");
        return "{" + string.Join(", ", parts) + "}";
    }

    public Dictionary<string, string> GetCommandHelp() => new(_gcodeHelp);

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["commands"] = _statusCommands };

    private void BuildStatusCommands()
    {
        var commands = new Dictionary<string, object?>();
        foreach (var cmd in _gcodeHandlers.Keys)
        {
            var entry = new Dictionary<string, object?>();
            if (_gcodeHelp.TryGetValue(cmd, out var help))
                entry["help"] = help;
            commands[cmd] = entry;
        }
        _statusCommands = commands;
    }

    public void RegisterOutputHandler(Action<string> cb) => _outputCallbacks.Add(cb);

    private void HandleShutdown()
    {
        if (!IsPrinterReady)
            return;
        IsPrinterReady = false;
        _gcodeHandlers = _baseGcodeHandlers;
        BuildStatusCommands();
        RespondState("Shutdown");
    }

    private void HandleDisconnect() => RespondState("Disconnect");

    private void HandleReady()
    {
        IsPrinterReady = true;
        _gcodeHandlers = _readyGcodeHandlers;
        BuildStatusCommands();
        RespondState("Ready");
    }

    // ---- parsing

    [GeneratedRegex("([A-Z_]+|[A-Z*])", RegexOptions.CultureInvariant)]
    private static partial Regex ArgsRegex();

    /// <summary>Parses one line into its command name and parameters (upstream _process_commands' tokenizer).</summary>
    public static (string Command, Dictionary<string, string> Params) ParseLine(string origline)
    {
        int cpos = origline.IndexOf(';');
        ReadOnlySpan<char> line = cpos >= 0 ? origline.AsSpan(0, cpos) : origline.AsSpan();
        if (!System.Text.Ascii.IsValid(line))
            return ParseLineRegex(origline);
        return ParseAsciiLine(line);
    }

    // Upstream splits line.upper() with the regex "([A-Z_]+|[A-Z*])": parts are the text
    // before the first token, then each token followed by the text after it. For ASCII
    // the tokens are the runs of letters and '_' and each single '*'; the texts hold no
    // letters, so upper-casing changes only the tokens. This walks the line once.
    private static (string Command, Dictionary<string, string> Params) ParseAsciiLine(ReadOnlySpan<char> line)
    {
        // Token k spans [tok[2k], tok[2k+1]); the text after it runs to the next token.
        Span<int> stackTok = stackalloc int[64];
        int[]? rented = null;
        Span<int> tok = stackTok;
        int ntok = 0;
        for (int i = 0; i < line.Length;)
        {
            char c = line[i];
            int j;
            if (IsTokenChar(c))
            {
                j = i + 1;
                while (j < line.Length && IsTokenChar(line[j]))
                    j++;
            }
            else if (c == '*')
            {
                j = i + 1;
            }
            else
            {
                i++;
                continue;
            }
            if (2 * ntok + 2 > tok.Length)
            {
                int[] bigger = System.Buffers.ArrayPool<int>.Shared.Rent(tok.Length * 2);
                tok[..(2 * ntok)].CopyTo(bigger);
                if (rented is not null)
                    System.Buffers.ArrayPool<int>.Shared.Return(rented);
                rented = bigger;
                tok = bigger;
            }
            tok[2 * ntok] = i;
            tok[2 * ntok + 1] = j;
            ntok++;
            i = j;
        }

        ReadOnlySpan<char> TextAfter(Span<int> t, int k, int n, ReadOnlySpan<char> l) =>
            k + 1 < n ? l[t[2 * k + 1]..t[2 * k + 2]] : l[t[2 * k + 1]..];

        // Command: parts[0:3] joined, or parts[3:5] after a leading line number
        Span<char> buf = stackalloc char[128];
        string cmd;
        if (ntok == 0)
        {
            cmd = Interned(PyStrip(line));
        }
        else if (tok[0] == 0 && tok[1] == 1 && (line[0] == 'N' || line[0] == 'n'))
        {
            if (ntok < 2)
                cmd = "";
            else
                cmd = JoinUpper(buf, default, line[tok[2]..tok[3]], TextAfter(tok, 1, ntok, line));
        }
        else
        {
            cmd = JoinUpper(buf, line[..tok[0]], line[tok[0]..tok[1]], TextAfter(tok, 0, ntok, line));
        }

        var parameters = new Dictionary<string, string>(ntok);
        for (int k = 0; k < ntok; k++)
        {
            string key = TokenString(line[tok[2 * k]..tok[2 * k + 1]]);
            parameters[key] = PyStrip(TextAfter(tok, k, ntok, line)).ToString();
        }
        if (rented is not null)
            System.Buffers.ArrayPool<int>.Shared.Return(rented);
        return (cmd, parameters);
    }

    private static bool IsTokenChar(char c) => (uint)((c | 0x20) - 'a') <= 'z' - 'a' || c == '_';

    // Python str.strip() on a span.
    private static ReadOnlySpan<char> PyStrip(ReadOnlySpan<char> s)
    {
        int start = 0, end = s.Length;
        while (start < end && PyFormat.IsSpace(s[start]))
            start++;
        while (end > start && PyFormat.IsSpace(s[end - 1]))
            end--;
        return s[start..end];
    }

    // (before + upper(token) + after).strip(), as a string shared for common commands.
    private static string JoinUpper(Span<char> buf, ReadOnlySpan<char> before, ReadOnlySpan<char> token, ReadOnlySpan<char> after)
    {
        int len = before.Length + token.Length + after.Length;
        char[]? big = null;
        if (len > buf.Length)
            buf = big = new char[len];
        before.CopyTo(buf);
        System.Text.Ascii.ToUpper(token, buf[before.Length..], out _);
        after.CopyTo(buf[(before.Length + token.Length)..]);
        ReadOnlySpan<char> joined = PyStrip(buf[..len]);
        return big is null ? Interned(joined) : joined.ToString();
    }

    // Upper-cased token; single letters and short names come from a shared table.
    private static string TokenString(ReadOnlySpan<char> token)
    {
        if (token.Length == 1)
        {
            char c = token[0];
            if (c == '*')
                return "*";
            if (c == '_')
                return "_";
            return SingleLetters[(c | 0x20) - 'a'];
        }
        Span<char> up = stackalloc char[64];
        if (token.Length > up.Length)
            return token.ToString().ToUpperInvariant();
        System.Text.Ascii.ToUpper(token, up, out int n);
        return Interned(up[..n]);
    }

    private static readonly string[] SingleLetters =
        Enumerable.Range(0, 26).Select(i => ((char)('A' + i)).ToString()).ToArray();

    // Small shared table of command and parameter names, so the same names are not
    // allocated again for every line. Bounded: beyond it, strings are allocated.
    [ThreadStatic]
    private static Dictionary<string, string>? t_names;

    private static string Interned(ReadOnlySpan<char> s)
    {
        if (s.Length == 0)
            return "";
        if (s.Length > 24)
            return s.ToString();
        Dictionary<string, string> names = t_names ??= new Dictionary<string, string>();
        var lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(s, out string? found))
            return found;
        string str = s.ToString();
        if (names.Count < 512)
            names[str] = str;
        return str;
    }

    // The general case (non-ASCII text): upper-case the whole line and split with the regex.
    private static (string Command, Dictionary<string, string> Params) ParseLineRegex(string origline)
    {
        string line = origline;
        int cpos = line.IndexOf(';');
        if (cpos >= 0)
            line = line[..cpos];
        string[] parts = ArgsRegex().Split(line.ToUpperInvariant());
        string cmd;
        if (Join(parts, 0, 2) == "N")
            cmd = PyFormat.Strip(Join(parts, 3, 5)); // skip a line number
        else
            cmd = PyFormat.Strip(Join(parts, 0, 3));
        var parameters = new Dictionary<string, string>();
        for (int i = 1; i + 1 < parts.Length; i += 2)
            parameters[parts[i]] = PyFormat.Strip(parts[i + 1]);
        return (cmd, parameters);
    }

    private static string Join(string[] parts, int start, int end)
    {
        var sb = new StringBuilder();
        for (int i = start; i < end && i < parts.Length; i++)
            sb.Append(parts[i]);
        return sb.ToString();
    }

    /// <summary>Runs each line; with <paramref name="needAck"/> errors are reported and processing continues, otherwise the first error is rethrown.</summary>
    public void ProcessCommands(IEnumerable<string> commands, bool needAck = true)
    {
        foreach (var rawLine in commands)
        {
            string origline = PyFormat.Strip(rawLine);
            var (cmd, parameters) = ParseLine(origline);
            var gcmd = new GCodeCommand(this, cmd, origline, parameters, needAck);
            var handler = _gcodeHandlers.TryGetValue(cmd, out var h) ? h : CmdDefault;
            try
            {
                // Comment and empty lines need no barrier either: CmdDefault ignores them
                // (and no handler can be registered under the empty name)
                if (CommandBarrier is { } barrier && cmd.Length != 0 && !_barrierFree.Contains(cmd))
                    barrier();
                handler(gcmd);
            }
            catch (CommandError e) when (e is not McuError)
            {
                RespondError(e.Message);
                _printer.SendEvent("gcode:command_error");
                if (!needAck)
                    throw;
            }
            catch (Exception e)
            {
                string msg = $"Internal error on command:\"{cmd}\"";
                _printer.Log?.Invoke($"{msg}\n{e}");
                _printer.InvokeShutdown(msg);
                RespondError(msg);
                if (!needAck)
                    throw;
            }
            gcmd.Ack();
        }
    }

    /// <summary>Runs a script from inside a command handler (the mutex is already held).</summary>
    public void RunScriptFromCommand(string script) => ProcessCommands(script.Split('\n'), needAck: false);

    /// <summary>Runs a script while holding the G-code mutex.</summary>
    public void RunScript(string script)
    {
        using var _ = _mutex.Lock();
        ProcessCommands(script.Split('\n'), needAck: false);
    }

    public ReactorMutex GetMutex() => _mutex;

    public GCodeCommand CreateGCodeCommand(string command, string commandline, Dictionary<string, string> parameters) =>
        new(this, command, commandline, parameters, false);

    // ---- responses

    public void RespondRaw(string msg)
    {
        foreach (var cb in _outputCallbacks.ToArray())
            cb(msg);
    }

    public void RespondInfo(string msg, bool log = true)
    {
        if (log)
            _printer.Log?.Invoke(msg);
        var lines = PyFormat.Strip(msg).Split('\n').Select(PyFormat.Strip);
        RespondRaw("// " + string.Join("\n// ", lines));
    }

    private void RespondError(string msg)
    {
        _printer.ReportError(msg);
        var lines = PyFormat.Strip(msg).Split('\n');
        if (lines.Length > 1)
            RespondInfo(string.Join("\n", lines), log: false);
        RespondRaw("!! " + PyFormat.Strip(lines[0]));
        _printer.LastError = PyFormat.Strip(lines[0]);
        if (_isFileinput)
            _printer.RequestExit("error_exit");
    }

    private void RespondState(string state) => RespondInfo($"Klipper state: {state}", log: false);

    /// <summary>Creates (does not throw) a command error.</summary>
    public CommandError Error(string msg) => new(msg);

    // ---- extended parameters

    private GCodeCommand GetExtendedParams(GCodeCommand gcmd)
    {
        string rawparams = gcmd.GetRawCommandParameters();
        var eparams = new Dictionary<string, string>();
        try
        {
            var pairs = new List<(string, string)>();
            foreach (var earg in Shlex.Split(rawparams))
            {
                int eq = earg.IndexOf('=');
                if (eq < 0)
                    throw new FormatException("not enough values to unpack");
                pairs.Add((earg[..eq], earg[(eq + 1)..]));
            }
            foreach (var (k, v) in pairs)
                eparams[k.ToUpperInvariant()] = v;
        }
        catch (FormatException)
        {
            throw Error($"Malformed command '{gcmd.GetCommandline()}'");
        }
        var p = gcmd.GetCommandParameters();
        p.Clear();
        foreach (var kv in eparams)
            p[kv.Key] = kv.Value;
        return gcmd;
    }

    // ---- special command handlers

    private void CmdDefault(GCodeCommand gcmd)
    {
        string cmd = gcmd.GetCommand();
        if (cmd == "M105")
        {
            // No warning for temperature requests while not ready
            gcmd.Ack("T:0");
            return;
        }
        if (cmd == "M21")
            return;
        if (!IsPrinterReady)
            throw gcmd.Error(_printer.StateMessage);
        if (cmd.Length == 0)
            return; // comment or empty line (upstream logs it at debug level)
        if (cmd.Contains(' '))
        {
            // M117/M118/M23 with numbers or special characters in their text
            string realcmd = cmd.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0];
            if (realcmd is "M117" or "M118" or "M23" && _gcodeHandlers.TryGetValue(realcmd, out var handler))
            {
                gcmd.SetCommand(realcmd);
                handler(gcmd);
                return;
            }
        }
        else if ((cmd == "M140" || cmd == "M104") && gcmd.GetFloat("S", 0.0) == 0.0)
        {
            return;
        }
        else if (cmd == "M107" || (cmd == "M106" && (gcmd.GetFloat("S", 1.0) == 0.0 || _isFileinput)))
        {
            return;
        }
        gcmd.RespondInfo($"Unknown command:\"{cmd}\"");
    }

    private void CmdMux(string command, GCodeCommand gcmd)
    {
        var entry = _muxCommands[command];
        string? keyParam = entry.TryGet(null, out _) ? gcmd.GetOrNull(entry.Key) : gcmd.Get(entry.Key);
        if (!entry.TryGet(keyParam, out var func))
        {
            var keys = new List<string>();
            string guess = "";
            foreach (var (value, _) in entry.Values)
            {
                if (value is null)
                    continue;
                keys.Add($"'{value}'");
                if (keyParam!.Length > 0 && value.Contains(keyParam, StringComparison.Ordinal))
                    guess = $". Did you mean '{value}'?";
            }
            if (guess.Length == 0)
                guess = ". Options: " + string.Join(", ", keys);
            throw gcmd.Error($"The value '{keyParam}' is not valid for {entry.Key}{guess}");
        }
        func(gcmd);
    }

    private void CmdM110(GCodeCommand gcmd)
    {
        // Set current line number: nothing to do
    }

    /// <summary>Emergency stop.</summary>
    public void CmdM112(GCodeCommand? gcmd) => _printer.InvokeShutdown("Shutdown due to M112 command");

    private void CmdM115(GCodeCommand gcmd)
    {
        string msg = $"FIRMWARE_NAME:Klipper FIRMWARE_VERSION:{SoftwareVersion}";
        if (!gcmd.Ack(msg))
            gcmd.RespondInfo(msg);
    }

    /// <summary>The version reported by M115 (upstream start_args software_version).</summary>
    public static string SoftwareVersion { get; set; } = "?";

    /// <summary>Finishes outstanding moves (when ready) and ends the run with <paramref name="result"/>.</summary>
    public void RequestRestart(string result)
    {
        if (IsPrinterReady)
        {
            var toolhead = _printer.LookupObject<ToolHead>("toolhead");
            double printTime = toolhead.GetLastMoveTime();
            if (result == "exit")
                _printer.Log?.Invoke($"Exiting (print time {printTime:F3}s)");
            _printer.SendEvent("gcode:request_restart", printTime);
            toolhead.Dwell(0.500);
            toolhead.WaitMoves();
        }
        _printer.RequestExit(result);
    }

    private void CmdRestart(GCodeCommand gcmd) => RequestRestart("restart");

    private void CmdFirmwareRestart(GCodeCommand gcmd) => RequestRestart("firmware_restart");

    private void CmdEcho(GCodeCommand gcmd) => gcmd.RespondInfo(gcmd.GetCommandline(), log: false);

    private void CmdStatus(GCodeCommand gcmd)
    {
        if (IsPrinterReady)
        {
            RespondState("Ready");
            return;
        }
        string msg = PyFormat.RStrip(_printer.StateMessage) + "\nKlipper state: Not ready";
        throw gcmd.Error(msg);
    }

    private void CmdHelp(GCodeCommand gcmd)
    {
        var cmdhelp = new List<string>();
        if (!IsPrinterReady)
            cmdhelp.Add("Printer is not ready - not all commands available.");
        cmdhelp.Add("Available extended commands:");
        foreach (var cmd in _gcodeHandlers.Keys.OrderBy(k => k, StringComparer.Ordinal))
            if (_gcodeHelp.TryGetValue(cmd, out var help))
                cmdhelp.Add($"{cmd,-10}: {help}");
        gcmd.RespondInfo(string.Join("\n", cmdhelp), log: false);
    }
}
