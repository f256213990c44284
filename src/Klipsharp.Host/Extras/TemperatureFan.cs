using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[temperature_fan NAME]: a fan driven to hold a sensor at a target (upstream TemperatureFan).</summary>
public sealed class TemperatureFan : ITemperatureSource, IStatusProvider
{
    private const double KelvinToCelsius = -273.15;
    public const double MaxFanTime = 5.0;
    public const string CmdSetTemperatureFanTargetHelp = "Sets a temperature fan target and fan speed limits";

    private readonly Printer _printer;
    private readonly string _name;
    private readonly Fan _fan;
    private readonly double _minTemp, _maxTemp, _speedDelay, _targetTempConf;
    private double _maxSpeed, _minSpeed, _lastTemp, _targetTemp, _nextSpeedTime, _lastSpeedValue;
    private readonly Action<double, double> _control;

    public TemperatureFan(ConfigWrapper config)
    {
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        _printer = config.GetPrinter();
        _fan = new Fan(config, defaultShutdownSpeed: 1.0);
        _minTemp = config.GetFloat("min_temp", minval: KelvinToCelsius);
        _maxTemp = config.GetFloat("max_temp", above: _minTemp);
        var pheaters = _printer.LoadObject<PrinterHeaters>(config, "heaters");
        var sensor = pheaters.SetupSensor(config);
        sensor.SetupMinMax(_minTemp, _maxTemp);
        sensor.SetupCallback(TemperatureCallback);
        pheaters.RegisterSensor(config, this);
        _speedDelay = sensor.GetReportTimeDelta();
        _maxSpeed = config.GetFloat("max_speed", 1.0, above: 0.0, maxval: 1.0);
        _minSpeed = config.GetFloat("min_speed", 0.3, minval: 0.0, maxval: 1.0);
        _targetTempConf = config.GetFloat("target_temp", _maxTemp > 40.0 ? 40.0 : _maxTemp, minval: _minTemp, maxval: _maxTemp);
        _targetTemp = _targetTempConf;
        var algos = new Dictionary<string, Func<ConfigWrapper, Action<double, double>>>
        {
            ["watermark"] = c => BangBang(c),
            ["pid"] = c => Pid(c),
        };
        _control = config.GetChoice("control", algos)(config);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_TEMPERATURE_FAN_TARGET", "TEMPERATURE_FAN", _name, CmdSetTemperatureFanTarget,
            desc: CmdSetTemperatureFanTargetHelp);
    }

    public void SetTfSpeed(double readTime, double value)
    {
        if (value <= 0.0)
            value = 0.0;
        else if (value < _minSpeed)
            value = _minSpeed;
        if (_targetTemp <= 0.0)
            value = 0.0;
        if ((readTime < _nextSpeedTime || _lastSpeedValue == 0.0) && Math.Abs(value - _lastSpeedValue) < 0.05)
            return;
        double speedTime = readTime + _speedDelay;
        _nextSpeedTime = speedTime + 0.75 * MaxFanTime;
        _lastSpeedValue = value;
        _fan.SetSpeed(value, speedTime);
    }

    private void TemperatureCallback(double readTime, double temp)
    {
        _lastTemp = temp;
        _control(readTime, temp);
    }

    public (double Temp, double Target) GetTemp(double eventtime) => (_lastTemp, _targetTemp);

    public double GetMinSpeed() => _minSpeed;

    public double GetMaxSpeed() => _maxSpeed;

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var status = _fan.GetStatus(eventtime);
        status["temperature"] = PyFmt.Round(_lastTemp, 2);
        status["target"] = _targetTemp;
        return status;
    }

    private void CmdSetTemperatureFanTarget(GCodeCommand gcmd)
    {
        double temp = gcmd.GetFloat("TARGET", _targetTempConf);
        SetTemp(temp);
        double minSpeed = gcmd.GetFloat("MIN_SPEED", _minSpeed);
        double maxSpeed = gcmd.GetFloat("MAX_SPEED", _maxSpeed);
        if (minSpeed > maxSpeed)
            throw new CommandError($"Requested min speed ({PyFmt.F(minSpeed, 1)}) is greater than max speed ({PyFmt.F(maxSpeed, 1)})");
        SetMinSpeed(minSpeed);
        SetMaxSpeed(maxSpeed);
    }

    public void SetTemp(double degrees)
    {
        if (degrees != 0.0 && (degrees < _minTemp || degrees > _maxTemp))
            throw new CommandError($"Requested temperature ({PyFmt.F(degrees, 1)}) out of range ({PyFmt.F(_minTemp, 1)}:{PyFmt.F(_maxTemp, 1)})");
        _targetTemp = degrees;
    }

    public void SetMinSpeed(double speed)
    {
        if (speed != 0.0 && (speed < 0.0 || speed > 1.0))
            throw new CommandError($"Requested min speed ({PyFmt.F(speed, 1)}) out of range (0.0 : 1.0)");
        _minSpeed = speed;
    }

    public void SetMaxSpeed(double speed)
    {
        if (speed != 0.0 && (speed < 0.0 || speed > 1.0))
            throw new CommandError($"Requested max speed ({PyFmt.F(speed, 1)}) out of range (0.0 : 1.0)");
        _maxSpeed = speed;
    }

    // Bang-bang control (upstream temperature_fan.ControlBangBang)
    private Action<double, double> BangBang(ConfigWrapper config)
    {
        double maxDelta = config.GetFloat("max_delta", 2.0, above: 0.0);
        bool heating = false;
        return (readTime, temp) =>
        {
            var (_, targetTemp) = GetTemp(readTime);
            if (heating && temp >= targetTemp + maxDelta)
                heating = false;
            else if (!heating && temp <= targetTemp - maxDelta)
                heating = true;
            SetTfSpeed(readTime, heating ? 0.0 : GetMaxSpeed());
        };
    }

    // PID control (upstream temperature_fan.ControlPID)
    private Action<double, double> Pid(ConfigWrapper config)
    {
        double kp = config.GetFloat("pid_Kp") / Heater.PidParamBase;
        double ki = config.GetFloat("pid_Ki") / Heater.PidParamBase;
        double kd = config.GetFloat("pid_Kd") / Heater.PidParamBase;
        double minDerivTime = config.GetFloat("pid_deriv_time", 2.0, above: 0.0);
        double tempIntegMax = 0.0;
        if (ki != 0.0)
            tempIntegMax = GetMaxSpeed() / ki;
        double prevTemp = Heater.AmbientTemp, prevTempTime = 0.0, prevTempDeriv = 0.0, prevTempInteg = 0.0;
        return (readTime, temp) =>
        {
            var (_, targetTemp) = GetTemp(readTime);
            double timeDiff = readTime - prevTempTime;
            double tempDiff = temp - prevTemp;
            double tempDeriv = timeDiff >= minDerivTime
                ? tempDiff / timeDiff
                : (prevTempDeriv * (minDerivTime - timeDiff) + tempDiff) / minDerivTime;
            double tempErr = targetTemp - temp;
            double tempInteg = prevTempInteg + tempErr * timeDiff;
            tempInteg = Math.Max(0.0, Math.Min(tempIntegMax, tempInteg));
            double co = kp * tempErr + ki * tempInteg - kd * tempDeriv;
            double boundedCo = Math.Max(0.0, Math.Min(GetMaxSpeed(), co));
            SetTfSpeed(readTime, Math.Max(GetMinSpeed(), GetMaxSpeed() - boundedCo));
            prevTemp = temp;
            prevTempTime = readTime;
            prevTempDeriv = tempDeriv;
            if (co == boundedCo)
                prevTempInteg = tempInteg;
        };
    }
}
