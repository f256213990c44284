using Klipsharp.Host;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Tests.GCode;

public class GCodeMoveTests
{
    private sealed class Recorder : IMoveTransform
    {
        public double[] Position = [0.0, 0.0, 0.0, 0.0];
        public readonly List<string> Moves = new();

        public double[] GetPosition() => Position.ToArray();

        public void Move(IReadOnlyList<double> newpos, double speed)
        {
            Position = newpos.ToArray();
            Moves.Add(string.Join(",", newpos.Select(PyFormat.Repr)) + "@" + PyFormat.Repr(speed));
        }
    }

    private readonly Printer _printer = new(new Reactor(), new StartArgs { ConfigFile = "printer.cfg" });
    private readonly GCodeDispatch _gcode;
    private readonly Recorder _rec = new();
    private readonly List<string> _out = new();

    public GCodeMoveTests()
    {
        _gcode = new GCodeDispatch(_printer);
        _printer.AddObject("gcode", _gcode);
        _gcode.RegisterOutputHandler(_out.Add);
        var file = ConfigFile.Build("[printer]\n", "printer.cfg");
        var config = new ConfigWrapper(file, new ConfigAccessTracking(), "printer", _printer, null);
        var gm = new GCodeMove(config);
        gm.SetMoveTransform(_rec);
        _printer.SendEvent("klippy:ready");
    }

    private List<string> Run(params string[] lines)
    {
        _out.Clear();
        _rec.Moves.Clear();
        _gcode.ProcessCommands(lines);
        return _rec.Moves.ToList();
    }

    [Fact]
    public void AbsoluteRelativeAndOffsets()
    {
        var moves = Run("G1 X10 Y20 F6000", "G91", "G1 X1 E2", "G90", "M83", "G1 E1", "G92 X0", "G1 X5",
            "M220 S200", "G1 Y1", "M221 S50", "G1 E4", "SET_GCODE_OFFSET Z=0.5", "G1 Z1", "G0 X1 Y1");
        Assert.Equal(new[]
        {
            "10.0,20.0,0.0,0.0@100.0",
            "11.0,20.0,0.0,2.0@100.0",
            "11.0,20.0,0.0,3.0@100.0",
            "16.0,20.0,0.0,3.0@100.0",
            "16.0,1.0,0.0,3.0@200.0",
            "16.0,1.0,0.0,5.0@200.0",
            "16.0,1.0,1.5,5.0@200.0",
            "12.0,1.0,1.5,5.0@200.0",
        }, moves);
    }

    [Fact]
    public void M114AndErrors()
    {
        Run("G1 X10 Y20 E3", "G92 E0", "M114", "G1 X1e", "G1 F-1", "G20", "RESTORE_GCODE_STATE NAME=nope");
        Assert.Equal(new[]
        {
            "ok", "ok", "X:10.000 Y:20.000 Z:0.000 E:0.000", "ok",
            "!! Unable to parse move 'G1 X1e'", "ok",
            "!! Invalid speed in 'G1 F-1'", "ok",
            "!! Machine does not support G20 (inches) command", "ok",
            "!! Unknown g-code state: nope", "ok",
        }, _out);
    }

    [Fact]
    public void SaveRestoreState()
    {
        var moves = Run("G1 X10 Y10 Z1 E1", "SAVE_GCODE_STATE NAME=a", "G91", "G1 X5 E1", "RESTORE_GCODE_STATE NAME=a MOVE=1 MOVE_SPEED=50",
            "G1 X1");
        Assert.Equal(new[]
        {
            "10.0,10.0,1.0,1.0@25.0",
            "15.0,10.0,1.0,2.0@25.0",
            "10.0,10.0,1.0,2.0@50.0",
            "1.0,10.0,1.0,2.0@25.0",
        }, moves);
    }
}
