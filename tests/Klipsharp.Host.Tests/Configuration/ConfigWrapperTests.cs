using Klipsharp.Host.Configuration;
using static Klipsharp.Host.Tests.Configuration.ConfigTestUtil;

namespace Klipsharp.Host.Tests.Configuration;

public class ConfigWrapperTests
{
    private static ConfigWrapper Section(string options, string name = "s") =>
        Wrap($"[{name}]\n{options}\n").GetSection(name);

    private static string Err(Action a) => Assert.Throws<ConfigError>(a).Message;

    [Fact]
    public void GetStrings()
    {
        var c = Section("a = hello world\nEmpty =\nmulti:\n  x\n  y");
        Assert.Equal("s", c.Name);
        Assert.Equal("hello world", c.Get("a"));
        Assert.Equal("hello world", c.Get("A"));
        Assert.Equal("", c.Get("empty"));
        Assert.Equal("\nx\ny", c.Get("multi"));
        Assert.Equal("dflt", c.Get("missing", "dflt"));
        Assert.Null(c.GetOrNull("missing"));
        Assert.Equal("hello world", c.GetOrNull("a"));
        Assert.Equal("Option 'missing' in section 's' must be specified", Err(() => c.Get("missing")));
        Assert.Equal("Option 'Missing' in section 's' must be specified", Err(() => c.Get("Missing")));
    }

    [Theory]
    [InlineData("5", 5)]
    [InlineData("-12", -12)]
    [InlineData("+7", 7)]
    [InlineData("1_000", 1000)]
    [InlineData("007", 7)]
    public void GetIntParsesLikePython(string text, int expected) =>
        Assert.Equal(expected, Section("v = " + text).GetInt("v"));

    [Theory]
    [InlineData("5.0")]
    [InlineData("0x10")]
    [InlineData("1e3")]
    [InlineData("")]
    [InlineData("1__0")]
    [InlineData("_1")]
    [InlineData("99999999999")]
    [InlineData("five")]
    public void GetIntRejects(string text) =>
        Assert.Equal("Unable to parse option 'v' in section 's'", Err(() => Section("v = " + text).GetInt("v")));

    [Fact]
    public void GetIntDefaultsAndBounds()
    {
        var c = Section("v = 5");
        Assert.Equal(3, c.GetInt("missing", 3));
        Assert.Null(c.GetIntOrNull("missing"));
        Assert.Equal(5, c.GetIntOrNull("v"));
        Assert.Equal(5, c.GetInt("v", minval: 5, maxval: 5));
        Assert.Equal("Option 'v' in section 's' must have minimum of 6", Err(() => c.GetInt("v", minval: 6)));
        Assert.Equal("Option 'v' in section 's' must have maximum of 4", Err(() => c.GetInt("v", maxval: 4)));
        Assert.Equal("Option 'w' in section 's' must be specified", Err(() => c.GetInt("w")));
        // Defaults are not range checked (as upstream).
        Assert.Equal(-1, c.GetInt("missing", -1, minval: 0));
    }

    [Theory]
    [InlineData("5", 5.0)]
    [InlineData("1e3", 1000.0)]
    [InlineData("-.5", -0.5)]
    [InlineData("5.", 5.0)]
    [InlineData("1_000.25", 1000.25)]
    [InlineData("1E-2", 0.01)]
    [InlineData("inf", double.PositiveInfinity)]
    [InlineData("-Infinity", double.NegativeInfinity)]
    [InlineData("1e400", double.PositiveInfinity)]
    [InlineData("0.1", 0.1)]
    public void GetFloatParsesLikePython(string text, double expected) =>
        Assert.Equal(expected, Section("v = " + text).GetFloat("v"));

    [Fact]
    public void GetFloatNan() => Assert.True(double.IsNaN(Section("v = NaN").GetFloat("v", minval: 0.0, above: 1)));

    [Theory]
    [InlineData("0x10")]
    [InlineData("1,5")]
    [InlineData(".")]
    [InlineData("e5")]
    [InlineData("1e")]
    [InlineData("infinit")]
    [InlineData("1._5")]
    [InlineData("")]
    public void GetFloatRejects(string text) =>
        Assert.Equal("Unable to parse option 'v' in section 's'", Err(() => Section("v = " + text).GetFloat("v")));

    [Fact]
    public void GetFloatBoundsPrintLikePython()
    {
        var c = Section("v = 0.0\nw = 2.5");
        Assert.Equal("Option 'v' in section 's' must be above 0.0", Err(() => c.GetFloat("v", above: 0.0)));
        Assert.Equal("Option 'v' in section 's' must be above 0", Err(() => c.GetFloat("v", above: 0)));
        Assert.Equal("Option 'v' in section 's' must have minimum of 1e-05", Err(() => c.GetFloat("v", minval: 1e-05)));
        Assert.Equal("Option 'v' in section 's' must have minimum of 1", Err(() => c.GetFloat("v", minval: 1)));
        Assert.Equal("Option 'w' in section 's' must have maximum of 2.0", Err(() => c.GetFloat("w", maxval: 2.0)));
        Assert.Equal("Option 'w' in section 's' must be below 2.5", Err(() => c.GetFloat("w", below: 2.5)));
        double? nullableBound = 0.5;
        Assert.Equal("Option 'v' in section 's' must have minimum of 0.5", Err(() => c.GetFloat("v", minval: nullableBound)));
        Assert.Equal(2.5, c.GetFloat("w", minval: 2.5, maxval: 2.5, above: 2.4, below: 2.6));
        Assert.Equal(7.0, c.GetFloat("missing", 7.0, above: 10));
        Assert.Null(c.GetFloatOrNull("missing", above: 0.0));
        Assert.Equal(2.5, c.GetFloatOrNull("w"));
    }

    [Fact]
    public void GetFloatBoundsBelowNegative()
    {
        var c = Section("w = 2.5");
        Assert.Equal("Option 'w' in section 's' must be below -1e+16", Err(() => c.GetFloat("w", below: -1e16)));
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("yes", true)]
    [InlineData("TRUE", true)]
    [InlineData("On", true)]
    [InlineData("0", false)]
    [InlineData("no", false)]
    [InlineData("False", false)]
    [InlineData("OFF", false)]
    public void GetBooleanWords(string text, bool expected) =>
        Assert.Equal(expected, Section("v = " + text).GetBoolean("v"));

    [Fact]
    public void GetBooleanErrorsAndDefaults()
    {
        var c = Section("v = 2\nw = y");
        Assert.Equal("Unable to parse option 'v' in section 's'", Err(() => c.GetBoolean("v")));
        Assert.Equal("Unable to parse option 'w' in section 's'", Err(() => c.GetBoolean("w")));
        Assert.True(c.GetBoolean("missing", true));
        Assert.Null(c.GetBooleanOrNull("missing"));
        Assert.Equal("Option 'x' in section 's' must be specified", Err(() => c.GetBoolean("x")));
    }

    [Fact]
    public void GetChoice()
    {
        var c = Section("algo = pid\nbad = PID\nsteps = 16\nsteps_bad = 3");
        var algos = new Dictionary<string, int> { ["watermark"] = 1, ["pid"] = 2 };
        Assert.Equal(2, c.GetChoice("algo", algos));
        Assert.Equal(1, c.GetChoice("missing", algos, "watermark"));
        Assert.Equal("Choice 'PID' for option 'bad' in section 's' is not a valid choice", Err(() => c.GetChoice("bad", algos)));
        Assert.Equal("Choice 'nope' for option 'missing' in section 's' is not a valid choice", Err(() => c.GetChoice("missing", algos, "nope")));
        Assert.Equal("Option 'missing' in section 's' must be specified", Err(() => c.GetChoice("missing", algos)));
        Assert.Equal("pid", c.GetChoice("algo", ["watermark", "pid"]));
        Assert.Equal("Choice 'PID' for option 'bad' in section 's' is not a valid choice", Err(() => c.GetChoice("bad", ["pid"])));
        var steps = new Dictionary<int, int> { [16] = 4, [8] = 5 };
        Assert.Equal(4, c.GetChoice("steps", steps));
        Assert.Equal(5, c.GetChoice("missing", steps, 8));
        Assert.Equal("Choice '3' for option 'steps_bad' in section 's' is not a valid choice", Err(() => c.GetChoice("steps_bad", steps)));
        Assert.Equal("Unable to parse option 'algo' in section 's'", Err(() => c.GetChoice("algo", steps)));
        Assert.Equal(16, c.GetChoice("steps", [8, 16]));
    }

    [Fact]
    public void GetChoiceWithNoneAllowed()
    {
        var root = Wrap("[s]\nmode = OD\nbad = x\n");
        var c = root.GetSection("s");
        Assert.Null(c.GetChoiceOrNull("missing", ["arduino"]));
        Assert.Equal("OD", c.GetChoiceOrNull("mode", ["5V", "OD"]));
        Assert.Equal("Choice 'x' for option 'bad' in section 's' is not a valid choice", Err(() => c.GetChoiceOrNull("bad", ["5V"])));
        var modes = new Dictionary<string, int> { ["5V"] = 1, ["OD"] = 2 };
        Assert.Equal(0, c.GetChoiceOrDefault("missing", modes, 0));
        Assert.Equal(2, c.GetChoiceOrDefault("mode", modes, 0));
        // Upstream's default None is not recorded as a read value.
        Assert.Equal([("s", "mode"), ("s", "bad")], root.AccessTracking.Items.Select(kv => kv.Key));
        Assert.DoesNotContain(root.AccessTracking.Items, kv => kv.Key.Option == "missing");
    }

    [Fact]
    public void GetLists()
    {
        var c = Section("a = x, y ,,z\nb = 1,2, 3\nf = 1.5; 2\nempty =\npts:\n  1, 2\n\n  3,4\npins = ar1=PA1, ar2 = PA2\nbadint = 1,x");
        Assert.Equal(["x", "y", "", "z"], c.GetList("a"));
        Assert.Equal([1, 2, 3], c.GetIntList("b"));
        Assert.Equal([1.5, 2.0], c.GetFloatList("f", sep: ';'));
        Assert.Empty(c.GetList("empty"));
        Assert.Equal(["d"], c.GetList("missing", ["d"]));
        Assert.Null(c.GetListOrNull("missing"));
        Assert.Null(c.GetIntListOrNull("missing"));
        Assert.Null(c.GetFloatListOrNull("missing"));
        Assert.Equal([1.0, 2.0, 3.0], c.GetFloatListOrNull("b"));
        Assert.Equal("Option 'b' in section 's' must have 2 elements", Err(() => c.GetIntList("b", count: 2)));
        Assert.Equal("Option 'empty' in section 's' must have 1 elements", Err(() => c.GetList("empty", count: 1)));
        Assert.Equal("Unable to parse option 'badint' in section 's'", Err(() => c.GetIntList("badint")));
        Assert.Equal("Unable to parse option 'a' in section 's'", Err(() => c.GetFloatList("a")));
        Assert.Equal("Option 'missing' in section 's' must be specified", Err(() => c.GetList("missing")));

        var pts = c.GetFloatLists("pts", count: 2);
        Assert.Equal(2, pts.Count);
        Assert.Equal([1.0, 2.0], pts[0]);
        Assert.Equal([3.0, 4.0], pts[1]);
        Assert.Equal("Option 'pts' in section 's' must have 3 elements", Err(() => c.GetFloatLists("pts", count: 3)));
        var pins = c.GetLists("pins", innerSep: '=', outerSep: ',', count: 2);
        Assert.Equal(["ar1", "PA1"], pins[0]);
        Assert.Equal(["ar2", "PA2"], pins[1]);
        Assert.Equal([[1, 2], [3, 4]], c.GetIntLists("pts").Select(l => l.ToArray()).ToArray());
        Assert.Empty(c.GetLists("empty"));
        Assert.Null(c.GetListsOrNull("missing", double.Parse));
        Assert.Equal([[1.0, 2.0], [3.0, 4.0]], c.GetLists("pts", s => double.Parse(s) * 1.0).Select(l => l.ToArray()).ToArray());
        Assert.Equal("Unable to parse option 'a' in section 's'", Err(() => c.GetLists("a", int.Parse)));
    }

    [Fact]
    public void SectionsAndOptions()
    {
        var root = Wrap("[printer]\n[stepper_x]\nStep_Pin: PA1\ndir_pin: PA2\nenable_pin: PA3\n[stepper_y]\n[extruder]\n");
        Assert.Equal("printer", root.Name);
        Assert.Equal(["stepper_x", "stepper_y"], root.GetPrefixSections("stepper_").Select(s => s.Name));
        Assert.Equal(4, root.GetPrefixSections("").Count);
        Assert.True(root.HasSection("extruder"));
        Assert.False(root.HasSection("Extruder"));
        var sx = root.GetSection("stepper_x");
        Assert.Equal(["step_pin", "dir_pin"], sx.GetPrefixOptions("d").Prepend("step_pin"));
        Assert.Equal(["step_pin", "dir_pin", "enable_pin"], sx.GetOptionNames());
        Assert.Equal("No section: 'nope'", Err(() => root.GetSection("nope").GetPrefixOptions("")));
        Assert.Equal("Option 'x' in section 'nope' must be specified", Err(() => root.GetSection("nope").Get("x")));
        Assert.Equal("boom", root.Error("boom").Message);
    }

    [Fact]
    public void OwnerIsInheritedBySectionWrappers()
    {
        var root = Wrap("[printer]\n[a]\n");
        var owner = new object();
        root.Owner = owner;
        Assert.Same(owner, root.GetSection("a").Owner);
        Assert.Same(owner, root.GetPrefixSections("a")[0].Owner);
    }

    [Fact]
    public void AccessTrackingRecordsValuesAndDefaults()
    {
        var root = Wrap("[printer]\n[S]\nA = 5\nb = x\n");
        var s = root.GetSection("S");
        s.GetInt("a");
        s.Get("b", noteValid: false);
        s.GetFloat("missing", 2.5);
        s.GetOrNull("missing2");
        s.GetListOrNull("missing3");
        var items = root.AccessTracking.Items;
        Assert.Equal([("s", "a"), ("s", "missing")], items.Select(kv => kv.Key));
        Assert.Equal(5, items[0].Value);
        Assert.Equal(2.5, items[1].Value);
    }

    [Fact]
    public void DeprecateRecordsOnlySetOptions()
    {
        using var d = new TempConfigDir();
        string p = d.Write("printer.cfg", "[printer]\nold = 1\nmode = legacy\n");
        var pc = new PrinterConfig();
        var root = pc.ReadMainConfig(p);
        root.Deprecate("old");
        root.Deprecate("old");
        root.Deprecate("missing");
        root.Deprecate("mode", "legacy");
        Assert.Equal(2, pc.Warnings.Count);
        Assert.Equal(
            [new("type", "deprecated_option"), new("message", "Option 'old' in section 'printer' is deprecated."),
             new("section", "printer"), new("option", "old")],
            pc.Warnings[0].Fields);
        Assert.Equal("deprecated_value", pc.Warnings[1]["type"]);
        Assert.Equal("legacy", pc.Warnings[1]["value"]);
        Assert.Equal("Value 'legacy' in option 'mode' in section 'printer' is deprecated.", pc.Warnings[1]["message"]);
    }
}
