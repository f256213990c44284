namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] CoreModules =
    [
        new("motion_queuing", c => new MotionQueuing(c)),
    ];
}
