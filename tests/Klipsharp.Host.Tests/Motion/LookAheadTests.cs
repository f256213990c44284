using Klipsharp.Host;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Tests.Motion;

// Expected numbers come from upstream toolhead.py (Move + LookAheadQueue) run on the same moves.
public class LookAheadTests
{
    private sealed class FakeAxis : IExtraAxis
    {
        public string GetName() => "";
        public string? GetAxisGcodeId() => "E";
        public void CheckMove(Move move, int eaIndex) { }
        public double CalcJunction(Move prevMove, Move move, int eaIndex) => move.MaxCruiseV2;
        public void ProcessMove(double printTime, Move move, int eaIndex) { }
    }

    private sealed class FakePlanner : IMovePlanner
    {
        public double MaxVelocity => 300.0;
        public double MaxAccel => 3000.0;
        public double JunctionDeviationValue => 25.0 * (Math.Sqrt(2.0) - 1.0) / 3000.0;
        public double McrPseudoAccel => 3000.0 * (1.0 - 0.5);
        public IReadOnlyList<IExtraAxis> ExtraAxes { get; } = [new FakeAxis()];
    }

    private static readonly double[][] Points =
    [
        [0, 0, 0, 0], [10, 0, 0, 0.5], [10, 10, 0, 1], [20, 15, 0, 1.5], [20, 15, 0.2, 1.5], [0, 0, 0.2, 1.5],
        [0, 0, 0.2, 3.0], [1, 0, 0.2, 3.1], [2, 0, 0.2, 3.2], [30, 0, 0.2, 4.0],
    ];

    private static readonly double[] Speeds = [100, 100, 50, 300, 10, 150, 100, 100, 300];

    private static readonly double[][] Expected =
    [
        [0.0, 100.0, 5.000000000000002, 0.03333333333333333, 0.06670833333333334, 0.03166666666666666],
        [5.000000000000002, 100.0, 7.679914463528105, 0.03166666666666666, 0.06680663514361186, 0.030773361845490628],
        [7.679914463528105, 50.0, 5.000000000000002, 0.014106695178823965, 0.2072200680372027, 0.015],
        [5.000000000000002, 18.027756377319946, 5.000000000000002, 0.004342585459106649, 0.005547001962252293, 0.004342585459106649],
        [5.000000000000002, 10.0, 0.0, 0.0016666666666666661, 2.4970833333333333, 0.003333333333333333],
        [0.0, 47.43416490252569, 0.0, 4.7434164949959856e-07, 0.03162230226003429, 4.7434164949959856e-07],
        [0.0, 77.45966692414834, 77.45966692414834, 0.025819888974716113, 0.0, 0.0],
        [77.45966692414834, 100.0, 100.0, 0.00751344435861722, 0.0033333333333333335, 0.0],
        [100.0, 212.13203435596427, 0.0, 0.03737734478532142, 0.06913932971601798, 0.07071067811865475],
    ];

    private static LookAheadQueue Queue()
    {
        var planner = new FakePlanner();
        var q = new LookAheadQueue();
        for (int i = 1; i < Points.Length; i++)
            q.AddMove(new Move(planner, Points[i - 1], Points[i], Speeds[i - 1]));
        return q;
    }

    private static void Check(List<Move> moves, int count)
    {
        Assert.Equal(count, moves.Count);
        for (int i = 0; i < count; i++)
        {
            var m = moves[i];
            Assert.Equal(Expected[i], new[] { m.StartV, m.CruiseV, m.EndV, m.AccelT, m.CruiseT, m.DecelT });
        }
    }

    [Fact]
    public void FullFlush()
    {
        var q = Queue();
        Check(q.Flush(), 9);
        Assert.True(q.IsEmpty());
    }

    [Fact]
    public void LazyFlushKeepsTail()
    {
        var q = Queue();
        Check(q.Flush(lazy: true), 6);
        Assert.Equal(3, q.Count);
    }

    [Fact]
    public void ExtrudeOnlyMove()
    {
        var m = new Move(new FakePlanner(), [1, 2, 3, 0], [1, 2, 3, 5], 20);
        Assert.False(m.IsKinematicMove);
        Assert.Equal(5.0, m.MoveD);
        Assert.Equal(99999999.9, m.Accel);
        Assert.Equal(400.0, m.MaxCruiseV2);
    }

    [Fact]
    public void MoveErrorText()
    {
        var m = new Move(new FakePlanner(), [0, 0, 0, 0], [1.23456, -2, 9999, 0.5], 20);
        Assert.Equal("Move out of range: 1.235 -2.000 9999.000 [0.500]", m.MoveError().Message);
        Assert.Equal("Must home axis first: 1.235 -2.000 9999.000 [0.500]", m.MoveError("Must home axis first").Message);
    }
}
