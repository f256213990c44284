namespace Klipsharp.SimMcu;

/// <summary>
/// One simulated axis: the stepper (found by its step pin) that moves it and the endstop
/// switch that closes when the axis reaches <see cref="TriggerPosition"/>.
/// </summary>
public sealed class SimAxis
{
    /// <summary>Step pin name of the stepper that drives the axis (as in <c>config_stepper</c>).</summary>
    public required string StepPin { get; init; }

    /// <summary>Endstop pin name, or null for an axis without a switch.</summary>
    public string? EndstopPin { get; init; }

    /// <summary>Physical position (in steps) at which the switch closes.</summary>
    public long TriggerPosition { get; init; }

    /// <summary>-1: closed at or below the trigger position (a min endstop); +1: at or above (a max endstop).</summary>
    public int TriggerDirection { get; init; } = -1;

    /// <summary>Physical position (in steps) when the MCU starts.</summary>
    public long StartPosition { get; init; }

    /// <summary>True when a positive direction signal moves the axis toward lower positions (a <c>!</c> dir pin in printer.cfg).</summary>
    public bool InvertDir { get; init; }

    /// <summary>Level the endstop pin reads while the switch is closed.</summary>
    public int TriggeredLevel { get; init; } = 1;
}

/// <summary>
/// A heater and its thermistor: heater power heats a lumped thermal mass that loses heat
/// to ambient; the thermistor (Steinhart-Hart) in a divider with a pullup gives the ADC value.
/// </summary>
public sealed class SimHeater
{
    /// <summary>Heater output pin name (digital out or PWM).</summary>
    public required string HeaterPin { get; init; }

    /// <summary>Thermistor ADC pin name.</summary>
    public required string SensorPin { get; init; }

    /// <summary>Heater power at full duty, watts.</summary>
    public double PowerWatts { get; init; } = 40.0;

    /// <summary>Heat capacity of the heated block, joules per kelvin.</summary>
    public double HeatCapacity { get; init; } = 15.0;

    /// <summary>Loss to ambient, watts per kelvin above ambient.</summary>
    public double LossCoefficient { get; init; } = 0.1;

    /// <summary>Ambient (and starting) temperature, Celsius.</summary>
    public double AmbientTemp { get; init; } = 25.0;

    /// <summary>Thermistor curve.</summary>
    public SimThermistor Thermistor { get; init; } = SimThermistor.Epcos100K();

    /// <summary>Pullup resistor of the divider, ohms.</summary>
    public double PullupResistor { get; init; } = 4700.0;

    /// <summary>Resistor in series with the thermistor, ohms.</summary>
    public double InlineResistor { get; init; }
}

/// <summary>The physical printer around the simulated MCU: axes with endstops and heaters with thermistors.</summary>
public sealed class SimMachine
{
    /// <summary>Axes by step pin.</summary>
    public List<SimAxis> Axes { get; init; } = [];

    /// <summary>Heaters.</summary>
    public List<SimHeater> Heaters { get; init; } = [];

    /// <summary>
    /// The printer of upstream's example-cartesian.cfg on an ATmega2560 (RAMPS pins):
    /// X, Y (80 steps/mm) and Z (400 steps/mm) with min endstops at physical 0, the
    /// carriage starting mid-travel; a 40 W hotend (PB4/PK5) and a 150 W bed (PH5/PK6).
    /// </summary>
    public static SimMachine RampsCartesian() => new()
    {
        Axes =
        [
            new SimAxis { StepPin = "PF0", EndstopPin = "PE5", TriggerPosition = 0, StartPosition = 100 * 80 },
            new SimAxis { StepPin = "PF6", EndstopPin = "PJ1", TriggerPosition = 0, StartPosition = 100 * 80, InvertDir = true },
            new SimAxis { StepPin = "PL3", EndstopPin = "PD3", TriggerPosition = 0, StartPosition = 20 * 400 },
            new SimAxis { StepPin = "PA4" },
        ],
        Heaters =
        [
            new SimHeater { HeaterPin = "PB4", SensorPin = "PK5", PowerWatts = 40, HeatCapacity = 15, LossCoefficient = 0.1 },
            new SimHeater { HeaterPin = "PH5", SensorPin = "PK6", PowerWatts = 150, HeatCapacity = 400, LossCoefficient = 1.0 },
        ],
    };

    /// <summary>The default machine for a board (the RAMPS cartesian on atmega2560, nothing otherwise).</summary>
    public static SimMachine DefaultFor(SimBoard board) =>
        board.Name == "atmega2560" ? RampsCartesian() : new SimMachine();
}

/// <summary>A thermistor resistance curve in Steinhart-Hart form (c3 = 0 for a beta curve).</summary>
public sealed class SimThermistor
{
    private const double KelvinToCelsius = -273.15;

    /// <summary>Steinhart-Hart coefficients.</summary>
    public double C1 { get; private init; }

    /// <summary>Steinhart-Hart coefficients.</summary>
    public double C2 { get; private init; }

    /// <summary>Steinhart-Hart coefficients.</summary>
    public double C3 { get; private init; }

    /// <summary>Curve through three (temperature, resistance) points, as upstream's thermistor setup.</summary>
    public static SimThermistor FromPoints(double t1, double r1, double t2, double r2, double t3, double r3)
    {
        double invT1 = 1.0 / (t1 - KelvinToCelsius);
        double invT2 = 1.0 / (t2 - KelvinToCelsius);
        double invT3 = 1.0 / (t3 - KelvinToCelsius);
        double lnR1 = Math.Log(r1), lnR2 = Math.Log(r2), lnR3 = Math.Log(r3);
        double ln3R1 = lnR1 * lnR1 * lnR1, ln3R2 = lnR2 * lnR2 * lnR2, ln3R3 = lnR3 * lnR3 * lnR3;
        double invT12 = invT1 - invT2, invT13 = invT1 - invT3;
        double lnR12 = lnR1 - lnR2, lnR13 = lnR1 - lnR3;
        double ln3R12 = ln3R1 - ln3R2, ln3R13 = ln3R1 - ln3R3;
        double c3 = (invT12 - invT13 * lnR12 / lnR13) / (ln3R12 - ln3R13 * lnR12 / lnR13);
        if (c3 <= 0.0)
            return FromBeta(t1, r1, lnR13 / invT13);
        double c2 = (invT12 - c3 * ln3R12) / lnR12;
        double c1 = invT1 - c2 * lnR1 - c3 * ln3R1;
        return new SimThermistor { C1 = c1, C2 = c2, C3 = c3 };
    }

    /// <summary>Curve from one point and a beta value.</summary>
    public static SimThermistor FromBeta(double t1, double r1, double beta)
    {
        double invT1 = 1.0 / (t1 - KelvinToCelsius);
        double c2 = 1.0 / beta;
        return new SimThermistor { C1 = invT1 - c2 * Math.Log(r1), C2 = c2, C3 = 0.0 };
    }

    /// <summary>The "EPCOS 100K B57560G104F" curve of upstream's thermistor table.</summary>
    public static SimThermistor Epcos100K() => FromPoints(25.0, 100000.0, 150.0, 1641.9, 250.0, 226.15);

    /// <summary>Thermistor resistance at <paramref name="tempC"/>, ohms.</summary>
    public double Resistance(double tempC)
    {
        if (tempC <= KelvinToCelsius)
            return double.PositiveInfinity;
        double invT = 1.0 / (tempC - KelvinToCelsius);
        double lnR;
        if (C3 != 0.0)
        {
            // Cardano's formula for the cubic in ln(R).
            double y = (C1 - invT) / (2.0 * C3);
            double x = Math.Sqrt(Math.Pow(C2 / (3.0 * C3), 3) + y * y);
            lnR = Math.Cbrt(x - y) - Math.Cbrt(x + y);
        }
        else
        {
            lnR = (invT - C1) / C2;
        }
        return Math.Exp(lnR);
    }

    /// <summary>Temperature at resistance <paramref name="ohms"/>, Celsius.</summary>
    public double Temperature(double ohms)
    {
        double lnR = Math.Log(ohms);
        double invT = C1 + C2 * lnR + C3 * lnR * lnR * lnR;
        return 1.0 / invT + KelvinToCelsius;
    }

    /// <summary>Divider output as a fraction of the reference: R / (pullup + R).</summary>
    public double AdcFraction(double tempC, double pullup, double inlineResistor = 0.0)
    {
        double r = Resistance(tempC);
        if (double.IsPositiveInfinity(r))
            return 1.0;
        r += inlineResistor;
        return r / (pullup + r);
    }
}

/// <summary>
/// State of one simulated heater: a first-order thermal mass whose heater power is
/// piecewise constant between output changes, so it is integrated exactly.
/// </summary>
public sealed class ThermalModel
{
    private readonly SimHeater _cfg;
    private double _temp;
    private double _duty;
    private double _lastTime;

    /// <summary>Creates the model at ambient temperature, time 0.</summary>
    public ThermalModel(SimHeater cfg, double startTime = 0.0)
    {
        _cfg = cfg;
        _temp = cfg.AmbientTemp;
        _lastTime = startTime;
    }

    /// <summary>The heater's configuration.</summary>
    public SimHeater Config => _cfg;

    /// <summary>Current heater duty (0..1).</summary>
    public double Duty => _duty;

    /// <summary>Temperature (Celsius) at <paramref name="time"/> seconds, advancing the model.</summary>
    public double TemperatureAt(double time)
    {
        Advance(time);
        return _temp;
    }

    /// <summary>Sets the heater duty (0..1) from <paramref name="time"/> seconds on.</summary>
    public void SetDuty(double time, double duty)
    {
        Advance(time);
        _duty = Math.Clamp(duty, 0.0, 1.0);
    }

    /// <summary>Forces the temperature (for tests and fault injection).</summary>
    public void SetTemperature(double time, double tempC)
    {
        Advance(time);
        _temp = tempC;
    }

    private void Advance(double time)
    {
        double dt = time - _lastTime;
        if (dt <= 0.0)
            return;
        _lastTime = time;
        double k = _cfg.LossCoefficient;
        double power = _duty * _cfg.PowerWatts;
        if (k <= 0.0)
        {
            _temp += power * dt / _cfg.HeatCapacity;
            return;
        }
        // C dT/dt = P - k (T - Ta)  =>  T approaches Ta + P/k with time constant C/k.
        double steady = _cfg.AmbientTemp + power / k;
        _temp = steady + (_temp - steady) * Math.Exp(-k * dt / _cfg.HeatCapacity);
    }

    /// <summary>ADC fraction the sensor gives at <paramref name="time"/>.</summary>
    public double AdcFractionAt(double time) =>
        _cfg.Thermistor.AdcFraction(TemperatureAt(time), _cfg.PullupResistor, _cfg.InlineResistor);
}
