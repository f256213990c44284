using System.Globalization;
using System.Numerics;
using System.Text;

namespace Klipsharp.Protocol;

/// <summary>The bits of Python's text behaviour the protocol's messages depend on (repr, split, int()).</summary>
public static class PyText
{
    /// <summary>Python's <c>repr()</c> of a bytes object, e.g. <c>b'ab\x00'</c>.</summary>
    public static string BytesRepr(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder(data.Length + 3);
        AppendBytesRepr(sb, data);
        return sb.ToString();
    }

    /// <summary>Appends Python's <c>repr()</c> of a bytes object.</summary>
    public static void AppendBytesRepr(StringBuilder sb, ReadOnlySpan<byte> data)
    {
        // Python picks double quotes only when the data has a single quote and no double quote.
        char quote = data.Contains((byte)'\'') && !data.Contains((byte)'"') ? '"' : '\'';
        sb.Append('b').Append(quote);
        foreach (byte b in data)
        {
            if (b == quote || b == '\\')
                sb.Append('\\').Append((char)b);
            else if (b == '\t')
                sb.Append("\\t");
            else if (b == '\n')
                sb.Append("\\n");
            else if (b == '\r')
                sb.Append("\\r");
            else if (b < 0x20 || b >= 0x7f)
                sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
            else
                sb.Append((char)b);
        }
        sb.Append(quote);
    }

    /// <summary>Python's <c>str.isspace()</c> for one character.</summary>
    public static bool IsSpace(char c) =>
        c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r' or (>= '\x1c' and <= '\x1f') or '\x85' or '\xa0'
        || (c > '\xff' && char.IsWhiteSpace(c));

    /// <summary>Python's <c>str.split()</c> without arguments.</summary>
    public static List<string> Split(string s)
    {
        var parts = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && IsSpace(s[i]))
                i++;
            int start = i;
            while (i < s.Length && !IsSpace(s[i]))
                i++;
            if (i > start)
                parts.Add(s[start..i]);
        }
        return parts;
    }

    /// <summary>Python's <c>str.strip()</c> without arguments.</summary>
    public static string Strip(string s)
    {
        int a = 0, b = s.Length;
        while (a < b && IsSpace(s[a]))
            a++;
        while (b > a && IsSpace(s[b - 1]))
            b--;
        return s[a..b];
    }

    /// <summary>
    /// Python's <c>int(text, base)</c> for base 0 (prefix decides, no leading zeros in
    /// decimal), 10 or 16: optional sign, optional 0x/0o/0b prefix, single underscores
    /// between digits, surrounding whitespace.
    /// </summary>
    public static bool TryParseInt(string text, int numberBase, out BigInteger value)
    {
        value = BigInteger.Zero;
        string s = Strip(text);
        int i = 0;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            negative = s[i] == '-';
            i++;
        }
        int radix = numberBase;
        bool prefixed = false;
        if (i + 1 < s.Length && s[i] == '0')
        {
            char p = char.ToLowerInvariant(s[i + 1]);
            int pr = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
            if (pr != 0 && (numberBase == 0 || numberBase == pr))
            {
                radix = pr;
                prefixed = true;
                i += 2;
            }
        }
        if (radix == 0)
            radix = 10;
        // After a prefix one underscore may precede the first digit.
        if (prefixed && i < s.Length && s[i] == '_')
            i++;
        int firstDigit = i;
        bool lastUnderscore = false, any = false, nonZero = false;
        BigInteger v = BigInteger.Zero;
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '_')
            {
                if (lastUnderscore || i == firstDigit)
                    return false;
                lastUnderscore = true;
                continue;
            }
            int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'z' ? c - 'a' + 10
                : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 99;
            if (d >= radix)
                return false;
            lastUnderscore = false;
            any = true;
            if (d != 0)
                nonZero = true;
            v = v * radix + d;
        }
        if (!any || lastUnderscore)
            return false;
        // Base 0 rejects decimal literals with leading zeros such as "010".
        if (numberBase == 0 && !prefixed && s[firstDigit] == '0' && nonZero)
            return false;
        value = negative ? -v : v;
        return true;
    }

    /// <summary>Python's <c>float(text)</c>.</summary>
    public static bool TryParseFloat(string text, out double value)
    {
        string s = Strip(text);
        string body = s.TrimStart('+', '-');
        int signs = s.Length - body.Length;
        bool negative = signs == 1 && s[0] == '-';
        value = 0;
        if (signs > 1)
            return false;
        switch (body.ToLowerInvariant())
        {
            case "inf":
            case "infinity":
                value = negative ? double.NegativeInfinity : double.PositiveInfinity;
                return true;
            case "nan":
                value = double.NaN;
                return true;
        }
        if (body.Length == 0 || body.StartsWith('_') || body.EndsWith('_') || body.Contains("__", StringComparison.Ordinal))
            return false;
        foreach (char c in body)
        {
            if (!(char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-' or '_'))
                return false;
        }
        return double.TryParse(s.Replace("_", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Python's <c>repr()</c> of a float, e.g. <c>1.0</c>, <c>1e-05</c>, <c>1e+16</c>.</summary>
    public static string FloatRepr(double v)
    {
        if (double.IsNaN(v))
            return "nan";
        if (double.IsInfinity(v))
            return v > 0 ? "inf" : "-inf";
        if (v == 0)
            return double.IsNegative(v) ? "-0.0" : "0.0";
        // Shortest round-trip digits, then Python's layout rules.
        string shortest = Math.Abs(v).ToString("R", CultureInfo.InvariantCulture);
        string mant = shortest;
        int exp10 = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            mant = shortest[..e];
            exp10 = int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }
        int dot = mant.IndexOf('.');
        string digits = dot >= 0 ? mant.Remove(dot, 1) : mant;
        int pointPos = (dot >= 0 ? dot : mant.Length) + exp10;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
            lead++;
        digits = digits[lead..];
        pointPos -= lead;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
            digits = "0";
        int sciExp = pointPos - 1;
        var sb = new StringBuilder();
        if (v < 0)
            sb.Append('-');
        if (sciExp < -4 || sciExp >= 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1)
                sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(sciExp < 0 ? '-' : '+').Append(Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (pointPos <= 0)
        {
            sb.Append("0.").Append('0', -pointPos).Append(digits);
        }
        else if (pointPos >= digits.Length)
        {
            sb.Append(digits).Append('0', pointPos - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, pointPos).Append('.').Append(digits, pointPos, digits.Length - pointPos);
        }
        return sb.ToString();
    }
}
