using System.Diagnostics;

namespace Klipsharp.Motion;

/// <summary>
/// Runs step generation rounds (one <see cref="SteppersSyncManager.GenSteps"/> call
/// each) on helper threads and the calling thread. Upstream generates each stepper on
/// its own thread; here any thread takes the next (round, emitter) job, one emitter's
/// rounds always run in order and never two at once, so the results do not depend on
/// which thread ran them. Rounds may be left running while the caller goes on
/// (pipelined generation); <see cref="WaitAll"/> finishes them. Results, errors and
/// message counts are kept per round so that the caller can flush each round exactly
/// as if it had been generated alone.
/// </summary>
internal sealed class StepGenWorkers
{
    // How long an idle thread polls before it sleeps: step generation calls come in
    // quick succession while a file is processed.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20000; // 50 us

    // Helper threads end after this long without work, so the helpers of a manager
    // that is no longer used (a restarted printer, a finished test) do not linger.
    private const int IdleExitMs = 2000;

    /// <summary>One posted round: its inputs and, per emitter, its results.</summary>
    internal sealed class Round
    {
        public double FlushTime, GenStepsTime, ClearHistoryTime, TrapqFreeTime;
        public double LastFlushTime, LastGenStepsTime;
        public ulong[] FlushClock = [], ClearClock = [];
        public int[] Result = [];
        public List<string>?[] Errors = [];
        // Number of messages the emitter's queue had received when the round was done.
        public long[] MessageLimit = [];

        public void Size(int emitters)
        {
            if (Result.Length == emitters)
                return;
            FlushClock = new ulong[emitters];
            ClearClock = new ulong[emitters];
            Result = new int[emitters];
            Errors = new List<string>?[emitters];
            MessageLimit = new long[emitters];
        }
    }

    private readonly object _lock = new();
    private readonly int _helpers;
    private SyncEmitter[] _emitters = [];
    // Per emitter: whether it has steps to generate, the next round to generate
    // (index into _rounds) and whether a thread is generating it now.
    private bool[] _hasJobs = [];
    private int[] _next = [];
    private bool[] _busy = [];
    private readonly List<Round> _rounds = new();
    private readonly Stack<Round> _freeRounds = new();
    private int _pendingJobs, _jobsPerRound;
    private int _liveThreads, _sleepingWorkers;
    private bool _mainWaiting, _stopped;
    private Exception? _failure;
    private static long s_rounds, s_syncs, s_earlyFlushes, s_mainJobs, s_helperJobs, s_waitTicks;

    /// <summary>Counters for benchmarking: rounds, times the caller collected them all or the finished ones, jobs run by the caller and by helpers, time the caller waited.</summary>
    public static string Statistics =>
        $"stepgen: rounds={s_rounds} syncs={s_syncs} early flushes={s_earlyFlushes} main jobs={s_mainJobs} helper jobs={s_helperJobs} " +
        $"waiting={s_waitTicks * 1000 / Stopwatch.Frequency}ms";

    /// <summary>
    /// Number of helper threads step generation uses by default: one less than the CPU
    /// count (at most 3), or none when other processes keep every other CPU busy (the
    /// helpers would only take CPU time from this thread). KLIPSHARP_STEPGEN_THREADS sets
    /// the total.
    /// </summary>
    public static int DefaultHelperCount { get; } = GetDefaultHelperCount();

    private static int GetDefaultHelperCount()
    {
        string? env = Environment.GetEnvironmentVariable("KLIPSHARP_STEPGEN_THREADS");
        if (env is not null && int.TryParse(env, out int n) && n >= 1)
            return n - 1;
        int cpus = Environment.ProcessorCount;
        if (cpus > 1 && OtherRunnableTasks() >= cpus - 1)
            return 0;
        return Math.Clamp(cpus - 1, 0, 3);
    }

    // Tasks of other processes running or ready to run now (Linux; 0 if unknown): the
    // fewest of a few samples 2 ms apart, less this process's running threads. Not the
    // load average, which still counts the runs that ended in the last minute (a batch
    // run right after another would go without helpers).
    private static int OtherRunnableTasks()
    {
        int fewest = int.MaxValue;
        for (int sample = 0; sample < 5; sample++)
        {
            if (sample > 0)
                Thread.Sleep(2);
            int runnable = RunnableTasks();
            if (runnable < 0)
                return 0;
            fewest = Math.Min(fewest, runnable - OwnRunningThreads());
        }
        return Math.Max(fewest, 0);
    }

    // Threads of this process in state R (/proc/self/task/*/stat), at least 1 (this one).
    private static int OwnRunningThreads()
    {
        int running = 0;
        try
        {
            foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                int close = stat.LastIndexOf(')');
                if (close > 0 && close + 2 < stat.Length && stat[close + 2] == 'R')
                    running++;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return Math.Max(running, 1);
    }

    // The "running" count of /proc/loadavg ("0.50 0.40 0.30 2/180 1234"), or -1.
    private static int RunnableTasks()
    {
        try
        {
            string text = File.ReadAllText("/proc/loadavg");
            string[] fields = text.Split(' ');
            if (fields.Length > 3)
            {
                int slash = fields[3].IndexOf('/');
                if (slash > 0 && int.TryParse(fields[3].AsSpan(0, slash), System.Globalization.NumberStyles.None,
                        System.Globalization.CultureInfo.InvariantCulture, out int running))
                    return running;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return -1;
    }

    /// <summary>Workers with <paramref name="helpers"/> helper threads, started with the first round.</summary>
    public StepGenWorkers(int helpers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(helpers);
        _helpers = helpers;
    }

    /// <summary>Number of helper threads.</summary>
    public int Helpers => _helpers;

    /// <summary>Rounds posted and not yet taken back with <see cref="TakeRounds"/>.</summary>
    public int RoundCount => _rounds.Count;

    /// <summary>End the helper threads (they also end by themselves when idle).</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>A round to fill in and pass to <see cref="Post"/>, sized for <paramref name="emitters"/>.</summary>
    public Round NewRound(IReadOnlyList<SyncEmitter> emitters)
    {
        if (_rounds.Count == 0 && !SameEmitters(emitters))
        {
            // Emitters are added while the printer is configured, before any round runs
            lock (_lock)
            {
                _emitters = [.. emitters];
                _hasJobs = new bool[_emitters.Length];
                _next = new int[_emitters.Length];
                _busy = new bool[_emitters.Length];
                _jobsPerRound = 0;
                for (int i = 0; i < _emitters.Length; i++)
                {
                    _hasJobs[i] = _emitters[i].GeneratesSteps;
                    if (_hasJobs[i])
                        _jobsPerRound++;
                }
            }
            _freeRounds.Clear();
        }
        else if (!SameEmitters(emitters))
        {
            throw new InvalidOperationException("step generation emitters changed while rounds were running");
        }
        Round r = _freeRounds.Count != 0 ? _freeRounds.Pop() : new Round();
        r.Size(_emitters.Length);
        return r;
    }

    private bool SameEmitters(IReadOnlyList<SyncEmitter> emitters)
    {
        if (emitters.Count != _emitters.Length)
            return false;
        for (int i = 0; i < _emitters.Length; i++)
            if (emitters[i] != _emitters[i] || emitters[i].GeneratesSteps != _hasJobs[i])
                return false;
        return true;
    }

    /// <summary>
    /// Start generating a round. Emitters without steps get their message count now;
    /// the caller keeps going and helps only while more than
    /// <paramref name="aheadRounds"/> rounds are waiting.
    /// </summary>
    public void Post(Round r, int aheadRounds)
    {
        for (int i = 0; i < _emitters.Length; i++)
        {
            r.Result[i] = 0;
            r.Errors[i] = null;
            if (!_hasJobs[i])
                r.MessageLimit[i] = _emitters[i].MessageQueue.TotalAdded;
        }
        lock (_lock)
        {
            _rounds.Add(r);
            _pendingJobs += _jobsPerRound;
            if (_liveThreads < _helpers)
                StartMissingHelpers();
            if (_sleepingWorkers != 0)
                Monitor.PulseAll(_lock);
        }
        s_rounds++;
        // Help when the helpers fall behind
        while (Volatile.Read(ref _pendingJobs) > aheadRounds * _jobsPerRound && RunOneJob(isMain: true))
        {
        }
    }

    /// <summary>Generate everything posted (helping the helpers), then return.</summary>
    public void WaitAll()
    {
        while (RunOneJob(isMain: true))
        {
        }
        if (Volatile.Read(ref _pendingJobs) == 0)
            return;
        long t0 = Stopwatch.GetTimestamp();
        // Jobs the helpers are running: poll a little, then sleep
        while (Volatile.Read(ref _pendingJobs) != 0)
        {
            if (Stopwatch.GetTimestamp() - t0 > SpinTicks)
            {
                lock (_lock)
                {
                    while (_pendingJobs != 0)
                    {
                        _mainWaiting = true;
                        Monitor.Wait(_lock);
                    }
                    _mainWaiting = false;
                }
                break;
            }
            Thread.SpinWait(20);
        }
        s_waitTicks += Stopwatch.GetTimestamp() - t0;
    }

    /// <summary>
    /// The finished rounds, oldest first, after <see cref="WaitAll"/>; hand each back
    /// with <see cref="Recycle"/>. Throws if a job threw.
    /// </summary>
    public List<Round> TakeRounds(List<Round> into)
    {
        if (Volatile.Read(ref _pendingJobs) != 0)
            throw new InvalidOperationException("step generation rounds are still running");
        Exception? failure = _failure;
        s_syncs++;
        lock (_lock)
        {
            into.AddRange(_rounds);
            _rounds.Clear();
            Array.Clear(_next);
        }
        if (failure is not null)
        {
            _failure = null;
            throw new InvalidOperationException("step generation failed", failure);
        }
        return into;
    }

    /// <summary>
    /// The oldest rounds that are finished, oldest first, while later ones may still run;
    /// hand each back with <see cref="Recycle"/>. Takes none once a job threw (then
    /// <see cref="TakeRounds"/> reports it).
    /// </summary>
    public void TakeFinishedRounds(List<Round> into)
    {
        lock (_lock)
        {
            if (_failure is not null)
                return;
            int done = _rounds.Count;
            for (int i = 0; i < _emitters.Length; i++)
                if (_hasJobs[i] && _next[i] < done)
                    done = _next[i];
            if (done == 0)
                return;
            for (int k = 0; k < done; k++)
                into.Add(_rounds[k]);
            _rounds.RemoveRange(0, done);
            for (int i = 0; i < _emitters.Length; i++)
                if (_hasJobs[i])
                    _next[i] -= done;
        }
        s_earlyFlushes++;
    }

    /// <summary>Return a round taken with <see cref="TakeRounds"/> or <see cref="TakeFinishedRounds"/> for reuse.</summary>
    public void Recycle(Round r) => _freeRounds.Push(r);

    // Start helpers up to the wanted count (caller holds _lock).
    private void StartMissingHelpers()
    {
        while (_liveThreads < _helpers)
        {
            _liveThreads++;
            var t = new Thread(WorkerLoop) { IsBackground = true, Name = "stepgen" + _liveThreads };
            t.Start();
        }
    }

    // Claim the emitter whose next round is the oldest (caller holds _lock).
    private int Claim()
    {
        int best = -1, bestRound = int.MaxValue;
        int rounds = _rounds.Count;
        for (int i = 0; i < _emitters.Length; i++)
        {
            if (!_hasJobs[i] || _busy[i])
                continue;
            int n = _next[i];
            if (n < rounds && n < bestRound)
            {
                best = i;
                bestRound = n;
            }
        }
        if (best >= 0)
            _busy[best] = true;
        return best;
    }

    // Run one job if one can be claimed; false when none can.
    private bool RunOneJob(bool isMain)
    {
        int e;
        Round r;
        lock (_lock)
        {
            e = Claim();
            if (e < 0)
                return false;
            r = _rounds[_next[e]];
        }
        RunJob(r, e);
        lock (_lock)
        {
            _next[e]++;
            _busy[e] = false;
            if (--_pendingJobs == 0 && _mainWaiting)
                Monitor.PulseAll(_lock);
            else if (_sleepingWorkers != 0 && _next[e] < _rounds.Count)
                Monitor.PulseAll(_lock); // that emitter's next round is free for a sleeping helper
        }
        if (isMain)
            s_mainJobs++;
        else
            Interlocked.Increment(ref s_helperJobs);
        return true;
    }

    [ThreadStatic]
    private static bool t_inJob;

    /// <summary>True on a thread while it runs a generation job (which must not sync).</summary>
    public static bool InJob => t_inJob;

    private void RunJob(Round r, int e)
    {
        SyncEmitter se = _emitters[e];
        t_inJob = true;
        try
        {
            MotionLog.BeginCapture();
            r.Result[e] = se.GenerateSteps(r.GenStepsTime, r.FlushClock[e], r.ClearClock[e]);
        }
        catch (Exception ex)
        {
            r.Result[e] = StepCompress.ErrorRet;
            Interlocked.CompareExchange(ref _failure, ex, null);
        }
        finally
        {
            t_inJob = false;
            r.Errors[e] = MotionLog.EndCapture();
            r.MessageLimit[e] = se.MessageQueue.TotalAdded;
        }
    }

    private void WorkerLoop()
    {
        for (;;)
        {
            if (RunOneJob(isMain: false))
                continue;
            // Nothing to take: poll for a while, then sleep
            long start = Stopwatch.GetTimestamp();
            while (!HasClaimableJob() && Stopwatch.GetTimestamp() - start <= SpinTicks)
                Thread.SpinWait(20);
            if (HasClaimableJob())
                continue;
            lock (_lock)
            {
                while (!HasClaimableJob())
                {
                    if (_stopped)
                    {
                        _liveThreads--;
                        return;
                    }
                    _sleepingWorkers++;
                    bool signalled = Monitor.Wait(_lock, IdleExitMs);
                    _sleepingWorkers--;
                    if (!signalled && !HasClaimableJob())
                    {
                        // Idle: end; the next round starts a new helper
                        _liveThreads--;
                        return;
                    }
                }
            }
        }
    }

    // Whether a job can be claimed now (a job another thread holds, or the next round of
    // an emitter being generated, is not work for this thread). Without the lock only a
    // hint, to stop polling; exact under it.
    private bool HasClaimableJob()
    {
        if (Volatile.Read(ref _pendingJobs) == 0)
            return false;
        bool[] hasJobs = _hasJobs, busy = _busy;
        int[] next = _next;
        int n = Math.Min(hasJobs.Length, Math.Min(busy.Length, next.Length));
        int rounds = _rounds.Count;
        for (int i = 0; i < n; i++)
            if (hasJobs[i] && !Volatile.Read(ref busy[i]) && Volatile.Read(ref next[i]) < rounds)
                return true;
        return false;
    }
}
