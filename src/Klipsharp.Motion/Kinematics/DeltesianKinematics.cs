namespace Klipsharp.Motion;

/// <summary>Deltesian arm carriage (upstream kin_deltesian.c): carriage height in the XZ plane.</summary>
public sealed class DeltesianStepperKinematics : StepperKinematics
{
    private readonly double _arm2, _armX;

    /// <param name="arm2">Arm length squared.</param>
    /// <param name="armX">X offset of the arm's tower.</param>
    public DeltesianStepperKinematics(double arm2, double armX)
    {
        _arm2 = arm2;
        _armX = armX;
        ActiveFlags = ActiveAxes.X | ActiveAxes.Z;
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        double dx = c.X - _armX;
        return Math.Sqrt(_arm2 - dx * dx) + c.Z;
    }
}
