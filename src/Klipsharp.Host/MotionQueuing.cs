using Klipsharp.Host.Configuration;
using Klipsharp.Motion;

namespace Klipsharp.Host;

/// <summary>
/// Low-level motion queuing and flushing (upstream extras/motion_queuing.py): owns the
/// trapqs and the per-MCU step synchronisers, and decides when step generation runs and
/// step messages are flushed to the MCUs. Batch mode uses the deterministic "debug"
/// flush handler, as upstream does for file output.
/// </summary>
public sealed class MotionQueuing
{
    private const double BgflushLowTime = 0.200;
    private const double BgflushHighTime = 0.400;
    private const double BgflushSgLowTime = 0.450;
    private const double BgflushSgHighTime = 0.700;
    private const double BgflushExtraTime = 0.250;
    private const double MoveHistoryExpire = 30.0;
    private const double MinKinTime = 0.100;
    private const double StepcompressFlushTime = 0.050;
    /// <summary>The step+dir+step filter window in step compression.</summary>
    public const double SdsCheckTime = 0.001;
    private const double DripSegmentTime = 0.050;
    private const double DripTime = 0.100;

    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly List<TrapQ> _trapqs = new();
    private readonly SteppersSyncManager _steppersSyncMgr = new();
    private readonly List<SyncEmitter> _syncEmitters = new();
    private readonly Dictionary<SyncEmitter, string> _syncEmitterToName = new();
    private readonly List<(Mcu.Mcu Mcu, SteppersSync Sync)> _steppersSyncs = new();
    private List<Action<double, double>> _flushCallbacks = new();
    private readonly List<double> _dripStartTimes = new();
    private readonly List<Mcu.Mcu> _allMcus;
    private readonly Mcu.Mcu _mcu;
    private readonly ReactorTimer _flushTimer;
    private double _clearHistoryTime;
    private double _kinFlushDelay = SdsCheckTime;
    private bool _canPause = true;
    private bool _doKickFlushTimer = true;

    public MotionQueuing(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _allMcus = _printer.LookupObjects("mcu").Select(o => (Mcu.Mcu)o.Obj).ToList();
        _mcu = _allMcus[0];
        if (_mcu.IsFileOutput)
            _canPause = false;
        _steppersSyncMgr.ClosedFormSteps = _printer.StartArgs.ClosedFormSteps;
        _flushTimer = _reactor.RegisterTimer(_canPause ? FlushHandler : FlushHandlerDebug);
        _printer.RegisterEventHandler("klippy:shutdown", () => { _canPause = false; });
        // Batch mode: step generation runs on helper threads behind the G-code, up to
        // the next point where anything else could see stepper state (see
        // SyncStepGeneration); the output is the same as when it waits each round.
        _queueStepGeneration = !_canPause && Environment.GetEnvironmentVariable("KLIPSHARP_QUEUED_STEPGEN") != "0";
        if (_queueStepGeneration)
        {
            _steppersSyncMgr.QueuedRoundFlushed = FinalizeTrapqs;
            _steppersSyncMgr.FlushFinishedRoundsEarly = true;
            _flushTimer.SkipsBarrier = true;
            _reactor.CallbackBarrier = SyncStepGenerationNoThrow;
            _printer.ShutdownBarrier = SyncStepGenerationNoThrow;
            if (_printer.TryLookupObject<GCode.GCodeDispatch>("gcode") is { } gcode)
                gcode.CommandBarrier = SyncStepGeneration;
        }
    }

    private readonly bool _queueStepGeneration;

    public double LastFlushTime { get; private set; }

    public double LastStepGenTime { get; private set; }

    public double NeedFlushTime { get; private set; }

    public double NeedStepGenTime { get; private set; }

    // ---- trapq tracking

    public TrapQ AllocateTrapq()
    {
        var tq = new TrapQ();
        _trapqs.Add(tq);
        return tq;
    }

    /// <summary>Moves everything left in <paramref name="trapq"/> to its history.</summary>
    public void WipeTrapq(TrapQ trapq) => trapq.FinalizeMoves(Reactor.Never, 0.0);

    // ---- steppersync tracking

    private SteppersSync LookupSteppersSync(Mcu.Mcu mcu)
    {
        foreach (var (m, ss) in _steppersSyncs)
            if (m == mcu)
                return ss;
        var sync = _steppersSyncMgr.AllocSteppersSync();
        _steppersSyncs.Add((mcu, sync));
        return sync;
    }

    public SyncEmitter AllocateSyncEmitter(Mcu.Mcu mcu, string name, bool allocStepCompress = true)
    {
        string sname = name.Split(' ')[^1];
        var ss = LookupSteppersSync(mcu);
        var se = ss.AllocSyncEmitter(sname.Length > 15 ? sname[..15] : sname, allocStepCompress);
        _syncEmitterToName[se] = name;
        _syncEmitters.Add(se);
        return se;
    }

    /// <summary>Connects an MCU's move queue (called by the MCU once its config is sent).</summary>
    public void SetupMcuMoveQueue(Mcu.Mcu mcu, int moveCount)
    {
        var ss = LookupSteppersSync(mcu);
        ss.SetupMoveQueue(mcu.Serial.MoveQueue, moveCount);
        if (_queueStepGeneration && mcu.Serial is Mcu.FileMcuSerial fileSerial)
            fileSerial.BeforeRawSend = SyncStepGenerationNoThrow;
        double mcuFreq = mcu.SecondsToClock(1.0);
        ss.SetTime(0.0, mcuFreq);
    }

    /// <summary>Periodic clock calibration and history expiry (upstream stats()).</summary>
    public (bool, string) Stats(double eventtime)
    {
        double syncTime = LastStepGenTime;
        foreach (var (mcu, ss) in _steppersSyncs)
        {
            var (offset, freq) = mcu.CalibrateClock(syncTime, eventtime);
            ss.SetTime(offset, freq);
        }
        double estPrintTime = _mcu.EstimatedPrintTime(eventtime);
        _clearHistoryTime = Math.Max(0.0, estPrintTime - MoveHistoryExpire);
        return (false, "");
    }

    // ---- flush notification callbacks

    public void RegisterFlushCallback(Action<double, double> callback, bool canAddTrapq = false)
    {
        var list = new List<Action<double, double>>(_flushCallbacks.Count + 1);
        if (canAddTrapq)
        {
            list.Add(callback);
            list.AddRange(_flushCallbacks);
        }
        else
        {
            list.AddRange(_flushCallbacks);
            list.Add(callback);
        }
        _flushCallbacks = list;
    }

    public void UnregisterFlushCallback(Action<double, double> callback)
    {
        if (!_flushCallbacks.Contains(callback))
            return;
        var list = new List<Action<double, double>>(_flushCallbacks);
        list.Remove(callback);
        _flushCallbacks = list;
    }

    /// <summary>Secant evaluations and steps found by the solvers of the current stepper kinematics, read after the run (for benchmarks).</summary>
    public (long Iterations, long Steps) SolverStatistics()
    {
        long iterations = 0, steps = 0;
        foreach (var se in _syncEmitters)
        {
            if (se.GetStepperKinematics() is { } sk)
            {
                iterations += sk.SolverIterations;
                steps += sk.SolverSteps;
            }
        }
        return (iterations, steps);
    }

    // ---- kinematic scan window tracking

    public double GetKinFlushDelay() => _kinFlushDelay;

    public void CheckStepGenerationScanWindows()
    {
        double kinFlushDelay = SdsCheckTime;
        foreach (var se in _syncEmitters)
        {
            var sk = se.GetStepperKinematics();
            if (sk?.GetTrapQ() is null)
                continue;
            kinFlushDelay = Math.Max(kinFlushDelay, Math.Max(sk.GenStepsPreActive, sk.GenStepsPostActive));
        }
        _kinFlushDelay = kinFlushDelay;
    }

    // ---- flush tracking

    private void AdvanceFlushTime(double wantFlushTime, double wantStepGenTime = 0.0)
    {
        double flushTime = Math.Max(Math.Max(wantFlushTime, LastFlushTime), wantStepGenTime - StepcompressFlushTime);
        double stepGenTime = Math.Max(Math.Max(wantStepGenTime, LastStepGenTime), flushTime);
        foreach (var cb in _flushCallbacks)
            cb(flushTime, stepGenTime);
        double trapqFreeTime = stepGenTime - _kinFlushDelay;
        double clearHistoryTime = _clearHistoryTime;
        if (!_canPause)
            clearHistoryTime = Math.Max(0.0, trapqFreeTime - MoveHistoryExpire);
        if (_queueStepGeneration)
        {
            // The trapqs are finalized when the round is flushed (FinalizeTrapqs)
            var failure = _steppersSyncMgr.QueueGenSteps(flushTime, stepGenTime, clearHistoryTime, trapqFreeTime);
            if (failure is not null)
                ReportStepGenerationFailure(failure);
            LastFlushTime = flushTime;
            LastStepGenTime = stepGenTime;
            return;
        }
        var failed = _steppersSyncMgr.GenSteps(flushTime, stepGenTime, clearHistoryTime);
        if (failed is not null)
            ReportStepGenerationFailure(new GenStepsFailure(failed, flushTime, stepGenTime, clearHistoryTime, LastFlushTime, LastStepGenTime));
        LastFlushTime = flushTime;
        LastStepGenTime = stepGenTime;
        FinalizeTrapqs(trapqFreeTime, clearHistoryTime);
    }

    private void FinalizeTrapqs(double trapqFreeTime, double clearHistoryTime)
    {
        foreach (var trapq in _trapqs)
            trapq.FinalizeMoves(trapqFreeTime, clearHistoryTime);
    }

    private void ReportStepGenerationFailure(GenStepsFailure f)
    {
        const string msg = "Internal error in stepcompress";
        string queueName = _syncEmitterToName.GetValueOrDefault(f.Emitter, "?");
        _printer.Log?.Invoke($"{msg}: queue {queueName} flush_time={f.FlushTime} step_gen_time={f.GenStepsTime} last_flush_time={f.LastFlushTime} last_step_gen_time={f.LastGenStepsTime} clear_history_time={f.ClearHistoryTime}");
        _printer.InvokeShutdown(msg);
        throw new McuError(msg);
    }

    /// <summary>
    /// Finish the step generation still running behind the G-code (batch mode) and
    /// flush its messages. The G-code dispatcher calls it before every command but the
    /// plain moves, the reactor before every callback but the flush timer, the MCU
    /// output before every command outside the move queue, and shutdown and exit; the
    /// motion objects sync by themselves before a change the queued rounds could see.
    /// </summary>
    public void SyncStepGeneration()
    {
        if (!_queueStepGeneration)
            return;
        var failure = _steppersSyncMgr.SyncGenSteps();
        if (failure is not null)
            ReportStepGenerationFailure(failure);
    }

    // For the reactor, shutdown and MCU-send barriers: a failure is logged and shuts the
    // printer down, as in the flush timer, without unwinding the caller.
    private void SyncStepGenerationNoThrow()
    {
        try
        {
            SyncStepGeneration();
        }
        catch (McuError)
        {
        }
    }

    private void AwaitFlushTime(double wantFlushTime)
    {
        while (true)
        {
            if (LastFlushTime >= wantFlushTime || !_canPause)
                return;
            double systime = _reactor.Monotonic();
            double estPrintTime = _mcu.EstimatedPrintTime(systime);
            double wait = wantFlushTime - BgflushHighTime - estPrintTime;
            if (wait <= 0.0)
                return;
            _reactor.Pause(systime + Math.Min(1.0, wait));
        }
    }

    public void FlushAllSteps()
    {
        double flushTime = NeedStepGenTime;
        AwaitFlushTime(flushTime);
        AdvanceFlushTime(flushTime);
        SyncStepGeneration();
    }

    public double CalcStepGenRestart(double estPrintTime)
    {
        double kinTime = Math.Max(estPrintTime + MinKinTime, LastStepGenTime);
        return kinTime + _kinFlushDelay;
    }

    private double FlushHandler(double eventtime)
    {
        try
        {
            double estPrintTime = _mcu.EstimatedPrintTime(eventtime);
            double aggrSgTime = NeedStepGenTime - 2.0 * _kinFlushDelay;
            if (LastStepGenTime < aggrSgTime)
            {
                // Actively stepping: flush more aggressively
                double wantSgTime = estPrintTime + BgflushSgHighTime;
                const double batchTime = BgflushSgHighTime - BgflushSgLowTime;
                double nextBatchTime = LastStepGenTime + batchTime;
                if (nextBatchTime > estPrintTime)
                {
                    // Batch from the last flush for run-to-run reproducibility
                    if (nextBatchTime > wantSgTime + 0.005)
                        nextBatchTime = LastStepGenTime;
                    wantSgTime = nextBatchTime;
                }
                wantSgTime = Math.Min(wantSgTime, aggrSgTime);
                if (wantSgTime > LastStepGenTime)
                    AdvanceFlushTime(0.0, wantSgTime);
            }
            else
            {
                double wantFlushTime = estPrintTime + BgflushHighTime;
                double maxFlushTime = NeedFlushTime + BgflushExtraTime;
                wantFlushTime = Math.Min(wantFlushTime, maxFlushTime);
                if (wantFlushTime > LastFlushTime)
                    AdvanceFlushTime(wantFlushTime);
            }
            aggrSgTime = NeedStepGenTime - 2.0 * _kinFlushDelay;
            double waketime;
            if (LastStepGenTime < aggrSgTime)
            {
                waketime = LastStepGenTime - BgflushSgLowTime;
            }
            else
            {
                _doKickFlushTimer = true;
                double maxFlushTime = NeedFlushTime + BgflushExtraTime;
                if (LastFlushTime >= maxFlushTime)
                    return Reactor.Never;
                waketime = LastFlushTime - BgflushLowTime;
            }
            return eventtime + waketime - estPrintTime;
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"Exception in flush_handler: {e}");
            _printer.InvokeShutdown("Exception in flush_handler");
        }
        return Reactor.Never;
    }

    private double FlushHandlerDebug(double eventtime)
    {
        try
        {
            double fauxTime = NeedFlushTime - 1.5;
            const double batchTime = BgflushSgHighTime - BgflushSgLowTime;
            int flushCount = 0;
            while (LastStepGenTime < fauxTime)
            {
                double target = LastStepGenTime + batchTime;
                if (flushCount > 100 && fauxTime > target)
                    target += (long)((fauxTime - target) / batchTime) * batchTime;
                AdvanceFlushTime(0.0, target);
                flushCount++;
            }
            if (flushCount != 0)
                return Reactor.Now;
            AdvanceFlushTime(NeedFlushTime + BgflushExtraTime);
            _doKickFlushTimer = true;
            return Reactor.Never;
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"Exception in flush_handler_debug: {e}");
            _printer.InvokeShutdown("Exception in flush_handler_debug");
        }
        return Reactor.Never;
    }

    /// <summary>Notes that a move queue has work up to <paramref name="mqTime"/> so the flush timer runs.</summary>
    public void NoteMcuMovequeueActivity(double mqTime, bool isStepGen = true)
    {
        if (isStepGen)
        {
            mqTime += _kinFlushDelay;
            NeedStepGenTime = Math.Max(NeedStepGenTime, mqTime);
        }
        NeedFlushTime = Math.Max(NeedFlushTime, mqTime);
        if (_doKickFlushTimer)
        {
            _doKickFlushTimer = false;
            _reactor.UpdateTimer(_flushTimer, Reactor.Now);
        }
    }

    // ---- "drip" timing for homing and probing moves

    /// <summary>Something that signals the end of a drip move (a homing trigger); see upstream's drip_completion.</summary>
    public interface IDripCompletion
    {
        bool Test();
        void Wait(double waketime);
    }

    public void DripUpdateTime(double startTime, double endTime, IDripCompletion dripCompletion)
    {
        _dripStartTimes.Add(startTime);
        AwaitFlushTime(startTime);
        // Disable background flushing from the timer
        _reactor.UpdateTimer(_flushTimer, Reactor.Never);
        _doKickFlushTimer = false;
        AdvanceFlushTime(startTime - SdsCheckTime, startTime);
        double flushTime = startTime;
        while (flushTime < endTime)
        {
            if (dripCompletion.Test())
                break;
            double curtime = _reactor.Monotonic();
            double estPrintTime = _mcu.EstimatedPrintTime(curtime);
            double waitTime = flushTime - estPrintTime - DripTime;
            if (waitTime > 0.0 && _canPause)
            {
                dripCompletion.Wait(curtime + waitTime);
                continue;
            }
            flushTime = Math.Min(flushTime + DripSegmentTime, endTime);
            NoteMcuMovequeueActivity(flushTime);
            AdvanceFlushTime(flushTime - SdsCheckTime, flushTime);
        }
        _reactor.UpdateTimer(_flushTimer, Reactor.Now);
        AdvanceFlushTime(flushTime + _kinFlushDelay);
        _dripStartTimes.Remove(startTime);
    }

    public double? CheckDripTiming() => _dripStartTimes.Count == 0 ? null : _dripStartTimes.Min();
}
