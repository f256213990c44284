namespace Klipsharp.Motion;

/// <summary>Cable winch stepper (upstream kin_winch.c): cable length from an anchor point.</summary>
public sealed class WinchStepperKinematics : StepperKinematics
{
    private readonly Coord _anchor;

    public WinchStepperKinematics(double anchorX, double anchorY, double anchorZ)
    {
        _anchor = new Coord(anchorX, anchorY, anchorZ);
        ActiveFlags = ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z;
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        double dx = _anchor.X - c.X, dy = _anchor.Y - c.Y;
        double dz = _anchor.Z - c.Z;
        return Math.Sqrt(dx * dx + dy * dy + dz * dz);
    }
}
