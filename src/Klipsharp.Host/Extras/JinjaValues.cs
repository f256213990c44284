using System.Collections;
using System.Globalization;
using System.Text;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>An error raised while parsing or evaluating a template, named like the Python exception upstream would raise.</summary>
public sealed class JinjaError : Exception
{
    public JinjaError(string pyType, string message, int lineno = 0) : base(message)
    {
        PyType = pyType;
        Lineno = lineno;
    }

    /// <summary>Qualified Python exception name (e.g. "jinja2.exceptions.UndefinedError", "ZeroDivisionError").</summary>
    public string PyType { get; }

    public int Lineno { get; set; }

    /// <summary>Text like Python's traceback.format_exception_only(...)[-1].</summary>
    public string FormatExceptionOnly() => $"{PyType}: {Message}\n";

    public static JinjaError Type(string msg) => new("TypeError", msg);
    public static JinjaError Value(string msg) => new("ValueError", msg);
    public static JinjaError Undefined(string msg) => new("jinja2.exceptions.UndefinedError", msg);
    public static JinjaError Syntax(string msg, int lineno) => new("jinja2.exceptions.TemplateSyntaxError", msg, lineno);
}

/// <summary>Jinja2's Undefined: prints empty, is false, fails on use.</summary>
public sealed class JinjaUndefined
{
    public JinjaUndefined(string hint) => Hint = hint;

    /// <summary>The UndefinedError message raised on use.</summary>
    public string Hint { get; }

    public JinjaError Fail() => JinjaError.Undefined(Hint);
}

/// <summary>A callable value in a template context (positional and keyword arguments).</summary>
public delegate object? JinjaFunc(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>A read-only mapping the template engine can index, test and iterate (e.g. the "printer" object).</summary>
public interface IJinjaMapping
{
    bool TryGetItem(object? key, out object? value);
    IEnumerable<object?> Keys();
    string TypeName { get; }
}

/// <summary>A Python tuple.</summary>
public sealed class PyTuple : IReadOnlyList<object?>
{
    public PyTuple(IEnumerable<object?> items) => Items = items.ToArray();

    public object?[] Items { get; }

    public object? this[int index] => Items[index];

    public int Count => Items.Length;

    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => Items.GetEnumerator();
}

/// <summary>Jinja's namespace() object: attributes that can be assigned from inner scopes.</summary>
public sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attrs { get; } = new();
}

/// <summary>Hashing and equality of dict keys with Python semantics (1 == 1.0 == True).</summary>
public sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => JinjaValue.PyEquals(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        int i => ((long)i).GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        string s => s.GetHashCode(StringComparison.Ordinal),
        PyTuple t => t.Items.Aggregate(17, (h, v) => h * 31 + (v is null ? 0 : GetHashCode(v))),
        _ => obj.GetHashCode(),
    };
}

/// <summary>Python value semantics for template evaluation: truth, str/repr, arithmetic, comparison, attribute and item access.</summary>
public static class JinjaValue
{
    public static bool IsNumber(object? v) => v is long or int or double or bool;

    public static bool IsInt(object? v) => v is long or int or bool;

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        int i => i,
        bool b => b ? 1 : 0,
        _ => throw JinjaError.Type($"'{TypeName(v)}' object cannot be interpreted as an integer"),
    };

    public static double ToDouble(object? v) => v switch
    {
        double d => d,
        long l => l,
        int i => i,
        float f => f,
        bool b => b ? 1.0 : 0.0,
        _ => throw JinjaError.Type($"must be real number, not {TypeName(v)}"),
    };

    /// <summary>Normalizes host values into the engine's representation (ints to long, floats to double).</summary>
    public static object? Normalize(object? v) => v switch
    {
        int i => (long)i,
        float f => (double)f,
        uint u => (long)u,
        short s => (long)s,
        byte b => (long)b,
        _ => v,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long or int => "int",
        double or float => "float",
        string => "str",
        PyTuple => "tuple",
        Coord => "Coord",
        IJinjaMapping m => m.TypeName,
        IDictionary => "dict",
        IList => "list",
        JinjaUndefined => "Undefined",
        JinjaFunc => "function",
        JinjaNamespace => "Namespace",
        _ => v.GetType().Name,
    };

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        int i => i != 0,
        double d => d != 0.0,
        string s => s.Length != 0,
        JinjaUndefined => false,
        ICollection c => c.Count != 0,
        PyTuple t => t.Count != 0,
        Coord c => c.Count != 0,
        _ => true,
    };

    public static string Str(object? v) => v switch
    {
        null => "None",
        string s => s,
        JinjaUndefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        switch (v)
        {
            case null: return "None";
            case bool b: return b ? "True" : "False";
            case long or int: return Convert.ToInt64(v, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
            case double d: return PyFormat.Repr(d);
            case float f: return PyFormat.Repr(f);
            case string s: return PyFormat.Repr(s);
            case JinjaUndefined: return "";
            case PyTuple t:
                return t.Count == 1 ? "(" + Repr(t[0]) + ",)" : "(" + string.Join(", ", t.Items.Select(Repr)) + ")";
            case Coord c:
                return $"Coord(x={Repr(c.X)}, y={Repr(c.Y)}, z={Repr(c.Z)}, e={Repr(c.E)})";
            case IDictionary d:
            {
                var sb = new StringBuilder("{");
                bool first = true;
                foreach (DictionaryEntry kv in d)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    sb.Append(Repr(kv.Key)).Append(": ").Append(Repr(kv.Value));
                }
                return sb.Append('}').ToString();
            }
            case IJinjaMapping m: return $"<{m.TypeName} object>";
            case string[] sa: return "[" + string.Join(", ", sa.Select(Repr)) + "]";
            case IEnumerable e and not string:
            {
                var items = new List<string>();
                foreach (var x in e)
                    items.Add(Repr(x));
                return "[" + string.Join(", ", items) + "]";
            }
            case JinjaFunc: return "<function>";
            default: return v.ToString() ?? "";
        }
    }

    public static bool PyEquals(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined)
            return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null)
            return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInt(a) && IsInt(b))
                return ToLong(a) == ToLong(b);
            return ToDouble(a) == ToDouble(b);
        }
        if (a is string sa && b is string sb)
            return sa == sb;
        if (a is PyTuple ta && b is PyTuple tb)
            return ta.Count == tb.Count && ta.Items.Zip(tb.Items).All(p => PyEquals(p.First, p.Second));
        if (a is IList la && b is IList lb && a is not PyTuple && b is not PyTuple)
        {
            if (la.Count != lb.Count) return false;
            for (int i = 0; i < la.Count; i++)
                if (!PyEquals(la[i], lb[i])) return false;
            return true;
        }
        if (a is IDictionary da && b is IDictionary db)
        {
            if (da.Count != db.Count) return false;
            foreach (DictionaryEntry kv in da)
            {
                if (!TryDictGet(db, kv.Key, out var ov) || !PyEquals(kv.Value, ov))
                    return false;
            }
            return true;
        }
        return ReferenceEquals(a, b) || a.Equals(b);
    }

    public static int Compare(object? a, object? b, string op)
    {
        if (a is JinjaUndefined u1) throw u1.Fail();
        if (b is JinjaUndefined u2) throw u2.Fail();
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInt(a) && IsInt(b))
                return ToLong(a).CompareTo(ToLong(b));
            double x = ToDouble(a), y = ToDouble(b);
            return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
        }
        if (a is string sa && b is string sb)
            return string.CompareOrdinal(sa, sb) switch { < 0 => -1, > 0 => 1, _ => 0 };
        if (a is IList la && b is IList lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!PyEquals(la[i], lb[i]))
                    return Compare(la[i], lb[i], op);
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw JinjaError.Type($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    private static object? NumResult(double d) => d;

    public static object? Add(object? a, object? b)
    {
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return IsInt(a) && IsInt(b) ? ToLong(a) + ToLong(b) : NumResult(ToDouble(a) + ToDouble(b));
        if (a is string sa && b is string sb)
            return sa + sb;
        if (a is PyTuple ta && b is PyTuple tb)
            return new PyTuple(ta.Items.Concat(tb.Items));
        if (a is IList la && b is IList lb && a is not PyTuple && b is not PyTuple)
        {
            var res = new List<object?>();
            foreach (var x in la) res.Add(x);
            foreach (var x in lb) res.Add(x);
            return res;
        }
        throw BinOpError("+", a, b);
    }

    public static object? Sub(object? a, object? b)
    {
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return IsInt(a) && IsInt(b) ? ToLong(a) - ToLong(b) : NumResult(ToDouble(a) - ToDouble(b));
        throw BinOpError("-", a, b);
    }

    public static object? Mul(object? a, object? b)
    {
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return IsInt(a) && IsInt(b) ? ToLong(a) * ToLong(b) : NumResult(ToDouble(a) * ToDouble(b));
        if (a is string s && IsInt(b))
            return Repeat(s, ToLong(b));
        if (b is string s2 && IsInt(a))
            return Repeat(s2, ToLong(a));
        if (a is IList l && IsInt(b))
        {
            var res = new List<object?>();
            for (long i = 0; i < ToLong(b); i++)
                foreach (var x in l) res.Add(x);
            return res;
        }
        throw BinOpError("*", a, b);
    }

    private static string Repeat(string s, long n) => n <= 0 ? "" : string.Concat(Enumerable.Repeat(s, (int)n));

    public static object? TrueDiv(object? a, object? b)
    {
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            double y = ToDouble(b);
            if (y == 0.0)
                throw new JinjaError("ZeroDivisionError", IsInt(a) && IsInt(b) ? "division by zero" : "float division by zero");
            if (IsInt(a) && IsInt(b))
                return IntTrueDiv(ToLong(a), ToLong(b));
            return ToDouble(a) / y;
        }
        throw BinOpError("/", a, b);
    }

    // Python int/int is correctly rounded; the plain double division is for operands < 2**53
    private static double IntTrueDiv(long a, long b) => (double)a / b;

    public static object? FloorDiv(object? a, object? b)
    {
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInt(a) && IsInt(b))
            {
                long x = ToLong(a), y = ToLong(b);
                if (y == 0)
                    throw new JinjaError("ZeroDivisionError", "integer division or modulo by zero");
                long q = x / y;
                if ((x % y != 0) && ((x < 0) != (y < 0)))
                    q--;
                return q;
            }
            double vx = ToDouble(a), wx = ToDouble(b);
            if (wx == 0.0)
                throw new JinjaError("ZeroDivisionError", "float floor division by zero");
            return PyFloatDivmod(vx, wx).Div;
        }
        throw BinOpError("//", a, b);
    }

    /// <summary>CPython's float divmod.</summary>
    public static (double Div, double Mod) PyFloatDivmod(double vx, double wx)
    {
        double mod = vx % wx; // C fmod
        double div = (vx - mod) / wx;
        if (mod != 0.0)
        {
            if ((wx < 0) != (mod < 0))
            {
                mod += wx;
                div -= 1.0;
            }
        }
        else
        {
            mod = Math.CopySign(0.0, wx);
        }
        double floordiv;
        if (div != 0.0)
        {
            floordiv = Math.Floor(div);
            if (div - floordiv > 0.5)
                floordiv += 1.0;
        }
        else
        {
            floordiv = Math.CopySign(0.0, vx / wx);
        }
        return (floordiv, mod);
    }

    public static object? Mod(object? a, object? b)
    {
        if (a is string fmt)
            return PyPercentFormat.Format(fmt, b);
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInt(a) && IsInt(b))
            {
                long x = ToLong(a), y = ToLong(b);
                if (y == 0)
                    throw new JinjaError("ZeroDivisionError", "integer division or modulo by zero");
                long m = x % y;
                if (m != 0 && ((m < 0) != (y < 0)))
                    m += y;
                return m;
            }
            double wx = ToDouble(b);
            if (wx == 0.0)
                throw new JinjaError("ZeroDivisionError", "float modulo");
            return PyFloatDivmod(ToDouble(a), wx).Mod;
        }
        throw BinOpError("%", a, b);
    }

    public static object? Pow(object? a, object? b)
    {
        CheckUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInt(a) && IsInt(b) && ToLong(b) >= 0)
            {
                long r = 1, x = ToLong(a);
                for (long i = 0; i < ToLong(b); i++) r *= x;
                return r;
            }
            return Math.Pow(ToDouble(a), ToDouble(b));
        }
        throw BinOpError("**", a, b);
    }

    public static object? Neg(object? a)
    {
        if (a is JinjaUndefined u) throw u.Fail();
        if (IsInt(a)) return -ToLong(a);
        if (a is double d) return -d;
        throw JinjaError.Type($"bad operand type for unary -: '{TypeName(a)}'");
    }

    private static void CheckUndefined(object? a, object? b)
    {
        if (a is JinjaUndefined u1) throw u1.Fail();
        if (b is JinjaUndefined u2) throw u2.Fail();
    }

    private static JinjaError BinOpError(string op, object? a, object? b) =>
        JinjaError.Type($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    public static bool TryDictGet(IDictionary d, object? key, out object? value)
    {
        value = null;
        if (key is null) return false;
        if (d is Dictionary<string, object?> sd)
        {
            if (key is string s && sd.TryGetValue(s, out value)) return true;
            return false;
        }
        if (d.Contains(key))
        {
            value = d[key];
            return true;
        }
        foreach (DictionaryEntry kv in d)
        {
            if (PyEquals(kv.Key, key))
            {
                value = kv.Value;
                return true;
            }
        }
        return false;
    }

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case JinjaUndefined u: throw u.Fail();
            case string s:
                if (item is string sub) return s.Contains(sub, StringComparison.Ordinal);
                throw JinjaError.Type($"'in <string>' requires string as left operand, not {TypeName(item)}");
            case IJinjaMapping m: return m.TryGetItem(item, out _);
            case IDictionary d: return TryDictGet(d, item, out _);
            case IEnumerable e:
                foreach (var x in e)
                    if (PyEquals(x, item)) return true;
                return false;
        }
        throw JinjaError.Type($"argument of type '{TypeName(container)}' is not iterable");
    }

    public static IEnumerable<object?> Iterate(object? v)
    {
        switch (v)
        {
            case JinjaUndefined: return [];
            case string s: return s.Select(c => (object?)c.ToString());
            case IJinjaMapping m: return m.Keys();
            case IDictionary d: return d.Keys.Cast<object?>().ToList();
            case IEnumerable e: return e.Cast<object?>().Select(Normalize).ToList();
        }
        throw JinjaError.Type($"'{TypeName(v)}' object is not iterable");
    }

    public static long Length(object? v) => v switch
    {
        string s => s.Length,
        ICollection c => c.Count,
        PyTuple t => t.Count,
        Coord c => c.Count,
        IJinjaMapping m => m.Keys().Count(),
        JinjaUndefined => 0,
        _ => throw JinjaError.Type($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary>Jinja's environment.getitem: obj[key], falling back to an attribute.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        if (obj is JinjaUndefined u) throw u.Fail();
        if (TryGetItem(obj, key, out var v))
            return Normalize(v);
        if (key is string s && TryGetAttr(obj, s, out v))
            return v;
        return new JinjaUndefined($"'{TypeName(obj)} object' has no element {Repr(key)}");
    }

    /// <summary>Jinja's environment.getattr: attribute, falling back to obj[name].</summary>
    public static object? GetAttr(object? obj, string name)
    {
        if (obj is JinjaUndefined u) throw u.Fail();
        if (TryGetAttr(obj, name, out var v))
            return v;
        if (TryGetItem(obj, name, out v))
            return Normalize(v);
        return new JinjaUndefined($"'{TypeName(obj)} object' has no attribute '{name}'");
    }

    private static bool TryGetItem(object? obj, object? key, out object? value)
    {
        value = null;
        switch (obj)
        {
            case IJinjaMapping m:
                return m.TryGetItem(key, out value);
            case IDictionary d:
                return TryDictGet(d, key, out value);
            case string s when IsInt(key):
            {
                long i = ToLong(key);
                if (i < 0) i += s.Length;
                if (i < 0 || i >= s.Length) return false;
                value = s[(int)i].ToString();
                return true;
            }
            case Coord c when IsInt(key):
            {
                long i = ToLong(key);
                if (i < 0) i += c.Count;
                if (i < 0 || i >= c.Count) return false;
                value = c[(int)i];
                return true;
            }
            case PyTuple t when IsInt(key):
            {
                long i = ToLong(key);
                if (i < 0) i += t.Count;
                if (i < 0 || i >= t.Count) return false;
                value = t[(int)i];
                return true;
            }
            case IList l when IsInt(key):
            {
                long i = ToLong(key);
                if (i < 0) i += l.Count;
                if (i < 0 || i >= l.Count) return false;
                value = l[(int)i];
                return true;
            }
            case JinjaNamespace ns when key is string k:
                return ns.Attrs.TryGetValue(k, out value);
        }
        return false;
    }

    private static JinjaFunc Method(Func<List<object?>, Dictionary<string, object?>, object?> f) => (a, k) => f(a, k);

    private static bool TryGetAttr(object? obj, string name, out object? value)
    {
        value = null;
        switch (obj)
        {
            case Coord c:
                switch (name)
                {
                    case "x": value = c.X; return true;
                    case "y": value = c.Y; return true;
                    case "z": value = c.Z; return true;
                    case "e": value = c.E; return true;
                }
                return false;
            case JinjaNamespace ns:
                return ns.Attrs.TryGetValue(name, out value);
            case string s:
                value = StringMethod(s, name);
                return value is not null;
            case IDictionary d:
                value = DictMethod(d, name);
                return value is not null;
            case IList l when obj is not PyTuple:
                value = ListMethod(l, name);
                return value is not null;
        }
        return false;
    }

    private static string ArgStr(List<object?> a, int i, string method)
    {
        if (i >= a.Count || a[i] is not string s)
            throw JinjaError.Type($"{method}() argument must be str");
        return s;
    }

    private static JinjaFunc? StringMethod(string s, string name) => name switch
    {
        "strip" => Method((a, _) => a.Count > 0 && a[0] is string cs ? s.Trim(cs.ToCharArray()) : PyFormat.Strip(s)),
        "lstrip" => Method((a, _) => a.Count > 0 && a[0] is string cs ? s.TrimStart(cs.ToCharArray()) : s.TrimStart()),
        "rstrip" => Method((a, _) => a.Count > 0 && a[0] is string cs ? s.TrimEnd(cs.ToCharArray()) : PyFormat.RStrip(s)),
        "lower" => Method((_, _) => s.ToLowerInvariant()),
        "upper" => Method((_, _) => s.ToUpperInvariant()),
        "capitalize" => Method((_, _) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant()),
        "startswith" => Method((a, _) => s.StartsWith(ArgStr(a, 0, "startswith"), StringComparison.Ordinal)),
        "endswith" => Method((a, _) => s.EndsWith(ArgStr(a, 0, "endswith"), StringComparison.Ordinal)),
        "replace" => Method((a, _) => s.Replace(ArgStr(a, 0, "replace"), ArgStr(a, 1, "replace"), StringComparison.Ordinal)),
        "find" => Method((a, _) => (long)s.IndexOf(ArgStr(a, 0, "find"), StringComparison.Ordinal)),
        "count" => Method((a, _) => (long)CountOccurrences(s, ArgStr(a, 0, "count"))),
        "isdigit" => Method((_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "split" => Method((a, _) =>
        {
            if (a.Count == 0 || a[0] is null)
                return s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Cast<object?>().ToList();
            string sep = ArgStr(a, 0, "split");
            if (a.Count > 1)
            {
                int max = (int)ToLong(a[1]);
                return s.Split(sep, max < 0 ? int.MaxValue : max + 1).Cast<object?>().ToList();
            }
            return s.Split(sep).Cast<object?>().ToList();
        }),
        "join" => Method((a, _) => string.Join(s, Iterate(a.Count > 0 ? a[0] : null).Select(x => x is string xs ? xs
            : throw JinjaError.Type($"sequence item: expected str instance, {TypeName(x)} found")))),
        "format" => Method((a, k) => PyStrFormat.Format(s, a, k)),
        _ => null,
    };

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0, pos = 0;
        while ((pos = s.IndexOf(sub, pos, StringComparison.Ordinal)) >= 0)
        {
            n++;
            pos += sub.Length;
        }
        return n;
    }

    private static JinjaFunc? DictMethod(IDictionary d, string name) => name switch
    {
        "get" => Method((a, _) => TryDictGet(d, a.Count > 0 ? a[0] : null, out var v) ? Normalize(v) : (a.Count > 1 ? a[1] : null)),
        "keys" => Method((_, _) => d.Keys.Cast<object?>().ToList()),
        "values" => Method((_, _) => d.Values.Cast<object?>().Select(Normalize).ToList()),
        "items" => Method((_, _) => d.Cast<DictionaryEntry>().Select(kv => (object?)new PyTuple([kv.Key, Normalize(kv.Value)])).ToList()),
        "update" => Method((a, k) =>
        {
            if (a.Count > 0 && a[0] is IDictionary other)
                foreach (DictionaryEntry kv in other) d[kv.Key] = kv.Value;
            foreach (var (key, v) in k) d[key] = v;
            return null;
        }),
        _ => null,
    };

    private static JinjaFunc? ListMethod(IList l, string name) => name switch
    {
        "append" => Method((a, _) => { l.Add(a.Count > 0 ? a[0] : null); return null; }),
        "index" => Method((a, _) =>
        {
            for (int i = 0; i < l.Count; i++)
                if (PyEquals(l[i], a.Count > 0 ? a[0] : null)) return (long)i;
            throw JinjaError.Value($"{Repr(a.Count > 0 ? a[0] : null)} is not in list");
        }),
        "count" => Method((a, _) => (long)l.Cast<object?>().Count(x => PyEquals(x, a.Count > 0 ? a[0] : null))),
        "pop" => Method((a, _) =>
        {
            int i = a.Count > 0 ? (int)ToLong(a[0]) : l.Count - 1;
            if (i < 0) i += l.Count;
            if (i < 0 || i >= l.Count) throw new JinjaError("IndexError", "pop index out of range");
            var v = l[i];
            l.RemoveAt(i);
            return v;
        }),
        "insert" => Method((a, _) => { l.Insert(Math.Clamp((int)ToLong(a[0]), 0, l.Count), a[1]); return null; }),
        "extend" => Method((a, _) => { foreach (var x in Iterate(a[0])) l.Add(x); return null; }),
        _ => null,
    };

    /// <summary>Deep copies a status value (upstream deep-copies get_status() results before templates see them).</summary>
    public static object? DeepCopy(object? v) => v switch
    {
        null or string or bool or long or double => v,
        int i => (long)i,
        float f => (double)f,
        Coord => v,
        PyTuple t => new PyTuple(t.Items.Select(DeepCopy)),
        IDictionary d => CopyDict(d),
        string[] sa => sa.Cast<object?>().ToList(),
        IEnumerable e => e.Cast<object?>().Select(DeepCopy).ToList(),
        _ => v,
    };

    private static Dictionary<object, object?> CopyDict(IDictionary d)
    {
        var res = new Dictionary<object, object?>(PyKeyComparer.Instance);
        foreach (DictionaryEntry kv in d)
            res[kv.Key] = DeepCopy(kv.Value);
        return res;
    }
}
