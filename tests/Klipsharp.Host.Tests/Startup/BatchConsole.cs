using Klipsharp.Host.Tests.Conformance;

namespace Klipsharp.Host.Tests.Startup;

/// <summary>Classes that replace <see cref="Console.Error"/> to read what a batch run prints.</summary>
[CollectionDefinition("batch stderr")]
public sealed class BatchStderrCollection
{
}

/// <summary>Runs <c>klipsharp batch</c> in this process (for classes in the "batch stderr" collection).</summary>
internal static class BatchConsole
{
    /// <summary>Exit status and what the run printed on stderr (trimmed), with the atmega2560 dictionary.</summary>
    public static (int Exit, string Stderr) Run(string config, string gcode, string output)
    {
        string dict = Path.Combine(RepoPaths.Golden, "dict", "atmega2560.dict");
        var stderr = new StringWriter();
        var saved = Console.Error;
        Console.SetError(stderr);
        try
        {
            int exit = Klipsharp.Program.Main(["batch", config, "-i", gcode, "-o", output, "-d", dict]);
            return (exit, stderr.ToString().Trim());
        }
        finally
        {
            Console.SetError(saved);
        }
    }
}
