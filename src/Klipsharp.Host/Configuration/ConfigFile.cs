using System.Text;

namespace Klipsharp.Host.Configuration;

/// <summary>
/// Parsed config data with Python configparser semantics as klippy configures it
/// (RawConfigParser, strict=False, inline comments ';' and '#'), plus klippy's
/// reading helpers (comment stripping, [include] handling).
/// </summary>
public sealed class ConfigFile
{
    /// <summary>configparser's default section name; its options appear in every section.</summary>
    public const string DefaultSection = "DEFAULT";

    private readonly OrderedDictionary<string, OrderedDictionary<string, string>> _sections = new(StringComparer.Ordinal);
    private readonly OrderedDictionary<string, string> _defaults = new(StringComparer.Ordinal);

    /// <summary>configparser optionxform: option names are lower-cased.</summary>
    public static string OptionXform(string option) => option.ToLowerInvariant();

    /// <summary>Section names in file order (without DEFAULT).</summary>
    public IReadOnlyList<string> Sections() => _sections.Keys.ToList();

    /// <summary>True if the section exists (case-sensitive; DEFAULT is never a section).</summary>
    public bool HasSection(string section) => _sections.ContainsKey(section);

    /// <summary>configparser has_option; a null/empty or DEFAULT section checks the defaults.</summary>
    public bool HasOption(string? section, string option)
    {
        option = OptionXform(option);
        if (string.IsNullOrEmpty(section) || section == DefaultSection)
            return _defaults.ContainsKey(option);
        if (!_sections.TryGetValue(section, out var opts)) return false;
        return opts.ContainsKey(option) || _defaults.ContainsKey(option);
    }

    /// <summary>Option names of a section in order (defaults last); "No section: 'x'" if missing.</summary>
    public IReadOnlyList<string> Options(string section)
    {
        if (!_sections.TryGetValue(section, out var opts))
            throw new ConfigError("No section: " + PyFormat.Repr(section));
        var res = opts.Keys.ToList();
        foreach (var k in _defaults.Keys)
            if (!opts.ContainsKey(k)) res.Add(k);
        return res;
    }

    /// <summary>Raw string value of an option (section first, then defaults).</summary>
    public string Get(string section, string option)
    {
        OrderedDictionary<string, string>? opts = null;
        if (section != DefaultSection && !_sections.TryGetValue(section, out opts))
            throw new ConfigError("No section: " + PyFormat.Repr(section));
        string key = OptionXform(option);
        if (opts != null && opts.TryGetValue(key, out var v)) return v;
        if (_defaults.TryGetValue(key, out v)) return v;
        throw new ConfigError($"No option {PyFormat.Repr(key)} in section: {PyFormat.Repr(section)}");
    }

    /// <summary>configparser add_section.</summary>
    public void AddSection(string section)
    {
        if (section == DefaultSection)
            throw new ConfigError("Invalid section name: " + PyFormat.Repr(section));
        if (_sections.ContainsKey(section))
            throw new ConfigError($"Section {PyFormat.Repr(section)} already exists");
        _sections.Add(section, new OrderedDictionary<string, string>(StringComparer.Ordinal));
    }

    /// <summary>configparser set (option name lower-cased).</summary>
    public void Set(string section, string option, string value)
    {
        OrderedDictionary<string, string>? opts;
        if (string.IsNullOrEmpty(section) || section == DefaultSection)
            opts = _defaults;
        else if (!_sections.TryGetValue(section, out opts))
            throw new ConfigError("No section: " + PyFormat.Repr(section));
        opts[OptionXform(option)] = value;
    }

    /// <summary>configparser remove_section; false if it did not exist.</summary>
    public bool RemoveSection(string section) => _sections.Remove(section);

    /// <summary>configparser remove_option; false if it did not exist.</summary>
    public bool RemoveOption(string section, string option)
    {
        OrderedDictionary<string, string>? opts;
        if (string.IsNullOrEmpty(section) || section == DefaultSection)
            opts = _defaults;
        else if (!_sections.TryGetValue(section, out opts))
            throw new ConfigError("No section: " + PyFormat.Repr(section));
        return opts.Remove(OptionXform(option));
    }

    /// <summary>configparser write(): "[section]" then "key = value" lines, continuation lines tab-indented.</summary>
    public string Write()
    {
        var sb = new StringBuilder();
        if (_defaults.Count > 0) WriteSection(sb, DefaultSection, _defaults);
        foreach (var (name, opts) in _sections) WriteSection(sb, name, opts);
        return sb.ToString();
    }

    private static void WriteSection(StringBuilder sb, string name, OrderedDictionary<string, string> opts)
    {
        sb.Append('[').Append(name).Append("]\n");
        foreach (var (k, v) in opts)
            sb.Append(k).Append(" = ").Append(v.Replace("\n", "\n\t")).Append('\n');
        sb.Append('\n');
    }

    /// <summary>klippy build_config_string: the written config, stripped.</summary>
    public string BuildConfigString() => PyFormat.Strip(Write());

    // ------------------------------------------------------------------
    // configparser._read
    // ------------------------------------------------------------------

    /// <summary>
    /// Parses more text into this config exactly like configparser read_file(); later
    /// values override earlier ones. <paramref name="source"/> names the input in errors.
    /// </summary>
    public void Read(string data, string source)
    {
        OrderedDictionary<string, string>? cursect = null;
        string? optname = null;
        int indentLevel = 0;
        // Values being assembled in this read, one line per entry (joined at the end).
        var pending = new Dictionary<(OrderedDictionary<string, string>, string), List<string>>();
        List<string>? curValue = null;
        StringBuilder? errors = null;

        int lineno = 0;
        int pos = 0;
        while (pos < data.Length)
        {
            int nl = data.IndexOf('\n', pos);
            string line = nl < 0 ? data[pos..] : data[pos..(nl + 1)];
            pos = nl < 0 ? data.Length : nl + 1;
            lineno++;

            int? commentStart = FindInlineComment(line);
            string stripped = PyFormat.Strip(line);
            if (stripped.StartsWith('#') || stripped.StartsWith(';')) commentStart = 0;
            string value = PyFormat.Strip(commentStart is int cs ? line[..cs] : line);
            if (value.Length == 0)
            {
                // Blank lines belong to a multi-line value unless they held a comment.
                if (commentStart == null && cursect != null && !string.IsNullOrEmpty(optname))
                    curValue!.Add("");
                continue;
            }
            int curIndent = 0;
            while (curIndent < line.Length && PyFormat.IsSpace(line[curIndent])) curIndent++;
            if (cursect != null && !string.IsNullOrEmpty(optname) && curIndent > indentLevel)
            {
                curValue!.Add(value);
                continue;
            }
            indentLevel = curIndent;
            string? header = MatchSectionHeader(value);
            if (header != null)
            {
                if (_sections.TryGetValue(header, out var existing))
                    cursect = existing;
                else if (header == DefaultSection)
                    cursect = _defaults;
                else
                {
                    cursect = new OrderedDictionary<string, string>(StringComparer.Ordinal);
                    _sections.Add(header, cursect);
                }
                optname = null;
                curValue = null;
                continue;
            }
            if (cursect == null)
                throw new ConfigError($"File contains no section headers.\nfile: {PyFormat.Repr(source)}, line: {lineno}\n{PyFormat.Repr(line)}");
            int delim = value.AsSpan().IndexOfAny('=', ':');
            if (delim < 0)
            {
                AddError(ref errors, source, lineno, line);
                continue;
            }
            string name = PyFormat.RStrip(value[..delim]);
            if (name.Length == 0) AddError(ref errors, source, lineno, line);
            optname = OptionXform(name);
            curValue = [PyFormat.Strip(value[(delim + 1)..])];
            pending[(cursect, optname)] = curValue;
            cursect[optname] = "";
        }
        foreach (var ((sect, opt), parts) in pending)
            sect[opt] = PyFormat.RStrip(string.Join('\n', parts));
        if (errors != null) throw new ConfigError(errors.ToString());
    }

    private static readonly char[] InlinePrefixes = [';', '#'];

    // configparser advances every prefix to its next occurrence in rounds and stops at the
    // first round that finds one at line start or after whitespace (not always the earliest).
    private static int? FindInlineComment(string line)
    {
        Span<int> index = stackalloc int[InlinePrefixes.Length];
        Span<bool> active = stackalloc bool[InlinePrefixes.Length];
        index.Fill(-1);
        active.Fill(true);
        int best = int.MaxValue;
        bool any = true;
        while (best == int.MaxValue && any)
        {
            any = false;
            for (int p = 0; p < InlinePrefixes.Length; p++)
            {
                if (!active[p]) continue;
                int i = line.IndexOf(InlinePrefixes[p], index[p] + 1);
                if (i < 0) { active[p] = false; continue; }
                index[p] = i;
                any = true;
                if (i == 0 || PyFormat.IsSpace(line[i - 1])) best = Math.Min(best, i);
            }
        }
        return best == int.MaxValue ? null : best;
    }

    private static void AddError(ref StringBuilder? errors, string source, int lineno, string line)
    {
        errors ??= new StringBuilder("Source contains parsing errors: " + PyFormat.Repr(source));
        errors.Append("\n\t[line ").Append(lineno.ToString().PadLeft(2)).Append("]: ").Append(PyFormat.Repr(line));
    }

    /// <summary>configparser SECTCRE.match: "[" then the text up to the last "]" of the line (at least one char).</summary>
    internal static string? MatchSectionHeader(string line)
    {
        if (line.Length < 3 || line[0] != '[') return null;
        int nl = line.IndexOf('\n');
        int limit = nl < 0 ? line.Length : nl;
        int close = line.LastIndexOf(']', limit - 1);
        return close >= 2 ? line[1..close] : null;
    }

    // ------------------------------------------------------------------
    // klippy ConfigFileReader
    // ------------------------------------------------------------------

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Reads a config file as Python's text mode would (newlines normalized, a BOM kept).</summary>
    public static string ReadConfigFile(string filename)
    {
        string data;
        try
        {
            data = StrictUtf8.GetString(File.ReadAllBytes(filename));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException
                                       or NotSupportedException or DecoderFallbackException)
        {
            throw new ConfigError($"Unable to open config file {filename}", e);
        }
        return data.Replace("\r\n", "\n").Replace('\r', '\n');
    }

    /// <summary>Cuts each line at its first '#' (klippy strips these before configparser sees them).</summary>
    internal static string StripHashComment(string line)
    {
        int p = line.IndexOf('#');
        return p >= 0 ? line[..p] : line;
    }

    /// <summary>klippy append_fileconfig: strips '#' comments then parses into this config.</summary>
    public void Append(string data, string filename)
    {
        if (data.Length == 0) return;
        var lines = data.Split('\n');
        for (int i = 0; i < lines.Length; i++) lines[i] = StripHashComment(lines[i]);
        Read(string.Join('\n', lines), filename);
    }

    /// <summary>klippy build_fileconfig: parses text without include processing.</summary>
    public static ConfigFile Build(string data, string filename)
    {
        var fc = new ConfigFile();
        fc.Append(data, filename);
        return fc;
    }

    /// <summary>klippy build_fileconfig_with_includes: parses text, expanding [include ...] relative to <paramref name="filename"/>.</summary>
    public static ConfigFile BuildWithIncludes(string data, string filename)
    {
        var fc = new ConfigFile();
        fc.ParseConfig(data, filename, new HashSet<string>(StringComparer.Ordinal));
        return fc;
    }

    /// <summary>Reads and parses a file with its includes (no autosave handling).</summary>
    public static ConfigFile Load(string filename) => BuildWithIncludes(ReadConfigFile(filename), filename);

    private void ParseConfig(string data, string filename, HashSet<string> visited)
    {
        string path = Path.GetFullPath(filename);
        if (!visited.Add(path))
            throw new ConfigError($"Recursive include of config file '{filename}'");
        // Text between includes is parsed as one unit so overrides apply in file order.
        var buf = new List<string>();
        foreach (var raw in data.Split('\n'))
        {
            string line = StripHashComment(raw);
            string? header = MatchSectionHeader(line);
            if (header != null && header.StartsWith("include ", StringComparison.Ordinal))
            {
                Append(string.Join('\n', buf), filename);
                buf.Clear();
                ResolveInclude(filename, PyFormat.Strip(header[8..]), visited);
            }
            else
            {
                buf.Add(line);
            }
        }
        Append(string.Join('\n', buf), filename);
        visited.Remove(path);
    }

    private void ResolveInclude(string sourceFilename, string includeSpec, HashSet<string> visited)
    {
        string dirname = PyGlob.DirName(sourceFilename);
        string includeGlob = PyGlob.Join(dirname, PyFormat.Strip(includeSpec));
        var names = PyGlob.Glob(includeGlob);
        if (names.Count == 0 && !PyGlob.HasMagic(includeGlob))
            throw new ConfigError($"Include file '{includeGlob}' does not exist");
        names.Sort(StringComparer.Ordinal);
        foreach (var name in names)
            ParseConfig(ReadConfigFile(name), name, visited);
    }
}
