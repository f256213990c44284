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
        "shaped cartesian y", "shaped corexy",
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

    [Theory]
    [MemberData(nameof(Kinematics))]
    public void InlinedPositionGivesTheVirtualCallsSteps(string name)
    {
        var (toolhead, _, flushTimes) = ClosedFormStepsTests.RandomMoves(name.Length, 150);
        StepperKinematics general = Create(name);
        general.SolverUsesVirtualPosition = true;
        AssertSameSteps(GenerateAll(general, toolhead, flushTimes), GenerateAll(Create(name), toolhead, flushTimes));
    }
}
