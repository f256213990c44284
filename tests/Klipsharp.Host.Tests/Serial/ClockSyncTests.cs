using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Tests.Serial;

public class ClockSyncTests
{
    private const double Nominal = 16000000.0;

    // A clock running 50 ppm fast with an arbitrary offset
    private const double ActualFreq = Nominal * (1.0 + 50e-6);
    private const double Offset = 987654321.0;

    private static long TrueClock(double t) => (long)(Offset + t * ActualFreq);

    private static McuResponse ClockResponse(long clock, double sentTime, double receiveTime)
    {
        var p = new McuResponse("clock") { SentTime = sentTime, ReceiveTime = receiveTime };
        p.Set("clock", clock & 0xffffffff);
        return p;
    }

    // Deterministic jitter of up to +-50 us in when the MCU read its clock
    private static double Jitter(int i) => ((i * 7919) % 101 - 50) * 1e-6;

    private static LiveClockSync Feed(int samples, double start = 100.0)
    {
        var sync = new LiveClockSync(new Reactor());
        sync.StartEstimate(TrueClock(start), start, Nominal);
        for (int i = 1; i <= samples; i++)
        {
            double t = start + i * 0.9839;
            sync.HandleClock(ClockResponse(TrueClock(t + 0.0002 + Jitter(i)), t, t + 0.0004));
        }
        return sync;
    }

    [Fact]
    public void RegressionConvergesOnFrequencyAndOffset()
    {
        var sync = Feed(200);
        var (sampleTime, clock, freq) = sync.ClockEst;
        Assert.InRange(freq / ActualFreq - 1.0, -2e-6, 2e-6);
        // The MCU reads its clock half a round trip after the send: get_clock(t) ~ clock at t
        double t = 100.0 + 201 * 0.9839;
        long est = sync.GetClock(t);
        Assert.InRange(est - TrueClock(t), -2000L, 2000L);
        Assert.True(sampleTime > 100.0);
        Assert.True(clock > Offset);
        // Inverse mapping
        Assert.Equal(t, sync.EstimateClockSystime(est), 1e-6);
        Assert.Equal(sync.ClockToPrintTime(est), sync.EstimatedPrintTime(t), 9);
    }

    [Fact]
    public void ThirtyTwoBitClocksExtendAroundTheLastClock()
    {
        var sync = Feed(20);
        long last = sync.LastClock;
        Assert.Equal(last, sync.Clock32ToClock64(last & 0xffffffff));
        Assert.Equal(last + 1000, sync.Clock32ToClock64((last + 1000) & 0xffffffff));
        Assert.Equal(last - 1000, sync.Clock32ToClock64((last - 1000) & 0xffffffff));
        Assert.Equal(last + 0x7fffffff, sync.Clock32ToClock64((last + 0x7fffffff) & 0xffffffff));
    }

    [Fact]
    public void LateOutlierIsIgnoredAndSentTimeZeroSkipped()
    {
        var sync = Feed(60);
        var before = sync.ClockEst;
        double t = 100.0 + 61 * 0.9839;
        // A clock 20 ms ahead of the prediction, soon after a good sample: ignored
        sync.HandleClock(ClockResponse(TrueClock(t + 0.020), t, t + 0.0004));
        Assert.Equal(before, sync.ClockEst);
        // A retransmitted query (sent time unknown) only updates the 64-bit clock
        long c = TrueClock(t + 1);
        sync.HandleClock(ClockResponse(c, 0.0, t + 1));
        Assert.Equal(before, sync.ClockEst);
        Assert.Equal(c, sync.LastClock);
    }

    [Fact]
    public void QueriesPendingMakesTheSyncInactive()
    {
        var sync = Feed(3);
        Assert.True(sync.IsActive);
        Assert.Equal(0, sync.QueriesPending);
    }

    [Fact]
    public void StatsAndDebugFormats()
    {
        var sync = Feed(30);
        Assert.Equal($"freq={(long)sync.ClockEst.Freq}", sync.Stats(0));
        Assert.Matches(@"^clocksync state: mcu_freq=16000000 last_clock=\d+ clock_est=\(\d+\.\d{3} \d+ \d+\.\d{3}\) min_half_rtt=0\.000200 min_rtt_time=\d+\.\d{3} time_avg=\d+\.\d{3}\(\d+\.\d{3}\) clock_avg=\d+\.\d{3}\(\d+\.\d{3}\) pred_variance=\d+\.\d{3}$", sync.DumpDebug());
    }

    [Fact]
    public void EachNewMinimumRoundTripIsLoggedWithThePreviousFrequency()
    {
        var log = new List<string>();
        var sync = new LiveClockSync(new Reactor()) { Log = log.Add };
        sync.StartEstimate(TrueClock(100.0), 100.0, Nominal);
        // Round trips of 0.8, 0.6, 1.0 (not a minimum) and 0.4 ms
        double[] rtts = [0.0008, 0.0006, 0.0010, 0.0004];
        var freqs = new List<long>();
        for (int i = 0; i < rtts.Length; i++)
        {
            double t = 100.0 + (i + 1) * 0.9839;
            freqs.Add((long)sync.ClockEst.Freq);
            sync.HandleClock(ClockResponse(TrueClock(t + rtts[i] / 2), t, t + rtts[i]));
        }
        Assert.Equal([
            $"new minimum rtt 100.984: hrtt=0.000400 freq={freqs[0]}",
            $"new minimum rtt 101.968: hrtt=0.000300 freq={freqs[1]}",
            $"new minimum rtt 103.936: hrtt=0.000200 freq={freqs[3]}",
        ], log);
        Assert.Equal(16000000L, freqs[0]);
    }

    [Fact]
    public void SecondaryPrintTimeMatchesMainAtTheSyncPoint()
    {
        var reactor = new Reactor();
        var main = new LiveClockSync(reactor);
        var second = new SecondarySync(reactor, main);
        const double secFreq = 12000000.0 * (1.0 - 30e-6);
        long SecClock(double t) => (long)(5555.0 + t * secFreq);
        main.StartEstimate(TrueClock(100.0), 100.0, Nominal);
        second.StartEstimate(SecClock(100.0), 100.0, 12000000.0);
        for (int i = 1; i <= 100; i++)
        {
            double t = 100.0 + i * 0.9839;
            main.HandleClock(ClockResponse(TrueClock(t + 0.0002), t, t + 0.0004));
            second.HandleClock(ClockResponse(SecClock(t + 0.0002), t, t + 0.0004));
        }
        double now = 100.0 + 100 * 0.9839;
        second.AlignTo(now);
        var (offset, freq) = second.ClockAdjustment;
        Assert.InRange(freq / secFreq - 1.0, -1e-4, 1e-4);
        // Print time 4 s ahead (sync2): both MCUs agree on the host time it happens
        double printTime = main.EstimatedPrintTime(now + 4.0);
        double hostTimeAtPrintTime = now + 4.0;
        long expected = second.GetClock(hostTimeAtPrintTime);
        long got = second.PrintTimeToClock(printTime);
        Assert.InRange(got - expected, -1200L, 1200L); // 100 us
        Assert.Equal(printTime, second.ClockToPrintTime(got), 6);
        Assert.Matches(@"^freq=\d+ adj=\d+$", second.Stats(now));
        Assert.Contains(" clock_adj=(", second.DumpDebug());
        Assert.NotEqual(0.0, offset);
    }
}
