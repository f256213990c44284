namespace Klipsharp.Host.Configuration;

/// <summary>One entry of the "warnings" status list: ordered key/value fields (type, message, section, ...).</summary>
public sealed class ConfigWarning
{
    internal ConfigWarning(IReadOnlyList<KeyValuePair<string, string?>> fields) => Fields = fields;

    /// <summary>Fields in upstream's dict order.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Fields { get; }

    /// <summary>The value of a field, or null.</summary>
    public string? this[string key] => Fields.FirstOrDefault(f => f.Key == key).Value;

    internal string Key => string.Join("\u0001", Fields.Select(f => f.Key + "\u0002" + (f.Value ?? "\u0003")));
}

/// <summary>
/// Main printer config tracking (upstream configfile.PrinterConfig with its autosave and
/// validation helpers): reads printer.cfg, checks for unused options, records deprecations
/// and holds the SAVE_CONFIG state.
/// </summary>
public sealed class PrinterConfig : Extras.IStatusProvider
{
    private ConfigAccessTracking _accessTracking = new();
    private readonly HashSet<(string, string)> _autosaveOptions = [];
    private readonly HashSet<string> _validSections = new(StringComparer.Ordinal);
    private readonly HashSet<string> _warningKeys = new(StringComparer.Ordinal);
    private readonly List<ConfigWarning> _warnings = [];
    private OrderedDictionary<string, OrderedDictionary<string, string>> _rawConfig = new(StringComparer.Ordinal);
    private OrderedDictionary<string, OrderedDictionary<string, object?>> _settings = new(StringComparer.Ordinal);

    /// <summary>Creates the config manager; <paramref name="owner"/> is handed to every wrapper it makes.</summary>
    public PrinterConfig(object? owner = null) => Owner = owner;

    /// <summary>Opaque host object (the printer) given to wrappers created here.</summary>
    public object? Owner { get; set; }

    /// <summary>Receives warnings upstream logs (runtime warnings, corrupted autosave).</summary>
    public Action<string>? LogWarning
    {
        get => AutoSave.LogWarning;
        set => AutoSave.LogWarning = value;
    }

    /// <summary>The SAVE_CONFIG state.</summary>
    public ConfigAutoSave AutoSave { get; } = new();

    /// <summary>The main config path given to <see cref="ReadMainConfig"/>.</summary>
    public string? ConfigPath { get; private set; }

    /// <summary>Reads a config file without includes or autosave into a wrapper for [printer] with private tracking.</summary>
    public ConfigWrapper ReadConfig(string filename)
    {
        var fc = ConfigFile.Build(ConfigFile.ReadConfigFile(filename), filename);
        return new ConfigWrapper(fc, new ConfigAccessTracking(), "printer", Owner, this);
    }

    /// <summary>Reads printer.cfg (includes, autosave block) and returns the [printer] wrapper; all wrappers share its access tracking.</summary>
    public ConfigWrapper ReadMainConfig(string path)
    {
        ConfigPath = path;
        var (fileconfig, autosave) = AutoSave.LoadMainConfig(path);
        _autosaveOptions.Clear();
        foreach (var section in autosave.Sections())
            foreach (var option in autosave.Options(section))
                _autosaveOptions.Add((section.ToLowerInvariant(), option.ToLowerInvariant()));
        _accessTracking = new ConfigAccessTracking();
        var config = new ConfigWrapper(fileconfig, _accessTracking, "printer", Owner, this);
        BuildStatusConfig(config);
        return config;
    }

    /// <summary>Marks a section name as valid even if no option of it was read (upstream: any printer object name).</summary>
    public void RegisterValidSection(string name) => _validSections.Add(name);

    /// <summary>
    /// Raises "Section 'x' is not a valid config section" / "Option 'x' is not valid in section 'y'"
    /// for the first section or option no module read (autosave values excepted). Valid sections are
    /// those registered, those in <paramref name="objectNames"/>, and those with any accessed option.
    /// Then builds the settings status and clears the tracking.
    /// </summary>
    public void CheckUnusedOptions(ConfigWrapper config, IEnumerable<string>? objectNames = null)
    {
        var tracking = config.AccessTracking;
        var accessed = new HashSet<(string, string)>(tracking.Items.Select(kv => kv.Key));
        accessed.UnionWith(_autosaveOptions);
        var valid = new HashSet<string>(_validSections, StringComparer.Ordinal);
        if (objectNames != null) valid.UnionWith(objectNames);
        foreach (var (s, _) in accessed) valid.Add(s);
        var file = config.File;
        foreach (var sectionName in file.Sections())
        {
            string section = sectionName.ToLowerInvariant();
            if (!valid.Contains(section))
                throw new ConfigError($"Section '{section}' is not a valid config section");
            foreach (var opt in file.Options(sectionName))
            {
                string option = opt.ToLowerInvariant();
                if (!accessed.Contains((section, option)))
                    throw new ConfigError($"Option '{option}' is not valid in section '{section}'");
            }
        }
        var settings = new OrderedDictionary<string, OrderedDictionary<string, object?>>(StringComparer.Ordinal);
        foreach (var ((s, o), v) in tracking.Items)
        {
            if (!settings.TryGetValue(s, out var opts))
                settings[s] = opts = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
            opts[o] = v;
        }
        _settings = settings;
        tracking.Clear();
        _autosaveOptions.Clear();
    }

    /// <summary>The config dump klippy logs at start ("===== Config file =====" ...).</summary>
    public static string BuildLogConfigText(ConfigWrapper config) =>
        "===== Config file =====\n" + config.File.BuildConfigString() + "\n=======================";

    // ---- deprecation and runtime warnings ---------------------------------

    /// <summary>Warnings recorded so far (status "warnings").</summary>
    public IReadOnlyList<ConfigWarning> Warnings => _warnings;

    private bool AddWarning(List<KeyValuePair<string, string?>> fields)
    {
        var w = new ConfigWarning(fields);
        if (!_warningKeys.Add(w.Key)) return false;
        _warnings.Add(w);
        return true;
    }

    /// <summary>Records a runtime warning once and logs it.</summary>
    public void RuntimeWarning(string msg)
    {
        if (AddWarning([new("type", "runtime_warning"), new("message", msg)]))
            LogWarning?.Invoke(msg);
    }

    /// <summary>Records a deprecated option (or option value when <paramref name="value"/> is given).</summary>
    public void Deprecate(string section, string option, string? value = null, string? msg = null)
    {
        var fields = new List<KeyValuePair<string, string?>>();
        string defmsg;
        if (value == null)
        {
            fields.Add(new("type", "deprecated_option"));
            defmsg = $"Option '{option}' in section '{section}' is deprecated.";
        }
        else
        {
            fields.Add(new("type", "deprecated_value"));
            fields.Add(new("value", value));
            defmsg = $"Value '{value}' in option '{option}' in section '{section}' is deprecated.";
        }
        fields.Add(new("message", msg ?? defmsg));
        fields.Add(new("section", section));
        fields.Add(new("option", option));
        AddWarning(fields);
    }

    /// <summary>Records a deprecated G-code command, parameter or parameter value.</summary>
    public void DeprecateGcode(string cmd, string? param = null, string? value = null, string? msg = null)
    {
        string defmsg = param == null ? $"Command '{cmd}' is deprecated."
            : value == null ? $"Parameter '{param}' in command '{cmd}' is deprecated."
            : $"Value '{param}={value}' in command '{cmd}' is deprecated.";
        AddWarning([new("type", "deprecated_gcode"), new("message", msg ?? defmsg), new("command", cmd),
                    new("parameter", param), new("value", value ?? "None")]);
    }

    /// <summary>Records MCU firmware that lacks a feature (the caller builds upstream's message).</summary>
    public void DeprecateMcuCode(string mcuName, string feature, string msg) =>
        AddWarning([new("type", "deprecated_mcu_code"), new("message", msg), new("mcu", mcuName), new("feature", feature)]);

    // ---- status -------------------------------------------------------------

    private void BuildStatusConfig(ConfigWrapper config)
    {
        var raw = new OrderedDictionary<string, OrderedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var section in config.GetPrefixSections(""))
        {
            var opts = new OrderedDictionary<string, string>(StringComparer.Ordinal);
            raw[section.Name] = opts;
            foreach (var option in section.GetPrefixOptions(""))
                opts[option] = section.Get(option, noteValid: false);
        }
        _rawConfig = raw;
    }

    /// <summary>Status "config": every section's raw option strings as read at start.</summary>
    public IReadOnlyDictionary<string, OrderedDictionary<string, string>> RawConfigStatus => _rawConfig;

    /// <summary>Status "settings": values modules read (set by <see cref="CheckUnusedOptions"/>).</summary>
    public IReadOnlyDictionary<string, OrderedDictionary<string, object?>> SettingsStatus => _settings;

    /// <summary>The "configfile" status object: raw config, warnings, pending SAVE_CONFIG items and validated settings.</summary>
    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var warnings = new List<object?>(_warnings.Count);
        foreach (var w in _warnings)
        {
            var d = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in w.Fields)
                d[k] = v;
            warnings.Add(d);
        }
        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["config"] = _rawConfig,
            ["warnings"] = warnings,
            ["save_config_pending"] = AutoSave.SaveConfigPending,
            ["save_config_pending_items"] = AutoSave.PendingItems,
            ["settings"] = _settings,
        };
    }

    // ---- autosave -----------------------------------------------------------

    /// <summary>Stores a value for the next SAVE_CONFIG (formatted like Python str()).</summary>
    public void Set(string section, string option, object? value) =>
        AutoSave.Set(section, option, PyFormat.Str(value));

    /// <summary>Removes an autosave section at the next SAVE_CONFIG.</summary>
    public void RemoveSection(string section) => AutoSave.RemoveSection(section);
}
