namespace Klipsharp.Protocol;

/// <summary>Wire type of a message parameter (the printf-like specifier in a message format).</summary>
public enum ParamType
{
    /// <summary><c>%u</c>: 32-bit unsigned.</summary>
    UInt32,
    /// <summary><c>%i</c>: 32-bit signed.</summary>
    Int32,
    /// <summary><c>%hu</c>: 16-bit unsigned.</summary>
    UInt16,
    /// <summary><c>%hi</c>: 16-bit signed.</summary>
    Int16,
    /// <summary><c>%c</c>: 8-bit unsigned.</summary>
    Byte,
    /// <summary><c>%s</c>: string.</summary>
    String,
    /// <summary><c>%.*s</c>: buffer from the MCU's flash.</summary>
    ProgmemBuffer,
    /// <summary><c>%*s</c>: byte buffer.</summary>
    Buffer,
}

/// <summary>Helpers for <see cref="ParamType"/>.</summary>
public static class ParamTypes
{
    /// <summary>The specifier text of a type, e.g. <c>%hu</c>.</summary>
    public static string Specifier(ParamType t) => t switch
    {
        ParamType.UInt32 => "%u",
        ParamType.Int32 => "%i",
        ParamType.UInt16 => "%hu",
        ParamType.Int16 => "%hi",
        ParamType.Byte => "%c",
        ParamType.String => "%s",
        ParamType.ProgmemBuffer => "%.*s",
        _ => "%*s",
    };

    /// <summary>Looks up a specifier (<c>%u %i %hu %hi %c %s %.*s %*s</c>).</summary>
    public static bool TryParse(ReadOnlySpan<char> spec, out ParamType type)
    {
        switch (spec)
        {
            case "%u": type = ParamType.UInt32; return true;
            case "%i": type = ParamType.Int32; return true;
            case "%hu": type = ParamType.UInt16; return true;
            case "%hi": type = ParamType.Int16; return true;
            case "%c": type = ParamType.Byte; return true;
            case "%s": type = ParamType.String; return true;
            case "%.*s": type = ParamType.ProgmemBuffer; return true;
            case "%*s": type = ParamType.Buffer; return true;
            default: type = default; return false;
        }
    }

    /// <summary>True for the byte-string types.</summary>
    public static bool IsString(ParamType t) => t is ParamType.String or ParamType.ProgmemBuffer or ParamType.Buffer;

    /// <summary>True for the signed integer types (decoded without masking).</summary>
    public static bool IsSigned(ParamType t) => t is ParamType.Int32 or ParamType.Int16;

    /// <summary>Largest encoded size of a value of this type.</summary>
    public static int MaxLength(ParamType t) => t switch
    {
        ParamType.UInt32 or ParamType.Int32 => 5,
        ParamType.UInt16 or ParamType.Int16 => 3,
        ParamType.Byte => 2,
        _ => 64,
    };
}

/// <summary>One named parameter of a command or response, possibly tied to an enumeration.</summary>
public sealed class MessageParam
{
    private readonly Dictionary<long, string>? _reverse;

    internal MessageParam(string name, ParamType type, string? enumName, IReadOnlyDictionary<string, long>? enums)
    {
        Name = name;
        Type = type;
        EnumerationName = enumName;
        Enumeration = enums;
        if (enums != null)
        {
            // Later names win when several map to the same value, as in upstream's reverse map.
            _reverse = new Dictionary<long, string>();
            foreach (var kv in enums)
                _reverse[kv.Value] = kv.Key;
        }
    }

    /// <summary>Parameter name (e.g. <c>oid</c>).</summary>
    public string Name { get; }

    /// <summary>Wire type.</summary>
    public ParamType Type { get; }

    /// <summary>Enumeration whose names this parameter takes (e.g. <c>pin</c>), or null.</summary>
    public string? EnumerationName { get; }

    /// <summary>The enumeration's name-to-value map, or null.</summary>
    public IReadOnlyDictionary<string, long>? Enumeration { get; }

    /// <summary>True for plain integers (not strings, not enumerations).</summary>
    public bool IsInt => Enumeration == null && !ParamTypes.IsString(Type);

    /// <summary>True for byte-string parameters.</summary>
    public bool IsDynamicString => Enumeration == null && ParamTypes.IsString(Type);

    /// <summary>Largest encoded size.</summary>
    public int MaxLength => ParamTypes.MaxLength(Type);

    /// <summary>Name of an enumeration value, or <c>?N</c> when the value has none.</summary>
    public string EnumName(long value) =>
        _reverse != null && _reverse.TryGetValue(value, out var n) ? n : "?" + value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
