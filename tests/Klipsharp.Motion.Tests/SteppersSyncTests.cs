using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests;

[Collection("MotionLog")]
public class SteppersSyncTests
{
    /// <summary>A sink that only counts, so it allocates nothing itself.</summary>
    private sealed class CountingSink : IMoveQueueSink
    {
        public int Messages;
        public ulong LastReqClock;

        public void SendBatch(ReadOnlySpan<MoveQueueMessage> batch)
        {
            Messages += batch.Length;
            foreach (ref readonly MoveQueueMessage m in batch)
                LastReqClock = m.ReqClock;
        }
    }

    [Fact]
    public void MessagesFlowInReqClockOrderWithMoveQueueSlots()
    {
        var ssm = new SteppersSyncManager();
        SteppersSync ss = ssm.AllocSteppersSync();
        var sink = new RecordingSink();
        SyncEmitter a = ss.AllocSyncEmitter("stepper_x");
        SyncEmitter pwm = ss.AllocSyncEmitter("fan", allocStepCompress: false);
        Assert.Null(pwm.StepCompress);
        a.StepCompress!.Fill(1, 0, QueueStepTag, SetDirTag);
        var tq = new TrapQ();
        var sk = new CartesianStepperKinematics('x');
        sk.SetTrapQ(tq, 0.01);
        a.SetStepperKinematics(sk);
        ss.SetupMoveQueue(sink, 2);
        ss.SetTime(0.0, 1_000_000.0);
        Assert.Equal(1000UL, ss.ClockFromTime(0.001));

        // 0.1 mm/s: steps at 0.05, 0.15 and 0.25 s (clock 50000, 150000, 250000)
        tq.Append(0.0, 0, 0.3, 0, 0, 0, 0, 1, 0, 0, 0, 0.1, 0);
        pwm.QueueMsg(150000, [20, 2, 150000, 7]);
        pwm.QueueMsg(0, [21, 2]); // no move-queue slot: sent on the next flush

        Assert.Null(ssm.GenSteps(0.2, 0.2, 0.0));
        MoveQueueMessage[] sent = sink.All.ToArray();
        Assert.Single(sink.Batches);
        Assert.Equal(5, sent.Length);
        Assert.Equal(new uint[] { SetDirTag, 1, 1 }, Words(sent[0]));
        Assert.Equal(new uint[] { QueueStepTag, 1, 50000, 1, 0 }, Words(sent[1]));
        Assert.Equal(new uint[] { QueueStepTag, 1, 100000, 1, 0 }, Words(sent[2]));
        Assert.Equal(new uint[] { 20, 2, 150000, 7 }, Words(sent[3]));
        Assert.Equal(new uint[] { 21, 2 }, Words(sent[4]));
        Assert.Equal(new ulong[] { 0, 0, 50000, 150000, 0 }, sent.Select(m => m.ReqClock));
        // After sending, min_clock is when an MCU move-queue slot is free (2 slots;
        // the first queue_step, with min_clock 0, takes none - as upstream)
        Assert.Equal(new ulong[] { 0, 0, 0, 0, 50000 }, sent.Select(m => m.MinClock));

        Assert.Null(ssm.GenSteps(1.0, 1.0, 0.0));
        Assert.Equal(2, sink.Batches.Count);
        MoveQueueMessage last = sink.Batches[1].Single();
        Assert.Equal(new uint[] { QueueStepTag, 1, 100000, 1, 0 }, Words(last));
        Assert.Equal(50000UL, last.MinClock);
        Assert.Equal(150000UL, last.ReqClock);
        Assert.Equal(3.0 * 0.01, sk.GetCommandedPos(), 12);
    }

    [Fact]
    public void GenStepsReportsFailedEmitterAndSkipsFlush()
    {
        var errors = new List<string>();
        Action<string>? old = MotionLog.ErrorHandler;
        MotionLog.ErrorHandler = errors.Add;
        try
        {
            var ssm = new SteppersSyncManager();
            SteppersSync ss = ssm.AllocSteppersSync();
            var sink = new RecordingSink();
            SyncEmitter se = ss.AllocSyncEmitter("stepper_y");
            se.StepCompress!.Fill(4, 0, QueueStepTag, SetDirTag);
            ss.SetupMoveQueue(sink, 16);
            ss.SetTime(0.0, 1_000_000.0);
            var tq = new TrapQ();
            var sk = new CartesianStepperKinematics('y');
            sk.SetTrapQ(tq, 0.01);
            se.SetStepperKinematics(sk);
            // 10 mm in 1 us: many steps per clock tick cannot be encoded
            tq.Append(1.0, 0, 0.000001, 0, 0, 0, 0, 0, 1, 0, 0, 10_000_000.0, 0);
            SyncEmitter? failed = ssm.GenSteps(2.0, 2.0, 0.0);
            Assert.Same(se, failed);
            Assert.NotEqual(0, se.LastGenResult);
            Assert.Empty(sink.Batches);
            Assert.Equal("Error in syncemitter 'stepper_y' step generation", errors[^1]);
            Assert.StartsWith("stepcompress o=4 i=0 c=", errors[0]);
        }
        finally
        {
            MotionLog.ErrorHandler = old;
        }
    }

    [Fact]
    public void SteadyStateStepGenerationDoesNotAllocate()
    {
        var ssm = new SteppersSyncManager();
        SteppersSync ss = ssm.AllocSteppersSync();
        var sink = new CountingSink();
        var tq = new TrapQ();
        var etq = new TrapQ();
        var sks = new StepperKinematics[]
        {
            new CoreXYStepperKinematics('+'), new CoreXYStepperKinematics('-'),
            new CartesianStepperKinematics('z'), new ExtruderStepperKinematics(),
        };
        for (int i = 0; i < sks.Length; i++)
        {
            SyncEmitter se = ss.AllocSyncEmitter("s" + i);
            se.StepCompress!.Fill((uint)i, 400, QueueStepTag, SetDirTag);
            sks[i].SetTrapQ(i == 3 ? etq : tq, i == 3 ? 0.002 : 0.0125);
            se.SetStepperKinematics(sks[i]);
        }
        ((ExtruderStepperKinematics)sks[3]).SetPressureAdvance(0.0, 0.04, 0.04);
        ss.SetupMoveQueue(sink, 500);
        ss.SetTime(0.0, 16_000_000.0);

        double printTime = 0.5, sgTime = 0.0, x = 0.0, y = 0.0, e = 0.0;
        void Cycle(int moves)
        {
            for (int i = 0; i < moves; i++)
            {
                double dir = (i & 1) == 0 ? 1.0 : -1.0;
                // 0.1s accel, 0.2s cruise at 100 mm/s, 0.1s decel: 30 mm, back and forth
                tq.Append(printTime, 0.1, 0.2, 0.1, x, y, 0, dir * 0.6, dir * 0.8, 0, 0, 100, 1000);
                // Extruder: 5 mm/s peak, 1.5 mm per move
                etq.Append(printTime, 0.1, 0.2, 0.1, e, 0, 0, 1, 1, 0, 0, 5, 50);
                printTime += 0.4;
                x += dir * 18.0;
                y += dir * 24.0;
                e += 1.5;
            }
            while (sgTime + 0.25 < printTime - 0.5)
            {
                sgTime += 0.25;
                Assert.Null(ssm.GenSteps(sgTime - 0.05, sgTime, Math.Max(0.0, sgTime - 2.0)));
                tq.FinalizeMoves(sgTime - 0.02, Math.Max(0.0, sgTime - 2.0));
                etq.FinalizeMoves(sgTime - 0.02, Math.Max(0.0, sgTime - 2.0));
            }
        }

        for (int i = 0; i < 20; i++)
            Cycle(10); // warm up: JIT, free lists and queue capacities
        int before = sink.Messages;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
            Cycle(10);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.True(sink.Messages > before + 100, $"only {sink.Messages - before} messages");
        Assert.Equal(0L, allocated);
    }
}
