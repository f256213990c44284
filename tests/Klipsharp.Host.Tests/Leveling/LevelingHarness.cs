using Klipsharp.Host.Tests.Conformance;

namespace Klipsharp.Host.Tests.Leveling;

/// <summary>Runs a batch-mode host on a config and G-code text, collecting its log (responses included).</summary>
internal static class LevelingHarness
{
    public sealed record Run(string Result, string? LastError, List<string> Log)
    {
        public string Text => string.Join("\n", Log);
    }

    public static string GoldenConfig(string relPath) => File.ReadAllText(Path.Combine(RepoPaths.Golden, relPath));

    public static Run Batch(string configText, string gcode)
    {
        var dir = Directory.CreateTempSubdirectory("klipsharp-leveling").FullName;
        try
        {
            string cfg = Path.Combine(dir, "printer.cfg");
            File.WriteAllText(cfg, configText);
            string input = Path.Combine(dir, "in.gcode");
            File.WriteAllText(input, gcode);
            var log = new List<string>();
            var startArgs = new StartArgs
            {
                ConfigFile = cfg,
                DebugInput = input,
                DebugOutput = Path.Combine(dir, "out"),
                Dictionaries = new Dictionary<string, string> { ["mcu"] = Path.Combine(RepoPaths.Golden, "dict", "atmega2560.dict") },
            };
            var (result, lastError) = PrinterHost.Run(startArgs, m =>
            {
                lock (log)
                    log.Add(m);
            });
            return new Run(result, lastError, log);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The config's text with one section's body replaced (or the section appended).</summary>
    public static string WithSection(string text, string section, string body)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').ToList();
        int start = lines.FindIndex(l => l.Trim() == $"[{section}]");
        if (start < 0)
            return text + $"\n[{section}]\n{body}\n";
        int end = lines.FindIndex(start + 1, l => l.StartsWith('['));
        if (end < 0)
            end = lines.Count;
        lines.RemoveRange(start + 1, end - start - 1);
        lines.InsertRange(start + 1, body.Split('\n').Append(""));
        return string.Join('\n', lines);
    }

    /// <summary>The config's text without a section.</summary>
    public static string WithoutSection(string text, string section)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').ToList();
        int start = lines.FindIndex(l => l.Trim() == $"[{section}]");
        if (start < 0)
            return text;
        int end = lines.FindIndex(start + 1, l => l.StartsWith('['));
        if (end < 0)
            end = lines.Count;
        lines.RemoveRange(start, end - start);
        return string.Join('\n', lines);
    }
}
