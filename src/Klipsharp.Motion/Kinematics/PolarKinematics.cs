namespace Klipsharp.Motion;

/// <summary>Polar printer steppers (upstream kin_polar.c): type 'r' arm radius or 'a' bed angle.</summary>
public sealed class PolarStepperKinematics : StepperKinematics, IPostCallbackKinematics
{
    private readonly char _type;

    /// <param name="type">'r' for the radius stepper, 'a' for the bed angle stepper.</param>
    public PolarStepperKinematics(char type)
    {
        // Upstream leaves the position callback unset for any other type.
        if (type != 'r' && type != 'a')
            throw new ArgumentException($"unknown polar stepper type '{type}'", nameof(type));
        _type = type;
        ActiveFlags = ActiveAxes.X | ActiveAxes.Y;
    }

    /// <summary>The stepper type given at construction ('r' or 'a').</summary>
    public char Type => _type;

    public bool HasPostCallback => _type == 'a';

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        if (_type == 'r')
            return Math.Sqrt(c.X * c.X + c.Y * c.Y);
        // Pick the angle branch nearest to the last commanded position (x == y == 0 is not handled).
        double angle = Math.Atan2(c.Y, c.X);
        if (angle - CommandedPos > Math.PI)
            angle -= 2.0 * Math.PI;
        else if (angle - CommandedPos < -Math.PI)
            angle += 2.0 * Math.PI;
        return angle;
    }

    /// <summary>Keeps the bed angle within [-pi, pi] (angle stepper only).</summary>
    public override void PostCommandedPositionChange()
    {
        if (_type != 'a')
            return;
        if (CommandedPos < -Math.PI)
            CommandedPos += 2.0 * Math.PI;
        else if (CommandedPos > Math.PI)
            CommandedPos -= 2.0 * Math.PI;
    }
}
