using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.ExtraModules;

public class HeaterMathTests
{
    // ADC_MAX 1023 with 8 samples (atmega2560), as in the printers.test reference streams
    private const double MaxAdc = 8 * 1023.0;

    private static Thermistor Epcos()
    {
        var t = new Thermistor(4700.0, 0.0);
        t.SetupCoefficients(25, 100000, 150, 1641.9, 250, 226.15);
        return t;
    }

    [Fact]
    public void ThermistorRangeMatchesUpstreamQueryAnalogIn()
    {
        var t = Epcos();
        // example-cartesian: extruder 0..210C -> min_value=723, bed 0..110C -> min_value=4100, both max_value=8070
        Assert.Equal(723, (long)(t.CalcAdc(210) * MaxAdc));
        Assert.Equal(4100, (long)(t.CalcAdc(110) * MaxAdc));
        Assert.Equal(8070, (long)Math.Ceiling(t.CalcAdc(0) * MaxAdc));
    }

    [Fact]
    public void ThermistorRoundTrips()
    {
        var t = Epcos();
        Assert.Equal(150.0, t.CalcTemp(t.CalcAdc(150.0)), 6);
        var beta = new Thermistor(4700.0, 0.0);
        beta.SetupCoefficientsBeta(25, 100000, 3974);
        Assert.Equal(60.0, beta.CalcTemp(beta.CalcAdc(60.0)), 6);
    }

    [Fact]
    public void LinearInterpolateMatchesUpstream()
    {
        var li = new LinearInterpolate([(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)]);
        Assert.Equal(5.0, li.Interpolate(0.5));
        Assert.Equal(20.0, li.Interpolate(1.5));
        Assert.Equal(50.0, li.Interpolate(3.0));
        Assert.Equal(1.5, li.ReverseInterpolate(20.0));
        var e = Assert.Throws<ArgumentException>(() => new LinearInterpolate([(1.0, 1.0), (1.0, 2.0)]));
        Assert.Equal("duplicate value", e.Message);
    }

    [Fact]
    public void Pt100TablesMatchUpstream()
    {
        var pt1000 = AdcTemperature.CalcPt100(1000.0);
        Assert.Equal(50, pt1000.Length);
        Assert.Equal((10.0, 1000.0 * (1.0 + 3.9083e-3 * 10 + -5.775e-7 * 10 * 10)), pt1000[1]);
    }

    [Theory]
    [InlineData(0.125, 2, "0.12")]
    [InlineData(0.375, 2, "0.38")]
    [InlineData(2.5, 0, "2")]
    [InlineData(-0.5, 0, "-0")]
    [InlineData(1.005, 2, "1.00")]
    [InlineData(21.55, 1, "21.6")]
    public void PercentFFormattingRoundsLikePython(double v, int prec, string expected) =>
        Assert.Equal(expected, PyFmt.F(v, prec));
}
