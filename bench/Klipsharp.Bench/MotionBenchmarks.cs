using BenchmarkDotNet.Attributes;
using Klipsharp.Motion;

namespace Klipsharp.Bench;

/// <summary>Step solver (upstream's secant search or closed form) + step compression on a stream of short cartesian moves (the hot loop of every print).</summary>
[MemoryDiagnoser]
public class MotionBenchmarks
{
    private sealed class NullSink : IMoveQueueSink
    {
        public long Messages;

        public void SendBatch(ReadOnlySpan<MoveQueueMessage> batch) => Messages += batch.Length;
    }

    private const int MoveCount = 1000;
    private TrapQ _trapq = null!;
    private StepperKinematics _sk = null!;
    private StepCompress _sc = null!;
    private RingBuffer<MoveQueueMessage> _queue = null!;

    /// <summary>Step times in closed form instead of by the secant search.</summary>
    [Params(false, true)]
    public bool ClosedForm { get; set; }

    [IterationSetup]
    public void Setup()
    {
        _trapq = new TrapQ();
        _queue = new RingBuffer<MoveQueueMessage>(1024);
        _sc = new StepCompress(_queue);
        _sc.Fill(oid: 2, maxError: 400, queueStepMsgtag: 10, setNextStepDirMsgtag: 11);
        _sc.SetTime(0.0, 16000000.0);
        _sk = new CartesianStepperKinematics('x') { ClosedFormSteps = ClosedForm };
        _sk.SetTrapQ(_trapq, 0.0125);
        // Zig-zag moves of 10 mm at 100 mm/s with 3000 mm/s^2 accel
        double t = 0.1, x = 0.0;
        for (int i = 0; i < MoveCount; i++)
        {
            double dir = (i & 1) == 0 ? 1.0 : -1.0;
            const double accelT = 100.0 / 3000.0, cruiseT = (10.0 - 2 * 0.5 * 3000.0 * accelT * accelT) / 100.0;
            _trapq.Append(t, accelT, cruiseT, accelT, x, 0, 0, dir, 0, 0, 0.0, 100.0, 3000.0);
            t += 2 * accelT + cruiseT;
            x += 10.0 * dir;
        }
    }

    /// <summary>Generates and compresses the steps of 1000 moves (about 800k steps).</summary>
    [Benchmark]
    public int GenerateAndCompress()
    {
        double end = 0.1 + MoveCount * 0.2;
        int ret = 0;
        for (double flush = 0.5; flush < end + 0.5; flush += 0.5)
        {
            ret |= _sk.GenerateSteps(_sc, flush);
            ret |= _sc.Flush(ulong.MaxValue);
            while (_queue.Count > 0)
                _queue.RemoveFirst();
        }
        return ret;
    }
}
