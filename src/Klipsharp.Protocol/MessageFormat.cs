using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Klipsharp.Protocol;

/// <summary>What a message id stands for: a command or response (<see cref="MessageFormat"/>) or a debug output (<see cref="OutputFormat"/>).</summary>
public abstract class MessageDefinition
{
    private protected readonly string[] _pieces;

    private protected MessageDefinition(int id, string msgFormat, string msgType)
    {
        Id = id;
        MsgFormat = msgFormat;
        MsgType = msgType;
        var idBytes = new byte[Vlq.MaxLength];
        MsgIdBytes = idBytes.AsSpan(0, Vlq.Encode(idBytes, id)).ToArray();
        _pieces = BuildTemplate(msgFormat);
    }

    /// <summary>Message id (upstream msgid).</summary>
    public int Id { get; }

    /// <summary>The id as the unsigned 32-bit message tag that step compression writes.</summary>
    public uint MsgTag => (uint)Id;

    /// <summary>VLQ encoding of the id, the first bytes of every encoded message.</summary>
    public byte[] MsgIdBytes { get; }

    /// <summary>Format text from the data dictionary.</summary>
    public string MsgFormat { get; }

    /// <summary><c>command</c>, <c>response</c> or <c>output</c>.</summary>
    public string MsgType { get; }

    /// <summary>Name shown when decoding (<c>#output</c> for debug output).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Appends the text of the message at <paramref name="pos"/> in <paramref name="block"/>
    /// and advances past it; false when the data ends inside the message.
    /// </summary>
    internal abstract bool TryFormat(ReadOnlySpan<byte> block, ref int pos, StringBuilder sb);

    // Splits the format into the literal text around each value, as Python's "%"
    // operator sees it once every type specifier has become "%s".
    private static string[] BuildTemplate(string msgFormat)
    {
        string debug = msgFormat;
        foreach (var spec in new[] { "%u", "%i", "%hu", "%hi", "%c", "%.*s", "%*s" })
            debug = debug.Replace(spec, "%s", StringComparison.Ordinal);
        var pieces = new List<string>();
        var cur = new StringBuilder();
        for (int i = 0; i < debug.Length; i++)
        {
            char c = debug[i];
            if (c == '%' && i + 1 < debug.Length)
            {
                if (debug[i + 1] == '%')
                {
                    cur.Append('%');
                    i++;
                    continue;
                }
                if (debug[i + 1] == 's')
                {
                    pieces.Add(cur.ToString());
                    cur.Clear();
                    i++;
                    continue;
                }
            }
            cur.Append(c);
        }
        pieces.Add(cur.ToString());
        return pieces.ToArray();
    }

    private protected static void AppendTemplate(StringBuilder sb, string[] pieces, List<string> values)
    {
        sb.Append(pieces[0]);
        for (int i = 1; i < pieces.Length; i++)
        {
            if (i - 1 < values.Count)
                sb.Append(values[i - 1]);
            sb.Append(pieces[i]);
        }
    }

    private protected static bool TryReadString(ReadOnlySpan<byte> block, ref int pos, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (pos >= block.Length)
            return false;
        int len = block[pos];
        int start = pos + 1;
        // Like a Python slice, a length running past the data yields what is there.
        value = start >= block.Length ? default : block[start..Math.Min(block.Length, start + len)];
        pos = start + len;
        return true;
    }
}

/// <summary>A command or response: name, id and typed parameters (upstream <c>MessageFormat</c>).</summary>
public sealed class MessageFormat : MessageDefinition
{
    private readonly MessageParam[] _params;
    private readonly Dictionary<string, int> _indexByName = new();

    internal MessageFormat(int id, string msgFormat, string msgType, IReadOnlyList<KeyValuePair<string, IReadOnlyDictionary<string, long>>> enumerations)
        : base(id, msgFormat, msgType)
    {
        var parts = PyText.Split(msgFormat);
        Name = parts.Count > 0 ? parts[0] : "";
        var ps = new List<MessageParam>();
        for (int i = 1; i < parts.Count; i++)
        {
            string[] nv = parts[i].Split('=');
            if (nv.Length != 2 || !ParamTypes.TryParse(nv[1], out var type))
                throw new FormatException($"Invalid message format '{msgFormat}'");
            string name = nv[0];
            string? enumName = null;
            IReadOnlyDictionary<string, long>? enums = null;
            if (!ParamTypes.IsString(type))
            {
                // First enumeration (in dictionary order) whose name is the parameter or its "_" suffix.
                foreach (var kv in enumerations)
                {
                    if (name == kv.Key || name.EndsWith("_" + kv.Key, StringComparison.Ordinal))
                    {
                        enumName = kv.Key;
                        enums = kv.Value;
                        break;
                    }
                }
            }
            ps.Add(new MessageParam(name, type, enumName, enums));
            _indexByName[name] = ps.Count - 1;
        }
        _params = ps.ToArray();
        int max = MsgIdBytes.Length;
        foreach (var p in _params)
            max += p.MaxLength;
        MaxEncodedLength = max;
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Parameters in wire order.</summary>
    public IReadOnlyList<MessageParam> Params => _params;

    /// <summary>Upper bound of an encoded message's size (strings counted at 64 bytes).</summary>
    public int MaxEncodedLength { get; }

    /// <summary>Index of a parameter by name, or -1.</summary>
    public int IndexOf(string paramName) => _indexByName.TryGetValue(paramName, out int i) ? i : -1;

    /// <summary>
    /// Encodes the message id and integer arguments (in parameter order) into
    /// <paramref name="dest"/> without allocating; returns the length. Enumeration
    /// parameters take their numeric value here. Throws for string parameters.
    /// </summary>
    public int Encode(Span<byte> dest, ReadOnlySpan<long> args)
    {
        if (args.Length != _params.Length)
            throw new ProtocolError($"Unable to encode: {Name}");
        MsgIdBytes.CopyTo(dest);
        int n = MsgIdBytes.Length;
        for (int i = 0; i < _params.Length; i++)
        {
            if (ParamTypes.IsString(_params[i].Type))
                throw new ProtocolError($"Unable to encode: {Name}");
            n += Vlq.Encode(dest[n..], args[i]);
        }
        return n;
    }

    /// <summary>
    /// Encodes a word list whose first word is the msgtag (message id) and the rest the
    /// arguments, as the C helpers do for step compression (msgblock.c
    /// <c>message_alloc_and_encode</c>); returns the length. Throws "Encode error" past
    /// MESSAGE_PAYLOAD_MAX bytes.
    /// </summary>
    [SkipLocalsInit] // every byte of tmp that is read was written (step messages are hot)
    public static int EncodeWords(Span<byte> dest, ReadOnlySpan<uint> words)
    {
        Span<byte> tmp = stackalloc byte[MessageBlock.MESSAGE_PAYLOAD_MAX + Vlq.MaxLength];
        ref byte start = ref MemoryMarshal.GetReference(tmp);
        int n = 0;
        foreach (uint w in words)
        {
            n += Vlq.EncodeInt32(ref Unsafe.Add(ref start, n), (int)w);
            if (n > MessageBlock.MESSAGE_PAYLOAD_MAX)
                throw new ProtocolError("Encode error");
        }
        tmp[..n].CopyTo(dest);
        return n;
    }

    /// <summary>Encodes integer arguments into a new array.</summary>
    public byte[] Encode(ReadOnlySpan<long> args)
    {
        Span<byte> buf = stackalloc byte[MaxEncodedLength];
        return buf[..Encode(buf, args)].ToArray();
    }

    /// <summary>
    /// Encodes arguments in parameter order (upstream <c>encode</c>): integers, enumeration
    /// names (or numbers), and byte strings (<c>byte[]</c>, <c>ReadOnlyMemory&lt;byte&gt;</c>,
    /// a list of byte values).
    /// </summary>
    public byte[] Encode(IReadOnlyList<object?> args)
    {
        if (args.Count < _params.Length)
            throw new ProtocolError($"Unable to encode: {Name}");
        var buf = new List<byte>(MaxEncodedLength);
        buf.AddRange(MsgIdBytes);
        for (int i = 0; i < _params.Length; i++)
            EncodeValue(buf, _params[i], args[i]);
        return buf.ToArray();
    }

    /// <summary>Encodes arguments given by parameter name (upstream <c>encode_by_name</c>).</summary>
    public byte[] EncodeByName(IReadOnlyDictionary<string, object?> args)
    {
        var buf = new List<byte>(MaxEncodedLength);
        buf.AddRange(MsgIdBytes);
        foreach (var p in _params)
        {
            if (!args.TryGetValue(p.Name, out var v))
                throw new ProtocolError($"Unable to encode: {Name}");
            EncodeValue(buf, p, v);
        }
        return buf.ToArray();
    }

    private void EncodeValue(List<byte> buf, MessageParam p, object? v)
    {
        Span<byte> tmp = stackalloc byte[Vlq.MaxLength];
        if (p.Enumeration != null && v is string s)
        {
            if (!p.Enumeration.TryGetValue(s, out long ev))
                throw new EnumerationError(p.EnumerationName!, s);
            buf.AddRange(tmp[..Vlq.Encode(tmp, ev)]);
            return;
        }
        if (ParamTypes.IsString(p.Type))
        {
            byte[]? data = v switch
            {
                byte[] b => b,
                ReadOnlyMemory<byte> m => m.ToArray(),
                Memory<byte> m => m.ToArray(),
                ArraySegment<byte> a => a.ToArray(),
                IEnumerable<byte> e => e.ToArray(),
                IEnumerable<int> e when e.All(x => x is >= 0 and <= 255) => e.Select(x => (byte)x).ToArray(),
                _ => null,
            };
            if (data == null || data.Length > 255)
                throw new ProtocolError($"Unable to encode: {Name}");
            buf.Add((byte)data.Length);
            buf.AddRange(data);
            return;
        }
        long? iv = v switch
        {
            long l => l,
            int i => i,
            uint u => u,
            short sh => sh,
            ushort us => us,
            byte b => b,
            sbyte sb => sb,
            bool bo => bo ? 1 : 0,
            ulong ul => ReduceForVlq(ul),
            BigInteger bi => ReduceForVlq(bi),
            _ => null,
        };
        if (iv == null)
        {
            if (p.Enumeration != null)
                throw new EnumerationError(p.EnumerationName!, Convert.ToString(v, CultureInfo.InvariantCulture) ?? "None");
            throw new ProtocolError($"Unable to encode: {Name}");
        }
        buf.AddRange(tmp[..Vlq.Encode(tmp, iv.Value)]);
    }

    // Values beyond 64 bits: keep the low 35 bits the encoder emits and a magnitude
    // that still selects the five-byte form, as Python's arbitrary-size ints do.
    internal static long ReduceForVlq(BigInteger v)
    {
        if (v >= long.MinValue && v <= long.MaxValue)
            return (long)v;
        BigInteger m = BigInteger.Remainder(v, BigInteger.One << 35);
        if (m.Sign < 0)
            m += BigInteger.One << 35;
        return v.Sign > 0 ? (long)m + (1L << 35) : (long)m - (1L << 36);
    }

    internal override bool TryFormat(ReadOnlySpan<byte> block, ref int pos, StringBuilder sb)
    {
        int p = pos + MsgIdBytes.Length;
        var values = new List<string>(_params.Length);
        foreach (var prm in _params)
        {
            if (ParamTypes.IsString(prm.Type))
            {
                if (!TryReadString(block, ref p, out var str))
                    return false;
                values.Add(PyText.BytesRepr(str));
                continue;
            }
            if (!Vlq.TryDecode(block, ref p, ParamTypes.IsSigned(prm.Type), out long v))
                return false;
            values.Add(prm.Enumeration != null ? prm.EnumName(v) : v.ToString(CultureInfo.InvariantCulture));
        }
        AppendTemplate(sb, _pieces, values);
        pos = p;
        return true;
    }

    /// <summary>
    /// Decodes the message at <paramref name="pos"/> into its parameters (integers as
    /// long, enumerations as their names, strings as byte[]) and advances past it.
    /// </summary>
    public Dictionary<string, object> Parse(ReadOnlySpan<byte> data, ref int pos)
    {
        int p = pos + MsgIdBytes.Length;
        var result = new Dictionary<string, object>(_params.Length + 1);
        foreach (var prm in _params)
        {
            if (ParamTypes.IsString(prm.Type))
            {
                if (!TryReadString(data, ref p, out var str))
                    throw new ProtocolError($"Truncated message {Name}");
                result[prm.Name] = str.ToArray();
                continue;
            }
            if (!Vlq.TryDecode(data, ref p, ParamTypes.IsSigned(prm.Type), out long v))
                throw new ProtocolError($"Truncated message {Name}");
            result[prm.Name] = prm.Enumeration != null ? prm.EnumName(v) : v;
        }
        pos = p;
        return result;
    }

    /// <summary>Formats parsed parameters as the decoder prints them (upstream <c>format_params</c>).</summary>
    public string FormatParams(IReadOnlyDictionary<string, object> parameters)
    {
        var values = new List<string>(_params.Length);
        foreach (var prm in _params)
        {
            parameters.TryGetValue(prm.Name, out var v);
            values.Add(v switch
            {
                byte[] b => PyText.BytesRepr(b),
                null => "None",
                _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
            });
        }
        var sb = new StringBuilder();
        AppendTemplate(sb, _pieces, values);
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => MsgFormat;
}

/// <summary>A debug <c>output()</c> message of the MCU, printed as <c>#output TEXT</c>.</summary>
public sealed class OutputFormat : MessageDefinition
{
    private readonly ParamType[] _types;

    internal OutputFormat(int id, string msgFormat) : base(id, msgFormat, "output")
    {
        _types = LookupOutputParams(msgFormat);
    }

    /// <inheritdoc/>
    public override string Name => "#output";

    /// <summary>Types of the values, in order.</summary>
    public IReadOnlyList<ParamType> ParamTypeList => _types;

    // Finds the specifiers of an output() format the way upstream scans it.
    private static ParamType[] LookupOutputParams(string msgFormat)
    {
        var types = new List<ParamType>();
        string args = msgFormat;
        while (true)
        {
            int pos = args.IndexOf('%');
            if (pos < 0)
                break;
            if (pos + 1 >= args.Length || args[pos + 1] != '%')
            {
                bool found = false;
                for (int len = 1; len <= 4 && pos + len <= args.Length; len++)
                {
                    if (ParamTypes.TryParse(args.AsSpan(pos, len), out var t))
                    {
                        types.Add(t);
                        found = true;
                        break;
                    }
                }
                if (!found)
                    throw new ProtocolError($"Invalid output format for '{msgFormat}'");
            }
            args = args[(pos + 1)..];
        }
        return types.ToArray();
    }

    internal override bool TryFormat(ReadOnlySpan<byte> block, ref int pos, StringBuilder sb)
    {
        int p = pos + MsgIdBytes.Length;
        var values = new List<string>(_types.Length);
        foreach (var t in _types)
        {
            if (ParamTypes.IsString(t))
            {
                if (!TryReadString(block, ref p, out var str))
                    return false;
                values.Add(PyText.BytesRepr(str));
                continue;
            }
            if (!Vlq.TryDecode(block, ref p, ParamTypes.IsSigned(t), out long v))
                return false;
            values.Add(v.ToString(CultureInfo.InvariantCulture));
        }
        sb.Append("#output ");
        AppendTemplate(sb, _pieces, values);
        pos = p;
        return true;
    }

    /// <summary>Decodes the message at <paramref name="pos"/> to its text and advances past it.</summary>
    public string ParseText(ReadOnlySpan<byte> data, ref int pos)
    {
        var sb = new StringBuilder();
        if (!TryFormat(data, ref pos, sb))
            throw new ProtocolError("Truncated output message");
        return sb.ToString(8, sb.Length - 8);
    }
}
