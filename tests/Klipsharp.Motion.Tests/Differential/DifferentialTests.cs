using System.IO.Compression;
using System.Text;

namespace Klipsharp.Motion.Tests.Differential;

/// <summary>
/// Replays scenarios recorded with upstream's chelper code (harness.c) and requires
/// byte-identical output from the C# motion core.
/// </summary>
[Collection("MotionLog")]
public class DifferentialTests
{
    private static string DataDir => Path.Combine(AppContext.BaseDirectory, "Differential", "Data");

    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(DataDir, "*.txt").OrderBy(f => f, StringComparer.Ordinal))
            data.Add(Path.GetFileNameWithoutExtension(f));
        return data;
    }

    private static string ReadExpected(string pathNoExt)
    {
        string gz = pathNoExt + ".out.gz";
        if (File.Exists(gz))
        {
            using var fs = File.OpenRead(gz);
            using var z = new GZipStream(fs, CompressionMode.Decompress);
            using var sr = new StreamReader(z, Encoding.UTF8);
            return sr.ReadToEnd();
        }
        return File.ReadAllText(pathNoExt + ".out");
    }

    private static void Compare(string expected, string actual, string name)
    {
        if (expected == actual)
            return;
        string[] e = expected.Split('\n'), a = actual.Split('\n');
        int i = 0;
        while (i < e.Length && i < a.Length && e[i] == a[i])
            i++;
        Assert.Fail($"{name}: first difference at output line {i + 1}\n" +
            $"upstream: {(i < e.Length ? e[i] : "<end>")}\n" +
            $"klipsharp: {(i < a.Length ? a[i] : "<end>")}");
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void MatchesUpstream(string name)
    {
        string basePath = Path.Combine(DataDir, name);
        string script = File.ReadAllText(basePath + ".txt");
        Compare(ReadExpected(basePath), ScenarioRunner.Run(script), name);
    }

    /// <summary>Ad-hoc runs over a larger generated set: set KLIPSHARP_MOTION_DIFF_DIR.</summary>
    [Fact]
    public void MatchesUpstreamInExtraDirectory()
    {
        string? dir = Environment.GetEnvironmentVariable("KLIPSHARP_MOTION_DIFF_DIR");
        if (string.IsNullOrEmpty(dir))
            return;
        var failures = new List<string>();
        foreach (string f in Directory.GetFiles(dir, "*.txt").OrderBy(f => f, StringComparer.Ordinal))
        {
            string basePath = f[..^4];
            try
            {
                string actual = ScenarioRunner.Run(File.ReadAllText(f));
                if (Environment.GetEnvironmentVariable("KLIPSHARP_MOTION_DIFF_DUMP") == "1")
                    File.WriteAllText(basePath + ".actual", actual);
                Compare(ReadExpected(basePath), actual, Path.GetFileName(f));
            }
            catch (Exception ex)
            {
                failures.Add(ex is Xunit.Sdk.XunitException ? ex.Message : $"{Path.GetFileName(f)}: {ex}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)) + $"\n({failures.Count} failing)");
    }
}
