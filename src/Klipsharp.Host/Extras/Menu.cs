using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>Menu button tracking: encoder, click (short/long) and extra buttons (upstream display/menu_keys MenuKeys).</summary>
public sealed class MenuKeys
{
    public const double LongPressDuration = 0.800;
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly Action<string, double> _callback;
    private readonly double _encoderFastRate;
    private double _lastEncoderCwEventtime, _lastEncoderCcwEventtime;
    private bool _isShortClick;
    private readonly ReactorTimer _clickTimer;

    public MenuKeys(ConfigWrapper config, Action<string, double> callback)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _callback = callback;
        var buttons = _printer.LoadObject<PrinterButtons>(config, "buttons");
        string? encoderPins = config.GetOrNull("encoder_pins");
        int stepsPerDetent = config.GetChoice("encoder_steps_per_detent", new Dictionary<int, int> { [2] = 2, [4] = 4 }, 4);
        if (encoderPins is not null)
        {
            var parts = encoderPins.Split(',');
            if (parts.Length != 2)
                throw config.Error("Unable to parse encoder_pins");
            buttons.RegisterRotaryEncoder(parts[0].Trim(), parts[1].Trim(), EncoderCwCallback, EncoderCcwCallback, stepsPerDetent);
        }
        _encoderFastRate = config.GetFloat("encoder_fast_rate", .030, above: 0.0);
        _clickTimer = _reactor.RegisterTimer(LongClickEvent);
        RegisterButton(config, "click_pin", ClickCallback, pushOnly: false);
        RegisterButton(config, "back_pin", (e, s) => _callback("back", e));
        RegisterButton(config, "up_pin", (e, s) => _callback("up", e));
        RegisterButton(config, "down_pin", (e, s) => _callback("down", e));
        RegisterButton(config, "kill_pin", (e, s) => _printer.InvokeShutdown("Shutdown due to kill button!"));
    }

    private void RegisterButton(ConfigWrapper config, string name, Action<double, int> callback, bool pushOnly = true)
    {
        string? pin = config.GetOrNull(name);
        if (pin is null)
            return;
        var buttons = _printer.LookupObject<PrinterButtons>("buttons");
        if (config.GetOrNull("analog_range_" + name) is null)
        {
            if (pushOnly)
                buttons.RegisterButtonPush(pin, e => callback(e, 1));
            else
                buttons.RegisterButtons([pin], callback);
            return;
        }
        var range = config.GetFloatList("analog_range_" + name, count: 2);
        double pullup = config.GetFloat("analog_pullup_resistor", 4700.0, above: 0.0);
        if (pushOnly)
            buttons.RegisterAdcButtonPush(pin, range[0], range[1], pullup, e => callback(e, 1));
        else
            buttons.RegisterAdcButton(pin, range[0], range[1], pullup, callback);
    }

    private void EncoderCwCallback(double eventtime)
    {
        bool fastRate = eventtime - _lastEncoderCwEventtime <= _encoderFastRate;
        _lastEncoderCwEventtime = eventtime;
        _callback(fastRate ? "fast_up" : "up", eventtime);
    }

    private void EncoderCcwCallback(double eventtime)
    {
        bool fastRate = eventtime - _lastEncoderCcwEventtime <= _encoderFastRate;
        _lastEncoderCcwEventtime = eventtime;
        _callback(fastRate ? "fast_down" : "down", eventtime);
    }

    private double LongClickEvent(double eventtime)
    {
        _isShortClick = false;
        _callback("long_click", eventtime);
        return Reactor.Never;
    }

    private void ClickCallback(double eventtime, int state)
    {
        if (state != 0)
        {
            _isShortClick = true;
            _reactor.UpdateTimer(_clickTimer, eventtime + LongPressDuration);
        }
        else if (_isShortClick)
        {
            _reactor.UpdateTimer(_clickTimer, Reactor.Never);
            _callback("click", eventtime);
        }
    }
}

/// <summary>
/// The LCD menu (upstream display/menu MenuManager). This build sets up the menu's
/// buttons and configuration; the interactive menu tree is not available, so the
/// display always shows its status screen.
/// </summary>
public sealed class MenuManager : IStatusProvider
{
    private readonly int _cols, _rows;
    private readonly int _timeout;

    public MenuManager(ConfigWrapper config, PrinterLCD display)
    {
        var printer = config.GetPrinter();
        config.Get("menu_root", "__main");
        (_cols, _rows) = display.GetDimensions();
        _timeout = config.GetInt("menu_timeout", 0);
        config.GetBoolean("menu_reverse_navigation", false);
        printer.LoadObject(config, "gcode_macro");
        printer.AddObject("menu", this);
        _ = new MenuKeys(config, KeyEvent);
        // [menu ...] sections of the main config are accepted (their options are read)
        foreach (var section in config.GetPrefixSections("menu "))
            foreach (var option in section.GetOptionNames())
                section.Get(option);
    }

    private void KeyEvent(string key, double eventtime)
    {
    }

    /// <summary>True when the menu drew the screen (never: the menu is not running).</summary>
    public bool ScreenUpdateEvent(double eventtime) => false;

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["timeout"] = (long)_timeout,
        ["running"] = false,
        ["rows"] = (long)_rows,
        ["cols"] = (long)_cols,
    };
}
