using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests.Kinematics;

/// <summary>
/// Kinematics whose position the solver computes inline (corexy, corexz) against the
/// same position computed through the virtual CalcPosition: the same steps, bit for bit.
/// </summary>
public class InlinePositionTests
{
    // Upstream's belt stepper position (move_get_coord, then the sum or difference of
    // two coordinates) through the solver's general path.
    private sealed class PlainBeltKinematics : StepperKinematics
    {
        private readonly char _other;
        private readonly bool _plus;

        public PlainBeltKinematics(char other, bool plus)
        {
            _other = other;
            _plus = plus;
            ActiveFlags = ActiveAxes.X | (other == 'y' ? ActiveAxes.Y : ActiveAxes.Z);
        }

        public override double CalcPosition(Move m, double moveTime)
        {
            Coord c = m.GetCoord(moveTime);
            double other = _other == 'y' ? c.Y : c.Z;
            return _plus ? c.X + other : c.X - other;
        }
    }

    [Theory]
    [InlineData('y', '+', 1)]
    [InlineData('y', '-', 2)]
    [InlineData('z', '+', 3)]
    [InlineData('z', '-', 4)]
    public void BeltSteppersGiveTheGeneralPathsSteps(char other, char type, int seed)
    {
        var (toolhead, _, flushTimes) = ClosedFormStepsTests.RandomMoves(seed, 150);
        var general = GenerateAll(new PlainBeltKinematics(other, type == '+'), toolhead, flushTimes);
        StepperKinematics inline = other == 'y' ? new CoreXYStepperKinematics(type) : new CoreXZStepperKinematics(type);
        AssertSameSteps(general, GenerateAll(inline, toolhead, flushTimes));
    }
}
