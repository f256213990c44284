using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Converts between a normalized ADC reading (0..1) and a temperature.</summary>
public interface IAdcConvert
{
    double CalcTemp(double adc);
    double CalcAdc(double temp);
}

/// <summary>An MCU ADC pin read periodically and converted to a temperature (upstream PrinterADCtoTemperature).</summary>
public sealed class PrinterAdcToTemperature : ITemperatureSensor
{
    public const double SampleTime = 0.001;
    public const int SampleCount = 8;
    public const double ReportTime = 0.300;
    public const int RangeCheckCount = 4;

    private readonly IAdcConvert _adcConvert;
    private readonly IAdcPin _mcuAdc;
    private readonly HelperTemperatureDiagnostics _diagHelper;
    private Action<double, double>? _temperatureCallback;

    public PrinterAdcToTemperature(ConfigWrapper config, IAdcConvert adcConvert)
    {
        _adcConvert = adcConvert;
        _mcuAdc = AdcPins.SetupAdc(config.GetPrinter(), config.Get("sensor_pin"));
        _mcuAdc.SetupAdcCallback(AdcCallback);
        _diagHelper = new HelperTemperatureDiagnostics(config, _mcuAdc, adcConvert.CalcTemp);
    }

    public void SetupCallback(Action<double, double> temperatureCallback) => _temperatureCallback = temperatureCallback;

    public double GetReportTimeDelta() => ReportTime;

    private void AdcCallback(IReadOnlyList<(double Time, double Value)> samples)
    {
        var (readTime, readValue) = samples[^1];
        double temp = _adcConvert.CalcTemp(readValue);
        _temperatureCallback?.Invoke(readTime + SampleCount * SampleTime, temp);
    }

    public void SetupMinMax(double minTemp, double maxTemp)
    {
        double a0 = _adcConvert.CalcAdc(minTemp), a1 = _adcConvert.CalcAdc(maxTemp);
        double minAdc = Math.Min(a0, a1), maxAdc = Math.Max(a0, a1);
        _mcuAdc.SetupAdcSample(ReportTime, SampleTime, SampleCount, minval: minAdc, maxval: maxAdc,
            rangeCheckCount: RangeCheckCount);
        _diagHelper.SetupDiagMinMax(minTemp, maxTemp, minAdc, maxAdc);
    }
}

/// <summary>Registers an ADC with QUERY_ADC and explains "ADC out of range" shutdowns (upstream HelperTemperatureDiagnostics).</summary>
public sealed class HelperTemperatureDiagnostics
{
    private readonly string _name;
    private readonly IAdcPin _mcuAdc;
    private readonly Func<double, double> _calcTempCb;
    private double? _minTemp, _maxTemp, _minAdc, _maxAdc;

    public HelperTemperatureDiagnostics(ConfigWrapper config, IAdcPin mcuAdc, Func<double, double> calcTempCb)
    {
        var printer = config.GetPrinter();
        _name = config.Name;
        _mcuAdc = mcuAdc;
        _calcTempCb = calcTempCb;
        var queryAdc = printer.LoadObject<QueryAdc>(config, "query_adc");
        queryAdc.RegisterAdc(_name, mcuAdc);
        var errorMcu = printer.LoadObject<PrinterMcuError>(config, "error_mcu");
        errorMcu.AddClarify("ADC out of range", ClarifyAdcRange);
    }

    public void SetupDiagMinMax(double minTemp, double maxTemp, double minAdc, double maxAdc)
    {
        _minTemp = minTemp;
        _maxTemp = maxTemp;
        _minAdc = minAdc;
        _maxAdc = maxAdc;
    }

    private string? ClarifyAdcRange(string msg, IReadOnlyDictionary<string, object?> details)
    {
        if (_minTemp is null)
            return null;
        var (lastReadTime, lastValue) = _mcuAdc.GetLastValue();
        if (lastReadTime == 0.0)
            return null;
        if (lastValue >= _minAdc && lastValue <= _maxAdc)
            return null;
        string tempstr = "?";
        try
        {
            tempstr = PyFmt.F(_calcTempCb(lastValue), 3);
        }
        catch (Exception)
        {
        }
        return $"Sensor '{_name}' temperature {tempstr} not in range {PyFmt.F(_minTemp.Value, 3)}:{PyFmt.F(_maxTemp!.Value, 3)}";
    }
}

/// <summary>Piecewise linear interpolation over sorted samples (upstream LinearInterpolate).</summary>
public sealed class LinearInterpolate
{
    private readonly List<double> _keys = new();
    private readonly List<(double Gain, double Offset)> _slopes = new();

    public LinearInterpolate(IEnumerable<(double Key, double Value)> samples)
    {
        double? lastKey = null;
        double lastValue = 0.0;
        foreach (var (key, value) in samples.OrderBy(s => s.Key).ThenBy(s => s.Value))
        {
            if (lastKey is null)
            {
                lastKey = key;
                lastValue = value;
                continue;
            }
            if (key <= lastKey.Value)
                throw new ArgumentException("duplicate value");
            double gain = (value - lastValue) / (key - lastKey.Value);
            double offset = lastValue - lastKey.Value * gain;
            if (_slopes.Count > 0 && _slopes[^1] == (gain, offset))
                continue;
            lastValue = value;
            lastKey = key;
            _keys.Add(key);
            _slopes.Add((gain, offset));
        }
        if (_keys.Count == 0)
            throw new ArgumentException("need at least two samples");
        _keys.Add(9999999999999.0);
        _slopes.Add(_slopes[^1]);
    }

    public double Interpolate(double key)
    {
        // bisect_right: first position with keys[pos] > key
        int lo = 0, hi = _keys.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (key < _keys[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        var (gain, offset) = _slopes[lo];
        return key * gain + offset;
    }

    public double ReverseInterpolate(double value)
    {
        int n = _keys.Count;
        var values = new double[n];
        for (int i = 0; i < n; i++)
            values[i] = _keys[i] * _slopes[i].Gain + _slopes[i].Offset;
        int pos = n - 1;
        bool rising = values[0] < values[n - 2];
        for (int i = 0; i < n; i++)
        {
            if (rising ? values[i] >= value : values[i] <= value)
            {
                pos = Math.Min(pos, i);
                break;
            }
        }
        var (gain, offset) = _slopes[pos];
        return (value - offset) / gain;
    }
}

/// <summary>Linear voltage output sensors calibrated from (temperature, voltage) pairs (upstream LinearVoltage).</summary>
public sealed class LinearVoltage : IAdcConvert
{
    private readonly LinearInterpolate _li;

    public LinearVoltage(ConfigWrapper config, IReadOnlyList<(double Temp, double Volt)> parameters)
    {
        double adcVoltage = config.GetFloat("adc_voltage", 5.0, above: 0.0);
        double voltageOffset = config.GetFloat("voltage_offset", 0.0);
        var samples = new List<(double, double)>();
        var printer = config.GetPrinter();
        foreach (var (temp, volt) in parameters)
        {
            double adc = (volt - voltageOffset) / adcVoltage;
            if (adc < 0.0 || adc > 1.0)
            {
                printer.Log?.Invoke($"Ignoring adc sample {PyFmt.F(temp, 3)}/{PyFmt.F(volt, 3)} in heater {config.Name}");
                continue;
            }
            samples.Add((adc, temp));
        }
        try
        {
            _li = new LinearInterpolate(samples);
        }
        catch (ArgumentException e)
        {
            throw config.Error($"adc_temperature {e.Message} in heater {config.Name}");
        }
    }

    public double CalcTemp(double adc) => _li.Interpolate(adc);

    public double CalcAdc(double temp) => _li.ReverseInterpolate(temp);
}

/// <summary>A [adc_temperature NAME] section with temperatureN/voltageN pairs (upstream CustomLinearVoltage).</summary>
public sealed class CustomLinearVoltage
{
    private readonly List<(double, double)> _params = new();

    public CustomLinearVoltage(ConfigWrapper config)
    {
        Name = string.Join(" ", config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Skip(1));
        for (int i = 1; i < 1000; i++)
        {
            double? t = config.GetFloatOrNull($"temperature{i}");
            if (t is null)
                break;
            double v = config.GetFloat($"voltage{i}");
            _params.Add((t.Value, v));
        }
    }

    public string Name { get; }

    public ITemperatureSensor Create(ConfigWrapper config) =>
        new PrinterAdcToTemperature(config, new LinearVoltage(config, _params));
}

/// <summary>Resistance based sensors calibrated from (temperature, resistance) pairs (upstream LinearResistance).</summary>
public sealed class LinearResistance : IAdcConvert
{
    private readonly double _pullup;
    private readonly LinearInterpolate _li;

    public LinearResistance(ConfigWrapper config, IReadOnlyList<(double Temp, double Resistance)> samples)
    {
        _pullup = config.GetFloat("pullup_resistor", 4700.0, above: 0.0);
        try
        {
            _li = new LinearInterpolate(samples.Select(s => (s.Resistance, s.Temp)));
        }
        catch (ArgumentException e)
        {
            throw config.Error($"adc_temperature {e.Message} in heater {config.Name}");
        }
    }

    public double CalcTemp(double adc)
    {
        adc = Math.Max(0.00001, Math.Min(0.99999, adc));
        double r = _pullup * adc / (1.0 - adc);
        return _li.Interpolate(r);
    }

    public double CalcAdc(double temp)
    {
        double r = _li.ReverseInterpolate(temp);
        return r / (_pullup + r);
    }
}

/// <summary>A [adc_temperature NAME] section with temperatureN/resistanceN pairs (upstream CustomLinearResistance).</summary>
public sealed class CustomLinearResistance
{
    private readonly List<(double, double)> _samples = new();

    public CustomLinearResistance(ConfigWrapper config)
    {
        Name = string.Join(" ", config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Skip(1));
        for (int i = 1; i < 1000; i++)
        {
            double? t = config.GetFloatOrNull($"temperature{i}");
            if (t is null)
                break;
            double r = config.GetFloat($"resistance{i}");
            _samples.Add((t.Value, r));
        }
    }

    public string Name { get; }

    public ITemperatureSensor Create(ConfigWrapper config) =>
        new PrinterAdcToTemperature(config, new LinearResistance(config, _samples));
}

/// <summary>The adc_temperature module: built-in amplifier/PT100 tables and custom sections.</summary>
public static class AdcTemperature
{
    public static readonly (double, double)[] AD595 =
    [
        (0.0, .0027), (10.0, .101), (20.0, .200), (25.0, .250), (30.0, .300),
        (40.0, .401), (50.0, .503), (60.0, .605), (80.0, .810), (100.0, 1.015),
        (120.0, 1.219), (140.0, 1.420), (160.0, 1.620), (180.0, 1.817), (200.0, 2.015),
        (220.0, 2.213), (240.0, 2.413), (260.0, 2.614), (280.0, 2.817), (300.0, 3.022),
        (320.0, 3.227), (340.0, 3.434), (360.0, 3.641), (380.0, 3.849), (400.0, 4.057),
        (420.0, 4.266), (440.0, 4.476), (460.0, 4.686), (480.0, 4.896),
    ];

    public static readonly (double, double)[] AD597 =
    [
        (0.0, 0.0), (10.0, .097), (20.0, .196), (25.0, .245), (30.0, .295),
        (40.0, 0.395), (50.0, 0.496), (60.0, 0.598), (80.0, 0.802), (100.0, 1.005),
        (120.0, 1.207), (140.0, 1.407), (160.0, 1.605), (180.0, 1.801), (200.0, 1.997),
        (220.0, 2.194), (240.0, 2.392), (260.0, 2.592), (280.0, 2.794), (300.0, 2.996),
        (320.0, 3.201), (340.0, 3.406), (360.0, 3.611), (380.0, 3.817), (400.0, 4.024),
        (420.0, 4.232), (440.0, 4.440), (460.0, 4.649), (480.0, 4.857), (500.0, 5.066),
    ];

    public static readonly (double, double)[] AD8494 =
    [
        (-180, -0.714), (-160, -0.658), (-140, -0.594), (-120, -0.523),
        (-100, -0.446), (-80, -0.365), (-60, -0.278), (-40, -0.188),
        (-20, -0.095), (0, 0.002), (20, 0.1), (25, 0.125), (40, 0.201),
        (60, 0.303), (80, 0.406), (100, 0.511), (120, 0.617), (140, 0.723),
        (160, 0.829), (180, 0.937), (200, 1.044), (220, 1.151), (240, 1.259),
        (260, 1.366), (280, 1.473), (300, 1.58), (320, 1.687), (340, 1.794),
        (360, 1.901), (380, 2.008), (400, 2.114), (420, 2.221), (440, 2.328),
        (460, 2.435), (480, 2.542), (500, 2.65), (520, 2.759), (540, 2.868),
        (560, 2.979), (580, 3.09), (600, 3.203), (620, 3.316), (640, 3.431),
        (660, 3.548), (680, 3.666), (700, 3.786), (720, 3.906), (740, 4.029),
        (760, 4.152), (780, 4.276), (800, 4.401), (820, 4.526), (840, 4.65),
        (860, 4.774), (880, 4.897), (900, 5.018), (920, 5.138), (940, 5.257),
        (960, 5.374), (980, 5.49), (1000, 5.606), (1020, 5.72), (1040, 5.833),
        (1060, 5.946), (1080, 6.058), (1100, 6.17), (1120, 6.282), (1140, 6.394),
        (1160, 6.505), (1180, 6.616), (1200, 6.727),
    ];

    public static readonly (double, double)[] AD8495 =
    [
        (-260, -0.786), (-240, -0.774), (-220, -0.751), (-200, -0.719),
        (-180, -0.677), (-160, -0.627), (-140, -0.569), (-120, -0.504),
        (-100, -0.432), (-80, -0.355), (-60, -0.272), (-40, -0.184), (-20, -0.093),
        (0, 0.003), (20, 0.1), (25, 0.125), (40, 0.2), (60, 0.301), (80, 0.402),
        (100, 0.504), (120, 0.605), (140, 0.705), (160, 0.803), (180, 0.901),
        (200, 0.999), (220, 1.097), (240, 1.196), (260, 1.295), (280, 1.396),
        (300, 1.497), (320, 1.599), (340, 1.701), (360, 1.803), (380, 1.906),
        (400, 2.01), (420, 2.113), (440, 2.217), (460, 2.321), (480, 2.425),
        (500, 2.529), (520, 2.634), (540, 2.738), (560, 2.843), (580, 2.947),
        (600, 3.051), (620, 3.155), (640, 3.259), (660, 3.362), (680, 3.465),
        (700, 3.568), (720, 3.67), (740, 3.772), (760, 3.874), (780, 3.975),
        (800, 4.076), (820, 4.176), (840, 4.275), (860, 4.374), (880, 4.473),
        (900, 4.571), (920, 4.669), (940, 4.766), (960, 4.863), (980, 4.959),
        (1000, 5.055), (1020, 5.15), (1040, 5.245), (1060, 5.339), (1080, 5.432),
        (1100, 5.525), (1120, 5.617), (1140, 5.709), (1160, 5.8), (1180, 5.891),
        (1200, 5.98), (1220, 6.069), (1240, 6.158), (1260, 6.245), (1280, 6.332),
        (1300, 6.418), (1320, 6.503), (1340, 6.587), (1360, 6.671), (1380, 6.754),
    ];

    public static readonly (double, double)[] AD8496 =
    [
        (-180, -0.642), (-160, -0.59), (-140, -0.53), (-120, -0.464),
        (-100, -0.392), (-80, -0.315), (-60, -0.235), (-40, -0.15), (-20, -0.063),
        (0, 0.027), (20, 0.119), (25, 0.142), (40, 0.213), (60, 0.308),
        (80, 0.405), (100, 0.503), (120, 0.601), (140, 0.701), (160, 0.8),
        (180, 0.9), (200, 1.001), (220, 1.101), (240, 1.201), (260, 1.302),
        (280, 1.402), (300, 1.502), (320, 1.602), (340, 1.702), (360, 1.801),
        (380, 1.901), (400, 2.001), (420, 2.1), (440, 2.2), (460, 2.3),
        (480, 2.401), (500, 2.502), (520, 2.603), (540, 2.705), (560, 2.808),
        (580, 2.912), (600, 3.017), (620, 3.124), (640, 3.231), (660, 3.34),
        (680, 3.451), (700, 3.562), (720, 3.675), (740, 3.789), (760, 3.904),
        (780, 4.02), (800, 4.137), (820, 4.254), (840, 4.37), (860, 4.486),
        (880, 4.6), (900, 4.714), (920, 4.826), (940, 4.937), (960, 5.047),
        (980, 5.155), (1000, 5.263), (1020, 5.369), (1040, 5.475), (1060, 5.581),
        (1080, 5.686), (1100, 5.79), (1120, 5.895), (1140, 5.999), (1160, 6.103),
        (1180, 6.207), (1200, 6.311),
    ];

    public static readonly (double, double)[] AD8497 =
    [
        (-260, -0.785), (-240, -0.773), (-220, -0.751), (-200, -0.718),
        (-180, -0.676), (-160, -0.626), (-140, -0.568), (-120, -0.503),
        (-100, -0.432), (-80, -0.354), (-60, -0.271), (-40, -0.184),
        (-20, -0.092), (0, 0.003), (20, 0.101), (25, 0.126), (40, 0.2),
        (60, 0.301), (80, 0.403), (100, 0.505), (120, 0.605), (140, 0.705),
        (160, 0.804), (180, 0.902), (200, 0.999), (220, 1.097), (240, 1.196),
        (260, 1.296), (280, 1.396), (300, 1.498), (320, 1.599), (340, 1.701),
        (360, 1.804), (380, 1.907), (400, 2.01), (420, 2.114), (440, 2.218),
        (460, 2.322), (480, 2.426), (500, 2.53), (520, 2.634), (540, 2.739),
        (560, 2.843), (580, 2.948), (600, 3.052), (620, 3.156), (640, 3.259),
        (660, 3.363), (680, 3.466), (700, 3.569), (720, 3.671), (740, 3.773),
        (760, 3.874), (780, 3.976), (800, 4.076), (820, 4.176), (840, 4.276),
        (860, 4.375), (880, 4.474), (900, 4.572), (920, 4.67), (940, 4.767),
        (960, 4.863), (980, 4.96), (1000, 5.055), (1020, 5.151), (1040, 5.245),
        (1060, 5.339), (1080, 5.433), (1100, 5.526), (1120, 5.618), (1140, 5.71),
        (1160, 5.801), (1180, 5.891), (1200, 5.981), (1220, 6.07), (1240, 6.158),
        (1260, 6.246), (1280, 6.332), (1300, 6.418), (1320, 6.503), (1340, 6.588),
        (1360, 6.671), (1380, 6.754),
    ];

    /// <summary>PT100/PT1000 resistances from the Callendar-Van Dusen formula, 0..490C in 10C steps.</summary>
    public static (double, double)[] CalcPt100(double @base = 100.0)
    {
        const double A = 3.9083e-3, B = -5.775e-7;
        var res = new (double, double)[50];
        for (int i = 0; i < 50; i++)
        {
            int t = i * 10;
            res[i] = (t, @base * (1.0 + A * t + B * t * t));
        }
        return res;
    }

    /// <summary>PT100 behind an INA826 amplifier: 4400 ohm pullup, 10x gain, 5V.</summary>
    public static (double, double)[] CalcIna826Pt100() =>
        CalcPt100().Select(p => (p.Item1, 10.0 * 5.0 * p.Item2 / (4400.0 + p.Item2))).ToArray();

    public static IReadOnlyList<(string Name, (double, double)[] Params)> DefaultVoltageSensors =>
    [
        ("AD595", AD595), ("AD597", AD597), ("AD8494", AD8494), ("AD8495", AD8495),
        ("AD8496", AD8496), ("AD8497", AD8497), ("PT100 INA826", CalcIna826Pt100()),
    ];

    public static IReadOnlyList<(string Name, (double, double)[] Params)> DefaultResistanceSensors =>
    [
        ("PT1000", CalcPt100(1000.0)),
    ];

    /// <summary>[adc_temperature]: registers the built-in sensor types.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        foreach (var (sensorType, p) in DefaultVoltageSensors)
            pheaters.AddSensorFactory(sensorType, c => new PrinterAdcToTemperature(c, new LinearVoltage(c, p)));
        foreach (var (sensorType, p) in DefaultResistanceSensors)
            pheaters.AddSensorFactory(sensorType, c => new PrinterAdcToTemperature(c, new LinearResistance(c, p)));
        return new AdcTemperatureModule();
    }

    /// <summary>[adc_temperature NAME]: a custom voltage or resistance table.</summary>
    public static object LoadConfigPrefix(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        if (config.GetOrNull("resistance1") is null)
        {
            var custom = new CustomLinearVoltage(config);
            pheaters.AddSensorFactory(custom.Name, custom.Create);
            return custom;
        }
        var customR = new CustomLinearResistance(config);
        pheaters.AddSensorFactory(customR.Name, customR.Create);
        return customR;
    }
}

/// <summary>Placeholder object stored under "adc_temperature" (upstream's load_config returns None).</summary>
public sealed class AdcTemperatureModule
{
}

/// <summary>
/// The default temperature sensors (upstream's temperature_sensors.cfg): the sensor
/// modules it loads and its thermistor table, kept here as data.
/// </summary>
public static class TemperatureSensorDefaults
{
    /// <summary>Modules loaded first, in the file's order.</summary>
    public static readonly string[] Modules =
    [
        "adc_temperature", "bme280", "ds18b20", "htu21d", "sht3x", "aht10", "lm75",
        "spi_temperature", "temperature_host", "temperature_mcu", "temperature_combined",
    ];

    /// <summary>Sensor types provided by modules not available in this build (so configs naming them get a clear error).</summary>
    private static readonly Dictionary<string, string[]> UnsupportedModuleSensors = new()
    {
        ["bme280"] = ["BME280"],
        ["ds18b20"] = ["DS18B20"],
        ["htu21d"] = ["SI7013", "SI7020", "SI7021", "SHT21", "HTU21D"],
        ["sht3x"] = ["SHT3X"],
        ["aht10"] = ["AHT10", "AHT20", "AHT21"],
        ["lm75"] = ["LM75"],
        ["spi_temperature"] = ["MAX6675", "MAX31855", "MAX31856", "MAX31865"],
        ["temperature_host"] = ["temperature_host"],
        ["temperature_mcu"] = ["temperature_mcu"],
        ["temperature_combined"] = ["temperature_combined"],
    };

    /// <summary>Default thermistors: name, then (t1, r1, t2, r2, t3, r3) or (t1, r1, beta).</summary>
    public static readonly (string Name, (string Option, string Value)[] Options)[] Thermistors =
    [
        ("ATC Semitec 104GT-2", [("temperature1", "20"), ("resistance1", "126800"), ("temperature2", "150"),
            ("resistance2", "1360"), ("temperature3", "300"), ("resistance3", "80.65")]),
        ("ATC Semitec 104NT-4-R025H42G", [("temperature1", "25"), ("resistance1", "100000"), ("temperature2", "160"),
            ("resistance2", "1074"), ("temperature3", "300"), ("resistance3", "82.78")]),
        ("EPCOS 100K B57560G104F", [("temperature1", "25"), ("resistance1", "100000"), ("temperature2", "150"),
            ("resistance2", "1641.9"), ("temperature3", "250"), ("resistance3", "226.15")]),
        ("Generic 3950", [("temperature1", "25"), ("resistance1", "100000"), ("temperature2", "150"),
            ("resistance2", "1770"), ("temperature3", "250"), ("resistance3", "230")]),
        ("SliceEngineering 450", [("temperature1", "25"), ("resistance1", "500000"), ("temperature2", "200"),
            ("resistance2", "3734"), ("temperature3", "400"), ("resistance3", "240")]),
        ("TDK NTCG104LH104JT1", [("temperature1", "25"), ("resistance1", "100000"), ("temperature2", "50"),
            ("resistance2", "31230"), ("temperature3", "125"), ("resistance3", "2066")]),
        ("Honeywell 100K 135-104LAG-J01", [("temperature1", "25"), ("resistance1", "100000"), ("beta", "3974")]),
        ("NTC 100K MGB18-104F39050L32", [("temperature1", "25"), ("resistance1", "100000"), ("beta", "4100")]),
    ];

    /// <summary>Builds the defaults as a config of their own (upstream reads temperature_sensors.cfg).</summary>
    public static ConfigFile BuildConfigFile()
    {
        var file = new ConfigFile();
        foreach (var m in Modules)
            file.AddSection(m);
        foreach (var (name, options) in Thermistors)
        {
            string section = "thermistor " + name;
            file.AddSection(section);
            foreach (var (opt, val) in options)
                file.Set(section, opt, val);
        }
        return file;
    }

    /// <summary>Loads every default sensor module and thermistor (upstream PrinterHeaters.load_config).</summary>
    public static void Load(Printer printer, ConfigWrapper config)
    {
        var file = BuildConfigFile();
        var dconfig = new ConfigWrapper(file, new ConfigAccessTracking(), "", config.Owner);
        var pheaters = printer.LookupObject<PrinterHeaters>("heaters");
        foreach (var section in file.Sections())
        {
            if (printer.TryLoadObject(dconfig, section) is not null)
                continue;
            if (UnsupportedModuleSensors.TryGetValue(section, out var types))
            {
                foreach (var t in types)
                {
                    string sensorType = t;
                    pheaters.AddSensorFactory(sensorType, c =>
                        throw c.Error($"Temperature sensor '{sensorType}' is not supported by this host"));
                }
                continue;
            }
            throw config.Error($"Unable to load module '{section}'");
        }
    }
}
