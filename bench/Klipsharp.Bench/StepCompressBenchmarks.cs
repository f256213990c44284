using BenchmarkDotNet.Attributes;
using Klipsharp.Motion;

namespace Klipsharp.Bench;

/// <summary>
/// Step compression alone (upstream's compress_bisect_add and the queue around it) on
/// the step times of accelerating, cruising and decelerating moves at 16 MHz, with the
/// scans passing over blocks of four steps (AVX) or walking them one at a time as
/// upstream does.
/// </summary>
[MemoryDiagnoser]
public class StepCompressBenchmarks
{
    private double[] _stepTimes = [];
    private RingBuffer<MoveQueueMessage> _queue = null!;

    /// <summary>Upstream's point-by-point scan only (no block skipping).</summary>
    [Params(false, true)]
    public bool ExactScans { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // 1000 moves of 10 mm at 80 steps/mm: accelerate at 3000 mm/s^2 to 100 mm/s,
        // cruise, decelerate (the step times of a cartesian axis)
        const double stepDist = 0.0125, v = 100.0, a = 3000.0, dist = 10.0;
        double accelT = v / a, accelD = 0.5 * a * accelT * accelT, cruiseT = (dist - 2 * accelD) / v;
        var times = new List<double>();
        double moveStart = 0.1;
        for (int i = 0; i < 1000; i++)
        {
            for (int k = 1; k * stepDist <= dist; k++)
            {
                double d = (k - 0.5) * stepDist, t;
                if (d < accelD)
                    t = Math.Sqrt(2 * d / a);
                else if (d < dist - accelD)
                    t = accelT + (d - accelD) / v;
                else
                    t = 2 * accelT + cruiseT - Math.Sqrt(2 * (dist - d) / a);
                times.Add(moveStart + t);
            }
            moveStart += 2 * accelT + cruiseT;
        }
        _stepTimes = times.ToArray();
        _queue = new RingBuffer<MoveQueueMessage>(1024);
    }

    /// <summary>Appends and compresses the 800,000 steps, flushing every 0.5 s of print time.</summary>
    [Benchmark]
    public long Compress()
    {
        var sc = new StepCompress(_queue) { ExactScans = ExactScans };
        sc.Fill(oid: 2, maxError: 400, queueStepMsgtag: 10, setNextStepDirMsgtag: 11);
        sc.SetTime(0.0, 16000000.0);
        long messages = 0;
        double nextFlush = 0.5;
        foreach (double t in _stepTimes)
        {
            if (t > nextFlush)
            {
                sc.Flush((ulong)(nextFlush * 16000000.0));
                nextFlush += 0.5;
                messages += _queue.Count;
                while (_queue.Count > 0)
                    _queue.RemoveFirst();
            }
            sc.Append(1, 0.0, t);
        }
        sc.Flush(ulong.MaxValue);
        messages += _queue.Count;
        while (_queue.Count > 0)
            _queue.RemoveFirst();
        return messages;
    }
}
