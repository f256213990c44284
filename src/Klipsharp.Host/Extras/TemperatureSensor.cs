using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[temperature_sensor NAME]: a monitored temperature (upstream PrinterSensorGeneric).</summary>
public sealed class PrinterSensorGeneric : ITemperatureSource, IStatusProvider, IStatsProvider
{
    private const double KelvinToCelsius = -273.15;
    private readonly string _name;
    private double _lastTemp, _measuredMin = 99999999.0, _measuredMax;

    public PrinterSensorGeneric(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        var pheaters = printer.LoadObject<PrinterHeaters>(config, "heaters");
        Sensor = pheaters.SetupSensor(config);
        double minTemp = config.GetFloat("min_temp", KelvinToCelsius, minval: KelvinToCelsius);
        double maxTemp = config.GetFloat("max_temp", 99999999.9, above: minTemp);
        Sensor.SetupMinMax(minTemp, maxTemp);
        Sensor.SetupCallback(TemperatureCallback);
        pheaters.RegisterSensor(config, this);
    }

    public ITemperatureSensor Sensor { get; }

    private void TemperatureCallback(double readTime, double temp)
    {
        _lastTemp = temp;
        if (temp != 0.0)
        {
            _measuredMin = Math.Min(_measuredMin, temp);
            _measuredMax = Math.Max(_measuredMax, temp);
        }
    }

    public (double Temp, double Target) GetTemp(double eventtime) => (_lastTemp, 0.0);

    public (bool IsActive, string Message) Stats(double eventtime) => (false, $"{_name}: temp={PyFmt.F(_lastTemp, 1)}");

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["temperature"] = PyFmt.Round(_lastTemp, 2),
        ["measured_min_temp"] = PyFmt.Round(_measuredMin, 2),
        ["measured_max_temp"] = PyFmt.Round(_measuredMax, 2),
    };
}
