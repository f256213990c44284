namespace Klipsharp.Motion;

/// <summary>
/// Message source for one MCU object on the stepper move queue (upstream's
/// syncemitter): an optional <see cref="Motion.StepCompress"/> fed by a
/// <see cref="StepperKinematics"/>, plus extra queued commands (reset_step_clock,
/// queue_pwm_out, ...).
/// </summary>
public sealed class SyncEmitter
{
    private readonly RingBuffer<MoveQueueMessage> _msgQueue = new(64);

    private readonly SteppersSyncManager? _owner;

    internal SyncEmitter(string name, bool allocStepCompress, SteppersSyncManager? owner)
    {
        Name = name;
        _owner = owner;
        if (allocStepCompress)
            StepCompress = new StepCompress(_msgQueue) { Owner = owner };
    }

    /// <summary>The name given at allocation (used in error reports).</summary>
    public string Name { get; }

    /// <summary>This emitter's step compressor, or null if allocated without one (syncemitter_get_stepcompress).</summary>
    public StepCompress? StepCompress { get; }

    /// <summary>The kinematics that generate this emitter's steps (may be null).</summary>
    public StepperKinematics? StepperKinematics { get; private set; }

    /// <summary>Messages waiting to be flushed, oldest first.</summary>
    public RingBuffer<MoveQueueMessage> MessageQueue => _msgQueue;

    /// <summary>Set the stepper kinematics (syncemitter_set_stepper_kinematics).</summary>
    public void SetStepperKinematics(StepperKinematics? sk)
    {
        _owner?.SyncForChange();
        if (sk is not null)
        {
            sk.Owner = _owner;
            if (_owner is not null)
                sk.ClosedFormSteps = _owner.ClosedFormSteps;
        }
        StepperKinematics = sk;
    }

    /// <summary>The stepper kinematics (syncemitter_get_stepper_kinematics).</summary>
    public StepperKinematics? GetStepperKinematics() => StepperKinematics;

    /// <summary>
    /// Queue a command (msgtag first) that uses an MCU move-queue slot until
    /// <paramref name="reqClock"/>; 0 means it uses none and goes out on the next flush
    /// (syncemitter_queue_msg).
    /// </summary>
    public void QueueMsg(ulong reqClock, ReadOnlySpan<uint> data)
    {
        if (data.Length > MoveQueueMessage.MaxWords)
            throw new ArgumentException($"message has {data.Length} words, at most {MoveQueueMessage.MaxWords} allowed", nameof(data));
        if (GeneratesSteps)
            _owner?.SyncForChange(); // queued rounds append to this queue
        ref MoveQueueMessage qm = ref _msgQueue.AddLast();
        data.CopyTo(qm.Words);
        qm.Length = data.Length;
        qm.MinClock = qm.ReqClock = reqClock;
    }

    /// <summary>Result (0 or an error code) of this emitter's last step generation.</summary>
    public int LastGenResult { get; internal set; }

    // Generate steps up to genStepsTime, flush them to flushClock, expire old history.
    internal int GenerateSteps(double genStepsTime, ulong flushClock, ulong clearHistoryClock)
    {
        StepCompress? sc = StepCompress;
        StepperKinematics? sk = StepperKinematics;
        if (sc is null || sk is null)
            return 0;
        int ret = sk.GenerateSteps(sc, genStepsTime);
        if (ret != 0)
            return ret;
        ret = sc.Flush(flushClock);
        if (ret != 0)
            return ret;
        sc.HistoryExpire(clearHistoryClock);
        return 0;
    }

    // Whether GenerateSteps has work: a step compressor fed by kinematics.
    internal bool GeneratesSteps => StepCompress is not null && StepperKinematics is not null;
}

/// <summary>
/// Orders the step-queue messages of one MCU (upstream's steppersync): tracks when
/// MCU move-queue slots free up and sends messages in req_clock order so no stepper
/// starves the others of queue space.
/// </summary>
public sealed class SteppersSync
{
    private readonly List<SyncEmitter> _emitters = new();
    private IMoveQueueSink? _sink;
    // When each MCU move-queue slot becomes free.
    private MoveQueueSlots _moveClocks = new(0);
    private MoveQueueMessage[] _batch = new MoveQueueMessage[64];
    // Print time to clock conversion (a clock_estimate with conv_clock 0).
    private double _estFreq, _convTime;

    // Upstream's MAX_CLOCK.
    private const ulong MaxClock = 0x7fffffffffffffffUL;

    private readonly SteppersSyncManager? _owner;

    internal SteppersSync(SteppersSyncManager? owner = null)
    {
        _owner = owner;
    }

    /// <summary>The emitters of this MCU, in allocation order.</summary>
    public IReadOnlyList<SyncEmitter> Emitters => _emitters;

    internal List<SyncEmitter> EmitterList => _emitters;

    /// <summary>Add an emitter (steppersync_alloc_syncemitter).</summary>
    public SyncEmitter AllocSyncEmitter(string name, bool allocStepCompress = true)
    {
        var se = new SyncEmitter(name, allocStepCompress, _owner);
        _emitters.Add(se);
        return se;
    }

    /// <summary>Set where messages go and how many move-queue slots the MCU has (steppersync_setup_movequeue).</summary>
    public void SetupMoveQueue(IMoveQueueSink sink, int moveNum)
    {
        _sink = sink;
        _moveClocks = new MoveQueueSlots(moveNum);
    }

    /// <summary>Set the print-time-to-clock conversion for this MCU and its steppers (steppersync_set_time).</summary>
    public void SetTime(double timeOffset, double mcuFreq)
    {
        _owner?.SyncForChange();
        _estFreq = mcuFreq;
        _convTime = timeOffset;
        for (int i = 0; i < _emitters.Count; i++)
            _emitters[i].StepCompress?.SetTime(timeOffset, mcuFreq);
    }

    /// <summary>Nearest clock to <paramref name="time"/> (upstream's clock_from_time).</summary>
    public ulong ClockFromTime(double time) => (ulong)CConv.ToInt64((time - _convTime) * _estFreq + .5);

    /// <summary>Send, in req_clock order, every queued message due by <paramref name="moveClock"/> (steppersync_flush).</summary>
    public void Flush(ulong moveClock) => Flush(moveClock, null, 0);

    // steppersync_flush; with messageLimits, an emitter's messages beyond the count
    // its queue had when a queued round was generated wait for a later flush (and
    // later rounds may be adding them meanwhile).
    internal void Flush(ulong moveClock, long[]? messageLimits, int firstEmitter)
    {
        int count = 0;
        List<SyncEmitter> emitters = _emitters;
        for (;;)
        {
            // Find the message with the lowest req_clock (first emitter wins ties)
            ulong reqClock = MaxClock;
            SyncEmitter? best = null;
            for (int i = 0; i < emitters.Count; i++)
            {
                RingBuffer<MoveQueueMessage> q = emitters[i].MessageQueue;
                bool available = messageLimits is null ? q.Count != 0 : q.TotalRemoved < messageLimits[firstEmitter + i];
                if (available && q.First.ReqClock < reqClock)
                {
                    best = emitters[i];
                    reqClock = q.First.ReqClock;
                }
            }
            if (best is null)
                break;
            ref MoveQueueMessage qm = ref best.MessageQueue.First;
            ulong minClock = qm.MinClock;
            if (minClock != 0 && reqClock > moveClock)
                break;

            if (_moveClocks.Count == 0)
                throw new InvalidOperationException("steppersync: SetupMoveQueue was not called");
            ulong nextAvail = _moveClocks.Earliest;
            if (minClock != 0)
                _moveClocks.ReplaceEarliest(minClock); // min_clock marks a move-queue slot busy until then

            if (count == _batch.Length)
                Array.Resize(ref _batch, _batch.Length * 2);
            // (Copied before MinClock changes: a copy right after a store to it waits for the store.)
            ref MoveQueueMessage sent = ref _batch[count++];
            sent = qm;
            sent.MinClock = nextAvail; // from here on: earliest transmit clock
            best.MessageQueue.RemoveFirst();
        }

        if (count != 0)
        {
            if (_sink is null)
                throw new InvalidOperationException("steppersync: SetupMoveQueue was not called");
            _sink.SendBatch(new ReadOnlySpan<MoveQueueMessage>(_batch, 0, count));
        }
    }
}

/// <summary>A step generation round that failed (see <see cref="SteppersSyncManager.SyncGenSteps"/>).</summary>
public sealed record GenStepsFailure(SyncEmitter Emitter, double FlushTime, double GenStepsTime,
    double ClearHistoryTime, double LastFlushTime, double LastGenStepsTime);

/// <summary>
/// All MCUs' <see cref="SteppersSync"/> objects (upstream's steppersyncmgr): one call
/// generates the steps of every stepper and flushes each MCU's messages.
/// <para>
/// Rounds can also be queued (<see cref="QueueGenSteps"/>): they are generated on the
/// helper threads while the caller goes on, and flushed in order when the caller
/// syncs (or, with <see cref="FlushFinishedRoundsEarly"/>, as soon as they are
/// finished), each exactly as a <see cref="GenSteps"/> call at that point would have. Until
/// then the steppers and trapqs belong to step generation: a trapq syncs by itself
/// before a change that the queued rounds could see, and the host syncs before it
/// touches stepper state (<see cref="SyncGenSteps"/>).
/// </para>
/// </summary>
public sealed class SteppersSyncManager
{
    private readonly List<SteppersSync> _syncs = new();
    private int _helperThreads = -1;
    private StepGenWorkers? _workers;
    // Every emitter of every MCU, in MCU order; _syncFirst[i] is MCU i's first.
    private readonly List<SyncEmitter> _allEmitters = new();
    private int[] _syncFirst = [];
    private readonly List<StepGenWorkers.Round> _doneRounds = new();
    private readonly List<TrapQ> _guardedTrapqs = new();
    private double _lastFlushTime, _lastGenStepsTime;
    private GenStepsFailure? _deferredFailure;
    private bool _syncing;

    // Queued rounds the caller may run ahead of the helpers before it helps. Rounds come
    // in bursts (a file's G-code is read in 4096-byte blocks and the flush timer runs
    // between them); rounds left queued keep the helpers busy while the caller parses
    // the next block (with 2, the helper idled for a quarter of the bunny's run).
    private const int AheadRounds = 16;
    // Rounds since the last sync after which the caller syncs: the queued ones and those
    // flushed early, whose trapq moves are finalized only when no round runs (a sync).
    // A sync empties the queue, so it is kept rare; it bounds the unfinalized moves.
    private const int MaxQueuedRounds = 1024;
    private int _unfinalizedRounds;
    private double _unfinalizedFreeTime, _unfinalizedClearTime;

    /// <summary>
    /// Helper threads for step generation (0 = generate on the calling thread only).
    /// Defaults to one less than the CPU count (KLIPSHARP_STEPGEN_THREADS overrides the total).
    /// </summary>
    public int HelperThreads
    {
        get => _helperThreads < 0 ? StepGenWorkers.DefaultHelperCount : _helperThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _helperThreads = value;
        }
    }

    /// <summary>
    /// Called at a sync, once no round runs, with the (trapq free time, clear history
    /// time) of the last queued round flushed since the previous call.
    /// </summary>
    public Action<double, double>? QueuedRoundFlushed { get; set; }

    /// <summary>
    /// Whether <see cref="QueueGenSteps"/> flushes the queued rounds that are finished
    /// while later ones still run, so that flushing overlaps with step generation. The
    /// messages and their order are the same as when a sync flushes them.
    /// </summary>
    public bool FlushFinishedRoundsEarly { get; set; }

    /// <summary>Whether the stepper kinematics set on this manager's emitters find step times in closed form (see <see cref="StepperKinematics.ClosedFormSteps"/>).</summary>
    public bool ClosedFormSteps { get; set; }

    /// <summary>True while queued rounds wait for <see cref="SyncGenSteps"/>.</summary>
    public bool HasQueuedRounds => _workers is { RoundCount: > 0 };

    // This manager's helper threads (started with the first round), or null when there
    // is at most one emitter or no helper is wanted (then generation is sequential).
    private StepGenWorkers? Workers()
    {
        int emitters = 0;
        for (int i = 0; i < _syncs.Count; i++)
            emitters += _syncs[i].EmitterList.Count;
        int helpers = emitters < 2 ? 0 : Math.Min(HelperThreads, emitters - 1);
        if (_workers is not null && (helpers <= 0 || _workers.Helpers != helpers))
        {
            // Rounds the old workers still hold go first
            GenStepsFailure? failure = SyncGenSteps();
            if (failure is not null)
                _deferredFailure = failure;
            _workers.Stop();
            _workers = null;
        }
        if (helpers <= 0)
            return null;
        return _workers ??= new StepGenWorkers(helpers);
    }

    /// <summary>Step generation thread counters (for benchmarks).</summary>
    public static string ParallelStatistics => StepGenWorkers.Statistics;

    /// <summary>The per-MCU synchronizers, in allocation order.</summary>
    public IReadOnlyList<SteppersSync> SteppersSyncs => _syncs;

    /// <summary>Add a per-MCU synchronizer (steppersyncmgr_alloc_steppersync).</summary>
    public SteppersSync AllocSteppersSync()
    {
        var ss = new SteppersSync(this);
        _syncs.Add(ss);
        return ss;
    }

    /// <summary>
    /// Generate steps up to <paramref name="genStepsTime"/> for every emitter, flush
    /// them up to <paramref name="flushTime"/>, and expire step history before
    /// <paramref name="clearHistoryTime"/> (steppersyncmgr_gen_steps). Returns the
    /// emitter that failed (its StepCompress.LastError has the details) or null.
    /// </summary>
    public SyncEmitter? GenSteps(double flushTime, double genStepsTime, double clearHistoryTime)
    {
        GenStepsFailure? earlier = SyncGenSteps();
        if (earlier is not null)
            return earlier.Emitter;
        return RunRound(flushTime, genStepsTime, clearHistoryTime, double.NaN, queue: false)?.Emitter;
    }

    /// <summary>
    /// Like <see cref="GenSteps"/>, but the generation may still be running when this
    /// returns; <paramref name="trapqFreeTime"/> goes to <see cref="QueuedRoundFlushed"/>
    /// once the round is flushed. Returns a failure of this or an earlier round found
    /// now (the rounds after a failure are dropped), else null.
    /// </summary>
    public GenStepsFailure? QueueGenSteps(double flushTime, double genStepsTime, double clearHistoryTime, double trapqFreeTime)
    {
        if (_deferredFailure is not null || (_workers?.RoundCount ?? 0) + _unfinalizedRounds >= MaxQueuedRounds)
        {
            GenStepsFailure? earlier = SyncGenSteps();
            if (earlier is not null)
                return earlier;
        }
        GenStepsFailure? failure = RunRound(flushTime, genStepsTime, clearHistoryTime, trapqFreeTime, queue: true);
        if (failure is null && FlushFinishedRoundsEarly)
            failure = FlushFinishedRounds();
        return failure;
    }

    // Flush the oldest queued rounds that are finished while later ones may still run
    // (their emitters' queues take new messages meanwhile; see SteppersSync.Flush). On a
    // failure the remaining rounds are finished and dropped, as in a sync.
    private GenStepsFailure? FlushFinishedRounds()
    {
        if (_syncing || _workers is not { RoundCount: > 0 } workers)
            return null;
        _syncing = true;
        try
        {
            TakeAndFlushRounds(workers, all: false);
        }
        finally
        {
            _syncing = false;
        }
        return _deferredFailure is null ? null : SyncGenSteps();
    }

    // Take all rounds (after WaitAll) or the finished ones and flush them in order; after
    // a failure (kept in _deferredFailure) the rest are dropped. Hands every round back.
    private void TakeAndFlushRounds(StepGenWorkers workers, bool all)
    {
        try
        {
            if (all)
                workers.TakeRounds(_doneRounds);
            else
                workers.TakeFinishedRounds(_doneRounds);
            foreach (StepGenWorkers.Round r in _doneRounds)
            {
                if (_deferredFailure is null)
                    _deferredFailure = FlushRound(r, isQueued: true);
            }
        }
        finally
        {
            foreach (StepGenWorkers.Round r in _doneRounds)
                workers.Recycle(r);
            _doneRounds.Clear();
        }
    }

    /// <summary>
    /// Finish and flush every queued round, in order. Returns the first failure (also
    /// one found by an earlier implicit sync), else null.
    /// </summary>
    public GenStepsFailure? SyncGenSteps()
    {
        if (!_syncing && _workers is { } workers && (workers.RoundCount > 0 || _unfinalizedRounds > 0))
        {
            _syncing = true;
            try
            {
                workers.WaitAll();
                foreach (TrapQ tq in _guardedTrapqs)
                    tq.ClearQueuedReader();
                _guardedTrapqs.Clear();
                TakeAndFlushRounds(workers, all: true);
                if (_unfinalizedRounds != 0)
                {
                    _unfinalizedRounds = 0;
                    QueuedRoundFlushed?.Invoke(_unfinalizedFreeTime, _unfinalizedClearTime);
                }
            }
            finally
            {
                _syncing = false;
            }
        }
        GenStepsFailure? failure = _deferredFailure;
        _deferredFailure = null;
        return failure;
    }

    // A sync that the motion objects ask for before a change queued rounds could see;
    // a failure waits for the next QueueGenSteps or SyncGenSteps.
    internal void SyncForChange()
    {
        if (_workers is not { RoundCount: > 0 })
            return;
        if (StepGenWorkers.InJob)
            throw new InvalidOperationException("step generation changed stepper state that queued rounds use");
        GenStepsFailure? failure = SyncGenSteps();
        if (failure is not null)
            _deferredFailure = failure;
    }

    private void RefreshEmitters()
    {
        int count = 0;
        for (int i = 0; i < _syncs.Count; i++)
            count += _syncs[i].EmitterList.Count;
        if (count == _allEmitters.Count && _syncFirst.Length == _syncs.Count)
            return;
        _allEmitters.Clear();
        _syncFirst = new int[_syncs.Count];
        for (int i = 0; i < _syncs.Count; i++)
        {
            _syncFirst[i] = _allEmitters.Count;
            _allEmitters.AddRange(_syncs[i].EmitterList);
        }
    }

    private GenStepsFailure? RunRound(double flushTime, double genStepsTime, double clearHistoryTime,
        double trapqFreeTime, bool queue)
    {
        // Bring trapq sentinels up to date before step generation reads them
        List<SteppersSync> syncs = _syncs;
        for (int i = 0; i < syncs.Count; i++)
        {
            List<SyncEmitter> ses = syncs[i].EmitterList;
            for (int j = 0; j < ses.Count; j++)
            {
                SyncEmitter se = ses[j];
                if (se.GeneratesSteps)
                    se.StepperKinematics!.TrapQ?.CheckSentinels();
            }
        }
        StepGenWorkers? workers = Workers();
        if (workers is null)
            return RunSequential(flushTime, genStepsTime, clearHistoryTime, trapqFreeTime, queue);
        // Upstream generates on one thread per emitter; emitters are independent, so
        // the results are the same whichever thread runs them.
        RefreshEmitters();
        StepGenWorkers.Round r = workers.NewRound(_allEmitters);
        r.FlushTime = flushTime;
        r.GenStepsTime = genStepsTime;
        r.ClearHistoryTime = clearHistoryTime;
        r.TrapqFreeTime = trapqFreeTime;
        r.LastFlushTime = _lastFlushTime;
        r.LastGenStepsTime = _lastGenStepsTime;
        _lastFlushTime = flushTime;
        _lastGenStepsTime = genStepsTime;
        for (int i = 0; i < syncs.Count; i++)
        {
            SteppersSync ss = syncs[i];
            ulong flushClock = ss.ClockFromTime(flushTime);
            ulong clearClock = ss.ClockFromTime(clearHistoryTime);
            for (int j = 0, k = _syncFirst[i]; j < ss.EmitterList.Count; j++, k++)
            {
                r.FlushClock[k] = flushClock;
                r.ClearClock[k] = clearClock;
            }
        }
        if (!queue)
        {
            workers.Post(r, aheadRounds: 0);
            workers.WaitAll();
            try
            {
                workers.TakeRounds(_doneRounds);
                return FlushRound(r, isQueued: false);
            }
            finally
            {
                workers.Recycle(r);
                _doneRounds.Clear();
            }
        }
        // The queued round reads the trapqs up to here: changes before that point wait
        // for it (TrapQ syncs)
        for (int k = 0; k < _allEmitters.Count; k++)
        {
            SyncEmitter se = _allEmitters[k];
            if (!se.GeneratesSteps)
                continue;
            StepperKinematics sk = se.StepperKinematics!;
            TrapQ? tq = sk.TrapQ;
            if (tq is not null && tq.NoteQueuedReader(this, genStepsTime + sk.GenStepsPreActive))
                _guardedTrapqs.Add(tq);
        }
        workers.Post(r, AheadRounds);
        return null;
    }

    // Flush one generated round's messages, MCU by MCU; after a failure no further MCU
    // is flushed, as upstream.
    private GenStepsFailure? FlushRound(StepGenWorkers.Round r, bool isQueued)
    {
        for (int k = 0; k < _allEmitters.Count; k++)
        {
            SyncEmitter se = _allEmitters[k];
            se.LastGenResult = r.Result[k];
            if (r.Errors[k] is { } errors)
                foreach (string e in errors)
                    MotionLog.Error(e);
            if (r.Result[k] != 0)
                MotionLog.Error($"Error in syncemitter '{se.Name}' step generation");
        }
        SyncEmitter? failed = FlushMcus(r.FlushTime, r.MessageLimit);
        if (failed is not null)
            return new GenStepsFailure(failed, r.FlushTime, r.GenStepsTime, r.ClearHistoryTime, r.LastFlushTime, r.LastGenStepsTime);
        if (isQueued)
        {
            // Finalized at the end of the sync (or of a later one, if flushed early)
            _unfinalizedFreeTime = r.TrapqFreeTime;
            _unfinalizedClearTime = r.ClearHistoryTime;
            _unfinalizedRounds++;
        }
        return null;
    }

    // Flush each MCU's messages up to flushTime, in order, each emitter's only up to its
    // messageLimits entry if given; after a failure (LastGenResult) no further MCU is
    // flushed, as upstream. Returns the last failed emitter.
    private SyncEmitter? FlushMcus(double flushTime, long[]? messageLimits)
    {
        SyncEmitter? failed = null;
        for (int i = 0; i < _syncs.Count; i++)
        {
            SteppersSync ss = _syncs[i];
            List<SyncEmitter> ses = ss.EmitterList;
            for (int j = 0; j < ses.Count; j++)
            {
                if (ses[j].LastGenResult != 0)
                    failed = ses[j];
            }
            if (failed is not null)
                continue;
            // The clock conversion cannot change while rounds are queued (SetTime syncs)
            ss.Flush(ss.ClockFromTime(flushTime), messageLimits, messageLimits is null ? 0 : _syncFirst[i]);
        }
        return failed;
    }

    // One thread: each emitter in turn, then each MCU's flush.
    private GenStepsFailure? RunSequential(double flushTime, double genStepsTime, double clearHistoryTime,
        double trapqFreeTime, bool queue)
    {
        List<SteppersSync> syncs = _syncs;
        double lastFlushTime = _lastFlushTime, lastGenStepsTime = _lastGenStepsTime;
        _lastFlushTime = flushTime;
        _lastGenStepsTime = genStepsTime;
        for (int i = 0; i < syncs.Count; i++)
        {
            SteppersSync ss = syncs[i];
            ulong flushClock = ss.ClockFromTime(flushTime);
            ulong clearClock = ss.ClockFromTime(clearHistoryTime);
            List<SyncEmitter> ses = ss.EmitterList;
            for (int j = 0; j < ses.Count; j++)
            {
                SyncEmitter se = ses[j];
                int ret = se.GenerateSteps(genStepsTime, flushClock, clearClock);
                se.LastGenResult = ret;
                if (ret != 0)
                    MotionLog.Error($"Error in syncemitter '{se.Name}' step generation");
            }
        }
        SyncEmitter? failed = FlushMcus(flushTime, null);
        if (failed is not null)
            return new GenStepsFailure(failed, flushTime, genStepsTime, clearHistoryTime, lastFlushTime, lastGenStepsTime);
        if (queue)
            QueuedRoundFlushed?.Invoke(trapqFreeTime, clearHistoryTime);
        return null;
    }
}
