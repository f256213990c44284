using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests.Kinematics;

public class OtherShaperDefsTests
{
    [Fact]
    public void Zv_from_formula()
    {
        double f = 47.5, dr = 0.15;
        double df = Math.Sqrt(1 - dr * dr);
        double k = Math.Exp(-dr * Math.PI / df);
        double td = 1 / (f * df);
        var (a, t) = InputShaperDefs.GetZvShaper(f, dr);
        Assert.Equal(new[] { 1.0, k }, a);
        Assert.Equal(new[] { 0.0, 0.5 * td }, t);
    }

    [Fact]
    public void Zvd_from_formula()
    {
        double f = 61, dr = 0.05;
        double df = Math.Sqrt(1 - dr * dr);
        double k = Math.Exp(-dr * Math.PI / df);
        double td = 1 / (f * df);
        var (a, t) = InputShaperDefs.GetZvdShaper(f, dr);
        Assert.Equal(3, a.Length);
        Assert.Equal(1.0, a[0]);
        Assert.Equal(2 * k, a[1]);
        Assert.Equal(k * k, a[2], 1e-16);
        Assert.Equal(new[] { 0.0, 0.5 * td, td }, t);
    }

    [Fact]
    public void Mzv_undamped_is_the_classic_three_pulse_shaper()
    {
        // With t = 0.75 periods and no damping the solution is
        // A = (1 - 1/sqrt2, sqrt2 - 1, 1 - 1/sqrt2) at 0, 3/8 and 3/4 of the period.
        double f = 40;
        var (a, t) = InputShaperDefs.GetMzvShaper(f, 0);
        double s = Math.Sqrt(2);
        Assert.Equal(1 - 1 / s, a[0], 1e-12);
        Assert.Equal(s - 1, a[1], 1e-12);
        Assert.Equal(1 - 1 / s, a[2], 1e-12);
        Assert.Equal(1.0, a.Sum(), 1e-12);
        Assert.Equal(0.0, t[0]);
        Assert.Equal(0.375 / f, t[1], 1e-15);
        Assert.Equal(0.75 / f, t[2], 1e-15);
    }

    [Fact]
    public void Mzv_damping_scales_later_pulses_geometrically()
    {
        double f = 33.2, dr = 0.1;
        var (a0, t0) = InputShaperDefs.GetMzvShaper(f, 0);
        var (a, t) = InputShaperDefs.GetMzvShaper(f, dr);
        double df = Math.Sqrt(1 - dr * dr);
        double k = Math.Exp(-2 * 0.75 * dr * Math.PI / (2 * df));
        Assert.Equal(a0[0], a[0]);
        Assert.Equal(a0[1] * k, a[1], 1e-15);
        Assert.Equal(a0[2] * k * k, a[2], 1e-15);
        Assert.Equal(t0[2] * (1 / df), t[2], 1e-15);
    }

    [Fact]
    public void Ei_from_formula()
    {
        double f = 52, dr = 0.2, v = 0.05;
        var (a, t) = InputShaperDefs.GetEiShaper(f, dr);
        double a1 = 0.24968 + 0.24961 * v + (0.80008 + 1.23328 * v) * dr + (0.49599 + 3.17316 * v) * dr * dr;
        double a3 = 0.25149 + 0.21474 * v + (-0.83249 + 1.41498 * v) * dr + (0.85181 - 4.90094 * v) * dr * dr;
        double t2 = 0.4999 + (0.46159 + 8.57843 * v) * v * dr + (4.26169 - 108.644 * v) * v * dr * dr
                    + (1.75601 + 336.989 * v) * v * dr * dr * dr;
        double td = 1 / (f * Math.Sqrt(1 - dr * dr));
        Assert.Equal(a1, a[0], 1e-12);
        Assert.Equal(1 - a1 - a3, a[1], 1e-12);
        Assert.Equal(a3, a[2], 1e-12);
        Assert.Equal(0.0, t[0]);
        Assert.Equal(t2 * td, t[1], 1e-14);
        Assert.Equal(td, t[2], 1e-15);
    }

    [Fact]
    public void Hump_ei_from_polynomials()
    {
        double f = 45, dr = 0.1;
        var (a2, t2) = InputShaperDefs.Get2HumpEiShaper(f, dr);
        // Second pulse of 2hump_ei: t = 0.49890 + 0.16270 d - 0.54262 d^2 + 6.16180 d^3 periods.
        Assert.Equal((0.49890 + 0.16270 * dr - 0.54262 * dr * dr + 6.16180 * dr * dr * dr) / f, t2[1], 1e-15);
        Assert.Equal(0.16054 + 0.76699 * dr + 2.26560 * dr * dr - 1.22750 * dr * dr * dr, a2[0], 1e-12);
        Assert.Equal(4, a2.Length);
        var (a3, t3) = InputShaperDefs.Get3HumpEiShaper(f, dr);
        Assert.Equal(5, a3.Length);
        Assert.Equal((1.99960 - 0.28231 * dr + 0.61536 * dr * dr + 5.40450 * dr * dr * dr) / f, t3[4], 1e-15);
        Assert.Equal(0.11244 - 0.45439 * dr + 0.96382 * dr * dr - 1.46000 * dr * dr * dr, a3[4], 1e-12);
    }

    // Exact values produced by upstream's shaper_defs.py (init_shaper, freq, damping ratio).
    public static TheoryData<string, double, double, double[], double[]> UpstreamValues => new()
    {
        { "zv", 33.2, 0.1, [1.0, 0.7292476142876709], [0.0, 0.01513611167559054] },
        { "mzv", 33.2, 0.1, [0.2928932188134524, 0.3268741504100068, 0.18239874354058666],
            [0.0, 0.011352083756692905, 0.02270416751338581] },
        { "mzv", 39.3, 0.4, [0.2928932188134524, 0.1481246443230195, 0.03745547668311755],
            [0.0, 0.01041115888530498, 0.02082231777060996] },
        { "zvd", 39.3, 0.4, [1.0, 0.5076534439602174, 0.06442800479116739],
            [0.0, 0.013881545180406641, 0.027763090360813283] },
        { "ei", 33.2, 0.1, [0.35488138, 0.45299809, 0.19212052999999998],
            [0.0, 0.015278317730335578, 0.03027222335118108] },
        { "ei(v_tol=0.02)", 39.3, 0.4, [0.674082952, 0.271201816, 0.054715232],
            [0.0, 0.014506883026636108, 0.027763090360813283] },
        { "2hump_ei", 33.2, 0.1, [0.2586675, 0.36011950000000004, 0.27290311, 0.10882055],
            [0.0, 0.015539325301204816, 0.03036765662650602, 0.04484717771084337] },
        { "3hump_ei", 39.3, 0.1, [0.2208542, 0.2772112, 0.25969944, 0.167055, 0.0751792],
            [0.0, 0.013753229007633589, 0.02615905852417303, 0.03831804071246819, 0.050456160305343514] },
        { "mzv(n=4)", 33.2, 0.1, [0.24999999999999997, 0.2134899901470311, 0.18231190357191773, 0.1556870659890208],
            [0.0, 0.00756805583779527, 0.01513611167559054, 0.02270416751338581] },
        { "mzv(tau=0.9)", 39.3, 0.1, [0.3487033058256943, 0.24700608924019082, 0.23235526359856346],
            [0.0, 0.008220047562098246, 0.01644009512419649] },
    };

    [Theory]
    [MemberData(nameof(UpstreamValues))]
    public void Init_shaper_matches_upstream_bit_for_bit(string name, double f, double dr, double[] a, double[] t)
    {
        var (ra, rt) = InputShaperDefs.InitShaper(name, f, dr)!.Value;
        Assert.Equal(a, ra);
        Assert.Equal(t, rt);
    }

    [Theory]
    [InlineData("zv", 33.2, 0.1, 0.1403329946431173)]
    [InlineData("mzv", 39.3, 0.4, 0.12539900880604432)]
    [InlineData("3hump_ei", 33.2, 0.1, 0.8202784812035637)]
    public void Smoothing_matches_upstream(string name, double f, double dr, double expected)
    {
        var (a, t) = InputShaperDefs.InitShaper(name, f, dr)!.Value;
        Assert.Equal(expected, InputShaperDefs.GetShaperSmoothing(a, t));
    }

    [Fact]
    public void Shaper_table()
    {
        Assert.Equal(new[] { "zv", "mzv", "zvd", "ei", "2hump_ei", "3hump_ei" },
            InputShaperDefs.InputShapers.Select(s => s.Name));
        Assert.Equal(new[] { 21.0, 23.0, 29.0, 29.0, 39.0, 48.0 }, InputShaperDefs.InputShapers.Select(s => s.MinFreq));
        Assert.Equal(new[] { 0.99, 0.99, 0.99, 0.4, 0.3, 0.2 }, InputShaperDefs.InputShapers.Select(s => s.MaxDampingRatio));
        Assert.Equal(0.1, InputShaperDefs.DefaultDampingRatio);
        Assert.Equal(20.0, InputShaperDefs.ShaperVibrationReduction);
        Assert.Equal("mzv", InputShaperDefs.GetShaperCfg("mzv(n=4, t=0.8)")!.Name);
        Assert.Equal("ei", InputShaperDefs.GetShaperCfg("ei")!.Name);
        Assert.Null(InputShaperDefs.GetShaperCfg("MZV"));
        Assert.Null(InputShaperDefs.InitShaper("foo", 40, 0.1));
        var (na, nt) = InputShaperDefs.GetNoneShaper();
        Assert.Empty(na);
        Assert.Empty(nt);
        var (ia, it) = InputShaperDefs.InputShapers[1].InitFunc(40, 0.1);
        Assert.Equal(InputShaperDefs.GetMzvShaper(40, 0.1).A, ia);
        Assert.Equal(InputShaperDefs.GetMzvShaper(40, 0.1).T, it);
    }

    [Theory]
    [InlineData("mzv(n=2)", "Failed to initialize shaper: Too small n=2, must be at least 3")]
    [InlineData("mzv(3, 1.5)", "Failed to initialize shaper: Too large t=1.500000 for n=3, must be less than 1.000000")]
    [InlineData("mzv(n=4, 1.2)", "Failed to initialize shaper: Mixing named and non-named shaper parameters is not supported")]
    [InlineData("mzv(n=40, t=0.2)", "Failed to initialize shaper: Negative-valued shaper with n=40, t=0.200000")]
    public void Shaper_errors_match_upstream(string name, string message)
    {
        var e = Assert.Throws<InvalidOperationException>(
            () => InputShaperDefs.InitShaper(name, 40, 0.1, m => new InvalidOperationException(m)));
        Assert.Equal(message, e.Message);
        var raw = Assert.Throws<ShaperException>(() => InputShaperDefs.InitShaper(name, 40, 0.1));
        Assert.Equal(message["Failed to initialize shaper: ".Length..], raw.Message);
    }

    [Theory]
    [InlineData("zv(1)", "get_zv_shaper() takes 2 positional arguments but 3 were given")]
    [InlineData("ei(1, 2)", "get_ei_shaper() takes from 2 to 3 positional arguments but 4 were given")]
    [InlineData("zv(x=1)", "get_zv_shaper() got an unexpected keyword argument 'x'")]
    [InlineData("mzv(n=3.0)", "'float' object cannot be interpreted as an integer")]
    public void Bad_parameters_are_argument_errors(string name, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => InputShaperDefs.InitShaper(name, 40, 0.1, m => new InvalidOperationException(m)));
        Assert.Equal(message, e.Message);
    }
}
