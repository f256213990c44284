namespace Klipsharp.Host.Tests.Motion;

// Cases found by scripts/motion-fuzz.py (upstream klippy vs klipsharp on random configs
// and G-code), reduced by hand. Expected behaviour is upstream's (commit 84104bbb) on
// the same input, as noted in each test.
public class FuzzRegressionTests
{
    [Fact]
    public void RotaryDeltaWithUnreachableHomeIsAnInternalErrorNotAHang()
    {
        // motion-fuzz rotary_delta seed 2 (older generator). Upstream: G28 raises
        // "ValueError: cannot convert float NaN to integer" in homing's
        // stepper.get_mcu_position(), reported as an internal error; the printer
        // shuts down and batch mode exits with an error. Klipsharp used to turn the
        // NaN into a position and home forever.
        const string cfg = """
            [stepper_a]
            step_pin: PE5
            dir_pin: !PB7
            microsteps: 1
            gear_ratio: 107:12
            endstop_pin: ^PC1
            position_endstop: 249.1
            upper_arm_length: 165.918
            lower_arm_length: 327.718
            homing_speed: 50

            [stepper_b]
            step_pin: PF6
            dir_pin: PF7
            microsteps: 16
            gear_ratio: 107:16, 60:16
            endstop_pin: ^PJ0

            [stepper_c]
            step_pin: PL3
            dir_pin: PL1
            microsteps: 16
            gear_ratio: 107:16, 60:16
            endstop_pin: ^PD2

            [printer]
            kinematics: rotary_delta
            max_velocity: 300
            max_accel: 3000
            max_z_velocity: 50
            shoulder_radius: 35.799
            shoulder_height: 406.144

            """ + MotionHarness.Mcu;
        var run = MotionHarness.Batch(cfg, "G28\nG1 Z10\n");
        Assert.Equal("error_exit", run.Result);
        Assert.Contains("Internal error on command:\"G28\"", run.Text);
        Assert.Contains("cannot convert float NaN to integer", run.Text);
    }
}
