using System.Text;
using Klipsharp.Host;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Tests.GCode;

public class GCodeIOTests
{
    // Run the printer's reactor for a while (long enough for the input thread's blocks).
    private static void RunReactorFor(Printer printer, double seconds)
    {
        var reactor = printer.Reactor;
        reactor.RegisterTimer(_ =>
        {
            reactor.End();
            return Reactor.Never;
        }, reactor.Monotonic() + seconds);
        reactor.Run();
    }

    [Fact]
    public void StreamInputIsProcessedAndAnswered()
    {
        var printer = new Printer(new Reactor(), new StartArgs { ConfigFile = "printer.cfg" });
        GCodeDispatch.AddEarlyPrinterObjects(printer);
        var io = printer.LookupObject<GCodeIO>("gcode_io");
        var input = new MemoryStream(Encoding.UTF8.GetBytes("ECHO\nM105\nN7 M110 N7*3\nSTATUS\n"));
        var output = new MemoryStream();
        io.AttachStream(input, output);
        RunReactorFor(printer, 0.5);
        string text = Encoding.UTF8.GetString(output.ToArray());
        Assert.Equal("// ECHO\nok\nok T:0\nok\n"
                     + "// Printer is not ready\n// The klippy host software is attempting to connect.  Please\n// retry in a few moments.\n// Klipper state: Not ready\n"
                     + "!! Printer is not ready\nok\n", text);
        Assert.Equal(30, io.BytesRead);
    }

    [Fact]
    public void M112InShortBlockActsFirst()
    {
        var printer = new Printer(new Reactor(), new StartArgs { ConfigFile = "printer.cfg" });
        GCodeDispatch.AddEarlyPrinterObjects(printer);
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        var order = new List<string>();
        printer.RegisterEventHandler("klippy:shutdown", () => order.Add("shutdown"));
        gcode.RegisterCommand("MARK", _ => order.Add("mark"), whenNotReady: true);
        var io = printer.LookupObject<GCodeIO>("gcode_io");
        io.AttachStream(new MemoryStream(Encoding.UTF8.GetBytes("MARK\nM112\n")), new MemoryStream());
        RunReactorFor(printer, 0.5);
        Assert.Equal(new[] { "shutdown", "mark", }, order.Take(2));
        Assert.True(printer.IsShutdown);
    }

    // A block of exactly 4096 bytes (the read size): one command and a long comment.
    // (A line with only a comment is an empty command, an error while not ready.)
    private static byte[] Block(string command, byte[]? extra = null)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes(command + " ;"));
        if (extra is not null)
            bytes.AddRange(extra);
        while (bytes.Count < 4095)
            bytes.Add((byte)'x');
        bytes.Add((byte)'\n');
        return bytes.ToArray();
    }

    [Fact]
    public void BlockThatIsNotUtf8IsSkippedWithAnErrorNamingItsBytes()
    {
        var printer = new Printer(new Reactor(), new StartArgs { ConfigFile = "printer.cfg" });
        var errors = new List<string>();
        printer.LogError = errors.Add;
        GCodeDispatch.AddEarlyPrinterObjects(printer);
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        var seen = new List<string>();
        foreach (string name in new[] { "MARKA", "MARKB", "MARKC" })
            gcode.RegisterCommand(name, _ => seen.Add(name), whenNotReady: true);
        byte[] input = [.. Block("MARKA"), .. Block("MARKB", [0xc3, 0xa9, 0xff]), .. Encoding.ASCII.GetBytes("MARKC\n")];
        var io = printer.LookupObject<GCodeIO>("gcode_io");
        io.AttachStream(new MemoryStream(input), new MemoryStream());
        RunReactorFor(printer, 0.5);
        // As upstream: the whole second block is dropped, the third is read
        Assert.Equal(new[] { "MARKA", "MARKC" }, seen);
        Assert.Equal(new[] { "Read g-code: G-code input: byte 4105 is not valid UTF-8; bytes 4096 to 8191 were skipped" }, errors);
    }
}
