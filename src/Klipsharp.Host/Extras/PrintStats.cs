using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Print job state, durations and filament use (upstream print_stats PrintStats).</summary>
public sealed class PrintStats : IStatusProvider
{
    public const string CmdSetPrintStatsInfoHelp = "Pass slicer info like layer act and total to klipper";
    private readonly Printer _printer;
    private readonly GCodeMove _gcodeMove;
    private readonly Reactor _reactor;
    private string _filename = "", _errorMessage = "", _state = "standby";
    private double _prevPauseDuration, _lastEpos, _filamentUsed, _totalDuration, _initDuration;
    private double? _printStartTime, _lastPauseTime;
    private int? _infoTotalLayer, _infoCurrentLayer;

    public PrintStats(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        _reactor = _printer.Reactor;
        Reset();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("SET_PRINT_STATS_INFO", CmdSetPrintStatsInfo, desc: CmdSetPrintStatsInfoHelp);
        _printer.RegisterEventHandler("extruder:activate_extruder", HandleActivateExtruder);
    }

    private double EPos(double eventtime) => PositionE(_gcodeMove.GetStatus(eventtime)["position"]);

    private static double PositionE(object? pos) => pos switch
    {
        Coord c => c.E,
        IReadOnlyList<double> l => l[3],
        _ => 0.0,
    };

    private void HandleActivateExtruder() => _lastEpos = EPos(0.0);

    private void UpdateFilamentUsage(double eventtime)
    {
        var gcStatus = _gcodeMove.GetStatus(eventtime);
        double curEpos = PositionE(gcStatus["position"]);
        double extrudeFactor = Convert.ToDouble(gcStatus["extrude_factor"], System.Globalization.CultureInfo.InvariantCulture);
        _filamentUsed += (curEpos - _lastEpos) / extrudeFactor;
        _lastEpos = curEpos;
    }

    public void SetCurrentFile(string filename)
    {
        Reset();
        _filename = filename;
    }

    public void NoteStart()
    {
        double curtime = _reactor.Monotonic();
        if (_printStartTime is null)
            _printStartTime = curtime;
        else if (_lastPauseTime is double lpt)
        {
            _prevPauseDuration += curtime - lpt;
            _lastPauseTime = null;
        }
        _lastEpos = EPos(curtime);
        _state = "printing";
        _errorMessage = "";
    }

    public void NotePause()
    {
        if (_lastPauseTime is null)
        {
            double curtime = _reactor.Monotonic();
            _lastPauseTime = curtime;
            UpdateFilamentUsage(curtime);
        }
        if (_state != "error")
            _state = "paused";
    }

    public void NoteComplete() => NoteFinish("complete");

    public void NoteError(string message) => NoteFinish("error", message);

    public void NoteCancel() => NoteFinish("cancelled");

    private void NoteFinish(string state, string errorMessage = "")
    {
        if (_printStartTime is null)
            return;
        _state = state;
        _errorMessage = errorMessage;
        double eventtime = _reactor.Monotonic();
        _totalDuration = eventtime - _printStartTime.Value;
        if (_filamentUsed < 0.0000001)
            _initDuration = _totalDuration - _prevPauseDuration;
        _printStartTime = null;
    }

    private void CmdSetPrintStatsInfo(GCodeCommand gcmd)
    {
        int? totalLayer = _infoTotalLayer is int t ? gcmd.GetInt("TOTAL_LAYER", t, minval: 0) : gcmd.GetIntOrNull("TOTAL_LAYER", minval: 0);
        int? currentLayer = _infoCurrentLayer is int c ? gcmd.GetInt("CURRENT_LAYER", c, minval: 0) : gcmd.GetIntOrNull("CURRENT_LAYER", minval: 0);
        if (totalLayer == 0)
        {
            _infoTotalLayer = null;
            _infoCurrentLayer = null;
        }
        else if (totalLayer != _infoTotalLayer)
        {
            _infoTotalLayer = totalLayer;
            _infoCurrentLayer = 0;
        }
        if (_infoTotalLayer is not null && currentLayer is not null && currentLayer != _infoCurrentLayer)
            _infoCurrentLayer = Math.Min(currentLayer.Value, _infoTotalLayer.Value);
    }

    public void Reset()
    {
        _filename = _errorMessage = "";
        _state = "standby";
        _prevPauseDuration = _lastEpos = 0.0;
        _filamentUsed = _totalDuration = 0.0;
        _printStartTime = _lastPauseTime = null;
        _initDuration = 0.0;
        _infoTotalLayer = null;
        _infoCurrentLayer = null;
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        double timePaused = _prevPauseDuration;
        if (_printStartTime is double pst)
        {
            if (_lastPauseTime is double lpt)
                timePaused += eventtime - lpt;
            else
                UpdateFilamentUsage(eventtime);
            _totalDuration = eventtime - pst;
            if (_filamentUsed < 0.0000001)
                _initDuration = _totalDuration - timePaused;
        }
        double printDuration = _totalDuration - _initDuration - timePaused;
        return new Dictionary<string, object?>
        {
            ["filename"] = _filename,
            ["total_duration"] = _totalDuration,
            ["print_duration"] = printDuration,
            ["filament_used"] = _filamentUsed,
            ["state"] = _state,
            ["message"] = _errorMessage,
            ["info"] = new Dictionary<string, object?>
            {
                ["total_layer"] = _infoTotalLayer is int tl ? (long)tl : null,
                ["current_layer"] = _infoCurrentLayer is int cl ? (long)cl : null,
            },
        };
    }
}
