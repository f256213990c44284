namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] LevelingModules =
    [
    ];
}
