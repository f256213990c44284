using Klipsharp.Host.Serial;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Mcu;

/// <summary>What homing and trsync need from a stepper (implemented by the host's MCU_stepper).</summary>
public interface IMcuStepper
{
    string Name { get; }
    Mcu Mcu { get; }
    int Oid { get; }
    void NoteHomingEnd();
}

/// <summary>An endstop usable for homing: an MCU endstop pin, or a virtual one such as a probe (upstream duck type).</summary>
public interface IMcuEndstop
{
    Mcu Mcu { get; }
    void AddStepper(IMcuStepper stepper);
    IReadOnlyList<IMcuStepper> GetSteppers();
    ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime, bool triggered = true);
    double HomeWait(double homeEndTime);
    int QueryEndstop(double printTime);
}

/// <summary>An endstop that knows its own trigger position (a probe used as a virtual endstop).</summary>
public interface IPositionEndstop
{
    double GetPositionEndstop();
}

/// <summary>A trigger synchronisation object on one MCU: stops its steppers when any endstop in the group triggers (upstream MCU_trsync).</summary>
public sealed class McuTrsync
{
    public const int ReasonEndstopHit = 1;
    public const int ReasonHostRequest = 2;
    public const int ReasonPastEndTime = 3;
    public const int ReasonCommsTimeout = 4;

    private readonly Mcu _mcu;
    private readonly List<IMcuStepper> _steppers = new();
    private McuCommand? _startCmd, _setTimeoutCmd, _triggerCmd, _stepperStopCmd;
    private McuQueryCommand? _queryCmd;
    private ReactorCompletion? _triggerCompletion;
    private long? _homeEndClock;
    private readonly TrDispatch? _trdispatch;
    private TrDispatchMcu? _trdispatchMcu;

    public McuTrsync(Mcu mcu, TrDispatch? trdispatch = null)
    {
        _mcu = mcu;
        _trdispatch = trdispatch;
        Oid = mcu.CreateOid();
        CommandQueue = mcu.AllocCommandQueue();
        mcu.RegisterConfigCallback(BuildConfig);
        mcu.Printer.RegisterEventHandler("klippy:shutdown", OnShutdown);
    }

    public Mcu Mcu => _mcu;

    public int Oid { get; }

    /// <summary>The command queue shared by this trsync and the endstops that use it.</summary>
    public CommandQueue CommandQueue { get; }

    public void AddStepper(IMcuStepper stepper)
    {
        if (!_steppers.Contains(stepper))
            _steppers.Add(stepper);
    }

    public IReadOnlyList<IMcuStepper> Steppers => _steppers;

    private void BuildConfig()
    {
        _mcu.AddConfigCmd($"config_trsync oid={Oid}");
        _mcu.AddConfigCmd($"trsync_start oid={Oid} report_clock=0 report_ticks=0 expire_reason=0", onRestart: true);
        var cq = CommandQueue;
        _startCmd = _mcu.LookupCommand("trsync_start oid=%c report_clock=%u report_ticks=%u expire_reason=%c", cq);
        _setTimeoutCmd = _mcu.LookupCommand("trsync_set_timeout oid=%c clock=%u", cq);
        _triggerCmd = _mcu.LookupCommand("trsync_trigger oid=%c reason=%c", cq);
        _queryCmd = _mcu.LookupQueryCommand("trsync_trigger oid=%c reason=%c", "trsync_state oid=%c can_trigger=%c trigger_reason=%c clock=%u", Oid, cq);
        _stepperStopCmd = _mcu.LookupCommand("stepper_stop_on_trigger oid=%c trsync_oid=%c", cq);
        // Live links extend the trsync timeout from the I/O thread (upstream trdispatch)
        var sq = _mcu.LiveSerial?.SerialQueue;
        if (_trdispatch is not null && sq is not null)
        {
            uint stateTag = (uint)_mcu.Serial.MsgParser.LookupCommand("trsync_state oid=%c can_trigger=%c trigger_reason=%c clock=%u").Id;
            _trdispatchMcu = _trdispatch.AllocMcu(sq, cq, Oid, _setTimeoutCmd.CommandTag, _triggerCmd.CommandTag, stateTag);
        }
    }

    private void OnShutdown()
    {
        var tc = _triggerCompletion;
        if (tc is not null)
        {
            _triggerCompletion = null;
            tc.Complete(false);
        }
    }

    private void HandleTrsyncState(McuResponse p)
    {
        if (p["can_trigger"] == 0)
        {
            var tc = _triggerCompletion;
            if (tc is not null)
            {
                _triggerCompletion = null;
                long reason = p["trigger_reason"];
                tc.Complete(reason >= ReasonCommsTimeout);
            }
        }
        else if (_homeEndClock is long end)
        {
            long clock = _mcu.Clock32ToClock64(p["clock"]);
            if (clock >= end)
            {
                _homeEndClock = null;
                _triggerCmd!.Send([Oid, ReasonPastEndTime]);
            }
        }
    }

    public void Start(double printTime, double reportOffset, ReactorCompletion triggerCompletion, double expireTimeout)
    {
        _triggerCompletion = triggerCompletion;
        _homeEndClock = null;
        long clock = _mcu.PrintTimeToClock(printTime);
        long expireTicks = _mcu.SecondsToClock(expireTimeout);
        long expireClock = clock + expireTicks;
        long reportTicks = _mcu.SecondsToClock(expireTimeout * .3);
        long reportClock = clock + (long)(reportTicks * reportOffset + .5);
        long minExtendTicks = (long)(reportTicks * .8 + .5);
        _trdispatchMcu?.Setup((ulong)clock, (ulong)expireClock, (ulong)expireTicks, (ulong)minExtendTicks);
        if (!_mcu.IsFileOutput)
            _mcu.Serial.RegisterResponse(HandleTrsyncState, "trsync_state", Oid);
        _startCmd!.Send([Oid, reportClock, reportTicks, ReasonCommsTimeout], reqClock: (ulong)clock);
        foreach (var s in _steppers)
            _stepperStopCmd!.Send([s.Oid, Oid]);
        _setTimeoutCmd!.Send([Oid, expireClock], reqClock: (ulong)clock);
    }

    public void SetHomeEndTime(double homeEndTime) => _homeEndClock = _mcu.PrintTimeToClock(homeEndTime);

    public int Stop()
    {
        if (!_mcu.IsFileOutput)
            _mcu.Serial.RegisterResponse(null, "trsync_state", Oid);
        _triggerCompletion = null;
        if (_mcu.IsFileOutput)
            return ReasonEndstopHit;
        var p = _queryCmd!.Send([Oid, ReasonHostRequest]);
        foreach (var s in _steppers)
            s.NoteHomingEnd();
        return (int)p["trigger_reason"];
    }
}

/// <summary>Groups the trsyncs of every MCU whose steppers an endstop stops (upstream TriggerDispatch).</summary>
public sealed class TriggerDispatch
{
    private const double TrsyncTimeout = 0.025;
    private const double TrsyncSingleMcuTimeout = 0.250;

    private readonly Mcu _mcu;
    private readonly List<McuTrsync> _trsyncs = new();
    private readonly TrDispatch _trdispatch = new();
    private ReactorCompletion? _triggerCompletion;

    public TriggerDispatch(Mcu mcu)
    {
        _mcu = mcu;
        _trsyncs.Add(new McuTrsync(mcu, _trdispatch));
    }

    public int Oid => _trsyncs[0].Oid;

    public CommandQueue CommandQueue => _trsyncs[0].CommandQueue;

    public void AddStepper(IMcuStepper stepper)
    {
        var trsync = _trsyncs.Find(t => t.Mcu == stepper.Mcu);
        if (trsync is null)
        {
            trsync = new McuTrsync(stepper.Mcu, _trdispatch);
            _trsyncs.Add(trsync);
        }
        trsync.AddStepper(stepper);
        string sname = stepper.Name;
        if (sname.StartsWith("stepper_", StringComparison.Ordinal))
        {
            string prefix = sname.Length > 9 ? sname[..9] : sname;
            foreach (var ot in _trsyncs)
                foreach (var s in ot.Steppers)
                    if (ot != trsync && s.Name.StartsWith(prefix, StringComparison.Ordinal))
                        throw new Configuration.ConfigError("Multi-mcu homing not supported on multi-mcu shared axis");
        }
    }

    public IReadOnlyList<IMcuStepper> GetSteppers() => _trsyncs.SelectMany(t => t.Steppers).ToList();

    public ReactorCompletion Start(double printTime)
    {
        _triggerCompletion = _mcu.Printer.Reactor.Completion();
        double expireTimeout = _trsyncs.Count == 1 ? TrsyncSingleMcuTimeout : TrsyncTimeout;
        for (int i = 0; i < _trsyncs.Count; i++)
            _trsyncs[i].Start(printTime, (double)i / _trsyncs.Count, _triggerCompletion, expireTimeout);
        _trdispatch.Start(McuTrsync.ReasonHostRequest);
        return _triggerCompletion;
    }

    public void WaitEnd(double endTime)
    {
        _trsyncs[0].SetHomeEndTime(endTime);
        if (_mcu.IsFileOutput)
            _triggerCompletion!.Complete(true);
        _triggerCompletion!.Wait();
    }

    public int Stop()
    {
        _trdispatch.Stop();
        var res = _trsyncs.Select(t => t.Stop()).ToList();
        foreach (var r in res)
            if (r >= McuTrsync.ReasonCommsTimeout)
                return r;
        return res[0];
    }
}

/// <summary>
/// Keeps the trsyncs of one homing operation alive and propagates a trigger between MCUs
/// on the serial I/O threads, without waiting for the reactor (upstream chelper
/// trdispatch.c): each trsync_state report extends the other MCUs' expire clocks, and a
/// report that can no longer trigger makes every MCU trigger.
/// </summary>
public sealed class TrDispatch
{
    private readonly object _lock = new();
    private readonly List<TrDispatchMcu> _mcus = new();
    private bool _isActive, _canTrigger;
    private uint _dispatchReason;

    internal object Lock => _lock;

    internal IReadOnlyList<TrDispatchMcu> Mcus => _mcus;

    internal bool CanTrigger
    {
        get => _canTrigger;
        set => _canTrigger = value;
    }

    internal uint DispatchReason => _dispatchReason;

    /// <summary>Adds one MCU's trsync (upstream trdispatch_mcu_alloc).</summary>
    public TrDispatchMcu AllocMcu(SerialQueue sq, CommandQueue cq, int trsyncOid, uint setTimeoutTag, uint triggerTag, uint stateTag)
    {
        var tdm = new TrDispatchMcu(this, sq, cq, (uint)trsyncOid, setTimeoutTag, triggerTag, stateTag);
        lock (_lock)
            _mcus.Add(tdm);
        return tdm;
    }

    /// <summary>Starts watching trsync_state reports (upstream trdispatch_start).</summary>
    public void Start(uint dispatchReason)
    {
        lock (_lock)
        {
            if (_isActive || _mcus.Count == 0)
                return;
            _dispatchReason = dispatchReason;
            _isActive = _canTrigger = true;
        }
        foreach (var tdm in _mcus)
            tdm.Queue.AddFastReader(tdm.Reader);
    }

    /// <summary>Stops watching (upstream trdispatch_stop).</summary>
    public void Stop()
    {
        lock (_lock)
        {
            if (!_isActive)
                return;
            _isActive = false;
        }
        foreach (var tdm in _mcus)
            tdm.Queue.RemoveFastReader(tdm.Reader);
    }
}

/// <summary>One MCU's part of a <see cref="TrDispatch"/> (upstream struct trdispatch_mcu).</summary>
public sealed class TrDispatchMcu
{
    private readonly TrDispatch _td;
    private readonly CommandQueue _cq;
    private readonly uint _trsyncOid, _setTimeoutTag, _triggerTag;
    private readonly byte[] _encodeBuf = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];
    // Protected by the dispatch lock
    private ulong _lastStatusClock, _expireClock, _expireTicks, _minExtendTicks;
    private ClockEstimate _ce;

    internal TrDispatchMcu(TrDispatch td, SerialQueue sq, CommandQueue cq, uint trsyncOid, uint setTimeoutTag, uint triggerTag, uint stateTag)
    {
        _td = td;
        Queue = sq;
        _cq = cq;
        _trsyncOid = trsyncOid;
        _setTimeoutTag = setTimeoutTag;
        _triggerTag = triggerTag;
        var prefix = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];
        int len = MessageFormat.EncodeWords(prefix, [stateTag, trsyncOid]);
        Reader = new FastReader(prefix[..len], HandleTrsyncState);
    }

    internal SerialQueue Queue { get; }

    internal FastReader Reader { get; }

    /// <summary>Sets up for one trigger test (upstream trdispatch_mcu_setup).</summary>
    public void Setup(ulong lastStatusClock, ulong expireClock, ulong expireTicks, ulong minExtendTicks)
    {
        lock (_td.Lock)
        {
            _lastStatusClock = lastStatusClock;
            _expireClock = expireClock;
            _expireTicks = expireTicks;
            _minExtendTicks = minExtendTicks;
            _ce = Queue.GetClockEst();
        }
    }

    private void Send(ReadOnlySpan<uint> words, ulong reqClock)
    {
        int len = MessageFormat.EncodeWords(_encodeBuf, words);
        Queue.Send(_cq, _encodeBuf.AsSpan(0, len), 0, reqClock);
    }

    private void SendTrsyncTrigger() => Send([_triggerTag, _trsyncOid, _td.DispatchReason], 0);

    private void SendTrsyncSetTimeout() => Send([_setTimeoutTag, _trsyncOid, unchecked((uint)_expireClock)], _expireClock);

    // I/O thread: trsync_state oid=%c can_trigger=%c trigger_reason=%c clock=%u
    private void HandleTrsyncState(double eventtime, ReadOnlySpan<byte> block)
    {
        Span<long> fields = stackalloc long[5];
        var body = block[MessageBlock.MESSAGE_HEADER_SIZE..^MessageBlock.MESSAGE_TRAILER_SIZE];
        int pos = 0;
        for (int i = 0; i < fields.Length; i++)
            if (!Vlq.TryDecode(body, ref pos, false, out fields[i]))
                return;
        if (pos != body.Length || (uint)fields[1] != _trsyncOid)
            return;
        bool canTrigger = fields[2] != 0;
        uint clock = (uint)fields[4];
        lock (_td.Lock)
        {
            if (!_td.CanTrigger)
                return;
            if (!canTrigger)
            {
                // This MCU triggered or timed out: make every MCU trigger
                _td.CanTrigger = false;
                foreach (var m in _td.Mcus)
                    m.SendTrsyncTrigger();
                return;
            }
            // The MCU is still working: note how far it got
            _ce = Queue.GetClockEst();
            ulong estMsgClock = _ce.ClockFromTime(eventtime);
            _lastStatusClock = unchecked(estMsgClock + (ulong)(long)(int)(clock - (uint)estMsgClock));
            // The oldest (and second oldest) status among all MCUs
            double minTime = Reactor.Never, nextMinTime = Reactor.Never;
            TrDispatchMcu? minTdm = null;
            foreach (var m in _td.Mcus)
            {
                double statusTime = m._ce.ClockToTime(m._lastStatusClock);
                if (statusTime < nextMinTime)
                {
                    nextMinTime = statusTime;
                    if (statusTime < minTime)
                    {
                        nextMinTime = minTime;
                        minTime = statusTime;
                        minTdm = m;
                    }
                }
            }
            if (nextMinTime == Reactor.Never)
                nextMinTime = minTime;
            // Extend the other MCUs' timeouts where needed
            foreach (var m in _td.Mcus)
            {
                double statusTime = m == minTdm ? nextMinTime : minTime;
                ulong expire = m._ce.ClockFromTime(statusTime) + m._expireTicks;
                if (unchecked((long)(expire - m._expireClock)) >= (long)m._minExtendTicks)
                {
                    m._expireClock = expire;
                    m.SendTrsyncSetTimeout();
                }
            }
        }
    }
}
