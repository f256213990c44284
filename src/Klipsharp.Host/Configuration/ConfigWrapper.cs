namespace Klipsharp.Host.Configuration;

/// <summary>Record of which (section, option) pairs modules read, with the value each got (upstream access_tracking).</summary>
public sealed class ConfigAccessTracking
{
    private readonly OrderedDictionary<(string Section, string Option), object?> _items = new();

    /// <summary>Tracked pairs (lower-cased) in first-access order with their last value.</summary>
    public IReadOnlyList<KeyValuePair<(string Section, string Option), object?>> Items => _items.ToList();

    /// <summary>True if the lower-cased pair was accessed.</summary>
    public bool Contains(string section, string option) => _items.ContainsKey((section, option));

    /// <summary>Records an access (keys are lower-cased here).</summary>
    public void Note(string section, string option, object? value) =>
        _items[(section.ToLowerInvariant(), option.ToLowerInvariant())] = value;

    /// <summary>Forgets all accesses.</summary>
    public void Clear() => _items.Clear();
}

/// <summary>One config section with typed getters, as upstream's ConfigWrapper.</summary>
public sealed class ConfigWrapper
{
    /// <summary>Creates a wrapper for <paramref name="section"/> of <paramref name="file"/>.</summary>
    public ConfigWrapper(ConfigFile file, ConfigAccessTracking accessTracking, string section,
                         object? owner = null, PrinterConfig? printerConfig = null)
    {
        File = file;
        AccessTracking = accessTracking;
        Name = section;
        Owner = owner;
        PrinterConfig = printerConfig;
    }

    /// <summary>The section name as written in the file.</summary>
    public string Name { get; }

    /// <summary>Opaque object the host attaches (the printer); inherited by wrappers made from this one.</summary>
    public object? Owner { get; set; }

    /// <summary>The parsed config data this wrapper reads (upstream fileconfig).</summary>
    public ConfigFile File { get; }

    /// <summary>Access tracking shared by all wrappers of one config.</summary>
    public ConfigAccessTracking AccessTracking { get; }

    /// <summary>The config manager that receives deprecation notes, if any.</summary>
    public PrinterConfig? PrinterConfig { get; }

    /// <summary>A config error with the given message (upstream config.error(msg)).</summary>
    public ConfigError Error(string msg) => new(msg);

    // Returns false (after noting a default) when the option is absent and not required.
    private bool Lookup<T>(string option, Func<string, T> parser, bool required, object? trackDefault,
                           bool noteValid, out T value)
    {
        if (!File.HasOption(Name, option))
        {
            if (required)
                throw Error($"Option '{option}' in section '{Name}' must be specified");
            if (noteValid && trackDefault != null)
                AccessTracking.Note(Name, option, trackDefault);
            value = default!;
            return false;
        }
        try
        {
            value = parser(File.Get(Name, option));
        }
        catch (ConfigError)
        {
            throw;
        }
        catch (Exception)
        {
            throw Error($"Unable to parse option '{option}' in section '{Name}'");
        }
        if (noteValid)
            AccessTracking.Note(Name, option, value);
        return true;
    }

    private void CheckBounds(string option, double v, ConfigBound? minval, ConfigBound? maxval,
                             ConfigBound? above, ConfigBound? below)
    {
        if (minval is { } mn && v < mn.Value)
            throw Error($"Option '{option}' in section '{Name}' must have minimum of {mn}");
        if (maxval is { } mx && v > mx.Value)
            throw Error($"Option '{option}' in section '{Name}' must have maximum of {mx}");
        if (above is { } ab && v <= ab.Value)
            throw Error($"Option '{option}' in section '{Name}' must be above {ab}");
        if (below is { } be && v >= be.Value)
            throw Error($"Option '{option}' in section '{Name}' must be below {be}");
    }

    private static int ParseInt(string s) =>
        PyFormat.TryParseInt(s, out long v) && v >= int.MinValue && v <= int.MaxValue
            ? (int)v : throw new FormatException();

    private static double ParseFloat(string s) =>
        PyFormat.TryParseFloat(s, out double v) ? v : throw new FormatException();

    private static bool ParseBoolean(string s) => s.ToLowerInvariant() switch
    {
        "1" or "yes" or "true" or "on" => true,
        "0" or "no" or "false" or "off" => false,
        _ => throw new FormatException(),
    };

    // ---- strings -------------------------------------------------------

    /// <summary>Raw option value; required when <paramref name="default"/> is null.</summary>
    public string Get(string option, string? @default = null, bool noteValid = true) =>
        Lookup(option, s => s, @default == null, @default, noteValid, out var v) ? v : @default!;

    /// <summary>Raw option value or null when absent.</summary>
    public string? GetOrNull(string option, bool noteValid = true) =>
        Lookup(option, s => s, false, null, noteValid, out var v) ? v : null;

    // ---- integers ------------------------------------------------------

    /// <summary>Integer option (Python int()); required when <paramref name="default"/> is null.</summary>
    public int GetInt(string option, int? @default = null, int? minval = null, int? maxval = null, bool noteValid = true) =>
        GetIntCore(option, @default, @default == null, minval, maxval, noteValid)!.Value;

    /// <summary>Integer option or null when absent.</summary>
    public int? GetIntOrNull(string option, int? minval = null, int? maxval = null, bool noteValid = true) =>
        GetIntCore(option, null, false, minval, maxval, noteValid);

    private int? GetIntCore(string option, int? def, bool required, int? minval, int? maxval, bool noteValid)
    {
        if (!Lookup(option, ParseInt, required, def, noteValid, out int v)) return def;
        if (minval is int mn && v < mn)
            throw Error($"Option '{option}' in section '{Name}' must have minimum of {mn}");
        if (maxval is int mx && v > mx)
            throw Error($"Option '{option}' in section '{Name}' must have maximum of {mx}");
        return v;
    }

    // ---- floats --------------------------------------------------------

    /// <summary>Float option (Python float()); required when <paramref name="default"/> is null.</summary>
    public double GetFloat(string option, double? @default = null, ConfigBound? minval = null, ConfigBound? maxval = null,
                           ConfigBound? above = null, ConfigBound? below = null, bool noteValid = true) =>
        GetFloatCore(option, @default, @default == null, minval, maxval, above, below, noteValid)!.Value;

    /// <summary>Float option or null when absent.</summary>
    public double? GetFloatOrNull(string option, ConfigBound? minval = null, ConfigBound? maxval = null,
                                  ConfigBound? above = null, ConfigBound? below = null, bool noteValid = true) =>
        GetFloatCore(option, null, false, minval, maxval, above, below, noteValid);

    private double? GetFloatCore(string option, double? def, bool required, ConfigBound? minval, ConfigBound? maxval,
                                 ConfigBound? above, ConfigBound? below, bool noteValid)
    {
        if (!Lookup(option, ParseFloat, required, def, noteValid, out double v)) return def;
        CheckBounds(option, v, minval, maxval, above, below);
        return v;
    }

    // ---- booleans ------------------------------------------------------

    /// <summary>Boolean option (1/yes/true/on, 0/no/false/off); required when <paramref name="default"/> is null.</summary>
    public bool GetBoolean(string option, bool? @default = null, bool noteValid = true) =>
        Lookup(option, ParseBoolean, @default == null, @default, noteValid, out bool v) ? v : @default!.Value;

    /// <summary>Boolean option or null when absent.</summary>
    public bool? GetBooleanOrNull(string option, bool noteValid = true) =>
        Lookup(option, ParseBoolean, false, null, noteValid, out bool v) ? v : null;

    // ---- choices -------------------------------------------------------

    /// <summary>Maps the option's text through <paramref name="choices"/>; the default must be a key too.</summary>
    public T GetChoice<T>(string option, IReadOnlyDictionary<string, T> choices, string? @default = null, bool noteValid = true)
    {
        string c = Get(option, @default, noteValid);
        if (!choices.TryGetValue(c, out var res))
            throw Error($"Choice '{c}' for option '{option}' in section '{Name}' is not a valid choice");
        return res;
    }

    /// <summary>The option's text, which must be one of <paramref name="choices"/>.</summary>
    public string GetChoice(string option, IReadOnlyList<string> choices, string? @default = null, bool noteValid = true)
    {
        string c = Get(option, @default, noteValid);
        if (!choices.Contains(c))
            throw Error($"Choice '{c}' for option '{option}' in section '{Name}' is not a valid choice");
        return c;
    }

    /// <summary>
    /// Choice whose absence is allowed (upstream getchoice with None among the choices and
    /// default None): null when the option is not set; the default is not tracked.
    /// </summary>
    public string? GetChoiceOrNull(string option, IReadOnlyList<string> choices, bool noteValid = true)
    {
        string? c = GetOrNull(option, noteValid);
        if (c != null && !choices.Contains(c))
            throw Error($"Choice '{c}' for option '{option}' in section '{Name}' is not a valid choice");
        return c;
    }

    /// <summary>Mapped choice whose absence is allowed: <paramref name="missing"/> when the option is not set.</summary>
    public T GetChoiceOrDefault<T>(string option, IReadOnlyDictionary<string, T> choices, T missing, bool noteValid = true)
    {
        string? c = GetOrNull(option, noteValid);
        if (c == null) return missing;
        if (!choices.TryGetValue(c, out var res))
            throw Error($"Choice '{c}' for option '{option}' in section '{Name}' is not a valid choice");
        return res;
    }

    /// <summary>Integer-keyed choice (upstream parses the option with getint when choice keys are ints).</summary>
    public T GetChoice<T>(string option, IReadOnlyDictionary<int, T> choices, int? @default = null, bool noteValid = true)
    {
        // An empty choice map makes upstream read the option as a string.
        if (choices.Count == 0)
        {
            string s = Get(option, @default?.ToString(System.Globalization.CultureInfo.InvariantCulture), noteValid);
            throw Error($"Choice '{s}' for option '{option}' in section '{Name}' is not a valid choice");
        }
        int c = GetInt(option, @default, noteValid: noteValid);
        if (!choices.TryGetValue(c, out var res))
            throw Error($"Choice '{c}' for option '{option}' in section '{Name}' is not a valid choice");
        return res;
    }

    /// <summary>Integer option that must be one of <paramref name="choices"/>.</summary>
    public int GetChoice(string option, IReadOnlyList<int> choices, int? @default = null, bool noteValid = true) =>
        GetChoice(option, choices.Distinct().ToDictionary(i => i, i => i), @default, noteValid);

    // ---- lists ---------------------------------------------------------

    private List<T> ParseList<T>(string option, string value, char sep, Func<string, T> parser, int? count)
    {
        var res = new List<T>();
        if (PyFormat.Strip(value).Length != 0)
            foreach (var p in value.Split(sep))
                res.Add(parser(PyFormat.Strip(p)));
        if (count is int n && res.Count != n)
            throw Error($"Option '{option}' in section '{Name}' must have {n} elements");
        return res;
    }

    private List<IReadOnlyList<T>> ParseLists<T>(string option, string value, char innerSep, char outerSep,
                                                  Func<string, T> parser, int? count)
    {
        var res = new List<IReadOnlyList<T>>();
        if (PyFormat.Strip(value).Length == 0) return res;
        foreach (var p in value.Split(outerSep))
        {
            string part = PyFormat.Strip(p);
            if (part.Length != 0) res.Add(ParseList(option, part, innerSep, parser, count));
        }
        return res;
    }

    private IReadOnlyList<T>? GetListCore<T>(string option, IReadOnlyList<T>? def, bool required, char sep,
                                             int? count, Func<string, T> parser, bool noteValid) =>
        Lookup(option, s => (IReadOnlyList<T>)ParseList(option, s, sep, parser, count), required, def, noteValid,
               out var v) ? v : def;

    /// <summary>Separated list of trimmed strings (upstream getlist); required when <paramref name="default"/> is null.</summary>
    public IReadOnlyList<string> GetList(string option, IReadOnlyList<string>? @default = null, char sep = ',',
                                         int? count = null, bool noteValid = true) =>
        GetListCore(option, @default, @default == null, sep, count, s => s, noteValid)!;

    /// <summary>Separated list of strings or null when absent.</summary>
    public IReadOnlyList<string>? GetListOrNull(string option, char sep = ',', int? count = null, bool noteValid = true) =>
        GetListCore(option, null, false, sep, count, s => s, noteValid);

    /// <summary>Separated list of integers (upstream getintlist).</summary>
    public IReadOnlyList<int> GetIntList(string option, IReadOnlyList<int>? @default = null, char sep = ',',
                                         int? count = null, bool noteValid = true) =>
        GetListCore(option, @default, @default == null, sep, count, ParseInt, noteValid)!;

    /// <summary>Separated list of integers or null when absent.</summary>
    public IReadOnlyList<int>? GetIntListOrNull(string option, char sep = ',', int? count = null, bool noteValid = true) =>
        GetListCore(option, null, false, sep, count, ParseInt, noteValid);

    /// <summary>Separated list of floats (upstream getfloatlist).</summary>
    public IReadOnlyList<double> GetFloatList(string option, IReadOnlyList<double>? @default = null, char sep = ',',
                                              int? count = null, bool noteValid = true) =>
        GetListCore(option, @default, @default == null, sep, count, ParseFloat, noteValid)!;

    /// <summary>Separated list of floats or null when absent.</summary>
    public IReadOnlyList<double>? GetFloatListOrNull(string option, char sep = ',', int? count = null, bool noteValid = true) =>
        GetListCore(option, null, false, sep, count, ParseFloat, noteValid);

    /// <summary>
    /// Two-level list (upstream getlists with seps=(innerSep, outerSep)): split on
    /// <paramref name="outerSep"/>, drop empty parts, split each on <paramref name="innerSep"/>;
    /// <paramref name="count"/> applies to each inner list. <paramref name="parser"/> converts
    /// each element; throwing anything but a ConfigError reports "Unable to parse".
    /// </summary>
    public IReadOnlyList<IReadOnlyList<T>> GetLists<T>(string option, Func<string, T> parser,
        IReadOnlyList<IReadOnlyList<T>>? @default = null, char innerSep = ',', char outerSep = '\n',
        int? count = null, bool noteValid = true) =>
        GetListsCore(option, parser, @default, @default == null, innerSep, outerSep, count, noteValid)!;

    /// <summary>Two-level list of strings (see the generic overload).</summary>
    public IReadOnlyList<IReadOnlyList<string>> GetLists(string option, IReadOnlyList<IReadOnlyList<string>>? @default = null,
        char innerSep = ',', char outerSep = '\n', int? count = null, bool noteValid = true) =>
        GetListsCore(option, s => s, @default, @default == null, innerSep, outerSep, count, noteValid)!;

    /// <summary>Two-level list of floats (upstream getlists(..., parser=float)).</summary>
    public IReadOnlyList<IReadOnlyList<double>> GetFloatLists(string option, IReadOnlyList<IReadOnlyList<double>>? @default = null,
        char innerSep = ',', char outerSep = '\n', int? count = null, bool noteValid = true) =>
        GetListsCore(option, ParseFloat, @default, @default == null, innerSep, outerSep, count, noteValid)!;

    /// <summary>Two-level list of integers (upstream getlists(..., parser=int)).</summary>
    public IReadOnlyList<IReadOnlyList<int>> GetIntLists(string option, IReadOnlyList<IReadOnlyList<int>>? @default = null,
        char innerSep = ',', char outerSep = '\n', int? count = null, bool noteValid = true) =>
        GetListsCore(option, ParseInt, @default, @default == null, innerSep, outerSep, count, noteValid)!;

    /// <summary>Two-level list or null when absent.</summary>
    public IReadOnlyList<IReadOnlyList<T>>? GetListsOrNull<T>(string option, Func<string, T> parser, char innerSep = ',',
        char outerSep = '\n', int? count = null, bool noteValid = true) =>
        GetListsCore(option, parser, null, false, innerSep, outerSep, count, noteValid);

    private IReadOnlyList<IReadOnlyList<T>>? GetListsCore<T>(string option, Func<string, T> parser,
        IReadOnlyList<IReadOnlyList<T>>? def, bool required, char innerSep, char outerSep, int? count, bool noteValid) =>
        Lookup(option, s => (IReadOnlyList<IReadOnlyList<T>>)ParseLists(option, s, innerSep, outerSep, parser, count),
               required, def, noteValid, out var v) ? v : def;

    // ---- sections ------------------------------------------------------

    /// <summary>A wrapper for another section (which need not exist) sharing this config's tracking and owner.</summary>
    public ConfigWrapper GetSection(string section) => new(File, AccessTracking, section, Owner, PrinterConfig);

    /// <summary>True if the section exists (case-sensitive).</summary>
    public bool HasSection(string section) => File.HasSection(section);

    /// <summary>Wrappers for all sections whose name starts with <paramref name="prefix"/>, in file order.</summary>
    public IReadOnlyList<ConfigWrapper> GetPrefixSections(string prefix) =>
        File.Sections().Where(s => s.StartsWith(prefix, StringComparison.Ordinal)).Select(GetSection).ToList();

    /// <summary>Option names (lower-case) of this section starting with <paramref name="prefix"/>.</summary>
    public IReadOnlyList<string> GetPrefixOptions(string prefix) =>
        File.Options(Name).Where(o => o.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    /// <summary>All option names (lower-case) of this section in file order.</summary>
    public IReadOnlyList<string> GetOptionNames() => GetPrefixOptions("");

    /// <summary>Notes that an option (or one of its values) is deprecated, if the option is set.</summary>
    public void Deprecate(string option, string? value = null)
    {
        if (!File.HasOption(Name, option)) return;
        PrinterConfig?.Deprecate(Name, option, value);
    }
}
