using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>A temperature sensor that feeds a heater or a sensor object (upstream's sensor duck type).</summary>
public interface ITemperatureSensor
{
    void SetupMinMax(double minTemp, double maxTemp);
    void SetupCallback(Action<double, double> temperatureCallback);
    double GetReportTimeDelta();
}

/// <summary>Something with a current temperature and target, reportable by M105 (upstream get_temp duck type).</summary>
public interface ITemperatureSource
{
    (double Temp, double Target) GetTemp(double eventtime);
}

/// <summary>A heater's temperature control algorithm (bang-bang or PID).</summary>
public interface IHeaterControl
{
    void TemperatureUpdate(double readTime, double temp, double targetTemp);
    bool CheckBusy(double eventtime, double smoothedTemp, double targetTemp);
}

/// <summary>A PWM controlled heater with its temperature sensor and control loop (upstream heaters.Heater).</summary>
public sealed class Heater : ITemperatureSource, IStatusProvider, IStatsProvider
{
    public const double KelvinToCelsius = -273.15;
    public const double MaxHeatTime = 3.0;
    public const double AmbientTemp = 25.0;
    public const double PidParamBase = 255.0;
    public const double MaxMainthreadTime = 5.0;
    public const double QuellStaleTime = 7.0;
    public const double MinPwmChangeRatio = 0.05;

    private readonly Printer _printer;
    private readonly object _lock = new();
    private readonly double _minPwmChange;
    private readonly double _invSmoothTime;
    private readonly IPwmPin _mcuPwm;
    private double _verifyMainthreadTime = -999.0;
    private double _lastTemp, _smoothedTemp, _targetTemp, _lastTempTime;
    private double _nextPwmTime, _lastPwmValue;
    private IHeaterControl _control;

    public Heater(ConfigWrapper config, ITemperatureSensor sensor)
    {
        _printer = config.GetPrinter();
        Name = config.Name;
        var parts = Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        ShortName = parts[^1];
        Sensor = sensor;
        MinTemp = config.GetFloat("min_temp", minval: KelvinToCelsius);
        MaxTemp = config.GetFloat("max_temp", above: MinTemp);
        Sensor.SetupMinMax(MinTemp, MaxTemp);
        Sensor.SetupCallback(TemperatureCallback);
        PwmDelay = Sensor.GetReportTimeDelta();
        MinExtrudeTemp = config.GetFloat("min_extrude_temp", 170.0, minval: MinTemp, maxval: MaxTemp);
        CanExtrude = MinExtrudeTemp <= 0.0 || _printer.IsFileOutput;
        MaxPower = config.GetFloat("max_power", 1.0, above: 0.0, maxval: 1.0);
        _minPwmChange = MaxPower * MinPwmChangeRatio;
        SmoothTime = config.GetFloat("smooth_time", 1.0, above: 0.0);
        _invSmoothTime = 1.0 / SmoothTime;
        var algos = new Dictionary<string, Func<Heater, ConfigWrapper, IHeaterControl>>
        {
            ["watermark"] = (h, c) => new ControlBangBang(h, c),
            ["pid"] = (h, c) => new ControlPID(h, c),
        };
        var algo = config.GetChoice("control", algos);
        _control = algo(this, config);
        string heaterPin = config.Get("heater_pin");
        _mcuPwm = OutputPins.SetupPwm(_printer, heaterPin);
        double pwmCycleTime = config.GetFloat("pwm_cycle_time", 0.100, above: 0.0, maxval: PwmDelay);
        _mcuPwm.SetupCycleTime(pwmCycleTime);
        _mcuPwm.SetupMaxDuration(MaxHeatTime);
        _printer.LoadObject(config, "verify_heater " + ShortName);
        _printer.LoadObject(config, "pid_calibrate");
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_HEATER_TEMPERATURE", "HEATER", ShortName, CmdSetHeaterTemperature,
            desc: CmdSetHeaterTemperatureHelp);
        _printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
    }

    public string Name { get; }
    public string ShortName { get; }
    public ITemperatureSensor Sensor { get; }
    public double MinTemp { get; }
    public double MaxTemp { get; }
    public double PwmDelay { get; }
    public double MinExtrudeTemp { get; }
    public double MaxPower { get; }
    public double SmoothTime { get; }

    /// <summary>True once the smoothed temperature reached min_extrude_temp (always in batch mode).</summary>
    public bool CanExtrude { get; private set; }

    public void SetPwm(double readTime, double value)
    {
        if (_targetTemp <= 0.0 || readTime > _verifyMainthreadTime)
            value = 0.0;
        if ((readTime < _nextPwmTime || _lastPwmValue == 0.0)
            && Math.Abs(value - _lastPwmValue) < _minPwmChange)
            return;
        double pwmTime = readTime + PwmDelay;
        _nextPwmTime = pwmTime + MaxHeatTime - (3.0 * PwmDelay + 0.001);
        _lastPwmValue = value;
        _mcuPwm.SetPwm(pwmTime, value);
    }

    private void TemperatureCallback(double readTime, double temp)
    {
        lock (_lock)
        {
            double timeDiff = readTime - _lastTempTime;
            _lastTemp = temp;
            _lastTempTime = readTime;
            _control.TemperatureUpdate(readTime, temp, _targetTemp);
            double tempDiff = temp - _smoothedTemp;
            double adjTime = Math.Min(timeDiff * _invSmoothTime, 1.0);
            _smoothedTemp += tempDiff * adjTime;
            CanExtrude = _smoothedTemp >= MinExtrudeTemp;
        }
    }

    private void HandleShutdown() => _verifyMainthreadTime = -999.0;

    public string GetName() => Name;
    public double GetPwmDelay() => PwmDelay;
    public double GetMaxPower() => MaxPower;
    public double GetSmoothTime() => SmoothTime;
    public IPwmPin GetPwmPin() => _mcuPwm;

    public void SetTemp(double degrees)
    {
        if (degrees != 0.0 && (degrees < MinTemp || degrees > MaxTemp))
            throw new CommandError($"Requested temperature ({PyFmt.F(degrees, 1)}) out of range ({PyFmt.F(MinTemp, 1)}:{PyFmt.F(MaxTemp, 1)})");
        lock (_lock)
            _targetTemp = degrees;
    }

    public (double Temp, double Target) GetTemp(double eventtime)
    {
        double estPrintTime = _mcuPwm.GetMcu().EstimatedPrintTime(eventtime);
        double quellTime = estPrintTime - QuellStaleTime;
        lock (_lock)
        {
            if (_lastTempTime < quellTime)
                return (0.0, _targetTemp);
            return (_smoothedTemp, _targetTemp);
        }
    }

    public bool CheckBusy(double eventtime)
    {
        lock (_lock)
            return _control.CheckBusy(eventtime, _smoothedTemp, _targetTemp);
    }

    public IHeaterControl SetControl(IHeaterControl control)
    {
        lock (_lock)
        {
            var old = _control;
            _control = control;
            _targetTemp = 0.0;
            return old;
        }
    }

    public IHeaterControl GetControl() => _control;

    public void AlterTarget(double targetTemp)
    {
        if (targetTemp != 0.0)
            targetTemp = Math.Max(MinTemp, Math.Min(MaxTemp, targetTemp));
        _targetTemp = targetTemp;
    }

    public (bool IsActive, string Message) Stats(double eventtime)
    {
        double estPrintTime = _mcuPwm.GetMcu().EstimatedPrintTime(eventtime);
        if (!_printer.IsShutdown)
            _verifyMainthreadTime = estPrintTime + MaxMainthreadTime;
        double targetTemp, lastTemp, lastPwmValue;
        lock (_lock)
        {
            targetTemp = _targetTemp;
            lastTemp = _lastTemp;
            lastPwmValue = _lastPwmValue;
        }
        bool isActive = targetTemp != 0.0 || lastTemp > 50.0;
        return (isActive, $"{ShortName}: target={PyFmt.F(targetTemp, 0)} temp={PyFmt.F(lastTemp, 1)} pwm={PyFmt.F(lastPwmValue, 3)}");
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        lock (_lock)
        {
            return new Dictionary<string, object?>
            {
                ["temperature"] = PyFmt.Round(_smoothedTemp, 2),
                ["target"] = _targetTemp,
                ["power"] = _lastPwmValue,
            };
        }
    }

    public const string CmdSetHeaterTemperatureHelp = "Sets a heater temperature";

    public void CmdSetHeaterTemperature(GCodeCommand gcmd)
    {
        double temp = gcmd.GetFloat("TARGET", 0.0);
        var pheaters = _printer.LookupObject<PrinterHeaters>("heaters");
        pheaters.SetTemperature(this, temp);
    }
}

/// <summary>Bang-bang ("watermark") heater control (upstream ControlBangBang).</summary>
public sealed class ControlBangBang : IHeaterControl
{
    private readonly Heater _heater;
    private readonly double _heaterMaxPower;
    private readonly double _maxDelta;
    private bool _heating;

    public ControlBangBang(Heater heater, ConfigWrapper config)
    {
        _heater = heater;
        _heaterMaxPower = heater.GetMaxPower();
        _maxDelta = config.GetFloat("max_delta", 2.0, above: 0.0);
    }

    public void TemperatureUpdate(double readTime, double temp, double targetTemp)
    {
        if (_heating && temp >= targetTemp + _maxDelta)
            _heating = false;
        else if (!_heating && temp <= targetTemp - _maxDelta)
            _heating = true;
        _heater.SetPwm(readTime, _heating ? _heaterMaxPower : 0.0);
    }

    public bool CheckBusy(double eventtime, double smoothedTemp, double targetTemp) =>
        smoothedTemp < targetTemp - _maxDelta;
}

/// <summary>PID heater control (upstream ControlPID).</summary>
public sealed class ControlPID : IHeaterControl
{
    public const double PidSettleDelta = 1.0;
    public const double PidSettleSlope = 0.1;

    private readonly Heater _heater;
    private readonly double _heaterMaxPower;
    private readonly double _minDerivTime;
    private readonly double _tempIntegMax;
    private double _prevTemp = Heater.AmbientTemp;
    private double _prevTempTime, _prevTempDeriv, _prevTempInteg;

    public ControlPID(Heater heater, ConfigWrapper config)
    {
        _heater = heater;
        _heaterMaxPower = heater.GetMaxPower();
        Kp = config.GetFloat("pid_Kp") / Heater.PidParamBase;
        Ki = config.GetFloat("pid_Ki") / Heater.PidParamBase;
        Kd = config.GetFloat("pid_Kd") / Heater.PidParamBase;
        _minDerivTime = heater.GetSmoothTime();
        if (Ki != 0.0)
            _tempIntegMax = _heaterMaxPower / Ki;
    }

    public double Kp { get; }
    public double Ki { get; }
    public double Kd { get; }

    public void TemperatureUpdate(double readTime, double temp, double targetTemp)
    {
        double timeDiff = readTime - _prevTempTime;
        double tempDiff = temp - _prevTemp;
        double tempDeriv;
        if (timeDiff >= _minDerivTime)
            tempDeriv = tempDiff / timeDiff;
        else
            tempDeriv = (_prevTempDeriv * (_minDerivTime - timeDiff) + tempDiff) / _minDerivTime;
        double tempErr = targetTemp - temp;
        double tempInteg = _prevTempInteg + tempErr * timeDiff;
        tempInteg = Math.Max(0.0, Math.Min(_tempIntegMax, tempInteg));
        double co = Kp * tempErr + Ki * tempInteg - Kd * tempDeriv;
        double boundedCo = Math.Max(0.0, Math.Min(_heaterMaxPower, co));
        _heater.SetPwm(readTime, boundedCo);
        _prevTemp = temp;
        _prevTempTime = readTime;
        _prevTempDeriv = tempDeriv;
        if (co == boundedCo)
            _prevTempInteg = tempInteg;
    }

    public bool CheckBusy(double eventtime, double smoothedTemp, double targetTemp)
    {
        double tempDiff = targetTemp - smoothedTemp;
        return Math.Abs(tempDiff) > PidSettleDelta || Math.Abs(_prevTempDeriv) > PidSettleSlope;
    }
}

/// <summary>The "heaters" object: sensor factories, heater registry, M105 and TEMPERATURE_WAIT (upstream PrinterHeaters).</summary>
public sealed class PrinterHeaters : IStatusProvider
{
    private readonly Printer _printer;
    private readonly Dictionary<string, Func<ConfigWrapper, ITemperatureSensor>> _sensorFactories = new();
    private readonly Dictionary<string, Heater> _heaters = new();
    private readonly Dictionary<string, ITemperatureSource> _gcodeIdToSensor = new();
    private readonly List<string> _availableHeaters = new();
    private readonly List<string> _availableSensors = new();
    private readonly List<string> _availableMonitors = new();
    private bool _hasStarted, _haveLoadSensors;

    public PrinterHeaters(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _printer.RegisterEventHandler<double>("gcode:request_restart", TurnOffAllHeaters);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("TURN_OFF_HEATERS", CmdTurnOffHeaters, desc: CmdTurnOffHeatersHelp);
        gcode.RegisterCommand("M105", CmdM105, whenNotReady: true);
    }

    private void LoadConfig(ConfigWrapper config)
    {
        _haveLoadSensors = true;
        TemperatureSensorDefaults.Load(_printer, config);
    }

    public void AddSensorFactory(string sensorType, Func<ConfigWrapper, ITemperatureSensor> sensorFactory) =>
        _sensorFactories[sensorType] = sensorFactory;

    public Heater SetupHeater(ConfigWrapper config, string? gcodeId = null)
    {
        string heaterName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        if (_heaters.ContainsKey(heaterName))
            throw config.Error($"Heater {heaterName} already registered");
        var sensor = SetupSensor(config);
        var heater = new Heater(config, sensor);
        _heaters[heaterName] = heater;
        RegisterSensor(config, heater, gcodeId);
        _availableHeaters.Add(config.Name);
        return heater;
    }

    public IReadOnlyList<string> GetAllHeaters() => _availableHeaters;

    public Heater LookupHeater(string heaterName) =>
        _heaters.TryGetValue(heaterName, out var h) ? h : throw new ConfigError($"Unknown heater '{heaterName}'");

    public ITemperatureSensor SetupSensor(ConfigWrapper config)
    {
        if (!_haveLoadSensors)
            LoadConfig(config);
        string sensorType = config.Get("sensor_type");
        if (!_sensorFactories.TryGetValue(sensorType, out var factory))
            throw new ConfigError($"Unknown temperature sensor '{sensorType}'");
        return factory(config);
    }

    public void RegisterSensor(ConfigWrapper config, ITemperatureSource psensor, string? gcodeId = null)
    {
        string sensorName = config.Name;
        _availableSensors.Add(sensorName);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("TEMPERATURE_WAIT", "SENSOR", sensorName, CmdTemperatureWait,
            desc: CmdTemperatureWaitHelp);
        if (gcodeId is null)
        {
            gcodeId = config.GetOrNull("gcode_id");
            if (gcodeId is null)
                return;
        }
        if (_gcodeIdToSensor.ContainsKey(gcodeId))
            throw new ConfigError($"G-Code sensor id {gcodeId} already registered");
        _gcodeIdToSensor[gcodeId] = psensor;
    }

    public void RegisterMonitor(ConfigWrapper config) => _availableMonitors.Add(config.Name);

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["available_heaters"] = _availableHeaters.ToList(),
        ["available_sensors"] = _availableSensors.ToList(),
        ["available_monitors"] = _availableMonitors.ToList(),
    };

    public void TurnOffAllHeaters(double printTime = 0.0)
    {
        foreach (var heater in _heaters.Values)
            heater.SetTemp(0.0);
    }

    public const string CmdTurnOffHeatersHelp = "Turn off all heaters";

    private void CmdTurnOffHeaters(GCodeCommand gcmd) => TurnOffAllHeaters();

    private void HandleReady() => _hasStarted = true;

    private string GetTempString(double eventtime)
    {
        var parts = new List<string>();
        if (_hasStarted)
        {
            foreach (var (gcodeId, sensor) in _gcodeIdToSensor.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var (cur, target) = sensor.GetTemp(eventtime);
                parts.Add($"{gcodeId}:{PyFmt.F(cur, 1)} /{PyFmt.F(target, 1)}");
            }
        }
        if (parts.Count == 0)
            return "T:0";
        return string.Join(" ", parts);
    }

    private void CmdM105(GCodeCommand gcmd)
    {
        string msg = GetTempString(_printer.Reactor.Monotonic());
        if (!gcmd.Ack(msg))
            gcmd.RespondRaw(msg);
    }

    private void WaitForTemperature(Heater heater)
    {
        if (_printer.IsFileOutput)
            return;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var reactor = _printer.Reactor;
        double eventtime = reactor.Monotonic();
        while (!_printer.IsShutdown && heater.CheckBusy(eventtime))
        {
            gcode.RespondRaw(GetTempString(eventtime));
            eventtime = reactor.Pause(eventtime + 1.0);
        }
    }

    public void SetTemperature(Heater heater, double temp, bool wait = false)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.RegisterLookaheadCallback(_ => { });
        heater.SetTemp(temp);
        if (wait && temp != 0.0)
            WaitForTemperature(heater);
    }

    public const string CmdTemperatureWaitHelp = "Wait for a temperature on a sensor";

    private void CmdTemperatureWait(GCodeCommand gcmd)
    {
        string sensorName = gcmd.Get("SENSOR");
        double minTemp = gcmd.GetFloat("MINIMUM", double.NegativeInfinity);
        double maxTemp = gcmd.GetFloat("MAXIMUM", double.PositiveInfinity, above: minTemp);
        if (double.IsNegativeInfinity(minTemp) && double.IsPositiveInfinity(maxTemp))
            throw gcmd.Error("Error on 'TEMPERATURE_WAIT': missing MINIMUM or MAXIMUM.");
        if (_printer.IsFileOutput)
            return;
        ITemperatureSource sensor = _heaters.TryGetValue(sensorName, out var h)
            ? h : (ITemperatureSource)_printer.LookupObject(sensorName);
        var reactor = _printer.Reactor;
        double eventtime = reactor.Monotonic();
        while (!_printer.IsShutdown)
        {
            var (temp, _) = sensor.GetTemp(eventtime);
            if (temp >= minTemp && temp <= maxTemp)
                return;
            gcmd.RespondRaw(GetTempString(eventtime));
            eventtime = reactor.Pause(eventtime + 1.0);
        }
    }
}
