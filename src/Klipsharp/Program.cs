namespace Klipsharp;

/// <summary>Command-line entry point: dispatches to the verbs.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: klipsharp batch|decode|run|sim-mcu ...");
        return 2;
    }
}
