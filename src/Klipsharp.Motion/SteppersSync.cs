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

    internal SyncEmitter(string name, bool allocStepCompress)
    {
        Name = name;
        if (allocStepCompress)
            StepCompress = new StepCompress(_msgQueue);
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
    public void SetStepperKinematics(StepperKinematics? sk) => StepperKinematics = sk;

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
    // Min-heap of the clocks at which MCU move-queue slots become free.
    private ulong[] _moveClocks = Array.Empty<ulong>();
    private MoveQueueMessage[] _batch = new MoveQueueMessage[64];
    // Print time to clock conversion (a clock_estimate with conv_clock 0).
    private double _estFreq, _convTime;

    // Upstream's MAX_CLOCK.
    private const ulong MaxClock = 0x7fffffffffffffffUL;

    internal SteppersSync()
    {
    }

    /// <summary>The emitters of this MCU, in allocation order.</summary>
    public IReadOnlyList<SyncEmitter> Emitters => _emitters;

    internal List<SyncEmitter> EmitterList => _emitters;

    /// <summary>Add an emitter (steppersync_alloc_syncemitter).</summary>
    public SyncEmitter AllocSyncEmitter(string name, bool allocStepCompress = true)
    {
        var se = new SyncEmitter(name, allocStepCompress);
        _emitters.Add(se);
        return se;
    }

    /// <summary>Set where messages go and how many move-queue slots the MCU has (steppersync_setup_movequeue).</summary>
    public void SetupMoveQueue(IMoveQueueSink sink, int moveNum)
    {
        _sink = sink;
        _moveClocks = new ulong[moveNum];
    }

    /// <summary>Set the print-time-to-clock conversion for this MCU and its steppers (steppersync_set_time).</summary>
    public void SetTime(double timeOffset, double mcuFreq)
    {
        _estFreq = mcuFreq;
        _convTime = timeOffset;
        for (int i = 0; i < _emitters.Count; i++)
            _emitters[i].StepCompress?.SetTime(timeOffset, mcuFreq);
    }

    /// <summary>Nearest clock to <paramref name="time"/> (upstream's clock_from_time).</summary>
    public ulong ClockFromTime(double time) => (ulong)CConv.ToInt64((time - _convTime) * _estFreq + .5);

    // Replace the heap's minimum with reqClock and sift it down.
    private void HeapReplace(ulong reqClock)
    {
        ulong[] mc = _moveClocks;
        int nmc = mc.Length, pos = 0;
        for (;;)
        {
            int child1Pos = 2 * pos + 1, child2Pos = 2 * pos + 2;
            ulong child2Clock = child2Pos < nmc ? mc[child2Pos] : ulong.MaxValue;
            ulong child1Clock = child1Pos < nmc ? mc[child1Pos] : ulong.MaxValue;
            if (reqClock <= child1Clock && reqClock <= child2Clock)
            {
                mc[pos] = reqClock;
                break;
            }
            if (child1Clock < child2Clock)
            {
                mc[pos] = child1Clock;
                pos = child1Pos;
            }
            else
            {
                mc[pos] = child2Clock;
                pos = child2Pos;
            }
        }
    }

    /// <summary>Send, in req_clock order, every queued message due by <paramref name="moveClock"/> (steppersync_flush).</summary>
    public void Flush(ulong moveClock)
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
                if (q.Count != 0 && q.First.ReqClock < reqClock)
                {
                    best = emitters[i];
                    reqClock = q.First.ReqClock;
                }
            }
            if (best is null)
                break;
            ref MoveQueueMessage qm = ref best.MessageQueue.First;
            if (qm.MinClock != 0 && reqClock > moveClock)
                break;

            if (_moveClocks.Length == 0)
                throw new InvalidOperationException("steppersync: SetupMoveQueue was not called");
            ulong nextAvail = _moveClocks[0];
            if (qm.MinClock != 0)
                HeapReplace(qm.MinClock); // min_clock marks a move-queue slot busy until then
            qm.MinClock = nextAvail; // from here on: earliest transmit clock

            if (count == _batch.Length)
                Array.Resize(ref _batch, _batch.Length * 2);
            _batch[count++] = qm;
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

/// <summary>
/// All MCUs' <see cref="SteppersSync"/> objects (upstream's steppersyncmgr): one call
/// generates the steps of every stepper and flushes each MCU's messages.
/// </summary>
public sealed class SteppersSyncManager
{
    private readonly List<SteppersSync> _syncs = new();
    private int _helperThreads = -1;
    private StepGenWorkers? _workers;

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

    // This manager's helper threads (started with the first shared round), or null when
    // there is at most one emitter or no helper is wanted (then generation is sequential).
    private StepGenWorkers? Workers()
    {
        int emitters = 0;
        for (int i = 0; i < _syncs.Count; i++)
            emitters += _syncs[i].EmitterList.Count;
        int helpers = emitters < 2 ? 0 : Math.Min(HelperThreads, emitters - 1);
        if (helpers <= 0)
            return null;
        if (_workers is null || _workers.Helpers != helpers)
        {
            _workers?.Stop();
            _workers = new StepGenWorkers(helpers);
        }
        return _workers;
    }

    /// <summary>Step generation thread counters (for benchmarks).</summary>
    public static string ParallelStatistics => StepGenWorkers.Statistics;

    /// <summary>The per-MCU synchronizers, in allocation order.</summary>
    public IReadOnlyList<SteppersSync> SteppersSyncs => _syncs;

    /// <summary>Add a per-MCU synchronizer (steppersyncmgr_alloc_steppersync).</summary>
    public SteppersSync AllocSteppersSync()
    {
        var ss = new SteppersSync();
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
        // Bring trapq sentinels up to date before step generation reads them
        List<SteppersSync> syncs = _syncs;
        for (int i = 0; i < syncs.Count; i++)
        {
            List<SyncEmitter> ses = syncs[i].EmitterList;
            for (int j = 0; j < ses.Count; j++)
            {
                SyncEmitter se = ses[j];
                if (se.StepCompress is null || se.StepperKinematics is null)
                    continue;
                se.StepperKinematics.TrapQ?.CheckSentinels();
            }
        }
        // Upstream generates on one thread per emitter; emitters are independent, so
        // the results are the same whichever thread runs them.
        StepGenWorkers? workers = Workers();
        if (workers is not null)
        {
            workers.Clear();
            for (int i = 0; i < syncs.Count; i++)
            {
                SteppersSync ss = syncs[i];
                ulong flushClock = ss.ClockFromTime(flushTime);
                ulong clearClock = ss.ClockFromTime(clearHistoryTime);
                List<SyncEmitter> ses = ss.EmitterList;
                for (int j = 0; j < ses.Count; j++)
                {
                    SyncEmitter se = ses[j];
                    if (se.StepCompress is null || se.StepperKinematics is null)
                        se.LastGenResult = 0;
                    else
                        workers.Add(se, flushClock, clearClock);
                }
            }
            workers.Run(genStepsTime);
        }
        else
        {
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
        }
        // Flush each MCU in order; after a failure no further MCU is flushed, as upstream.
        SyncEmitter? failed = null;
        for (int i = 0; i < syncs.Count; i++)
        {
            SteppersSync ss = syncs[i];
            List<SyncEmitter> ses = ss.EmitterList;
            for (int j = 0; j < ses.Count; j++)
            {
                if (ses[j].LastGenResult != 0)
                    failed = ses[j];
            }
            if (failed is not null)
                continue;
            ss.Flush(ss.ClockFromTime(flushTime));
        }
        return failed;
    }
}
