namespace Klipsharp.Host.Tests.Leveling;

/// <summary>Leveling modules inside a batch-mode host: config errors and command responses.</summary>
public sealed class LevelingBatchTests
{
    private static string Cartesian => LevelingHarness.GoldenConfig("config/example-cartesian.cfg");

    private static void AssertConfigError(string config, string message)
    {
        var run = LevelingHarness.Batch(config, "G28\n");
        Assert.Equal("error_exit", run.Result);
        Assert.Equal(message, run.LastError?.Trim());
    }

    [Fact]
    public void BedMeshInvalidMinMax() =>
        AssertConfigError(Cartesian + "\n[bed_mesh]\nmesh_min: 100,10\nmesh_max: 50,180\n", "bed_mesh: invalid min/max points");

    [Fact]
    public void BedMeshLagrangeProbeCountLimit() =>
        AssertConfigError(Cartesian + "\n[bed_mesh]\nmesh_min: 10,10\nmesh_max: 180,180\nprobe_count: 7\n",
            "bed_mesh: cannot exceed a probe_count of 6 when using lagrange interpolation. Configured Probe Count: 7, 7");

    [Fact]
    public void BedMeshUnknownAlgorithm() =>
        AssertConfigError(Cartesian + "\n[bed_mesh]\nmesh_min: 10,10\nmesh_max: 180,180\nalgorithm: spline\n",
            "bed_mesh: Unknown algorithm <spline>");

    [Fact]
    public void BedMeshMalformedPair() =>
        AssertConfigError(Cartesian + "\n[bed_mesh]\nmesh_min: 10,10\nmesh_max: 180,180\nprobe_count: 3,4,5\n",
            "bed_mesh: malformed 'probe_count' value: 3,4,5");

    [Fact]
    public void BedMeshPointsTooClose() =>
        AssertConfigError(Cartesian + "\n[bed_mesh]\nmesh_min: 10,10\nmesh_max: 12,180\nprobe_count: 5\n",
            "bed_mesh: min/max points too close together");

    [Fact]
    public void BedMeshOverlappingFaultyRegions() =>
        AssertConfigError(Cartesian + "\n[bed_mesh]\nmesh_min: 10,10\nmesh_max: 180,180\n"
            + "faulty_region_1_min: 20,20\nfaulty_region_1_max: 40,40\nfaulty_region_2_min: 30,30\nfaulty_region_2_max: 60,60\n",
            "bed_mesh: Existing faulty_region_1 [[20.0, 20.0], [40.0, 40.0]] overlaps added faulty_region_2 [[30.0, 30.0], [60.0, 60.0]]");

    [Fact]
    public void BedScrewsNeedThree() =>
        AssertConfigError(Cartesian + "\n[bed_screws]\nscrew1: 10,10\nscrew2: 100,100\n", "bed_screws: Must have at least three screws");

    [Fact]
    public void ScrewsTiltAdjustNeedsThree() =>
        AssertConfigError(Cartesian + "\n[screws_tilt_adjust]\nscrew1: 10,10\n", "screws_tilt_adjust: Must have at least three screws");

    [Fact]
    public void ZTiltNeedsAStepperPerPosition() =>
        AssertConfigError(Cartesian + "\n[z_tilt]\nz_positions: 0,0\n  100,100\npoints: 10,10\n  100,100\n",
            "z_tilt z_positions needs exactly 1 items");

    [Fact]
    public void ZTiltNeedsTwoPoints() =>
        AssertConfigError(Cartesian + "\n[z_tilt]\nz_positions: 0,0\n  100,100\npoints: 10,10\n",
            "Need at least 2 probe points for z_tilt");

    [Fact]
    public void QuadGantryLevelNeedsFourPoints() =>
        AssertConfigError(Cartesian + "\n[quad_gantry_level]\ngantry_corners: 0,0\n  200,200\npoints: 10,10\n  20,20\n  30,30\n",
            "Need exactly 4 probe points for quad_gantry_level");

    [Fact]
    public void ManualProbeBisectsAndReports()
    {
        var run = LevelingHarness.Batch(Cartesian,
            "G28\nG1 Z5 F600\nMANUAL_PROBE\nTESTZ Z=-1\nTESTZ Z=-\nTESTZ Z=+\nACCEPT\nG1 Z5\nZ_ENDSTOP_CALIBRATE\nTESTZ Z=-2\nACCEPT\n");
        Assert.Equal("exit", run.Result);
        var text = run.Text;
        Assert.Contains("Starting manual Z probe. Use TESTZ to adjust position.\nFinish with ACCEPT or ABORT command.", text);
        Assert.Contains("Z position: ?????? --> 5.000 <-- ??????", text);
        Assert.Contains("Z position: ?????? --> 4.000 <-- 5.000", text);
        Assert.Contains("Z position: ?????? --> 3.800 <-- 4.000", text);
        Assert.Contains("Z position: 3.800 --> 3.900 <-- 4.000", text);
        Assert.Contains("Z position is 3.900", text);
        Assert.Contains("stepper_z: position_endstop: -2.500\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.", text);
    }

    [Fact]
    public void ManualProbeAcceptWithoutMoving()
    {
        var run = LevelingHarness.Batch(Cartesian, "G28\nG1 Z5 F600\nMANUAL_PROBE\nACCEPT\nMANUAL_PROBE\nMANUAL_PROBE\nABORT\n");
        Assert.Contains("Manual probe failed! Use TESTZ commands to position the\nnozzle prior to running ACCEPT.", run.Text);
        Assert.Contains("Already in a manual Z probe. Use ABORT to abort it.", run.Text);
    }

    [Fact]
    public void BedMeshProfileLoadAppliesTheMesh()
    {
        string cfg = Cartesian + "\n[bed_mesh]\nmesh_min: 0,0\nmesh_max: 100,100\nprobe_count: 3,3\nmesh_pps: 0\n"
            + "\n[bed_mesh default]\nversion: 1\npoints:\n  0.1, 0.2, 0.3\n  0.4, 0.5, 0.6\n  0.7, 0.8, 0.9\n"
            + "x_count: 3\ny_count: 3\nmesh_x_pps: 0\nmesh_y_pps: 0\nalgo: direct\ntension: 0.2\n"
            + "min_x: 0.0\nmax_x: 100.0\nmin_y: 0.0\nmax_y: 100.0\n";
        var run = LevelingHarness.Batch(cfg, "G28\nBED_MESH_OUTPUT\nBED_MESH_PROFILE LOAD=default\nG1 X50 Y25 Z2 F3000\nGET_POSITION\n"
            + "BED_MESH_OUTPUT\nBED_MESH_PROFILE SAVE=default\nBED_MESH_PROFILE LOAD=nothing\n");
        var text = run.Text;
        Assert.Contains("Bed has not been probed", text);
        // z correction at (50, 25): halfway between rows 0.2 and 0.5 -> 0.35
        Assert.Contains("toolhead: X:50.000000 Y:25.000000 Z:2.350000", text);
        Assert.Contains("Mesh Leveling Probed Z positions:\n 0.100000 0.200000 0.300000\n 0.400000 0.500000 0.600000\n 0.700000 0.800000 0.900000\n", text);
        Assert.Contains("Profile 'default' is reserved, please choose another profile name.", text);
        Assert.Contains("bed_mesh: Unknown profile [nothing]", text);
    }

    [Fact]
    public void BedMeshGeneratedPointsWithFaultyRegions()
    {
        string cfg = LevelingHarness.GoldenConfig("test/klippy/bed_mesh.cfg");
        var run = LevelingHarness.Batch(cfg, "BED_MESH_OUTPUT PGP=1\n");
        var text = run.Text;
        Assert.Contains("bed_mesh: generated points\nIndex |  Tool Adjusted  |   Probe", text);
        Assert.Contains("  0   | (10.0, 10.0)    | (10.0, 10.0)", text);
        Assert.Contains("  48  | (180.0, 180.0)  | (180.0, 180.0)", text);
        Assert.Contains("bed_mesh: faulty region points", text);
        Assert.Contains("26 (38.33, 94.99), substituted points: [(42.922, 94.99), (38.33000000000001, 87.126), (38.33000000000001, 129.126), (21.422, 94.99)]", text);
        Assert.Contains("30 (66.66, 123.32), substituted points: [(54.172, 123.32), (66.66, 97.376), (66.66, 150.876), (100.172, 123.32)]", text);
    }

    [Fact]
    public void SkewCorrectionTransformsMoves()
    {
        // side = sqrt(2*140.4^2 + 2*141.6^2 - 4*99.8^2)/2; skew = tan(pi/2 - acos((ac^2 - side^2 - ad^2)/(2*side*ad)))
        double ac = 140.4, bd = 141.6, ad = 99.8;
        double side = Math.Sqrt(2 * ac * ac + 2 * bd * bd - 4 * ad * ad) / 2;
        double skew = Math.Tan(Math.PI / 2 - Math.Acos((ac * ac - side * side - ad * ad) / (2 * side * ad)));
        Assert.Equal(-0.008511, skew, 6);
        var run = LevelingHarness.Batch(Cartesian + "\n[skew_correction]\n",
            "G28\nCALC_MEASURED_SKEW AC=140.4 BD=141.6 AD=99.8\nSET_SKEW XY=140.4,141.6,99.8\nGET_CURRENT_SKEW\n"
            + "G1 X100 Y100 Z10 F3000\nGET_POSITION\nSKEW_PROFILE LOAD=nope\nSET_SKEW XZ=1,2\n");
        var text = run.Text;
        Assert.Contains("Calculated Skew: -0.008511 radians, -0.49 degrees", text);
        Assert.Contains("Current Printer Skew:\nXY Skew: -0.008511 radians, -0.49 degrees\nXZ Skew: 0.000000 radians, 0.00 degrees\nYZ Skew: 0.000000 radians, 0.00 degrees", text);
        // x - y * xy_factor
        Assert.Contains($"toolhead: X:{(100 - 100 * skew).ToString("F6", System.Globalization.CultureInfo.InvariantCulture)} Y:100.000000 Z:10.000000", text);
        Assert.Contains("skew_correction:  Load failed, unknown profile [nope]", text);
        Assert.Contains("skew_correction: improperly formatted entry for plane [XZ]\nSET_SKEW XZ=1,2", text);
    }

    [Fact]
    public void ZThermalAdjustQuery()
    {
        var run = LevelingHarness.Batch(Cartesian + "\n[z_thermal_adjust]\ntemp_coeff: 0.01\nsensor_type: EPCOS 100K B57560G104F\nsensor_pin: PK7\nmin_temp: 0\nmax_temp: 100\n",
            "G28\nSET_Z_THERMAL_ADJUST TEMP_COEFF=0.02 REF_TEMP=25\n");
        Assert.Contains("enable: 1 (enabled)\ntemp_coeff: 0.020000 mm/degC\nref_temp: 25.00 degC (manual)\n-------------------\nCurrent Z temp: 0.00 degC\nApplied Z adjustment: 0.0000 mm", run.Text);
    }

    [Fact]
    public void AxisTwistCompensationNeedsAProbe() =>
        AssertConfigError(Cartesian + "\n[axis_twist_compensation]\ncalibrate_start_x: 20\ncalibrate_end_x: 180\ncalibrate_y: 100\n",
            "AXIS_TWIST_COMPENSATION requires [probe] to be defined");

    [Fact]
    public void AxisTwistInterpolation()
    {
        double[] comp = [0.01, -0.02, 0.03];
        // samples at x = 20, 100, 180
        Assert.Equal(0.01, Extras.AxisTwistCompensation.GetInterpolatedZCompensation(20, comp, 20, 180), 12);
        Assert.Equal(-0.005, Extras.AxisTwistCompensation.GetInterpolatedZCompensation(60, comp, 20, 180), 12);
        Assert.Equal(0.005, Extras.AxisTwistCompensation.GetInterpolatedZCompensation(140, comp, 20, 180), 12);
        // beyond the ends the outer segments are extended
        Assert.Equal(0.025, Extras.AxisTwistCompensation.GetInterpolatedZCompensation(-20, comp, 20, 180), 12);
    }

    [Fact]
    public void BedMeshCalibrateByHand()
    {
        string cfg = Cartesian + "\n[bed_mesh]\nmesh_min: 10,10\nmesh_max: 190,190\nprobe_count: 3\n";
        var gcode = new System.Text.StringBuilder("G28\nBED_MESH_CALIBRATE METHOD=manual\n");
        // Probe order zig-zags: row 0 left to right, row 1 right to left, row 2 left to right
        for (int i = 1; i <= 9; i++)
            gcode.Append($"TESTZ Z=-{5 - 0.1 * i:0.0}\nACCEPT\n");
        gcode.Append("BED_MESH_OUTPUT\nG1 X10 Y10 Z1 F3000\nG1 X190 Y100 Z1\nGET_POSITION\nBED_MESH_CLEAR\nG1 X100 Y100 Z1\nGET_POSITION\n");
        var run = LevelingHarness.Batch(cfg, gcode.ToString());
        var text = run.Text;
        Assert.Contains("Mesh Bed Leveling Complete", text);
        Assert.Contains("Bed Mesh state has been saved to profile [default]", text);
        Assert.Contains("Mesh Leveling Probed Z positions:\n 0.100000 0.200000 0.300000\n 0.600000 0.500000 0.400000\n 0.700000 0.800000 0.900000\n", text);
        // (190, 100) is a probed point with z 0.4
        Assert.Contains("toolhead: X:190.000000 Y:100.000000 Z:1.400000", text);
        Assert.Contains("toolhead: X:100.000000 Y:100.000000 Z:1.000000", text);
    }

    [Fact]
    public void FilamentSensorAndButtonQueries()
    {
        string cfg = Cartesian + "\n[filament_switch_sensor runout]\nswitch_pin: PE4\n\n[gcode_button btn]\npin: PE3\npress_gcode: G28\n";
        var run = LevelingHarness.Batch(cfg, "QUERY_FILAMENT_SENSOR SENSOR=runout\nSET_FILAMENT_SENSOR SENSOR=runout ENABLE=0\nQUERY_BUTTON BUTTON=btn\n");
        Assert.Equal("exit", run.Result);
        Assert.Contains("Filament Sensor runout: filament not detected", run.Text);
        Assert.Contains("btn: RELEASED", run.Text);
    }

    [Fact]
    public void ScrewsTiltAdjustDirectionError()
    {
        string cfg = LevelingHarness.GoldenConfig("test/klippy/screws_tilt_adjust.cfg");
        // The failing command goes last: in batch mode an error ends the run, and (as with
        // upstream's greenlets) a later command then stops at its first reactor pause
        var run = LevelingHarness.Batch(cfg, "G28\nSCREWS_TILT_CALCULATE\nSCREWS_TILT_CALCULATE DIRECTION=up\n");
        Assert.Contains("Error on 'SCREWS_TILT_CALCULATE DIRECTION=up': DIRECTION must be either CW or CCW", run.Text);
        Assert.Contains("01:20 means 1 full turn and 20 minutes, CW=clockwise, CCW=counter-clockwise", run.Text);
        Assert.Contains("front left screw (base) : x=10.0, y=30.0, z=-1.15000", run.Text);
        Assert.Contains("rear right screw : x=155.0, y=190.0, z=-1.15000 : adjust CW 00:00", run.Text);
    }
}
