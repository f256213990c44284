using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[controller_fan NAME]: cools the electronics while steppers or heaters are active (upstream ControllerFan).</summary>
public sealed class ControllerFan : IStatusProvider
{
    private const double PinMinTime = 0.100;
    private readonly Printer _printer;
    private IReadOnlyList<string>? _stepperNames;
    private readonly PrinterStepperEnable _stepperEnable;
    private List<Heater> _heaters = new();
    private readonly Fan _fan;
    private readonly double _fanSpeed, _idleSpeed;
    private readonly int _idleTimeout;
    private readonly IReadOnlyList<string> _heaterNames;
    private int _lastOn;
    private double _lastSpeed;

    public ControllerFan(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _stepperNames = config.GetListOrNull("stepper");
        _stepperEnable = _printer.LoadObject<PrinterStepperEnable>(config, "stepper_enable");
        _printer.LoadObject(config, "heaters");
        _fan = new Fan(config);
        _fanSpeed = config.GetFloat("fan_speed", 1.0, minval: 0.0, maxval: 1.0);
        _idleSpeed = config.GetFloat("idle_speed", _fanSpeed, minval: 0.0, maxval: 1.0);
        _idleTimeout = config.GetInt("idle_timeout", 30, minval: 0);
        _heaterNames = config.GetList("heater", ["extruder"]);
        _lastOn = _idleTimeout;
    }

    private void HandleConnect()
    {
        var pheaters = _printer.LookupObject<PrinterHeaters>("heaters");
        _heaters = _heaterNames.Select(pheaters.LookupHeater).ToList();
        var allSteppers = _stepperEnable.GetSteppers();
        if (_stepperNames is null)
        {
            _stepperNames = allSteppers;
            return;
        }
        if (!_stepperNames.All(allSteppers.Contains))
            throw new ConfigError(
                $"One or more of these steppers are unknown: {PyRepr.List(_stepperNames)} (valid steppers are: {string.Join(", ", allSteppers)})");
    }

    private void HandleReady()
    {
        var reactor = _printer.Reactor;
        reactor.RegisterTimer(Callback, reactor.Monotonic() + PinMinTime);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _fan.GetStatus(eventtime);

    private double Callback(double eventtime)
    {
        double speed = 0.0;
        bool active = false;
        foreach (var name in _stepperNames!)
            active |= _stepperEnable.LookupEnable(name).IsMotorEnabled();
        foreach (var heater in _heaters)
        {
            var (_, targetTemp) = heater.GetTemp(eventtime);
            if (targetTemp != 0.0)
                active = true;
        }
        if (active)
        {
            _lastOn = 0;
            speed = _fanSpeed;
        }
        else if (_lastOn < _idleTimeout)
        {
            speed = _idleSpeed;
            _lastOn++;
        }
        if (speed != _lastSpeed)
        {
            _lastSpeed = speed;
            _fan.SetSpeed(speed);
        }
        return eventtime + 1.0;
    }
}
