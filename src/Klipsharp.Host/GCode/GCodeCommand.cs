using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.GCode;

/// <summary>One parsed G-code command and its parameters (upstream gcode.GCodeCommand, "gcmd").</summary>
public sealed class GCodeCommand
{
    private readonly GCodeDispatch _gcode;
    private string _command;
    private readonly string _commandline;
    private readonly Dictionary<string, string> _params;
    private bool _needAck;

    public GCodeCommand(GCodeDispatch gcode, string command, string commandline,
                        Dictionary<string, string> parameters, bool needAck)
    {
        _gcode = gcode;
        _command = command;
        _commandline = commandline;
        _params = parameters;
        _needAck = needAck;
    }

    public string GetCommand() => _command;

    public string GetCommandline() => _commandline;

    /// <summary>The parameter dictionary (live; keys are upper case).</summary>
    public Dictionary<string, string> GetCommandParameters() => _params;

    internal void SetCommand(string command) => _command = command;

    /// <summary>The text after the command name, without any line number or checksum.</summary>
    public string GetRawCommandParameters()
    {
        string command = _command;
        string origline = _commandline;
        int paramStart = command.Length;
        int paramEnd = origline.Length;
        string head = origline.Length >= paramStart ? origline[..paramStart] : origline;
        if (head.ToUpperInvariant() != command)
        {
            // Skip a leading line number and a trailing checksum
            paramStart += origline.ToUpperInvariant().IndexOf(command, StringComparison.Ordinal);
            int end = origline.LastIndexOf('*');
            if (end >= 0 && IsPyDigits(origline.AsSpan(end + 1)))
                paramEnd = end;
        }
        if (paramStart >= 0 && paramStart < origline.Length && PyFormat.IsSpace(origline[paramStart]))
            paramStart += 1;
        return PySlice(origline, paramStart, paramEnd);
    }

    // Python's s[a:b] with negative indexes and clamping.
    internal static string PySlice(string s, int start, int end)
    {
        int n = s.Length;
        if (start < 0) start = Math.Max(0, start + n);
        if (end < 0) end = Math.Max(0, end + n);
        start = Math.Min(start, n);
        end = Math.Min(end, n);
        return end > start ? s[start..end] : "";
    }

    private static bool IsPyDigits(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty)
            return false;
        foreach (char c in s)
            if (!char.IsDigit(c))
                return false;
        return true;
    }

    /// <summary>Sends "ok" (with an optional message) when the command still needs one; true if sent.</summary>
    public bool Ack(string? msg = null)
    {
        if (!_needAck)
            return false;
        string okMsg = string.IsNullOrEmpty(msg) ? "ok" : "ok " + msg;
        RespondRaw(okMsg);
        _needAck = false;
        return true;
    }

    public void RespondInfo(string msg, bool log = true) => _gcode.RespondInfo(msg, log);

    public void RespondRaw(string msg) => _gcode.RespondRaw(msg);

    /// <summary>Creates (does not throw) a command error with <paramref name="msg"/>.</summary>
    public CommandError Error(string msg) => new(msg);

    // ---- parameter helpers

    private string? Raw(string name) => _params.TryGetValue(name, out var v) ? v : null;

    private CommandError Missing(string name) => Error($"Error on '{_commandline}': missing {name}");

    private CommandError Unparsable(string value) => Error($"Error on '{_commandline}': unable to parse {value}");

    /// <summary>A string parameter; throws "missing" when absent and no default is given.</summary>
    public string Get(string name, string? @default = null)
    {
        string? v = Raw(name);
        if (v is null)
            return @default ?? throw Missing(name);
        return v;
    }

    /// <summary>A string parameter or null when absent (upstream default=None).</summary>
    public string? GetOrNull(string name) => Raw(name);

    public int GetInt(string name, int? @default = null, int? minval = null, int? maxval = null) =>
        GetIntOrNullCore(name, @default, minval, maxval, @default is null) ?? 0;

    /// <summary>An integer parameter or null when absent (upstream default=None).</summary>
    public int? GetIntOrNull(string name, int? minval = null, int? maxval = null) =>
        GetIntOrNullCore(name, null, minval, maxval, false);

    private int? GetIntOrNullCore(string name, int? @default, int? minval, int? maxval, bool required)
    {
        string? v = Raw(name);
        if (v is null)
        {
            if (required)
                throw Missing(name);
            return @default;
        }
        if (!PyFormat.TryParseInt(v, out long lv) || lv < int.MinValue || lv > int.MaxValue)
            throw Unparsable(v);
        int value = (int)lv;
        if (minval is not null && value < minval)
            throw Error($"Error on '{_commandline}': {name} must have minimum of {minval}");
        if (maxval is not null && value > maxval)
            throw Error($"Error on '{_commandline}': {name} must have maximum of {maxval}");
        return value;
    }

    public double GetFloat(string name, double? @default = null, double? minval = null, double? maxval = null,
                           double? above = null, double? below = null) =>
        GetFloatCore(name, @default, minval, maxval, above, below, @default is null) ?? 0.0;

    /// <summary>A float parameter or null when absent (upstream default=None).</summary>
    public double? GetFloatOrNull(string name, double? minval = null, double? maxval = null,
                                  double? above = null, double? below = null) =>
        GetFloatCore(name, null, minval, maxval, above, below, false);

    private double? GetFloatCore(string name, double? @default, double? minval, double? maxval,
                                 double? above, double? below, bool required)
    {
        string? v = Raw(name);
        if (v is null)
        {
            if (required)
                throw Missing(name);
            return @default;
        }
        if (!PyFormat.TryParseFloat(v, out double value))
            throw Unparsable(v);
        if (minval is double mn && value < mn)
            throw Error($"Error on '{_commandline}': {name} must have minimum of {PyFormat.Repr(mn)}");
        if (maxval is double mx && value > mx)
            throw Error($"Error on '{_commandline}': {name} must have maximum of {PyFormat.Repr(mx)}");
        if (above is double ab && value <= ab)
            throw Error($"Error on '{_commandline}': {name} must be above {PyFormat.Repr(ab)}");
        if (below is double bl && value >= bl)
            throw Error($"Error on '{_commandline}': {name} must be below {PyFormat.Repr(bl)}");
        return value;
    }
}
