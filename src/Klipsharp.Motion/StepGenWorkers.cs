using System.Diagnostics;

namespace Klipsharp.Motion;

/// <summary>
/// Runs the step generation of several emitters at once (upstream generates each
/// stepper on its own thread). The calling thread takes part; helper threads pick
/// emitters from a shared counter. Each emitter only touches its own stepcompress and
/// kinematics and reads the trapqs, so the results do not depend on which thread ran
/// it; errors are logged afterwards in emitter order, as a sequential run logs them.
/// Each <see cref="SteppersSyncManager"/> owns its own workers.
/// </summary>
internal sealed class StepGenWorkers
{
    // How long an idle thread polls before it sleeps: step generation calls come in
    // quick succession while a file is processed.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20000; // 50 us

    private readonly object _lock = new();
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
    // Time this thread spent generating and waiting for helpers over the last rounds.
    private long _windowBusy, _windowWait;
    private int _windowRounds, _sequentialRounds;
    private static long s_sharedRounds, s_aloneRounds, s_busyTicks, s_waitTicks, s_helperJobs;

    /// <summary>Counters for benchmarking: rounds shared and run alone, time generating and waiting.</summary>
    public static string Statistics =>
        $"stepgen: shared rounds={s_sharedRounds} alone={s_aloneRounds} " +
        $"main busy={s_busyTicks * 1000 / Stopwatch.Frequency}ms waiting={s_waitTicks * 1000 / Stopwatch.Frequency}ms helper jobs={s_helperJobs}";
    private Exception? _failure;

    private struct Job
    {
        public SyncEmitter Emitter;
        public ulong FlushClock, ClearClock;
        public List<string>? Errors;
    }

    /// <summary>
    /// Number of helper threads step generation uses by default: one less than the CPU
    /// count (at most 3), or none when the machine has no idle CPU (the helpers would
    /// only take CPU time from this thread). KLIPSHARP_STEPGEN_THREADS sets the total.
    /// </summary>
    public static int DefaultHelperCount { get; } = GetDefaultHelperCount();

    private static int GetDefaultHelperCount()
    {
        string? env = Environment.GetEnvironmentVariable("KLIPSHARP_STEPGEN_THREADS");
        if (env is not null && int.TryParse(env, out int n) && n >= 1)
            return n - 1;
        int cpus = Environment.ProcessorCount;
        double load = RecentLoad();
        if (load >= 0.0 && load > cpus - 1.0)
            return 0;
        return Math.Clamp(cpus - 1, 0, 3);
    }

    // The 1-minute load average (Linux), or -1 if unknown.
    private static double RecentLoad()
    {
        try
        {
            string text = File.ReadAllText("/proc/loadavg");
            int sp = text.IndexOf(' ');
            if (sp > 0 && double.TryParse(text.AsSpan(0, sp), System.Globalization.NumberStyles.Float,
                    System.Globalization.CultureInfo.InvariantCulture, out double load))
                return load;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return -1.0;
    }

    // Helper threads end after this long without a round, so the helpers of a manager
    // that is no longer used (a restarted printer, a finished test) do not linger.
    private const int IdleExitMs = 2000;

    private readonly int _helpers;
    private int _liveThreads;

    /// <summary>Workers with <paramref name="helpers"/> helper threads, started on the first <see cref="Run"/>.</summary>
    public StepGenWorkers(int helpers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(helpers);
        _helpers = helpers;
    }

    /// <summary>Number of helper threads.</summary>
    public int Helpers => _helpers;

    // Start helpers up to the wanted count (caller holds _lock).
    private void StartMissingHelpers()
    {
        while (_liveThreads < _helpers)
        {
            _liveThreads++;
            long seen = _round;
            var t = new Thread(() => WorkerLoop(seen)) { IsBackground = true, Name = "stepgen" + _liveThreads };
            t.Start();
        }
    }

    /// <summary>End the helper threads (they also end by themselves when idle).</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            Monitor.PulseAll(_lock);
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
        if (_sequentialRounds > 0)
        {
            // The helpers kept this thread waiting (a busy machine): go on alone for a while
            _sequentialRounds--;
            s_aloneRounds++;
            for (int i = 0; i < _jobCount; i++)
                RunJob(ref _jobs[i]);
        }
        else
        {
            RunShared();
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

    private void RunShared()
    {
        _doneJobs = 0;
        lock (_lock)
        {
            if (_liveThreads < _helpers)
                StartMissingHelpers();
            _round++;
            Volatile.Write(ref _work, ((_round & 0xffffffffL) << 32) | ((long)_jobCount << 16));
            if (_sleepingWorkers != 0)
                Monitor.PulseAll(_lock);
        }
        long t0 = Stopwatch.GetTimestamp();
        RunJobs();
        long t1 = Stopwatch.GetTimestamp(), t2 = t1;
        // Wait for the jobs the helpers took
        if (Volatile.Read(ref _doneJobs) != _jobCount)
        {

            while (Volatile.Read(ref _doneJobs) != _jobCount)
            {
                if (Stopwatch.GetTimestamp() - t1 > SpinTicks)
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
            t2 = Stopwatch.GetTimestamp();
        }
        // Sharing pays while this thread rarely waits for a helper; when it waits longer
        // than it works (the helpers do not get a CPU in time), generate alone for a while.
        _windowBusy += t1 - t0;
        _windowWait += t2 - t1;
        s_sharedRounds++;
        s_busyTicks += t1 - t0;
        s_waitTicks += t2 - t1;
        if (++_windowRounds == 64)
        {
            if (_windowWait > _windowBusy)
                _sequentialRounds = 1024;
            _windowRounds = 0;
            _windowBusy = _windowWait = 0;
        }
    }

    // Take jobs until none is left; returns how many this thread ran.
    private int RunJobs()
    {
        for (int ran = 0; ; ran++)
        {
            long work = Volatile.Read(ref _work);
            int count = (int)(work >> 16) & 0xffff, i = (int)work & 0xffff;
            if (i >= count)
                return ran;
            if (Interlocked.CompareExchange(ref _work, work + 1, work) != work)
            {
                ran--;
                continue;
            }
            RunJob(ref _jobs[i]);
            // Check _mainSleeping under the lock: read outside it, the main thread could
            // see the job not done, then set _mainSleeping after this thread looked, and
            // wait forever (an intermittent hang found by motion-fuzz)
            if (Interlocked.Increment(ref _doneJobs) == count)
            {
                lock (_lock)
                    if (_mainSleeping)
                        Monitor.PulseAll(_lock);
            }
        }
    }

    private void RunJob(ref Job j)
    {
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
    }

    private void WorkerLoop(long seen)
    {
        for (;;)
        {
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
                            if (_stopped)
                            {
                                _liveThreads--;
                                return;
                            }
                            _sleepingWorkers++;
                            bool signalled = Monitor.Wait(_lock, IdleExitMs);
                            _sleepingWorkers--;
                            if (!signalled && _round == seen)
                            {
                                // Idle: end; the next round starts a new helper
                                _liveThreads--;
                                return;
                            }
                        }
                    }
                    break;
                }
                Thread.SpinWait(20);
            }
            seen = Volatile.Read(ref _round);
            Interlocked.Add(ref s_helperJobs, RunJobs());
        }
    }
}
