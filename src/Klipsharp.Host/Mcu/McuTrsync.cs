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

    public McuTrsync(Mcu mcu)
    {
        _mcu = mcu;
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
    private ReactorCompletion? _triggerCompletion;

    public TriggerDispatch(Mcu mcu)
    {
        _mcu = mcu;
        _trsyncs.Add(new McuTrsync(mcu));
    }

    public int Oid => _trsyncs[0].Oid;

    public CommandQueue CommandQueue => _trsyncs[0].CommandQueue;

    public void AddStepper(IMcuStepper stepper)
    {
        var trsync = _trsyncs.Find(t => t.Mcu == stepper.Mcu);
        if (trsync is null)
        {
            trsync = new McuTrsync(stepper.Mcu);
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
        var res = _trsyncs.Select(t => t.Stop()).ToList();
        foreach (var r in res)
            if (r >= McuTrsync.ReasonCommsTimeout)
                return r;
        return res[0];
    }
}
