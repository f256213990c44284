using System.Collections;
using System.Globalization;
using System.Text;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>Python's printf-style "fmt % args" string formatting.</summary>
public static class PyPercentFormat
{
    public static string Format(string fmt, object? args)
    {
        IReadOnlyList<object?> values;
        IDictionary? mapping = null;
        if (args is PyTuple t)
            values = t.Items;
        else if (args is IDictionary d)
        {
            values = [args];
            mapping = d;
        }
        else
            values = [args];
        var sb = new StringBuilder();
        int argi = 0;
        int i = 0;
        while (i < fmt.Length)
        {
            char c = fmt[i++];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            if (i >= fmt.Length)
                throw JinjaError.Value("incomplete format");
            object? value = null;
            bool haveValue = false;
            if (fmt[i] == '(')
            {
                int end = fmt.IndexOf(')', i);
                if (end < 0) throw JinjaError.Value("incomplete format key");
                string key = fmt[(i + 1)..end];
                if (mapping is null) throw JinjaError.Type("format requires a mapping");
                if (!JinjaValue.TryDictGet(mapping, key, out value))
                    throw new JinjaError("KeyError", PyFormat.Repr(key));
                haveValue = true;
                i = end + 1;
            }
            string flags = "";
            while (i < fmt.Length && "-+ #0".IndexOf(fmt[i]) >= 0)
                flags += fmt[i++];
            int? width = null;
            if (i < fmt.Length && fmt[i] == '*')
            {
                width = (int)JinjaValue.ToLong(NextArg(values, ref argi));
                i++;
            }
            else
            {
                int ws = i;
                while (i < fmt.Length && char.IsAsciiDigit(fmt[i])) i++;
                if (i > ws) width = int.Parse(fmt[ws..i], CultureInfo.InvariantCulture);
            }
            int? prec = null;
            if (i < fmt.Length && fmt[i] == '.')
            {
                i++;
                if (i < fmt.Length && fmt[i] == '*')
                {
                    prec = (int)JinjaValue.ToLong(NextArg(values, ref argi));
                    i++;
                }
                else
                {
                    int ps = i;
                    while (i < fmt.Length && char.IsAsciiDigit(fmt[i])) i++;
                    prec = i > ps ? int.Parse(fmt[ps..i], CultureInfo.InvariantCulture) : 0;
                }
            }
            while (i < fmt.Length && "hlL".IndexOf(fmt[i]) >= 0) i++;
            if (i >= fmt.Length)
                throw JinjaError.Value("incomplete format");
            char conv = fmt[i++];
            if (conv == '%')
            {
                sb.Append('%');
                continue;
            }
            if (!haveValue)
                value = NextArg(values, ref argi);
            sb.Append(FormatOne(conv, flags, width, prec, value));
        }
        if (mapping is null && argi < values.Count)
            throw JinjaError.Type("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static object? NextArg(IReadOnlyList<object?> values, ref int argi)
    {
        if (argi >= values.Count)
            throw JinjaError.Type("not enough arguments for format string");
        return values[argi++];
    }

    private static string FormatOne(char conv, string flags, int? width, int? prec, object? value)
    {
        bool left = flags.Contains('-');
        bool zero = flags.Contains('0') && !left;
        bool plus = flags.Contains('+');
        bool space = flags.Contains(' ');
        bool alt = flags.Contains('#');
        string body;
        bool numeric = true;
        switch (conv)
        {
            case 's':
                body = JinjaValue.Str(value);
                if (prec is int p && body.Length > p) body = body[..p];
                numeric = false;
                break;
            case 'r':
            case 'a':
                body = JinjaValue.Repr(value);
                if (prec is int p2 && body.Length > p2) body = body[..p2];
                numeric = false;
                break;
            case 'c':
                body = value is string cs ? cs : ((char)JinjaValue.ToLong(value)).ToString();
                numeric = false;
                break;
            case 'd':
            case 'i':
            case 'u':
                body = IntValue(value, conv).ToString(CultureInfo.InvariantCulture);
                break;
            case 'x':
            case 'X':
            case 'o':
            {
                long v = IntValue(value, conv);
                string digits = conv == 'o' ? Convert.ToString(Math.Abs(v), 8) : Math.Abs(v).ToString(conv == 'x' ? "x" : "X", CultureInfo.InvariantCulture);
                if (alt) digits = (conv == 'o' ? "0o" : conv == 'x' ? "0x" : "0X") + digits;
                body = (v < 0 ? "-" : "") + digits;
                break;
            }
            case 'f':
            case 'F':
                body = PyFmt.F(FloatValue(value, conv), prec ?? 6);
                if (conv == 'F') body = body.ToUpperInvariant();
                break;
            case 'e':
            case 'E':
                body = FormatExp(FloatValue(value, conv), prec ?? 6, conv == 'E');
                break;
            case 'g':
            case 'G':
                body = FormatGeneral(FloatValue(value, conv), prec ?? 6, conv == 'G', alt);
                break;
            default:
                throw JinjaError.Value($"unsupported format character '{conv}' (0x{(int)conv:x}) at index 0");
        }
        if (numeric)
        {
            bool neg = body.StartsWith('-');
            string digits = neg ? body[1..] : body;
            string sign = neg ? "-" : plus ? "+" : space ? " " : "";
            if (zero && width is int w && sign.Length + digits.Length < w && !double.IsInfinity(ToDoubleSafe(value)))
                digits = digits.PadLeft(w - sign.Length, '0');
            body = sign + digits;
        }
        if (width is int wd && body.Length < wd)
            body = left ? body.PadRight(wd) : body.PadLeft(wd);
        return body;
    }

    private static double ToDoubleSafe(object? v) => JinjaValue.IsNumber(v) ? JinjaValue.ToDouble(v) : 0.0;

    private static long IntValue(object? value, char conv)
    {
        if (JinjaValue.IsInt(value)) return JinjaValue.ToLong(value);
        if (value is double d)
        {
            if (double.IsNaN(d)) throw JinjaError.Value("cannot convert float NaN to integer");
            if (double.IsInfinity(d)) throw new JinjaError("OverflowError", "cannot convert float infinity to integer");
            return (long)Math.Truncate(d);
        }
        if (value is JinjaUndefined u) throw u.Fail();
        throw JinjaError.Type($"%{conv} format: a real number is required, not {JinjaValue.TypeName(value)}");
    }

    private static double FloatValue(object? value, char conv)
    {
        if (JinjaValue.IsNumber(value)) return JinjaValue.ToDouble(value);
        if (value is JinjaUndefined u) throw u.Fail();
        throw JinjaError.Type($"must be real number, not {JinjaValue.TypeName(value)}");
    }

    /// <summary>Python "%.Ne" formatting.</summary>
    public static string FormatExp(double v, int prec, bool upper = false)
    {
        if (double.IsNaN(v)) return upper ? "NAN" : "nan";
        if (double.IsInfinity(v)) return (v < 0 ? "-" : "") + (upper ? "INF" : "inf");
        string s = v.ToString((upper ? "E" : "e") + prec.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        // .NET writes a 3 digit exponent; Python at least 2
        int epos = s.IndexOfAny(['e', 'E']);
        string mant = s[..epos];
        string exp = s[(epos + 1)..];
        char sign = exp[0];
        string digits = exp[1..].TrimStart('0');
        if (digits.Length < 2) digits = digits.PadLeft(2, '0');
        return mant + (upper ? "E" : "e") + sign + digits;
    }

    /// <summary>Python "%.Ng" formatting.</summary>
    public static string FormatGeneral(double v, int prec, bool upper = false, bool alt = false)
    {
        if (double.IsNaN(v)) return upper ? "NAN" : "nan";
        if (double.IsInfinity(v)) return (v < 0 ? "-" : "") + (upper ? "INF" : "inf");
        if (prec == 0) prec = 1;
        if (v == 0.0)
            return (double.IsNegative(v) ? "-" : "") + (alt ? "0." + new string('0', prec - 1) : "0");
        string e = FormatExp(v, prec - 1, upper);
        int epos = e.IndexOfAny(['e', 'E']);
        int exp = int.Parse(e[(epos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string res;
        if (exp >= -4 && exp < prec)
            res = PyFmt.F(v, prec - 1 - exp);
        else
            res = e;
        if (!alt)
        {
            int ep = res.IndexOfAny(['e', 'E']);
            string mant = ep >= 0 ? res[..ep] : res;
            string tail = ep >= 0 ? res[ep..] : "";
            if (mant.Contains('.'))
                mant = mant.TrimEnd('0').TrimEnd('.');
            res = mant + tail;
        }
        return res;
    }
}

/// <summary>Python's str.format() with the format-spec mini language.</summary>
public static class PyStrFormat
{
    public static string Format(string fmt, List<object?> args, Dictionary<string, object?> kwargs)
    {
        var sb = new StringBuilder();
        int auto = 0;
        int i = 0;
        while (i < fmt.Length)
        {
            char c = fmt[i];
            if (c == '{')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '{')
                {
                    sb.Append('{');
                    i += 2;
                    continue;
                }
                int depth = 1, j = i + 1;
                while (j < fmt.Length && depth > 0)
                {
                    if (fmt[j] == '{') depth++;
                    else if (fmt[j] == '}') depth--;
                    if (depth > 0) j++;
                }
                if (j >= fmt.Length)
                    throw JinjaError.Value("expected '}' before end of string");
                string field = fmt[(i + 1)..j];
                i = j + 1;
                string? spec = null, conversion = null;
                int colon = field.IndexOf(':');
                if (colon >= 0)
                {
                    spec = field[(colon + 1)..];
                    field = field[..colon];
                }
                int bang = field.IndexOf('!');
                if (bang >= 0)
                {
                    conversion = field[(bang + 1)..];
                    field = field[..bang];
                }
                object? value = ResolveField(field, args, kwargs, ref auto);
                if (conversion == "r") value = JinjaValue.Repr(value);
                else if (conversion == "s") value = JinjaValue.Str(value);
                if (spec is not null && spec.Contains('{'))
                    spec = Format(spec, args, kwargs);
                sb.Append(FormatValue(value, spec ?? ""));
                continue;
            }
            if (c == '}')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '}')
                {
                    sb.Append('}');
                    i += 2;
                    continue;
                }
                throw JinjaError.Value("Single '}' encountered in format string");
            }
            sb.Append(c);
            i++;
        }
        return sb.ToString();
    }

    private static object? ResolveField(string field, List<object?> args, Dictionary<string, object?> kwargs, ref int auto)
    {
        int end = 0;
        while (end < field.Length && field[end] != '.' && field[end] != '[') end++;
        string head = field[..end];
        object? value;
        if (head.Length == 0)
        {
            if (auto >= args.Count) throw new JinjaError("IndexError", $"Replacement index {auto} out of range for positional args tuple");
            value = args[auto++];
        }
        else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int idx))
        {
            if (idx >= args.Count) throw new JinjaError("IndexError", $"Replacement index {idx} out of range for positional args tuple");
            value = args[idx];
        }
        else if (!kwargs.TryGetValue(head, out value))
            throw new JinjaError("KeyError", PyFormat.Repr(head));
        string rest = field[end..];
        while (rest.Length > 0)
        {
            if (rest[0] == '.')
            {
                int e = 1;
                while (e < rest.Length && rest[e] != '.' && rest[e] != '[') e++;
                value = JinjaValue.GetAttr(value, rest[1..e]);
                rest = rest[e..];
            }
            else
            {
                int e = rest.IndexOf(']');
                string key = rest[1..e];
                value = JinjaValue.GetItem(value, long.TryParse(key, out long li) ? li : key);
                rest = rest[(e + 1)..];
            }
        }
        return value;
    }

    /// <summary>format(value, spec) with Python's standard format specifiers.</summary>
    public static string FormatValue(object? value, string spec)
    {
        value = JinjaValue.Normalize(value);
        if (value is JinjaUndefined u)
        {
            if (spec.Length == 0) return "";
            throw u.Fail();
        }
        int i = 0;
        char fill = ' ';
        char? align = null;
        if (spec.Length >= 2 && "<>=^".IndexOf(spec[1]) >= 0)
        {
            fill = spec[0];
            align = spec[1];
            i = 2;
        }
        else if (spec.Length >= 1 && "<>=^".IndexOf(spec[0]) >= 0)
        {
            align = spec[0];
            i = 1;
        }
        char sign = '-';
        if (i < spec.Length && "+- ".IndexOf(spec[i]) >= 0) sign = spec[i++];
        bool alt = false;
        if (i < spec.Length && spec[i] == '#') { alt = true; i++; }
        if (i < spec.Length && spec[i] == '0')
        {
            if (align is null) { fill = '0'; align = '='; }
            i++;
        }
        int ws = i;
        while (i < spec.Length && char.IsAsciiDigit(spec[i])) i++;
        int? width = i > ws ? int.Parse(spec[ws..i], CultureInfo.InvariantCulture) : null;
        char? grouping = null;
        if (i < spec.Length && (spec[i] == ',' || spec[i] == '_')) grouping = spec[i++];
        int? prec = null;
        if (i < spec.Length && spec[i] == '.')
        {
            i++;
            int ps = i;
            while (i < spec.Length && char.IsAsciiDigit(spec[i])) i++;
            prec = int.Parse(spec[ps..i], CultureInfo.InvariantCulture);
        }
        char? type = i < spec.Length ? spec[i++] : null;
        if (i != spec.Length)
            throw JinjaError.Value("Invalid format specifier");

        string body;
        bool numeric = JinjaValue.IsNumber(value) && value is not bool || (value is bool && type is not null && type != 's');
        if (value is string s)
        {
            if (type is not null and not 's')
                throw JinjaError.Value($"Unknown format code '{type}' for object of type 'str'");
            body = prec is int p && s.Length > p ? s[..p] : s;
            return Pad(body, "", width, fill, align ?? '<');
        }
        if (!numeric)
        {
            body = JinjaValue.Str(value);
            if (spec.Length != 0 && value is not bool)
                throw JinjaError.Type($"unsupported format string passed to {JinjaValue.TypeName(value)}.__format__");
            return Pad(body, "", width, fill, align ?? '<');
        }
        bool isInt = JinjaValue.IsInt(value);
        double dv = JinjaValue.ToDouble(value);
        string digits;
        bool neg;
        switch (type)
        {
            case null when isInt:
            case 'd':
            case 'n' when isInt:
                if (!isInt) throw JinjaError.Value("Unknown format code 'd' for object of type 'float'");
                long lv = JinjaValue.ToLong(value);
                neg = lv < 0;
                digits = Math.Abs(lv).ToString(CultureInfo.InvariantCulture);
                break;
            case 'x' or 'X' or 'o' or 'b':
            {
                if (!isInt) throw JinjaError.Value($"Unknown format code '{type}' for object of type 'float'");
                long v = JinjaValue.ToLong(value);
                neg = v < 0;
                long a = Math.Abs(v);
                digits = type switch
                {
                    'x' => a.ToString("x", CultureInfo.InvariantCulture),
                    'X' => a.ToString("X", CultureInfo.InvariantCulture),
                    'o' => Convert.ToString(a, 8),
                    _ => Convert.ToString(a, 2),
                };
                if (alt) digits = (type == 'x' ? "0x" : type == 'X' ? "0X" : type == 'o' ? "0o" : "0b") + digits;
                break;
            }
            case 'f' or 'F':
                neg = dv < 0 || double.IsNegative(dv);
                digits = PyFmt.F(Math.Abs(dv), prec ?? 6);
                break;
            case 'e' or 'E':
                neg = dv < 0 || double.IsNegative(dv);
                digits = PyPercentFormat.FormatExp(Math.Abs(dv), prec ?? 6, type == 'E');
                break;
            case 'g' or 'G':
                neg = dv < 0 || double.IsNegative(dv);
                digits = PyPercentFormat.FormatGeneral(Math.Abs(dv), prec ?? 6, type == 'G', alt);
                break;
            case '%':
                neg = dv < 0;
                digits = PyFmt.F(Math.Abs(dv) * 100.0, prec ?? 6) + "%";
                break;
            case null:
                neg = dv < 0 || double.IsNegative(dv);
                if (prec is int gp)
                {
                    digits = PyPercentFormat.FormatGeneral(Math.Abs(dv), gp, false, alt);
                    if (!digits.Contains('.') && !digits.Contains('e') && !digits.Contains("inf") && !digits.Contains("nan"))
                        digits += "";
                }
                else
                    digits = PyFormat.Repr(Math.Abs(dv));
                break;
            default:
                throw JinjaError.Value($"Unknown format code '{type}' for object of type '{JinjaValue.TypeName(value)}'");
        }
        if (grouping is char g)
            digits = Group(digits, g);
        string signStr = neg ? "-" : sign == '+' ? "+" : sign == ' ' ? " " : "";
        return Pad(digits, signStr, width, fill, align ?? '>');
    }

    private static string Group(string digits, char sep)
    {
        int dot = digits.IndexOfAny(['.', 'e', '%']);
        string intPart = dot >= 0 ? digits[..dot] : digits;
        string rest = dot >= 0 ? digits[dot..] : "";
        var sb = new StringBuilder();
        for (int k = 0; k < intPart.Length; k++)
        {
            if (k > 0 && (intPart.Length - k) % 3 == 0) sb.Append(sep);
            sb.Append(intPart[k]);
        }
        return sb + rest;
    }

    private static string Pad(string body, string sign, int? width, char fill, char align)
    {
        int len = body.Length + sign.Length;
        if (width is not int w || len >= w)
            return sign + body;
        int pad = w - len;
        return align switch
        {
            '<' => sign + body + new string(fill, pad),
            '^' => new string(fill, pad / 2) + sign + body + new string(fill, pad - pad / 2),
            '=' => sign + new string(fill, pad) + body,
            _ => new string(fill, pad) + sign + body,
        };
    }
}

/// <summary>Python's ast.literal_eval for the literal forms used in configs and G-Code parameters.</summary>
public static class PyLiteral
{
    /// <summary>Parses a Python literal; throws <see cref="FormatException"/> when the text is not one.</summary>
    public static object? Parse(string text)
    {
        JinjaExpression expr;
        try
        {
            expr = JinjaParser.ParseExpression(text.Trim());
        }
        catch (JinjaError e)
        {
            throw new FormatException(e.Message);
        }
        return expr.EvalLiteral();
    }
}
