using System.Globalization;
using System.Text;
using Klipsharp.Verbs;

namespace Klipsharp.Host.Tests.Live;

/// <summary>
/// The live host against the built-in simulated MCU (real protocol, real time): it
/// homes, heats and prints through virtual_sdcard, and turns MCU failures into the
/// shutdowns upstream reports.
/// </summary>
[Collection("live printer")]
public class LivePrinterTests
{
    private const string LowTempExtruder = "max_temp: 250\nmin_extrude_temp: 50";

    private static void AllowLowTempExtrusion(string cfgPath)
    {
        string cfg = File.ReadAllText(cfgPath);
        int ext = cfg.IndexOf("[extruder]", StringComparison.Ordinal);
        int max = cfg.IndexOf("max_temp: 250", ext, StringComparison.Ordinal);
        File.WriteAllText(cfgPath, cfg[..max] + LowTempExtruder + cfg[(max + "max_temp: 250".Length)..]);
    }

    // Squares of 30 mm at 40 mm/s; with heat, each side extrudes (a cold run only moves)
    private static string SquaresGcode(int squares, bool heat = true, double hotend = 60, double bed = 35)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (heat)
            sb.Append(ci, $"M140 S{bed}\nM104 S{hotend}\nG28\nM190 S{bed}\nM109 S{hotend}\nG90\nM83\nG1 Z1 F600\n");
        else
            sb.Append("G28 X Y\nG90\n");
        string e = heat ? " E1.2" : "";
        for (int i = 0; i < squares; i++)
        {
            double o = 40 + i % 5 * 3;
            sb.Append(ci, $"G1 X{o} Y{o} F6000\nG1 X{o + 30} Y{o}{e} F2400\nG1 X{o + 30} Y{o + 30}{e}\nG1 X{o} Y{o + 30}{e}\nG1 X{o} Y{o}{e}\n");
        }
        sb.Append(heat ? "G1 Z3 F600\nG1 X61.3 Y47.9 F3000\nG1 E-0.5 F1800\nM104 S0\nM140 S0\n" : "G1 X61.3 Y47.9 F3000\n");
        return sb.ToString();
    }

    [Fact]
    public void HomesHeatsAndPrintsAFileAndTheMcuStepsMatchTheHost() => LiveHost.RetryWhenOverloaded(PrintAFile);

    private static void PrintAFile()
    {
        string? mcuLine = null;
        PrintJob MakeJob(string file) => new(file)
        {
            AfterPrint = p =>
            {
                var responses = new List<string>();
                var gcode = p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode");
                gcode.RegisterOutputHandler(responses.Add);
                gcode.RunScript("GET_POSITION");
                mcuLine = responses.SelectMany(r => r.Split('\n')).First(l => l.StartsWith("// mcu:", StringComparison.Ordinal));
            },
        };
        using var host = new LiveHost(adjustConfig: AllowLowTempExtrusion, printGcode: SquaresGcode(2), makeJob: MakeJob);
        var job = host.Job!;
        var (result, lastError) = host.WaitExit(90);
        host.ThrowIfOverloaded();
        Assert.True(job.Outcome == PrintOutcome.Complete, $"outcome {job.Outcome}: {job.Error} / {lastError}\n{host.LogText}");
        Assert.Equal("exit", result);
        // The file really ran: homed, heated, extruded
        Assert.Contains("Heater extruder within range of 60.000", host.LogText);
        Assert.Contains("Finished SD card print", host.LogText);
        Assert.True(host.Sim.GetHeaterTemperature("PB4") > 45.0);
        // Host's commanded step positions equal the steps the MCU executed
        Assert.NotNull(mcuLine);
        var hostPos = mcuLine![8..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(kv => kv.Split(':')).ToDictionary(kv => kv[0], kv => int.Parse(kv[1], CultureInfo.InvariantCulture));
        Assert.Equal(["stepper_x", "stepper_y", "stepper_z"], hostPos.Keys.ToArray());
        var simPos = new Dictionary<string, int>
        {
            ["stepper_x"] = host.Sim.GetStepperPositionByPin("PF0")!.Value,
            ["stepper_y"] = -host.Sim.GetStepperPositionByPin("PF6")!.Value, // dir_pin: !PF7
            ["stepper_z"] = host.Sim.GetStepperPositionByPin("PL3")!.Value,
        };
        Assert.True(hostPos.SequenceEqual(simPos), $"host {mcuLine} / mcu {string.Join(" ", simPos)}\n{host.LogText}");
        // The carriages physically ended at the last move, X61.3 Y47.9 (80 steps/mm) from the endstops
        Assert.InRange(host.Sim.GetAxisPosition("PF0")!.Value, 4904 - 2, 4904 + 2);
        Assert.InRange(host.Sim.GetAxisPosition("PL3")!.Value, (3.0 - 0.5) * 400 - 2, (3.0 - 0.5) * 400 + 2); // position_endstop 0.5
        Assert.InRange(host.Sim.GetAxisPosition("PF6")!.Value, 3832 - 2, 3832 + 2);
        Assert.False(host.Sim.IsShutdown);
    }

    [Fact]
    public void KillingTheMcuMidPrintShutsDownWithLostCommunication() => LiveHost.RetryWhenOverloaded(KillMidPrint);

    private static void KillMidPrint()
    {
        using var host = new LiveHost(adjustConfig: AllowLowTempExtrusion, printGcode: SquaresGcode(40, heat: false), makeJob: f => new PrintJob(f));
        var job = host.Job!;
        host.WaitFor(() =>
        {
            try
            {
                return host.OnReactor(p => p.TryLookupObject<Klipsharp.Host.Extras.VirtualSD>("virtual_sdcard")?.Progress() ?? 0.0) > 0.05;
            }
            catch (InvalidOperationException)
            {
                return false; // no printer yet
            }
        }, "the print to get going", 90);
        host.ThrowIfOverloaded();
        host.Sim.Kill();
        var (result, _) = host.WaitExit(60);
        Assert.Equal("error_exit", result);
        Assert.Equal(PrintOutcome.Failed, job.Outcome);
        Assert.StartsWith("Lost communication with MCU 'mcu'", job.Error);
        Assert.True(host.Printer.IsShutdown);
        Assert.Contains("Transition to shutdown state: Lost communication with MCU 'mcu'", host.LogText);
    }

    [Fact]
    public void TheMcuTurnsAHeaterOffWhenTheHostStopsConfirmingIt() => LiveHost.RetryWhenOverloaded(HeaterMaxDuration);

    private static void HeaterMaxDuration()
    {
        using var host = new LiveHost();
        host.WaitReady();
        host.Gcode("M104 S60");
        host.WaitFor(() => host.Sim.GetOutputLevel("PB4") > 0.0, "the heater to switch on");
        host.ThrowIfOverloaded();
        // Freeze the host (a hung reactor): no more heater updates reach the MCU
        using var release = new ManualResetEventSlim(false);
        host.Printer.Reactor.RegisterAsyncCallback(_ => release.Wait(TimeSpan.FromSeconds(30)));
        try
        {
            host.WaitFor(() => host.Sim.IsShutdown, "the MCU to shut down on max_duration", 20);
        }
        finally
        {
            release.Set();
        }
        Assert.Equal("Missed scheduling of next digital out event", host.Sim.ShutdownReason);
        Assert.Equal(0.0, host.Sim.GetOutputLevel("PB4"));
        host.WaitFor(() => host.Printer.IsShutdown && host.Printer.StateMessage.StartsWith("MCU 'mcu' shutdown", StringComparison.Ordinal),
                     "the host to report the MCU shutdown");
        Assert.StartsWith("MCU 'mcu' shutdown: Missed scheduling of next digital out event\n", host.Printer.StateMessage);
        Assert.Equal("exit", host.Exit().Result);
    }

    [Fact]
    public void TheTerminalAcknowledgesCommandsAndActsOnM112DuringALongCommand() => LiveHost.RetryWhenOverloaded(TerminalM112);

    private static void TerminalM112()
    {
        using var host = new LiveHost(withTty: true);
        host.WaitReady();
        host.WaitFor(() => host.TtyText.Contains("// Klipper state: Ready\n", StringComparison.Ordinal), "the ready message on the terminal");
        host.TtyWrite("M105\n");
        host.WaitFor(() => host.TtyText.Contains("ok B:", StringComparison.Ordinal), "the M105 answer");
        Assert.Matches(@"\nok B:[0-9.]+ /0\.0 T0:[0-9.]+ /0\.0\n", host.TtyText);
        // A long dwell keeps the G-code input busy; M112 must not wait for it
        host.TtyWrite("G4 P20000\n");
        Thread.Sleep(300);
        host.TtyWrite("M112\n");
        host.WaitFor(() => host.Printer.IsShutdown, "the emergency stop");
        Assert.Equal("Shutdown due to M112 command", host.Printer.StateMessage.Split('\n')[0]);
        Assert.Equal(1, host.TtyText.Split('\n').Count(l => l.StartsWith("ok", StringComparison.Ordinal))); // G4 still running
        host.WaitFor(() => host.Sim.IsShutdown, "the MCU's emergency stop");
        Assert.Equal("Command request", host.Sim.ShutdownReason);
        host.WaitFor(() => host.TtyText.Contains("// Klipper state: Shutdown\n", StringComparison.Ordinal), "the shutdown notice");
        Assert.Equal("exit", host.Exit().Result);
    }

    [Fact]
    public void RestartReconnectsToTheConfiguredMcuWithoutResendingTheConfig() => LiveHost.RetryWhenOverloaded(HostRestart);

    private static void HostRestart()
    {
        using var host = new LiveHost();
        host.WaitReady();
        var first = host.Printer;
        uint crc = host.Sim.ConfigCrc;
        host.OnReactor(p =>
        {
            p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RunScript("RESTART");
            return 0;
        });
        host.WaitFor(() => host.Printer != first, "a new printer");
        host.WaitReady();
        host.ThrowIfOverloaded();
        // Same config: the MCU keeps it (same CRC); only the restart/init commands were sent
        Assert.Equal(crc, host.Sim.ConfigCrc);
        Assert.Equal(1, host.LogText.Split('\n').Count(l => l == "Sending MCU 'mcu' printer configuration..."));
        Assert.Equal(2, host.LogText.Split('\n').Count(l => l == "Configured MCU 'mcu' (1024 moves)"));
        Assert.Contains("Restarting printer", host.LogText);
        Assert.Equal("exit", host.Exit().Result);
    }

    [Fact]
    public void AThermistorOutOfRangeShutsDownAndFirmwareRestartRecovers() => LiveHost.RetryWhenOverloaded(ThermistorOutOfRange);

    private static void ThermistorOutOfRange()
    {
        using var host = new LiveHost();
        host.WaitReady();
        var first = host.Printer;
        // A shorted thermistor reads as far above max_temp
        host.Sim.SetAdcInput("PK5", 0.001);
        host.WaitFor(() => first.IsShutdown, "the ADC range check");
        host.ThrowIfOverloaded();
        Assert.Equal("ADC out of range", host.Sim.ShutdownReason);
        host.WaitFor(() => first.StateMessage.StartsWith("MCU 'mcu' shutdown", StringComparison.Ordinal), "the shutdown message");
        // Upstream's wording: the reason, error_mcu's clarification by the sensor, the hint, what to do
        string msg = first.StateMessage;
        // (error_mcu adds "Sensor 'extruder' temperature ... not in range 0.000:250.000" when the
        // host saw the bad reading before the MCU shut down)
        Assert.StartsWith("MCU 'mcu' shutdown: ADC out of range\n", msg);
        Assert.EndsWith("\nThis generally occurs when a heater temperature exceeds\nits configured min_temp or max_temp.\n"
                        + "Once the underlying issue is corrected, use the\n\"FIRMWARE_RESTART\" command to reset the firmware, reload the\n"
                        + "config, and restart the host software.\nPrinter is shutdown\n", msg);
        string middle = msg["MCU 'mcu' shutdown: ADC out of range\n".Length..msg.IndexOf("\nThis generally occurs", StringComparison.Ordinal)];
        if (middle.Length != 0)
            Assert.Matches(@"^\nSensor 'extruder' temperature \S+ not in range 0\.000:250\.000$", middle);
        // Fix the wiring and restart: the MCU is reset and configured again
        host.Sim.SetAdcInput("PK5", null);
        host.OnReactor(p =>
        {
            p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RunScript("FIRMWARE_RESTART");
            return 0;
        });
        host.WaitFor(() => host.Printer != first, "a new printer");
        host.WaitReady();
        Assert.False(host.Sim.IsShutdown);
        Assert.Contains("Attempting MCU 'mcu' reset command", host.LogText);
        Assert.Equal("exit", host.Exit().Result);
    }
}

[CollectionDefinition("live printer", DisableParallelization = true)]
public class LivePrinterCollection
{
}
