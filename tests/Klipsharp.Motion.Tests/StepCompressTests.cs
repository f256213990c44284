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
}
