using System.Diagnostics;

namespace Klipsharp.Host.Tests.Conformance;

/// <summary>
/// Runs the shared conformance corpus through <c>./klipsharp batch</c> and fails when a
/// case listed in conformance-baseline.txt (the cases that passed when it was last
/// updated) no longer passes: with exact comparison (scripts/exact-conformance.py, the
/// corpus's checker without its step tolerance) for the default solver, and with the
/// corpus's own checker for closed-form step times.
/// </summary>
public sealed class ConformanceTests
{
    private static readonly string BaselinePath = Path.Combine(RepoPaths.Root, "tests", "conformance-baseline.txt");
    private static readonly string ExactChecker = Path.Combine(RepoPaths.Root, "scripts", "exact-conformance.py");
    private static readonly string CorpusChecker = Path.Combine(RepoPaths.Shared, "tools", "conformance.py");

    // The motion case files (and a slicer's output), run again with step times in
    // closed form; the checker's step tolerance (50 us) is what lets that stream pass.
    private static readonly string[] ClosedFormCaseFiles =
    [
        "commands", "out_of_bounds", "gcode_arcs", "input_shaper", "pressure_advance", "extruders",
        "manual_stepper", "generic_cartesian", "generic_cartesian_iqex", "generic_cartesian_itex",
        "corexyuv", "dual_carriage", "hybrid_corexy_dual_carriage", "multi_z", "slicer-box",
    ];

    [Fact]
    public void EveryBaselineCasePasses()
    {
        var baseline = ReadBaseline();
        // Run only the case files that hold baseline cases
        var caseFiles = baseline
            .Select(c => c.Split('/')[0])
            .Distinct()
            .Select(CaseFileFor)
            .ToList();
        AssertBaselinePasses(baseline, RunInParallel(caseFiles, ExactChecker, ""));
    }

    [Fact]
    public void BaselineMotionCasesPassWithClosedFormSteps()
    {
        var baseline = ReadBaseline().Where(c => ClosedFormCaseFiles.Contains(c.Split('/')[0])).ToList();
        Assert.NotEmpty(baseline);
        var caseFiles = ClosedFormCaseFiles.Select(CaseFileFor).ToList();
        AssertBaselinePasses(baseline, RunInParallel(caseFiles, CorpusChecker, " --closed-form-steps"));
    }

    private static List<string> ReadBaseline()
    {
        var baseline = File.ReadAllLines(BaselinePath)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();
        Assert.NotEmpty(baseline);
        return baseline;
    }

    private static void AssertBaselinePasses(List<string> baseline, Dictionary<string, string> results)
    {
        var failures = new List<string>();
        foreach (var name in baseline)
        {
            if (!results.TryGetValue(name, out var line))
                failures.Add($"{name}: not run");
            else if (!line.StartsWith("PASS", StringComparison.Ordinal))
                failures.Add(line);
        }
        Assert.True(failures.Count == 0, "conformance regressions:\n" + string.Join('\n', failures));
    }

    private static string CaseFileFor(string stem)
    {
        string slicer = Path.Combine(RepoPaths.Golden, "slicer", stem + ".test");
        if (File.Exists(slicer))
            return slicer;
        return Path.Combine(RepoPaths.Golden, "test", "klippy", stem + ".test");
    }

    // The checker runs its cases one after another; run several checkers at once, one
    // per CPU, so the suite stays within a few minutes. A large case file is split by
    // the first digit of the case index ("printers/1" holds cases 10-19 and 100-199).
    private static Dictionary<string, string> RunInParallel(IReadOnlyList<string> caseFiles, string checker, string hostOptions)
    {
        var work = new List<(string File, string? Filter)>();
        foreach (string f in caseFiles)
        {
            string stem = Path.GetFileNameWithoutExtension(f);
            if (stem == "printers")
            {
                for (int digit = 0; digit < 10; digit++)
                    work.Add((f, $"{stem}/{digit}"));
            }
            else
            {
                work.Add((f, null));
            }
        }
        var results = new Dictionary<string, string>();
        var errors = new List<string>();
        int next = -1;
        var threads = new List<Thread>();
        for (int t = 0; t < Math.Max(1, Environment.ProcessorCount); t++)
        {
            var thread = new Thread(() =>
            {
                for (int i; (i = Interlocked.Increment(ref next)) < work.Count;)
                {
                    var (file, filter) = work[i];
                    try
                    {
                        var part = RunConformance([file], filter, checker, hostOptions);
                        lock (results)
                            foreach (var (name, line) in part)
                                results[name] = line;
                    }
                    catch (Exception e)
                    {
                        lock (results)
                            errors.Add($"{Path.GetFileName(file)} {filter}: {e.Message}");
                    }
                }
            });
            thread.Start();
            threads.Add(thread);
        }
        foreach (var thread in threads)
            thread.Join();
        if (errors.Count != 0)
            throw new InvalidOperationException(string.Join('\n', errors));
        return results;
    }

    private static Dictionary<string, string> RunConformance(IReadOnlyList<string> caseFiles, string? filter, string checker, string hostOptions)
    {
        var psi = new ProcessStartInfo("python3")
        {
            // Upstream runs its suite from the source root; corpus paths such as
            // test/klippy/... in .test files resolve against the corpus root the same way
            WorkingDirectory = RepoPaths.Golden,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Step generation on a helper thread, queued behind the G-code, however busy the
        // machine: the corpus then checks that path too (one thread is the fallback)
        psi.Environment["KLIPSHARP_STEPGEN_THREADS"] = "2";
        psi.ArgumentList.Add(checker);
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("--host");
        psi.ArgumentList.Add(Path.Combine(RepoPaths.Root, "klipsharp") + " batch" + hostOptions);
        psi.ArgumentList.Add("-v");
        if (filter is not null)
        {
            psi.ArgumentList.Add("--filter");
            psi.ArgumentList.Add(filter);
        }
        foreach (var f in caseFiles)
            psi.ArgumentList.Add(f);
        using var proc = Process.Start(psi)!;
        var stderr = proc.StandardError.ReadToEndAsync();
        var results = new Dictionary<string, string>();
        string? line;
        var all = new List<string>();
        while ((line = proc.StandardOutput.ReadLine()) is not null)
        {
            all.Add(line);
            // "PASS name (1.2s)" / "FAIL name (...): why" / "SKIP name: why"
            var parts = line.Split(' ', 3);
            if (parts.Length >= 2 && parts[0] is "PASS" or "FAIL" or "SKIP")
                results[parts[1].TrimEnd(':')] = line;
        }
        proc.WaitForExit();
        if (results.Count == 0)
            throw new InvalidOperationException("conformance.py produced no results:\n" + string.Join('\n', all) + stderr.Result);
        return results;
    }
}
