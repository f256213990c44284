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

    // The solver computes CalcPosition's operations inline (BeltPosition).
    private protected override int GenStepsRangeOther(StepCompress sc, Move m, double absStart, double absEnd) => _plus
        ? GenStepsRangeBelt<AxisZ, BeltPlus>(sc, m, absStart, absEnd)
        : GenStepsRangeBelt<AxisZ, BeltMinus>(sc, m, absStart, absEnd);
}
