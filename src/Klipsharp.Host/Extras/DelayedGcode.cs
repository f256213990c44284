using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[delayed_gcode NAME]: a G-Code template run from a timer (upstream DelayedGcode).</summary>
public sealed class DelayedGcode
{
    public const string CmdUpdateDelayedGcodeHelp = "Update the duration of a delayed_gcode";
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly GCodeDispatch _gcode;
    private readonly TemplateWrapper _timerGcode;
    private double _duration;
    private ReactorTimer? _timerHandler;
    private bool _insideTimer, _repeat;

    public DelayedGcode(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        string name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _timerGcode = gcodeMacro.LoadTemplate(config, "gcode");
        _duration = config.GetFloat("initial_duration", 0.0, minval: 0.0);
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _gcode.RegisterMuxCommand("UPDATE_DELAYED_GCODE", "ID", name, CmdUpdateDelayedGcode, desc: CmdUpdateDelayedGcodeHelp);
    }

    private void HandleReady()
    {
        double waketime = Reactor.Never;
        if (_duration != 0.0)
            waketime = _reactor.Monotonic() + _duration;
        _timerHandler = _reactor.RegisterTimer(GcodeTimerEvent, waketime);
    }

    private double GcodeTimerEvent(double eventtime)
    {
        _insideTimer = true;
        try
        {
            _gcode.RunScript(_timerGcode.Render());
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"Script running error: {e.Message}");
        }
        double nextwake = Reactor.Never;
        if (_repeat)
            nextwake = eventtime + _duration;
        _insideTimer = _repeat = false;
        return nextwake;
    }

    private void CmdUpdateDelayedGcode(GCodeCommand gcmd)
    {
        _duration = gcmd.GetFloat("DURATION", minval: 0.0);
        if (_insideTimer)
        {
            _repeat = _duration != 0.0;
        }
        else
        {
            double waketime = Reactor.Never;
            if (_duration != 0.0)
                waketime = _reactor.Monotonic() + _duration;
            _reactor.UpdateTimer(_timerHandler!, waketime);
        }
    }
}
