using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Tracks Idle/Printing/Ready and runs the idle G-Code after a timeout (upstream idle_timeout IdleTimeout).</summary>
public sealed class IdleTimeout : IStatusProvider
{
    public const string DefaultIdleGcode = "\n{% if 'heaters' in printer %}\n   TURN_OFF_HEATERS\n{% endif %}\nM84\n";
    public const double PinMinTime = 0.100;
    public const double ReadyTimeout = .500;
    public const string CmdSetIdleTimeoutHelp = "Set the idle timeout in seconds";

    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly GCodeDispatch _gcode;
    private ToolHead? _toolhead;
    private ReactorTimer? _timeoutTimer;
    private double _idleTimeout;
    private readonly TemplateWrapper _idleGcode;
    private string _state = "Idle";
    private double _lastPrintStartSystime;

    public IdleTimeout(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _idleTimeout = config.GetFloat("timeout", 600.0, above: 0.0);
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _idleGcode = gcodeMacro.LoadTemplate(config, "gcode", DefaultIdleGcode);
        _gcode.RegisterCommand("SET_IDLE_TIMEOUT", CmdSetIdleTimeout, desc: CmdSetIdleTimeoutHelp);
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        double printingTime = 0.0;
        if (_state == "Printing")
            printingTime = eventtime - _lastPrintStartSystime;
        return new Dictionary<string, object?>
        {
            ["state"] = _state,
            ["printing_time"] = printingTime,
            ["idle_timeout"] = _idleTimeout,
        };
    }

    private void HandleReady()
    {
        _toolhead = _printer.LookupObject<ToolHead>("toolhead");
        _timeoutTimer = _reactor.RegisterTimer(TimeoutHandler);
        _printer.RegisterEventHandler<(double, double, double)>("toolhead:sync_print_time", a => HandleSyncPrintTime(a.Item1, a.Item2, a.Item3));
    }

    private double TransitionIdleState(double eventtime)
    {
        _state = "Printing";
        try
        {
            string script = _idleGcode.Render();
            _gcode.RunScript(script);
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"idle timeout gcode execution: {e.Message}");
            _state = "Ready";
            return eventtime + 1.0;
        }
        double printTime = _toolhead!.GetLastMoveTime();
        _state = "Idle";
        _printer.SendEvent("idle_timeout:idle", printTime);
        return Reactor.Never;
    }

    private double CheckIdleTimeout(double eventtime)
    {
        var (printTime, estPrintTime, lookaheadEmpty) = _toolhead!.CheckBusy(eventtime);
        double idleTime = estPrintTime - printTime;
        if (!lookaheadEmpty || idleTime < 1.0)
            return eventtime + _idleTimeout;
        if (idleTime < _idleTimeout)
            return eventtime + _idleTimeout - idleTime;
        if (_gcode.GetMutex().Test())
            return eventtime + 1.0;
        return TransitionIdleState(eventtime);
    }

    private double TimeoutHandler(double eventtime)
    {
        if (_printer.IsShutdown)
            return Reactor.Never;
        if (_state == "Ready")
            return CheckIdleTimeout(eventtime);
        var (printTime, estPrintTime, lookaheadEmpty) = _toolhead!.CheckBusy(eventtime);
        double bufferTime = Math.Min(2.0, printTime - estPrintTime);
        if (!lookaheadEmpty)
            return eventtime + ReadyTimeout + Math.Max(0.0, bufferTime);
        if (bufferTime > -ReadyTimeout)
            return eventtime + ReadyTimeout + bufferTime;
        if (_gcode.GetMutex().Test())
            return eventtime + ReadyTimeout;
        _state = "Ready";
        _printer.SendEvent("idle_timeout:ready", estPrintTime + PinMinTime);
        return eventtime + _idleTimeout;
    }

    /// <summary>toolhead:sync_print_time handler (curtime, print_time, est_print_time).</summary>
    public void HandleSyncPrintTime(double curtime, double printTime, double estPrintTime)
    {
        if (_state == "Printing")
            return;
        _state = "Printing";
        _lastPrintStartSystime = curtime;
        double checkTime = ReadyTimeout + printTime - estPrintTime;
        _reactor.UpdateTimer(_timeoutTimer!, curtime + checkTime);
        _printer.SendEvent("idle_timeout:printing", estPrintTime + PinMinTime);
    }

    private void CmdSetIdleTimeout(GCodeCommand gcmd)
    {
        double timeout = gcmd.GetFloat("TIMEOUT", _idleTimeout, above: 0.0);
        _idleTimeout = timeout;
        gcmd.RespondInfo($"idle_timeout: Timeout set to {PyFmt.F(timeout, 2)} s");
        if (_state == "Ready")
        {
            double checktime = _reactor.Monotonic() + timeout;
            _reactor.UpdateTimer(_timeoutTimer!, checktime);
        }
    }
}
