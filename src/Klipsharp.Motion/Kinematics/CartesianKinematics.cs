namespace Klipsharp.Motion;

/// <summary>A stepper that follows one cartesian axis (upstream's kin_cartesian, cartesian_stepper_alloc).</summary>
public sealed class CartesianStepperKinematics : StepperKinematics
{
    private readonly int _axis;

    /// <param name="axis">'x', 'y' or 'z'.</param>
    public CartesianStepperKinematics(char axis)
    {
        switch (axis)
        {
            case 'x': _axis = 0; ActiveFlags = ActiveAxes.X; break;
            case 'y': _axis = 1; ActiveFlags = ActiveAxes.Y; break;
            case 'z': _axis = 2; ActiveFlags = ActiveAxes.Z; break;
            default: throw new ArgumentException($"invalid cartesian axis '{axis}'", nameof(axis));
        }
        CartesianAxis = _axis;
        LinearWeights = new Coord(_axis == 0 ? 1 : 0, _axis == 1 ? 1 : 0, _axis == 2 ? 1 : 0);
        Axis = axis;
    }

    /// <summary>The axis this stepper follows.</summary>
    public char Axis { get; }

    public override double CalcPosition(Move m, double moveTime)
    {
        double moveDist = m.GetDistance(moveTime);
        return _axis switch
        {
            0 => m.StartPos.X + m.AxesR.X * moveDist,
            1 => m.StartPos.Y + m.AxesR.Y * moveDist,
            _ => m.StartPos.Z + m.AxesR.Z * moveDist,
        };
    }
}
