using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.Kinematics;

public class InputShaperParamsTests
{
    private static ConfigWrapper Section(string body) =>
        new(ConfigFile.Build("[input_shaper]\n" + body, "printer.cfg"), new ConfigAccessTracking(), "input_shaper");

    [Fact]
    public void DefaultsAreMzvWithoutFrequency()
    {
        var p = new InputShaperParams("x", Section(""));
        Assert.Equal("mzv", p.ShaperType);
        Assert.Equal(0.0, p.ShaperFreq);
        Assert.Equal(0.1, p.DampingRatio);
        Assert.Equal(0, p.GetShaper().N);
        Assert.Equal([("shaper_type", "mzv"), ("shaper_freq", "0.000"), ("damping_ratio", "0.100000")], p.GetStatus());
    }

    [Fact]
    public void PerAxisTypeOverridesCommonType()
    {
        var cfg = Section("shaper_type: ei\nshaper_type_y: 2hump_ei\nshaper_freq_x: 50\nshaper_freq_y: 80\n");
        var px = new InputShaperParams("x", cfg);
        var py = new InputShaperParams("y", cfg);
        Assert.Equal("ei", px.ShaperType);
        Assert.Equal("2hump_ei", py.ShaperType);
        Assert.Equal(3, px.GetShaper().N);
        Assert.Equal(4, py.GetShaper().N);
    }

    [Fact]
    public void UnknownShaperTypeIsAConfigError()
    {
        var e = Assert.Throws<ConfigError>(() => new InputShaperParams("x", Section("shaper_type_x: foo\n")));
        Assert.Equal("Unsupported shaper type: foo", e.Message);
    }

    [Fact]
    public void DampingRatioLimitedByShaper()
    {
        var e = Assert.Throws<ConfigError>(() =>
            new InputShaperParams("x", Section("shaper_type: 3hump_ei\ndamping_ratio_x: 0.3\n")));
        Assert.Equal("Option 'damping_ratio_x' in section 'input_shaper' must have maximum of 0.2", e.Message);
    }

    [Fact]
    public void BadShaperArgumentsFailAtStartup()
    {
        var e = Assert.Throws<ConfigError>(() =>
            new InputShaperParams("x", Section("shaper_type_x: mzv(n=1)\nshaper_freq_x: 40\n")));
        Assert.StartsWith("Failed to initialize shaper: ", e.Message);
    }

    [Fact]
    public void ParameterizedShaperType()
    {
        var p = new InputShaperParams("x", Section("shaper_type_x: mzv(5,0.6)\nshaper_freq_x: 22.2\n"));
        Assert.Equal("mzv(5,0.6)", p.ShaperType);
        Assert.Equal(5, p.GetShaper().N);
    }
}
