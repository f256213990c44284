using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests.Kinematics;

/// <summary>
/// The secant search with a kinematics' position inlined into its loop against the same
/// search calling the virtual CalcPosition for every guess: the same steps, bit for bit.
/// </summary>
public class InlinePositionTests
{
    // The kinematics whose position the solver inlines (the others call CalcPosition).
    public static TheoryData<string> Kinematics() =>
    [
        "cartesian x", "cartesian y", "cartesian z", "corexy +", "corexy -", "corexz +", "corexz -",
        "shaped cartesian y", "shaped corexy", "extruder",
    ];

    private static StepperKinematics Create(string name) => name switch
    {
        "cartesian x" => new CartesianStepperKinematics('x'),
        "cartesian y" => new CartesianStepperKinematics('y'),
        "cartesian z" => new CartesianStepperKinematics('z'),
        "corexy +" => new CoreXYStepperKinematics('+'),
        "corexy -" => new CoreXYStepperKinematics('-'),
        "corexz +" => new CoreXZStepperKinematics('+'),
        "corexz -" => new CoreXZStepperKinematics('-'),
        "shaped cartesian y" => Shaped(new CartesianStepperKinematics('y'), 'y'),
        "extruder" => new ExtruderStepperKinematics(), // (pressure advance off)
        _ => Shaped(new CoreXYStepperKinematics('+'), 'x', 'y'),
    };

    private static StepperKinematics Shaped(StepperKinematics orig, params char[] axes)
    {
        var sk = new InputShaperKinematics();
        Assert.True(sk.SetSk(orig));
        foreach (char axis in axes)
        {
            var (a, t) = axis == 'x' ? InputShaperDefs.GetMzvShaper(52.4, 0.1) : InputShaperDefs.GetEiShaper(43.2, 0.1);
            Assert.True(sk.SetShaperParams(axis, a.Length, a, t));
        }
        return sk;
    }

    // The solver's shorter distance for cruise segments against Move.GetDistance, bit for
    // bit, over the cruise segments of random moves (the steps alone would not show a
    // difference far below a clock tick).
    [Fact]
    public void CruiseDistanceIsGetDistanceBitForBit()
    {
        var (toolhead, extruder, _) = ClosedFormStepsTests.RandomMoves(7, 300);
        var rng = new Random(11);
        int cruises = 0;
        foreach (TrapQ tq in new[] { toolhead, extruder })
        {
            for (Move? m = tq.HeadSentinel.Next; m is not null && m != tq.TailSentinel; m = m.Next)
            {
                if (!StepperKinematics.IsCruise(m))
                    continue;
                cruises++;
                for (int i = 0; i <= 100; i++)
                {
                    double t = i == 100 ? m.MoveT : m.MoveT * rng.NextDouble();
                    Assert.Equal(BitConverter.DoubleToInt64Bits(m.GetDistance(t)),
                        BitConverter.DoubleToInt64Bits(StepperKinematics.DistanceInCruise(m, t)));
                }
            }
        }
        Assert.True(cruises > 100, $"only {cruises} cruise segments");
    }

    [Fact]
    public void OnlySegmentsAtAConstantNonzeroSpeedAreCruise()
    {
        static bool Cruise(double startV, double halfAccel) =>
            StepperKinematics.IsCruise(new Move { StartV = startV, HalfAccel = halfAccel, MoveT = 1.0 });

        // No start speed: 0 + HalfAccel * t need not be StartV (-0.0 + 0.0 is +0.0)
        Assert.False(Cruise(0.0, 0.0));
        Assert.False(Cruise(-0.0, 0.0));
        Assert.False(Cruise(0.0, -0.0));
        Assert.False(Cruise(100.0, 1500.0));
        Assert.False(Cruise(100.0, -1500.0));
        Assert.True(Cruise(100.0, 0.0));
        Assert.True(Cruise(-4.0, -0.0));
    }

    [Theory]
    [MemberData(nameof(Kinematics))]
    public void InlinedPositionGivesTheVirtualCallsSteps(string name)
    {
        var (toolhead, extruder, flushTimes) = ClosedFormStepsTests.RandomMoves(name.Length, 150);
        TrapQ tq = name == "extruder" ? extruder : toolhead;
        StepperKinematics general = Create(name);
        general.SolverUsesVirtualPosition = true;
        AssertSameSteps(GenerateAll(general, tq, flushTimes), GenerateAll(Create(name), tq, flushTimes));
    }
}
