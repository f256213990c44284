using System.Reflection;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Tests.GCode;

/// <summary>The hand-written G-code line tokenizer against upstream's regex split (kept as the non-ASCII path).</summary>
public class GCodeParserTests
{
    private static (string Command, Dictionary<string, string> Params) Regex(string line)
    {
        MethodInfo m = typeof(GCodeDispatch).GetMethod("ParseLineRegex", BindingFlags.NonPublic | BindingFlags.Static)!;
        return ((string, Dictionary<string, string>))m.Invoke(null, [line])!;
    }

    private static string Show((string Command, Dictionary<string, string> Params) r) =>
        r.Command + " => " + string.Join("|", r.Params.Select(kv => $"{kv.Key}={kv.Value}"));

    public static IEnumerable<object[]> Lines() => new[]
    {
        "G1 X10 Y20", "g1 x1.5 y-2 e.3 f1800", "G1X10Y-2.5E.3", "N123 G1 X5*45", "n5 g1*12", "N", "N10", "N 10 G1",
        "NG1 X1", "N10 M110 N10*12", "N10G1", " N10 G1", "1 G1", "123", "", "  ", ";only comment", "G1 X1 ; c ; d",
        "M117 Hello World", "M117 1.5 test", "SET_FOO BAR=1 baz=\"a b\"", "_FOO", "A_B_C D_", "__", "*", "**", "*A*",
        "G1 X*5", "X**", "T0", "M104S200", "M104 S200\t", "G1\tX1\vY2\fZ3", "G1 X1\x1cY2\x1f", "G1 X1e5 Y1E-3",
        "SET_PIN PIN=x VALUE=0.5", "M118 ~!@#$%^&()-+=[]{}|\\:'\",.<>/?", "g28 x0 y0", "G1 X10 X20 x30",
        "M23 /path/File_Name.gcode", "M117 " + new string('A', 200), "G1 " + string.Concat(Enumerable.Repeat("X1 ", 60)),
        string.Concat(Enumerable.Repeat("a1*", 50)), "G1 X1 Y2 Z3 E4 F5 A6 B7 C8 D9 H10 I11 J12 K13 L14 M15 O16 P17 Q18 R19 S20 T21 U22 V23 W24",
    }.Select(l => new object[] { l });

    [Theory]
    [MemberData(nameof(Lines))]
    public void SameAsRegexSplit(string line)
    {
        string origline = PyFormat.Strip(line);
        Assert.Equal(Show(Regex(origline)), Show(GCodeDispatch.ParseLine(origline)));
    }

    [Theory]
    [InlineData("M117 Grüße", "M117")] // non-ASCII text takes the regex path
    [InlineData("G1 X1 ; ß comment", "G1")] // a comment does not count
    public void NonAsciiLines(string line, string cmd)
    {
        var r = GCodeDispatch.ParseLine(line);
        Assert.Equal(Show(Regex(line)), Show(r));
        Assert.StartsWith(cmd, r.Command);
    }

    [Fact]
    public void CommonNamesAreShared()
    {
        var (c1, p1) = GCodeDispatch.ParseLine("G1 X1 SPEED=2");
        var (c2, p2) = GCodeDispatch.ParseLine("G1 X2 SPEED=3");
        Assert.Same(c1, c2);
        Assert.Same(p1.Keys.First(), p2.Keys.First());
        Assert.Same(p1.Keys.Last(), p2.Keys.Last());
        Assert.Equal("=3", p2["SPEED"]);
    }
}
