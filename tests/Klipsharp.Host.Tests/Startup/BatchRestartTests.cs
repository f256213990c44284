using Klipsharp.Host.Tests.Leveling;

namespace Klipsharp.Host.Tests.Startup;

/// <summary>RESTART in a batch input starts a new printer that goes on reading the same input.</summary>
public sealed class BatchRestartTests
{
    [Fact]
    public async Task RestartContinuesAfterTheRestartLine()
    {
        string config = LevelingHarness.GoldenConfig("config/example-cartesian.cfg");
        var run = Task.Run(() => LevelingHarness.Batch(config, "GET_POSITION\nRESTART\nGET_POSITION\n"));
        // Reopening the input would replay RESTART forever
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("exit", result.Result);
        Assert.Equal(1, result.Log.Count(l => l == "Restarting printer"));
        Assert.Equal(2, result.Log.Count(l => l.Contains("mcu: stepper_x:", StringComparison.Ordinal)));
    }
}
