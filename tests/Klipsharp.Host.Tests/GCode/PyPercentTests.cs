using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Tests.GCode;

public class PyPercentTests
{
    [Theory]
    [InlineData("%.3f", 0.125, "0.125")]
    [InlineData("%.2f", 0.125, "0.12")]
    [InlineData("%.2f", 0.375, "0.38")]
    [InlineData("%.0f", 2.5, "2")]
    [InlineData("%.0f", 3.5, "4")]
    [InlineData("%.3f", -0.0, "-0.000")]
    [InlineData("%.3f", -0.0001, "-0.000")]
    [InlineData("%.6f", 1e-7, "0.000000")]
    [InlineData("%.3f", 9999.0, "9999.000")]
    [InlineData("%.1f", 1e20, "100000000000000000000.0")]
    [InlineData("%f", 1.5, "1.500000")]
    [InlineData("%.3f", 2.0005, "2.001")]
    [InlineData("%s", 0.1, "0.1")]
    [InlineData("%s", 5.0, "5.0")]
    public void Floats(string fmt, double v, string expected) => Assert.Equal(expected, PyPercent.Format(fmt, v));

    [Fact]
    public void Mixed()
    {
        Assert.Equal("a:5 b:  x c:2.50 %", PyPercent.Format("a:%d b:%3s c:%.2f %%", 5, "x", 2.5));
        Assert.Equal("HELP      : x", PyPercent.Format("%-10s: %s", "HELP", "x"));
        Assert.Equal("print_stall=3", PyPercent.Format("print_stall=%d", 3));
    }
}
