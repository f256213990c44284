using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.Kinematics.OtherKinematicsTests;

namespace Klipsharp.Motion.Tests.Kinematics;

public class OtherShaperKinematicsTests
{
    private const double Never = 9999999999999999.9;

    // Links moves into a list with sentinels as trapq keeps them.
    private static Move[] Chain(params Move[] moves)
    {
        var head = new Move { PrintTime = -1 };
        var tail = new Move { PrintTime = Never, MoveT = Never };
        var all = new List<Move> { head };
        all.AddRange(moves);
        all.Add(tail);
        for (int i = 0; i < all.Count; i++)
        {
            all[i].Prev = i > 0 ? all[i - 1] : null;
            all[i].Next = i + 1 < all.Count ? all[i + 1] : null;
        }
        return moves;
    }

    private static InputShaperKinematics Wrap(StepperKinematics orig)
    {
        var sk = new InputShaperKinematics();
        Assert.True(sk.SetSk(orig));
        return sk;
    }

    [Fact]
    public void Set_sk_requires_an_active_axis_and_copies_state()
    {
        var sk = new InputShaperKinematics();
        Assert.False(sk.SetSk(new GenericCartesianStepperKinematics(0, 0, 0)));
        Assert.Null(sk.OriginalKinematics);
        var orig = new GenericCartesianStepperKinematics(0, 1, 0)
        {
            CommandedPos = 12.5, LastFlushTime = 3.25, LastMoveTime = 4.5,
        };
        Assert.True(sk.SetSk(orig));
        Assert.Same(orig, sk.OriginalKinematics);
        Assert.Equal(ActiveAxes.Y, sk.ActiveFlags);
        Assert.Equal(12.5, sk.CommandedPos);
        Assert.Equal(3.25, sk.LastFlushTime);
        Assert.Equal(4.5, sk.LastMoveTime);
        Assert.False(sk.HasPostCallback);
    }

    [Fact]
    public void Shaper_params_validation()
    {
        var sk = Wrap(new GenericCartesianStepperKinematics(1, 0, 0));
        Assert.False(sk.SetShaperParams('w', 0, [], []));
        Assert.False(sk.SetShaperParams('x', 2, [1, 1], [0.01, 0.01])); // times must increase
        Assert.False(sk.SetShaperParams('x', 11, new double[11], new double[11]));
        // Inactive axis: ignored, reported as success, no look-ahead needed.
        Assert.True(sk.SetShaperParams('y', 2, [1, 1], [0, 0.01]));
        Assert.Equal(0.0, sk.GenStepsPreActive);
        Assert.Equal(0.0, sk.GenStepsPostActive);
    }

    [Fact]
    public void Zv_generation_window_is_the_shifted_pulse_span()
    {
        var sk = Wrap(new GenericCartesianStepperKinematics(1, 0, 0));
        var (a, t) = InputShaperDefs.GetZvShaper(40, 0.1);
        Assert.True(sk.SetShaperParams('x', a.Length, a, t));
        double a0 = a[0] / (a[0] + a[1]), a1 = a[1] / (a[0] + a[1]);
        // Pulse centroid is at a1 * T1: steps depend on the toolhead up to the centroid
        // before (pre) and T1 - centroid after (post) each step.
        Assert.Equal(a1 * t[1], sk.GenStepsPreActive, 1e-15);
        Assert.Equal(a0 * t[1], sk.GenStepsPostActive, 1e-15);
        // Disabling the shaper clears the window.
        Assert.True(sk.SetShaperParams('x', 0, [], []));
        Assert.Equal(0.0, sk.GenStepsPreActive);
        Assert.Equal(0.0, sk.GenStepsPostActive);
    }

    [Fact]
    public void Zv_on_constant_velocity_matches_unshaped_position_mid_move()
    {
        var orig = new GenericCartesianStepperKinematics(1, 0, 0);
        var sk = Wrap(orig);
        var (a, t) = InputShaperDefs.GetZvShaper(35, 0.1);
        Assert.True(sk.SetShaperParams('x', a.Length, a, t));
        Move m = Chain(MakeMove(new Coord(10, 0, 0), new Coord(1, 0, 0), 100, 0, 10, 1))[0];
        foreach (double time in new[] { 0.5, 2.0, 5.0, 9.5 })
            Assert.Equal(10 + 100 * time, sk.CalcPosition(m, time), 1e-9);
    }

    [Theory]
    [InlineData("zv")]
    [InlineData("mzv")]
    [InlineData("zvd")]
    [InlineData("ei")]
    [InlineData("2hump_ei")]
    [InlineData("3hump_ei")]
    public void Every_shaper_keeps_still_and_constant_velocity_positions(string name)
    {
        var sk = Wrap(new GenericCartesianStepperKinematics(1, 0, 0));
        var (a, t) = InputShaperDefs.InitShaper(name, 50, 0.1)!.Value;
        Assert.True(sk.SetShaperParams('x', a.Length, a, t));
        // Normalised amplitudes sum to one: a resting toolhead stays put.
        Move still = Chain(MakeMove(new Coord(123.4, 0, 0), new Coord(1, 0, 0), 0, 0, 3))[0];
        Assert.Equal(123.4, sk.CalcPosition(still, 1.5), 1e-12);
        // Pulses are centred, so constant velocity passes through unchanged.
        Move cruise = Chain(MakeMove(new Coord(-50, 0, 0), new Coord(1, 0, 0), 80, 0, 3))[0];
        Assert.Equal(-50 + 80 * 1.5, sk.CalcPosition(cruise, 1.5), 1e-9);
        Assert.True(sk.GenStepsPreActive > 0);
        Assert.True(sk.GenStepsPostActive > 0);
    }

    // Position of axis (0 = x, 1 = y) at absolute time in a chain of moves.
    private static double AxisAt(Move[] moves, int axis, double time)
    {
        foreach (Move m in moves)
        {
            if (time <= m.PrintTime + m.MoveT)
            {
                double mt = time - m.PrintTime;
                return m.StartPos[axis] + m.AxesR[axis] * m.GetDistance(mt);
            }
        }
        throw new InvalidOperationException();
    }

    // Independent convolution: sum of a_i * x(t - T_i + centroid) with normalised a_i.
    private static double Convolve(Move[] moves, int axis, double time, double[] a, double[] t)
    {
        double sum = a.Sum(), centroid = 0;
        for (int i = 0; i < a.Length; i++)
            centroid += a[i] / sum * t[i];
        double res = 0;
        for (int i = 0; i < a.Length; i++)
            res += a[i] / sum * AxisAt(moves, axis, time - t[i] + centroid);
        return res;
    }

    private static Move[] Trapezoid()
    {
        // Diagonal move (3,4,0)/5: accelerate 0 -> 100 mm/s at 2000 mm/s^2, cruise, decelerate,
        // surrounded by resting moves so the shaper can look past both ends.
        var dir = new Coord(0.6, 0.8, 0);
        double accelT = 0.05, accelD = 2.5, cruiseT = 0.1, cruiseD = 10;
        var start = new Coord(20, 30, 2);
        Coord P(double d) => new(start.X + dir.X * d, start.Y + dir.Y * d, start.Z);
        return Chain(
            MakeMove(start, dir, 0, 0, 1.0, 0.0),
            MakeMove(start, dir, 0, 2000, accelT, 1.0),
            MakeMove(P(accelD), dir, 100, 0, cruiseT, 1.0 + accelT),
            MakeMove(P(accelD + cruiseD), dir, 100, -2000, accelT, 1.0 + accelT + cruiseT),
            MakeMove(P(2 * accelD + cruiseD), dir, 0, 0, 1.0, 1.0 + 2 * accelT + cruiseT));
    }

    [Fact]
    public void Shaping_looks_into_neighbouring_moves()
    {
        Move[] moves = Trapezoid();
        var sk = Wrap(new GenericCartesianStepperKinematics(0, 1, 0));
        var (a, t) = InputShaperDefs.GetMzvShaper(33.2, 0.1);
        Assert.True(sk.SetShaperParams('y', a.Length, a, t));
        // The resting moves at both ends are only looked into, never queried at their far edges.
        foreach (Move m in moves[1..4])
        {
            for (int k = 0; k <= 10; k++)
            {
                double mt = m.MoveT * k / 10;
                double expected = Convolve(moves, 1, m.PrintTime + mt, a, t);
                Assert.Equal(expected, sk.CalcPosition(m, mt), 1e-9);
            }
        }
    }

    [Fact]
    public void Xyz_shaping_feeds_shaped_coordinates_to_the_original_kinematics()
    {
        Move[] moves = Trapezoid();
        const double arm2 = 250.0 * 250.0, towerX = -117.9, towerY = -68.07;
        var delta = new DeltaStepperKinematics(arm2, towerX, towerY);
        var sk = Wrap(delta);
        Assert.Equal(ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z, sk.ActiveFlags);
        // No pulses on any axis: plain pass-through.
        Assert.Equal(delta.CalcPosition(moves[1], 0.02), sk.CalcPosition(moves[1], 0.02));
        var (ax, tx) = InputShaperDefs.GetEiShaper(45, 0.1);
        var (ay, ty) = InputShaperDefs.GetZvdShaper(38, 0.05);
        Assert.True(sk.SetShaperParams('x', ax.Length, ax, tx));
        Assert.True(sk.SetShaperParams('y', ay.Length, ay, ty));
        Assert.Equal(Math.Max(tx[^1], ty[^1]) > 0, sk.GenStepsPreActive > 0);
        foreach (Move m in moves[1..4])
        {
            for (int k = 0; k <= 8; k++)
            {
                double mt = m.MoveT * k / 8;
                double x = Convolve(moves, 0, m.PrintTime + mt, ax, tx);
                double y = Convolve(moves, 1, m.PrintTime + mt, ay, ty);
                double dx = towerX - x, dy = towerY - y;
                double expected = Math.Sqrt(arm2 - dx * dx - dy * dy) + 2;
                Assert.Equal(expected, sk.CalcPosition(m, mt), 1e-9);
            }
        }
    }

    [Fact]
    public void Generation_window_is_widest_of_active_axes()
    {
        var sk = Wrap(new GenericCartesianStepperKinematics(1, 1, 0));
        var (ax, tx) = InputShaperDefs.GetZvShaper(60, 0.1);
        var (ay, ty) = InputShaperDefs.Get3HumpEiShaper(30, 0.1);
        sk.SetShaperParams('x', ax.Length, ax, tx);
        double preX = sk.GenStepsPreActive, postX = sk.GenStepsPostActive;
        sk.SetShaperParams('y', ay.Length, ay, ty);
        Assert.True(sk.GenStepsPreActive > preX);
        Assert.True(sk.GenStepsPostActive > postX);
        // Independent: span of y's centred pulses.
        double sum = ay.Sum(), c = 0;
        for (int i = 0; i < ay.Length; i++)
            c += ay[i] / sum * ty[i];
        Assert.Equal(ty[^1] - c, sk.GenStepsPostActive, 1e-12);
        Assert.Equal(c, sk.GenStepsPreActive, 1e-12);
        // Z is not used by this stepper: its shaper is ignored.
        var (az, tz) = InputShaperDefs.GetZvShaper(5, 0.1);
        Assert.True(sk.SetShaperParams('z', az.Length, az, tz));
        Assert.Equal(c, sk.GenStepsPreActive, 1e-12);
    }

    [Fact]
    public void Update_sk_follows_changed_original_axes()
    {
        var orig = new GenericCartesianStepperKinematics(1, 0, 0);
        var sk = Wrap(orig);
        var (a, t) = InputShaperDefs.GetZvShaper(40, 0.1);
        sk.SetShaperParams('x', a.Length, a, t);
        Assert.True(sk.GenStepsPreActive > 0);
        orig.SetCoeffs(0, 1, 0);
        sk.UpdateSk();
        Assert.Equal(ActiveAxes.Y, sk.ActiveFlags);
        Assert.Equal(0.0, sk.GenStepsPreActive);
        Move m = Chain(MakeMove(new Coord(1, 2, 3), new Coord(0, 1, 0), 10, 0, 1))[0];
        Assert.Equal(2 + 10 * 0.5, sk.CalcPosition(m, 0.5), 1e-12);
    }

    [Fact]
    public void Post_callback_is_forwarded_only_when_the_original_has_one()
    {
        var polar = new PolarStepperKinematics('a');
        var sk = Wrap(polar);
        Assert.True(sk.HasPostCallback);
        sk.CommandedPos = 3.5;
        sk.PostCommandedPositionChange();
        Assert.Equal(3.5 - 2 * Math.PI, sk.CommandedPos);
        Assert.Equal(3.5 - 2 * Math.PI, polar.CommandedPos);

        var plain = new GenericCartesianStepperKinematics(1, 0, 0) { CommandedPos = 1 };
        var sk2 = Wrap(plain);
        sk2.CommandedPos = 5;
        sk2.PostCommandedPositionChange();
        Assert.Equal(5.0, sk2.CommandedPos);
        Assert.Equal(1.0, plain.CommandedPos);
    }

    [Fact]
    public void Shaper_over_dual_carriage()
    {
        var dc = new DualCarriageKinematics();
        dc.SetSk(new GenericCartesianStepperKinematics(1, 0, 0));
        dc.SetTransform('x', -1, 200);
        var sk = Wrap(dc);
        var (a, t) = InputShaperDefs.GetZvShaper(40, 0.1);
        Assert.True(sk.SetShaperParams('x', a.Length, a, t));
        Move m = Chain(MakeMove(new Coord(10, 0, 0), new Coord(1, 0, 0), 50, 0, 4))[0];
        Assert.Equal(200 - (10 + 50 * 2.0), sk.CalcPosition(m, 2.0), 1e-9);
    }
}
