using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] MotionModules =
    [
        new("gcode_move", c => new GCodeMove(c)),
        new("homing", c => new PrinterHoming(c)),
    ];
}
