using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>Shuts the printer down when a heater does not heat as expected (upstream verify_heater HeaterCheck).</summary>
public sealed class HeaterCheck
{
    public const string HintThermal = "\nSee the 'verify_heater' section in docs/Config_Reference.md\nfor the parameters that control this check.\n";

    private readonly Printer _printer;
    private readonly string _heaterName;
    private readonly double _hysteresis, _maxError, _heatingGain, _checkGainTime;
    private Heater? _heater;
    private bool _approachingTarget, _startingApproach;
    private double _lastTarget, _goalTemp, _error;
    private double _goalSystime = Reactor.Never;
    private ReactorTimer? _checkTimer;

    public HeaterCheck(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
        _heaterName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        _hysteresis = config.GetFloat("hysteresis", 5.0, minval: 0.0);
        _maxError = config.GetFloat("max_error", 120.0, minval: 0.0);
        _heatingGain = config.GetFloat("heating_gain", 2.0, above: 0.0);
        double defaultGainTime = _heaterName == "heater_bed" ? 60.0 : 20.0;
        _checkGainTime = config.GetFloat("check_gain_time", defaultGainTime, minval: 1.0);
    }

    private void HandleConnect()
    {
        // Checks are disabled when writing to a debug file
        if (_printer.IsFileOutput)
            return;
        _heater = _printer.LookupObject<PrinterHeaters>("heaters").LookupHeater(_heaterName);
        _printer.Log?.Invoke($"Starting heater checks for {_heaterName}");
        _checkTimer = _printer.Reactor.RegisterTimer(CheckEvent, Reactor.Now);
    }

    private void HandleShutdown()
    {
        if (_checkTimer is not null)
            _printer.Reactor.UpdateTimer(_checkTimer, Reactor.Never);
    }

    private double CheckEvent(double eventtime)
    {
        var (temp, target) = _heater!.GetTemp(eventtime);
        if (temp >= target - _hysteresis || target <= 0.0)
        {
            if (_approachingTarget && target != 0.0)
                _printer.Log?.Invoke($"Heater {_heaterName} within range of {PyFmt.F(target, 3)}");
            _approachingTarget = _startingApproach = false;
            if (temp <= target + _hysteresis)
                _error = 0.0;
            _lastTarget = target;
            return eventtime + 1.0;
        }
        _error += (target - _hysteresis) - temp;
        if (!_approachingTarget)
        {
            if (target != _lastTarget)
            {
                _printer.Log?.Invoke($"Heater {_heaterName} approaching new target of {PyFmt.F(target, 3)}");
                _approachingTarget = _startingApproach = true;
                _goalTemp = temp + _heatingGain;
                _goalSystime = eventtime + _checkGainTime;
            }
            else if (_error >= _maxError)
            {
                return HeaterFault();
            }
        }
        else if (temp >= _goalTemp)
        {
            _startingApproach = false;
            _error = 0.0;
            _goalTemp = temp + _heatingGain;
            _goalSystime = eventtime + _checkGainTime;
        }
        else if (eventtime >= _goalSystime)
        {
            _approachingTarget = false;
            _printer.Log?.Invoke($"Heater {_heaterName} no longer approaching target {PyFmt.F(target, 3)}");
        }
        else if (_startingApproach)
        {
            _goalTemp = Math.Min(_goalTemp, temp + _heatingGain);
        }
        _lastTarget = target;
        return eventtime + 1.0;
    }

    private double HeaterFault()
    {
        string msg = $"Heater {_heaterName} not heating at expected rate";
        _printer.Log?.Invoke(msg);
        _printer.InvokeShutdown(msg + HintThermal);
        return Reactor.Never;
    }
}
