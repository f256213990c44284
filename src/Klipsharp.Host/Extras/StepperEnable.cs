using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>An enable line, possibly shared by several steppers (upstream StepperEnablePin).</summary>
public sealed class StepperEnablePin
{
    private readonly IDigitalOutPin? _mcuEnable;
    private int _enableCount;

    public StepperEnablePin(IDigitalOutPin? mcuEnable, int enableCount)
    {
        _mcuEnable = mcuEnable;
        _enableCount = enableCount;
    }

    public bool IsDedicated { get; set; } = true;

    public void SetEnable(double printTime)
    {
        if (_enableCount == 0)
            _mcuEnable!.SetDigital(printTime, 1);
        _enableCount++;
    }

    public void SetDisable(double printTime)
    {
        _enableCount--;
        if (_enableCount == 0)
            _mcuEnable!.SetDigital(printTime, 0);
    }

    /// <summary>Creates or shares the enable line for <paramref name="pin"/> (upstream setup_enable_pin).</summary>
    public static StepperEnablePin Setup(Printer printer, string? pin)
    {
        if (pin is null)
            return new StepperEnablePin(null, 9999) { IsDedicated = false };
        var ppins = printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.LookupPin(pin, canInvert: true, shareType: "stepper_enable");
        var existing = PinClassStore.Get<StepperEnablePin>(pinParams);
        if (existing is not null)
        {
            existing.IsDedicated = false;
            return existing;
        }
        var mcuEnable = OutputPins.AsDigital(pinParams.Chip.SetupPin("digital_out", pinParams));
        mcuEnable.SetupMaxDuration(0.0);
        var enable = new StepperEnablePin(mcuEnable, 0);
        PinClassStore.Set(pinParams, enable);
        return enable;
    }
}

/// <summary>Enable state of one stepper (upstream EnableTracking).</summary>
public sealed class EnableTracking
{
    private readonly McuStepper _stepper;
    private readonly StepperEnablePin _enable;
    private readonly List<Action<double, bool>> _callbacks = new();
    private bool _isEnabled;

    public EnableTracking(McuStepper stepper, StepperEnablePin enable)
    {
        _stepper = stepper;
        _enable = enable;
        _stepper.AddActiveCallback(MotorEnable);
    }

    public void RegisterStateCallback(Action<double, bool> callback) => _callbacks.Add(callback);

    public void MotorEnable(double printTime)
    {
        if (_isEnabled)
            return;
        foreach (var cb in _callbacks)
            cb(printTime, true);
        _enable.SetEnable(printTime);
        _isEnabled = true;
    }

    public void MotorDisable(double printTime)
    {
        if (!_isEnabled)
            return;
        foreach (var cb in _callbacks)
            cb(printTime, false);
        _enable.SetDisable(printTime);
        _isEnabled = false;
        // Re-enable on the next movement of this stepper
        _stepper.AddActiveCallback(MotorEnable);
    }

    public bool IsMotorEnabled() => _isEnabled;

    public bool HasDedicatedEnable() => _enable.IsDedicated;
}

/// <summary>The "stepper_enable" object: enable lines of all steppers, M18/M84 and SET_STEPPER_ENABLE (upstream PrinterStepperEnable).</summary>
public sealed class PrinterStepperEnable : IStepperRegistry, IStatusProvider, IMotorOff
{
    public const double DisableStallTime = 0.100;
    public const string CmdSetStepperEnableHelp = "Enable/disable individual stepper by name";

    private readonly Printer _printer;
    private readonly OrderedDictionary<string, EnableTracking> _enableLines = new(StringComparer.Ordinal);

    public PrinterStepperEnable(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler<double>("gcode:request_restart", HandleRequestRestart);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("M18", CmdM18);
        gcode.RegisterCommand("M84", CmdM18);
    }

    public void RegisterStepper(ConfigWrapper config, McuStepper mcuStepper)
    {
        string name = mcuStepper.GetName();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_STEPPER_ENABLE", "STEPPER", name, CmdSetStepperEnable, desc: CmdSetStepperEnableHelp);
        var enable = StepperEnablePin.Setup(_printer, config.GetOrNull("enable_pin"));
        _enableLines[name] = new EnableTracking(mcuStepper, enable);
    }

    public bool SetMotorsEnable(IEnumerable<string> stepperNames, bool enable)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        // Flush steps so that all auto enable callbacks have run
        toolhead.FlushStepGeneration();
        double? printTime = null;
        bool didChange = false;
        foreach (var stepperName in stepperNames)
        {
            var el = _enableLines[stepperName];
            if (el.IsMotorEnabled() == enable)
                continue;
            if (printTime is null)
            {
                // Leave time after any previous auto enable
                if (!enable)
                    toolhead.Dwell(DisableStallTime);
                printTime = toolhead.GetLastMoveTime();
            }
            if (enable)
                el.MotorEnable(printTime.Value);
            else
                el.MotorDisable(printTime.Value);
            didChange = true;
        }
        // Leave time before a future auto enable
        if (didChange && !enable)
            toolhead.Dwell(DisableStallTime);
        return didChange;
    }

    public void MotorOff()
    {
        SetMotorsEnable(GetSteppers(), false);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.GetKinematics().ClearHomingState("xyz");
        _printer.SendEvent("stepper_enable:motor_off");
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var steppers = new Dictionary<string, object?>();
        foreach (var (name, et) in _enableLines)
            steppers[name] = et.IsMotorEnabled();
        return new Dictionary<string, object?> { ["steppers"] = steppers };
    }

    private void HandleRequestRestart(double printTime) => MotorOff();

    private void CmdM18(GCodeCommand gcmd) => MotorOff();

    private void CmdSetStepperEnable(GCodeCommand gcmd)
    {
        string stepperName = gcmd.Get("STEPPER");
        int stepperEnable = gcmd.GetInt("ENABLE", 1);
        SetMotorsEnable([stepperName], stepperEnable != 0);
        _printer.Log?.Invoke(stepperEnable != 0
            ? $"{stepperName} has been manually enabled"
            : $"{stepperName} has been manually disabled");
    }

    public EnableTracking LookupEnable(string name) =>
        _enableLines.TryGetValue(name, out var et) ? et : throw new ConfigError($"Unknown stepper '{name}'");

    public List<string> GetSteppers() => _enableLines.Keys.ToList();
}
