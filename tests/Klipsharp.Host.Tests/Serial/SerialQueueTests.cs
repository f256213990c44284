using System.Collections.Concurrent;
using System.Diagnostics;
using Klipsharp.Host.Mcu;
using Klipsharp.Host.Serial;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Tests.Serial;

/// <summary>A serial queue wired to a <see cref="FakeMcu"/> through an in-memory pipe.</summary>
internal sealed class QueueHarness : IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly DataDictionary _dict = DataDictionary.FromJson(FakeMcu.DictionaryJson);

    public QueueHarness(double corruptRate = 0.0, int seed = 1)
    {
        IMcuTransport host;
        (Mcu, host) = FakeMcu.Create(corruptRate, seed);
        Queue = new SerialQueue(host, "serialq test", Monotonic, batch =>
        {
            foreach (var m in batch)
                Received.Add(m);
        });
        Queue.Start();
    }

    public FakeMcu Mcu { get; }

    public SerialQueue Queue { get; }

    public BlockingCollection<PulledMessage> Received { get; } = new();

    public double Monotonic() => _clock.Elapsed.TotalSeconds;

    public byte[] TestCmd(long value) => _dict.MessagesByName["test_cmd"].Encode([value]);

    public byte[] TestQuery(long value) => _dict.MessagesByName["test_query"].Encode([value]);

    /// <summary>
    /// Gets the first block through: the MCU starts expecting sequence 0 and the host
    /// sends 1, so the first block is lost and acknowledged with a nak that resets the
    /// host's sequence (the identify retry does this on a real link).
    /// </summary>
    public void Handshake(CommandQueue cq)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            Queue.Send(cq, TestQuery(999999), 0, 0);
            if (Mcu.WaitForCount(1, 0.5))
            {
                Mcu.ClearReceived();
                return;
            }
        }
        throw new Xunit.Sdk.XunitException("handshake failed");
    }

    public SerialQueueStats WaitAllAcked(double timeout = 30)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var s = Queue.GetStatsValues();
            if (s.SendSeq == s.ReceiveSeq || sw.Elapsed.TotalSeconds > timeout)
                return s;
            Thread.Sleep(5);
        }
    }

    public void Dispose()
    {
        Queue.Dispose();
        Mcu.Dispose();
    }
}

public class SerialQueueTests
{
    private static List<long> Range(int n) => Enumerable.Range(0, n).Select(i => (long)i).ToList();

    private static void SendInWaves(QueueHarness h, CommandQueue cq, int total, int waves)
    {
        int per = total / waves;
        for (int w = 0; w < waves; w++)
        {
            for (int i = 0; i < per; i++)
                h.Queue.Send(cq, h.TestCmd(w * per + i), 0, 0);
            h.Mcu.WaitForCount((w + 1) * per, 10);
        }
    }

    [Fact]
    public void MessagesArriveOnceInOrderAndEveryBlockIsAcked()
    {
        using var h = new QueueHarness();
        var cq = new CommandQueue(1);
        h.Handshake(cq);
        SendInWaves(h, cq, 100, 20);
        Assert.True(h.Mcu.WaitForCount(100, 30));
        Assert.Equal(Range(100), h.Mcu.Received);
        var stats = h.WaitAllAcked();
        Assert.Equal(stats.SendSeq, stats.ReceiveSeq);
        // Sequence numbers went round the 4-bit wire counter more than once
        Assert.True(stats.SendSeq > 16 + 20, $"send_seq={stats.SendSeq}");
        Assert.Equal(0, stats.ReadyBytes);
        Assert.Equal(0, stats.UpcomingBytes);
        Assert.Equal(0u, stats.BytesInvalid);
        Assert.True(stats.BytesWrite > 0 && stats.BytesRead > 0);
    }

    [Fact]
    public void StatsLineHasUpstreamFormat()
    {
        using var h = new QueueHarness();
        string line = h.Queue.GetStats();
        Assert.Matches(@"^bytes_write=\d+ bytes_read=\d+ bytes_retransmit=\d+ bytes_invalid=\d+ send_seq=\d+ receive_seq=\d+ retransmit_seq=\d+ srtt=\d+\.\d{3} rttvar=\d+\.\d{3} rto=\d+\.\d{3} ready_bytes=\d+ upcoming_bytes=\d+$", line);
        Assert.Contains("send_seq=1 receive_seq=1 retransmit_seq=0 srtt=0.000 rttvar=0.000 rto=0.025", line);
    }

    [Fact]
    public void CorruptedBytesAreRecoveredByRetransmission()
    {
        using var h = new QueueHarness(corruptRate: 0.01, seed: 7);
        var cq = new CommandQueue(1);
        h.Handshake(cq);
        SendInWaves(h, cq, 400, 40);
        Assert.True(h.Mcu.WaitForCount(400, 60), $"got {h.Mcu.Received.Count}");
        Thread.Sleep(50);
        // Nothing lost, nothing duplicated, order kept
        Assert.Equal(Range(400), h.Mcu.Received);
        Assert.True(h.Mcu.CorruptedBytes > 0);
        var stats = h.WaitAllAcked();
        Assert.True(stats.BytesRetransmit + stats.BytesInvalid > 0, h.Queue.GetStats());
    }

    [Fact]
    public void LostBlockIsNakedAndRetransmitted()
    {
        using var h = new QueueHarness();
        var cq = new CommandQueue(1);
        h.Handshake(cq);
        int nakBefore = h.Mcu.NakCount;
        // Lose the 3rd block from now: the 4th arrives out of sequence and is naked
        h.Mcu.DropBlocks.Add(h.Mcu.ValidBlocks + 2);
        for (int i = 0; i < 60; i++)
        {
            h.Queue.Send(cq, h.TestCmd(i), 0, 0);
            if (i % 3 == 2)
                Thread.Sleep(2);
        }
        Assert.True(h.Mcu.WaitForCount(60, 30), $"got {h.Mcu.Received.Count}");
        Thread.Sleep(50);
        Assert.Equal(Range(60), h.Mcu.Received);
        Assert.True(h.Mcu.NakCount > nakBefore);
        var stats = h.WaitAllAcked();
        Assert.True(stats.BytesRetransmit > 0, h.Queue.GetStats());
        Assert.Equal(stats.SendSeq, stats.ReceiveSeq);
    }

    [Fact]
    public void AckNotificationIsDelivered()
    {
        using var h = new QueueHarness();
        var cq = new CommandQueue(1);
        h.Handshake(cq);
        h.Queue.Send(cq, h.TestCmd(5), 0, 0, notifyId: 77);
        PulledMessage? note = null;
        var sw = Stopwatch.StartNew();
        while (note is null && sw.Elapsed.TotalSeconds < 10)
        {
            if (h.Received.TryTake(out var m, 100) && m.NotifyId == 77)
                note = m;
        }
        Assert.NotNull(note);
        Assert.Empty(note.Value.Msg);
        Assert.True(note.Value.ReceiveTime > 0);
        Assert.Equal([5L], h.Mcu.Received);
    }

    [Fact]
    public void MessagesGoOutByReqClockAcrossQueuesOnceMinClockIsReached()
    {
        using var h = new QueueHarness();
        var qa = new CommandQueue(1);
        var qb = new CommandQueue(2);
        var qc = new CommandQueue(3);
        h.Handshake(qa);
        // MCU clock = 1 MHz counted from now
        double t0 = h.Monotonic();
        h.Queue.SetClockEst(1000000.0, t0, 0);
        const ulong minClock = 1000000; // 1 s from now: everything is queued long before
        void Send(CommandQueue q, long v) => h.Queue.Send(q, h.TestCmd(v), minClock, minClock + (ulong)v);
        Send(qa, 300);
        Send(qa, 250); // behind 300 in its own queue
        Send(qb, 100);
        Send(qb, 500);
        Send(qc, 200);
        Assert.Equal(0, h.Queue.GetStatsValues().ReadyBytes);
        Assert.True(h.Mcu.WaitForCount(5, 20));
        // Lowest req_clock first among queue heads; each queue stays in order
        Assert.Equal([100L, 200, 300, 250, 500], h.Mcu.Received);
    }

    [Fact]
    public void BackgroundAndTimedMessagesAllArrive()
    {
        using var h = new QueueHarness();
        var qa = new CommandQueue(1);
        var qb = new CommandQueue(2);
        h.Handshake(qa);
        h.Queue.SetClockEst(1000000.0, h.Monotonic(), 0);
        h.Queue.Send(qb, h.TestCmd(1), 0, SerialQueue.BACKGROUND_PRIORITY_CLOCK);
        h.Queue.Send(qa, h.TestCmd(2), 200000, 200000);
        Assert.True(h.Mcu.WaitForCount(2, 20));
        Assert.Equal([1L, 2], h.Mcu.Received);
    }
}
