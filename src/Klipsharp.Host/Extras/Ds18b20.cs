using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>A DS18B20 1-wire temperature sensor (upstream ds18b20.DS18B20).</summary>
public sealed class DS18B20 : ITemperatureSensor, IStatusProvider
{
    public const double Ds18ReportTime = 3.0;
    public const double Ds18MinReportTime = 1.0;
    public const int Ds18MaxConsecutiveErrors = 4;

    private readonly Printer _printer;
    private readonly byte[] _sensorId;
    // Upstream never updates its status temperature; kept so status matches.
    private readonly double _temp = 0.0;
    private double _minTemp, _maxTemp;
    private long _reportClock;
    private readonly double _reportTime;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private Action<double, double>? _callback;

    public DS18B20(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _sensorId = Encoding.UTF8.GetBytes(config.Get("serial_no"));
        _reportTime = config.GetFloat("ds18_report_time", Ds18ReportTime, minval: Ds18MinReportTime);
        _mcu = Mcu.Mcu.GetPrinterMcu(_printer, config.Get("sensor_mcu"));
        _oid = _mcu.CreateOid();
        _mcu.RegisterResponse(HandleDs18b20Response, "ds18b20_result oid=%c next_clock=%u value=%i fault=%u", _oid);
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    private void BuildConfig()
    {
        string sid = string.Concat(_sensorId.Select(x => x.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
        _mcu.AddConfigCmd($"config_ds18b20 oid={_oid} serial={sid} max_error_count={Ds18MaxConsecutiveErrors}");
        long clock = _mcu.GetQuerySlot(_oid);
        _reportClock = _mcu.SecondsToClock(_reportTime);
        // "%d" of a float truncates toward zero
        long minValue = (long)Math.Truncate(_minTemp * 1000);
        long maxValue = (long)Math.Truncate(_maxTemp * 1000);
        _mcu.AddConfigCmd($"query_ds18b20 oid={_oid} clock={clock} rest_ticks={_reportClock} min_value={minValue} max_value={maxValue}", isInit: true);
    }

    private void HandleDs18b20Response(McuResponse p)
    {
        double temp = p["value"] / 1000.0;
        if (p["fault"] != 0)
        {
            _printer.Log?.Invoke($"ds18b20 reports fault {p["fault"]} (temp={PyFmt.F(temp, 1)})");
            return;
        }
        long nextClock = _mcu.Clock32ToClock64(p["next_clock"]);
        long lastReadClock = nextClock - _reportClock;
        double lastReadTime = _mcu.ClockToPrintTime(lastReadClock);
        _callback?.Invoke(lastReadTime, temp);
    }

    public void SetupMinMax(double minTemp, double maxTemp)
    {
        _minTemp = minTemp;
        _maxTemp = maxTemp;
    }

    public double GetReportTimeDelta() => _reportTime;

    public void SetupCallback(Action<double, double> temperatureCallback) => _callback = temperatureCallback;

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["temperature"] = PyFmt.Round(_temp, 2) };

    /// <summary>Registers the DS18B20 sensor type (upstream ds18b20.load_config).</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        pheaters.AddSensorFactory("DS18B20", c => new DS18B20(c));
        return new Ds18b20Module();
    }
}

/// <summary>The loaded ds18b20 module (it only registers the sensor type).</summary>
public sealed class Ds18b20Module;
