using System.Diagnostics;

namespace Klipsharp.Motion;

/// <summary>
/// Runs the step generation of several emitters at once (upstream generates each
/// stepper on its own thread). The calling thread takes part; helper threads pick
/// emitters from a shared counter. Each emitter only touches its own stepcompress and
/// kinematics and reads the trapqs, so the results do not depend on which thread ran
/// it; errors are logged afterwards in emitter order, as a sequential run logs them.
/// </summary>
internal sealed class StepGenWorkers
{
    // How long an idle thread polls before it sleeps: step generation calls come in
    // quick succession while a file is processed.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20000; // 50 us

    private readonly object _lock = new();
    private readonly Thread[] _threads;
    private Job[] _jobs = new Job[8];
    private int _jobCount;
    private double _genStepsTime;
    // The current round's work: round number (high 32 bits), job count (16 bits) and
    // next job to take (low 16 bits), changed as one value so that a thread still
    // looking at an old round can never take a job of the next one.
    private long _work;
    private int _doneJobs;
    private long _round;
    private int _sleepingWorkers;
    private bool _mainSleeping, _stopped;
    private Exception? _failure;

    private struct Job
    {
        public SyncEmitter Emitter;
        public ulong FlushClock, ClearClock;
        public List<string>? Errors;
    }

    /// <summary>Number of helper threads step generation uses by default: one less than the CPU count, at most 3.</summary>
    public static int DefaultHelperCount { get; } = GetDefaultHelperCount();

    private static int GetDefaultHelperCount()
    {
        string? env = Environment.GetEnvironmentVariable("KLIPSHARP_STEPGEN_THREADS");
        if (env is not null && int.TryParse(env, out int n) && n >= 1)
            return n - 1;
        return Math.Clamp(Environment.ProcessorCount - 1, 0, 3);
    }

    // The process-wide helpers (grown on demand) and whether a manager is using them.
    private static StepGenWorkers? s_shared;
    private static int s_inUse;

    /// <summary>The shared helpers with at least <paramref name="helpers"/> threads, or null if another caller has them.</summary>
    public static StepGenWorkers? TryAcquire(int helpers)
    {
        if (Interlocked.CompareExchange(ref s_inUse, 1, 0) != 0)
            return null;
        StepGenWorkers? w = s_shared;
        if (w is null || w._threads.Length < helpers)
        {
            w?.Stop();
            s_shared = w = new StepGenWorkers(helpers);
        }
        return w;
    }

    /// <summary>Give the helpers back (after <see cref="Run"/>).</summary>
    public void Release() => Volatile.Write(ref s_inUse, 0);

    private StepGenWorkers(int helpers)
    {
        _threads = new Thread[helpers];
        for (int i = 0; i < helpers; i++)
        {
            var t = new Thread(WorkerLoop) { IsBackground = true, Name = "stepgen" + (i + 1) };
            _threads[i] = t;
            t.Start();
        }
    }

    public void Clear() => _jobCount = 0;

    public void Add(SyncEmitter se, ulong flushClock, ulong clearClock)
    {
        if (_jobCount == 0xffff)
            throw new InvalidOperationException("too many step generation jobs");
        if (_jobCount == _jobs.Length)
            Array.Resize(ref _jobs, _jobs.Length * 2);
        ref Job j = ref _jobs[_jobCount++];
        j.Emitter = se;
        j.FlushClock = flushClock;
        j.ClearClock = clearClock;
        j.Errors = null;
    }

    /// <summary>Generate every added job; returns once all are done. Logs errors in job order.</summary>
    public void Run(double genStepsTime)
    {
        _genStepsTime = genStepsTime;
        _doneJobs = 0;
        lock (_lock)
        {
            _round++;
            Volatile.Write(ref _work, ((_round & 0xffffffffL) << 32) | ((long)_jobCount << 16));
            if (_sleepingWorkers != 0)
                Monitor.PulseAll(_lock);
        }
        RunJobs();
        // Wait for the jobs the helpers took
        if (Volatile.Read(ref _doneJobs) != _jobCount)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _doneJobs) != _jobCount)
            {
                if (Stopwatch.GetTimestamp() - start > SpinTicks)
                {
                    lock (_lock)
                    {
                        while (Volatile.Read(ref _doneJobs) != _jobCount)
                        {
                            _mainSleeping = true;
                            Monitor.Wait(_lock);
                        }
                        _mainSleeping = false;
                    }
                    break;
                }
                Thread.SpinWait(20);
            }
        }
        Exception? failure = _failure;
        if (failure is not null)
        {
            _failure = null;
            throw new InvalidOperationException("step generation failed", failure);
        }
        for (int i = 0; i < _jobCount; i++)
        {
            ref Job j = ref _jobs[i];
            if (j.Errors is not null)
                foreach (string e in j.Errors)
                    MotionLog.Error(e);
            if (j.Emitter.LastGenResult != 0)
                MotionLog.Error($"Error in syncemitter '{j.Emitter.Name}' step generation");
        }
    }

    // Take jobs until none is left.
    private void RunJobs()
    {
        for (;;)
        {
            long work = Volatile.Read(ref _work);
            int count = (int)(work >> 16) & 0xffff, i = (int)work & 0xffff;
            if (i >= count)
                return;
            if (Interlocked.CompareExchange(ref _work, work + 1, work) != work)
                continue;
            ref Job j = ref _jobs[i];
            try
            {
                MotionLog.BeginCapture();
                j.Emitter.LastGenResult = j.Emitter.GenerateSteps(_genStepsTime, j.FlushClock, j.ClearClock);
            }
            catch (Exception e)
            {
                j.Emitter.LastGenResult = StepCompress.ErrorRet;
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            finally
            {
                j.Errors = MotionLog.EndCapture();
            }
            if (Interlocked.Increment(ref _doneJobs) == count && Volatile.Read(ref _mainSleeping))
            {
                lock (_lock)
                    Monitor.PulseAll(_lock);
            }
        }
    }

    // Ends the helper threads (when replaced by a larger set).
    private void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            _round++;
            Monitor.PulseAll(_lock);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        for (;;)
        {
            if (Volatile.Read(ref _stopped))
                return;
            // Wait for the next round: poll for a while, then sleep
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _round) == seen)
            {
                if (Stopwatch.GetTimestamp() - start > SpinTicks)
                {
                    lock (_lock)
                    {
                        while (_round == seen)
                        {
                            _sleepingWorkers++;
                            Monitor.Wait(_lock);
                            _sleepingWorkers--;
                        }
                    }
                    break;
                }
                Thread.SpinWait(20);
            }
            seen = Volatile.Read(ref _round);
            RunJobs();
        }
    }
}
