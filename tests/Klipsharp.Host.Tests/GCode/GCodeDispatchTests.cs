using Klipsharp.Host;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Tests.GCode;

// Expected texts were produced by upstream gcode.py fed the same lines.
public class GCodeDispatchTests
{
    private readonly Printer _printer = new(new Reactor(), new StartArgs { ConfigFile = "printer.cfg" });
    private readonly GCodeDispatch _gcode;
    private readonly List<string> _out = new();

    public GCodeDispatchTests()
    {
        _gcode = new GCodeDispatch(_printer);
        _gcode.RegisterOutputHandler(_out.Add);
        GCodeDispatch.SoftwareVersion = "None";
    }

    private List<string> Run(params string[] lines)
    {
        _out.Clear();
        _gcode.ProcessCommands(lines);
        return _out.ToList();
    }

    private void SetupReady()
    {
        _printer.SendEvent("klippy:ready");
        _gcode.RegisterCommand("TEST_CMD", g => g.RespondInfo("params=" + string.Join(", ",
            g.GetCommandParameters().OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))), desc: "A test");
        Action<GCodeCommand> f = g =>
        {
            double? v = g.GetFloatOrNull("V", minval: 1.0, maxval: 5.0);
            int i = g.GetInt("I", 3, minval: 0);
            g.RespondInfo($"v={(v is null ? "None" : PyFormat.Repr(v.Value))} i={i}");
        };
        _gcode.RegisterCommand("FLOAT_CMD", f);
        _gcode.RegisterCommand("G4", f);
        Action<GCodeCommand> M(string name) => g => g.RespondInfo("mux " + name);
        _gcode.RegisterMuxCommand("MUXC", "EXTRUDER", null, M("default"));
        _gcode.RegisterMuxCommand("MUXC", "EXTRUDER", "extruder", M("extruder"));
        _gcode.RegisterMuxCommand("MUXC", "EXTRUDER", "extruder1", M("extruder1"));
        _gcode.RegisterMuxCommand("MUX2", "NAME", "abc", M("abc"));
        _gcode.RegisterMuxCommand("MUX2", "NAME", "def", M("def"));
    }

    private const string NotReady = "// Printer is not ready\n// The klippy host software is attempting to connect.  Please\n// retry in a few moments.";

    [Fact]
    public void NotReadyResponses()
    {
        var res = Run("FOO", "G1 X1", "M105", "M21", "", "STATUS", "M115", "ECHO  hello  there ");
        Assert.Equal(new[]
        {
            NotReady, "!! Printer is not ready", "ok",
            NotReady, "!! Printer is not ready", "ok",
            "ok T:0",
            "ok",
            NotReady, "!! Printer is not ready", "ok",
            NotReady + "\n// Klipper state: Not ready", "!! Printer is not ready", "ok",
            "ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:None",
            "!! Malformed command 'ECHO  hello  there'", "ok",
        }, res);
    }

    [Fact]
    public void ReadyResponses()
    {
        SetupReady();
        var res = Run("FOO", "TEST_CMD a=1 B=\"x y\" c='q' ;comment", "TEST_CMD a=1 b", "TEST_CMD a=\"1", "test_cmd x=1",
            "M104 S0", "M140", "M106 S0", "M107", "M106 S1", "M117 1.5 hi", "G4 V=3", "FLOAT_CMD V=0.5", "FLOAT_CMD V=6",
            "FLOAT_CMD V=x", "FLOAT_CMD I=-1", "FLOAT_CMD I=1.5", "FLOAT_CMD V=2 I=2", "G4 V3 I7", "MUXC",
            "MUXC EXTRUDER=extruder1", "MUXC EXTRUDER=ext", "MUXC EXTRUDER=zz", "MUX2", "MUX2 NAME=zz", "MUX2 NAME=de",
            "STATUS", "HELP", "TEST_CMD A=1*23", "N5 TEST_CMD A=1*23", "TEST_CMD A=\\\"x\\\" B=\"p\\\"q\"", "M105");
        Assert.Equal(new[]
        {
            "// Unknown command:\"FOO\"", "ok",
            "// params=A=1, B=x y, C=q", "ok",
            "!! Malformed command 'TEST_CMD a=1 b'", "ok",
            "!! Malformed command 'TEST_CMD a=\"1'", "ok",
            "// params=X=1", "ok",
            "ok", "ok", "ok", "ok",
            "// Unknown command:\"M106\"", "ok",
            "// Unknown command:\"M117 1.5\"", "ok",
            "!! Error on 'G4 V=3': unable to parse =3", "ok",
            "!! Error on 'FLOAT_CMD V=0.5': V must have minimum of 1.0", "ok",
            "!! Error on 'FLOAT_CMD V=6': V must have maximum of 5.0", "ok",
            "!! Error on 'FLOAT_CMD V=x': unable to parse x", "ok",
            "!! Error on 'FLOAT_CMD I=-1': I must have minimum of 0", "ok",
            "!! Error on 'FLOAT_CMD I=1.5': unable to parse 1.5", "ok",
            "// v=2.0 i=2", "ok",
            "// v=3.0 i=7", "ok",
            "// mux default", "ok",
            "// mux extruder1", "ok",
            "!! The value 'ext' is not valid for EXTRUDER. Did you mean 'extruder1'?", "ok",
            "!! The value 'zz' is not valid for EXTRUDER. Options: 'extruder', 'extruder1'", "ok",
            "!! Error on 'MUX2': missing NAME", "ok",
            "!! The value 'zz' is not valid for NAME. Options: 'abc', 'def'", "ok",
            "!! The value 'de' is not valid for NAME. Did you mean 'def'?", "ok",
            "// Klipper state: Ready", "ok",
            "// Available extended commands:\n// FIRMWARE_RESTART: Restart firmware, host, and reload config\n// HELP      : Report the list of available extended G-Code commands\n// RESTART   : Reload config file and restart host software\n// STATUS    : Report the printer status\n// TEST_CMD  : A test", "ok",
            "// params=A=1*23", "ok",
            "// params=A=1", "ok",
            "// params=A=\"x\", B=p\"q", "ok",
            "ok T:0",
        }, res);
    }

    [Theory]
    [InlineData("lower", "Can't register 'lower' as it is an invalid name")]
    [InlineData("1ABC", "Can't register '1ABC' as it is an invalid name")]
    [InlineData("A1BC", "Can't register 'A1BC' as it is an invalid name")]
    [InlineData("A B", "Can't register 'A B' as it is an invalid name")]
    [InlineData("HELP", "gcode command HELP already registered")]
    public void InvalidRegistrations(string name, string error)
    {
        var e = Assert.Throws<ConfigError>(() => _gcode.RegisterCommand(name, _ => { }));
        Assert.Equal(error, e.Message);
    }

    [Fact]
    public void MuxKeyConflict()
    {
        _gcode.RegisterMuxCommand("MUX2", "NAME", "abc", _ => { });
        var e = Assert.Throws<ConfigError>(() => _gcode.RegisterMuxCommand("MUX2", "OTHER", "x", _ => { }));
        Assert.Equal("mux command MUX2 OTHER x may have only one key (NAME)", e.Message);
    }

    [Theory]
    [InlineData("G1 X10 Y20", "G1", "G=1|X=10|Y=20", "X10 Y20")]
    [InlineData("N123 G1 X5*45", "G1", "N=123|G=1|X=5|*=45", "X5")]
    [InlineData("g1 x1.5 ; comment", "G1", "G=1|X=1.5", "x1.5 ; comment")]
    [InlineData("M117 Hello World", "M117", "M=117|HELLO=|WORLD=", "Hello World")]
    [InlineData("SET_FOO BAR=1 baz=\"a b\"", "SET_FOO", "SET_FOO=|BAR==1|BAZ==\"|A=|B=\"", "BAR=1 baz=\"a b\"")]
    [InlineData("  ", "", "", "")]
    [InlineData("M104S200", "M104", "M=104|S=200", "S200")]
    [InlineData("G1X10Y-2.5E.3", "G1", "G=1|X=10|Y=-2.5|E=.3", "X10Y-2.5E.3")]
    [InlineData("N10 M110 N10*12", "M110", "N=10|M=110|*=12", "N10")]
    [InlineData("M112 ;x", "M112", "M=112", ";x")]
    [InlineData("G1 X*5", "G1", "G=1|X=|*=5", "X*5")]
    [InlineData("T0", "T0", "T=0", "")]
    [InlineData("M117 1.5 test", "M117 1.5", "M=117 1.5|TEST=", "test")]
    public void ParseLine(string line, string cmd, string parameters, string raw)
    {
        string origline = PyFormat.Strip(line);
        var (c, p) = GCodeDispatch.ParseLine(origline);
        Assert.Equal(cmd, c);
        Assert.Equal(parameters, string.Join("|", p.Select(kv => $"{kv.Key}={kv.Value}")));
        var gcmd = _gcode.CreateGCodeCommand(c, origline, p);
        Assert.Equal(raw, gcmd.GetRawCommandParameters());
    }

    [Fact]
    public void RunScriptRethrowsErrors()
    {
        SetupReady();
        var e = Assert.Throws<CommandError>(() => _gcode.RunScriptFromCommand("TEST_CMD A=1\nFLOAT_CMD V=9\nTEST_CMD B=2"));
        Assert.Equal("Error on 'FLOAT_CMD V=9': V must have maximum of 5.0", e.Message);
    }

    [Fact]
    public void M112ShutsDown()
    {
        SetupReady();
        var res = Run("M112");
        Assert.True(_printer.IsShutdown);
        Assert.Equal(new[] { "// Klipper state: Shutdown", "ok" }, res);
    }

    [Theory]
    [InlineData("a b c", "a|b|c")]
    [InlineData("A=\"x y\" B='z'", "A=x y|B=z")]
    [InlineData("A=1 #comment B=2", "A=1")]
    [InlineData("A=1;B=2", "A=1")]
    [InlineData("A=\"\"", "A=")]
    [InlineData("\"\"", "")]
    [InlineData("A=\\;b", "A=;b")]
    [InlineData("A=\"a\\b\\\"c\"", "A=a\\b\"c")]
    [InlineData("A='a\\b'", "A=a\\b")]
    public void ShlexSplit(string text, string expected)
    {
        Assert.Equal(expected, string.Join("|", Shlex.Split(text)));
    }

    [Theory]
    [InlineData("A=\"x")]
    [InlineData("A=x\\")]
    public void ShlexErrors(string text)
    {
        Assert.Throws<FormatException>(() => Shlex.Split(text));
    }

    [Fact]
    public void CommandBarrierRunsBeforeEveryCommandButPlainMovesAndComments()
    {
        SetupReady();
        var seen = new List<string>();
        _gcode.RegisterCommand("G1", g => seen.Add("G1"), barrierFree: true);
        _gcode.CommandBarrier = () => seen.Add("barrier");
        Run("G1 X1", "; a comment", "", "TEST_CMD A=1", "G1 X2", "M400_UNKNOWN");
        Assert.Equal(new[] { "G1", "barrier", "G1", "barrier" }, seen);
    }
}
