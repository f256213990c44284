using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests.Kinematics;

/// <summary>
/// Input-shaped cartesian and corexy steppers: the solver's inlined shaped position
/// against upstream's path, which hands the shaped position to the wrapped kinematics
/// as a motionless move and asks it for the stepper position.
/// </summary>
public class InputShaperStepsTests
{
    // A cartesian stepper that the shaper does not recognise as one, so it takes the
    // general path; its position is computed as CartesianStepperKinematics computes it.
    private sealed class PlainAxisKinematics : StepperKinematics
    {
        private readonly int _axis;

        public PlainAxisKinematics(int axis)
        {
            _axis = axis;
            ActiveFlags = (ActiveAxes)(1 << axis);
        }

        public override double CalcPosition(Move m, double moveTime)
        {
            double moveDist = m.GetDistance(moveTime);
            return _axis switch
            {
                0 => m.StartPos.X + m.AxesR.X * moveDist,
                1 => m.StartPos.Y + m.AxesR.Y * moveDist,
                _ => m.StartPos.Z + m.AxesR.Z * moveDist,
            };
        }
    }

    // A corexy stepper the shaper does not recognise, computed as CoreXYStepperKinematics.
    private sealed class PlainCoreXYKinematics : StepperKinematics
    {
        private readonly bool _plus;

        public PlainCoreXYKinematics(bool plus)
        {
            _plus = plus;
            ActiveFlags = ActiveAxes.X | ActiveAxes.Y;
        }

        public override double CalcPosition(Move m, double moveTime)
        {
            Coord c = m.GetCoord(moveTime);
            return _plus ? c.X + c.Y : c.X - c.Y;
        }
    }

    private static (List<uint[]> Messages, double Position, long Iterations) Run(StepperKinematics orig,
        IReadOnlyList<(char Axis, (double[] A, double[] T) Shaper)> shapers, TrapQ tq, IReadOnlyList<double> flushTimes)
    {
        var sk = new InputShaperKinematics();
        Assert.True(sk.SetSk(orig));
        foreach (var (axis, shaper) in shapers)
            Assert.True(sk.SetShaperParams(axis, shaper.A.Length, shaper.A, shaper.T));
        return GenerateAll(sk, tq, flushTimes);
    }

    private static (double[] A, double[] T) Shaper(string name) => name switch
    {
        "zv" => InputShaperDefs.GetZvShaper(47.5, 0.1),
        "mzv" => InputShaperDefs.GetMzvShaper(52.4, 0.1),
        "zvd" => InputShaperDefs.GetZvdShaper(38.0, 0.05),
        "ei" => InputShaperDefs.GetEiShaper(61.0, 0.1),
        "2hump_ei" => InputShaperDefs.Get2HumpEiShaper(44.0, 0.1),
        _ => InputShaperDefs.Get3HumpEiShaper(55.0, 0.15),
    };

    public static TheoryData<string, char, int> Cases()
    {
        var data = new TheoryData<string, char, int>();
        string[] shapers = ["zv", "mzv", "zvd", "ei", "2hump_ei", "3hump_ei"];
        for (int i = 0; i < shapers.Length; i++)
            data.Add(shapers[i], "xyz"[i % 3], i + 1);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ShapedCartesianStepsAreUpstreamsPath(string shaperName, char axis, int seed)
    {
        var (toolhead, _, flushTimes) = ClosedFormStepsTests.RandomMoves(seed, 150);
        var shapers = new[] { (axis, Shaper(shaperName)) };
        var general = Run(new PlainAxisKinematics(axis - 'x'), shapers, toolhead, flushTimes);
        var inlined = Run(new CartesianStepperKinematics(axis), shapers, toolhead, flushTimes);
        AssertSameSteps(general, inlined);
    }

    public static TheoryData<string, string?, char, int> CoreXYCases() => new()
    {
        { "mzv", "ei", '+', 7 },
        { "zv", "mzv", '-', 8 },
        { "3hump_ei", null, '+', 9 },
        { "2hump_ei", "zvd", '-', 10 },
    };

    [Theory]
    [MemberData(nameof(CoreXYCases))]
    public void ShapedCoreXYStepsAreUpstreamsPath(string shaperX, string? shaperY, char type, int seed)
    {
        var (toolhead, _, flushTimes) = ClosedFormStepsTests.RandomMoves(seed, 150);
        var shapers = new List<(char, (double[], double[]))> { ('x', Shaper(shaperX)) };
        if (shaperY is not null)
            shapers.Add(('y', Shaper(shaperY)));
        var general = Run(new PlainCoreXYKinematics(type == '+'), shapers, toolhead, flushTimes);
        var inlined = Run(new CoreXYStepperKinematics(type), shapers, toolhead, flushTimes);
        AssertSameSteps(general, inlined);
    }
}
