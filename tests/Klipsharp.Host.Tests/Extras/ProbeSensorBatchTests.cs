using Klipsharp.Host.Tests.Leveling;

namespace Klipsharp.Host.Tests.ExtraModules;

/// <summary>probe_eddy_current, smart_effector and load cell modules in a batch-mode host: config and command errors.</summary>
public sealed class ProbeSensorBatchTests
{
    private static string Eddy => LevelingHarness.GoldenConfig("test/klippy/eddy.cfg");

    private static string SmartEffector => LevelingHarness.GoldenConfig("test/klippy/smart_effector.cfg");

    private static string LoadCellCfg => LevelingHarness.GoldenConfig("test/klippy/load_cell.cfg");

    private static void AssertConfigError(string config, string message)
    {
        var run = LevelingHarness.Batch(config, "G28\n");
        Assert.Equal("error_exit", run.Result);
        Assert.Equal(message, run.LastError?.Trim());
    }

    [Fact]
    public void EddyUnknownSensorType() =>
        AssertConfigError(Eddy.Replace("sensor_type: ldc1612", "sensor_type: ldc9999"),
            "Choice 'ldc9999' for option 'sensor_type' in section 'probe_eddy_current eddy' is not a valid choice");

    [Fact]
    public void EddyDescendZMustBePositive() =>
        AssertConfigError(Eddy.Replace("descend_z: 0.4", "descend_z: 0"),
            "Option 'descend_z' in section 'probe_eddy_current eddy' must be above 0.0");

    [Fact]
    public void EddyDriveCurrentRange() =>
        AssertConfigError(Eddy.Replace("descend_z: 0.4", "descend_z: 0.4\nreg_drive_current: 32"),
            "Option 'reg_drive_current' in section 'probe_eddy_current eddy' must have maximum of 31");

    // A command error ends a batch run (upstream exits with error_exit on file input)
    private static string AssertCommandError(string config, string gcode, string message)
    {
        var run = LevelingHarness.Batch(config, gcode);
        Assert.Equal("error_exit", run.Result);
        Assert.Contains(message, run.Text);
        return run.Text;
    }

    [Fact]
    public void EddyTapCalibrateErrors()
    {
        AssertCommandError(Eddy, "PROBE_EDDY_CURRENT_TAP_CALIBRATE TAP=bogus\n", "Please provide a valid TAP parameter");
        AssertCommandError(Eddy, "PROBE_EDDY_CURRENT_TAP_CALIBRATE TAP=refine\n", "Must complete valid 'tap' probe first");
        AssertCommandError(Eddy, "PROBE_EDDY_CURRENT_TAP_CALIBRATE TAP=verify\n", "Must complete valid 'refine' step first");
    }

    [Fact]
    public void EddyTapCalibrateReportAndHelp()
    {
        var run = LevelingHarness.Batch(Eddy, "PROBE_EDDY_CURRENT_TAP_CALIBRATE\n");
        Assert.Equal("exit", run.Result);
        Assert.Contains("Calibration: f=3450000.000 s=-2800000.000 q=-0.000\n\nRun tap probe for last tap analysis.", run.Text);
        // Upstream's help texts
        Assert.Equal("Calibrate tap_threshold for 'tap' probing", Klipsharp.Host.Extras.EddyTapCalibration.CmdTapCalibrateHelp);
        Assert.Equal("Calibrate LDC1612 DRIVE_CURRENT register", Klipsharp.Host.Extras.DriveCurrentCalibrate.CmdLdcCalibrateHelp);
        Assert.Equal("Calibrate eddy current probe", Klipsharp.Host.Extras.EddyCalibrationTool.CmdEddyCalibrateHelp);
    }

    [Fact]
    public void EddyTapNeedsAThreshold() =>
        AssertCommandError(Eddy.Replace("tap_threshold: 1500\n", ""), "G28\nPROBE METHOD=tap\n", "Tap not configured");

    [Fact]
    public void EddyUncalibratedCannotHome() =>
        AssertCommandError(Eddy[..Eddy.IndexOf("# Dummy calibration data", StringComparison.Ordinal)], "G28\n",
            "Must calibrate probe_eddy_current first");

    [Fact]
    public void SmartEffectorSettings()
    {
        var run = LevelingHarness.Batch(SmartEffector,
            "SET_SMART_EFFECTOR SENSITIVITY=50 ACCEL=0 RECOVERY_TIME=0\nSET_SMART_EFFECTOR ACCEL=40.5\nRESET_SMART_EFFECTOR\n");
        Assert.Equal("exit", run.Result);
        var text = run.Text;
        Assert.Contains("SmartEffector:\nsensitivity: 50\nprobing acceleration control disabled\nprobe recovery time disabled", text);
        Assert.Contains("SmartEffector:\nprobing accelartion: 40.500\nprobe recovery time disabled", text);
        Assert.Contains("SmartEffector sensitivity was reset", text);
        AssertCommandError(SmartEffector, "SET_SMART_EFFECTOR SENSITIVITY=256\n",
            "Error on 'SET_SMART_EFFECTOR SENSITIVITY=256': SENSITIVITY must have maximum of 255");
    }

    [Fact]
    public void SmartEffectorWithoutControlPin()
    {
        string cfg = SmartEffector.Replace("control_pin: PC5\n", "");
        AssertCommandError(cfg, "SET_SMART_EFFECTOR SENSITIVITY=50\n",
            "control_pin must be set in [smart_effector] for sensitivity programming");
        var run = LevelingHarness.Batch(cfg, "RESET_SMART_EFFECTOR\n");
        Assert.Equal("exit", run.Result);
        Assert.Contains("Unknown command:\"RESET_SMART_EFFECTOR\"", run.Text);
    }

    [Fact]
    public void Ads1220ReferenceConflict() =>
        AssertConfigError(LoadCellCfg.Replace("sensor_type: ads1220\ncs_pin: PA0", "sensor_type: ads1220\nvref: REF1\ncs_pin: PA0"),
            "ADS1220 config error: AIN0/REFP1 and AIN3/REFN1 cant be used as a voltage reference and an input at the same time");

    [Fact]
    public void Ads131m02SampleRateUnavailable() =>
        AssertConfigError(LoadCellCfg.Replace("clock_freq: 8192000", "clock_freq: 8192000\nsample_rate: 1000000"),
            "Requested sample rate 1000000.0 Hz is not available with the configured parameters");

    [Fact]
    public void Hx711SampleRateChoice() =>
        AssertConfigError(LoadCellCfg.Replace("sensor_type: hx711\n", "sensor_type: hx711\nsample_rate: 320\n"),
            "Choice '320' for option 'sample_rate' in section 'load_cell my_hx711' is not a valid choice");

    [Fact]
    public void LoadCellProbeNotchLimits()
    {
        AssertConfigError(LoadCellCfg.Replace("notch_filter_frequencies: 50, 60", "notch_filter_frequencies: 50, 400"),
            "Option 'notch_filter_frequencies' in section 'load_cell_probe' must be below 330");
        AssertConfigError(LoadCellCfg.Replace("notch_filter_frequencies: 50, 60", "notch_filter_frequencies: 50, 60, 70"),
            "Option 'notch_filter_frequencies' in section 'load_cell_probe' has maximum length 2");
    }

    [Fact]
    public void LoadCellProbeBuzzRange() =>
        AssertConfigError(LoadCellCfg.Replace("buzz_filter_cutoff_frequency: 100.0", "buzz_filter_cutoff_frequency: 50.0"),
            "Option 'buzz_filter_cutoff_frequency' in section 'load_cell_probe' must be above 80.0");

    [Fact]
    public void LoadCellProbeSafetyLimitBeyondSensorRange() =>
        AssertCommandError(LoadCellCfg.Replace("counts_per_gram: 100", "counts_per_gram: 10000"), "G28\nPROBE\n",
            "Load cell force_safety_limit exceeds sensor range!");

    [Fact]
    public void LoadCellProbeNotCalibrated() =>
        AssertCommandError(LoadCellCfg.Replace("counts_per_gram: 100\n", ""), "G28\nPROBE\n", "Load Cell not calibrated");

    [Fact]
    public void LoadCellReadAndTare()
    {
        var run = LevelingHarness.Batch(LoadCellCfg, "LOAD_CELL_READ LOAD_CELL=my_hx711\nLOAD_CELL_TARE LOAD_CELL=my_hx717\nLOAD_CELL_READ\n");
        Assert.Equal("exit", run.Result);
        // Batch mode collects a single zero sample
        Assert.Contains("---.-g (0.00%)", run.Text);
        Assert.Contains("Load cell tare value: 0.00% (0)", run.Text);
        // The unnamed [load_cell_probe] takes the default LOAD_CELL commands
        Assert.Contains("-10.0g (0.00%)", run.Text);
    }
}
