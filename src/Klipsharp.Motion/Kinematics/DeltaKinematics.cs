namespace Klipsharp.Motion;

/// <summary>Linear delta tower carriage (upstream kin_delta.c): carriage height for an effector position.</summary>
public sealed class DeltaStepperKinematics : StepperKinematics
{
    private readonly double _arm2, _towerX, _towerY;

    /// <param name="arm2">Diagonal rod length squared.</param>
    /// <param name="towerX">Tower X position.</param>
    /// <param name="towerY">Tower Y position.</param>
    public DeltaStepperKinematics(double arm2, double towerX, double towerY)
    {
        _arm2 = arm2;
        _towerX = towerX;
        _towerY = towerY;
        ActiveFlags = ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z;
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        double dx = _towerX - c.X, dy = _towerY - c.Y;
        return Math.Sqrt(_arm2 - dx * dx - dy * dy) + c.Z;
    }
}
