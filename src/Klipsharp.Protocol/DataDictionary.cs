using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Klipsharp.Protocol;

/// <summary>An entry of the dictionary's message list: id, kind and format.</summary>
public readonly record struct MessageInfo(int Id, string MsgType, string Format);

/// <summary>
/// An MCU data dictionary (upstream <c>MessageParser</c>): message formats and ids,
/// enumerations, constants and version information, with the encoder and decoder built
/// from them.
/// </summary>
public sealed class DataDictionary
{
    private static readonly (string Format, int Id)[] DefaultMessages =
    [
        ("identify_response offset=%u data=%.*s", 0),
        ("identify offset=%u count=%c", 1),
    ];

    private readonly Dictionary<string, Dictionary<string, long>> _enums = new();
    private readonly List<KeyValuePair<string, IReadOnlyDictionary<string, long>>> _enumList = new();
    private readonly List<MessageInfo> _messages = new();
    private readonly Dictionary<long, MessageDefinition> _byId = new();
    private readonly Dictionary<string, MessageFormat> _byName = new();
    private readonly Dictionary<string, int> _idByFormat = new();
    private readonly Dictionary<string, object?> _config = new();
    private readonly Dictionary<string, int> _commands = new();
    private readonly Dictionary<string, int> _responses = new();
    private readonly Dictionary<string, int> _outputs = new();

    /// <summary>Creates a dictionary that knows only the identify messages.</summary>
    public DataDictionary(string warnPrefix = "")
    {
        WarnPrefix = warnPrefix;
        var all = new List<KeyValuePair<string, int>>();
        foreach (var (fmt, id) in DefaultMessages)
            all.Add(new(fmt, id));
        InitMessages(all, new HashSet<int>(), new HashSet<int>());
    }

    /// <summary>Prefix of error messages (upstream <c>warn_prefix</c>, e.g. <c>mcu 'mcu': </c>).</summary>
    public string WarnPrefix { get; set; }

    /// <summary>The decompressed dictionary as received (JSON bytes).</summary>
    public byte[] RawData { get; private set; } = [];

    /// <summary>The dictionary's JSON text.</summary>
    public string RawJson => Encoding.UTF8.GetString(RawData);

    /// <summary>Firmware version (<c>version</c>).</summary>
    public string Version { get; private set; } = "";

    /// <summary>Compiler versions (<c>build_versions</c>).</summary>
    public string BuildVersions { get; private set; } = "";

    /// <summary>Application name (<c>app</c>), empty when absent.</summary>
    public string App { get; private set; } = "";

    /// <summary>License text (<c>license</c>), empty when absent.</summary>
    public string License { get; private set; } = "";

    /// <summary>All messages: the two built-in identify messages first, then the dictionary's.</summary>
    public IReadOnlyList<MessageInfo> Messages => _messages;

    /// <summary>Command formats and their ids, as listed in the dictionary.</summary>
    public IReadOnlyDictionary<string, int> Commands => _commands;

    /// <summary>Response formats and their ids, as listed in the dictionary.</summary>
    public IReadOnlyDictionary<string, int> Responses => _responses;

    /// <summary>Debug output formats and their ids, as listed in the dictionary.</summary>
    public IReadOnlyDictionary<string, int> Outputs => _outputs;

    /// <summary>Message definitions by id.</summary>
    public IReadOnlyDictionary<long, MessageDefinition> MessagesById => _byId;

    /// <summary>Commands and responses by name.</summary>
    public IReadOnlyDictionary<string, MessageFormat> MessagesByName => _byName;

    /// <summary>Enumerations (ranges expanded), in dictionary order: name to (value name to number).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Enumerations =>
        _enumView ??= _enumList.ToDictionary(kv => kv.Key, kv => kv.Value);

    private Dictionary<string, IReadOnlyDictionary<string, long>>? _enumView;

    /// <summary>Firmware constants (<c>config</c>): long, double, string, bool or null values.</summary>
    public IReadOnlyDictionary<string, object?> Config => _config;

    /// <summary>Reads a dictionary file (JSON).</summary>
    public static DataDictionary Load(string path, string warnPrefix = "") =>
        FromJson(File.ReadAllBytes(path), warnPrefix);

    /// <summary>Parses a dictionary from its JSON bytes.</summary>
    public static DataDictionary FromJson(byte[] json, string warnPrefix = "")
    {
        var d = new DataDictionary(warnPrefix);
        d.ProcessIdentify(json, decompress: false);
        return d;
    }

    /// <summary>Parses a dictionary from its JSON text.</summary>
    public static DataDictionary FromJson(string json, string warnPrefix = "") =>
        FromJson(Encoding.UTF8.GetBytes(json), warnPrefix);

    /// <summary>Parses the zlib-compressed dictionary an MCU sends in <c>identify_response</c>.</summary>
    public static DataDictionary FromZlib(byte[] compressed, string warnPrefix = "")
    {
        var d = new DataDictionary(warnPrefix);
        d.ProcessIdentify(compressed, decompress: true);
        return d;
    }

    /// <summary>zlib-compresses dictionary JSON (what an MCU serves through <c>identify</c>).</summary>
    public static byte[] Compress(ReadOnlySpan<byte> json)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.SmallestSize, leaveOpen: true))
            z.Write(json);
        return ms.ToArray();
    }

    /// <summary>Inflates zlib data.</summary>
    public static byte[] Decompress(byte[] compressed)
    {
        using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        z.CopyTo(ms);
        return ms.ToArray();
    }

    private ProtocolError Error(string msg) => new(WarnPrefix + msg);

    /// <summary>Adds the contents of an identify dictionary (upstream <c>process_identify</c>).</summary>
    public void ProcessIdentify(byte[] data, bool decompress = true)
    {
        try
        {
            if (decompress)
                data = Decompress(data);
            RawData = data;
            ReadOnlyMemory<byte> json = data;
            if (data.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xef, 0xbb, 0xbf]))
                json = json[3..];
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new FormatException("dictionary is not a JSON object");
            if (root.TryGetProperty("enumerations", out var en))
                FillEnumerations(en);
            if (!root.TryGetProperty("commands", out var commands) || commands.ValueKind != JsonValueKind.Object)
                throw new FormatException("missing 'commands'");
            if (!root.TryGetProperty("responses", out var responses) || responses.ValueKind != JsonValueKind.Object)
                throw new FormatException("missing 'responses'");
            root.TryGetProperty("output", out var output);
            // Python dict merge: a repeated format keeps its first position, takes the last id.
            var order = new List<string>();
            var ids = new Dictionary<string, int>();
            var commandIds = new HashSet<int>();
            var outputIds = new HashSet<int>();
            void Merge(JsonElement section, Dictionary<string, int> listing, HashSet<int>? kind)
            {
                if (section.ValueKind != JsonValueKind.Object)
                    return;
                foreach (var p in section.EnumerateObject())
                {
                    int id = p.Value.GetInt32();
                    listing[p.Name] = id;
                    kind?.Add(id);
                    if (!ids.ContainsKey(p.Name))
                        order.Add(p.Name);
                    ids[p.Name] = id;
                }
            }
            Merge(commands, _commands, commandIds);
            Merge(responses, _responses, null);
            Merge(output, _outputs, outputIds);
            InitMessages(order.Select(f => new KeyValuePair<string, int>(f, ids[f])).ToList(), commandIds, outputIds);
            if (root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in config.EnumerateObject())
                    _config[p.Name] = ConfigValue(p.Value);
            }
            Version = StringProperty(root, "version");
            BuildVersions = StringProperty(root, "build_versions");
            App = StringProperty(root, "app");
            License = StringProperty(root, "license");
        }
        catch (ProtocolError)
        {
            throw;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException
                                   or InvalidDataException or KeyNotFoundException or OverflowException)
        {
            throw Error("Error during identify: " + e.Message);
        }
    }

    private static string StringProperty(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText() : "";

    private static object? ConfigValue(JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                return v.GetString();
            case JsonValueKind.Number:
                string raw = v.GetRawText();
                if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && v.TryGetInt64(out long l))
                    return l;
                return v.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Null:
                return null;
            default:
                return v.GetRawText();
        }
    }

    // Adds enumerations; a [start, count] value expands NAME<k> into count names
    // numbered from the name's trailing digits (upstream fill_enumerations).
    private void FillEnumerations(JsonElement enumerations)
    {
        if (enumerations.ValueKind != JsonValueKind.Object)
            return;
        foreach (var e in enumerations.EnumerateObject())
        {
            _enumView = null;
            if (!_enums.TryGetValue(e.Name, out var enums))
            {
                enums = new Dictionary<string, long>();
                _enums[e.Name] = enums;
                _enumList.Add(new(e.Name, enums));
            }
            foreach (var item in e.Value.EnumerateObject())
            {
                if (item.Value.ValueKind == JsonValueKind.Number)
                {
                    enums[item.Name] = item.Value.GetInt64();
                    continue;
                }
                if (item.Value.ValueKind != JsonValueKind.Array || item.Value.GetArrayLength() != 2)
                    throw new FormatException($"invalid enumeration value for '{item.Name}'");
                string name = item.Name;
                int rootLen = name.Length;
                while (rootLen > 0 && char.IsAsciiDigit(name[rootLen - 1]))
                    rootLen--;
                string root = name[..rootLen];
                BigInteger startEnum = rootLen != name.Length ? BigInteger.Parse(name[rootLen..], CultureInfo.InvariantCulture) : BigInteger.Zero;
                long startValue = item.Value[0].GetInt64();
                long count = item.Value[1].GetInt64();
                for (long i = 0; i < count; i++)
                    enums[root + (startEnum + i).ToString(CultureInfo.InvariantCulture)] = startValue + i;
            }
        }
    }

    private void InitMessages(List<KeyValuePair<string, int>> messages, HashSet<int> commandIds, HashSet<int> outputIds)
    {
        foreach (var (format, id) in messages)
        {
            string type = commandIds.Contains(id) ? "command" : outputIds.Contains(id) ? "output" : "response";
            _messages.Add(new MessageInfo(id, type, format));
            _idByFormat[format] = id;
            if (type == "output")
            {
                _byId[id] = new OutputFormat(id, format);
            }
            else
            {
                var msg = new MessageFormat(id, format, type, _enumList);
                _byId[id] = msg;
                _byName[msg.Name] = msg;
            }
        }
    }

    /// <summary>
    /// Finds a command or response by its exact format (upstream <c>lookup_command</c>);
    /// throws when the name is unknown or the MCU's format differs.
    /// </summary>
    public MessageFormat LookupCommand(string msgFormat)
    {
        var parts = PyText.Split(msgFormat);
        string name = parts.Count > 0 ? parts[0] : "";
        if (!_byName.TryGetValue(name, out var mp))
            throw Error($"Unknown command: {name}");
        if (msgFormat != mp.MsgFormat)
            throw Error($"Command format mismatch: {msgFormat} vs {mp.MsgFormat}");
        return mp;
    }

    /// <summary>Like <see cref="LookupCommand"/> but null when not available (upstream <c>try_lookup_command</c>).</summary>
    public MessageFormat? TryLookupCommand(string msgFormat)
    {
        try
        {
            return LookupCommand(msgFormat);
        }
        catch (ProtocolError)
        {
            return null;
        }
    }

    /// <summary>Id of a message by its exact format (upstream <c>lookup_msgid</c>).</summary>
    public int LookupMsgId(string msgFormat)
    {
        if (!_idByFormat.TryGetValue(msgFormat, out int id))
            throw Error($"Unknown command: {msgFormat}");
        return id;
    }

    /// <summary>
    /// Encodes a command written as text, e.g. <c>config_stepper oid=2 step_pin=PF0 ...</c>
    /// (upstream <c>create_command</c>): integers in Python literal syntax, enumeration
    /// values by name, buffers as hex. Empty text gives an empty message.
    /// </summary>
    public byte[] CreateCommand(string msg)
    {
        var parts = PyText.Split(msg);
        if (parts.Count == 0)
            return [];
        string name = parts[0];
        if (!_byName.TryGetValue(name, out var mp))
            throw Error($"Unknown command: {name}");
        var args = new Dictionary<string, object?>();
        for (int i = 1; i < parts.Count; i++)
        {
            int eq = parts[i].IndexOf('=');
            if (eq < 0)
                throw Error($"Unable to extract params from: {name}");
            args[parts[i][..eq]] = parts[i][(eq + 1)..];
        }
        foreach (var key in args.Keys.ToList())
        {
            int idx = mp.IndexOf(key);
            if (idx < 0)
                throw Error($"Unable to extract params from: {name}");
            var p = mp.Params[idx];
            string value = (string)args[key]!;
            if (p.IsDynamicString)
            {
                if (!TryParseBuffer(value, out var buf))
                    throw Error($"Unable to extract params from: {name}");
                args[key] = buf;
            }
            else if (p.IsInt)
            {
                if (!PyText.TryParseInt(value, 0, out var iv))
                    throw Error($"Unable to extract params from: {name}");
                args[key] = MessageFormat.ReduceForVlq(iv);
            }
        }
        try
        {
            return mp.EncodeByName(args);
        }
        catch (EnumerationError)
        {
            throw;
        }
        catch (ProtocolError)
        {
            throw Error($"Unable to encode: {name}");
        }
    }

    // Hex text to bytes: len(text)/2 bytes of the number, most significant first.
    private static bool TryParseBuffer(string value, out byte[] buf)
    {
        buf = [];
        if (value.Length == 0)
            return true;
        if (!PyText.TryParseInt(value, 16, out var v))
            return false;
        int n = value.Length / 2;
        buf = new byte[n];
        for (int i = n - 1; i >= 0; i--)
        {
            buf[i] = (byte)(int)(v & 0xff);
            v >>= 8;
        }
        return true;
    }

    /// <summary>The constants (upstream <c>get_constants</c>).</summary>
    public IReadOnlyDictionary<string, object?> GetConstants() => _config;

    /// <summary>A constant as text; throws when missing.</summary>
    public string GetConstant(string name)
    {
        if (!_config.TryGetValue(name, out var v))
            throw Error($"Firmware constant '{name}' not found");
        return PyStr(v);
    }

    /// <summary>A constant as text, or <paramref name="defaultValue"/> when missing.</summary>
    public string? GetConstant(string name, string? defaultValue) =>
        _config.TryGetValue(name, out var v) ? PyStr(v) : defaultValue;

    /// <summary>A constant as a float; throws when missing or not a number.</summary>
    public double GetConstantFloat(string name)
    {
        if (!_config.TryGetValue(name, out var v))
            throw Error($"Firmware constant '{name}' not found");
        return ParseFloat(name, v);
    }

    /// <summary>A constant as a float, or <paramref name="defaultValue"/> when missing.</summary>
    public double? GetConstantFloat(string name, double? defaultValue) =>
        _config.TryGetValue(name, out var v) ? ParseFloat(name, v) : defaultValue;

    /// <summary>A constant as an integer; throws when missing or not an integer.</summary>
    public long GetConstantInt(string name)
    {
        if (!_config.TryGetValue(name, out var v))
            throw Error($"Firmware constant '{name}' not found");
        return ParseInt(name, v);
    }

    /// <summary>A constant as an integer, or <paramref name="defaultValue"/> when missing.</summary>
    public long? GetConstantInt(string name, long? defaultValue) =>
        _config.TryGetValue(name, out var v) ? ParseInt(name, v) : defaultValue;

    private double ParseFloat(string name, object? v)
    {
        switch (v)
        {
            case long l: return l;
            case double d: return d;
            case bool b: return b ? 1 : 0;
            case string s when PyText.TryParseFloat(s, out double f): return f;
        }
        throw Error($"Unable to parse firmware constant {name}: {PyStr(v)}");
    }

    private long ParseInt(string name, object? v)
    {
        switch (v)
        {
            case long l:
                return l;
            case bool b:
                return b ? 1 : 0;
            case double d when !double.IsNaN(d) && !double.IsInfinity(d) && Math.Abs(d) < 9.2e18:
                return (long)Math.Truncate(d);
            case string s when PyText.TryParseInt(s, 10, out var bi) && bi >= long.MinValue && bi <= long.MaxValue:
                return (long)bi;
        }
        throw Error($"Unable to parse firmware constant {name}: {PyStr(v)}");
    }

    // Python's str() of a JSON value.
    private static string PyStr(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => PyText.FloatRepr(d),
        _ => v.ToString() ?? "",
    };

    /// <summary>
    /// Decodes every message of one block (header and trailer included) to text as
    /// upstream <c>dump</c> does, without its leading <c>seq:</c> line unless asked.
    /// A message that runs past the block is reported as
    /// <c>#invalid message at byte N</c> (N counted from <paramref name="streamOffset"/>)
    /// and ends the block.
    /// </summary>
    public List<string> Dump(ReadOnlySpan<byte> block, bool includeSeq = false, long streamOffset = 0)
    {
        var lines = new List<string>();
        DumpInto(block, lines, includeSeq, streamOffset);
        return lines;
    }

    internal void DumpInto(ReadOnlySpan<byte> block, List<string> lines, bool includeSeq, long streamOffset)
    {
        if (includeSeq && block.Length > MessageBlock.MESSAGE_POS_SEQ)
            lines.Add("seq: " + block[MessageBlock.MESSAGE_POS_SEQ].ToString("x2", CultureInfo.InvariantCulture));
        int end = block.Length - MessageBlock.MESSAGE_TRAILER_SIZE;
        int pos = MessageBlock.MESSAGE_HEADER_SIZE;
        var sb = new StringBuilder();
        while (pos < end)
        {
            int idPos = pos;
            if (!Vlq.TryDecode(block, ref idPos, true, out long msgid))
            {
                lines.Add("#invalid message at byte " + (streamOffset + pos).ToString(CultureInfo.InvariantCulture));
                return;
            }
            if (!_byId.TryGetValue(msgid, out var def))
            {
                lines.Add("#unknown " + PyText.BytesRepr(block));
                return;
            }
            sb.Clear();
            int start = pos;
            if (!def.TryFormat(block, ref pos, sb))
            {
                lines.Add("#invalid message at byte " + (streamOffset + start).ToString(CultureInfo.InvariantCulture));
                return;
            }
            lines.Add(sb.ToString());
        }
    }

    /// <summary>
    /// Decodes a block holding one message to its parameters, with the message name
    /// under <c>#name</c> (upstream <c>parse</c>).
    /// </summary>
    public Dictionary<string, object> Parse(ReadOnlySpan<byte> block)
    {
        int pos = MessageBlock.MESSAGE_HEADER_SIZE;
        int end = block.Length - MessageBlock.MESSAGE_TRAILER_SIZE;
        int idPos = pos;
        if (!Vlq.TryDecode(block, ref idPos, true, out long msgid))
            throw Error("Extra data at end of message");
        Dictionary<string, object> result;
        string name;
        switch (_byId.GetValueOrDefault(msgid))
        {
            case MessageFormat mf:
                result = mf.Parse(block, ref pos);
                name = mf.Name;
                break;
            case OutputFormat of:
                result = new Dictionary<string, object> { ["#msg"] = of.ParseText(block, ref pos) };
                name = of.Name;
                break;
            default:
                result = new Dictionary<string, object> { ["#msgid"] = msgid, ["#msg"] = block.ToArray() };
                name = "#unknown";
                pos = end;
                break;
        }
        if (pos != end)
            throw Error("Extra data at end of message");
        result["#name"] = name;
        return result;
    }
}
