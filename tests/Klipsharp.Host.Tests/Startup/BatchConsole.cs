using Klipsharp.Host.Tests.Conformance;

namespace Klipsharp.Host.Tests.Startup;

/// <summary>Classes that replace <see cref="Console.Error"/> to read what a batch run prints.</summary>
[CollectionDefinition("batch stderr")]
public sealed class BatchStderrCollection
{
}

/// <summary>
/// Base of tests that run <c>klipsharp batch</c> in this process (classes in the "batch
/// stderr" collection), each test in a temporary folder of its own.
/// </summary>
public abstract class BatchConsoleTest : IDisposable
{
    /// <summary>The test's temporary folder.</summary>
    protected string Dir { get; } = Directory.CreateTempSubdirectory("klipsharp-batch").FullName;

    /// <summary>Where <see cref="RunBatch"/> writes the G-code.</summary>
    protected string InputPath => Path.Combine(Dir, "in.gcode");

    /// <summary>Where the run writes the MCU stream.</summary>
    protected string OutputPath => Path.Combine(Dir, "out");

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Writes <paramref name="gcode"/> to <see cref="InputPath"/> and runs <paramref name="config"/> on it.</summary>
    protected (int Exit, string Stderr) RunBatch(string config, byte[] gcode)
    {
        File.WriteAllBytes(InputPath, gcode);
        return Run(config, InputPath, OutputPath);
    }

    /// <summary>Exit status and what the run printed on stderr (trimmed), with the atmega2560 dictionary.</summary>
    private static (int Exit, string Stderr) Run(string config, string gcode, string output)
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
