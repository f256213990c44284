using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[homing_heaters]: turns heaters off while homing sensitive steppers (upstream homing_heaters.HomingHeaters).</summary>
public sealed class HomingHeaters
{
    private readonly Printer _printer;
    private IReadOnlyList<string>? _disableHeaters;
    private readonly IReadOnlyList<string>? _flakySteppers;
    private readonly PrinterHeaters _pheaters;
    private readonly Dictionary<string, double> _targetSave = new();

    public HomingHeaters(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _printer.RegisterEventHandler<HomingMove>("homing:homing_move_begin", HandleHomingMoveBegin);
        _printer.RegisterEventHandler<HomingMove>("homing:homing_move_end", HandleHomingMoveEnd);
        _disableHeaters = config.GetListOrNull("heaters");
        _flakySteppers = config.GetListOrNull("steppers");
        _pheaters = _printer.LoadObject<PrinterHeaters>(config, "heaters");
    }

    private void HandleConnect()
    {
        var allHeaters = _pheaters.GetAllHeaters();
        if (_disableHeaters is null)
            _disableHeaters = allHeaters.ToList();
        else if (!_disableHeaters.All(allHeaters.Contains))
            throw new ConfigError($"One or more of these heaters are unknown: {PyRepr.List(_disableHeaters)}");
        var kin = _printer.LookupObject<ToolHead>("toolhead").GetKinematics();
        var allSteppers = kin.GetSteppers().Select(s => s.GetName()).ToList();
        if (_flakySteppers is null)
            return;
        if (!_flakySteppers.All(allSteppers.Contains))
            throw new ConfigError($"One or more of these steppers are unknown: {PyRepr.List(_flakySteppers)}");
    }

    private bool CheckEligible(IEnumerable<IEndstop> endstops)
    {
        if (_flakySteppers is null)
            return true;
        var stepperNames = endstops.SelectMany(es => es.GetSteppers()).Select(s => s.Name);
        return stepperNames.Any(_flakySteppers.Contains);
    }

    private void HandleHomingMoveBegin(HomingMove hmove)
    {
        if (!CheckEligible(hmove.GetMcuEndstops()))
            return;
        foreach (var heaterName in _disableHeaters!)
        {
            var heater = _pheaters.LookupHeater(heaterName);
            _targetSave[heaterName] = heater.GetTemp(0).Target;
            heater.SetTemp(0.0);
        }
    }

    private void HandleHomingMoveEnd(HomingMove hmove)
    {
        if (!CheckEligible(hmove.GetMcuEndstops()))
            return;
        foreach (var heaterName in _disableHeaters!)
            _pheaters.LookupHeater(heaterName).SetTemp(_targetSave[heaterName]);
    }
}
