using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Tests.Configuration;

public class PyFormatTests
{
    [Theory]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(1.0, "1.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(123456789.0, "123456789.0")]
    [InlineData(1.5e-7, "1.5e-07")]
    [InlineData(1e100, "1e+100")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(1.0 / 3, "0.3333333333333333")]
    [InlineData(123456789012345678.0, "1.2345678901234568e+17")]
    [InlineData(double.PositiveInfinity, "inf")]
    [InlineData(double.NegativeInfinity, "-inf")]
    [InlineData(double.NaN, "nan")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    public void ReprOfFloat(double v, string expected) => Assert.Equal(expected, PyFormat.Repr(v));

    [Theory]
    [InlineData("abc", "'abc'")]
    [InlineData("it's", "\"it's\"")]
    [InlineData("'\"", "'\\'\"'")]
    [InlineData("a\tb\n\\", "'a\\tb\\n\\\\'")]
    [InlineData("\u0001\u007f\u00a0\u00e9", "'\\x01\\x7f\\xa0\u00e9'")]
    [InlineData("\ufeff\u2028", "'\\ufeff\\u2028'")]
    public void ReprOfString(string s, string expected) => Assert.Equal(expected, PyFormat.Repr(s));

    [Fact]
    public void StrOfValues()
    {
        Assert.Equal("True", PyFormat.Str(true));
        Assert.Equal("None", PyFormat.Str(null));
        Assert.Equal("3", PyFormat.Str(3));
        Assert.Equal("3.0", PyFormat.Str(3.0));
        Assert.Equal("x", PyFormat.Str("x"));
    }

    [Fact]
    public void PythonWhitespace()
    {
        Assert.Equal("a", PyFormat.Strip("\u001c\t a \u3000\u001f"));
        Assert.Equal(" a", PyFormat.RStrip(" a \n"));
        Assert.True(PyFormat.TryParseInt(" \u0661\u0662 ", out long v));
        Assert.Equal(12, v);
        Assert.True(PyFormat.TryParseFloat("\u00a01.5\u2003", out double f));
        Assert.Equal(1.5, f);
    }

    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("-1.5", -1.5)]
    [InlineData("+.5", 0.5)]
    [InlineData("1.", 1.0)]
    [InlineData("1.e2", 100.0)]
    [InlineData("2E-3", 0.002)]
    [InlineData("1_000.5", 1000.5)]
    [InlineData(" 7 ", 7.0)]
    [InlineData("-Infinity", double.NegativeInfinity)]
    [InlineData("nan", double.NaN)]
    public void FloatsPythonAccepts(string text, double expected)
    {
        Assert.True(PyFormat.TryParseFloat(text, out double v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("-")]
    [InlineData("1e")]
    [InlineData("e5")]
    [InlineData("1__0")]
    [InlineData("_1")]
    [InlineData("1.5.")]
    [InlineData("0x10")]
    [InlineData("")]
    public void FloatsPythonRejects(string text) => Assert.False(PyFormat.TryParseFloat(text, out _));
}
