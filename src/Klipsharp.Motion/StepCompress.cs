using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Klipsharp.Motion;

/// <summary>One past queue_step (or position marker) of a stepper (upstream's <c>struct pull_history_steps</c>).</summary>
public struct PullHistorySteps
{
    public ulong FirstClock, LastClock;
    public long StartPosition;
    public int StepCount, Interval, Add;
}

/// <summary>
/// Double-to-integer casts as upstream's C code gets them from GCC on x86-64
/// (cvttsd2si): out-of-range values and NaN give the "integer indefinite" value
/// where .NET would saturate.
/// </summary>
internal static class CConv
{
    private const double Two63 = 9223372036854775808.0;

    /// <summary>C's (int64_t) cast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ToInt64(double d)
    {
        if (Sse2.X64.IsSupported)
            return Sse2.X64.ConvertToInt64WithTruncation(Vector128.CreateScalarUnsafe(d)); // cvttsd2si itself
        return d >= -Two63 && d < Two63 ? (long)d : long.MinValue;
    }

    /// <summary>C's (int32_t) cast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ToInt32(double d)
    {
        if (Sse2.IsSupported)
            return Sse2.ConvertToInt32WithTruncation(Vector128.CreateScalarUnsafe(d));
        return d > -2147483649.0 && d < 2147483648.0 ? (int)d : int.MinValue;
    }

    /// <summary>C's (uint64_t) cast: values below 2^63 go through int64 (negatives wrap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ToUInt64(double d) =>
        d >= Two63 ? (ulong)ToInt64(d - Two63) ^ 0x8000000000000000UL : (ulong)ToInt64(d);
}

/// <summary>Where the motion core reports errors (upstream's errorf, which klippy routes to its log).</summary>
public static class MotionLog
{
    /// <summary>Receives each error line; when null, errors go to standard error as upstream's default logger does.</summary>
    public static Action<string>? ErrorHandler { get; set; }

    // Errors of the step generation running on this thread, kept to be logged in order later.
    [ThreadStatic]
    private static List<string>? t_capture;
    [ThreadStatic]
    private static bool t_capturing;

    internal static void BeginCapture()
    {
        t_capturing = true;
        t_capture = null;
    }

    internal static List<string>? EndCapture()
    {
        t_capturing = false;
        List<string>? res = t_capture;
        t_capture = null;
        return res;
    }

    internal static void Error(string message)
    {
        if (t_capturing)
        {
            (t_capture ??= new List<string>()).Add(message);
            return;
        }
        Action<string>? handler = ErrorHandler;
        if (handler is not null)
            handler(message);
        else
            Console.Error.WriteLine(message);
    }
}

/// <summary>Details of a step compression failure (the values upstream puts in its errorf text).</summary>
public sealed class StepCompressError
{
    public StepCompressError(uint oid, uint interval, int count, int add, string message)
    {
        Oid = oid;
        Interval = interval;
        Count = count;
        Add = add;
        Message = message;
    }

    public uint Oid { get; }
    public uint Interval { get; }
    public int Count { get; }
    public int Add { get; }

    /// <summary>Upstream's exact error text, e.g. "stepcompress o=3 i=0 c=2 a=0: Invalid sequence".</summary>
    public string Message { get; }

    public override string ToString() => Message;
}

/// <summary>
/// Step pulse schedule compression (upstream chelper's stepcompress): collects step
/// clocks from the iterative solver and turns them into queue_step (interval, count,
/// add) and set_next_step_dir commands for the MCU, keeping a history of what was sent.
/// Methods return 0 or <see cref="ErrorRet"/>; on error <see cref="LastError"/> holds the details.
/// </summary>
public sealed class StepCompress
{
    /// <summary>Upstream's ERROR_RET.</summary>
    public const int ErrorRet = -989898989;

    private const int QueueStartSize = 1024;
    // Largest clock gap between consecutive queued commands.
    private const ulong ClockDiffMax = 3UL << 28;
    // Bound on the add deviation between two valid quadratic sequences (6+4*sqrt(2) rounded down).
    private const int QuadraticDev = 11;
    // Step+dir+step filter window.
    private const double SdsFilterTime = .000750;

    // Pending step clocks (low 32 bits only); [_queuePos, _queueNext) are in use.
    private uint[] _queue = Array.Empty<uint>();
    private int _queuePos, _queueNext;

    private uint _maxError;
    private double _mcuTimeOffset, _mcuFreq, _lastStepPrintTime;

    private ulong _lastStepClock;
    private readonly RingBuffer<MoveQueueMessage> _msgQueue;
    private uint _oid;
    private int _queueStepMsgtag, _setNextStepDirMsgtag;
    private int _sdir, _invertSdir;

    private ulong _nextStepClock;
    private int _nextStepDir;

    private long _lastPosition;
    // Oldest first; upstream keeps the same list newest first.
    private readonly RingBuffer<HistorySteps> _history = new(64);

    private struct HistorySteps
    {
        public ulong FirstClock, LastClock;
        public long StartPosition;
        public int StepCount, Interval, Add;
    }

    private struct StepMove
    {
        public uint Interval;
        public ushort Count;
        public short Add;

        public StepMove(int interval, int count, int add)
        {
            Interval = (uint)interval;
            Count = (ushort)count;
            Add = (short)add;
        }
    }

    private struct Points
    {
        public int MinP, MaxP;
    }

    /// <summary>Create a stepcompress that appends its messages to <paramref name="msgQueue"/> (stepcompress_alloc).</summary>
    public StepCompress(RingBuffer<MoveQueueMessage>? msgQueue = null)
    {
        _msgQueue = msgQueue ?? new RingBuffer<MoveQueueMessage>(64);
        _sdir = -1;
    }

    /// <summary>Messages generated and not yet taken by a <see cref="SteppersSync"/>.</summary>
    public RingBuffer<MoveQueueMessage> MessageQueue => _msgQueue;

    // The manager whose queued rounds may be generating this stepper; changes from
    // outside step generation wait for them (see SteppersSyncManager.QueueGenSteps).
    internal SteppersSyncManager? Owner { get; init; }

    private void SyncQueued() => Owner?.SyncForChange();

    /// <summary>Details of the most recent error (null if none occurred).</summary>
    public StepCompressError? LastError { get; private set; }

    /// <summary>Set the stepper oid, the allowed error in ticks and the two command ids (stepcompress_fill).</summary>
    public void Fill(uint oid, uint maxError, int queueStepMsgtag, int setNextStepDirMsgtag)
    {
        SyncQueued();
        _oid = oid;
        _maxError = maxError;
        _queueStepMsgtag = queueStepMsgtag;
        _setNextStepDirMsgtag = setNextStepDirMsgtag;
    }

    /// <summary>Invert the direction pin sense (stepcompress_set_invert_sdir).</summary>
    public void SetInvertSdir(bool invertSdir)
    {
        SyncQueued();
        int inv = invertSdir ? 1 : 0;
        if (inv != _invertSdir)
        {
            _invertSdir = inv;
            if (_sdir >= 0)
                _sdir ^= 1;
        }
    }

    /// <summary>Drop history entries that end at or before <paramref name="endClock"/> (stepcompress_history_expire).</summary>
    public void HistoryExpire(ulong endClock)
    {
        while (_history.Count > 0)
        {
            if (_history.First.LastClock > endClock)
                break;
            _history.RemoveFirst();
        }
    }

    public uint Oid => _oid;

    /// <summary>Direction of the pending step, 1 or 0 (stepcompress_get_step_dir).</summary>
    public int GetStepDir() => _nextStepDir;

    /// <summary>The clock of the last step sent.</summary>
    public ulong LastStepClock => _lastStepClock;

    /// <summary>Step position after the last step sent.</summary>
    public long LastPosition => _lastPosition;

    private void CalcLastStepPrintTime()
    {
        double lsc = _lastStepClock;
        _lastStepPrintTime = _mcuTimeOffset + (lsc - .5) / _mcuFreq;
    }

    /// <summary>Set the print-time-to-clock conversion (stepcompress_set_time).</summary>
    public void SetTime(double timeOffset, double mcuFreq)
    {
        SyncQueued();
        _mcuTimeOffset = timeOffset;
        _mcuFreq = mcuFreq;
        CalcLastStepPrintTime();
    }

    /****************************************************************
     * Compression
     ****************************************************************/

    private static int IdivUp(int n, int d) => n >= 0 ? (n + d - 1) / d : n / d;

    private static int IdivDown(int n, int d) => n >= 0 ? n / d : (n - d + 1) / d;

    // Earliest and latest acceptable clocks (relative to the last step) for pending step
    // k (0 = the oldest); q is the oldest pending step. Step 0's previous point is the
    // last step sent (relative 0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Points MinMaxPoint(ref uint q, int k, uint lsc, uint maxErr)
    {
        uint point = Unsafe.Add(ref q, k) - lsc;
        uint prevpoint = k > 0 ? Unsafe.Add(ref q, k - 1) - lsc : 0;
        uint maxError = (point - prevpoint) / 2;
        if (maxError > maxErr)
            maxError = maxErr;
        return new Points { MinP = (int)(point - maxError), MaxP = (int)point };
    }

    // The oldest pending step (the queue holds _queueNext - _queuePos of them).
    private ref uint QueueHead => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_queue), _queuePos);

    // Scans of fewer pending points than this gain nothing from skipping blocks.
    private const int BlockSkipMinPending = 8;

    // Limits under which a scan may skip blocks: with pending points below 2^29 clocks,
    // |add * addfactor| below 2^28 and outer bounds inside (-2^29, 2^29), none of
    // upstream's int32 products or differences can wrap, so its compare-then-divide
    // updates of the interval bounds are exactly a running max and min of each point's
    // ceil((minp - c) / n) and floor((maxp - c) / n).
    private const int SkipPointLimit = 1 << 29, SkipAddLimit = 1 << 28;

    // ceil and floor of a quotient a / n computed as a * (1 / n) are exact after moving
    // the product 2^-18 towards the wanted integer: for |a / n| < 2^29 and n < 2^16 the
    // rounding errors stay below 2^-22, and a quotient that is not an integer is at least
    // 1/n > 2^-16 from one.
    private const double QuotientMargin = 1.0 / (1 << 18);

    // Reciprocals 1/n of the counts a scan reaches most often (index n).
    private static readonly double[] s_reciprocals = CreateReciprocals(1024);

    private static double[] CreateReciprocals(int length)
    {
        var table = new double[length];
        for (int n = 1; n < length; n++)
            table[n] = 1.0 / n;
        return table;
    }

    /// <summary>Scan every candidate add one point at a time as upstream does (tests compare it with the block skipping).</summary>
    internal bool ExactScans { get; set; }

    /// <summary>Points that scans passed over in blocks (tests check that block skipping ran).</summary>
    internal long SkippedPoints { get; private set; }

    // Advances a scan of compress_bisect_add over blocks of four points that all fit the
    // interval bounds, four at a time, and returns the scan's nextcount after them (1 if
    // none): the caller's point-by-point loop then finds where the sequence ends exactly
    // as upstream does. Only for scans within the Skip* limits.
    internal static int SkipValidBlocks(ref uint q, uint lsc, uint maxErr, int pending, int add,
        ref int minInterval, ref int maxInterval, ref int interval)
    {
        int done = 1; // points [0, done) are within the bounds
        Vector128<uint> lscV = Vector128.Create(lsc), maxErrV = Vector128.Create(maxErr);
        Vector256<double> half = Vector256.Create(0.5), margin = Vector256.Create(QuotientMargin);
        Vector256<double> addV = Vector256.Create((double)add);
        Vector256<double> one = Vector256.Create(1.0), four = Vector256.Create(4.0);
        // n = point index + 1 for the block's four points
        Vector256<double> n = Vector256.Create(2.0, 3.0, 4.0, 5.0);
        Vector128<double> runMin = Vector128.CreateScalarUnsafe((double)minInterval);
        Vector128<double> runMax = Vector128.CreateScalarUnsafe((double)maxInterval);
        double[] reciprocals = s_reciprocals;
        ref double recipBase = ref MemoryMarshal.GetArrayDataReference(reciprocals);
        while (done + 4 <= pending)
        {
            // minp and maxp as MinMaxPoint computes them, in 32-bit integers
            Vector128<uint> point = Vector128.LoadUnsafe(ref q, (nuint)done);
            Vector128<uint> me = Sse41.Min(Sse2.ShiftRightLogical(
                Sse2.Subtract(point, Vector128.LoadUnsafe(ref q, (nuint)(done - 1))), 1), maxErrV);
            point = Sse2.Subtract(point, lscV);
            Vector256<double> p = Avx.ConvertToVector256Double(point.AsInt32());
            Vector256<double> minP = Avx.ConvertToVector256Double(Sse2.Subtract(point, me).AsInt32());
            // c = add * n(n-1)/2
            Vector256<double> c = Avx.Multiply(addV, Avx.Multiply(Avx.Multiply(n, Avx.Subtract(n, one)), half));
            Vector256<double> recip = done + 5 <= reciprocals.Length
                ? Vector256.LoadUnsafe(ref recipBase, (nuint)(done + 1))
                : Avx.Divide(one, n);
            Vector256<double> lo = Avx.Ceiling(Avx.Subtract(Avx.Multiply(Avx.Subtract(minP, c), recip), margin));
            Vector256<double> hi = Avx.Floor(Avx.Add(Avx.Multiply(Avx.Subtract(p, c), recip), margin));
            Vector128<double> lo2 = Sse2.Max(lo.GetLower(), lo.GetUpper());
            Vector128<double> hi2 = Sse2.Min(hi.GetLower(), hi.GetUpper());
            Vector128<double> newMin = Sse2.MaxScalar(runMin, Sse2.MaxScalar(lo2, Sse2.UnpackHigh(lo2, lo2)));
            Vector128<double> newMax = Sse2.MinScalar(runMax, Sse2.MinScalar(hi2, Sse2.UnpackHigh(hi2, hi2)));
            if (Sse2.CompareScalarOrderedGreaterThan(newMin, newMax))
                break;
            runMin = newMin;
            runMax = newMax;
            done += 4;
            n = Avx.Add(n, four);
        }
        if (done > 1)
        {
            minInterval = (int)runMin.ToScalar();
            maxInterval = interval = (int)runMax.ToScalar();
        }
        return done;
    }

    // Find the interval/count/add sequence that covers the most pending steps.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private StepMove CompressBisectAdd()
    {
        ref uint q = ref QueueHead;
        uint lsc = (uint)_lastStepClock, maxErr = _maxError;
        int pending = _queueNext - _queuePos;
        if (pending > 65535)
            pending = 65535;
        Points point = MinMaxPoint(ref q, 0, lsc, maxErr);
        int outerMinInterval = point.MinP, outerMaxInterval = point.MaxP;
        int add = 0, minAdd = -0x8000, maxAdd = 0x7fff;
        int bestInterval = 0, bestCount = 1, bestAdd = 1, bestReach = int.MinValue;
        int zeroInterval = 0, zeroCount = 0;
        // Step clocks grow (a clock's rounding aside), so the last pending one is the farthest
        bool canSkip = Avx.IsSupported && !ExactScans && pending > BlockSkipMinPending
            && Unsafe.Add(ref q, pending - 1) - lsc < SkipPointLimit;
        long maxAddFactor = canSkip ? (long)pending * (pending - 1) / 2 : 0;

        for (;;)
        {
            // Longest valid sequence for this add
            int nextMinP, nextMaxP;
            int nextMinInterval = outerMinInterval;
            int nextMaxInterval = outerMaxInterval, interval = nextMaxInterval;
            int nextCount = 1, nextAddFactor;
            if (canSkip && Math.Abs(add) * maxAddFactor < SkipAddLimit
                && outerMaxInterval < SkipPointLimit && outerMaxInterval > -SkipPointLimit
                && outerMinInterval < SkipPointLimit
                && (outerMinInterval >= 0 || -(long)outerMinInterval * pending < 2 * SkipPointLimit))
            {
                nextCount = SkipValidBlocks(ref q, lsc, maxErr, pending, add,
                    ref nextMinInterval, ref nextMaxInterval, ref interval);
                SkippedPoints += nextCount - 1;
            }
            for (;;)
            {
                nextCount++;
                if (nextCount - 1 >= pending)
                    return new StepMove(interval, nextCount - 1, add);
                // Step nextCount-1 >= 1 always has a previous pending step
                uint pt = Unsafe.Add(ref q, nextCount - 1) - lsc;
                uint prevpt = Unsafe.Add(ref q, nextCount - 2) - lsc;
                uint me = (pt - prevpt) / 2;
                if (me > maxErr)
                    me = maxErr;
                nextMinP = (int)(pt - me);
                nextMaxP = (int)pt;
                nextAddFactor = nextCount * (nextCount - 1) / 2;
                int c = add * nextAddFactor;
                if (nextMinInterval * nextCount < nextMinP - c)
                    nextMinInterval = IdivUp(nextMinP - c, nextCount);
                if (nextMaxInterval * nextCount > nextMaxP - c)
                    nextMaxInterval = IdivDown(nextMaxP - c, nextCount);
                if (nextMinInterval > nextMaxInterval)
                    break;
                interval = nextMaxInterval;
            }

            // Remember the best sequence so far
            int count = nextCount - 1, addFactor = count * (count - 1) / 2;
            int reach = add * addFactor + interval * count;
            if (reach > bestReach || (reach == bestReach && interval > bestInterval))
            {
                bestInterval = interval;
                bestCount = count;
                bestAdd = add;
                bestReach = reach;
                if (add == 0)
                {
                    zeroInterval = interval;
                    zeroCount = count;
                }
                if (count > 0x200)
                    break; // no add can do better; avoid overflow
            }

            // Would a larger or smaller add reach the next point?
            int nextAddFactor2 = nextAddFactor;
            int nextReach = add * nextAddFactor2 + interval * nextCount;
            if (nextReach < nextMinP)
            {
                minAdd = add + 1;
                outerMaxInterval = nextMaxInterval;
            }
            else
            {
                maxAdd = add - 1;
                outerMinInterval = nextMinInterval;
            }

            // Limit the add range by the maximum deviation of two quadratic sequences
            if (count > 1)
            {
                int errDelta = (int)(maxErr * (uint)QuadraticDev / (uint)(count * count));
                if (minAdd < add - errDelta)
                    minAdd = add - errDelta;
                if (maxAdd > add + errDelta)
                    maxAdd = add + errDelta;
            }

            // Limit it further by the next point
            int c2 = outerMaxInterval * nextCount;
            if (minAdd * nextAddFactor2 < nextMinP - c2)
                minAdd = IdivUp(nextMinP - c2, nextAddFactor2);
            c2 = outerMinInterval * nextCount;
            if (maxAdd * nextAddFactor2 > nextMaxP - c2)
                maxAdd = IdivDown(nextMaxP - c2, nextAddFactor2);

            if (minAdd > maxAdd)
                break;
            add = maxAdd - (maxAdd - minAdd) / 4;
        }
        if (zeroCount + zeroCount / 16 >= bestCount)
            return new StepMove(zeroInterval, zeroCount, 0); // prefer add=0 when nearly as good
        return new StepMove(bestInterval, bestCount, bestAdd);
    }

    private int Fail(in StepMove move, string detail)
    {
        string text = string.Create(CultureInfo.InvariantCulture,
            $"stepcompress o={(int)_oid} i={(int)move.Interval} c={move.Count} a={move.Add}: {detail}");
        LastError = new StepCompressError(_oid, move.Interval, move.Count, move.Add, text);
        MotionLog.Error(text);
        return ErrorRet;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int FailPoint(in StepMove move, int i, uint p, Points point) =>
        Fail(move, string.Create(CultureInfo.InvariantCulture,
            $"Point {i + 1}: {(int)p} not in {point.MinP}:{point.MaxP}"));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int FailInterval(in StepMove move, int i, uint interval) =>
        Fail(move, string.Create(CultureInfo.InvariantCulture,
            $"Point {i + 1}: interval overflow {(int)interval}"));

    // Whether every point of the sequence is within its bounds and reached with an
    // interval below 2^31 (what CheckLine checks), four points at a time. Point i is
    // reached at p(i) = (i+1)*interval + add*i*(i+1)/2 with interval + add*i, all modulo
    // 2^32 as in CheckLine's running sums.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool SequenceFits(ref uint q, int count, uint lsc, uint maxErr, uint interval, uint add)
    {
        // Point 0 (its previous point is the last step sent)
        uint p0 = 0, d0 = interval;
        if (FirstMiss(ref q, 0, 1, lsc, maxErr, add, ref p0, ref d0) >= 0)
            return false;
        // Points 1.. in lanes of four
        Vector128<uint> vAdd = Vector128.Create(add), vInterval = Vector128.Create(interval);
        Vector128<uint> vLsc = Vector128.Create(lsc), vMaxErr = Vector128.Create(maxErr);
        Vector128<uint> d = vInterval + Vector128.Create(1u, 2u, 3u, 4u) * vAdd;
        Vector128<uint> p = Vector128.Create(2u, 3u, 4u, 5u) * vInterval + Vector128.Create(1u, 3u, 6u, 10u) * vAdd;
        Vector128<uint> pStepAdd = Vector128.Create(10u) * vAdd, dStep = Vector128.Create(4u) * vAdd;
        Vector128<uint> bad = Vector128<uint>.Zero;
        int i = 1;
        for (; i + 4 <= count; i += 4)
        {
            Vector128<uint> cur = Vector128.LoadUnsafe(ref q, (nuint)i) - vLsc;
            Vector128<uint> prev = Vector128.LoadUnsafe(ref q, (nuint)(i - 1)) - vLsc;
            Vector128<uint> me = Vector128.Min(Vector128.ShiftRightLogical(cur - prev, 1), vMaxErr);
            bad |= Vector128.LessThan(p, cur - me) | Vector128.GreaterThan(p, cur) | d;
            p += (d << 2) + pStepAdd;
            d += dStep;
        }
        // (the high bit of d is an interval of 2^31 or more; compares give all ones)
        if ((bad & Vector128.Create(0x80000000u)) != Vector128<uint>.Zero)
            return false;
        // The last points one at a time
        uint pi = p.GetElement(0) - d.GetElement(0), di = d.GetElement(0);
        return FirstMiss(ref q, i, count, lsc, maxErr, add, ref pi, ref di) < 0;
    }

    // check_line's walk over points [from, to): p is where the previous point was
    // reached and interval the step to this one (both as they are at the miss, if any).
    // Returns the first point that misses its bounds (compared as unsigned, as in C) or
    // is reached with an interval of 2^31 or more, or -1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FirstMiss(ref uint q, int from, int to, uint lsc, uint maxErr, uint add,
        ref uint p, ref uint interval)
    {
        for (int i = from; i < to; i++)
        {
            Points point = MinMaxPoint(ref q, i, lsc, maxErr);
            p += interval;
            if (p < (uint)point.MinP || p > (uint)point.MaxP || interval >= 0x80000000)
                return i;
            interval += add;
        }
        return -1;
    }

    // Verify that a sequence reproduces the requested step times within max_error.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int CheckLine(in StepMove move)
    {
        if (move.Count == 0 || (move.Interval == 0 && move.Add == 0 && move.Count > 1)
            || move.Interval >= 0x80000000)
            return Fail(move, "Invalid sequence");
        ref uint q = ref QueueHead;
        uint lsc = (uint)_lastStepClock, maxErr = _maxError;
        uint interval = move.Interval, p = 0, add = (uint)(int)move.Add;
        int count = move.Count;
        // A sequence that fits goes on; one that does not is walked again below for
        // upstream's message about its first bad point
        if (count >= 9 && Vector128.IsHardwareAccelerated
            && SequenceFits(ref q, count, lsc, maxErr, interval, add))
            return 0;
        int miss = FirstMiss(ref q, 0, count, lsc, maxErr, add, ref p, ref interval);
        if (miss < 0)
            return 0;
        Points point = MinMaxPoint(ref q, miss, lsc, maxErr);
        if (p < (uint)point.MinP || p > (uint)point.MaxP)
            return FailPoint(move, miss, p, point);
        return FailInterval(move, miss, interval);
    }

    /****************************************************************
     * Message generation
     ****************************************************************/

    // Queue a queue_step command for the sequence and record it in the history.
    private void AddMove(ulong firstClock, in StepMove move)
    {
        int addFactor = move.Count * (move.Count - 1) / 2;
        uint ticks = (uint)(move.Add * addFactor) + move.Interval * (uint)(move.Count - 1);
        ulong lastClock = firstClock + ticks;

        ref MoveQueueMessage qm = ref _msgQueue.AddLast();
        qm.Words[0] = (uint)_queueStepMsgtag;
        qm.Words[1] = _oid;
        qm.Words[2] = move.Interval;
        qm.Words[3] = move.Count;
        qm.Words[4] = (uint)(int)move.Add;
        qm.Length = 5;
        qm.MinClock = qm.ReqClock = _lastStepClock;
        if (move.Count == 1 && firstClock >= _lastStepClock + ClockDiffMax)
            qm.ReqClock = firstClock;
        _lastStepClock = lastClock;

        ref HistorySteps hs = ref _history.AddLast();
        hs.FirstClock = firstClock;
        hs.LastClock = lastClock;
        hs.StartPosition = _lastPosition;
        hs.Interval = (int)move.Interval;
        hs.Add = move.Add;
        hs.StepCount = _sdir != 0 ? move.Count : -move.Count;
        _lastPosition += hs.StepCount;
    }

    // Compress and send pending steps until the last step reaches moveClock.
    private int QueueFlush(ulong moveClock)
    {
        if (_queuePos >= _queueNext)
            return 0;
        while (_lastStepClock < moveClock)
        {
            StepMove move = CompressBisectAdd();
            int ret = CheckLine(move);
            if (ret != 0)
                return ret;

            AddMove(_lastStepClock + move.Interval, move);

            if (_queuePos + move.Count >= _queueNext)
            {
                _queuePos = _queueNext = 0;
                break;
            }
            _queuePos += move.Count;
        }
        CalcLastStepPrintTime();
        return 0;
    }

    // A single step far beyond the last one gets its own queue_step.
    private int FlushFar(ulong absStepClock)
    {
        var move = new StepMove { Interval = (uint)(absStepClock - _lastStepClock), Count = 1, Add = 0 };
        AddMove(absStepClock, move);
        CalcLastStepPrintTime();
        return 0;
    }

    private int SetNextStepDir(int sdir)
    {
        if (_sdir == sdir)
            return 0;
        int ret = QueueFlush(ulong.MaxValue);
        if (ret != 0)
            return ret;
        _sdir = sdir;
        ref MoveQueueMessage qm = ref _msgQueue.AddLast();
        qm.Words[0] = (uint)_setNextStepDirMsgtag;
        qm.Words[1] = _oid;
        qm.Words[2] = (uint)(sdir ^ _invertSdir);
        qm.Length = 3;
        qm.MinClock = 0;
        qm.ReqClock = _lastStepClock;
        return 0;
    }

    private int QueueAppendFar()
    {
        ulong stepClock = _nextStepClock;
        _nextStepClock = 0;
        int ret = QueueFlush(stepClock - ClockDiffMax + 1);
        if (ret != 0)
            return ret;
        if (stepClock >= _lastStepClock + ClockDiffMax)
            return FlushFar(stepClock);
        if (_queueNext >= _queue.Length)
            MakeRoom(); // upstream assumes room here; growing keeps its behaviour
        _queue[_queueNext++] = (uint)stepClock;
        return 0;
    }

    // Shuffle the queue to the front, or grow it, exactly as upstream does.
    private void MakeRoom()
    {
        int inUse = _queueNext - _queuePos;
        if (_queuePos > 0)
        {
            Array.Copy(_queue, _queuePos, _queue, 0, inUse);
        }
        else
        {
            int alloc = _queue.Length;
            if (alloc == 0)
                alloc = QueueStartSize;
            while (inUse >= alloc)
                alloc *= 2;
            Array.Resize(ref _queue, alloc);
        }
        _queuePos = 0;
        _queueNext = inUse;
    }

    private int QueueAppendExtend()
    {
        if (_queueNext - _queuePos > 65535 + 2000)
        {
            // Keeping more than 64K steps buffered is pointless: flush the oldest
            uint flush = _queue[_queueNext - 65535] - (uint)_lastStepClock;
            int ret = QueueFlush(_lastStepClock + flush);
            if (ret != 0)
                return ret;
        }
        if (_queueNext >= _queue.Length)
            MakeRoom();
        _queue[_queueNext++] = (uint)_nextStepClock;
        _nextStepClock = 0;
        return 0;
    }

    // Move the pending step into the queue (flushing if needed).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int QueueAppend() => TryQueueAppendFast() ? 0 : QueueAppendSlow();

    // QueueAppend when it needs no flush, direction message or room; else false and
    // nothing changed.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryQueueAppendFast()
    {
        if (_nextStepDir != _sdir || _nextStepClock >= _lastStepClock + ClockDiffMax
            || (uint)_queueNext >= (uint)_queue.Length)
            return false;
        _queue[_queueNext++] = (uint)_nextStepClock;
        _nextStepClock = 0;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int QueueAppendSlow()
    {
        if (_nextStepDir != _sdir)
        {
            int ret = SetNextStepDir(_nextStepDir);
            if (ret != 0)
                return ret;
        }
        if (_nextStepClock >= _lastStepClock + ClockDiffMax)
            return QueueAppendFar();
        if (_queueNext >= _queue.Length)
            return QueueAppendExtend();
        _queue[_queueNext++] = (uint)_nextStepClock;
        _nextStepClock = 0;
        return 0;
    }

    /// <summary>Add a step at <paramref name="printTime"/> + <paramref name="stepTime"/> in direction <paramref name="sdir"/> (stepcompress_append).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Append(int sdir, double printTime, double stepTime) =>
        TryAppendFast(sdir, printTime, stepTime, out ulong stepClock) ? 0 : FinishAppend(sdir, stepClock);

    /// <summary>
    /// <see cref="Append"/> without calls: false when the pending step needs the slow
    /// queueing path; then nothing changed yet and the caller must call
    /// <see cref="FinishAppend"/> with <paramref name="stepClock"/> before anything else
    /// touches this queue. (Keeps calls, and the register spills they force, out of
    /// the solver's loop.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryAppendFast(int sdir, double printTime, double stepTime, out ulong stepClock)
    {
        double offset = printTime - _lastStepPrintTime;
        double relSc = (stepTime + offset) * _mcuFreq;
        stepClock = _lastStepClock + CConv.ToUInt64(relSc);
        if (_nextStepClock != 0)
        {
            if (sdir != _nextStepDir)
            {
                double diff = (long)(stepClock - _nextStepClock);
                if (diff < SdsFilterTime * _mcuFreq)
                {
                    // Drop the pending step rather than emit step+dir+step
                    _nextStepClock = 0;
                    _nextStepDir = sdir;
                    return true;
                }
            }
            if (!TryQueueAppendFast())
                return false;
        }
        _nextStepClock = stepClock;
        _nextStepDir = sdir;
        return true;
    }

    /// <summary>The rest of an <see cref="Append"/> that <see cref="TryAppendFast"/> declined.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal int FinishAppend(int sdir, ulong stepClock)
    {
        int ret = QueueAppendSlow();
        if (ret != 0)
            return ret;
        _nextStepClock = stepClock;
        _nextStepDir = sdir;
        return 0;
    }

    /// <summary>Commit the pending step so it can no longer be rolled back (stepcompress_commit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Commit() => TryCommitFast() ? 0 : QueueAppendSlow();

    /// <summary><see cref="Commit"/> without calls: false when it needs <see cref="FinishCommit"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryCommitFast() => _nextStepClock == 0 || TryQueueAppendFast();

    /// <summary>The rest of a <see cref="Commit"/> that <see cref="TryCommitFast"/> declined.</summary>
    internal int FinishCommit() => QueueAppendSlow();

    /// <summary>Send all steps scheduled before <paramref name="moveClock"/> (stepcompress_flush).</summary>
    public int Flush(ulong moveClock)
    {
        if (_nextStepClock != 0 && moveClock >= _nextStepClock)
        {
            int ret = QueueAppend();
            if (ret != 0)
                return ret;
        }
        return QueueFlush(moveClock);
    }

    /// <summary>Flush everything and restart at <paramref name="lastStepClock"/> with unknown direction (stepcompress_reset).</summary>
    public int Reset(ulong lastStepClock)
    {
        SyncQueued();
        int ret = Flush(ulong.MaxValue);
        if (ret != 0)
            return ret;
        _lastStepClock = lastStepClock;
        _sdir = -1;
        CalcLastStepPrintTime();
        return 0;
    }

    /// <summary>Flush, set the step position and add a history marker at <paramref name="clock"/> (stepcompress_set_last_position).</summary>
    public int SetLastPosition(ulong clock, long lastPosition)
    {
        SyncQueued();
        int ret = Flush(ulong.MaxValue);
        if (ret != 0)
            return ret;
        _lastPosition = lastPosition;

        ref HistorySteps hs = ref _history.AddLast();
        hs.FirstClock = hs.LastClock = clock;
        hs.StartPosition = lastPosition;
        return 0;
    }

    /// <summary>Step position at a past <paramref name="clock"/>, from the history (stepcompress_find_past_position).</summary>
    public long FindPastPosition(ulong clock)
    {
        SyncQueued();
        long lastPosition = _lastPosition;
        for (int idx = _history.Count - 1; idx >= 0; idx--)
        {
            ref HistorySteps hs = ref _history[idx];
            if (clock < hs.FirstClock)
            {
                lastPosition = hs.StartPosition;
                continue;
            }
            if (clock >= hs.LastClock)
                return hs.StartPosition + hs.StepCount;
            int interval = hs.Interval, add = hs.Add;
            int ticks = (int)(clock - hs.FirstClock) + interval, offset;
            if (add == 0)
            {
                offset = ticks / interval;
            }
            else
            {
                // Solve add*n*(n-1)/2 + interval*n = ticks for n
                double a = .5 * add, b = interval - .5 * add, c = -ticks;
                offset = CConv.ToInt32((Math.Sqrt(b * b - 4 * a * c) - b) / (2.0 * a));
            }
            if (hs.StepCount < 0)
                return hs.StartPosition - offset;
            return hs.StartPosition + offset;
        }
        return lastPosition;
    }

    /// <summary>
    /// Copy history entries overlapping [<paramref name="startClock"/>, <paramref name="endClock"/>)
    /// into <paramref name="dest"/>, newest first; returns the count (stepcompress_extract_old).
    /// </summary>
    public int ExtractOld(Span<PullHistorySteps> dest, ulong startClock, ulong endClock)
    {
        SyncQueued();
        int res = 0, max = dest.Length;
        for (int idx = _history.Count - 1; idx >= 0; idx--)
        {
            ref HistorySteps hs = ref _history[idx];
            if (startClock >= hs.LastClock || res >= max)
                break;
            if (endClock <= hs.FirstClock)
                continue;
            ref PullHistorySteps p = ref dest[res];
            p.FirstClock = hs.FirstClock;
            p.LastClock = hs.LastClock;
            p.StartPosition = hs.StartPosition;
            p.StepCount = hs.StepCount;
            p.Interval = hs.Interval;
            p.Add = hs.Add;
            res++;
        }
        return res;
    }
}
