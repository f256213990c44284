using Klipsharp.Host.Extras;

namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] KinematicsModules =
    [
        new("input_shaper", c => new InputShaper(c)),
        new("gcode_arcs", c => new GCodeArcs(c)),
        new("force_move", c => new ForceMove(c)),
        new("manual_stepper", null, c => new ManualStepper(c)),
        new("extruder_stepper", null, c => new PrinterExtruderStepper(c)),
        new("delta_calibrate", c => new DeltaCalibrate(c)),
    ];
}
