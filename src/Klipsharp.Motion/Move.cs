namespace Klipsharp.Motion;

/// <summary>An XYZ coordinate (upstream chelper's <c>struct coord</c>).</summary>
public struct Coord
{
    public double X, Y, Z;

    public Coord(double x, double y, double z)
    {
        X = x;
        Y = y;
        Z = z;
    }

    /// <summary>Axis by index: 0 = X, 1 = Y, 2 = Z.</summary>
    public double this[int axis]
    {
        readonly get => axis switch { 0 => X, 1 => Y, 2 => Z, _ => throw new ArgumentOutOfRangeException(nameof(axis)) };
        set
        {
            switch (axis)
            {
                case 0: X = value; break;
                case 1: Y = value; break;
                case 2: Z = value; break;
                default: throw new ArgumentOutOfRangeException(nameof(axis));
            }
        }
    }
}

/// <summary>
/// One constant-acceleration segment of a trapezoidal move in a <see cref="TrapQ"/>
/// (upstream chelper's <c>struct move</c>). Moves form a doubly linked list with
/// sentinels at both ends, so kinematics that look at neighbouring moves (pressure
/// advance, input shaper) can walk <see cref="Prev"/>/<see cref="Next"/>.
/// </summary>
public sealed class Move
{
    public double PrintTime, MoveT;
    public double StartV, HalfAccel;
    public Coord StartPos, AxesR;

    /// <summary>Neighbours in the owning list (moves or history); null at the ends.</summary>
    public Move? Prev, Next;

    /// <summary>Distance travelled along the move at <paramref name="moveTime"/>.</summary>
    public double GetDistance(double moveTime) => (StartV + HalfAccel * moveTime) * moveTime;

    /// <summary>Cartesian position at <paramref name="moveTime"/> seconds into the move.</summary>
    public Coord GetCoord(double moveTime)
    {
        double moveDist = GetDistance(moveTime);
        return new Coord(
            StartPos.X + AxesR.X * moveDist,
            StartPos.Y + AxesR.Y * moveDist,
            StartPos.Z + AxesR.Z * moveDist);
    }
}
