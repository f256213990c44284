using Klipsharp.Host.Extras;

namespace Klipsharp.Host;

public static partial class PrinterModules
{
    private static readonly Entry[] LevelingModules =
    [
        new("manual_probe", c => new ManualProbe(c)),
        new("bed_mesh", c => new BedMesh(c)),
        new("exclude_object", c => new ExcludeObject(c)),
        new("tuning_tower", c => new TuningTower(c)),
        new("bed_tilt", c => new BedTilt(c)),
        new("z_tilt", c => new ZTilt(c)),
        new("quad_gantry_level", c => new QuadGantryLevel(c)),
        new("bed_screws", c => new BedScrews(c)),
        new("screws_tilt_adjust", c => new ScrewsTiltAdjust(c)),
        new("sdcard_loop", c => new SDCardLoop(c)),
        new("filament_switch_sensor", null, c => new SwitchSensor(c)),
        new("filament_motion_sensor", null, c => new EncoderSensor(c)),
        new("gcode_button", null, c => new GCodeButton(c)),
        new("ds18b20", DS18B20.LoadConfig),
        new("adxl345", c => new ADXL345(c), c => new ADXL345(c)),
        new("mpu9250", c => new MPU9250(c), c => new MPU9250(c)),
        new("icm20948", c => new ICM20948(c), c => new ICM20948(c)),
        new("lis2dw", c => new LIS2DW(c, LIS2DW.Lis2dwType), c => new LIS2DW(c, LIS2DW.Lis2dwType)),
        new("lis3dh", c => new LIS2DW(c, LIS2DW.Lis3dhType), c => new LIS2DW(c, LIS2DW.Lis3dhType)),
        new("resonance_tester", c => new ResonanceTester(c)),
        new("skew_correction", c => new PrinterSkew(c)),
        new("z_thermal_adjust", c => new ZThermalAdjuster(c)),
        new("axis_twist_compensation", c => new AxisTwistCompensation(c)),
        new("mcp4728", null, c => new Mcp4728(c)),
        new("canbus_ids", c => new PrinterCANBus(c)),
        new("canbus_stats", null, c => new PrinterCANBusStats(c)),
    ];
}
