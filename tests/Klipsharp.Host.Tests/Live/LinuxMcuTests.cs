using Klipsharp.Host.Tests.Serial;

namespace Klipsharp.Host.Tests.Live;

/// <summary>
/// The live host against a stand-in for upstream's Linux-process MCU (see
/// <see cref="FakeLinuxMcu"/>), the pin-free setup of config/linux-mcu.cfg: it reaches
/// ready, and FIRMWARE_RESTART (emergency_stop, config_reset, the process re-executes and
/// its link ends) brings up a new printer on the new process without a lost-communication
/// shutdown.
/// </summary>
[Collection("live printer")]
public class LinuxMcuTests
{
    private const string Config = """
        [mcu]
        serial: sim:linux-process

        [printer]
        kinematics: none
        max_velocity: 300
        max_accel: 3000
        """;

    private static Dictionary<string, Func<string, Stream>> Links(FakeLinuxMcuProcess process) =>
        new() { ["sim:linux-process"] = process.Open };

    [Fact]
    public void FirmwareRestartReexecutesTheProcessAndReconnectsWithoutALostLink()
    {
        using var process = new FakeLinuxMcuProcess();
        using var host = new LiveHost(configText: Config, links: Links(process));
        host.WaitReady();
        var first = host.Printer;
        Assert.Single(process.Generations);
        Assert.Contains("Sending MCU 'mcu' printer configuration...", host.LogText);
        // The boot message arrives before the dictionary is known
        Assert.Contains("mcu 'mcu': Unknown message -10 (len 6) while identifying", host.LogText);
        host.OnReactor(p =>
        {
            p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RunScript("FIRMWARE_RESTART");
            return 0;
        });
        host.WaitFor(() => host.Printer != first, "a new printer");
        host.WaitReady();
        var gens = process.Generations;
        Assert.Equal(2, gens.Count);
        Assert.True(gens[0].Reexecuted);
        // Upstream's order: emergency_stop, then config_reset 15 ms later
        var cmds = gens[0].Commands;
        Assert.Equal(["emergency_stop", "config_reset"], cmds[cmds.IndexOf("emergency_stop")..]);
        Assert.False(gens[1].IsShutdown);
        // The link ending after config_reset is expected: no lost communication, no shutdown
        string log = host.LogText;
        Assert.Contains("Attempting MCU 'mcu' config_reset command", log);
        Assert.DoesNotContain("Lost communication", log);
        Assert.DoesNotContain("Timeout with MCU", log);
        Assert.DoesNotContain("Transition to shutdown state", log);
        Assert.False(first.IsShutdown);
        // The new process was configured from scratch
        Assert.Equal(2, log.Split('\n').Count(l => l == "Sending MCU 'mcu' printer configuration..."));
        Assert.Equal(2, log.Split('\n').Count(l => l == "Configured MCU 'mcu' (1024 moves)"));
        Assert.Equal("exit", host.Exit().Result);
    }

    [Fact]
    public void AConfigResetLostInTheShutdownIsRetransmitted()
    {
        // The MCU process is not scheduled for 100 ms after emergency_stop: config_reset,
        // sent 15 ms later, lands in the same read and is lost (upstream then disconnects and
        // finds the MCU still shut down: "Can not update MCU 'mcu' config as it is shutdown")
        using var process = new FakeLinuxMcuProcess { FirstStallsAtShutdown = true };
        using var host = new LiveHost(configText: Config, links: Links(process));
        host.WaitReady();
        var first = host.Printer;
        host.OnReactor(p =>
        {
            p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RunScript("FIRMWARE_RESTART");
            return 0;
        });
        host.WaitFor(() => host.Printer != first, "a new printer");
        host.WaitReady();
        var gens = process.Generations;
        Assert.Equal(2, gens.Count);
        Assert.True(gens[0].Reexecuted);
        var cmds = gens[0].Commands;
        Assert.Equal(["emergency_stop", "config_reset"], cmds[cmds.IndexOf("emergency_stop")..]);
        string log = host.LogText;
        Assert.DoesNotContain("did not answer config_reset", log);
        Assert.DoesNotContain("as it is shutdown", log);
        Assert.Equal(2, log.Split('\n').Count(l => l == "Sending MCU 'mcu' printer configuration..."));
        Assert.Equal("exit", host.Exit().Result);
    }

    [Fact]
    public void ALinkThatEndsWithoutAResetIsStillLostCommunication()
    {
        using var process = new FakeLinuxMcuProcess();
        using var host = new LiveHost(configText: Config, links: Links(process));
        host.WaitReady();
        var first = host.Printer;
        // The process dies (killed, crashed): the end of its pty is a lost MCU
        process.Generations[0].Dispose();
        host.WaitFor(() => first.IsShutdown, "the shutdown");
        Assert.Equal("Lost communication with MCU 'mcu'", first.StateMessage.Split('\n')[0]);
        Assert.Contains("mcu 'mcu': Lost communication: Got EOF when reading from device", host.LogText);
        Assert.Equal("exit", host.Exit().Result);
    }

    [Fact]
    public void AsASecondMcuBesideTheSimulatedBoardBothRestartCleanly()
    {
        using var process = new FakeLinuxMcuProcess();
        using var host = new LiveHost(extraConfig: "[mcu host]\nserial: sim:linux-process", links: Links(process));
        host.WaitReady();
        var first = host.Printer;
        Assert.Contains("Configured MCU 'host' (1024 moves)", host.LogText);
        host.OnReactor(p =>
        {
            p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RunScript("FIRMWARE_RESTART");
            return 0;
        });
        host.WaitFor(() => host.Printer != first, "a new printer");
        host.WaitReady();
        string log = host.LogText;
        // The main board was reset by command, the Linux MCU re-executed
        Assert.Contains("Attempting MCU 'mcu' reset command", log);
        Assert.Contains("Attempting MCU 'host' config_reset command", log);
        Assert.Equal(2, process.Generations.Count);
        // The reset board announces "starting" while the old printer is finishing: upstream
        // runs nothing more once the reactor stopped, so that is no spontaneous restart, and
        // no emergency_stop reaches the freshly reset board
        Assert.DoesNotContain("spontaneous restart", log);
        Assert.DoesNotContain("Transition to shutdown state", log);
        Assert.False(host.Sim.IsShutdown);
        Assert.Equal(2, log.Split('\n').Count(l => l == "Sending MCU 'mcu' printer configuration..."));
        Assert.Equal(2, log.Split('\n').Count(l => l == "Sending MCU 'host' printer configuration..."));
        Assert.Equal("exit", host.Exit().Result);
    }
}
