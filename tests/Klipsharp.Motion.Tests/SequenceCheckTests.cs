namespace Klipsharp.Motion.Tests;

/// <summary>The four-lane sequence check against upstream's check_line walk, point by point.</summary>
public class SequenceCheckTests
{
    // Upstream's check_line: running sums, bounds compared as unsigned.
    private static bool ReferenceFits(uint[] q, int count, uint lsc, uint maxErr, uint interval, uint add)
    {
        uint p = 0;
        for (int i = 0; i < count; i++)
        {
            uint point = q[i] - lsc, prev = i > 0 ? q[i - 1] - lsc : 0;
            uint me = Math.Min((point - prev) / 2, maxErr);
            p += interval;
            if (p < point - me || p > point || interval >= 0x80000000)
                return false;
            interval += add;
        }
        return true;
    }

    [Fact]
    public void AgreesWithUpstreamsWalkOnRandomSequences()
    {
        var rnd = new Random(11);
        int fits = 0, misses = 0;
        for (int trial = 0; trial < 20000; trial++)
        {
            int count = rnd.Next(9, 300);
            uint interval = (uint)rnd.Next(1, trial % 50 == 0 ? int.MaxValue : 100000);
            int add = rnd.Next(4) == 0 ? 0 : rnd.Next(-200, 200);
            uint maxErr = (uint)rnd.Next(0, 400);
            uint lsc = trial % 7 == 0 ? uint.MaxValue - (uint)rnd.Next(0, 1000000) : (uint)rnd.Next();
            // Steps on the sequence, moved within (or, now and then, just outside) their bounds
            var q = new uint[count];
            uint p = 0, d = interval;
            for (int i = 0; i < count; i++)
            {
                p += d;
                d += (uint)add;
                q[i] = lsc + p + (uint)rnd.Next(0, (int)maxErr + 1);
            }
            if (trial % 3 == 0)
            {
                int at = rnd.Next(count);
                q[at] += (uint)rnd.Next(-3 * (int)maxErr - 3, 3 * (int)maxErr + 3);
            }
            bool want = ReferenceFits(q, count, lsc, maxErr, interval, (uint)add);
            Assert.Equal(want, StepCompress.SequenceFits(ref q[0], count, lsc, maxErr, interval, (uint)add));
            if (want)
                fits++;
            else
                misses++;
        }
        // Both outcomes were exercised
        Assert.True(fits > 1000 && misses > 1000, $"fits {fits}, misses {misses}");
    }

    [Fact]
    public void IntervalReaching2To31FailsAtThatPoint()
    {
        // Intervals 0x7ffffff0 + 4*i: the fifth point's interval is 2^31
        const uint interval = 0x7ffffff0, add = 4;
        var q = new uint[12];
        uint p = 0, d = interval;
        for (int i = 0; i < q.Length; i++)
        {
            p += d;
            d += add;
            q[i] = p;
        }
        Assert.False(ReferenceFits(q, 12, 0, 0, interval, add));
        Assert.False(StepCompress.SequenceFits(ref q[0], 12, 0, 0, interval, add));
        Assert.True(StepCompress.SequenceFits(ref q[0], 4, 0, 0, interval, add));
    }
}
