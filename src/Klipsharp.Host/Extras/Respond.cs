using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>M118 and RESPOND: echo messages to the host (upstream respond HostResponder).</summary>
public sealed class HostResponder
{
    public const string CmdRespondHelp = "Echo the message prepended with a prefix";
    private static readonly Dictionary<string, string> RespondTypes = new() { ["echo"] = "echo:", ["command"] = "//", ["error"] = "!!" };
    private static readonly Dictionary<string, string> RespondTypesNoSpace = new() { ["echo_no_space"] = "echo:" };
    private readonly string _defaultPrefix;

    public HostResponder(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        string prefix = config.GetChoice("default_type", RespondTypes, "echo");
        _defaultPrefix = config.Get("default_prefix", prefix);
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("M118", CmdM118, whenNotReady: true);
        gcode.RegisterCommand("RESPOND", CmdRespond, whenNotReady: true, desc: CmdRespondHelp);
    }

    private void CmdM118(GCodeCommand gcmd)
    {
        string msg = gcmd.GetRawCommandParameters();
        gcmd.RespondRaw($"{_defaultPrefix} {msg}");
    }

    private void CmdRespond(GCodeCommand gcmd)
    {
        bool noSpace = false;
        string? respondType = gcmd.GetOrNull("TYPE");
        string prefix = _defaultPrefix;
        if (respondType is not null)
        {
            respondType = respondType.ToLowerInvariant();
            if (RespondTypes.TryGetValue(respondType, out var p))
                prefix = p;
            else if (RespondTypesNoSpace.TryGetValue(respondType, out var p2))
            {
                prefix = p2;
                noSpace = true;
            }
            else
                throw gcmd.Error($"RESPOND TYPE '{respondType}' is invalid. Must be one of 'echo', 'command', or 'error'");
        }
        prefix = gcmd.Get("PREFIX", prefix);
        string msg = gcmd.Get("MSG", "");
        gcmd.RespondRaw(noSpace ? $"{prefix}{msg}" : $"{prefix} {msg}");
    }
}
