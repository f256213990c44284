namespace Klipsharp.Motion;

/// <summary>Rotary delta shoulder joint (upstream kin_rotary_delta.c): upper arm angle in radians.</summary>
public sealed class RotaryDeltaStepperKinematics : StepperKinematics
{
    private readonly double _cos, _sin, _shoulderRadius, _shoulderHeight;
    private readonly double _upperArm2, _lowerArm2;

    /// <param name="shoulderRadius">Distance of the shoulder joint from the center.</param>
    /// <param name="shoulderHeight">Height of the shoulder joint.</param>
    /// <param name="angle">Angle of this arm's shoulder platform, in radians.</param>
    /// <param name="upperArm">Upper arm length.</param>
    /// <param name="lowerArm">Lower arm length.</param>
    public RotaryDeltaStepperKinematics(double shoulderRadius, double shoulderHeight,
        double angle, double upperArm, double lowerArm)
    {
        _cos = Math.Cos(angle);
        _sin = Math.Sin(angle);
        _shoulderRadius = shoulderRadius;
        _shoulderHeight = shoulderHeight;
        _upperArm2 = upperArm * upperArm;
        _lowerArm2 = lowerArm * lowerArm;
        ActiveFlags = ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z;
    }

    // Elbow lies on both circles: |elbow| = upper_arm and |effector - elbow| = lower_arm.
    // Writing elbow_y = c1 - c2*elbow_x gives a quadratic in elbow_x; the result is
    // kept scaled by (c2^2 + 1) because only the angle is needed.
    private static double TwoArmAngle(double dx, double dy, double upperArm2, double lowerArm2)
    {
        double invDy = 1.0 / dy;
        double c1 = 0.5 * invDy * (dx * dx + dy * dy + upperArm2 - lowerArm2);
        double c2 = dx * invDy;
        double scale = c2 * c2 + 1.0;
        double scaledElbowX = c1 * c2 + Math.Sqrt(scale * upperArm2 - c1 * c1);
        double scaledElbowY = c1 * scale - c2 * scaledElbowX;
        return Math.Atan2(scaledElbowY, scaledElbowX);
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        Coord c = m.GetCoord(moveTime);
        // Shoulder-joint frame: upper arm swings in its local xy plane, x along the platform.
        double sjz = c.Y * _cos - c.X * _sin;
        double sjx = c.X * _cos + c.Y * _sin - _shoulderRadius;
        double sjy = c.Z - _shoulderHeight;
        return TwoArmAngle(sjx, sjy, _upperArm2, _lowerArm2 - sjz * sjz);
    }
}
