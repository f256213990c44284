using System.Runtime.CompilerServices;

namespace Klipsharp.Motion;

/// <summary>A CoreXZ belt stepper: position x+z ('+') or x-z ('-') (upstream's kin_corexz, corexz_stepper_alloc).</summary>
public sealed class CoreXZStepperKinematics : StepperKinematics
{
    private readonly bool _plus;

    /// <param name="type">'+' or '-'.</param>
    public CoreXZStepperKinematics(char type)
    {
        if (type != '+' && type != '-')
            throw new ArgumentException($"invalid corexz stepper type '{type}'", nameof(type));
        _plus = type == '+';
        ActiveFlags = ActiveAxes.X | ActiveAxes.Z;
        LinearWeights = new Coord(1, 0, _plus ? 1 : -1);
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        return _plus ? c.X + c.Z : c.X - c.Z;
    }

    // CalcPosition's operations (GetCoord's for the two coordinates it uses), for the
    // solver to inline instead of calling CalcPosition per guess.
    private struct BeltPosition : IPositionSource
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime)
        {
            double moveDist = m.GetDistance(moveTime);
            double x = m.StartPos.X + m.AxesR.X * moveDist;
            double other = m.StartPos.Z + m.AxesR.Z * moveDist;
            return Unsafe.As<CoreXZStepperKinematics>(sk)._plus ? x + other : x - other;
        }
    }

    private protected override int GenStepsRangeOther(StepCompress sc, Move m, double absStart, double absEnd) =>
        GenStepsRange<BeltPosition>(sc, m, absStart, absEnd);
}
