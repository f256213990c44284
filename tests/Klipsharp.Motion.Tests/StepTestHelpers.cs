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
