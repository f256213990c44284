using Klipsharp.Host.Configuration;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Extras;

/// <summary>
/// An additional extruder stepper synchronized to an extruder's motion (upstream
/// extras/extruder_stepper.py, section [extruder_stepper NAME]).
/// </summary>
public sealed class PrinterExtruderStepper : IStatusProvider
{
    private readonly Printer _printer;
    private readonly string _extruderName;

    public PrinterExtruderStepper(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        ExtruderStepper = new ExtruderStepper(config);
        _extruderName = config.Get("extruder");
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    /// <summary>The stepper and its pressure advance settings.</summary>
    public ExtruderStepper ExtruderStepper { get; }

    private void HandleConnect() => ExtruderStepper.SyncToExtruder(_extruderName);

    public double FindPastPosition(double printTime) => ExtruderStepper.FindPastPosition(printTime);

    public Dictionary<string, object?> GetStatus(double eventtime) => ExtruderStepper.GetStatus(eventtime);
}
