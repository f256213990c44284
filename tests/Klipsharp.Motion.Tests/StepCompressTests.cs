using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests;

[Collection("MotionLog")]
public class StepCompressTests
{
    private const double Freq = 1_000_000.0;

    private static StepCompress Make(uint oid = 5, uint maxError = 25)
    {
        var sc = new StepCompress();
        sc.Fill(oid, maxError, QueueStepTag, SetDirTag);
        sc.SetTime(0.0, Freq);
        return sc;
    }

    // Append a step at an absolute clock (print_time 0 keeps the arithmetic exact).
    private static void Step(StepCompress sc, int dir, double clock) =>
        Assert.Equal(0, sc.Append(dir, 0.0, clock / Freq));

    [Fact]
    public void ConstantIntervalBecomesOneQueueStep()
    {
        StepCompress sc = Make();
        for (int k = 1; k <= 100; k++)
            Step(sc, 1, 1000.0 * k);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        Assert.Equal(2, msgs.Count);
        Assert.Equal(new uint[] { SetDirTag, 5, 1 }, Words(msgs[0]));
        Assert.Equal(new uint[] { QueueStepTag, 5, 1000, 100, 0 }, Words(msgs[1]));
        Assert.Equal(100000UL, sc.LastStepClock);
        Assert.Equal(100L, sc.LastPosition);
    }

    [Fact]
    public void AcceleratingSequenceUsesAddWithinMaxError()
    {
        const uint maxError = 25;
        StepCompress sc = Make(maxError: maxError);
        // Constant acceleration from rest: step k at sqrt(k) scaled
        var want = new List<ulong>();
        for (int k = 1; k <= 400; k++)
        {
            double clock = 200000.0 + 20000.0 * Math.Sqrt(k);
            Step(sc, 1, clock);
            want.Add((ulong)Math.Round(clock)); // the requested clock rounds to nearest
        }
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        List<(ulong Clock, int Dir)> got = Expand(msgs);
        Assert.Equal(want.Count, got.Count);
        ulong prev = 0;
        for (int i = 0; i < want.Count; i++)
        {
            // Each step lands no later than requested and no earlier than max_error
            // (or half the gap to the previous requested step)
            ulong lim = Math.Min(maxError, (want[i] - prev) / 2);
            Assert.InRange(got[i].Clock, want[i] - lim, want[i]);
            prev = want[i];
        }
        // Far fewer commands than steps, and at least one uses a non-zero add
        int queueSteps = msgs.Count(m => m.Words[0] == QueueStepTag);
        Assert.True(queueSteps < 40, $"{queueSteps} queue_step commands");
        Assert.Contains(msgs, m => m.Words[0] == QueueStepTag && m.Words[4] != 0);
    }

    [Fact]
    public void DirectionChangesEmitSetNextStepDirWithInvert()
    {
        StepCompress sc = Make(maxError: 0);
        sc.SetInvertSdir(true);
        Step(sc, 1, 1000);
        Step(sc, 1, 2000);
        Step(sc, 0, 10000);
        Step(sc, 0, 11000);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        // Values as upstream's stepcompress.c produces them
        Assert.Equal(4, msgs.Count);
        Assert.Equal(new uint[] { SetDirTag, 5, 0 }, Words(msgs[0])); // dir 1 inverted
        Assert.Equal(new uint[] { QueueStepTag, 5, 1000, 2, 0 }, Words(msgs[1]));
        Assert.Equal(new uint[] { SetDirTag, 5, 1 }, Words(msgs[2]));
        Assert.Equal(2000UL, msgs[2].ReqClock);
        Assert.Equal(0UL, msgs[2].MinClock); // set_next_step_dir takes no move-queue slot
        Assert.Equal(new uint[] { QueueStepTag, 5, 8000, 2, unchecked((uint)-7000) }, Words(msgs[3]));
        Assert.Equal(2000UL, msgs[3].MinClock);
        Assert.Equal(2000UL, msgs[3].ReqClock);
        Assert.Equal(0L, sc.LastPosition);
    }

    [Fact]
    public void StepDirStepWithinFilterTimeIsRolledBack()
    {
        StepCompress sc = Make();
        Step(sc, 1, 1000);
        Step(sc, 1, 2000);
        Step(sc, 0, 2500); // within 750us of the pending step: both are dropped
        Step(sc, 0, 5000);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<(ulong Clock, int Dir)> steps = Expand(Drain(sc.MessageQueue));
        Assert.Equal(new (ulong, int)[] { (1000, 1), (5000, 0) }, steps);
    }

    [Fact]
    public void FarFutureStepGetsItsOwnCommandWithReqClock()
    {
        StepCompress sc = Make();
        Step(sc, 1, 1000);
        double far = 1000.0 + (3UL << 28) + 5000.0;
        Step(sc, 1, far);
        Step(sc, 1, far + 1000);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        Assert.Equal(4, msgs.Count);
        Assert.Equal(new uint[] { QueueStepTag, 5, 1000, 1, 0 }, Words(msgs[1]));
        Assert.Equal(new uint[] { QueueStepTag, 5, (uint)(far - 1000), 1, 0 }, Words(msgs[2]));
        Assert.Equal(1000UL, msgs[2].MinClock);
        Assert.Equal((ulong)far, msgs[2].ReqClock);
        Assert.Equal(new uint[] { QueueStepTag, 5, 1000, 1, 0 }, Words(msgs[3]));
    }

    [Fact]
    public void FarStepArrivingAtAFullQueueKeepsEveryStep()
    {
        // 1024 steps fill the queue as first allocated; the far step F then flushes only
        // the steps before F - CLOCK_DIFF_MAX + 1 (the 1000-clock run and the 2000-clock
        // run that crosses it), so the 5000-clock run stays queued with the queue still
        // full. Upstream writes F one entry past its queue here; the queue makes room.
        const double far = (3UL << 28) + 500_000.0;
        StepCompress sc = Make();
        var want = new List<ulong>();
        double clock = 10_000;
        for (int k = 1; k <= 1024; k++)
        {
            clock += k <= 490 ? 1000 : k <= 493 ? 2000 : 5000;
            want.Add((ulong)clock);
            Step(sc, 1, clock);
        }
        foreach (double c in new[] { far, far + 1000 })
        {
            want.Add((ulong)c);
            Step(sc, 1, c);
        }
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<(ulong Clock, int Dir)> got = Expand(Drain(sc.MessageQueue));
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++)
        {
            Assert.InRange(got[i].Clock, want[i] - 25, want[i]);
            Assert.Equal(1, got[i].Dir);
        }
        Assert.Equal((ulong)(far + 1000), sc.LastStepClock);
    }

    [Fact]
    public void FlushOnlySendsStepsBeforeMoveClock()
    {
        StepCompress sc = Make();
        for (int k = 1; k <= 10; k++)
            Step(sc, 1, 1000.0 * k);
        Assert.Equal(0, sc.Flush(4500));
        List<(ulong Clock, int Dir)> steps = Expand(Drain(sc.MessageQueue));
        // Compression may send past move_clock, but must cover every step before it
        Assert.True(steps.Count >= 4);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        steps.AddRange(Expand(Drain(sc.MessageQueue), steps[^1].Clock));
        Assert.Equal(10, steps.Count);
    }

    [Fact]
    public void HistoryFindPastPositionAndExtract()
    {
        StepCompress sc = Make(maxError: 0);
        Assert.Equal(0, sc.SetLastPosition(0, 100));
        for (int k = 1; k <= 10; k++)
            Step(sc, 1, 1000.0 * k);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        for (int k = 1; k <= 5; k++)
            Step(sc, 0, 20000.0 + 1000.0 * k);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        Assert.Equal(105L, sc.LastPosition);

        // Values as upstream's stepcompress.c produces them
        Assert.Equal(100L, sc.FindPastPosition(999));
        Assert.Equal(101L, sc.FindPastPosition(1000));
        Assert.Equal(104L, sc.FindPastPosition(4500));
        Assert.Equal(110L, sc.FindPastPosition(15000));
        Assert.Equal(109L, sc.FindPastPosition(21500));
        Assert.Equal(108L, sc.FindPastPosition(22000));
        Assert.Equal(105L, sc.FindPastPosition(99999));

        var buf = new PullHistorySteps[8];
        int n = sc.ExtractOld(buf, 0, ulong.MaxValue);
        // The marker at clock 0 ends the walk (start_clock >= its last_clock)
        Assert.Equal(3, n);
        Assert.Equal(new PullHistorySteps { FirstClock = 23000, LastClock = 25000, StartPosition = 108, StepCount = -3, Interval = 1000, Add = 0 }, buf[0]);
        Assert.Equal(new PullHistorySteps { FirstClock = 21000, LastClock = 22000, StartPosition = 110, StepCount = -2, Interval = 11000, Add = -10000 }, buf[1]);
        Assert.Equal(new PullHistorySteps { FirstClock = 1000, LastClock = 10000, StartPosition = 100, StepCount = 10, Interval = 1000, Add = 0 }, buf[2]);
        Assert.Equal(1, sc.ExtractOld(buf, 1500, 5000));
        Assert.Equal(1000UL, buf[0].FirstClock);
        Assert.Equal(2, sc.ExtractOld(buf.AsSpan(0, 2), 0, ulong.MaxValue));

        sc.HistoryExpire(10000);
        Assert.Equal(2, sc.ExtractOld(buf, 0, ulong.MaxValue));
        Assert.Equal(110L, sc.FindPastPosition(0));
    }

    [Fact]
    public void QuadraticHistoryLookupSolvesForCount()
    {
        StepCompress sc = Make(maxError: 0);
        // Exact sequence interval 1000, add -10: steps at 1000, 1990, 2970, 3940
        Step(sc, 1, 1000);
        Step(sc, 1, 1990);
        Step(sc, 1, 2970);
        Step(sc, 1, 3940);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        Assert.Equal(new uint[] { QueueStepTag, 5, 1000, 4, unchecked((uint)-10) }, Words(msgs[1]));
        Assert.Equal(0L, sc.FindPastPosition(999));
        Assert.Equal(1L, sc.FindPastPosition(1000));
        Assert.Equal(1L, sc.FindPastPosition(1989));
        Assert.Equal(2L, sc.FindPastPosition(1990));
        Assert.Equal(3L, sc.FindPastPosition(3939));
        Assert.Equal(4L, sc.FindPastPosition(3940));
    }

    [Fact]
    public void ResetRestartsClockAndForgetsDirection()
    {
        StepCompress sc = Make();
        Step(sc, 1, 1000);
        Assert.Equal(0, sc.Reset(0));
        Assert.Equal(0UL, sc.LastStepClock);
        Step(sc, 1, 3000);
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        Assert.Equal(4, msgs.Count);
        Assert.Equal(new uint[] { SetDirTag, 5, 1 }, Words(msgs[2])); // direction resent after reset
        Assert.Equal(new uint[] { QueueStepTag, 5, 3000, 1, 0 }, Words(msgs[3]));
    }

    [Fact]
    public void InvalidSequenceErrorCarriesUpstreamDetails()
    {
        var errors = new List<string>();
        Action<string>? old = MotionLog.ErrorHandler;
        MotionLog.ErrorHandler = errors.Add;
        try
        {
            StepCompress sc = Make(oid: 7);
            // Two steps on the same clock cannot be expressed (interval 0, count 2)
            Step(sc, 1, 1000);
            Step(sc, 1, 1000);
            Step(sc, 1, 1000);
            Assert.Equal(StepCompress.ErrorRet, sc.Flush(ulong.MaxValue));
            Assert.NotNull(sc.LastError);
            // Text as upstream's stepcompress.c logs it
            Assert.Equal("stepcompress o=7 i=0 c=2 a=0: Invalid sequence", sc.LastError!.Message);
            Assert.Equal(7u, sc.LastError.Oid);
            Assert.Equal(0u, sc.LastError.Interval);
            Assert.Equal(2, sc.LastError.Count);
            Assert.Equal(0, sc.LastError.Add);
            Assert.Equal(new[] { "stepcompress o=7 i=0 c=2 a=0: Invalid sequence" }, errors);
        }
        finally
        {
            MotionLog.ErrorHandler = old;
        }
    }

    // Step clocks of random motion: runs at constant speed, accelerating and decelerating,
    // with jitter, direction changes, pauses and far gaps, so that the scans see every
    // kind of add and both sides of the block-skipping limits.
    private static List<(int Dir, double Clock)> RandomSteps(Random rnd, int count)
    {
        var steps = new List<(int, double)>(count);
        double clock = 1000.0;
        int dir = 1;
        while (steps.Count < count)
        {
            int run = rnd.Next(1, 3000);
            double interval = rnd.Next(3) switch { 0 => 4 + rnd.NextDouble() * 20, 1 => 20 + rnd.NextDouble() * 2000, _ => 2000 + rnd.NextDouble() * 200000 };
            double accel = (rnd.NextDouble() - 0.5) * interval * (rnd.Next(2) == 0 ? 0.001 : 0.05);
            double jitter = rnd.Next(3) == 0 ? rnd.NextDouble() * 2 : 0.0;
            if (rnd.Next(4) == 0)
            {
                dir ^= 1;
                clock += 1000.0; // beyond the step+dir+step filter, which would drop a step
            }
            for (int i = 0; i < run && steps.Count < count; i++)
            {
                interval = Math.Max(interval + accel, 4.0);
                clock += interval + (rnd.NextDouble() - 0.5) * jitter;
                steps.Add((dir, clock));
            }
            int pause = rnd.Next(20);
            if (pause == 0)
                clock += (1 << 29) + rnd.NextDouble() * (1 << 30); // beyond the skipping limit
            else if (pause == 1)
                clock += rnd.NextDouble() * (1 << 28);
        }
        return steps;
    }

    private static List<uint[]> Compress(List<(int Dir, double Clock)> steps, uint maxError, bool exactScans, out long skipped)
    {
        StepCompress sc = Make(maxError: maxError);
        sc.ExactScans = exactScans;
        var words = new List<uint[]>();
        for (int i = 0; i < steps.Count; i++)
        {
            Step(sc, steps[i].Dir, steps[i].Clock);
            if (i % 5000 == 4999)
            {
                Assert.Equal(0, sc.Flush((ulong)steps[i].Clock - 20000));
                words.AddRange(Drain(sc.MessageQueue).Select(m => Words(m)));
            }
        }
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        words.AddRange(Drain(sc.MessageQueue).Select(m => Words(m)));
        skipped = sc.SkippedPoints;
        return words;
    }

    [Theory]
    [InlineData(1, 25u)]
    [InlineData(2, 400u)]
    [InlineData(3, 3u)]
    [InlineData(4, 25u)]
    public void BlockSkippingScansGiveUpstreamsCommands(int seed, uint maxError)
    {
        List<(int Dir, double Clock)> steps = RandomSteps(new Random(seed), 200_000);
        List<uint[]> exact = Compress(steps, maxError, exactScans: true, out long exactSkipped);
        List<uint[]> skipping = Compress(steps, maxError, exactScans: false, out long skipped);
        Assert.Equal(0, exactSkipped);
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
            Assert.True(skipped > steps.Count / 4, $"only {skipped} points skipped");
        Assert.Equal(exact.Count, skipping.Count);
        for (int i = 0; i < exact.Count; i++)
            Assert.True(exact[i].AsSpan().SequenceEqual(skipping[i]), $"message {i}: {string.Join(' ', exact[i])} vs {string.Join(' ', skipping[i])}");
        // The commands reproduce every step
        Assert.Equal(steps.Count, exact.Where(w => w[0] == QueueStepTag).Sum(w => (long)w[3]));
    }

    // Upstream's scan of compress_bisect_add for one add over points [from, to): the
    // interval bounds after each point, or false at the first point that empties them.
    private static bool UpstreamScan(uint[] q, uint lsc, uint maxErr, int add, int from, int to,
        ref int minInterval, ref int maxInterval)
    {
        for (int k = from; k < to; k++)
        {
            int n = k + 1;
            uint pt = q[k] - lsc, prev = q[k - 1] - lsc;
            uint me = Math.Min((pt - prev) / 2, maxErr);
            int minP = (int)(pt - me), maxP = (int)pt, c = add * (n * (n - 1) / 2);
            if (minInterval * n < minP - c)
                minInterval = (minP - c) >= 0 ? (minP - c + n - 1) / n : (minP - c) / n;
            if (maxInterval * n > maxP - c)
                maxInterval = (maxP - c) >= 0 ? (maxP - c) / n : (maxP - c - n + 1) / n;
            if (minInterval > maxInterval)
                return false;
        }
        return true;
    }

    [Fact]
    public void BlockSkippingStopsWhereUpstreamsScanWouldEnd()
    {
        if (!System.Runtime.Intrinsics.X86.Avx.IsSupported)
            return; // block skipping is x86 only
        var rnd = new Random(11);
        int blocks = 0;
        for (int trial = 0; trial < 20000; trial++)
        {
            int pending = rnd.Next(8, 300);
            uint maxErr = (uint)rnd.Next(1, 500);
            uint lsc = (uint)rnd.NextInt64(0, 1L << 32); // clocks may wrap around 2^32
            var q = new uint[pending];
            double interval = rnd.Next(2) == 0 ? 2 + rnd.Next(40) : 10 + rnd.NextDouble() * 5000;
            double accel = (rnd.NextDouble() - 0.5) * rnd.Next(4) * 0.2, clock = 0.0;
            for (int k = 0; k < pending; k++)
            {
                interval = Math.Max(interval + accel, 2.0);
                clock += interval;
                // Exact multiples of small counts exercise quotients that are integers
                q[k] = lsc + (uint)(rnd.Next(3) == 0 ? Math.Round(clock / 6) * 6 : Math.Round(clock));
                if (k > 0 && q[k] - lsc <= q[k - 1] - lsc)
                    q[k] = q[k - 1] + 1;
            }
            if (rnd.Next(10) == 0)
            {
                // A step a few clocks before the one ahead of it (clocks from different
                // moves' print times can round that way), even before the last step sent
                int k = rnd.Next(1, pending);
                q[k] = q[k - 1] - (uint)rnd.Next(1, 4);
            }
            int add = rnd.Next(3) switch { 0 => 0, 1 => rnd.Next(-20, 21), _ => rnd.Next(-3000, 3001) / (pending * pending / 64 + 1) };
            uint pt0 = q[0] - lsc;
            int outerMin = (int)(pt0 - Math.Min(pt0 / 2, maxErr)), outerMax = (int)pt0;
            if (rnd.Next(3) == 0)
            {
                // Outer bounds as later scans get them
                outerMin += rnd.Next(-50, 50);
                outerMax -= rnd.Next(-50, 50);
            }
            int minI = outerMin, maxI = outerMax, interval0 = -1;
            int done = StepCompress.SkipValidBlocks(ref q[0], lsc, maxErr, pending, add, ref minI, ref maxI, ref interval0);
            int wantMin = outerMin, wantMax = outerMax;
            Assert.True(UpstreamScan(q, lsc, maxErr, add, 1, done, ref wantMin, ref wantMax), $"trial {trial}: skipped past the end at {done}");
            if (done > 1)
            {
                blocks += (done - 1) / 4;
                Assert.Equal(wantMin, minI);
                Assert.Equal(wantMax, maxI);
                Assert.Equal(wantMax, interval0);
            }
            else
            {
                Assert.Equal(-1, interval0);
            }
            if (done + 4 <= pending)
                Assert.False(UpstreamScan(q, lsc, maxErr, add, done, done + 4, ref wantMin, ref wantMax), $"trial {trial}: stopped early at {done}");
        }
        Assert.True(blocks > 20000, $"only {blocks} blocks skipped");
    }
}
