namespace Klipsharp.Motion;

/// <summary>A CoreXY belt stepper: position x+y ('+') or x-y ('-') (upstream's kin_corexy, corexy_stepper_alloc).</summary>
public sealed class CoreXYStepperKinematics : StepperKinematics
{
    private readonly bool _plus;

    /// <param name="type">'+' or '-'.</param>
    public CoreXYStepperKinematics(char type)
    {
        if (type != '+' && type != '-')
            throw new ArgumentException($"invalid corexy stepper type '{type}'", nameof(type));
        _plus = type == '+';
        ActiveFlags = ActiveAxes.X | ActiveAxes.Y;
        LinearWeights = new Coord(1, _plus ? 1 : -1, 0);
    }

    /// <summary>Whether the position is x+y (else x-y).</summary>
    internal bool Plus => _plus;

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        return _plus ? c.X + c.Y : c.X - c.Y;
    }

    // The solver computes CalcPosition's operations inline (BeltPosition).
    private protected override int GenStepsRangeOther(StepCompress sc, Move m, double absStart, double absEnd) => _plus
        ? GenStepsRangeBelt<AxisY, BeltPlus>(sc, m, absStart, absEnd)
        : GenStepsRangeBelt<AxisY, BeltMinus>(sc, m, absStart, absEnd);
}
