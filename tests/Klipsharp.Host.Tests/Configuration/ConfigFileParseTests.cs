using Klipsharp.Host.Configuration;
using static Klipsharp.Host.Tests.Configuration.ConfigTestUtil;

namespace Klipsharp.Host.Tests.Configuration;

public class ConfigFileParseTests
{
    [Fact]
    public void BothSeparatorsAndSurroundingSpaces()
    {
        var c = Parse("[printer]\nkinematics: cartesian\nmax_velocity = 300\nmax_accel:3000\nsquare_corner_velocity=  5.0  \n");
        Assert.Equal("cartesian", c.Get("printer", "kinematics"));
        Assert.Equal("300", c.Get("printer", "max_velocity"));
        Assert.Equal("3000", c.Get("printer", "max_accel"));
        Assert.Equal("5.0", c.Get("printer", "square_corner_velocity"));
    }

    [Fact]
    public void FirstDelimiterSplitsNameFromValue()
    {
        var c = Parse("[s]\na:b=c\nd = e:f\ng=\nh:\nj=  k  \n[x:y]\nk=1\n");
        AssertDump(
            [("s", [("a", "b=c"), ("d", "e:f"), ("g", ""), ("h", ""), ("j", "k")]), ("x:y", [("k", "1")])], c);
    }

    [Fact]
    public void ContinuationLinesKeepBlankAndHashCommentLines()
    {
        var c = Parse("[gcode_macro X]\ngcode:\n  G28\n  # comment\n\n  G1 X0 ; semi\n  ; full semi\n\n\n[b]\na=1\n  b\n c\nd = 2\n");
        // '#' lines become blank (klippy strips them) and stay in the value; ';' comment lines do not.
        Assert.Equal("\nG28\n\n\nG1 X0", c.Get("gcode_macro X", "gcode"));
        Assert.Equal("1\nb\nc", c.Get("b", "a"));
        Assert.Equal("2", c.Get("b", "d"));
    }

    [Fact]
    public void ContinuationNeedsDeeperIndentThanTheOptionLine()
    {
        var c = Parse("[s]\n  a = 1\n   b\n  c = 2\n c2 = 3\n    d\n");
        AssertDump([("s", [("a", "1\nb"), ("c", "2"), ("c2", "3\nd")])], c);
        // An indented line after an option is a continuation, even if it looks like an option.
        var c2 = Parse("[printer]\nmax_velocity = 300\n  Max_Accel :  3000  \n");
        Assert.Equal("300\nMax_Accel :  3000", c2.Get("printer", "max_velocity"));
        Assert.False(c2.HasOption("printer", "max_accel"));
    }

    [Fact]
    public void Comments()
    {
        var c = Parse("[s] # header comment\na = 1;x\nb = 1 ;x\nc = 1#x\nd = x;y z ;w\ne = a\t;b\n;f = 3\n# g = 4\n");
        // '#' cuts anywhere; ';' only at line start or after whitespace.
        AssertDump([("s", [("a", "1;x"), ("b", "1"), ("c", "1"), ("d", "x;y z"), ("e", "a")])], c);
    }

    [Fact]
    public void OptionNamesLowerCasedSectionNamesKeepCase()
    {
        var c = Parse("[Stepper_X]\nStep_Pin: PA1\n[stepper_x]\nstep_pin: PB1\n");
        Assert.Equal(["Stepper_X", "stepper_x"], c.Sections());
        Assert.Equal(["step_pin"], c.Options("Stepper_X"));
        Assert.Equal("PA1", c.Get("Stepper_X", "STEP_PIN"));
        Assert.True(c.HasOption("Stepper_X", "Step_Pin"));
        Assert.False(c.HasSection("STEPPER_X"));
    }

    [Fact]
    public void DuplicateSectionsMergeAndLaterOptionsOverrideInPlace()
    {
        var c = Parse("[s]\na=1\nb=2\n[t]\nx=1\n[s]\na=3\nc=4\n");
        AssertDump([("s", [("a", "3"), ("b", "2"), ("c", "4")]), ("t", [("x", "1")])], c);
    }

    [Fact]
    public void DefaultSectionAppliesToAllSections()
    {
        var c = Parse("[DEFAULT]\nz = 9\n[s]\na = 1\n[t]\nz = 2\n");
        AssertDump([("s", [("a", "1"), ("z", "9")]), ("t", [("z", "2")])], c);
        Assert.False(c.HasSection("DEFAULT"));
    }

    [Fact]
    public void SectionHeaderIsTextUpToLastBracket()
    {
        var c = Parse("[s] trailing\na=1\n[t]]\nb=2\n");
        Assert.Equal(["s", "t]"], c.Sections());
    }

    [Fact]
    public void LineOutsideAnySectionNamesFileAndLine()
    {
        var e = Assert.Throws<ConfigError>(() => Parse("\n\n  foo bar\n", "printer.cfg"));
        Assert.Equal("File contains no section headers.\nfile: 'printer.cfg', line: 3\n'  foo bar\\n'", e.Message);
        e = Assert.Throws<ConfigError>(() => Parse("a = 1", "/x/printer.cfg"));
        Assert.Equal("File contains no section headers.\nfile: '/x/printer.cfg', line: 1\n'a = 1'", e.Message);
    }

    [Fact]
    public void ParsingErrorsListEveryBadLine()
    {
        var e = Assert.Throws<ConfigError>(() => Parse("[s]\nfoo\na=1\n= 5\n:x\nbar baz\n[]\n", "printer.cfg"));
        Assert.Equal("Source contains parsing errors: 'printer.cfg'" +
                     "\n\t[line  2]: 'foo\\n'\n\t[line  4]: '= 5\\n'\n\t[line  5]: ':x\\n'" +
                     "\n\t[line  6]: 'bar baz\\n'\n\t[line  7]: '[]\\n'", e.Message);
    }

    [Fact]
    public void CrLfAndCrLineEndings()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[s]\r\na = 1\r\nb = 2\r\n  c\r\n[t]\rq=1\r");
        var c = ConfigFile.Load(p);
        AssertDump([("s", [("a", "1"), ("b", "2\nc")]), ("t", [("q", "1")])], c);
    }

    [Fact]
    public void ByteOrderMarkIsNotSkipped()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "\ufeff[s]\na=1\n");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(p));
        Assert.Equal($"File contains no section headers.\nfile: '{p}', line: 1\n'\\ufeff[s]\\n'", e.Message);
    }

    [Fact]
    public void UnreadableFile()
    {
        using var d = new TempConfigDir();
        string p = System.IO.Path.Combine(d.Path, "missing.cfg");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(p));
        Assert.Equal($"Unable to open config file {p}", e.Message);
        string bad = System.IO.Path.Combine(d.Path, "latin1.cfg");
        File.WriteAllBytes(bad, [.. "[s]\na = "u8, 0xe9, 0x0a]);
        e = Assert.Throws<ConfigError>(() => ConfigFile.Load(bad));
        Assert.Equal($"Unable to open config file {bad}", e.Message);
    }

    [Fact]
    public void WriteMatchesConfigParser()
    {
        var c = Parse("[s]\nA: 1\nb =\n  x\n\n  y\n[t]\n");
        Assert.Equal("[s]\na = 1\nb = \n\tx\n\t\n\ty\n\n[t]\n\n", c.Write());
        Assert.Equal("[s]\na = 1\nb = \n\tx\n\t\n\ty\n\n[t]", c.BuildConfigString());
    }

    [Fact]
    public void ParsesEveryGoldenConfig()
    {
        string golden = GoldenDir();
        var files = Directory.GetFiles(System.IO.Path.Combine(golden, "config"), "*.cfg")
            .Concat(Directory.GetFiles(System.IO.Path.Combine(golden, "test", "klippy"), "*.cfg"))
            .ToList();
        Assert.True(files.Count > 100, $"only {files.Count} configs found");
        int sections = 0, options = 0;
        foreach (var f in files)
        {
            var pc = new PrinterConfig();
            var root = pc.ReadMainConfig(f);
            foreach (var s in root.GetPrefixSections(""))
            {
                sections++;
                options += s.GetOptionNames().Count;
            }
        }
        // Totals from upstream's ConfigAutoSave.load_main_config over the same 259 files.
        if (files.Count == 259)
        {
            Assert.Equal(3086, sections);
            Assert.Equal(18238, options);
        }
    }

    [Fact]
    public void GoldenMacroValueMatchesUpstreamParse()
    {
        // Spot check against upstream: sample-macros.cfg's first macro.
        var pc = new PrinterConfig();
        var root = pc.ReadMainConfig(System.IO.Path.Combine(GoldenDir(), "config", "sample-macros.cfg"));
        var sections = root.GetPrefixSections("gcode_macro ");
        Assert.NotEmpty(sections);
        foreach (var s in sections)
            Assert.DoesNotContain("#", s.Get("gcode", "", noteValid: false));
    }
}
