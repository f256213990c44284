using System.Globalization;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>The host computer's temperature from a sysfs file (upstream temperature_host Temperature_HOST).</summary>
public sealed class TemperatureHost : ITemperatureSensor, IStatusProvider
{
    public const double HostReportTime = 1.0;
    public const string RpiProcTempFile = "/sys/class/thermal/thermal_zone0/temp";
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly string _path;
    private double _temp, _minTemp, _maxTemp;
    private readonly ReactorTimer? _sampleTimer;
    private Action<double, double>? _callback;

    public TemperatureHost(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        string name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _path = config.Get("sensor_path", RpiProcTempFile);
        _printer.AddObject("temperature_host " + name, this);
        if (_printer.IsFileOutput)
            return;
        _sampleTimer = _reactor.RegisterTimer(SampleTemperature);
        if (!File.Exists(_path))
            throw config.Error($"Unable to open temperature file '{_path}'");
        _printer.RegisterEventHandler("klippy:connect", () => _reactor.UpdateTimer(_sampleTimer, Reactor.Now));
    }

    public void SetupMinMax(double minTemp, double maxTemp)
    {
        _minTemp = minTemp;
        _maxTemp = maxTemp;
    }

    public void SetupCallback(Action<double, double> cb) => _callback = cb;

    public double GetReportTimeDelta() => HostReportTime;

    private double SampleTemperature(double eventtime)
    {
        try
        {
            _temp = double.Parse(File.ReadAllText(_path).Trim(), CultureInfo.InvariantCulture) / 1000.0;
        }
        catch (Exception)
        {
            _printer.Log?.Invoke("temperature_host: Error reading data");
            _temp = 0.0;
            return Reactor.Never;
        }
        if (_temp < _minTemp)
            _printer.InvokeShutdown($"HOST temperature {PyFmt.F(_temp, 1)} below minimum temperature of {PyFmt.F(_minTemp, 1)}.");
        if (_temp > _maxTemp)
            _printer.InvokeShutdown($"HOST temperature {PyFmt.F(_temp, 1)} above maximum temperature of {PyFmt.F(_maxTemp, 1)}.");
        var mcu = _printer.LookupObject<Mcu.Mcu>("mcu");
        double measuredTime = _reactor.Monotonic();
        _callback?.Invoke(mcu.EstimatedPrintTime(measuredTime), _temp);
        return measuredTime + HostReportTime;
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["temperature"] = PyFmt.Round(_temp, 2) };

    /// <summary>[temperature_host] module load: registers the sensor type.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        pheaters.AddSensorFactory("temperature_host", c => new TemperatureHost(c));
        return new AdcTemperatureModule();
    }
}
