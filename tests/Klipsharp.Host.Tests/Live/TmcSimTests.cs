namespace Klipsharp.Host.Tests.Live;

/// <summary>
/// The live host with Trinamic drivers on the simulated MCU: a TMC2209 on a UART pin and
/// a TMC2130 on the SPI bus are initialised, dumped and re-configured. The expected dumps
/// are what upstream klippy printed for the same sections against the same simulator.
/// </summary>
[Collection("live printer")]
public class TmcSimTests
{
    private const string TmcSections = """
        [tmc2209 stepper_x]
        uart_pin: PK1
        uart_address: 0
        run_current: 0.800
        stealthchop_threshold: 999999

        [tmc2130 stepper_y]
        cs_pin: PG1
        spi_bus: spi
        run_current: 0.800
        stealthchop_threshold: 999999
        """;

    private static List<string> Lines(IEnumerable<string> responses) =>
        responses.SelectMany(r => r.Split('\n')).ToList();

    [Fact]
    public void TmcUartAndSpiDriversInitDumpAndSetCurrent()
    {
        using var host = new LiveHost(extraConfig: TmcSections);
        host.WaitReady();

        var x = Lines(host.Gcode("DUMP_TMC STEPPER=stepper_x"));
        string[] xExpected =
        [
            "// ========== Write-only registers ==========",
            "// SLAVECONF:  00000200 senddelay=2",
            "// IHOLD_IRUN: 00081919 ihold=25 irun=25 iholddelay=8",
            "// TPWMTHRS:   00000000",
            "// TCOOLTHRS:  00000000",
            "// COOLCONF:   00000000",
            "// TPOWERDOWN: 00000014 tpowerdown=20",
            "// SGTHRS:     00000000",
            "// ========== Queried registers ==========",
            "// GCONF:      000001c0 pdn_disable=1 mstep_reg_select=1 multistep_filt=1",
            "// GSTAT:      00000001 reset=1(Reset)",
            "// IFCNT:      0000000a ifcnt=10",
            "// OTP_READ:   00000000",
            "// IOIN:       21000041 enn=1 pdn_uart=1 version=0x21",
            "// FACTORY_CONF: 0000000f fclktrim=15",
            "// TSTEP:      000fffff tstep=1048575",
            "// MSCNT:      00000000",
            "// MSCURACT:   00f70000 cur_b=247",
            "// CHOPCONF:   34030053 toff=3 hstrt=5 tbl=2 vsense=1 mres=4(16usteps) intpol=1 dedge=1",
            "// DRV_STATUS: c0190000 cs_actual=25 stealth=1 stst=1",
            "// PWMCONF:    c80d0e24 pwm_ofs=36 pwm_grad=14 pwm_freq=1 pwm_autoscale=1 pwm_autograd=1 pwm_reg=8 pwm_lim=12",
            "// PWM_SCALE:  00000000",
            "// PWM_AUTO:   00000000",
            "// SG_RESULT:  00000000",
        ];
        Assert.Equal(xExpected, x);

        var y = Lines(host.Gcode("DUMP_TMC STEPPER=stepper_y"));
        string[] yQueried =
        [
            "// ========== Queried registers ==========",
            "// GCONF:      00000004 en_pwm_mode=1",
            "// GSTAT:      00000001 reset=1(Reset)",
            "// IOIN:       11000000 version=0x11",
            "// TSTEP:      000fffff tstep=1048575",
            "// XDIRECT:    00000000",
            "// MSCNT:      00000000",
            "// MSCURACT:   00f70000 cur_b=247",
            "// CHOPCONF:   34028384 toff=4 hend=7 tbl=1 vsense=1 mres=4(16usteps) intpol=1 dedge=1",
            "// DRV_STATUS: 80190000 cs_actual=25 stst=1",
            "// PWM_SCALE:  00000000",
            "// LOST_STEPS: 00000000",
        ];
        Assert.Equal(yQueried, y.SkipWhile(l => !l.Contains("Queried", StringComparison.Ordinal)).ToArray());
        Assert.Contains("// IHOLD_IRUN: 00081919 ihold=25 irun=25 iholddelay=8", y);

        Assert.Equal(["// Run Current: 0.61A Hold Current: 0.61A"], Lines(host.Gcode("SET_TMC_CURRENT STEPPER=stepper_x CURRENT=0.6")));
        var ihold = Lines(host.Gcode("DUMP_TMC STEPPER=stepper_x REGISTER=IHOLD_IRUN"));
        Assert.Single(ihold);
        Assert.DoesNotContain("00081919", ihold[0], StringComparison.Ordinal);
        // One more UART write, checked through IFCNT by the host
        Assert.Equal(["// IFCNT:      0000000b ifcnt=11"], Lines(host.Gcode("DUMP_TMC STEPPER=stepper_x REGISTER=IFCNT")));

        Assert.Equal(["// Run Current: 0.61A Hold Current: 0.31A"],
            Lines(host.Gcode("SET_TMC_CURRENT STEPPER=stepper_y CURRENT=0.6 HOLDCURRENT=0.3")));

        // Enabling the motors re-sends the registers and starts the drivers' error checks,
        // which clear the reset flag of the UART driver (the SPI one clears on read)
        host.Gcode("SET_STEPPER_ENABLE STEPPER=stepper_x ENABLE=1\nSET_STEPPER_ENABLE STEPPER=stepper_y ENABLE=1");
        host.WaitFor(() => host.LogText.Contains("TMC 'stepper_x' reports GSTAT:      00000000", StringComparison.Ordinal), "stepper_x error checks");
        Assert.Equal(["// GSTAT:      00000000"], Lines(host.Gcode("DUMP_TMC STEPPER=stepper_x REGISTER=GSTAT")));
        Assert.Equal(["// GSTAT:      00000000"], Lines(host.Gcode("DUMP_TMC STEPPER=stepper_y REGISTER=GSTAT")));
        Assert.Contains("TMC 'stepper_x' reports GSTAT:      00000001 reset=1(Reset)", host.LogText, StringComparison.Ordinal);
    }
    // Enabling the TMC2209 runs UART queries (~0.3 s) in a reactor callback while the
    // homing move waits on its drip completion: the move must keep flowing (upstream's
    // greenlets), or the MCU shuts down with "Timer too close"
    [Fact]
    public void HomingWithUartDriverEnableCallbacks() => LiveHost.RetryWhenOverloaded(HomeWithUartDriverEnableCallbacks);

    private static void HomeWithUartDriverEnableCallbacks()
    {
        using var host = new LiveHost(extraConfig: TmcSections);
        host.WaitReady();
        host.Gcode("G28");
        var homed = host.OnReactor(p =>
            (string)p.LookupObject<ToolHead>("toolhead").GetStatus(p.Reactor.Monotonic())["homed_axes"]!);
        Assert.False(host.Sim.IsShutdown, host.Sim.ShutdownReason);
        Assert.False(host.Printer.IsShutdown, host.Printer.StateMessage);
        Assert.Equal("xyz", homed);
        // The enable callbacks wait for the G-code mutex (held by G28) before they measure the
        // phase offset; homing has measured it by then, as upstream
        Assert.DoesNotContain("Pausing toolhead to calculate stepper_x phase offset", host.LogText, StringComparison.Ordinal);
        var offsets = host.OnReactor(p => new[] { "tmc2209 stepper_x", "tmc2130 stepper_y" }
            .Select(n => p.LookupObject<Klipsharp.Host.Extras.ITmcDriver>(n).GetPhaseOffset().McuPhaseOffset).ToArray());
        Assert.All(offsets, o => Assert.NotNull(o));
        Assert.False(host.Sim.IsShutdown, host.Sim.ShutdownReason);
    }
}
