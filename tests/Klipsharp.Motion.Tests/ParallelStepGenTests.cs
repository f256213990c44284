using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests;

/// <summary>Step generation shared out over helper threads gives exactly the sequential results.</summary>
[Collection("MotionLog")]
public class ParallelStepGenTests
{
    // Four steppers (corexy pair, z, extruder with pressure advance) on back-and-forth moves.
    private static List<MoveQueueMessage> Run(int helpers, int cycles, bool queued = false, bool early = false)
    {
        var ssm = new SteppersSyncManager { HelperThreads = helpers, FlushFinishedRoundsEarly = early };
        SteppersSync ss = ssm.AllocSteppersSync();
        var sink = new RecordingSink();
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
        if (early)
        {
            ssm.QueuedRoundFlushed = (free, clear) =>
            {
                tq.FinalizeMoves(free, clear);
                etq.FinalizeMoves(free, clear);
            };
        }
        ss.SetupMoveQueue(sink, 500);
        ss.SetTime(0.0, 16_000_000.0);

        double printTime = 0.5, sgTime = 0.0, x = 0.0, y = 0.0, z = 0.0, e = 0.0;
        for (int c = 0; c < cycles; c++)
        {
            for (int i = 0; i < 7; i++)
            {
                double dir = (i & 1) == 0 ? 1.0 : -1.0;
                double zr = i == 3 ? 0.1 : 0.0;
                tq.Append(printTime, 0.1, 0.2 + 0.01 * c, 0.1, x, y, z, dir * 0.6, dir * 0.8, zr, 0, 100, 1000);
                etq.Append(printTime, 0.1, 0.2 + 0.01 * c, 0.1, e, 0, 0, 1, 1, 0, 0, 5, 50);
                double d = 30.0 + 100.0 * 0.01 * c;
                printTime += 0.4 + 0.01 * c;
                x += dir * 0.6 * d;
                y += dir * 0.8 * d;
                z += zr * d;
                e += 0.05 * d;
            }
            while (sgTime + 0.25 < printTime - 0.5)
            {
                sgTime += 0.25;
                if (queued)
                {
                    Assert.Null(ssm.QueueGenSteps(sgTime - 0.05, sgTime, Math.Max(0.0, sgTime - 2.0), sgTime - 0.02));
                    continue;
                }
                Assert.Null(ssm.GenSteps(sgTime - 0.05, sgTime, Math.Max(0.0, sgTime - 2.0)));
                tq.FinalizeMoves(sgTime - 0.02, Math.Max(0.0, sgTime - 2.0));
                etq.FinalizeMoves(sgTime - 0.02, Math.Max(0.0, sgTime - 2.0));
            }
        }
        if (queued)
            Assert.Null(ssm.SyncGenSteps());
        Assert.Null(ssm.GenSteps(printTime + 1.0, printTime + 1.0, 0.0));
        return sink.All.ToList();
    }

    private static void AssertSameMessages(List<MoveQueueMessage> expected, List<MoveQueueMessage> actual)
    {
        Assert.True(expected.Count > 1000, $"only {expected.Count} messages");
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(Words(expected[i]), Words(actual[i]));
            Assert.Equal(expected[i].MinClock, actual[i].MinClock);
            Assert.Equal(expected[i].ReqClock, actual[i].ReqClock);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void HelperThreadsGiveTheSequentialMessages(int helpers)
    {
        AssertSameMessages(Run(0, 12), Run(helpers, 12));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void QueuedRoundsGiveTheSequentialMessages(int helpers)
    {
        // Moves are appended while rounds are still queued, and the trapqs are
        // finalized only when each round is flushed
        AssertSameMessages(Run(0, 12), Run(helpers, 12, queued: true));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void RoundsFlushedEarlyGiveTheSequentialMessages(int helpers)
    {
        // Finished rounds are flushed while later ones add to the same queues, and the
        // trapqs are finalized at the syncs (every 1024 rounds, here once, and at the end)
        AssertSameMessages(Run(0, 80), Run(helpers, 80, queued: true, early: true));
    }

    [Fact]
    public void RoundsFlushedEarlyFinalizeTheTrapqsOnlyAtASync()
    {
        var (ssm, tq, sink, _) = XyPrinter();
        ssm.FlushFinishedRoundsEarly = true;
        var finalized = new List<(double Free, double Clear)>();
        ssm.QueuedRoundFlushed = (free, clear) => finalized.Add((free, clear));
        for (int i = 0; i < 10; i++)
            tq.Append(1.0 + i, 0.1, 0.5, 0.1, 6.0 * i, 0, 0, 1, 0, 0, 0, 10, 100);
        for (int i = 0; i < 20; i++)
        {
            double t = 1.0 + 0.5 * i;
            Assert.Null(ssm.QueueGenSteps(t - 0.05, t, t - 1.0, t - 0.1));
        }
        // Later rounds read the moves that earlier ones are done with
        Assert.Empty(finalized);
        Assert.Null(ssm.SyncGenSteps());
        Assert.Equal([(10.4, 9.5)], finalized);
        Assert.False(ssm.HasQueuedRounds);
        Assert.NotEmpty(sink.Batches);
        Assert.Null(ssm.SyncGenSteps());
        Assert.Single(finalized);
    }

    // One cartesian stepper per letter of axes, on one trapq and one MCU.
    private static (SteppersSyncManager Ssm, TrapQ Tq, RecordingSink Sink, List<SyncEmitter> Emitters) CartesianPrinter(
        string axes, int helpers, uint firstOid, uint maxError, double stepDist, int moveCount, double mcuFreq)
    {
        var ssm = new SteppersSyncManager { HelperThreads = helpers };
        SteppersSync ss = ssm.AllocSteppersSync();
        var sink = new RecordingSink();
        var tq = new TrapQ();
        var emitters = new List<SyncEmitter>();
        foreach (char axis in axes)
        {
            SyncEmitter se = ss.AllocSyncEmitter("stepper_" + axis);
            se.StepCompress!.Fill((uint)(axis - 'x') + firstOid, maxError, QueueStepTag, SetDirTag);
            var sk = new CartesianStepperKinematics(axis);
            sk.SetTrapQ(tq, stepDist);
            se.SetStepperKinematics(sk);
            emitters.Add(se);
        }
        ss.SetupMoveQueue(sink, moveCount);
        ss.SetTime(0.0, mcuFreq);
        return (ssm, tq, sink, emitters);
    }

    // An x and a y stepper (two emitters, so there is a helper).
    private static (SteppersSyncManager Ssm, TrapQ Tq, RecordingSink Sink, SyncEmitter X) XyPrinter()
    {
        var (ssm, tq, sink, emitters) = CartesianPrinter("xy", 1, 0, 400, 0.0125, 100, 16_000_000.0);
        return (ssm, tq, sink, emitters[0]);
    }

    // x, y and z steppers on a 1 MHz MCU with no step error allowed, so that fast moves fail.
    private static (SteppersSyncManager Ssm, TrapQ Tq, RecordingSink Sink, List<SyncEmitter> Emitters) StrictXyzPrinter() =>
        CartesianPrinter("xyz", 2, 4, 0, 0.01, 16, 1_000_000.0);

    // Runs body with motion errors collected in the list it gets.
    private static void WithMotionErrors(Action<List<string>> body)
    {
        var errors = new List<string>();
        Action<string>? old = MotionLog.ErrorHandler;
        MotionLog.ErrorHandler = errors.Add;
        try
        {
            body(errors);
        }
        finally
        {
            MotionLog.ErrorHandler = old;
        }
    }

    [Fact]
    public void AppendingWhereAQueuedRoundReadsFinishesItFirst()
    {
        var (ssm, tq, sink, _) = XyPrinter();
        tq.Append(1.0, 0.1, 0.5, 0.1, 0, 0, 0, 1, 0, 0, 0, 10, 100);
        // A round that reads up to 1.5: appending after the last move (ends 1.7) is safe
        Assert.Null(ssm.QueueGenSteps(1.45, 1.5, 0.0, 1.4));
        tq.Append(1.7, 0.1, 0.5, 0.1, 6, 0, 0, 1, 0, 0, 0, 10, 100);
        Assert.True(ssm.HasQueuedRounds);
        Assert.Empty(sink.Batches);
        // A round past the end of the moves (2.4) reads the tail: the next append waits
        Assert.Null(ssm.QueueGenSteps(3.0, 3.0, 0.0, 2.9));
        Assert.True(ssm.HasQueuedRounds);
        tq.Append(3.5, 0.1, 0.5, 0.1, 12, 0, 0, 1, 0, 0, 0, 10, 100);
        Assert.False(ssm.HasQueuedRounds);
        Assert.NotEmpty(sink.Batches);
    }

    [Fact]
    public void ChangingAStepperFinishesQueuedRoundsFirst()
    {
        var (ssm, tq, sink, x) = XyPrinter();
        tq.Append(1.0, 0.1, 0.5, 0.1, 0, 0, 0, 1, 0, 0, 0, 10, 100);
        Assert.Null(ssm.QueueGenSteps(0.9, 1.0, 0.0, 0.9));
        Assert.Null(ssm.QueueGenSteps(1.45, 1.5, 0.0, 1.4));
        Assert.True(ssm.HasQueuedRounds);
        // The commanded position is step generation state
        double pos = x.StepperKinematics!.GetCommandedPos();
        Assert.False(ssm.HasQueuedRounds);
        Assert.Equal(4.5, pos, 1); // 0.5 mm accelerating, then 0.4 s at 10 mm/s
        Assert.NotEmpty(sink.Batches);
    }

    [Fact]
    public void AQueuedFailureIsReportedWithItsRoundAndLaterRoundsAreDropped() => WithMotionErrors(errors =>
    {
        var (ssm, tq, sink, emitters) = StrictXyzPrinter();
        tq.Append(1.0, 0, 0.000001, 0, 0, 0, 0, 0, 0.6, 0.8, 0, 10_000_000.0, 0);
        tq.Append(5.0, 0, 1.0, 0, 0, 6, 8, 1, 0, 0, 1.0, 1.0, 0);
        var flushed = new List<double>();
        ssm.QueuedRoundFlushed = (free, clear) => flushed.Add(free);
        Assert.Null(ssm.QueueGenSteps(0.5, 0.5, 0.0, 0.4));
        Assert.Null(ssm.QueueGenSteps(2.0, 2.0, 0.0, 1.9));
        Assert.Null(ssm.QueueGenSteps(5.5, 5.5, 0.0, 5.4));
        GenStepsFailure? failure = ssm.SyncGenSteps();
        Assert.NotNull(failure);
        Assert.Same(emitters[2], failure.Emitter);
        Assert.Equal(2.0, failure.FlushTime);
        Assert.Equal(2.0, failure.GenStepsTime);
        Assert.Equal(0.5, failure.LastFlushTime);
        Assert.Equal(0.5, failure.LastGenStepsTime);
        Assert.Equal([0.4], flushed); // only the round before the failure
        Assert.Empty(sink.Batches);
        Assert.Equal(4, errors.Count);
        Assert.Equal("Error in syncemitter 'stepper_y' step generation", errors[1]);
        Assert.Equal("Error in syncemitter 'stepper_z' step generation", errors[3]);
        Assert.Null(ssm.SyncGenSteps());
        Assert.False(ssm.HasQueuedRounds);
    });

    [Fact]
    public void ErrorsAreLoggedInEmitterOrder() => WithMotionErrors(errors =>
    {
        var (ssm, tq, sink, emitters) = StrictXyzPrinter();
        // 10 mm in 1 us on y and z: many steps per clock tick cannot be encoded
        tq.Append(1.0, 0, 0.000001, 0, 0, 0, 0, 0, 0.6, 0.8, 0, 10_000_000.0, 0);
        SyncEmitter? failed = ssm.GenSteps(2.0, 2.0, 0.0);
        Assert.Same(emitters[2], failed); // the last failed one, as upstream
        Assert.Equal(0, emitters[0].LastGenResult);
        Assert.NotEqual(0, emitters[1].LastGenResult);
        Assert.NotEqual(0, emitters[2].LastGenResult);
        Assert.Empty(sink.Batches);
        Assert.Equal(4, errors.Count);
        Assert.StartsWith("stepcompress o=5 i=0 c=", errors[0]);
        Assert.Equal("Error in syncemitter 'stepper_y' step generation", errors[1]);
        Assert.StartsWith("stepcompress o=6 i=0 c=", errors[2]);
        Assert.Equal("Error in syncemitter 'stepper_z' step generation", errors[3]);
    });
}
