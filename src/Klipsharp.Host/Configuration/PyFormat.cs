using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Klipsharp.Host.Configuration;

/// <summary>Python-compatible text helpers: str()/repr() formatting, int()/float() parsing and str.strip() whitespace.</summary>
public static partial class PyFormat
{
    /// <summary>Python str.isspace() for one UTF-16 unit (adds U+001C..U+001F to .NET's set).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    /// <summary>Python str.strip() with no arguments.</summary>
    public static string Strip(string s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsSpace(s[start])) start++;
        while (end > start && IsSpace(s[end - 1])) end--;
        return start == 0 && end == s.Length ? s : s[start..end];
    }

    /// <summary>Python str.rstrip() with no arguments.</summary>
    public static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && IsSpace(s[end - 1])) end--;
        return end == s.Length ? s : s[..end];
    }

    /// <summary>Python repr() of a float (shortest round-trip digits, Python's exponent rules).</summary>
    public static string Repr(double v)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        if (v == 0) return double.IsNegative(v) ? "-0.0" : "0.0";
        // .NET gives the same shortest round-trip digits; only the layout differs.
        string r = v.ToString("R", CultureInfo.InvariantCulture);
        bool neg = r[0] == '-';
        if (neg) r = r[1..];
        int exp = 0;
        int epos = r.IndexOfAny(['E', 'e']);
        if (epos >= 0)
        {
            exp = int.Parse(r[(epos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..epos];
        }
        int dot = r.IndexOf('.');
        string intPart = dot >= 0 ? r[..dot] : r;
        string fracPart = dot >= 0 ? r[(dot + 1)..] : "";
        string digits = intPart + fracPart;
        int decpt = intPart.Length + exp;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; decpt--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (neg) sb.Append('-');
        if (decpt <= -4 || decpt > 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            int e = decpt - 1;
            sb.Append('e').Append(e < 0 ? '-' : '+');
            sb.Append(Math.Abs(e).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (decpt <= 0)
        {
            sb.Append("0.").Append('0', -decpt).Append(digits);
        }
        else if (decpt >= digits.Length)
        {
            sb.Append(digits).Append('0', decpt - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, digits.Length - decpt);
        }
        return sb.ToString();
    }

    /// <summary>Python repr() of a str (quote choice and escapes as CPython).</summary>
    public static string Repr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2);
        sb.Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote || c == '\\') { sb.Append('\\').Append(c); continue; }
            if (c == '\t') { sb.Append("\\t"); continue; }
            if (c == '\n') { sb.Append("\\n"); continue; }
            if (c == '\r') { sb.Append("\\r"); continue; }
            if (c < ' ' || c == '\x7f') { sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); continue; }
            if (c < '\x7f') { sb.Append(c); continue; }
            int cp = c;
            int width = 1;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                cp = char.ConvertToUtf32(c, s[i + 1]);
                width = 2;
            }
            if (IsPrintable(cp))
            {
                sb.Append(s, i, width);
            }
            else if (cp <= 0xff)
                sb.Append("\\x").Append(cp.ToString("x2", CultureInfo.InvariantCulture));
            else if (cp <= 0xffff)
                sb.Append("\\u").Append(cp.ToString("x4", CultureInfo.InvariantCulture));
            else
                sb.Append("\\U").Append(cp.ToString("x8", CultureInfo.InvariantCulture));
            i += width - 1;
        }
        sb.Append(quote);
        return sb.ToString();
    }

    private static bool IsPrintable(int cp)
    {
        if (cp == ' ') return true;
        var cat = cp > 0xffff
            ? CharUnicodeInfo.GetUnicodeCategory(cp)
            : CharUnicodeInfo.GetUnicodeCategory((char)cp);
        return cat switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Python str() of a value: floats as repr, booleans as True/False, None as "None".</summary>
    public static string Str(object? value) => value switch
    {
        null => "None",
        string s => s,
        bool b => b ? "True" : "False",
        double d => Repr(d),
        float f => Repr(f),
        IFormattable fm => fm.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    // Python int()/float() accept any Unicode decimal digit; map them (and spaces) to ASCII first.
    private static string ToAsciiNumber(string s)
    {
        s = Strip(s);
        StringBuilder? sb = null;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c < 0x80) { sb?.Append(c); continue; }
            sb ??= new StringBuilder(s, 0, i, s.Length);
            int dv = CharUnicodeInfo.GetDecimalDigitValue(c);
            if (dv >= 0 && CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.DecimalDigitNumber)
                sb.Append((char)('0' + dv));
            else if (IsSpace(c))
                sb.Append(' ');
            else
                sb.Append('\0'); // forces a parse failure
        }
        return sb?.ToString() ?? s;
    }

    [GeneratedRegex(@"\A[+-]?[0-9](?:_?[0-9])*\z", RegexOptions.CultureInvariant)]
    private static partial Regex IntRegex();

    [GeneratedRegex(@"\A[+-]?(?:(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][+-]?[0-9](?:_?[0-9])*)?|(?<inf>inf|infinity)|(?<nan>nan))\z",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex FloatRegex();

    /// <summary>Parses like Python int(s) (base 10); false if Python would raise or the value does not fit a long.</summary>
    public static bool TryParseInt(string s, out long value)
    {
        string a = ToAsciiNumber(s);
        value = 0;
        if (!IntRegex().IsMatch(a)) return false;
        return long.TryParse(a.Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    // The common case without the regex (a Match per G-code number): sign, digits with an
    // optional point, optional exponent, no underscores. Every such string is in
    // FloatRegex's language, so both paths agree.
    private static bool IsPlainDecimal(string a)
    {
        int i = 0, n = a.Length;
        if (i < n && (a[i] == '+' || a[i] == '-'))
            i++;
        int intDigits = 0, fracDigits = 0;
        while (i < n && char.IsAsciiDigit(a[i])) { i++; intDigits++; }
        if (i < n && a[i] == '.')
        {
            i++;
            while (i < n && char.IsAsciiDigit(a[i])) { i++; fracDigits++; }
        }
        if (intDigits + fracDigits == 0)
            return false;
        if (i < n && (a[i] == 'e' || a[i] == 'E'))
        {
            i++;
            if (i < n && (a[i] == '+' || a[i] == '-'))
                i++;
            int expDigits = 0;
            while (i < n && char.IsAsciiDigit(a[i])) { i++; expDigits++; }
            if (expDigits == 0)
                return false;
        }
        return i == n;
    }

    /// <summary>Parses like Python float(s); false if Python would raise ValueError.</summary>
    public static bool TryParseFloat(string s, out double value)
    {
        string a = ToAsciiNumber(s);
        if (IsPlainDecimal(a))
            return double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        value = 0;
        var m = FloatRegex().Match(a);
        if (!m.Success) return false;
        bool neg = a[0] == '-';
        if (m.Groups["inf"].Success) { value = neg ? double.NegativeInfinity : double.PositiveInfinity; return true; }
        if (m.Groups["nan"].Success) { value = double.NaN; return true; }
        return double.TryParse(a.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}
