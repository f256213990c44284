using Klipsharp.Host.Configuration;
using static Klipsharp.Host.Tests.Configuration.ConfigTestUtil;

namespace Klipsharp.Host.Tests.Configuration;

public class AutoSaveTests
{
    private const string H = AutosaveHeader;

    [Fact]
    public void AutosaveBlockAddsValuesButRegularOptionsWin()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\na = 1\n[extruder]\npid_kp = 1\n" + H +
            "#*# [extruder]\n#*# pid_kp = 22.5\n#*# pid_ki = 1.0\n#*#\n#*# [bed_mesh default]\n#*# version = 1\n" +
            "#*# points =\n#*# \t1, 2\n#*# \t3, 4\n");
        var asv = new ConfigAutoSave();
        var (regular, autosave) = asv.LoadMainConfig(p);
        // Upstream comments out autosave options the regular part already sets.
        AssertDump(
            [("printer", [("a", "1")]), ("extruder", [("pid_kp", "1"), ("pid_ki", "1.0")]),
             ("bed_mesh default", [("version", "1"), ("points", "\n1, 2\n3, 4")])], regular);
        AssertDump(
            [("extruder", [("pid_ki", "1.0")]), ("bed_mesh default", [("version", "1"), ("points", "\n1, 2\n3, 4")])], autosave);
    }

    [Fact]
    public void AutosaveDuplicateContinuationLinesAreDroppedToo()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[stepper_z]\nposition_endstop = 1\n  more\nx = 2\n" + H +
            "#*# [stepper_z]\n#*# position_endstop = 0.5\n#*#   cont\n#*# y = 3 ; c\n#*# [other]\n#*# position_endstop = 5\n");
        var (regular, autosave) = new ConfigAutoSave().LoadMainConfig(p);
        AssertDump(
            [("stepper_z", [("position_endstop", "1\nmore"), ("x", "2"), ("y", "3")]), ("other", [("position_endstop", "5")])], regular);
        AssertDump([("stepper_z", [("y", "3")]), ("other", [("position_endstop", "5")])], autosave);
    }

    [Theory]
    [InlineData("[printer]\na = 1\n#*# x = 1\n" + H + "#*# [e]\n#*# a = 1\n", "autosave state corrupted", "[printer]\na=1")]
    [InlineData("[printer]\n" + H + "#*# [e]\n" + H + "#*# [f]\n", "autosave state corrupted", "[printer]")]
    [InlineData("[printer]\na = 1\n" + H + "#*# [e]\n#*# a = 1\nb = 2\n", "modifications after header", "[printer]\na=1\nb=2")]
    [InlineData("[printer]\n" + H + "#*# [e]\n#*#x = 1\n", "modifications after header", "[printer]")]
    public void CorruptedAutosaveIsIgnoredWithWarning(string text, string warning, string expected)
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", text);
        var warnings = new List<string>();
        var asv = new ConfigAutoSave { LogWarning = warnings.Add };
        var (regular, autosave) = asv.LoadMainConfig(p);
        Assert.Equal(["Can't read autosave from config file - " + warning], warnings);
        Assert.Empty(autosave.Sections());
        var lines = Dump(regular).SelectMany(s => new[] { $"[{s.Section}]" }.Concat(s.Options.Select(o => $"{o.Item1}={o.Item2}")));
        Assert.Equal(expected, string.Join("\n", lines));
    }

    [Fact]
    public void HeaderOnlyAndTrailingBlankLines()
    {
        using var d = new TempConfigDir();
        var (r1, a1) = new ConfigAutoSave().LoadMainConfig(d.Write("a.cfg", "[printer]\na=1\n" + H));
        Assert.Equal(["printer"], r1.Sections());
        Assert.Empty(a1.Sections());
        var (_, a2) = new ConfigAutoSave().LoadMainConfig(d.Write("b.cfg", "[printer]\n" + H + "#*# [e]\n#*# a = 1 # x\n#*# b = 2 ; y\n\n\n"));
        AssertDump([("e", [("a", "1"), ("b", "2")])], a2);
    }

    [Fact]
    public void AutosaveValuesDoNotCountAsUnusedOptions()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\nkinematics = none\n" + H + "#*# [probe]\n#*# z_offset = 1.5\n");
        var pc = new PrinterConfig();
        var root = pc.ReadMainConfig(p);
        Assert.Equal("none", root.Get("kinematics"));
        Assert.Equal(1.5, root.GetSection("probe").GetFloat("z_offset", 0.0, noteValid: false));
        pc.CheckUnusedOptions(root);
    }

    [Fact]
    public void SaveConfigCommentsOutRegularValuesAndWritesBlock()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\nkinematics = none\n[extruder]\npid_Kp = 1 # old\n  cont\npid_ki: 2\n");
        var pc = new PrinterConfig();
        pc.ReadMainConfig(p);
        pc.Set("extruder", "pid_kp", 22.5);
        pc.Set("extruder", "pid_ki", 1.25);
        pc.Set("bed_mesh default", "points", "\n1, 2\n3, 4");
        pc.Set("probe", "z_offset", 1e-05);
        Assert.True(pc.AutoSave.SaveConfigPending);
        Assert.Equal(["extruder", "bed_mesh default", "probe"], pc.AutoSave.PendingItems.Keys);
        Assert.Equal("22.5", pc.AutoSave.PendingItems["extruder"]!["pid_kp"]);
        var now = new DateTime(2024, 5, 6, 7, 8, 9);
        Assert.True(pc.AutoSave.SaveConfig(p, now));
        Assert.Equal(
            "[printer]\nkinematics = none\n[extruder]\n#pid_Kp = 1 # old\n#  cont\n#pid_ki: 2\n\n" +
            "#*# <---------------------- SAVE_CONFIG ---------------------->\n" +
            "#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.\n#*#\n" +
            "#*# [extruder]\n#*# pid_kp = 22.5\n#*# pid_ki = 1.25\n#*#\n" +
            "#*# [bed_mesh default]\n#*# points =\n#*# \t1, 2\n#*# \t3, 4\n#*#\n" +
            "#*# [probe]\n#*# z_offset = 1e-05\n",
            d.Read("printer.cfg"));
        Assert.Equal("[printer]\nkinematics = none\n[extruder]\npid_Kp = 1 # old\n  cont\npid_ki: 2\n",
                     d.Read("printer-20240506_070809.cfg"));
        Assert.False(File.Exists(Path.Combine(d.Path, "printer_autosave.cfg")));
        // The saved file reads back with the new values.
        var root = new PrinterConfig().ReadMainConfig(p);
        Assert.Equal(22.5, root.GetSection("extruder").GetFloat("pid_kp"));
    }

    [Fact]
    public void SaveConfigReplacesOldBlockAndRemovesSections()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\n" + H + "#*# [extruder]\n#*# pid_kp = 1\n#*#\n#*# [old]\n#*# x = 1\n");
        var pc = new PrinterConfig();
        pc.ReadMainConfig(p);
        pc.Set("extruder", "pid_kd", 3);
        pc.RemoveSection("old");
        Assert.Null(pc.AutoSave.PendingItems["old"]);
        Assert.Equal("[printer]\n\n" + H.TrimStart('\n') + "#*# [extruder]\n#*# pid_kp = 1\n#*# pid_kd = 3\n",
                     pc.AutoSave.RenderSaveConfig(p));
    }

    [Fact]
    public void SaveConfigRejectsValuesFromIncludes()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\n[include inc.cfg]\n");
        d.Write("inc.cfg", "[probe]\nz_offset = 1\n");
        var pc = new PrinterConfig();
        pc.ReadMainConfig(p);
        pc.Set("probe", "z_offset", 2.0);
        var e = Assert.Throws<ConfigError>(() => pc.AutoSave.RenderSaveConfig(p));
        Assert.Equal("SAVE_CONFIG section 'probe' option 'z_offset' conflicts with included value", e.Message);
    }

    [Fact]
    public void SaveConfigWithNothingToSave()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\nx=1\n");
        var pc = new PrinterConfig();
        pc.ReadMainConfig(p);
        Assert.Null(pc.AutoSave.RenderSaveConfig(p));
        Assert.False(pc.AutoSave.SaveConfig(p, DateTime.Now));
    }

    [Fact]
    public void SaveConfigErrors()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\nx=1\n");
        var pc = new PrinterConfig();
        pc.ReadMainConfig(p);
        pc.Set("probe", "z_offset", 2.0);
        d.Write("printer.cfg", "[printer]\nfoo\n");
        Assert.Equal("Unable to parse existing config on SAVE_CONFIG",
                     Assert.Throws<ConfigError>(() => pc.AutoSave.RenderSaveConfig(p)).Message);
        File.Delete(p);
        Assert.Equal("Unable to read existing config on SAVE_CONFIG",
                     Assert.Throws<ConfigError>(() => pc.AutoSave.RenderSaveConfig(p)).Message);
        d.Write("printer.cfg", "[printer]\n" + H + "#*# [e]\n" + H);
        Assert.Equal("Existing config autosave is corrupted. Can't complete SAVE_CONFIG",
                     Assert.Throws<ConfigError>(() => pc.AutoSave.RenderSaveConfig(p)).Message);
    }

    [Fact]
    public void SaveConfigFileNames()
    {
        var t = new DateTime(2024, 1, 2, 3, 4, 5);
        Assert.Equal(("/a/printer-20240102_030405.cfg", "/a/printer_autosave.cfg"), ConfigAutoSave.SaveConfigFileNames("/a/printer.cfg", t));
        Assert.Equal(("/a/printer.conf-20240102_030405", "/a/printer.conf_autosave"), ConfigAutoSave.SaveConfigFileNames("/a/printer.conf", t));
    }
}
