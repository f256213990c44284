using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests.Kinematics;

public class OtherKinematicsTests
{
    internal static Move MakeMove(Coord start, Coord axesR, double startV, double accel, double moveT, double printTime = 0) =>
        new()
        {
            PrintTime = printTime,
            MoveT = moveT,
            StartV = startV,
            HalfAccel = 0.5 * accel,
            StartPos = start,
            AxesR = axesR,
        };

    // A stationary move sitting at a point (the position function only reads StartPos).
    internal static Move At(double x, double y, double z) =>
        MakeMove(new Coord(x, y, z), new Coord(0, 0, 0), 0, 0, 1.0);

    public static TheoryData<double, double, double> Points => new()
    {
        { 0, 0, 0 },
        { 10.5, -20.25, 5 },
        { -35, 40, 120.75 },
        { 60, 60, 1 },
    };

    [Theory]
    [MemberData(nameof(Points))]
    public void Delta_carriage_height_is_rod_projection_plus_z(double x, double y, double z)
    {
        const double arm = 250, towerX = -117.9, towerY = -68.07;
        var sk = new DeltaStepperKinematics(arm * arm, towerX, towerY);
        double horizontal2 = (towerX - x) * (towerX - x) + (towerY - y) * (towerY - y);
        double expected = Math.Sqrt(arm * arm - horizontal2) + z;
        Assert.Equal(expected, sk.CalcPosition(At(x, y, z), 0.5), 1e-9);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z, sk.ActiveFlags);
    }

    [Fact]
    public void Delta_follows_the_move_over_time()
    {
        var sk = new DeltaStepperKinematics(200.0 * 200.0, 0, 100);
        // 3 mm/s start, 10 mm/s^2 along (0.6, 0.8, 0)
        Move m = MakeMove(new Coord(1, 2, 3), new Coord(0.6, 0.8, 0), 3, 10, 2);
        double t = 1.5, d = 3 * t + 5 * t * t;
        double x = 1 + 0.6 * d, y = 2 + 0.8 * d;
        double expected = Math.Sqrt(200.0 * 200.0 - x * x - (100 - y) * (100 - y)) + 3;
        Assert.Equal(expected, sk.CalcPosition(m, t), 1e-9);
    }

    [Theory]
    [MemberData(nameof(Points))]
    public void Deltesian_carriage_height(double x, double y, double z)
    {
        const double arm = 220, armX = -90;
        var sk = new DeltesianStepperKinematics(arm * arm, armX);
        double expected = Math.Sqrt(arm * arm - (x + 90) * (x + 90)) + z;
        Assert.Equal(expected, sk.CalcPosition(At(x, y, z), 0), 1e-9);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Z, sk.ActiveFlags);
    }

    [Theory]
    [MemberData(nameof(Points))]
    public void Winch_cable_length_is_distance_to_anchor(double x, double y, double z)
    {
        var sk = new WinchStepperKinematics(300, -150, 400);
        double dx = x - 300, dy = y + 150, dz = z - 400;
        Assert.Equal(Math.Sqrt(dx * dx + dy * dy + dz * dz), sk.CalcPosition(At(x, y, z), 0), 1e-9);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z, sk.ActiveFlags);
    }

    [Theory]
    [MemberData(nameof(Points))]
    public void Generic_cartesian_is_linear_combination(double x, double y, double z)
    {
        var sk = new GenericCartesianStepperKinematics(1, -1, 0.5);
        Assert.Equal(x - y + 0.5 * z, sk.CalcPosition(At(x, y, z), 0), 1e-12);
    }

    [Fact]
    public void Generic_cartesian_active_flags_follow_nonzero_coefficients()
    {
        var sk = new GenericCartesianStepperKinematics(1, 1, 0);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y, sk.ActiveFlags);
        sk.SetCoeffs(0, 0, -2);
        Assert.Equal(ActiveAxes.Z, sk.ActiveFlags);
        Assert.Equal(-8.0, sk.CalcPosition(At(5, 7, 4), 0));
        sk.SetCoeffs(0, 0, 0);
        Assert.Equal(ActiveAxes.None, sk.ActiveFlags);
        sk.SetCoeffs(double.NaN, 0, 0);
        Assert.Equal(ActiveAxes.X, sk.ActiveFlags);
    }

    [Theory]
    [InlineData(0.0, 0.0, 0.0)]
    [InlineData(20.0, -15.0, 50.0)]
    [InlineData(-40.0, 25.0, -60.0)]
    [InlineData(90.0, 60.0, 10.0)]
    public void Rotary_delta_angle_places_elbow_at_lower_arm_distance(double x, double y, double z)
    {
        const double shoulderRadius = 33.9, shoulderHeight = 412.9, upperArm = 170, lowerArm = 320;
        foreach (double angleDeg in new[] { 30.0, 150.0, 270.0 })
        {
            double angle = angleDeg * Math.PI / 180;
            var sk = new RotaryDeltaStepperKinematics(shoulderRadius, shoulderHeight, angle, upperArm, lowerArm);
            double theta = sk.CalcPosition(At(x, y, z), 0);
            // Elbow in world coordinates: out along the platform direction and down/up by the arm angle.
            double radial = shoulderRadius + upperArm * Math.Cos(theta);
            double ex = radial * Math.Cos(angle), ey = radial * Math.Sin(angle);
            double ez = shoulderHeight + upperArm * Math.Sin(theta);
            double dist = Math.Sqrt((x - ex) * (x - ex) + (y - ey) * (y - ey) + (z - ez) * (z - ez));
            Assert.Equal(lowerArm, dist, 1e-9);
            // The solver picks the elbow pointing outward (positive cos).
            Assert.True(Math.Cos(theta) > 0);
            Assert.Equal(ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z, sk.ActiveFlags);
        }
    }

    [Fact]
    public void Polar_radius_and_angle()
    {
        var r = new PolarStepperKinematics('r');
        var a = new PolarStepperKinematics('a');
        Assert.Equal(5.0, r.CalcPosition(At(3, -4, 7), 0), 1e-12);
        Assert.Equal(Math.Atan2(-4, 3), a.CalcPosition(At(3, -4, 7), 0));
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y, r.ActiveFlags);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y, a.ActiveFlags);
        Assert.False(r.HasPostCallback);
        Assert.True(a.HasPostCallback);
        Assert.Throws<ArgumentException>(() => new PolarStepperKinematics('x'));
    }

    [Fact]
    public void Polar_angle_unwraps_toward_commanded_position()
    {
        var a = new PolarStepperKinematics('a');
        double eps = 0.01;
        // Just past +pi: atan2 gives about -pi + eps, but the stepper is near +pi.
        Move m = At(-1, -Math.Sin(eps), 0);
        a.CommandedPos = Math.PI - 0.05;
        Assert.Equal(Math.Atan2(-Math.Sin(eps), -1) + 2 * Math.PI, a.CalcPosition(m, 0), 1e-12);
        // Just past -pi going the other way.
        a.CommandedPos = -Math.PI + 0.05;
        Assert.Equal(Math.Atan2(Math.Sin(eps), -1) - 2 * Math.PI, a.CalcPosition(At(-1, Math.Sin(eps), 0), 0), 1e-12);
        // Within half a turn: no change.
        a.CommandedPos = 0.3;
        Assert.Equal(Math.Atan2(1, 1), a.CalcPosition(At(1, 1, 0), 0));
    }

    [Fact]
    public void Polar_angle_post_callback_normalizes_commanded_position()
    {
        var a = new PolarStepperKinematics('a');
        a.CommandedPos = 3.5;
        a.PostCommandedPositionChange();
        Assert.Equal(3.5 - 2 * Math.PI, a.CommandedPos);
        a.CommandedPos = -3.5;
        a.PostCommandedPositionChange();
        Assert.Equal(-3.5 + 2 * Math.PI, a.CommandedPos);
        a.CommandedPos = 3.0;
        a.PostCommandedPositionChange();
        Assert.Equal(3.0, a.CommandedPos);

        var r = new PolarStepperKinematics('r') { CommandedPos = 10 };
        r.PostCommandedPositionChange();
        Assert.Equal(10.0, r.CommandedPos);
    }

    [Fact]
    public void Dual_carriage_applies_scale_and_offset()
    {
        var orig = new GenericCartesianStepperKinematics(1, 0, 0);
        var dc = new DualCarriageKinematics();
        dc.SetSk(orig);
        Assert.Same(orig, dc.OriginalKinematics);
        Assert.Equal(ActiveAxes.X, dc.ActiveFlags);
        Move m = MakeMove(new Coord(10, 20, 30), new Coord(1, 0, 0), 10, 0, 5);
        Assert.Equal(30.0, dc.CalcPosition(m, 2));   // identity by default
        Assert.True(dc.SetTransform('x', -1, 300));  // mirror
        Assert.Equal(270.0, dc.CalcPosition(m, 2));
        Assert.True(dc.SetTransform('x', 0, 150));   // parked
        Assert.Equal(ActiveAxes.None, dc.ActiveFlags);
        Assert.Equal(150.0, dc.CalcPosition(m, 2));
        Assert.True(dc.SetTransform('x', 1, 50));    // copy with offset
        Assert.Equal(ActiveAxes.X, dc.ActiveFlags);
        Assert.Equal(80.0, dc.CalcPosition(m, 2));
        // Y is not used by this carriage: a non-zero scale does not make it active.
        Assert.True(dc.SetTransform('y', 2, 1));
        Assert.Equal(ActiveAxes.X, dc.ActiveFlags);
        Assert.False(dc.SetTransform('z', 1, 0));
    }

    [Fact]
    public void Dual_carriage_transforms_y_for_xy_kinematics()
    {
        var orig = new GenericCartesianStepperKinematics(1, 1, 0); // corexy-like "a" stepper
        var dc = new DualCarriageKinematics();
        dc.SetSk(orig);
        dc.SetTransform('y', -1, 100);
        Assert.Equal(3 + (100 - 4.0), dc.CalcPosition(At(3, 4, 5), 0));
        dc.SetTransform('y', 0, 7);
        Assert.Equal(ActiveAxes.X, dc.ActiveFlags);
        dc.SetTransform('y', 1, 0);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y, dc.ActiveFlags);
    }
}
