using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>QUERY_ENDSTOPS/M119: reports each endstop's state (upstream query_endstops QueryEndstops).</summary>
public sealed class QueryEndstops : IEndstopRegistry, IStatusProvider
{
    public const string CmdQueryEndstopsHelp = "Report on the status of each endstop";
    private readonly Printer _printer;
    private readonly List<(IMcuEndstop Endstop, string Name)> _endstops = new();
    private List<(string Name, int State)> _lastState = new();

    public QueryEndstops(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("QUERY_ENDSTOPS", CmdQueryEndstops, desc: CmdQueryEndstopsHelp);
        gcode.RegisterCommand("M119", CmdQueryEndstops);
    }

    public void RegisterEndstop(IMcuEndstop endstop, string name) => _endstops.Add((endstop, name));

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var lastQuery = new Dictionary<string, object?>();
        foreach (var (name, value) in _lastState)
            lastQuery[name] = (long)value;
        return new Dictionary<string, object?> { ["last_query"] = lastQuery };
    }

    /// <summary>Queries all endstops now (also used by the API's query_endstops/status).</summary>
    public Dictionary<string, string> QueryAll()
    {
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        _lastState = _endstops.Select(e => (e.Name, e.Endstop.QueryEndstop(printTime))).ToList();
        var res = new Dictionary<string, string>();
        foreach (var (name, t) in _lastState)
            res[name] = t != 0 ? "TRIGGERED" : "open";
        return res;
    }

    private void CmdQueryEndstops(GCodeCommand gcmd)
    {
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        _lastState = _endstops.Select(e => (e.Name, e.Endstop.QueryEndstop(printTime))).ToList();
        string msg = string.Join(" ", _lastState.Select(s => $"{s.Name}:{(s.State != 0 ? "TRIGGERED" : "open")}"));
        gcmd.RespondRaw(msg);
    }
}
