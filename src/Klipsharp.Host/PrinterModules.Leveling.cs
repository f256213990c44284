using Klipsharp.Host.Extras;

namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] LevelingModules =
    [
        new("manual_probe", c => new ManualProbe(c)),
    ];
}
