using System.Collections;
using System.Globalization;
using System.Text;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>
/// A Jinja2 template with Klipper's delimiters ("{% %}" statements, "{ }" expressions,
/// "{# #}" comments): the subset Klipper macros and display templates use (if/elif/else,
/// for with loop variables, set, namespaces, filters, tests and Python-like expressions).
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<JinjaNode> _body;

    private JinjaTemplate(List<JinjaNode> body) => _body = body;

    /// <summary>Compiles a template; throws a <see cref="JinjaError"/> of type TemplateSyntaxError on bad syntax.</summary>
    public static JinjaTemplate Parse(string source) => new(JinjaParser.ParseTemplate(source));

    public string Render(IReadOnlyDictionary<string, object?> context)
    {
        var scope = new JinjaScope(null);
        foreach (var (k, v) in JinjaGlobals.Globals)
            scope.Vars[k] = v;
        foreach (var (k, v) in context)
            scope.Vars[k] = v;
        var sb = new StringBuilder();
        foreach (var n in _body)
            n.Render(scope, sb);
        return sb.ToString();
    }
}

internal sealed class JinjaScope
{
    public JinjaScope(JinjaScope? parent) => Parent = parent;

    public JinjaScope? Parent { get; }

    public Dictionary<string, object?> Vars { get; } = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s.Vars.TryGetValue(name, out value))
                return true;
        value = null;
        return false;
    }
}

internal static class JinjaGlobals
{
    public static readonly Dictionary<string, object?> Globals = new()
    {
        ["range"] = (JinjaFunc)Range,
        ["dict"] = (JinjaFunc)((a, k) =>
        {
            var d = new Dictionary<object, object?>(PyKeyComparer.Instance);
            if (a.Count > 0 && a[0] is IDictionary src)
                foreach (DictionaryEntry kv in src) d[kv.Key] = kv.Value;
            foreach (var (key, v) in k) d[key] = v;
            return d;
        }),
        ["namespace"] = (JinjaFunc)((a, k) =>
        {
            var ns = new JinjaNamespace();
            if (a.Count > 0 && a[0] is IDictionary src)
                foreach (DictionaryEntry kv in src) ns.Attrs[JinjaValue.Str(kv.Key)] = kv.Value;
            foreach (var (key, v) in k) ns.Attrs[key] = v;
            return ns;
        }),
    };

    private static object? Range(List<object?> a, Dictionary<string, object?> k)
    {
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = JinjaValue.ToLong(a[0]);
        else if (a.Count >= 2)
        {
            start = JinjaValue.ToLong(a[0]);
            stop = JinjaValue.ToLong(a[1]);
            if (a.Count > 2) step = JinjaValue.ToLong(a[2]);
        }
        else throw JinjaError.Type("range expected at least 1 argument, got 0");
        if (step == 0) throw JinjaError.Value("range() arg 3 must not be zero");
        var res = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            res.Add(i);
            if (res.Count > 100000) throw new JinjaError("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        }
        return res;
    }
}

// ---------------------------------------------------------------- AST: statements

internal abstract class JinjaNode
{
    public int Lineno;
    public abstract void Render(JinjaScope scope, StringBuilder sb);

    protected static void RenderBody(List<JinjaNode> body, JinjaScope scope, StringBuilder sb)
    {
        foreach (var n in body)
            n.Render(scope, sb);
    }
}

internal sealed class TextNode(string text) : JinjaNode
{
    public override void Render(JinjaScope scope, StringBuilder sb) => sb.Append(text);
}

internal sealed class OutputNode(JinjaExpression expr) : JinjaNode
{
    public override void Render(JinjaScope scope, StringBuilder sb) => sb.Append(JinjaValue.Str(expr.Eval(scope)));
}

internal sealed class IfNode : JinjaNode
{
    public readonly List<(JinjaExpression Cond, List<JinjaNode> Body)> Branches = new();
    public List<JinjaNode>? Else;

    public override void Render(JinjaScope scope, StringBuilder sb)
    {
        foreach (var (cond, body) in Branches)
        {
            if (JinjaValue.Truthy(cond.Eval(scope)))
            {
                RenderBody(body, scope, sb);
                return;
            }
        }
        if (Else is not null)
            RenderBody(Else, scope, sb);
    }
}

internal sealed class ForNode : JinjaNode
{
    public required List<string> Targets;
    public required JinjaExpression Iter;
    public JinjaExpression? Filter;
    public required List<JinjaNode> Body;
    public List<JinjaNode>? Else;

    public override void Render(JinjaScope scope, StringBuilder sb)
    {
        var items = JinjaValue.Iterate(Iter.Eval(scope)).ToList();
        if (Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var it in items)
            {
                var fs = new JinjaScope(scope);
                Assign(fs, it);
                if (JinjaValue.Truthy(Filter.Eval(fs)))
                    kept.Add(it);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (Else is not null)
                RenderBody(Else, scope, sb);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            var inner = new JinjaScope(scope);
            Assign(inner, items[i]);
            var loop = new Dictionary<string, object?>
            {
                ["index"] = (long)(i + 1),
                ["index0"] = (long)i,
                ["revindex"] = (long)(items.Count - i),
                ["revindex0"] = (long)(items.Count - i - 1),
                ["first"] = i == 0,
                ["last"] = i == items.Count - 1,
                ["length"] = (long)items.Count,
                ["previtem"] = i > 0 ? items[i - 1] : new JinjaUndefined("there is no previous item"),
                ["nextitem"] = i + 1 < items.Count ? items[i + 1] : new JinjaUndefined("there is no next item"),
                ["depth"] = 1L,
                ["depth0"] = 0L,
            };
            int idx = i;
            loop["cycle"] = (JinjaFunc)((a, _) => a.Count == 0 ? throw JinjaError.Type("no items for cycling given") : a[idx % a.Count]);
            inner.Vars["loop"] = loop;
            RenderBody(Body, inner, sb);
        }
    }

    private void Assign(JinjaScope scope, object? item)
    {
        if (Targets.Count == 1)
        {
            scope.Vars[Targets[0]] = item;
            return;
        }
        var parts = JinjaValue.Iterate(item).ToList();
        if (parts.Count != Targets.Count)
            throw JinjaError.Value(parts.Count < Targets.Count
                ? $"not enough values to unpack (expected {Targets.Count}, got {parts.Count})"
                : $"too many values to unpack (expected {Targets.Count})");
        for (int i = 0; i < parts.Count; i++)
            scope.Vars[Targets[i]] = parts[i];
    }
}

internal sealed class SetNode : JinjaNode
{
    public required List<string> Targets;
    public string? NamespaceAttr;
    public JinjaExpression? Value;
    public List<JinjaNode>? BlockBody;

    public override void Render(JinjaScope scope, StringBuilder sb)
    {
        object? value;
        if (BlockBody is not null)
        {
            var inner = new StringBuilder();
            RenderBody(BlockBody, scope, inner);
            value = inner.ToString();
        }
        else
            value = Value!.Eval(scope);
        if (NamespaceAttr is not null)
        {
            if (!scope.TryGet(Targets[0], out var ns) || ns is not JinjaNamespace jns)
                throw new JinjaError("jinja2.exceptions.TemplateRuntimeError", "cannot assign attribute on non-namespace object");
            jns.Attrs[NamespaceAttr] = value;
            return;
        }
        if (Targets.Count == 1)
        {
            scope.Vars[Targets[0]] = value;
            return;
        }
        var parts = JinjaValue.Iterate(value).ToList();
        if (parts.Count != Targets.Count)
            throw JinjaError.Value($"not enough values to unpack (expected {Targets.Count}, got {parts.Count})");
        for (int i = 0; i < parts.Count; i++)
            scope.Vars[Targets[i]] = parts[i];
    }
}

internal sealed class MacroNode : JinjaNode
{
    public required string Name;
    public required List<(string Name, JinjaExpression? Default)> Params;
    public required List<JinjaNode> Body;

    public override void Render(JinjaScope scope, StringBuilder sb)
    {
        var defScope = scope;
        scope.Vars[Name] = (JinjaFunc)((a, k) =>
        {
            var inner = new JinjaScope(defScope);
            for (int i = 0; i < Params.Count; i++)
            {
                var (pname, pdef) = Params[i];
                if (i < a.Count) inner.Vars[pname] = a[i];
                else if (k.TryGetValue(pname, out var kv)) inner.Vars[pname] = kv;
                else inner.Vars[pname] = pdef is null ? new JinjaUndefined($"'{pname}' is undefined") : pdef.Eval(defScope);
            }
            var outSb = new StringBuilder();
            RenderBody(Body, inner, outSb);
            return outSb.ToString();
        });
    }
}

// ---------------------------------------------------------------- AST: expressions

/// <summary>A compiled template expression.</summary>
public abstract class JinjaExpression
{
    internal abstract object? Eval(JinjaScope scope);

    /// <summary>Evaluates a constant expression (ast.literal_eval rules); throws <see cref="FormatException"/> otherwise.</summary>
    public virtual object? EvalLiteral() => throw new FormatException("malformed node or string");
}

internal sealed class ConstExpr(object? value) : JinjaExpression
{
    public object? Value => value;
    internal override object? Eval(JinjaScope scope) => value;
    public override object? EvalLiteral() => value;
}

internal sealed class NameExpr(string name) : JinjaExpression
{
    public string Name => name;

    internal override object? Eval(JinjaScope scope) =>
        scope.TryGet(name, out var v) ? v : new JinjaUndefined($"'{name}' is undefined");
}

internal sealed class ListExpr(List<JinjaExpression> items, bool isTuple) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var vals = items.Select(i => i.Eval(scope)).ToList();
        return isTuple ? new PyTuple(vals) : vals;
    }

    public override object? EvalLiteral()
    {
        var vals = items.Select(i => i.EvalLiteral()).ToList();
        return isTuple ? new PyTuple(vals) : vals;
    }
}

internal sealed class DictExpr(List<(JinjaExpression Key, JinjaExpression Value)> items) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var d = new Dictionary<object, object?>(PyKeyComparer.Instance);
        foreach (var (k, v) in items)
            d[k.Eval(scope) ?? throw JinjaError.Type("unhashable key None")] = v.Eval(scope);
        return d;
    }

    public override object? EvalLiteral()
    {
        var d = new Dictionary<object, object?>(PyKeyComparer.Instance);
        foreach (var (k, v) in items)
            d[k.EvalLiteral() ?? throw new FormatException("malformed node or string")] = v.EvalLiteral();
        return d;
    }
}

internal sealed class UnaryExpr(string op, JinjaExpression operand) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var v = operand.Eval(scope);
        return op switch
        {
            "not" => !JinjaValue.Truthy(v),
            "-" => JinjaValue.Neg(v),
            _ => v is JinjaUndefined u ? throw u.Fail() : JinjaValue.IsNumber(v) ? (JinjaValue.IsInt(v) ? JinjaValue.ToLong(v) : v)
                : throw JinjaError.Type($"bad operand type for unary +: '{JinjaValue.TypeName(v)}'"),
        };
    }

    public override object? EvalLiteral()
    {
        if (op is "-" or "+" && operand is ConstExpr c && JinjaValue.IsNumber(c.Value) && c.Value is not bool)
            return op == "-" ? JinjaValue.Neg(c.Value) : c.Value;
        return base.EvalLiteral();
    }
}

internal sealed class BinaryExpr(string op, JinjaExpression left, JinjaExpression right) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        if (op == "and")
        {
            var l = left.Eval(scope);
            return JinjaValue.Truthy(l) ? right.Eval(scope) : l;
        }
        if (op == "or")
        {
            var l = left.Eval(scope);
            return JinjaValue.Truthy(l) ? l : right.Eval(scope);
        }
        var a = left.Eval(scope);
        var b = right.Eval(scope);
        return op switch
        {
            "+" => JinjaValue.Add(a, b),
            "-" => JinjaValue.Sub(a, b),
            "*" => JinjaValue.Mul(a, b),
            "/" => JinjaValue.TrueDiv(a, b),
            "//" => JinjaValue.FloorDiv(a, b),
            "%" => JinjaValue.Mod(a, b),
            "**" => JinjaValue.Pow(a, b),
            "~" => JinjaValue.Str(a) + JinjaValue.Str(b),
            _ => throw new InvalidOperationException(op),
        };
    }

    public override object? EvalLiteral()
    {
        // literal_eval accepts complex numbers only; real +/- on constants is rejected
        throw new FormatException("malformed node or string");
    }
}

internal sealed class CompareExpr(JinjaExpression first, List<(string Op, JinjaExpression Expr)> rest) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var left = first.Eval(scope);
        foreach (var (op, expr) in rest)
        {
            var right = expr.Eval(scope);
            bool ok = op switch
            {
                "==" => JinjaValue.PyEquals(left, right),
                "!=" => !JinjaValue.PyEquals(left, right),
                "<" => JinjaValue.Compare(left, right, op) == -1,
                "<=" => JinjaValue.Compare(left, right, op) is -1 or 0,
                ">" => JinjaValue.Compare(left, right, op) == 1,
                ">=" => JinjaValue.Compare(left, right, op) is 1 or 0,
                "in" => JinjaValue.Contains(right, left),
                "notin" => !JinjaValue.Contains(right, left),
                _ => throw new InvalidOperationException(op),
            };
            if (!ok)
                return false;
            left = right;
        }
        return true;
    }
}

internal sealed class CondExpr(JinjaExpression cond, JinjaExpression then, JinjaExpression? otherwise) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope) =>
        JinjaValue.Truthy(cond.Eval(scope)) ? then.Eval(scope)
        : otherwise is null ? new JinjaUndefined("the inline if-expression evaluated to false and no else section was defined.")
        : otherwise.Eval(scope);
}

internal sealed class GetAttrExpr(JinjaExpression obj, string name) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope) => JinjaValue.GetAttr(obj.Eval(scope), name);
}

internal sealed class GetItemExpr(JinjaExpression obj, JinjaExpression key) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope) => JinjaValue.GetItem(obj.Eval(scope), key.Eval(scope));
}

internal sealed class SliceExpr(JinjaExpression obj, JinjaExpression? start, JinjaExpression? stop, JinjaExpression? step) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var o = obj.Eval(scope);
        if (o is JinjaUndefined u) throw u.Fail();
        long? Get(JinjaExpression? e) => e is null ? null : e.Eval(scope) is var v && v is null ? null : JinjaValue.ToLong(v);
        long? a = Get(start), b = Get(stop), c = Get(step);
        long st = c ?? 1;
        if (st == 0) throw JinjaError.Value("slice step cannot be zero");
        List<object?> items = o is string s ? s.Select(ch => (object?)ch.ToString()).ToList() : JinjaValue.Iterate(o).ToList();
        int n = items.Count;
        long Norm(long? v, long def, bool isStop)
        {
            if (v is null) return def;
            long x = v.Value < 0 ? v.Value + n : v.Value;
            if (st > 0) return Math.Clamp(x, 0, n);
            return Math.Clamp(x, -1, n - 1);
        }
        long i0 = Norm(a, st > 0 ? 0 : n - 1, false);
        long i1 = Norm(b, st > 0 ? n : -1, true);
        var res = new List<object?>();
        for (long i = i0; st > 0 ? i < i1 : i > i1; i += st)
            res.Add(items[(int)i]);
        if (o is string) return string.Concat(res.Cast<string>());
        if (o is PyTuple) return new PyTuple(res);
        return res;
    }
}

internal sealed class CallExpr(JinjaExpression func, List<JinjaExpression> args, List<(string Name, JinjaExpression Value)> kwargs) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var f = func.Eval(scope);
        var a = args.Select(x => x.Eval(scope)).ToList();
        var k = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, v) in kwargs)
            k[name] = v.Eval(scope);
        return f switch
        {
            JinjaFunc jf => JinjaValue.Normalize(jf(a, k)),
            JinjaUndefined u => throw u.Fail(),
            _ => throw JinjaError.Type($"'{JinjaValue.TypeName(f)}' object is not callable"),
        };
    }
}

internal sealed class FilterExpr(JinjaExpression value, string name, List<JinjaExpression> args, List<(string Name, JinjaExpression Value)> kwargs, int lineno) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var v = value.Eval(scope);
        var a = args.Select(x => x.Eval(scope)).ToList();
        var k = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (n, e) in kwargs)
            k[n] = e.Eval(scope);
        return JinjaFilters.Apply(name, v, a, k, lineno);
    }
}

internal sealed class TestExpr(JinjaExpression value, string name, List<JinjaExpression> args, bool negate) : JinjaExpression
{
    internal override object? Eval(JinjaScope scope)
    {
        var v = value.Eval(scope);
        var a = args.Select(x => x.Eval(scope)).ToList();
        bool r = JinjaFilters.Test(name, v, a);
        return negate ? !r : r;
    }
}

internal static class JinjaFilters
{
    public static object? Apply(string name, object? v, List<object?> a, Dictionary<string, object?> k, int lineno)
    {
        object? Arg(int i, string kw, object? def) => i < a.Count ? a[i] : k.TryGetValue(kw, out var x) ? x : def;
        switch (name)
        {
            case "int":
            {
                object? def = Arg(0, "default", 0L);
                return ToInt(v, def);
            }
            case "float":
            {
                object? def = Arg(0, "default", 0.0);
                if (JinjaValue.IsNumber(v)) return JinjaValue.ToDouble(v);
                if (v is string s && PyFormat.TryParseFloat(s, out double d)) return d;
                return def;
            }
            case "abs":
                if (JinjaValue.IsInt(v)) return Math.Abs(JinjaValue.ToLong(v));
                if (v is double dv) return Math.Abs(dv);
                if (v is JinjaUndefined u) throw u.Fail();
                throw JinjaError.Type($"bad operand type for abs(): '{JinjaValue.TypeName(v)}'");
            case "default":
            case "d":
            {
                object? def = Arg(0, "default_value", "");
                bool boolean = JinjaValue.Truthy(Arg(1, "boolean", false));
                if (v is JinjaUndefined || (boolean && !JinjaValue.Truthy(v)))
                    return def;
                return v;
            }
            case "round":
            {
                long precision = JinjaValue.ToLong(Arg(0, "precision", 0L));
                string method = JinjaValue.Str(Arg(1, "method", "common"));
                double x = JinjaValue.ToDouble(v is JinjaUndefined u2 ? throw u2.Fail() : v);
                if (method == "common")
                    return PyFmt.Round(x, (int)precision);
                double mult = Math.Pow(10, precision);
                return method == "ceil" ? Math.Ceiling(x * mult) / mult : Math.Floor(x * mult) / mult;
            }
            case "lower": return JinjaValue.Str(v).ToLowerInvariant();
            case "upper": return JinjaValue.Str(v).ToUpperInvariant();
            case "capitalize": { var s = JinjaValue.Str(v); return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(); }
            case "trim": return PyFormat.Strip(JinjaValue.Str(v));
            case "string": return JinjaValue.Str(v);
            case "length":
            case "count":
                return JinjaValue.Length(v);
            case "list": return JinjaValue.Iterate(v).ToList();
            case "first": return JinjaValue.Iterate(v).FirstOrDefault(new JinjaUndefined("No first item, sequence was empty."));
            case "last": { var l = JinjaValue.Iterate(v).ToList(); return l.Count > 0 ? l[^1] : new JinjaUndefined("No last item, sequence was empty."); }
            case "join":
            {
                string sep = JinjaValue.Str(Arg(0, "d", ""));
                return string.Join(sep, JinjaValue.Iterate(v).Select(JinjaValue.Str));
            }
            case "replace":
            {
                string s = JinjaValue.Str(v);
                string old = JinjaValue.Str(Arg(0, "old", "")), nw = JinjaValue.Str(Arg(1, "new", ""));
                return old.Length == 0 ? s : s.Replace(old, nw, StringComparison.Ordinal);
            }
            case "min":
            case "max":
            {
                var items = JinjaValue.Iterate(v).ToList();
                if (items.Count == 0) return new JinjaUndefined($"No aggregated item, sequence was empty.");
                object? best = items[0];
                foreach (var it in items.Skip(1))
                {
                    int c = JinjaValue.Compare(it, best, "<");
                    if (name == "min" ? c == -1 : c == 1) best = it;
                }
                return best;
            }
            case "sum":
            {
                object? total = Arg(1, "start", 0L);
                foreach (var it in JinjaValue.Iterate(v))
                    total = JinjaValue.Add(total, it);
                return total;
            }
            case "sort":
            {
                bool reverse = JinjaValue.Truthy(Arg(0, "reverse", false));
                var items = JinjaValue.Iterate(v).ToList();
                var sorted = items.Order(Comparer<object?>.Create((x, y) => JinjaValue.Compare(x, y, "<"))).ToList();
                if (reverse) sorted.Reverse();
                return sorted;
            }
            case "reverse":
            {
                if (v is string s) return new string(s.Reverse().ToArray());
                var items = JinjaValue.Iterate(v).ToList();
                items.Reverse();
                return items;
            }
            case "unique":
            {
                var res = new List<object?>();
                foreach (var it in JinjaValue.Iterate(v))
                    if (!res.Any(r => JinjaValue.PyEquals(r, it))) res.Add(it);
                return res;
            }
            case "format": return JinjaValue.Mod(JinjaValue.Str(v), a.Count == 1 ? a[0] : new PyTuple(a));
            case "tojson": return ToJson(v);
            case "center":
            {
                string s = JinjaValue.Str(v);
                int w = (int)JinjaValue.ToLong(Arg(0, "width", 80L));
                if (s.Length >= w) return s;
                int pad = w - s.Length, left = pad / 2 + (pad & w & 1);
                return new string(' ', left) + s + new string(' ', pad - left);
            }
            case "title":
            {
                var sb = new StringBuilder();
                bool prevLetter = false;
                foreach (char c in JinjaValue.Str(v))
                {
                    sb.Append(prevLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
                    prevLetter = char.IsLetter(c);
                }
                return sb.ToString();
            }
        }
        throw JinjaError.Syntax($"No filter named '{name}'.", lineno);
    }

    public static object? ToInt(object? v, object? def)
    {
        if (JinjaValue.IsInt(v)) return JinjaValue.ToLong(v);
        if (v is double d)
        {
            if (double.IsNaN(d) || double.IsInfinity(d)) return def;
            return (long)Math.Truncate(d);
        }
        if (v is string s)
        {
            if (PyFormat.TryParseInt(s, out long l)) return l;
            if (PyFormat.TryParseFloat(s, out double f) && !double.IsNaN(f) && !double.IsInfinity(f))
                return (long)Math.Truncate(f);
        }
        return def;
    }

    private static string ToJson(object? v) => v switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        long or int => JinjaValue.Repr(v),
        double d => double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyFormat.Repr(d),
        string s => JsonString(s),
        IDictionary dict => "{" + string.Join(", ", dict.Cast<DictionaryEntry>().Select(kv => JsonString(JinjaValue.Str(kv.Key)) + ": " + ToJson(kv.Value))) + "}",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(ToJson)) + "]",
        _ => JsonString(JinjaValue.Str(v)),
    };

    private static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '<': sb.Append("\\u003c"); break;
                case '>': sb.Append("\\u003e"); break;
                case '&': sb.Append("\\u0026"); break;
                case '\'': sb.Append("\\u0027"); break;
                default:
                    if (c < ' ' || c > '~') sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    public static bool Test(string name, object? v, List<object?> a) => name switch
    {
        "defined" => v is not JinjaUndefined,
        "undefined" => v is JinjaUndefined,
        "none" => v is null,
        "number" => JinjaValue.IsNumber(v),
        "integer" => v is long or int,
        "float" => v is double,
        "string" => v is string,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "mapping" => v is IDictionary or IJinjaMapping,
        "sequence" or "iterable" => v is string or IEnumerable,
        "callable" => v is JinjaFunc,
        "odd" => JinjaValue.ToLong(v) % 2 != 0,
        "even" => JinjaValue.ToLong(v) % 2 == 0,
        "divisibleby" => JinjaValue.ToLong(v) % JinjaValue.ToLong(a[0]) == 0,
        "eq" or "equalto" or "==" => JinjaValue.PyEquals(v, a[0]),
        "ne" or "!=" => !JinjaValue.PyEquals(v, a[0]),
        "lt" or "lessthan" or "<" => JinjaValue.Compare(v, a[0], "<") == -1,
        "gt" or "greaterthan" or ">" => JinjaValue.Compare(v, a[0], ">") == 1,
        "le" or "<=" => JinjaValue.Compare(v, a[0], "<=") is -1 or 0,
        "ge" or ">=" => JinjaValue.Compare(v, a[0], ">=") is 1 or 0,
        "in" => JinjaValue.Contains(a[0], v),
        "lower" => v is string ls && ls == ls.ToLowerInvariant(),
        "upper" => v is string us && us == us.ToUpperInvariant(),
        "sameas" => ReferenceEquals(v, a[0]) || (v is null && a[0] is null) || (v is bool b1 && a[0] is bool b2 && b1 == b2),
        _ => throw new JinjaError("jinja2.exceptions.TemplateRuntimeError", $"No test named '{name}'."),
    };
}
