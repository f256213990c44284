using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>A PWM controlled fan with kick start, off_below and an optional enable pin (upstream fan.Fan).</summary>
public sealed class Fan : IStatusProvider
{
    private readonly Printer _printer;
    private readonly double _maxPower, _kickStartTime, _offBelow;
    private readonly IPwmPin _mcuFan;
    private readonly IDigitalOutPin? _enablePin;
    private readonly GCodeRequestQueue _gcrq;
    private readonly FanTachometer _tachometer;
    private double _lastFanValue, _lastReqValue;

    public Fan(ConfigWrapper config, double defaultShutdownSpeed = 0.0)
    {
        _printer = config.GetPrinter();
        _maxPower = config.GetFloat("max_power", 1.0, above: 0.0, maxval: 1.0);
        _kickStartTime = config.GetFloat("kick_start_time", 0.1, minval: 0.0);
        _offBelow = config.GetFloat("off_below", 0.0, minval: 0.0, maxval: 1.0);
        double cycleTime = config.GetFloat("cycle_time", 0.010, above: 0.0);
        bool hardwarePwm = config.GetBoolean("hardware_pwm", false);
        double shutdownSpeed = config.GetFloat("shutdown_speed", defaultShutdownSpeed, minval: 0.0, maxval: 1.0);
        _mcuFan = OutputPins.SetupPwm(_printer, config.Get("pin"));
        _mcuFan.SetupMaxDuration(0.0);
        _mcuFan.SetupCycleTime(cycleTime, hardwarePwm);
        double shutdownPower = Math.Max(0.0, Math.Min(_maxPower, shutdownSpeed));
        _mcuFan.SetupStartValue(0.0, shutdownPower);
        string? enablePin = config.GetOrNull("enable_pin");
        if (enablePin is not null)
        {
            _enablePin = OutputPins.SetupDigitalOut(_printer, enablePin);
            _enablePin.SetupMaxDuration(0.0);
        }
        _gcrq = new GCodeRequestQueue(config, _mcuFan.GetMcu(), ApplySpeed);
        _tachometer = new FanTachometer(config);
        _printer.RegisterEventHandler<double>("gcode:request_restart", HandleRequestRestart);
    }

    public Mcu.Mcu GetMcu() => _mcuFan.GetMcu();

    private (string Action, double Time)? ApplySpeed(double printTime, double value)
    {
        if (value < _offBelow)
            value = 0.0;
        value = Math.Max(0.0, Math.Min(_maxPower, value * _maxPower));
        if (value == _lastFanValue)
            return ("discard", 0.0);
        if (_enablePin is not null)
        {
            if (value > 0 && _lastFanValue == 0)
                _enablePin.SetDigital(printTime, 1);
            else if (value == 0 && _lastFanValue > 0)
                _enablePin.SetDigital(printTime, 0);
        }
        if (value != 0.0 && _kickStartTime != 0.0
            && (_lastFanValue == 0.0 || value - _lastFanValue > 0.5))
        {
            // Run at full speed for kick_start_time
            _lastReqValue = value;
            _lastFanValue = _maxPower;
            _mcuFan.SetPwm(printTime, _maxPower);
            return ("repeat", printTime + _kickStartTime);
        }
        _lastFanValue = _lastReqValue = value;
        _mcuFan.SetPwm(printTime, value);
        return null;
    }

    public void SetSpeed(double value, double? printTime = null) => _gcrq.SendAsyncRequest(value, printTime);

    public void SetSpeedFromCommand(double value) => _gcrq.QueueGcodeRequest(value);

    private void HandleRequestRestart(double printTime) => SetSpeed(0.0, printTime);

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["speed"] = _lastReqValue,
        ["rpm"] = _tachometer.GetRpm(),
    };
}

/// <summary>Optional fan speed measurement from a tachometer pin (upstream FanTachometer).</summary>
public sealed class FanTachometer
{
    private readonly FrequencyCounter? _freqCounter;
    private readonly int _ppr;

    public FanTachometer(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        string? pin = config.GetOrNull("tachometer_pin");
        if (pin is not null)
        {
            _ppr = config.GetInt("tachometer_ppr", 2, minval: 1);
            double pollTime = config.GetFloat("tachometer_poll_interval", 0.0015, above: 0.0);
            const double sampleTime = 1.0;
            _freqCounter = new FrequencyCounter(printer, pin, sampleTime, pollTime);
        }
    }

    public double? GetRpm() => _freqCounter is null ? null : _freqCounter.GetFrequency() * 30.0 / _ppr;

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["rpm"] = GetRpm() };
}

/// <summary>The [fan] section: the part cooling fan driven by M106/M107 (upstream PrinterFan).</summary>
public sealed class PrinterFan : IStatusProvider
{
    public PrinterFan(ConfigWrapper config)
    {
        Fan = new Fan(config);
        var gcode = config.GetPrinter().LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("M106", CmdM106);
        gcode.RegisterCommand("M107", CmdM107);
    }

    public Fan Fan { get; }

    public Dictionary<string, object?> GetStatus(double eventtime) => Fan.GetStatus(eventtime);

    private void CmdM106(GCodeCommand gcmd)
    {
        double value = gcmd.GetFloat("S", 255.0, minval: 0.0) / 255.0;
        Fan.SetSpeedFromCommand(value);
    }

    private void CmdM107(GCodeCommand gcmd) => Fan.SetSpeedFromCommand(0.0);
}
