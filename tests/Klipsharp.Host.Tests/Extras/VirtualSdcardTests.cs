using System.Text;
using Klipsharp.Host.Tests.Leveling;

namespace Klipsharp.Host.Tests.ExtraModules;

/// <summary>virtual_sdcard printing in a batch-mode host: text decoding, chunking and end of file.</summary>
public sealed class VirtualSdcardTests
{
    private static LevelingHarness.Run PrintFile(byte[] content, string gcode)
    {
        var dir = Directory.CreateTempSubdirectory("klipsharp-sdcard").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "job.gcode"), content);
            string config = LevelingHarness.GoldenConfig("config/example-cartesian.cfg")
                + $"\n[virtual_sdcard]\npath: {dir}\n\n[gcode_macro SAY]\ngcode:\n  {{action_respond_info(params.MSG)}}\n";
            return LevelingHarness.Batch(config, gcode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MultibyteTextAcrossReadChunks()
    {
        // A two-byte character straddles the 8192-byte raw read boundary
        var sb = new StringBuilder();
        sb.Append("SAY MSG=").Append('x', 8183).Append("é\n");
        sb.Append("SAY MSG=next-ü\n");
        var run = PrintFile(Encoding.UTF8.GetBytes(sb.ToString()), "SDCARD_PRINT_FILE FILENAME=job.gcode\n");
        Assert.True(run.Result == "exit", run.LastError);
        Assert.Contains("xxé", run.Text);
        Assert.Contains("next-ü", run.Text);
        Assert.Contains("Finished SD card print", run.Text);
        Assert.Contains("Exiting SD card print (position 8210)", run.Text);
    }

    [Fact]
    public void InvalidUtf8StopsThePrint()
    {
        var bytes = Encoding.UTF8.GetBytes("SAY MSG=first\nSAY MSG=bad ").Concat(new byte[] { 0xff, 0xfe, (byte)'\n' }).ToArray();
        var run = PrintFile(bytes, "SDCARD_PRINT_FILE FILENAME=job.gcode\n");
        Assert.True(run.Result == "exit", run.LastError);
        // upstream decodes the whole chunk at once, so not even the first line runs
        Assert.DoesNotContain("first", run.Text);
        Assert.Contains("virtual_sdcard read", run.Text);
        Assert.Contains("Exiting SD card print (position 0)", run.Text);
    }
}
