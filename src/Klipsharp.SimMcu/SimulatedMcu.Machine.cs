namespace Klipsharp.SimMcu;

public sealed partial class SimulatedMcu
{
    private readonly List<AxisState> _axes = new();
    private readonly List<HeaterState> _heaters = new();
    private readonly Dictionary<int, double> _outputLevels = new();
    private readonly Dictionary<int, int> _inputOverrides = new();
    private readonly Dictionary<int, double> _adcOverrides = new();
    private SimThermistor? _ambientThermistor;

    private sealed class AxisState
    {
        public required SimAxis Config;
        public int StepPin;
        public int EndstopPin = -1;
        public long Base;
        public Stepper? Stepper;
    }

    private sealed class HeaterState
    {
        public required SimHeater Config;
        public int HeaterPin;
        public int SensorPin;
        public required ThermalModel Model;
    }

    private int ResolvePin(string name, string what)
    {
        int pin = Board.PinNumber(name);
        if (pin < 0)
            throw new ArgumentException($"{what} '{name}' is not a pin of board '{Board.Name}'");
        return pin;
    }

    private void InitMachine()
    {
        foreach (var ax in Machine.Axes)
        {
            _axes.Add(new AxisState
            {
                Config = ax,
                StepPin = ResolvePin(ax.StepPin, "step pin"),
                EndstopPin = ax.EndstopPin != null ? ResolvePin(ax.EndstopPin, "endstop pin") : -1,
                Base = ax.StartPosition,
            });
        }
        foreach (var h in Machine.Heaters)
        {
            _heaters.Add(new HeaterState
            {
                Config = h,
                HeaterPin = ResolvePin(h.HeaterPin, "heater pin"),
                SensorPin = ResolvePin(h.SensorPin, "sensor pin"),
                Model = new ThermalModel(h, Clock.Seconds),
            });
        }
    }

    private void AttachStepperToAxis(Stepper s)
    {
        foreach (var ax in _axes)
        {
            if (ax.StepPin == s.StepPin)
            {
                ax.Stepper = s;
                s.Axis = ax;
            }
        }
    }

    private static long AxisPhysical(AxisState ax)
    {
        long p = ax.Stepper != null ? (int)(StepperGetPosition(ax.Stepper) - PositionBias) : 0;
        return ax.Base + (ax.Config.InvertDir ? -p : p);
    }

    // A restart forgets the steppers but not where the carriages are.
    private void SaveAxisPositions()
    {
        foreach (var ax in _axes)
        {
            ax.Base = AxisPhysical(ax);
            ax.Stepper = null;
        }
    }

    private void ResetOutputs()
    {
        foreach (var pin in _outputLevels.Keys.ToList())
            SetOutputLevel(pin, 0);
    }

    private void SetOutputLevel(int pin, double level)
    {
        _outputLevels[pin] = level;
        foreach (var h in _heaters)
        {
            if (h.HeaterPin == pin)
                h.Model.SetDuty(Clock.Seconds, level);
        }
    }

    private int ReadInputPin(int pin, bool pullUp)
    {
        if (_inputOverrides.TryGetValue(pin, out int forced))
            return forced;
        foreach (var ax in _axes)
        {
            if (ax.EndstopPin != pin)
                continue;
            long phys = AxisPhysical(ax);
            bool triggered = ax.Config.TriggerDirection < 0 ? phys <= ax.Config.TriggerPosition : phys >= ax.Config.TriggerPosition;
            int level = ax.Config.TriggeredLevel != 0 ? 1 : 0;
            return triggered ? level : level ^ 1;
        }
        return pullUp ? 1 : 0;
    }

    private ushort ReadAdc(int pin)
    {
        double frac;
        if (_adcOverrides.TryGetValue(pin, out double f))
        {
            frac = f;
        }
        else
        {
            HeaterState? heater = null;
            foreach (var h in _heaters)
            {
                if (h.SensorPin == pin)
                    heater = h;
            }
            if (heater != null)
            {
                frac = heater.Model.AdcFractionAt(Clock.Seconds);
            }
            else
            {
                // An unlisted ADC pin reads like a 100K thermistor at room temperature.
                _ambientThermistor ??= SimThermistor.Epcos100K();
                frac = _ambientThermistor.AdcFraction(25.0, 4700.0);
            }
        }
        return (ushort)Math.Clamp(Math.Round(Math.Clamp(frac, 0.0, 1.0) * Board.AdcMax), 0, Board.AdcMax);
    }

    // ------------------------------------------------------------------
    // Public machine readouts and fault injection

    /// <summary>Physical position (steps) of the axis driven by <paramref name="stepPin"/>, or null when the machine has no such axis.</summary>
    public long? GetAxisPosition(string stepPin)
    {
        int pin = Board.PinNumber(stepPin);
        lock (_sync)
        {
            foreach (var ax in _axes)
            {
                if (ax.StepPin == pin)
                    return AxisPhysical(ax);
            }
            return null;
        }
    }

    /// <summary>Current output level of a pin (0..1; PWM as a fraction), or null if never driven.</summary>
    public double? GetOutputLevel(string pin)
    {
        int p = Board.PinNumber(pin);
        lock (_sync)
            return _outputLevels.TryGetValue(p, out double v) ? v : null;
    }

    /// <summary>Temperature (Celsius) of the heater on <paramref name="heaterPin"/> now, or null.</summary>
    public double? GetHeaterTemperature(string heaterPin)
    {
        int p = Board.PinNumber(heaterPin);
        lock (_sync)
        {
            foreach (var h in _heaters)
            {
                if (h.HeaterPin == p)
                    return h.Model.TemperatureAt(Clock.Seconds);
            }
            return null;
        }
    }

    /// <summary>Forces the temperature of the heater on <paramref name="heaterPin"/> (fault injection).</summary>
    public void SetHeaterTemperature(string heaterPin, double tempC)
    {
        int p = Board.PinNumber(heaterPin);
        lock (_sync)
        {
            foreach (var h in _heaters)
            {
                if (h.HeaterPin == p)
                    h.Model.SetTemperature(Clock.Seconds, tempC);
            }
        }
    }

    /// <summary>Forces an input pin to a level (null releases it).</summary>
    public void SetInputPin(string pin, int? level)
    {
        int p = ResolvePin(pin, "input pin");
        lock (_sync)
        {
            if (level is int l)
                _inputOverrides[p] = l != 0 ? 1 : 0;
            else
                _inputOverrides.Remove(p);
        }
    }

    /// <summary>Forces an ADC pin to a fraction of full scale (null releases it).</summary>
    public void SetAdcInput(string pin, double? fraction)
    {
        int p = ResolvePin(pin, "ADC pin");
        lock (_sync)
        {
            if (fraction is double f)
                _adcOverrides[p] = f;
            else
                _adcOverrides.Remove(p);
        }
    }
}
