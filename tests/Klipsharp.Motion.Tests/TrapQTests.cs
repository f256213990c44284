using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests;

public class TrapQTests
{
    private static List<Move> PendingMoves(TrapQ tq)
    {
        var list = new List<Move>();
        for (Move? m = tq.HeadSentinel.Next; m is not null && m != tq.TailSentinel; m = m.Next)
            list.Add(m);
        return list;
    }

    private static List<Move> History(TrapQ tq)
    {
        var list = new List<Move>();
        for (Move? m = tq.HistoryFirst; m is not null; m = m.Next)
            list.Add(m);
        return list;
    }

    private static TrapQ MakeTrapezoid()
    {
        var tq = new TrapQ();
        // 0.1s accel 0->10 mm/s (100 mm/s^2), 0.2s cruise, 0.1s decel; along +X.
        tq.Append(2.0, 0.1, 0.2, 0.1, 0, 0, 0, 1, 0, 0, 0.0, 10.0, 100.0);
        return tq;
    }

    [Fact]
    public void EmptyQueueHasUpstreamSentinels()
    {
        var tq = new TrapQ();
        Assert.Equal(-1.0, tq.HeadSentinel.PrintTime);
        Assert.Equal(0.0, tq.HeadSentinel.MoveT);
        Assert.Equal(TrapQ.NeverTime, tq.TailSentinel.PrintTime);
        Assert.Equal(TrapQ.NeverTime, tq.TailSentinel.MoveT);
        Assert.Same(tq.TailSentinel, tq.HeadSentinel.Next);
        Assert.Same(tq.HeadSentinel, tq.TailSentinel.Prev);
        Assert.Null(tq.HeadSentinel.Prev);
        Assert.Null(tq.TailSentinel.Next);
        Assert.True(tq.IsEmpty);
    }

    [Fact]
    public void AppendSplitsTrapezoidAndFillsGapWithNullMove()
    {
        TrapQ tq = MakeTrapezoid();
        List<Move> moves = PendingMoves(tq);
        Assert.Equal(4, moves.Count);
        // The gap before the first move is covered by at most MAX_NULL_MOVE (1s)
        Assert.Equal(1.0, moves[0].PrintTime);
        Assert.Equal(1.0, moves[0].MoveT);
        Assert.Equal(0.0, moves[0].StartV);
        Assert.Equal(0.0, moves[0].HalfAccel);

        Assert.Equal(2.0, moves[1].PrintTime);
        Assert.Equal(0.1, moves[1].MoveT);
        Assert.Equal(0.0, moves[1].StartV);
        Assert.Equal(50.0, moves[1].HalfAccel);

        Assert.Equal(2.0 + 0.1, moves[2].PrintTime);
        Assert.Equal(10.0, moves[2].StartV);
        Assert.Equal(0.0, moves[2].HalfAccel);
        Assert.Equal((0.0 + 50.0 * 0.1) * 0.1, moves[2].StartPos.X);

        Assert.Equal(2.0 + 0.1 + 0.2, moves[3].PrintTime);
        Assert.Equal(-50.0, moves[3].HalfAccel);
        double cruiseEnd = moves[2].StartPos.X + 10.0 * 0.2;
        Assert.Equal(cruiseEnd, moves[3].StartPos.X);

        // Tail sentinel is marked stale, then refreshed from the last move
        Assert.Equal(0.0, tq.TailSentinel.PrintTime);
        tq.CheckSentinels();
        Assert.Equal(moves[3].PrintTime + 0.1, tq.TailSentinel.PrintTime);
        Assert.Equal(cruiseEnd + (10.0 + -50.0 * 0.1) * 0.1, tq.TailSentinel.StartPos.X);
        Assert.Equal(0.0, tq.TailSentinel.StartPos.Y);
    }

    [Fact]
    public void FirstNullMoveStartsAtPreviousEndWhenCloseToZero()
    {
        var tq = new TrapQ();
        tq.Append(0.5, 0, 1.0, 0, 0, 0, 0, 1, 0, 0, 0, 10, 0);
        List<Move> moves = PendingMoves(tq);
        Assert.Equal(2, moves.Count);
        // prev is the head sentinel (print_time -1, move_t 0)
        Assert.Equal(-1.0, moves[0].PrintTime);
        Assert.Equal(1.5, moves[0].MoveT);
    }

    [Fact]
    public void FinalizeMovesToHistoryDropsNullMovesAndExpires()
    {
        TrapQ tq = MakeTrapezoid();
        tq.FinalizeMoves(2.15, 0.0);
        List<Move> pending = PendingMoves(tq);
        Assert.Equal(2, pending.Count);
        Assert.Equal(2.1, pending[0].PrintTime);
        List<Move> hist = History(tq);
        Assert.Single(hist);
        Assert.Equal(2.0, hist[0].PrintTime);

        tq.FinalizeMoves(TrapQ.NeverTime, 0.0);
        Assert.True(tq.IsEmpty);
        Assert.Equal(TrapQ.NeverTime, tq.TailSentinel.PrintTime);
        hist = History(tq);
        Assert.Equal(3, hist.Count);
        Assert.True(hist[0].PrintTime > hist[1].PrintTime && hist[1].PrintTime > hist[2].PrintTime);

        // Expire history ending at or before 2.35, but never the newest entry
        tq.FinalizeMoves(TrapQ.NeverTime, 2.35);
        hist = History(tq);
        Assert.Single(hist);
        Assert.Equal(-50.0, hist[0].HalfAccel);
        tq.FinalizeMoves(TrapQ.NeverTime, 100.0);
        Assert.Single(History(tq));
    }

    [Fact]
    public void ExtractOldReturnsNewestFirstFromPendingThenHistory()
    {
        TrapQ tq = MakeTrapezoid();
        tq.FinalizeMoves(2.15, 0.0);
        var buf = new PullMove[10];
        int n = tq.ExtractOld(buf, 0.0, TrapQ.NeverTime);
        Assert.Equal(3, n);
        Assert.Equal(2.3, buf[0].PrintTime, 12);
        Assert.Equal(-100.0, buf[0].Accel);
        Assert.Equal(2.1, buf[1].PrintTime, 12);
        Assert.Equal(10.0, buf[1].StartV);
        Assert.Equal(2.0, buf[2].PrintTime);
        Assert.Equal(100.0, buf[2].Accel);
        Assert.Equal(1.0, buf[2].XR);

        // Time window and max count
        n = tq.ExtractOld(buf, 2.05, 2.2);
        Assert.Equal(2, n);
        Assert.Equal(2.1, buf[0].PrintTime, 12);
        Assert.Equal(2.0, buf[1].PrintTime);
        n = tq.ExtractOld(buf.AsSpan(0, 1), 0.0, TrapQ.NeverTime);
        Assert.Equal(1, n);
    }

    [Fact]
    public void SetPositionTruncatesInterruptedMoveAndAddsMarker()
    {
        TrapQ tq = MakeTrapezoid();
        tq.SetPosition(2.35, 5, 6, 7);
        Assert.True(tq.IsEmpty);
        List<Move> hist = History(tq);
        Assert.Equal(4, hist.Count);
        Assert.Equal(2.35, hist[0].PrintTime);
        Assert.Equal(0.0, hist[0].MoveT);
        Assert.Equal(new Coord(5, 6, 7), hist[0].StartPos);
        Assert.Equal(2.35 - hist[1].PrintTime, hist[1].MoveT);

        // Moves starting at or after the new position time are dropped
        tq.SetPosition(2.05, 1, 2, 3);
        hist = History(tq);
        Assert.Equal(2, hist.Count);
        Assert.Equal(2.05, hist[0].PrintTime);
        Assert.Equal(2.0, hist[1].PrintTime);
        Assert.Equal(2.05 - 2.0, hist[1].MoveT);
    }

    [Fact]
    public void MovesAreRecycled()
    {
        var tq = new TrapQ();
        tq.Append(2.0, 0, 1.0, 0, 0, 0, 0, 1, 0, 0, 0, 10, 0);
        Move first = PendingMoves(tq)[1];
        tq.FinalizeMoves(TrapQ.NeverTime, 0.0);
        tq.Append(4.0, 0, 1.0, 0, 0, 0, 0, 1, 0, 0, 0, 10, 0);
        tq.FinalizeMoves(TrapQ.NeverTime, 100.0);
        // Freed moves are reset before reuse
        tq.Append(10.0, 0, 1.0, 0, 1, 2, 3, 0, 1, 0, 0, 5, 0);
        List<Move> moves = PendingMoves(tq);
        Assert.Equal(2, moves.Count);
        Assert.Equal(new Coord(1, 2, 3), moves[1].StartPos);
        Assert.Equal(new Coord(0, 1, 0), moves[1].AxesR);
        Assert.Equal(5.0, moves[1].StartV);
        Assert.NotNull(first);
    }
}
