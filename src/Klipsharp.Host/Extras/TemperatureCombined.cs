using System.Globalization;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>A virtual sensor combining other sensors' temperatures (upstream temperature_combined.PrinterSensorCombined).</summary>
public sealed class PrinterSensorCombined : ITemperatureSensor, ITemperatureSource, IStatusProvider
{
    public const double ReportTime = 0.300;
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly IReadOnlyList<string> _sensorNames;
    private readonly double _maxDeviation;
    private readonly List<IStatusProvider> _sensors = new();
    private readonly Func<List<double>, double?> _applyMode;
    private double _lastTemp, _minTemp, _maxTemp;
    private double? _humidity, _pressure, _gas;
    private readonly ReactorTimer _temperatureUpdateTimer;
    private Action<double, double>? _temperatureCallback;

    public PrinterSensorCombined(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        string name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _sensorNames = config.GetList("sensor_list");
        _maxDeviation = config.GetFloat("maximum_deviation", above: 0.0);
        var algos = new Dictionary<string, Func<List<double>, double?>>
        {
            ["min"] = v => v.Min(),
            ["max"] = v => v.Max(),
            ["mean"] = v => v.Count == 0 ? null : v.Aggregate(0.0, (a, b) => a + b) / v.Count,
        };
        _applyMode = config.GetChoice("combination_method", algos);
        _printer.AddObject("temperature_combined " + name, this);
        _temperatureUpdateTimer = _reactor.RegisterTimer(TemperatureUpdateEvent);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _printer.RegisterEventHandler("klippy:ready", () => _reactor.UpdateTimer(_temperatureUpdateTimer, _reactor.Monotonic() + 1.0));
    }

    private static double? ToDouble(object? v) => v is null ? null : Convert.ToDouble(v, CultureInfo.InvariantCulture);

    private void HandleConnect()
    {
        foreach (var sensorName in _sensorNames)
        {
            var obj = _printer.LookupObject(sensorName);
            if (obj is not IStatusProvider sensor)
                throw new ConfigError($"'{sensorName}' does not have a status.");
            var status = sensor.GetStatus(_reactor.Monotonic());
            if (!status.TryGetValue("temperature", out var t))
                throw new ConfigError($"'{sensorName}' does not report a temperature.");
            if (t is null)
                throw new ConfigError($"Temperature monitor '{sensorName}' is not supported");
            _sensors.Add(sensor);
        }
    }

    public void SetupMinMax(double minTemp, double maxTemp)
    {
        _minTemp = minTemp;
        _maxTemp = maxTemp;
    }

    public void SetupCallback(Action<double, double> temperatureCallback) => _temperatureCallback = temperatureCallback;

    public double GetReportTimeDelta() => ReportTime;

    private void UpdateTemp(double eventtime)
    {
        var values = _sensors.Select(s => ToDouble(s.GetStatus(eventtime)["temperature"]) ?? 0.0).ToList();
        if (values.Max() - values.Min() > _maxDeviation)
            _printer.InvokeShutdown($"COMBINED SENSOR maximum deviation exceeded limit of {PyFmt.F(_maxDeviation, 1)}, max sensor value {PyFmt.F(values.Max(), 1)}, min sensor value {PyFmt.F(values.Min(), 1)}.");
        double? temp = _applyMode(values);
        if (temp is double tv && tv != 0.0)
            _lastTemp = tv;
    }

    public (double Temp, double Target) GetTemp(double eventtime) => (_lastTemp, 0.0);

    private void UpdateAdditional(double eventtime)
    {
        var hum = new List<double>();
        var pres = new List<double>();
        var gas = new List<double>();
        foreach (var sensor in _sensors)
        {
            var st = sensor.GetStatus(eventtime);
            if (st.TryGetValue("humidity", out var h) && h is not null) hum.Add(ToDouble(h)!.Value);
            if (st.TryGetValue("pressure", out var p) && p is not null) pres.Add(ToDouble(p)!.Value);
            if (st.TryGetValue("gas", out var g) && g is not null) gas.Add(ToDouble(g)!.Value);
        }
        if (hum.Count > 0 && _applyMode(hum) is double hv && hv != 0.0) _humidity = hv;
        if (pres.Count > 0 && _applyMode(pres) is double pv && pv != 0.0) _pressure = pv;
        if (gas.Count > 0 && _applyMode(gas) is double gv && gv != 0.0) _gas = gv;
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var data = new Dictionary<string, object?> { ["temperature"] = PyFmt.Round(_lastTemp, 2) };
        if (_humidity is not null) data["humidity"] = _humidity;
        if (_pressure is not null) data["pressure"] = _pressure;
        if (_gas is not null) data["gas"] = _gas;
        return data;
    }

    private double TemperatureUpdateEvent(double eventtime)
    {
        UpdateTemp(eventtime);
        UpdateAdditional(eventtime);
        if (_lastTemp < _minTemp)
            _printer.InvokeShutdown($"COMBINED SENSOR temperature {PyFmt.F(_lastTemp, 1)} below minimum temperature of {PyFmt.F(_minTemp, 1)}.");
        if (_lastTemp > _maxTemp)
            _printer.InvokeShutdown($"COMBINED SENSOR temperature {PyFmt.F(_lastTemp, 1)} above maximum temperature of {PyFmt.F(_maxTemp, 1)}.");
        var mcu = _printer.LookupObject<Mcu.Mcu>("mcu");
        double measuredTime = _reactor.Monotonic();
        _temperatureCallback?.Invoke(mcu.EstimatedPrintTime(measuredTime), _lastTemp);
        return measuredTime + ReportTime;
    }

    /// <summary>[temperature_combined] module load: registers the sensor type.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        pheaters.AddSensorFactory("temperature_combined", c => new PrinterSensorCombined(c));
        return new AdcTemperatureModule();
    }
}
