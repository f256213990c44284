using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Tests.Configuration;

/// <summary>A temporary directory for config files, deleted on dispose.</summary>
internal sealed class TempConfigDir : IDisposable
{
    public TempConfigDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "klipsharp-cfg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>Writes a file (relative name, sub-folders created) and returns its full path.</summary>
    public string Write(string name, string text)
    {
        string full = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
        return full;
    }

    public string Read(string name) => File.ReadAllText(System.IO.Path.Combine(Path, name));

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }
}

internal static class ConfigTestUtil
{
    public const string AutosaveHeader = ConfigAutoSave.Header;

    /// <summary>Parses text like a main config without includes or autosave.</summary>
    public static ConfigFile Parse(string text, string name = "printer.cfg") => ConfigFile.Build(text, name);

    /// <summary>A [printer] wrapper over parsed text, with fresh access tracking.</summary>
    public static ConfigWrapper Wrap(string text) =>
        new(Parse(text), new ConfigAccessTracking(), "printer");

    /// <summary>The folder holding the conformance corpus (../shared/golden next to the solution).</summary>
    public static string GoldenDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Klipsharp.sln")))
            dir = dir.Parent;
        if (dir == null) throw new DirectoryNotFoundException("Klipsharp.sln not found above " + AppContext.BaseDirectory);
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "golden"));
    }

    public static List<(string Section, List<(string, string)> Options)> Dump(ConfigFile c) =>
        c.Sections().Select(s => (s, c.Options(s).Select(o => (o, c.Get(s, o))).ToList())).ToList();

    /// <summary>Asserts the sections, option order and values of a parsed config.</summary>
    public static void AssertDump((string Section, (string, string)[] Options)[] expected, ConfigFile c)
    {
        static string Show(IEnumerable<(string S, IEnumerable<(string, string)> O)> d) =>
            string.Join("\n", d.Select(x => $"[{x.S}] " + string.Join(" | ", x.O.Select(o => $"{o.Item1}={PyFormat.Repr(o.Item2)}"))));
        Assert.Equal(Show(expected.Select(e => (e.Section, (IEnumerable<(string, string)>)e.Options))),
                     Show(Dump(c).Select(e => (e.Section, (IEnumerable<(string, string)>)e.Options))));
    }
}
