using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[heater_fan NAME]: a fan that runs while a heater is hot (upstream PrinterHeaterFan).</summary>
public sealed class PrinterHeaterFan : IStatusProvider
{
    private const double PinMinTime = 0.100;
    private readonly Printer _printer;
    private readonly IReadOnlyList<string> _heaterNames;
    private readonly double _heaterTemp;
    private readonly Fan _fan;
    private readonly double _fanSpeed;
    private List<Heater> _heaters = new();
    private double _lastSpeed;

    public PrinterHeaterFan(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.LoadObject(config, "heaters");
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _heaterNames = config.GetList("heater", ["extruder"]);
        _heaterTemp = config.GetFloat("heater_temp", 50.0);
        _fan = new Fan(config, defaultShutdownSpeed: 1.0);
        _fanSpeed = config.GetFloat("fan_speed", 1.0, minval: 0.0, maxval: 1.0);
    }

    private void HandleReady()
    {
        var pheaters = _printer.LookupObject<PrinterHeaters>("heaters");
        _heaters = _heaterNames.Select(pheaters.LookupHeater).ToList();
        var reactor = _printer.Reactor;
        reactor.RegisterTimer(Callback, reactor.Monotonic() + PinMinTime);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _fan.GetStatus(eventtime);

    private double Callback(double eventtime)
    {
        double speed = 0.0;
        foreach (var heater in _heaters)
        {
            var (currentTemp, targetTemp) = heater.GetTemp(eventtime);
            if (targetTemp != 0.0 || currentTemp > _heaterTemp)
                speed = _fanSpeed;
        }
        if (speed != _lastSpeed)
        {
            _lastSpeed = speed;
            _fan.SetSpeed(speed);
        }
        return eventtime + 1.0;
    }
}
