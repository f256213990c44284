using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Klipsharp.Host;

namespace Klipsharp.Bench;

/// <summary>
/// The whole batch run on the Stanford bunny slicer file (135k moves): config, planning,
/// step generation, compression and encoding, as `klipsharp batch` does it.
/// Upstream klippy takes 11.3 s and 69 MB peak on the reference machine.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class BatchBenchmarks
{
    private StartArgs _args = null!;

    /// <summary>Step times in closed form (--closed-form-steps) instead of by the secant search.</summary>
    [Params(false, true)]
    public bool ClosedForm { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string golden = Path.Combine(ProtocolBenchmarks.FindRoot(), "..", "shared", "golden");
        string test = File.ReadAllText(Path.Combine(golden, "slicer", "slicer-bunny.test"));
        string config = test.Split('\n').First(l => l.StartsWith("CONFIG", StringComparison.Ordinal)).Split(' ', 2)[1].Trim();
        string dict = test.Split('\n').First(l => l.StartsWith("DICTIONARY", StringComparison.Ordinal)).Split(' ', 3)[1].Trim();
        _args = new StartArgs
        {
            ConfigFile = Path.GetFullPath(Path.Combine(golden, "slicer", config)),
            DebugInput = Path.Combine(golden, "slicer", "bunny.gcode"),
            DebugOutput = Path.Combine(Path.GetTempPath(), "klipsharp-bench-bunny.serial"),
            Dictionaries = new Dictionary<string, string> { ["mcu"] = Path.Combine(golden, "dict", dict) },
            ClosedFormSteps = ClosedForm,
        };
    }

    [Benchmark]
    public string Bunny() => PrinterHost.Run(_args).Result;
}
