using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests;

/// <summary>The FIFO behind message and history queues, alone and shared by an adding and a removing thread.</summary>
public class RingBufferTests
{
    [Fact]
    public void KeepsOrderAcrossGrowthAndWrapAround()
    {
        var q = new RingBuffer<long>(4);
        long next = 0, expected = 0;
        for (int round = 0; round < 50; round++)
        {
            for (int i = 0; i < round % 7 + 1; i++)
                q.AddLast(next++);
            for (int i = 0; i < round % 5 && q.Count > 0; i++)
            {
                Assert.Equal(expected++, q.First);
                q.RemoveFirst();
            }
            Assert.Equal(next - expected, q.Count);
            Assert.Equal(next, q.TotalAdded);
            Assert.Equal(expected, q.TotalRemoved);
            if (q.Count > 0)
            {
                Assert.Equal(next - 1, q.Last);
                Assert.Equal(expected, q[0]);
            }
        }
        var ex = Assert.Throws<InvalidOperationException>(() =>
        {
            q.Clear();
            q.RemoveFirst();
        });
        Assert.Equal("queue is empty", ex.Message);
        Assert.Equal(next, q.TotalRemoved);
    }

    [Fact]
    public void OneThreadAddsWhileAnotherRemovesUpToPublishedCounts()
    {
        // As step generation and the flush of finished rounds share a message queue:
        // the adder publishes how far it got (a finished round) and the remover takes up
        // to there. Fresh small queues, so that the storage grows while elements are read.
        const int queues = 300, perQueue = 20_000;
        long wrong = 0;
        for (int n = 0; n < queues; n++)
        {
            var q = new RingBuffer<long>(4);
            long published = 0;
            var adder = new Thread(() =>
            {
                for (long i = 0; i < perQueue; i++)
                {
                    q.AddLast() = i * 3;
                    if (i % 7 == 6 || i == perQueue - 1)
                        Volatile.Write(ref published, q.TotalAdded);
                }
            });
            adder.Start();
            long expected = 0;
            while (expected < perQueue)
            {
                long limit = Volatile.Read(ref published);
                while (q.TotalRemoved < limit)
                {
                    if (q.First != expected * 3)
                        wrong++;
                    q.RemoveFirst();
                    expected++;
                }
            }
            adder.Join();
            Assert.Equal(0, q.Count);
            Assert.Equal(perQueue, q.TotalAdded);
        }
        Assert.Equal(0, wrong);
    }
}
