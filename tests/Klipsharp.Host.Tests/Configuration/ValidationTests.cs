using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Tests.Configuration;

public class ValidationTests
{
    private static (PrinterConfig, ConfigWrapper, TempConfigDir) Load(string text)
    {
        var d = new TempConfigDir();
        string p = d.Write("printer.cfg", text);
        var pc = new PrinterConfig();
        return (pc, pc.ReadMainConfig(p), d);
    }

    [Fact]
    public void AllOptionsReadPasses()
    {
        var (pc, root, d) = Load("[printer]\nkinematics = none\n[Stepper_X]\nStep_Pin = PA1\n");
        using var _ = d;
        root.Get("kinematics");
        root.GetSection("Stepper_X").Get("step_pin");
        pc.CheckUnusedOptions(root);
        Assert.Equal("none", pc.SettingsStatus["printer"]["kinematics"]);
        Assert.Equal("PA1", pc.SettingsStatus["stepper_x"]["step_pin"]);
        Assert.Empty(root.AccessTracking.Items);
    }

    [Fact]
    public void UnknownOptionIsReportedLowerCase()
    {
        var (pc, root, d) = Load("[printer]\nkinematics = none\nMax_Velocity = 5\n");
        using var _ = d;
        root.Get("kinematics");
        var e = Assert.Throws<ConfigError>(() => pc.CheckUnusedOptions(root));
        Assert.Equal("Option 'max_velocity' is not valid in section 'printer'", e.Message);
    }

    [Fact]
    public void UnknownSectionIsReportedLowerCase()
    {
        var (pc, root, d) = Load("[printer]\nkinematics = none\n[My_Thing]\nx = 1\n");
        using var _ = d;
        root.Get("kinematics");
        var e = Assert.Throws<ConfigError>(() => pc.CheckUnusedOptions(root));
        Assert.Equal("Section 'my_thing' is not a valid config section", e.Message);
    }

    [Fact]
    public void RegisteredSectionIsValidButItsOptionsStillNeedReading()
    {
        var (pc, root, d) = Load("[printer]\n[homing_override]\n[other]\nx = 1\n");
        using var _ = d;
        pc.RegisterValidSection("homing_override");
        pc.RegisterValidSection("other");
        var e = Assert.Throws<ConfigError>(() => pc.CheckUnusedOptions(root, ["printer"]));
        Assert.Equal("Option 'x' is not valid in section 'other'", e.Message);
    }

    [Fact]
    public void SectionWithOnlyDefaultedReadsIsValid()
    {
        var (pc, root, d) = Load("[printer]\n[idle_timeout]\n");
        using var _ = d;
        root.GetSection("idle_timeout").GetFloat("timeout", 600.0);
        // A read that returned no default (GetOrNull) does not make the section known.
        root.GetSection("printer").GetOrNull("x");
        var e = Assert.Throws<ConfigError>(() => pc.CheckUnusedOptions(root));
        Assert.Equal("Section 'printer' is not a valid config section", e.Message);
    }

    [Fact]
    public void NoteValidFalseDoesNotCount()
    {
        var (pc, root, d) = Load("[printer]\nkinematics = none\n");
        using var _ = d;
        root.Get("kinematics", noteValid: false);
        pc.RegisterValidSection("printer");
        var e = Assert.Throws<ConfigError>(() => pc.CheckUnusedOptions(root));
        Assert.Equal("Option 'kinematics' is not valid in section 'printer'", e.Message);
    }

    [Fact]
    public void RawConfigStatusKeepsStrings()
    {
        var (pc, root, d) = Load("[printer]\nKinematics = none\n[b]\nx:\n  1\n  2\n");
        using var _ = d;
        Assert.Equal(["printer", "b"], pc.RawConfigStatus.Keys);
        Assert.Equal("none", pc.RawConfigStatus["printer"]["kinematics"]);
        Assert.Equal("\n1\n2", pc.RawConfigStatus["b"]["x"]);
        Assert.Empty(root.AccessTracking.Items);
        Assert.Equal("===== Config file =====\n[printer]\nkinematics = none\n\n[b]\nx = \n\t1\n\t2\n=======================",
                     PrinterConfig.BuildLogConfigText(root));
    }

    [Fact]
    public void ReadConfigHasPrivateTracking()
    {
        using var d = new TempConfigDir();
        string p = d.Write("extra.cfg", "[printer]\na = 1\n[include nothing.cfg]\n");
        var pc = new PrinterConfig();
        var c = pc.ReadConfig(p);
        // No include processing: the include line is just a section.
        Assert.True(c.HasSection("include nothing.cfg"));
        Assert.Equal(1, c.GetInt("a"));
    }

    [Fact]
    public void WarningsDeduplicate()
    {
        var pc = new PrinterConfig();
        var logged = new List<string>();
        pc.LogWarning = logged.Add;
        pc.RuntimeWarning("hot");
        pc.RuntimeWarning("hot");
        pc.DeprecateGcode("M123");
        pc.DeprecateGcode("M123", "P");
        pc.DeprecateGcode("M123", "P", "1");
        Assert.Equal(["hot"], logged);
        Assert.Equal(4, pc.Warnings.Count);
        Assert.Equal("Command 'M123' is deprecated.", pc.Warnings[1]["message"]);
        Assert.Equal("None", pc.Warnings[1]["value"]);
        Assert.Null(pc.Warnings[1]["parameter"]);
        Assert.Equal("Parameter 'P' in command 'M123' is deprecated.", pc.Warnings[2]["message"]);
        Assert.Equal("Value 'P=1' in command 'M123' is deprecated.", pc.Warnings[3]["message"]);
    }
}
