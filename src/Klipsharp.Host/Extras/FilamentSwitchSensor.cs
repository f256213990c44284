using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Runout/insert handling shared by filament sensors (upstream filament_switch_sensor.RunoutHelper).</summary>
public sealed class RunoutHelper : IStatusProvider
{
    public const string CmdQueryFilamentSensorHelp = "Query the status of the Filament Sensor";
    public const string CmdSetFilamentSensorHelp = "Sets the filament sensor on/off";

    private readonly string _name;
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly GCodeDispatch _gcode;
    private readonly bool _runoutPause;
    private readonly TemplateWrapper? _runoutGcode, _insertGcode;
    private readonly double _pauseDelay, _eventDelay;
    private double _minEventSystime = Reactor.Never;
    private bool _filamentPresent;
    private bool _sensorEnabled = true;

    public RunoutHelper(ConfigWrapper config)
    {
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _runoutPause = config.GetBoolean("pause_on_runout", true);
        if (_runoutPause)
            _printer.LoadObject(config, "pause_resume");
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        if (_runoutPause || config.GetOrNull("runout_gcode") is not null)
            _runoutGcode = gcodeMacro.LoadTemplate(config, "runout_gcode", "");
        if (config.GetOrNull("insert_gcode") is not null)
            _insertGcode = gcodeMacro.LoadTemplate(config, "insert_gcode");
        _pauseDelay = config.GetFloat("pause_delay", .5, above: .0);
        _eventDelay = config.GetFloat("event_delay", 3.0, minval: .0);
        _printer.RegisterEventHandler("klippy:ready", () => { _minEventSystime = _reactor.Monotonic() + 2.0; });
        _gcode.RegisterMuxCommand("QUERY_FILAMENT_SENSOR", "SENSOR", _name, CmdQueryFilamentSensor, desc: CmdQueryFilamentSensorHelp);
        _gcode.RegisterMuxCommand("SET_FILAMENT_SENSOR", "SENSOR", _name, CmdSetFilamentSensor, desc: CmdSetFilamentSensorHelp);
    }

    private void RunoutEventHandler(double eventtime)
    {
        string pausePrefix = "";
        if (_runoutPause)
        {
            _printer.LookupObject<PauseResume>("pause_resume").SendPauseCommand();
            pausePrefix = "PAUSE\n";
            _reactor.Pause(eventtime + _pauseDelay);
        }
        ExecGcode(pausePrefix, _runoutGcode!);
    }

    private void ExecGcode(string prefix, TemplateWrapper template)
    {
        try
        {
            _gcode.RunScript(prefix + template.Render() + "\nM400");
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"Script running error: {e.Message}");
        }
        _minEventSystime = _reactor.Monotonic() + _eventDelay;
    }

    public void NoteFilamentPresent(double eventtime, bool isFilamentPresent)
    {
        if (isFilamentPresent == _filamentPresent)
            return;
        _filamentPresent = isFilamentPresent;
        if (eventtime < _minEventSystime || !_sensorEnabled)
            return;
        double now = _reactor.Monotonic();
        var idleTimeout = _printer.LookupObject<IStatusProvider>("idle_timeout");
        bool isPrinting = idleTimeout.GetStatus(now)["state"] as string == "Printing";
        if (isFilamentPresent)
        {
            if (!isPrinting && _insertGcode is not null)
            {
                _minEventSystime = Reactor.Never;
                _printer.Log?.Invoke($"Filament Sensor {_name}: insert event detected, Time {PyFmt.F(now, 2)}");
                _reactor.RegisterCallback(_ => ExecGcode("", _insertGcode));
            }
        }
        else if (isPrinting && _runoutGcode is not null)
        {
            _minEventSystime = Reactor.Never;
            _printer.Log?.Invoke($"Filament Sensor {_name}: runout event detected, Time {PyFmt.F(now, 2)}");
            _reactor.RegisterCallback(RunoutEventHandler);
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["filament_detected"] = _filamentPresent,
        ["enabled"] = _sensorEnabled,
    };

    private void CmdQueryFilamentSensor(GCodeCommand gcmd) =>
        gcmd.RespondInfo(_filamentPresent
            ? $"Filament Sensor {_name}: filament detected"
            : $"Filament Sensor {_name}: filament not detected");

    private void CmdSetFilamentSensor(GCodeCommand gcmd) => _sensorEnabled = gcmd.GetInt("ENABLE", 1) != 0;
}

/// <summary>[filament_switch_sensor NAME]: a switch that reports filament presence (upstream SwitchSensor).</summary>
public sealed class SwitchSensor : IStatusProvider
{
    private readonly RunoutHelper _runoutHelper;

    public SwitchSensor(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        var buttons = printer.LoadObject<PrinterButtons>(config, "buttons");
        string switchPin = config.Get("switch_pin");
        buttons.RegisterDebounceButton(switchPin, ButtonHandler, config);
        _runoutHelper = new RunoutHelper(config);
    }

    private void ButtonHandler(double eventtime, int state) => _runoutHelper.NoteFilamentPresent(eventtime, state != 0);

    public Dictionary<string, object?> GetStatus(double eventtime) => _runoutHelper.GetStatus(eventtime);
}
