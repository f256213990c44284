namespace Klipsharp.Motion;

/// <summary>A copy of one trapq move for history reports (upstream chelper's <c>struct pull_move</c>).</summary>
public struct PullMove
{
    public double PrintTime, MoveT;
    public double StartV, Accel;
    public double StartX, StartY, StartZ;
    public double XR, YR, ZR;
}

/// <summary>
/// Trapezoidal velocity move queue (upstream chelper's trapq). Pending moves sit
/// between a head and a tail sentinel; finalized moves go to a newest-first history
/// list that motion reports read back.
/// </summary>
public sealed partial class TrapQ
{
    /// <summary>Upstream's NEVER_TIME: "far in the future" for sentinels and flushes.</summary>
    public const double NeverTime = 9999999999999999.9;

    // Longest null move inserted ahead of the first real move (numerical stability).
    private const double MaxNullMove = 1.0;

    private readonly Move _headSentinel, _tailSentinel;
    private Move? _historyFirst, _historyLast; // newest first
    private Move? _freeList; // recycled Move objects, linked through Next

    public TrapQ()
    {
        _headSentinel = new Move { PrintTime = -1.0 };
        _tailSentinel = new Move { PrintTime = NeverTime, MoveT = NeverTime };
        _headSentinel.Next = _tailSentinel;
        _tailSentinel.Prev = _headSentinel;
    }

    /// <summary>The sentinel before the first pending move (print_time -1, move_t 0).</summary>
    public Move HeadSentinel => _headSentinel;

    /// <summary>The sentinel after the last pending move (NEVER_TIME until moves are queued).</summary>
    public Move TailSentinel => _tailSentinel;

    /// <summary>Newest move in the history list (null when empty); walk older moves with <see cref="Move.Next"/>.</summary>
    public Move? HistoryFirst => _historyFirst;

    /// <summary>Oldest move in the history list (null when empty).</summary>
    public Move? HistoryLast => _historyLast;

    /// <summary>True when no moves are pending between the sentinels.</summary>
    public bool IsEmpty => _headSentinel.Next == _tailSentinel;

    private Move AllocMove()
    {
        Move? m = _freeList;
        if (m is null)
            return new Move();
        _freeList = m.Next;
        m.PrintTime = m.MoveT = m.StartV = m.HalfAccel = 0.0;
        m.StartPos = default;
        m.AxesR = default;
        m.Prev = m.Next = null;
        return m;
    }

    private void FreeMove(Move m)
    {
        m.Prev = null;
        m.Next = _freeList;
        _freeList = m;
    }

    /// <summary>Count of moves taken off the pending list so far (a cached position in it is valid while this is unchanged).</summary>
    public long Removals { get; private set; }

    private void Unlink(Move m)
    {
        Removals++;
        // Only used for nodes with both neighbours (the moves list, between sentinels).
        m.Prev!.Next = m.Next;
        m.Next!.Prev = m.Prev;
        m.Prev = m.Next = null;
    }

    private static void InsertBefore(Move m, Move next)
    {
        Move prev = next.Prev!;
        m.Prev = prev;
        m.Next = next;
        prev.Next = m;
        next.Prev = m;
    }

    private void HistoryAddHead(Move m)
    {
        m.Prev = null;
        m.Next = _historyFirst;
        if (_historyFirst is null)
            _historyLast = m;
        else
            _historyFirst.Prev = m;
        _historyFirst = m;
    }

    private void HistoryRemove(Move m)
    {
        if (m.Prev is null)
            _historyFirst = m.Next;
        else
            m.Prev.Next = m.Next;
        if (m.Next is null)
            _historyLast = m.Prev;
        else
            m.Next.Prev = m.Prev;
        m.Prev = m.Next = null;
    }

    // A manager whose queued step generation rounds read this trapq up to
    // _queuedReadLimit (print time); see SteppersSyncManager.QueueGenSteps.
    private SteppersSyncManager? _queuedReader;
    private double _queuedReadLimit = double.MinValue;

    // Note a queued round reading up to readLimit; true if the trapq was not yet noted.
    internal bool NoteQueuedReader(SteppersSyncManager reader, double readLimit)
    {
        bool added = _queuedReader is null;
        _queuedReader = reader;
        if (readLimit > _queuedReadLimit)
            _queuedReadLimit = readLimit;
        return added;
    }

    internal void ClearQueuedReader()
    {
        _queuedReader = null;
        _queuedReadLimit = double.MinValue;
    }

    // Finish queued step generation before a change it could see.
    private void SyncQueuedReader() => _queuedReader?.SyncForChange();

    /// <summary>Refresh the tail sentinel so it continues from the last pending move (trapq_check_sentinels).</summary>
    public void CheckSentinels()
    {
        Move tail = _tailSentinel;
        if (tail.PrintTime != 0.0)
            return; // already up to date
        Move m = tail.Prev!;
        if (m == _headSentinel)
        {
            tail.PrintTime = NeverTime;
            return;
        }
        tail.PrintTime = m.PrintTime + m.MoveT;
        tail.StartPos = m.GetCoord(m.MoveT);
    }

    /// <summary>Queue a filled move, inserting a null move to cover any time gap (trapq_add_move).</summary>
    public void AddMove(Move m)
    {
        Move tail = _tailSentinel;
        Move prev = tail.Prev!;
        // Queued step generation stops at the first move that ends past its read limit,
        // so appending only touches what it reads when the last move ends before that
        if (_queuedReader is not null && prev.PrintTime + prev.MoveT <= _queuedReadLimit)
        {
            SyncQueuedReader();
            prev = tail.Prev!;
        }
        if (prev.PrintTime + prev.MoveT < m.PrintTime)
        {
            Move nullMove = AllocMove();
            nullMove.StartPos = m.StartPos;
            if (prev.PrintTime <= 0.0 && m.PrintTime > MaxNullMove)
                nullMove.PrintTime = m.PrintTime - MaxNullMove;
            else
                nullMove.PrintTime = prev.PrintTime + prev.MoveT;
            nullMove.MoveT = m.PrintTime - nullMove.PrintTime;
            InsertBefore(nullMove, tail);
        }
        InsertBefore(m, tail);
        tail.PrintTime = 0.0;
    }

    /// <summary>Queue a trapezoid (accel, cruise and decel phases; zero-length phases are skipped) (trapq_append).</summary>
    public void Append(double printTime, double accelT, double cruiseT, double decelT,
        double startPosX, double startPosY, double startPosZ,
        double axesRX, double axesRY, double axesRZ,
        double startV, double cruiseV, double accel)
    {
        var startPos = new Coord(startPosX, startPosY, startPosZ);
        var axesR = new Coord(axesRX, axesRY, axesRZ);
        if (accelT != 0.0)
        {
            Move m = AllocMove();
            m.PrintTime = printTime;
            m.MoveT = accelT;
            m.StartV = startV;
            m.HalfAccel = .5 * accel;
            m.StartPos = startPos;
            m.AxesR = axesR;
            AddMove(m);

            printTime += accelT;
            startPos = m.GetCoord(accelT);
        }
        if (cruiseT != 0.0)
        {
            Move m = AllocMove();
            m.PrintTime = printTime;
            m.MoveT = cruiseT;
            m.StartV = cruiseV;
            m.HalfAccel = 0.0;
            m.StartPos = startPos;
            m.AxesR = axesR;
            AddMove(m);

            printTime += cruiseT;
            startPos = m.GetCoord(cruiseT);
        }
        if (decelT != 0.0)
        {
            Move m = AllocMove();
            m.PrintTime = printTime;
            m.MoveT = decelT;
            m.StartV = cruiseV;
            m.HalfAccel = -.5 * accel;
            m.StartPos = startPos;
            m.AxesR = axesR;
            AddMove(m);
        }
    }

    /// <summary>
    /// Move pending moves that end by <paramref name="printTime"/> to the history list
    /// (dropping null moves), and free history older than <paramref name="clearHistoryTime"/>
    /// except the newest entry (trapq_finalize_moves).
    /// </summary>
    public void FinalizeMoves(double printTime, double clearHistoryTime)
    {
        SyncQueuedReader();
        Move head = _headSentinel, tail = _tailSentinel;
        for (;;)
        {
            Move m = head.Next!;
            if (m == tail)
            {
                tail.PrintTime = NeverTime;
                break;
            }
            if (m.PrintTime + m.MoveT > printTime)
                break;
            Unlink(m);
            if (m.StartV != 0.0 || m.HalfAccel != 0.0)
                HistoryAddHead(m);
            else
                FreeMove(m);
        }
        if (_historyFirst is null)
            return;
        Move latest = _historyFirst;
        for (;;)
        {
            Move m = _historyLast!;
            if (m == latest || m.PrintTime + m.MoveT > clearHistoryTime)
                break;
            HistoryRemove(m);
            FreeMove(m);
        }
    }

    /// <summary>Flush all moves, cut interrupted history at <paramref name="printTime"/> and add a position marker (trapq_set_position).</summary>
    public void SetPosition(double printTime, double posX, double posY, double posZ)
    {
        SyncQueuedReader();
        FinalizeMoves(NeverTime, 0.0);

        while (_historyFirst is not null)
        {
            Move h = _historyFirst;
            if (h.PrintTime < printTime)
            {
                if (h.PrintTime + h.MoveT > printTime)
                    h.MoveT = printTime - h.PrintTime;
                break;
            }
            HistoryRemove(h);
            FreeMove(h);
        }

        Move m = AllocMove();
        m.PrintTime = printTime;
        m.StartPos = new Coord(posX, posY, posZ);
        HistoryAddHead(m);
    }

    private static void CopyPullMove(ref PullMove p, Move m)
    {
        p.PrintTime = m.PrintTime;
        p.MoveT = m.MoveT;
        p.StartV = m.StartV;
        p.Accel = 2.0 * m.HalfAccel;
        p.StartX = m.StartPos.X;
        p.StartY = m.StartPos.Y;
        p.StartZ = m.StartPos.Z;
        p.XR = m.AxesR.X;
        p.YR = m.AxesR.Y;
        p.ZR = m.AxesR.Z;
    }

    /// <summary>
    /// Copy moves overlapping [<paramref name="startTime"/>, <paramref name="endTime"/>) into
    /// <paramref name="dest"/>, newest first (pending moves, then history); returns the count (trapq_extract_old).
    /// </summary>
    public int ExtractOld(Span<PullMove> dest, double startTime, double endTime)
    {
        SyncQueuedReader();
        int res = 0, max = dest.Length;
        // Pending moves, walked from the tail (sentinels included, as upstream).
        for (Move? m = _tailSentinel; m is not null; m = m.Prev)
        {
            if (startTime >= m.PrintTime + m.MoveT || res >= max)
                break;
            if (endTime <= m.PrintTime || (m.StartV == 0.0 && m.HalfAccel == 0.0))
                continue;
            CopyPullMove(ref dest[res], m);
            res++;
        }
        for (Move? m = _historyFirst; m is not null; m = m.Next)
        {
            if (startTime >= m.PrintTime + m.MoveT || res >= max)
                break;
            if (endTime <= m.PrintTime)
                continue;
            CopyPullMove(ref dest[res], m);
            res++;
        }
        return res;
    }
}
