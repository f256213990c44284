using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Tests.Kinematics;

// Expected values are upstream's (delta.py / rotary_delta.py / mathutil.py) on the same inputs.
public class DeltaCalibrationTests
{
    [Fact]
    public void LinearDeltaStablePositionRoundTrip()
    {
        var dc = new DeltaCalibration(174.75, [210.0, 330.0, 90.0], [333.0, 333.0, 333.0],
            [297.05, 297.05, 297.05], [0.0125, 0.0125, 0.0125]);
        var sp = dc.CalcStablePosition([10.0, -20.0, 5.0]);
        Assert.Equal([23368.48198069773, 22529.60957759425, 24446.777020606576], sp);
        Assert.Equal([9.999999999999972, -19.999999999999986, 5.0], dc.GetPositionFromStable(sp));
        var (adj, p) = dc.CoordinateDescentParams(true);
        Assert.Equal(["radius", "angle_a", "angle_b", "endstop_a", "endstop_b", "endstop_c", "arm_a", "arm_b", "arm_c"], adj);
        Assert.Equal(174.75, p["radius"]);
        Assert.Equal(0.0125, p["stepdist_c"]);
    }

    [Fact]
    public void RotaryDeltaStablePositionRoundTrip()
    {
        double stepdist = 2 * Math.PI / (200.0 * 16 * 69 / 17);
        var rc = new RotaryDeltaCalibration(33.9, 412.9, [30.0, 150.0, 270.0], [170.0, 170.0, 170.0],
            [320.0, 320.0, 320.0], [252.0, 252.0, 252.0], [stepdist, stepdist, stepdist]);
        Assert.Equal([0.7733544653495235, 0.7733544653495235, 0.7733544653495235], rc.AbsEndstops);
        var sp = rc.CalcStablePosition([10.0, -20.0, 5.0]);
        Assert.Equal([3321.7942170015103, 3423.64183748667, 3190.8201100415868], sp);
        Assert.Equal([9.9999999999999, -20.00000000000003, 5.000000000000057], rc.GetPositionFromStable(sp));
    }

    [Fact]
    public void CoordinateDescentMatchesUpstream()
    {
        var res = MathUtil.CoordinateDescent(["a", "b"], new Dictionary<string, double> { ["a"] = 0, ["b"] = 0, ["c"] = 7 },
            p => Math.Pow(p["a"] - 3.0, 2) + Math.Pow(p["b"] + 1.5, 2));
        Assert.Equal(2.9999957058850684, res["a"]);
        Assert.Equal(-1.4999991380095679, res["b"]);
        Assert.Equal(7.0, res["c"]);
    }

    [Fact]
    public void UnreachableGeometryIsADomainError()
    {
        // Spheres that do not meet: Python's math.sqrt raises ValueError here.
        Assert.Throws<ArithmeticException>(() => MathUtil.Trilateration(
            [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], [1.0, 1.0, 1.0]));
    }
}
