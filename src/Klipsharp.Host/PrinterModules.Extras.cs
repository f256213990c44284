using Klipsharp.Host.Extras;

namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] ExtrasModules =
    [
        new("heaters", c => new PrinterHeaters(c)),
        new("heater_bed", c => new PrinterHeaterBed(c)),
        new("heater_generic", null, HeaterGeneric.LoadConfigPrefix),
        new("verify_heater", null, c => new HeaterCheck(c)),
        new("pid_calibrate", c => new PIDCalibrate(c)),
        new("thermistor", null, CustomThermistor.LoadConfigPrefix),
        new("adc_temperature", AdcTemperature.LoadConfig, AdcTemperature.LoadConfigPrefix),
        new("query_adc", c => new QueryAdc(c)),
        new("error_mcu", c => new PrinterMcuError(c)),
        new("fan", c => new PrinterFan(c)),
        new("fan_generic", null, c => new PrinterFanGeneric(c)),
        new("heater_fan", null, c => new PrinterHeaterFan(c)),
        new("controller_fan", null, c => new ControllerFan(c)),
        new("output_pin", null, c => new PrinterOutputPin(c)),
        new("pwm_tool", null, c => new PrinterPwmTool(c)),
        new("pwm_cycle_time", null, c => new PrinterOutputPwmCycle(c)),
        new("static_digital_output", null, c => new PrinterStaticDigitalOut(c)),
        new("multi_pin", null, c => new PrinterMultiPin(c)),
        new("stepper_enable", c => new PrinterStepperEnable(c)),
        new("board_pins", c => new PrinterBoardAliases(c), c => new PrinterBoardAliases(c)),
        new("duplicate_pin_override", c => new PrinterDupPinOverride(c)),
        new("query_endstops", c => new QueryEndstops(c)),
        new("idle_timeout", c => new IdleTimeout(c)),
        new("statistics", PrinterStats.LoadConfig),
        new("print_stats", c => new PrintStats(c)),
        new("pause_resume", c => new PauseResume(c)),
        new("virtual_sdcard", c => new VirtualSD(c)),
        new("respond", c => new HostResponder(c)),
        new("gcode_macro", c => new PrinterGCodeMacro(c), c => new GCodeMacro(c)),
        new("delayed_gcode", null, c => new DelayedGcode(c)),
        new("save_variables", c => new SaveVariables(c)),
        new("safe_z_home", c => new SafeZHoming(c)),
        new("homing_override", c => new HomingOverride(c)),
        new("buttons", c => new PrinterButtons(c)),
        new("display", c => new PrinterLCD(c), c => new PrinterLCD(c)),
        new("display_status", c => new DisplayStatus(c)),
        new("display_template", null, c => new DisplayTemplateSection(c)),
        new("display_data", null, c => new DisplayTemplateSection(c)),
        new("display_glyph", null, c => new DisplayTemplateSection(c)),
    ];
}
