using Klipsharp.Host.Tests.Conformance;

namespace Klipsharp.Host.Tests.Startup;

/// <summary>Batch runs that end in a shutdown exit with an error, also where upstream's klippy hangs.</summary>
[Collection("batch stderr")]
public sealed class BatchShutdownTests : BatchConsoleTest
{
    [Fact]
    public async Task StepCompressionErrorAtTheEndExitsInsteadOfWaiting()
    {
        // A polar move through the bed's centre: upstream's stepcompress rejects the bed
        // stepper's sequence. The printer shuts down while the file is read; the motors-off
        // flush at the end of the file fails again, an exception escapes the reactor, and
        // upstream's second reactor run waits for G-code input that has already ended.
        string cfg = Path.Combine(RepoPaths.Golden, "config", "example-polar.cfg");
        byte[] gcode = "G28\nG1 X0 Y0 Z10 F3000\nG1 X0 Y0 Z5 F3000\nG1 X1 Y1 Z9\nM400\n"u8.ToArray();
        var run = Task.Run(() => RunBatch(cfg, gcode));
        if (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) != run)
            Assert.Fail("the batch run did not end within 60 s");
        var (exit, stderr) = await run;
        Assert.NotEqual(0, exit);
        string[] lines = stderr.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal("stepcompress o=0 i=0 c=35 a=0: Invalid sequence", lines[0]);
        Assert.Equal("Error in syncemitter 'stepper_bed' step generation", lines[1]);
        Assert.Equal("Internal error in stepcompress", lines[^1]);
    }
}
