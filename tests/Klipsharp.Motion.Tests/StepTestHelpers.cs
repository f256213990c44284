using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests;

/// <summary>Shared helpers: message ids and decoding of queue_step streams.</summary>
internal static class StepTestHelpers
{
    public const int QueueStepTag = 10;
    public const int SetDirTag = 11;

    public static List<MoveQueueMessage> Drain(RingBuffer<MoveQueueMessage> q)
    {
        var list = new List<MoveQueueMessage>();
        while (q.Count > 0)
        {
            list.Add(q.First);
            q.RemoveFirst();
        }
        return list;
    }

    public static uint[] Words(in MoveQueueMessage m) => m.Data.ToArray();

    /// <summary>Replay queue_step/set_next_step_dir as the MCU would: (clock, dir) of every step.</summary>
    public static List<(ulong Clock, int Dir)> Expand(IEnumerable<MoveQueueMessage> msgs, ulong startClock = 0)
    {
        var steps = new List<(ulong, int)>();
        ulong clock = startClock;
        int dir = -1;
        foreach (MoveQueueMessage m in msgs)
        {
            if (m.Words[0] == SetDirTag)
            {
                dir = (int)m.Words[2];
                continue;
            }
            Assert.Equal((uint)QueueStepTag, m.Words[0]);
            uint interval = m.Words[2];
            int count = (int)m.Words[3];
            int add = (int)m.Words[4];
            for (int i = 0; i < count; i++)
            {
                clock += interval;
                steps.Add((clock, dir));
                interval = (uint)(interval + add);
            }
        }
        return steps;
    }

    /// <summary>
    /// Generate a stepper's steps on a trapq from its first move's start, flush by flush
    /// (compressing after each at 16 MHz): the messages, the final commanded position and
    /// the solver's position evaluations.
    /// </summary>
    public static (List<uint[]> Messages, double Position, long Iterations) GenerateAll(StepperKinematics sk, TrapQ tq,
        IReadOnlyList<double> flushTimes, double stepDist = 0.0125)
    {
        const double freq = 16_000_000.0;
        sk.SetTrapQ(tq, stepDist);
        Coord at = tq.HeadSentinel.Next!.StartPos;
        sk.SetPosition(at.X, at.Y, at.Z);
        var sc = new StepCompress();
        sc.Fill(3, 0, QueueStepTag, SetDirTag);
        sc.SetTime(0.0, freq);
        foreach (double flushTime in flushTimes)
        {
            Assert.True(sk.GenerateSteps(sc, flushTime) == 0, $"flush {flushTime}: {sc.LastError?.Message}");
            Assert.Equal(0, sc.Flush((ulong)(flushTime * freq)));
        }
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        return (Drain(sc.MessageQueue).Select(m => Words(m)).ToList(), sk.GetCommandedPos(), sk.SolverIterations);
    }

    /// <summary>Two runs of <see cref="GenerateAll"/> gave the same messages, position (bit for bit) and evaluation count.</summary>
    public static void AssertSameSteps((List<uint[]> Messages, double Position, long Iterations) expected,
        (List<uint[]> Messages, double Position, long Iterations) actual)
    {
        Assert.True(expected.Messages.Count > 50, $"only {expected.Messages.Count} messages");
        Assert.Equal(expected.Messages.Count, actual.Messages.Count);
        for (int i = 0; i < expected.Messages.Count; i++)
            Assert.True(expected.Messages[i].SequenceEqual(actual.Messages[i]),
                $"message {i + 1} of {expected.Messages.Count}: [{string.Join(' ', actual.Messages[i])}], expected [{string.Join(' ', expected.Messages[i])}]");
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Position), BitConverter.DoubleToInt64Bits(actual.Position));
        Assert.Equal(expected.Iterations, actual.Iterations);
    }
}

/// <summary>A sink that records every batch.</summary>
internal sealed class RecordingSink : IMoveQueueSink
{
    public readonly List<MoveQueueMessage[]> Batches = new();

    public IEnumerable<MoveQueueMessage> All => Batches.SelectMany(b => b);

    public void SendBatch(ReadOnlySpan<MoveQueueMessage> batch) => Batches.Add(batch.ToArray());
}

/// <summary>Tests that swap the process-wide <see cref="MotionLog.ErrorHandler"/> run one at a time.</summary>
[CollectionDefinition("MotionLog")]
public sealed class MotionLogCollection
{
}
