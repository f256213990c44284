using System.Text;
using System.Text.RegularExpressions;

namespace Klipsharp.Host.Configuration;

/// <summary>The "#*# SAVE_CONFIG" block at the end of printer.cfg: loading it and writing new values (upstream ConfigAutoSave).</summary>
public sealed partial class ConfigAutoSave
{
    /// <summary>Text that starts the autosave block (with its surrounding newlines).</summary>
    public const string Header =
        "\n#*# <---------------------- SAVE_CONFIG ---------------------->\n" +
        "#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.\n" +
        "#*#\n";

    private OrderedDictionary<string, OrderedDictionary<string, string>?> _pending = new(StringComparer.Ordinal);

    /// <summary>Receives warnings upstream logs (corrupted autosave block).</summary>
    public Action<string>? LogWarning { get; set; }

    /// <summary>The autosave values (loaded ones plus those set since); upstream self.fileconfig.</summary>
    public ConfigFile FileConfig { get; private set; } = new();

    /// <summary>True once a value was set or a section removed (status save_config_pending).</summary>
    public bool SaveConfigPending { get; private set; }

    /// <summary>Changed values per section, null for removed sections (status save_config_pending_items).</summary>
    public IReadOnlyDictionary<string, OrderedDictionary<string, string>?> PendingItems => _pending;

    /// <summary>Splits file text into the regular part and the autosave part (prefixes removed); on a corrupted block the autosave part is empty.</summary>
    public (string Regular, string AutoSave) FindAutosaveData(string data)
    {
        string regular = data, autosave = "";
        int pos = data.IndexOf(Header, StringComparison.Ordinal);
        if (pos >= 0)
        {
            regular = data[..pos];
            autosave = PyFormat.Strip(data[(pos + Header.Length)..]);
        }
        if (regular.Contains("\n#*# ", StringComparison.Ordinal) || autosave.Contains(Header, StringComparison.Ordinal))
        {
            LogWarning?.Invoke("Can't read autosave from config file - autosave state corrupted");
            return (data, "");
        }
        var outLines = new List<string> { "" };
        foreach (var line in autosave.Split('\n'))
        {
            if ((!line.StartsWith("#*#", StringComparison.Ordinal)
                 || (line.Length >= 4 && !line.StartsWith("#*# ", StringComparison.Ordinal)))
                && autosave.Length > 0)
            {
                LogWarning?.Invoke("Can't read autosave from config file - modifications after header");
                return (data, "");
            }
            outLines.Add(line.Length > 4 ? line[4..] : "");
        }
        outLines.Add("");
        return (regular, string.Join('\n', outLines));
    }

    [GeneratedRegex("[#;].*$", RegexOptions.CultureInvariant)]
    private static partial Regex CommentRegex();

    [GeneratedRegex("[^A-Za-z0-9_].*$", RegexOptions.CultureInvariant)]
    private static partial Regex ValueRegex();

    /// <summary>Comments out (prefixes '#') every option line of <paramref name="data"/> whose option is set in <paramref name="fileconfig"/>.</summary>
    public static string StripDuplicates(string data, ConfigFile fileconfig)
    {
        var lines = data.Split('\n');
        string? section = null;
        bool isDupField = false;
        for (int i = 0; i < lines.Length; i++)
        {
            string pruned = PyFormat.RStrip(CommentRegex().Replace(lines[i], "", 1));
            if (pruned.Length == 0) continue;
            if (PyFormat.IsSpace(pruned[0]))
            {
                if (isDupField) lines[i] = "#" + lines[i];
                continue;
            }
            isDupField = false;
            if (pruned[0] == '[')
            {
                section = PyFormat.Strip(pruned.Length >= 2 ? pruned[1..^1] : "");
                continue;
            }
            string field = ValueRegex().Replace(pruned, "", 1);
            if (fileconfig.HasOption(section, field))
            {
                isDupField = true;
                lines[i] = "#" + lines[i];
            }
        }
        return string.Join('\n', lines);
    }

    /// <summary>
    /// Reads the main config: the regular part with includes, then the autosave block
    /// (options already set in the regular part are ignored) appended as "*AUTOSAVE*".
    /// Returns both parsed configs; the autosave one is kept in <see cref="FileConfig"/>.
    /// </summary>
    public (ConfigFile Regular, ConfigFile AutoSave) LoadMainConfig(string filename)
    {
        string data = ConfigFile.ReadConfigFile(filename);
        var (regularData, autosaveData) = FindAutosaveData(data);
        var regular = ConfigFile.BuildWithIncludes(regularData, filename);
        autosaveData = StripDuplicates(autosaveData, regular);
        FileConfig = ConfigFile.Build(autosaveData, filename);
        regular.Append(autosaveData, "*AUTOSAVE*");
        return (regular, FileConfig);
    }

    /// <summary>Sets an autosave value (upstream configfile.set; the value is already Python str()-formatted).</summary>
    public void Set(string section, string option, string value)
    {
        if (!FileConfig.HasSection(section)) FileConfig.AddSection(section);
        FileConfig.Set(section, option, value);
        var pending = new OrderedDictionary<string, OrderedDictionary<string, string>?>(_pending, StringComparer.Ordinal);
        var items = pending.TryGetValue(section, out var old) && old != null
            ? new OrderedDictionary<string, string>(old, StringComparer.Ordinal)
            : new OrderedDictionary<string, string>(StringComparer.Ordinal);
        items[option] = value;
        pending[section] = items;
        _pending = pending;
        SaveConfigPending = true;
    }

    /// <summary>Removes an autosave section (upstream configfile.remove_section).</summary>
    public void RemoveSection(string section)
    {
        if (FileConfig.HasSection(section))
        {
            FileConfig.RemoveSection(section);
            var pending = new OrderedDictionary<string, OrderedDictionary<string, string>?>(_pending, StringComparer.Ordinal);
            pending[section] = null;
            _pending = pending;
            SaveConfigPending = true;
        }
        else if (_pending.TryGetValue(section, out var items) && items != null)
        {
            var pending = new OrderedDictionary<string, OrderedDictionary<string, string>?>(_pending, StringComparer.Ordinal);
            pending.Remove(section);
            _pending = pending;
            SaveConfigPending = true;
        }
    }

    /// <summary>The autosave block text (header and "#*# " lines) for the current values.</summary>
    public string BuildAutosaveBlock()
    {
        var sb = new StringBuilder();
        sb.Append('\n').Append(PyFormat.RStrip(Header));
        foreach (var l in FileConfig.BuildConfigString().Split('\n'))
            sb.Append('\n').Append(PyFormat.Strip("#*# " + l));
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// The new text of config file <paramref name="cfgname"/> as SAVE_CONFIG writes it, or null when
    /// there is nothing to save. Throws ConfigError with upstream's SAVE_CONFIG messages (the
    /// G-code layer reports them as command errors).
    /// </summary>
    public string? RenderSaveConfig(string cfgname)
    {
        if (FileConfig.Sections().Count == 0) return null;
        string autosaveBlock = BuildAutosaveBlock();
        string data;
        try
        {
            data = ConfigFile.ReadConfigFile(cfgname);
        }
        catch (ConfigError e)
        {
            throw new ConfigError("Unable to read existing config on SAVE_CONFIG", e);
        }
        var (regularData, _) = FindAutosaveData(data);
        regularData = StripDuplicates(regularData, FileConfig);
        data = PyFormat.RStrip(regularData) + autosaveBlock;
        var (newRegular, newAutosave) = FindAutosaveData(data);
        if (newAutosave.Length == 0)
            throw new ConfigError("Existing config autosave is corrupted. Can't complete SAVE_CONFIG");
        ConfigFile regular;
        try
        {
            regular = ConfigFile.BuildWithIncludes(newRegular, cfgname);
        }
        catch (ConfigError e)
        {
            throw new ConfigError("Unable to parse existing config on SAVE_CONFIG", e);
        }
        // Values that live in an included file cannot be commented out there.
        foreach (var section in FileConfig.Sections())
            foreach (var option in FileConfig.Options(section))
                if (regular.HasOption(section, option))
                    throw new ConfigError(
                        $"SAVE_CONFIG section '{section}' option '{option}' conflicts with included value");
        return data;
    }

    /// <summary>Backup and temporary file names SAVE_CONFIG uses for <paramref name="cfgname"/> at local time <paramref name="now"/>.</summary>
    public static (string Backup, string Temp) SaveConfigFileNames(string cfgname, DateTime now)
    {
        string datestr = now.ToString("-yyyyMMdd_HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        if (cfgname.EndsWith(".cfg", StringComparison.Ordinal))
        {
            string stem = cfgname[..^4];
            return (stem + datestr + ".cfg", stem + "_autosave.cfg");
        }
        return (cfgname + datestr, cfgname + "_autosave");
    }

    /// <summary>
    /// Performs SAVE_CONFIG's file work: renders the new text, writes it under a temporary name,
    /// renames the old file to a dated backup and the new one into place. Returns false when
    /// there was nothing to save. The caller then requests a restart.
    /// </summary>
    public bool SaveConfig(string cfgname, DateTime now)
    {
        string? data = RenderSaveConfig(cfgname);
        if (data == null) return false;
        var (backup, temp) = SaveConfigFileNames(cfgname, now);
        try
        {
            System.IO.File.WriteAllText(temp, data, new UTF8Encoding(false));
            System.IO.File.Move(cfgname, backup, overwrite: true);
            System.IO.File.Move(temp, cfgname, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigError("Unable to write config file during SAVE_CONFIG", e);
        }
        return true;
    }
}
