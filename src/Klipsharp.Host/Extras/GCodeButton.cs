using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[gcode_button NAME]: runs G-Code on button press/release (upstream gcode_button.GCodeButton).</summary>
public sealed class GCodeButton : IStatusProvider
{
    public const string CmdQueryButtonHelp = "Report on the state of a button";
    private readonly Printer _printer;
    private readonly string _name;
    private int _lastState;
    private readonly TemplateWrapper _pressTemplate, _releaseTemplate;
    private readonly GCodeDispatch _gcode;

    public GCodeButton(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _name = config.Name.Split(' ')[^1];
        string pin = config.Get("pin");
        var buttons = _printer.LoadObject<PrinterButtons>(config, "buttons");
        if (config.GetOrNull("analog_range") is null)
            buttons.RegisterDebounceButton(pin, ButtonCallback, config);
        else
        {
            var range = config.GetFloatList("analog_range", count: 2);
            double pullup = config.GetFloat("analog_pullup_resistor", 4700.0, above: 0.0);
            buttons.RegisterDebounceAdcButton(pin, range[0], range[1], pullup, ButtonCallback, config);
        }
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _pressTemplate = gcodeMacro.LoadTemplate(config, "press_gcode");
        _releaseTemplate = gcodeMacro.LoadTemplate(config, "release_gcode", "");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterMuxCommand("QUERY_BUTTON", "BUTTON", _name, CmdQueryButton, desc: CmdQueryButtonHelp);
    }

    private void CmdQueryButton(GCodeCommand gcmd) => gcmd.RespondInfo(_name + ": " + (string)GetStatus(0.0)["state"]!);

    private void ButtonCallback(double eventtime, int state)
    {
        _lastState = state;
        var template = state != 0 ? _pressTemplate : _releaseTemplate;
        try
        {
            string commands = template.Render();
            if (PyFormat.Strip(commands).Length == 0)
                return;
            _gcode.RunScript(commands);
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"Script running error: {e.Message}");
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime) =>
        new() { ["state"] = _lastState != 0 ? "PRESSED" : "RELEASED" };
}
