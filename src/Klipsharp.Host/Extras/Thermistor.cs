using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>Steinhart-Hart thermistor behind a pullup resistor (upstream thermistor.Thermistor).</summary>
public sealed class Thermistor : IAdcConvert
{
    private const double KelvinToCelsius = -273.15;
    private readonly double _pullup;
    private readonly double _inlineResistor;
    private double _c1, _c2, _c3;

    public Thermistor(double pullup, double inlineResistor)
    {
        _pullup = pullup;
        _inlineResistor = inlineResistor;
    }

    /// <summary>Optional sink for the "Using thermistor beta" warning.</summary>
    public Action<string>? Log { get; set; }

    public (double C1, double C2, double C3) Coefficients => (_c1, _c2, _c3);

    public void SetupCoefficients(double t1, double r1, double t2, double r2, double t3, double r3, string name = "")
    {
        double invT1 = 1.0 / (t1 - KelvinToCelsius);
        double invT2 = 1.0 / (t2 - KelvinToCelsius);
        double invT3 = 1.0 / (t3 - KelvinToCelsius);
        double lnR1 = Math.Log(r1);
        double lnR2 = Math.Log(r2);
        double lnR3 = Math.Log(r3);
        double ln3R1 = Math.Pow(lnR1, 3), ln3R2 = Math.Pow(lnR2, 3), ln3R3 = Math.Pow(lnR3, 3);

        double invT12 = invT1 - invT2, invT13 = invT1 - invT3;
        double lnR12 = lnR1 - lnR2, lnR13 = lnR1 - lnR3;
        double ln3R12 = ln3R1 - ln3R2, ln3R13 = ln3R1 - ln3R3;

        _c3 = (invT12 - invT13 * lnR12 / lnR13) / (ln3R12 - ln3R13 * lnR12 / lnR13);
        if (_c3 <= 0.0)
        {
            double beta = lnR13 / invT13;
            Log?.Invoke($"Using thermistor beta {PyFmt.F(beta, 3)} in heater {name}");
            SetupCoefficientsBeta(t1, r1, beta);
            return;
        }
        _c2 = (invT12 - _c3 * ln3R12) / lnR12;
        _c1 = invT1 - _c2 * lnR1 - _c3 * ln3R1;
    }

    public void SetupCoefficientsBeta(double t1, double r1, double beta)
    {
        double invT1 = 1.0 / (t1 - KelvinToCelsius);
        double lnR1 = Math.Log(r1);
        _c3 = 0.0;
        _c2 = 1.0 / beta;
        _c1 = invT1 - _c2 * lnR1;
    }

    public double CalcTemp(double adc)
    {
        adc = Math.Max(0.00001, Math.Min(0.99999, adc));
        double r = _pullup * adc / (1.0 - adc);
        double lnR = Math.Log(r - _inlineResistor);
        double invT = _c1 + _c2 * lnR + _c3 * Math.Pow(lnR, 3);
        return 1.0 / invT + KelvinToCelsius;
    }

    public double CalcAdc(double temp)
    {
        if (temp <= KelvinToCelsius)
            return 1.0;
        double invT = 1.0 / (temp - KelvinToCelsius);
        double lnR;
        if (_c3 != 0.0)
        {
            // Cardano's formula
            double y = (_c1 - invT) / (2.0 * _c3);
            double x = Math.Sqrt(Math.Pow(_c2 / (3.0 * _c3), 3) + Math.Pow(y, 2));
            lnR = Math.Pow(x - y, 1.0 / 3.0) - Math.Pow(x + y, 1.0 / 3.0);
        }
        else
        {
            lnR = (invT - _c1) / _c2;
        }
        double r = Math.Exp(lnR) + _inlineResistor;
        return r / (_pullup + r);
    }

    /// <summary>Creates the ADC sensor for a heater or sensor section using thermistor parameters (upstream PrinterThermistor).</summary>
    public static ITemperatureSensor PrinterThermistor(ConfigWrapper config, ThermistorParams p)
    {
        double pullup = config.GetFloat("pullup_resistor", 4700.0, above: 0.0);
        double inlineResistor = config.GetFloat("inline_resistor", 0.0, minval: 0.0);
        var thermistor = new Thermistor(pullup, inlineResistor) { Log = config.GetPrinter().Log };
        if (p.Beta is double beta)
            thermistor.SetupCoefficientsBeta(p.T1, p.R1, beta);
        else
            thermistor.SetupCoefficients(p.T1, p.R1, p.T2, p.R2, p.T3, p.R3, config.Name);
        return new PrinterAdcToTemperature(config, thermistor);
    }
}

/// <summary>Thermistor calibration: three (temperature, resistance) points or one point and a beta.</summary>
public sealed record ThermistorParams(double T1, double R1, double T2 = 0, double R2 = 0, double T3 = 0, double R3 = 0, double? Beta = null);

/// <summary>A [thermistor NAME] section: registers NAME as a sensor type (upstream CustomThermistor).</summary>
public sealed class CustomThermistor
{
    private const double KelvinToCelsius = -273.15;

    public CustomThermistor(ConfigWrapper config)
    {
        Name = string.Join(" ", config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Skip(1));
        double t1 = config.GetFloat("temperature1", minval: KelvinToCelsius);
        double r1 = config.GetFloat("resistance1", minval: 0.0);
        double? beta = config.GetFloatOrNull("beta", above: 0.0);
        if (beta is not null)
        {
            Params = new ThermistorParams(t1, r1, Beta: beta);
            return;
        }
        double t2 = config.GetFloat("temperature2", minval: KelvinToCelsius);
        double r2 = config.GetFloat("resistance2", minval: 0.0);
        double t3 = config.GetFloat("temperature3", minval: KelvinToCelsius);
        double r3 = config.GetFloat("resistance3", minval: 0.0);
        var sorted = new[] { (t1, r1), (t2, r2), (t3, r3) }.OrderBy(p => p.Item1).ThenBy(p => p.Item2).ToArray();
        Params = new ThermistorParams(sorted[0].Item1, sorted[0].Item2, sorted[1].Item1, sorted[1].Item2,
            sorted[2].Item1, sorted[2].Item2);
    }

    public string Name { get; }

    public ThermistorParams Params { get; }

    public ITemperatureSensor Create(ConfigWrapper config) => Thermistor.PrinterThermistor(config, Params);

    public static object LoadConfigPrefix(ConfigWrapper config)
    {
        var thermistor = new CustomThermistor(config);
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        pheaters.AddSensorFactory(thermistor.Name, thermistor.Create);
        return thermistor;
    }
}
