namespace Klipsharp.Motion;

/// <summary>Generic cartesian stepper (upstream kin_generic.c): position = a_x*x + a_y*y + a_z*z.</summary>
public sealed class GenericCartesianStepperKinematics : StepperKinematics
{
    private Coord _a;

    public GenericCartesianStepperKinematics(double a_x, double a_y, double a_z)
    {
        SetCoeffs(a_x, a_y, a_z);
    }

    /// <summary>Replaces the coefficients; an axis is active when its coefficient is non-zero (upstream generic_cartesian_stepper_set_coeffs).</summary>
    public void SetCoeffs(double a_x, double a_y, double a_z)
    {
        SyncQueued();
        _a = new Coord(a_x, a_y, a_z);
        LinearWeights = _a;
        ActiveAxes flags = ActiveAxes.None;
        // NaN counts as non-zero, as in C.
        if (a_x != 0) flags |= ActiveAxes.X;
        if (a_y != 0) flags |= ActiveAxes.Y;
        if (a_z != 0) flags |= ActiveAxes.Z;
        ActiveFlags = flags;
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        return _a.X * c.X + _a.Y * c.Y + _a.Z * c.Z;
    }
}
