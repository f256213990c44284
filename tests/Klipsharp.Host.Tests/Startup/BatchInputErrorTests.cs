using System.Text;
using Klipsharp.Host.Tests.Conformance;

namespace Klipsharp.Host.Tests.Startup;

/// <summary>G-code input that a batch run survives: the error on stderr, the run goes on as upstream's.</summary>
[Collection("batch stderr")]
public sealed class BatchInputErrorTests : BatchConsoleTest
{
    private (int Exit, string Stderr, byte[] Output) RunBatch(byte[] gcode)
    {
        var (exit, stderr) = RunBatch(Path.Combine(RepoPaths.Golden, "config", "example-cartesian.cfg"), gcode);
        return (exit, stderr, File.ReadAllBytes(OutputPath));
    }

    [Fact]
    public void BlockThatIsNotUtf8IsSkippedWithTheErrorOnStderr()
    {
        // Block 2 (bytes 4096-8191) holds a Latin-1 byte in a comment and a move to X50
        // that upstream never sees either; the move to X20 in block 3 runs
        var text = new StringBuilder("G28\nG1 X10 F6000\n;");
        text.Append('x', 4096 - text.Length - 1).Append('\n');
        string block2Head = "G1 X50\n; caf";
        byte[] gcode = [.. Encoding.ASCII.GetBytes(text.ToString()), .. Encoding.ASCII.GetBytes(block2Head), 0xe9,
            .. Encoding.ASCII.GetBytes(new string('x', 4096 - block2Head.Length - 2) + "\n"),
            .. Encoding.ASCII.GetBytes("G1 X20\nM400\n")];
        var (exit, stderr, output) = RunBatch(gcode);
        Assert.Equal(0, exit);
        Assert.Equal($"Read g-code: {InputPath}: byte {4096 + block2Head.Length} is not valid UTF-8; bytes 4096 to 8191 were skipped", stderr);

        // The same stream as a file without that block
        byte[] without = [.. gcode[..4096], .. gcode[8192..]];
        var (exit2, stderr2, output2) = RunBatch(without);
        Assert.Equal(0, exit2);
        Assert.Equal("", stderr2);
        Assert.Equal(output2, output);
    }

    [Fact]
    public void EveryFailedCommandIsPrintedOnceInOrder()
    {
        // As upstream's batch mode: the commands already read still run, each error is
        // printed as it comes, and the run ends with a non-zero exit
        var (exit, stderr, _) = RunBatch(Encoding.ASCII.GetBytes(
            "G28\nG1 X10 Y\nG1 X5 F0\nG1 X20\nG1 X500\n"));
        Assert.NotEqual(0, exit);
        Assert.Equal("Unable to parse move 'G1 X10 Y'\nInvalid speed in 'G1 X5 F0'\n"
            + "Move out of range: 500.000 0.000 0.500 [0.000]", stderr.ReplaceLineEndings("\n"));
    }
}
