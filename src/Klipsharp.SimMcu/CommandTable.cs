using System.Globalization;
using System.Text;
using System.Text.Json;
using Klipsharp.Protocol;

namespace Klipsharp.SimMcu;

/// <summary>Arguments of one received command, in parameter order (firmware <c>uint32_t *args</c>).</summary>
internal sealed class CommandArgs
{
    public readonly uint[] Values;
    public readonly byte[]?[] Buffers;

    public CommandArgs(int count)
    {
        Values = new uint[count];
        Buffers = new byte[]?[count];
    }

    public uint this[int i] => Values[i];

    public byte Byte(int i) => (byte)Values[i];

    public byte[] Buffer(int i) => Buffers[i] ?? [];
}

/// <summary>A message format of the simulated firmware: name, parameter types and id.</summary>
internal class MessageDef
{
    public MessageDef(string format)
    {
        Format = format;
        var parts = format.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Name = parts[0];
        var types = new List<ParamType>();
        var names = new List<string>();
        for (int i = 1; i < parts.Length; i++)
        {
            int eq = parts[i].IndexOf('=');
            if (eq < 0 || !ParamTypes.TryParse(parts[i].AsSpan(eq + 1), out var t))
                throw new ArgumentException("bad message format: " + format);
            names.Add(parts[i][..eq]);
            types.Add(t);
        }
        Types = types.ToArray();
        ParamNames = names.ToArray();
    }

    public string Format { get; }
    public string Name { get; }
    public ParamType[] Types { get; }
    public string[] ParamNames { get; }
    public int Id { get; set; }
}

/// <summary>A command: its format, whether it runs while shut down, and its handler.</summary>
internal sealed class CommandDef : MessageDef
{
    public CommandDef(string format, bool inShutdown, Action<CommandArgs> handler) : base(format)
    {
        InShutdown = inShutdown;
        Handler = handler;
    }

    public bool InShutdown { get; }
    public Action<CommandArgs> Handler { get; }
}

/// <summary>
/// The simulated firmware's command table and the data dictionary generated from it:
/// ids are given in table order (the identify pair keeps 0 and 1), one-byte ids first.
/// </summary>
internal sealed class CommandTable
{
    private readonly List<CommandDef> _commands = new();
    private readonly List<MessageDef> _responses = new();
    private readonly Dictionary<long, CommandDef> _byId = new();
    private readonly Dictionary<string, MessageDef> _responseByName = new();
    private readonly List<string> _staticStrings = new();
    private readonly Dictionary<string, int> _staticStringIds = new();

    public IReadOnlyList<CommandDef> Commands => _commands;

    public void AddCommand(string format, Action<CommandArgs> handler, bool inShutdown = false) =>
        _commands.Add(new CommandDef(format, inShutdown, handler));

    public MessageDef AddResponse(string format)
    {
        var r = new MessageDef(format);
        _responses.Add(r);
        _responseByName[r.Name] = r;
        return r;
    }

    public void AddStaticStrings(IEnumerable<string> strings)
    {
        foreach (var s in strings)
        {
            if (_staticStringIds.ContainsKey(s))
                continue;
            _staticStringIds[s] = _staticStrings.Count + 2;
            _staticStrings.Add(s);
        }
    }

    public int StaticStringId(string s) =>
        _staticStringIds.TryGetValue(s, out int id) ? id : throw new InvalidOperationException("unregistered shutdown reason: " + s);

    public string StaticString(int id) => id >= 2 && id - 2 < _staticStrings.Count ? _staticStrings[id - 2] : "?";

    public CommandDef? Lookup(long id) => _byId.GetValueOrDefault(id);

    public MessageDef Response(string name) => _responseByName[name];

    /// <summary>Assigns ids: identify_response 0, identify 1, then commands, then responses.</summary>
    public void AssignIds()
    {
        var next = IdSequence().GetEnumerator();
        foreach (var c in _commands)
        {
            if (c.Name == "identify")
            {
                c.Id = 1;
            }
            else
            {
                next.MoveNext();
                c.Id = next.Current;
            }
            _byId[c.Id] = c;
        }
        foreach (var r in _responses)
        {
            if (r.Name == "identify_response")
            {
                r.Id = 0;
                continue;
            }
            next.MoveNext();
            r.Id = next.Current;
        }
    }

    // Ids that encode in one byte (2..95, then -32..-1), then two-byte ids from 128.
    private static IEnumerable<int> IdSequence()
    {
        for (int i = 2; i <= 95; i++)
            yield return i;
        for (int i = -32; i <= -1; i++)
            yield return i;
        for (int i = 128; ; i++)
            yield return i;
    }

    /// <summary>Builds the dictionary JSON (keys sorted, as upstream's build writes it).</summary>
    public byte[] BuildDictionary(SimBoard board, string version, string buildVersions)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("app", "Klipper");
            w.WriteString("build_versions", buildVersions);
            w.WriteStartObject("commands");
            foreach (var c in _commands.OrderBy(c => c.Format, StringComparer.Ordinal))
                w.WriteNumber(c.Format, c.Id);
            w.WriteEndObject();
            w.WriteStartObject("config");
            var cfg = new SortedDictionary<string, object>(StringComparer.Ordinal)
            {
                ["ADC_MAX"] = (long)board.AdcMax,
                ["CLOCK_FREQ"] = board.ClockFreq,
                ["MCU"] = board.Mcu,
                ["PWM_MAX"] = (long)board.PwmMax,
                ["STATS_SUMSQ_BASE"] = 256L,
                ["STEPPER_STEP_BOTH_EDGE"] = 1L,
            };
            if (board.SerialBaud is long baud)
                cfg["SERIAL_BAUD"] = baud;
            if (board.ReceiveWindow is long rw)
                cfg["RECEIVE_WINDOW"] = rw;
            foreach (var kv in board.ExtraConstants)
                cfg[kv.Key] = kv.Value;
            foreach (var kv in cfg)
            {
                if (kv.Value is long l)
                    w.WriteNumber(kv.Key, l);
                else
                    w.WriteString(kv.Key, (string)kv.Value);
            }
            w.WriteEndObject();
            w.WriteStartObject("enumerations");
            var enums = new SortedDictionary<string, Action>(StringComparer.Ordinal)
            {
                ["i2c_bus"] = () => WriteIntMap(w, board.I2cBuses),
                ["i2c_bus_status"] = () => WriteIntMap(w, new Dictionary<string, int>
                {
                    ["SUCCESS"] = 0, ["NACK"] = 1, ["BUS_TIMEOUT"] = 2, ["START_NACK"] = 3, ["START_READ_NACK"] = 4,
                }),
                ["pin"] = () =>
                {
                    var items = new SortedDictionary<string, Action>(StringComparer.Ordinal);
                    foreach (var r in board.Pins)
                    {
                        var rr = r;
                        items[rr.FirstName] = () =>
                        {
                            w.WriteStartArray(rr.FirstName);
                            w.WriteNumberValue(rr.FirstValue);
                            w.WriteNumberValue(rr.Count);
                            w.WriteEndArray();
                        };
                    }
                    foreach (var kv in board.NamedPins)
                    {
                        var k = kv;
                        items[k.Key] = () => w.WriteNumber(k.Key, k.Value);
                    }
                    foreach (var a in items.Values)
                        a();
                },
                ["spi_bus"] = () => WriteIntMap(w, board.SpiBuses),
                ["static_string_id"] = () => WriteIntMap(w, _staticStringIds),
            };
            foreach (var kv in enums)
            {
                w.WriteStartObject(kv.Key);
                kv.Value();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteString("license", "GNU GPLv3");
            w.WriteStartObject("responses");
            foreach (var r in _responses.OrderBy(r => r.Format, StringComparer.Ordinal))
                w.WriteNumber(r.Format, r.Id);
            w.WriteEndObject();
            w.WriteString("version", version);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    private static void WriteIntMap(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, int>> map)
    {
        foreach (var kv in map.OrderBy(k => k.Key, StringComparer.Ordinal))
            w.WriteNumber(kv.Key, kv.Value);
    }

    /// <summary>Encodes a response as the firmware does (values as signed 32-bit VLQs).</summary>
    public static int Encode(Span<byte> dest, MessageDef r, ReadOnlySpan<object> args)
    {
        int n = Vlq.Encode(dest, r.Id);
        for (int i = 0; i < r.Types.Length; i++)
        {
            object a = args[i];
            switch (r.Types[i])
            {
                case ParamType.String:
                {
                    byte[] s = a is string str ? Encoding.UTF8.GetBytes(str) : (byte[])a;
                    dest[n++] = (byte)s.Length;
                    s.CopyTo(dest[n..]);
                    n += s.Length;
                    break;
                }
                case ParamType.Buffer:
                case ParamType.ProgmemBuffer:
                {
                    var b = a switch
                    {
                        byte[] arr => arr.AsSpan(),
                        ArraySegment<byte> seg => seg.AsSpan(),
                        _ => throw new ArgumentException("buffer expected"),
                    };
                    dest[n++] = (byte)b.Length;
                    b.CopyTo(dest[n..]);
                    n += b.Length;
                    break;
                }
                default:
                {
                    int v = a switch
                    {
                        uint u => (int)u,
                        int s => s,
                        long l => (int)l,
                        byte by => by,
                        bool bo => bo ? 1 : 0,
                        ushort us => us,
                        _ => Convert.ToInt32(a, CultureInfo.InvariantCulture),
                    };
                    n += Vlq.Encode(dest[n..], v);
                    break;
                }
            }
        }
        return n;
    }
}
