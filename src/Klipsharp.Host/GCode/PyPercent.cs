using System.Globalization;
using System.Numerics;
using System.Text;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.GCode;

/// <summary>Python's "%" string formatting for the conversions G-code messages use (%s %r %d %i %f %e %g %x %%, flags, width, precision).</summary>
public static class PyPercent
{
    public static string Format(string fmt, params object?[] args)
    {
        var sb = new StringBuilder();
        int argi = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            i++;
            if (i >= fmt.Length)
                throw new FormatException("incomplete format");
            if (fmt[i] == '%')
            {
                sb.Append('%');
                continue;
            }
            // flags
            bool left = false, zero = false, plus = false, space = false;
            for (; i < fmt.Length && "-0+ #".Contains(fmt[i]); i++)
            {
                switch (fmt[i])
                {
                    case '-': left = true; break;
                    case '0': zero = true; break;
                    case '+': plus = true; break;
                    case ' ': space = true; break;
                }
            }
            int width = 0;
            for (; i < fmt.Length && char.IsAsciiDigit(fmt[i]); i++)
                width = width * 10 + (fmt[i] - '0');
            int precision = -1;
            if (i < fmt.Length && fmt[i] == '.')
            {
                precision = 0;
                for (i++; i < fmt.Length && char.IsAsciiDigit(fmt[i]); i++)
                    precision = precision * 10 + (fmt[i] - '0');
            }
            char conv = fmt[i];
            object? arg = argi < args.Length ? args[argi++] : throw new FormatException("not enough arguments for format string");
            string body;
            bool numeric = true;
            switch (conv)
            {
                case 's':
                    body = PyFormat.Str(arg);
                    if (precision >= 0 && body.Length > precision)
                        body = body[..precision];
                    numeric = false;
                    break;
                case 'r':
                    body = arg is string s ? PyFormat.Repr(s) : PyFormat.Str(arg);
                    numeric = false;
                    break;
                case 'd':
                case 'i':
                    body = ToLong(arg).ToString(CultureInfo.InvariantCulture);
                    break;
                case 'x':
                    body = ToLong(arg).ToString("x", CultureInfo.InvariantCulture);
                    break;
                case 'f':
                case 'F':
                    body = FormatFixed(ToDouble(arg), precision < 0 ? 6 : precision);
                    break;
                case 'e':
                    body = FormatExp(ToDouble(arg), precision < 0 ? 6 : precision);
                    break;
                default:
                    throw new FormatException($"unsupported format character '{conv}'");
            }
            if (numeric && !body.StartsWith('-'))
            {
                if (plus)
                    body = "+" + body;
                else if (space)
                    body = " " + body;
            }
            if (body.Length < width)
            {
                if (left)
                    body = body.PadRight(width);
                else if (zero && numeric)
                {
                    int signLen = body.Length > 0 && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
                    body = body[..signLen] + new string('0', width - body.Length) + body[signLen..];
                }
                else
                    body = body.PadLeft(width);
            }
            sb.Append(body);
        }
        if (argi != args.Length)
            throw new FormatException("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static long ToLong(object? arg) => arg switch
    {
        int i => i,
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)Math.Truncate(d),
        _ => Convert.ToInt64(arg, CultureInfo.InvariantCulture),
    };

    private static double ToDouble(object? arg) => arg switch
    {
        double d => d,
        int i => i,
        long l => l,
        bool b => b ? 1.0 : 0.0,
        _ => Convert.ToDouble(arg, CultureInfo.InvariantCulture),
    };

    /// <summary>Python "%.Nf": the exact binary value rounded half-to-even.</summary>
    public static string FormatFixed(double v, int precision)
    {
        if (double.IsNaN(v))
            return "nan";
        if (double.IsInfinity(v))
            return v > 0 ? "inf" : "-inf";
        bool neg = double.IsNegative(v);
        long bits = BitConverter.DoubleToInt64Bits(v);
        int exp = (int)((bits >> 52) & 0x7FF);
        long frac = bits & 0xFFFFFFFFFFFFFL;
        BigInteger mant;
        int e2;
        if (exp == 0)
        {
            mant = frac;
            e2 = -1074;
        }
        else
        {
            mant = frac | (1L << 52);
            e2 = exp - 1075;
        }
        BigInteger scaled;
        var pow10 = BigInteger.Pow(10, precision);
        if (e2 >= 0)
        {
            scaled = (mant << e2) * pow10;
        }
        else
        {
            var num = mant * pow10;
            var den = BigInteger.One << -e2;
            scaled = BigInteger.DivRem(num, den, out var rem);
            var twice = rem * 2;
            int cmp = twice.CompareTo(den);
            if (cmp > 0 || (cmp == 0 && !scaled.IsEven))
                scaled += 1;
        }
        string digits = scaled.ToString(CultureInfo.InvariantCulture);
        if (precision > 0)
        {
            if (digits.Length <= precision)
                digits = new string('0', precision - digits.Length + 1) + digits;
            digits = digits[..^precision] + "." + digits[^precision..];
        }
        return neg ? "-" + digits : digits;
    }

    private static string FormatExp(double v, int precision)
    {
        if (double.IsNaN(v))
            return "nan";
        if (double.IsInfinity(v))
            return v > 0 ? "inf" : "-inf";
        string s = v.ToString("E" + precision.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        // .NET gives E+006; Python gives e+06
        int e = s.IndexOf('E');
        string mant = s[..e];
        string exp = s[(e + 1)..];
        char sign = exp[0];
        string digits = exp[1..].TrimStart('0');
        if (digits.Length < 2)
            digits = digits.PadLeft(2, '0');
        return mant + "e" + sign + digits;
    }
}
