using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;
using Klipsharp.Motion;

namespace Klipsharp.Host;

// Suffixes: _d distance (mm), _v velocity (mm/s), _v2 velocity squared, _t time (s), _r ratio.

/// <summary>The toolhead limits and extra axes a <see cref="Move"/> is planned with.</summary>
public interface IMovePlanner
{
    double MaxVelocity { get; }
    double MaxAccel { get; }
    double JunctionDeviationValue { get; }
    double McrPseudoAccel { get; }
    IReadOnlyList<IExtraAxis> ExtraAxes { get; }
}

/// <summary>One requested toolhead move and its look-ahead planning state (upstream toolhead.Move).</summary>
public sealed class Move
{
    public readonly IMovePlanner Planner;
    public readonly double[] StartPos;
    public double[] EndPos;
    public double Accel;
    public readonly double JunctionDeviation;
    // Allocated by the first callback: most moves have none.
    public List<Action<double>>? TimingCallbacks;
    public readonly bool IsKinematicMove;
    public readonly double[] AxesD;
    public double MoveD;
    public readonly double[] AxesR;
    public double MinMoveT;
    public double MaxStartV2, MaxCruiseV2, DeltaV2, NextJunctionV2;
    public double MaxMcrStartV2, McrDeltaV2;
    public double StartV, CruiseV, EndV;
    public double AccelT, CruiseT, DecelT;

    public Move(IMovePlanner toolhead, IReadOnlyList<double> startPos, IReadOnlyList<double> endPos, double speed)
    {
        Planner = toolhead;
        StartPos = startPos.ToArray();
        EndPos = endPos.ToArray();
        Accel = toolhead.MaxAccel;
        JunctionDeviation = toolhead.JunctionDeviationValue;
        double velocity = Math.Min(speed, toolhead.MaxVelocity);
        IsKinematicMove = true;
        int n = Math.Min(startPos.Count, endPos.Count);
        var axesD = AxesD = new double[n];
        for (int i = 0; i < n; i++)
            axesD[i] = endPos[i] - startPos[i];
        double moveD = MoveD = Math.Sqrt(0.0 + axesD[0] * axesD[0] + axesD[1] * axesD[1] + axesD[2] * axesD[2]);
        double invMoveD;
        if (moveD < .000000001)
        {
            // Extrude-only move
            var ep = new double[EndPos.Length];
            ep[0] = startPos[0];
            ep[1] = startPos[1];
            ep[2] = startPos[2];
            Array.Copy(EndPos, 3, ep, 3, EndPos.Length - 3);
            EndPos = ep;
            axesD[0] = axesD[1] = axesD[2] = 0.0;
            moveD = 0.0;
            bool first = true;
            for (int i = 3; i < n; i++)
            {
                double a = Math.Abs(axesD[i]);
                if (first || a > moveD)
                    moveD = a;
                first = false;
            }
            MoveD = moveD;
            invMoveD = 0.0;
            if (moveD != 0.0)
                invMoveD = 1.0 / moveD;
            Accel = 99999999.9;
            velocity = speed;
            IsKinematicMove = false;
        }
        else
        {
            invMoveD = 1.0 / moveD;
        }
        AxesR = new double[n];
        for (int i = 0; i < n; i++)
            AxesR[i] = axesD[i] * invMoveD;
        MinMoveT = moveD / velocity;
        // Junction speeds are tracked as velocity squared; delta_v2 is the most the
        // squared velocity can change over this move.
        MaxStartV2 = 0.0;
        MaxCruiseV2 = Math.Pow(velocity, 2);
        DeltaV2 = 2.0 * moveD * Accel;
        NextJunctionV2 = 999999999.9;
        // minimum_cruise_ratio tracking
        MaxMcrStartV2 = 0.0;
        McrDeltaV2 = 2.0 * moveD * toolhead.McrPseudoAccel;
    }

    public void LimitSpeed(double speed, double accel)
    {
        double speed2 = Math.Pow(speed, 2);
        if (speed2 < MaxCruiseV2)
        {
            MaxCruiseV2 = speed2;
            MinMoveT = MoveD / speed;
        }
        Accel = Math.Min(Accel, accel);
        DeltaV2 = 2.0 * MoveD * Accel;
        McrDeltaV2 = Math.Min(McrDeltaV2, DeltaV2);
    }

    public void LimitNextJunctionSpeed(double speed) =>
        NextJunctionV2 = Math.Min(NextJunctionV2, Math.Pow(speed, 2));

    /// <summary>The "Move out of range: x y z [e]" error (not thrown).</summary>
    public CommandError MoveError(string msg = "Move out of range")
    {
        var ep = EndPos;
        return new CommandError(PyPercent.Format("%s: %.3f %.3f %.3f [%.3f]", msg, ep[0], ep[1], ep[2], ep[3]));
    }

    public void CalcJunction(Move prevMove)
    {
        if (!IsKinematicMove || !prevMove.IsKinematicMove)
            return;
        // Extra axes may lower the junction speed
        var extraAxes = Planner.ExtraAxes;
        double maxStartV2 = MaxCruiseV2;
        maxStartV2 = PyMin(maxStartV2, prevMove.MaxCruiseV2);
        maxStartV2 = PyMin(maxStartV2, prevMove.NextJunctionV2);
        maxStartV2 = PyMin(maxStartV2, prevMove.MaxStartV2 + prevMove.DeltaV2);
        for (int i = 0; i < extraAxes.Count; i++)
            maxStartV2 = PyMin(maxStartV2, extraAxes[i].CalcJunction(prevMove, this, i + 3));
        // "Approximated centripetal velocity" junction limit
        var axesR = AxesR;
        var prevAxesR = prevMove.AxesR;
        double junctionCosTheta = -(axesR[0] * prevAxesR[0] + axesR[1] * prevAxesR[1] + axesR[2] * prevAxesR[2]);
        double sinThetaD2 = Math.Sqrt(Math.Max(0.5 * (1.0 - junctionCosTheta), 0.0));
        double cosThetaD2 = Math.Sqrt(Math.Max(0.5 * (1.0 + junctionCosTheta), 0.0));
        double oneMinusSinThetaD2 = 1.0 - sinThetaD2;
        if (oneMinusSinThetaD2 > 0.0 && cosThetaD2 > 0.0)
        {
            double rJd = sinThetaD2 / oneMinusSinThetaD2;
            double moveJdV2 = rJd * JunctionDeviation * Accel;
            double pmoveJdV2 = rJd * prevMove.JunctionDeviation * prevMove.Accel;
            // The approximated circle must touch each move no further than its middle
            double quarterTanThetaD2 = .25 * sinThetaD2 / cosThetaD2;
            double moveCentripetalV2 = DeltaV2 * quarterTanThetaD2;
            double pmoveCentripetalV2 = prevMove.DeltaV2 * quarterTanThetaD2;
            maxStartV2 = PyMin(maxStartV2, moveJdV2);
            maxStartV2 = PyMin(maxStartV2, pmoveJdV2);
            maxStartV2 = PyMin(maxStartV2, moveCentripetalV2);
            maxStartV2 = PyMin(maxStartV2, pmoveCentripetalV2);
        }
        MaxStartV2 = maxStartV2;
        MaxMcrStartV2 = PyMin(maxStartV2, prevMove.MaxMcrStartV2 + prevMove.McrDeltaV2);
    }

    // Python's min(a, b): keeps the first unless the second is strictly smaller.
    internal static double PyMin(double a, double b) => b < a ? b : a;

    public void SetJunction(double startV2, double cruiseV2, double endV2)
    {
        // Distance of the accel, cruise and decel parts
        double halfInvAccel = .5 / Accel;
        double accelD = (cruiseV2 - startV2) * halfInvAccel;
        double decelD = (cruiseV2 - endV2) * halfInvAccel;
        double cruiseD = MoveD - accelD - decelD;
        double startV = StartV = Math.Sqrt(startV2);
        double cruiseV = CruiseV = Math.Sqrt(cruiseV2);
        double endV = EndV = Math.Sqrt(endV2);
        // Time of each part: distance over average velocity
        AccelT = accelD / ((startV + cruiseV) * 0.5);
        CruiseT = cruiseD / cruiseV;
        DecelT = decelD / ((endV + cruiseV) * 0.5);
    }
}

/// <summary>Pending moves and the look-ahead that plans their junction speeds (upstream toolhead.LookAheadQueue).</summary>
public sealed class LookAheadQueue
{
    public const double LookaheadFlushTime = 0.150;

    private readonly List<Move> _queue = new();
    private double _junctionFlush = LookaheadFlushTime;

    public void Reset()
    {
        _queue.Clear();
        _junctionFlush = LookaheadFlushTime;
    }

    public void SetFlushTime(double flushTime) => _junctionFlush = flushTime;

    public bool IsEmpty() => _queue.Count == 0;

    public int Count => _queue.Count;

    public Move? GetLast() => _queue.Count > 0 ? _queue[^1] : null;

    /// <summary>Plans and removes the moves that can be finalized (all of them unless <paramref name="lazy"/>).</summary>
    private double[] _junctionStart = [], _junctionCruise = [], _junctionNext = [];
    private bool[] _junctionHasCruise = [];

    public List<Move> Flush(bool lazy = false)
    {
        _junctionFlush = LookaheadFlushTime;
        bool updateFlushCount = lazy;
        var queue = _queue;
        int flushCount = queue.Count;
        // Walk backwards finding the fastest junction speeds that still allow a full
        // stop after the last move.
        // Scratch arrays kept between flushes (a lazy flush runs every few moves)
        if (_junctionStart.Length < flushCount)
        {
            int size = Math.Max(flushCount, 2 * _junctionStart.Length);
            _junctionStart = new double[size];
            _junctionCruise = new double[size];
            _junctionHasCruise = new bool[size];
            _junctionNext = new double[size];
        }
        var junctionStart = _junctionStart;
        var junctionCruise = _junctionCruise;
        var junctionHasCruise = _junctionHasCruise;
        var junctionNext = _junctionNext;
        double nextStartV2 = 0.0, nextMcrStartV2 = 0.0, peakCruiseV2 = 0.0;
        int pendingCv2Assign = 0;
        for (int i = flushCount - 1; i >= 0; i--)
        {
            var move = queue[i];
            double reachableStartV2 = nextStartV2 + move.DeltaV2;
            double startV2 = Move.PyMin(move.MaxStartV2, reachableStartV2);
            double? cruiseV2 = null;
            pendingCv2Assign += 1;
            double reachMcrStartV2 = nextMcrStartV2 + move.McrDeltaV2;
            double mcrStartV2 = Move.PyMin(move.MaxMcrStartV2, reachMcrStartV2);
            if (mcrStartV2 < reachMcrStartV2)
            {
                // This move can accelerate
                if (mcrStartV2 + move.McrDeltaV2 > nextMcrStartV2 || pendingCv2Assign > 1)
                {
                    // Accel and decel in this move, or a full accel followed by a full decel
                    if (updateFlushCount && peakCruiseV2 != 0.0)
                    {
                        flushCount = i + pendingCv2Assign;
                        updateFlushCount = false;
                    }
                    peakCruiseV2 = (mcrStartV2 + reachMcrStartV2) * .5;
                }
                double c = (startV2 + reachableStartV2) * .5;
                c = Move.PyMin(c, move.MaxCruiseV2);
                c = Move.PyMin(c, peakCruiseV2);
                cruiseV2 = c;
                pendingCv2Assign = 0;
            }
            junctionStart[i] = startV2;
            junctionHasCruise[i] = cruiseV2.HasValue;
            junctionCruise[i] = cruiseV2.GetValueOrDefault();
            junctionNext[i] = nextStartV2;
            nextStartV2 = startV2;
            nextMcrStartV2 = mcrStartV2;
        }
        if (updateFlushCount || flushCount == 0)
            return new List<Move>();
        // Walk forwards propagating cruise_v2
        double prevCruiseV2 = 0.0;
        for (int i = 0; i < flushCount; i++)
        {
            var move = queue[i];
            double startV2 = junctionStart[i];
            double cruiseV2 = junctionHasCruise[i] ? junctionCruise[i] : Move.PyMin(prevCruiseV2, startV2);
            move.SetJunction(Move.PyMin(startV2, cruiseV2), cruiseV2, Move.PyMin(junctionNext[i], cruiseV2));
            prevCruiseV2 = cruiseV2;
        }
        var res = queue.GetRange(0, flushCount);
        queue.RemoveRange(0, flushCount);
        return res;
    }

    /// <summary>Queues a move; true when enough moves are queued to reach the flush time.</summary>
    public bool AddMove(Move move)
    {
        _queue.Add(move);
        if (_queue.Count == 1)
            return false;
        move.CalcJunction(_queue[^2]);
        _junctionFlush -= move.MinMoveT;
        return _junctionFlush <= 0.0;
    }
}

/// <summary>
/// The toolhead (upstream toolhead.ToolHead, printer object "toolhead"): accepts moves,
/// plans them with look-ahead, tracks print time, and queues them on the trapq.
/// </summary>
public sealed partial class ToolHead : IMovePlanner, IHomingToolhead, IMoveTransform, Extras.IStatusProvider, Extras.IStatsProvider
{
    public const double BufferTimeHigh = 1.0;
    public const double BufferTimeStart = 0.250;
    public const double PrimingCmdTime = 0.100;

    private readonly Reactor _reactor;
    private readonly Mcu.Mcu _mcu;
    private readonly LookAheadQueue _lookahead = new();
    private List<double> _commandedPos = new() { 0.0, 0.0, 0.0, 0.0 };
    private double _checkStallTime;
    private int _printStall;
    private bool _canPause = true;
    private double _needCheckPause = -1.0;
    private double _printTime;
    private string _specialQueuingState = "NeedPrime";
    private ReactorTimer? _primingTimer;
    private readonly MotionQueuing _motionQueuing;
    private readonly TrapQ _trapq;
    private readonly List<IExtraAxis> _extraAxes;
    private Dictionary<string, object?> _extraAxesStatus = new();
    private readonly IKinematics _kin;

    public ToolHead(ConfigWrapper config)
    {
        Printer = config.GetPrinter();
        _reactor = Printer.Reactor;
        _mcu = Printer.LookupObject<Mcu.Mcu>("mcu");
        _lookahead.SetFlushTime(BufferTimeHigh);
        MaxVelocity = config.GetFloat("max_velocity", above: 0.0);
        MaxAccel = config.GetFloat("max_accel", above: 0.0);
        MinCruiseRatio = config.GetFloat("minimum_cruise_ratio", 0.5, below: 1.0, minval: 0.0);
        SquareCornerVelocity = config.GetFloat("square_corner_velocity", 5.0, minval: 0.0);
        CalcJunctionDeviation();
        if (_mcu.IsFileOutput)
            _canPause = false;
        _motionQueuing = Printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _motionQueuing.RegisterFlushCallback(HandleStepFlush, canAddTrapq: true);
        _trapq = _motionQueuing.AllocateTrapq();
        var extruder = new DummyExtruder(Printer);
        _extraAxes = new List<IExtraAxis> { extruder };
        BuildExtraAxesStatus();
        string kinName = config.Get("kinematics");
        _kin = KinematicsFactory.Load(kinName, this, config);
        Printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
    }

    public Printer Printer { get; }

    public double MaxVelocity { get; private set; }

    public double MaxAccel { get; private set; }

    public double MinCruiseRatio { get; private set; }

    public double SquareCornerVelocity { get; private set; }

    /// <summary>The junction deviation derived from square_corner_velocity and max_accel.</summary>
    public double JunctionDeviationValue { get; private set; }

    /// <summary>The pseudo acceleration implementing minimum_cruise_ratio.</summary>
    public double McrPseudoAccel { get; private set; }

    /// <summary>The current print time (end of the last queued move).</summary>
    public double PrintTime => _printTime;

    /// <summary>"NeedPrime", "Priming" or "" (main state).</summary>
    public string SpecialQueuingState => _specialQueuingState;

    public IReadOnlyList<IExtraAxis> ExtraAxes => _extraAxes;

    internal LookAheadQueue Lookahead => _lookahead;

    // ---- print time tracking

    private void AdvanceMoveTime(double nextPrintTime) => _printTime = Math.Max(_printTime, nextPrintTime);

    private void CalcPrintTime()
    {
        double curtime = _reactor.Monotonic();
        double estPrintTime = _mcu.EstimatedPrintTime(curtime);
        double kinTime = _motionQueuing.CalcStepGenRestart(estPrintTime);
        double minPrintTime = Math.Max(estPrintTime + BufferTimeStart, kinTime);
        if (minPrintTime > _printTime)
        {
            _printTime = minPrintTime;
            Printer.SendEvent("toolhead:sync_print_time", (curtime, estPrintTime, _printTime));
        }
    }

    private void ProcessLookahead(bool lazy = false)
    {
        var moves = _lookahead.Flush(lazy);
        if (moves.Count == 0)
            return;
        if (_specialQueuingState.Length > 0)
        {
            // Leave "NeedPrime"/"Priming" for the main state
            _specialQueuingState = "";
            _needCheckPause = -1.0;
            CalcPrintTime();
        }
        // Queue the moves on the trapq
        double nextMoveTime = _printTime;
        foreach (var move in moves)
        {
            if (move.IsKinematicMove)
                _trapq.Append(nextMoveTime, move.AccelT, move.CruiseT, move.DecelT,
                    move.StartPos[0], move.StartPos[1], move.StartPos[2],
                    move.AxesR[0], move.AxesR[1], move.AxesR[2],
                    move.StartV, move.CruiseV, move.Accel);
            for (int i = 0; i < _extraAxes.Count; i++)
                if (move.AxesD[i + 3] != 0.0)
                    _extraAxes[i].ProcessMove(nextMoveTime, move, i + 3);
            nextMoveTime = nextMoveTime + move.AccelT + move.CruiseT + move.DecelT;
            if (move.TimingCallbacks is { } callbacks)
                foreach (var cb in callbacks)
                    cb(nextMoveTime);
        }
        AdvanceMoveTime(nextMoveTime);
        _motionQueuing.NoteMcuMovequeueActivity(nextMoveTime);
    }

    private void FlushLookahead(bool isRunout = false)
    {
        // Any state goes back to "NeedPrime"
        double prevPrintTime = _printTime;
        ProcessLookahead();
        _specialQueuingState = "NeedPrime";
        _needCheckPause = -1.0;
        _lookahead.SetFlushTime(BufferTimeHigh);
        _checkStallTime = 0.0;
        if (isRunout && prevPrintTime != _printTime)
            _checkStallTime = _printTime;
    }

    private void HandleStepFlush(double flushTime, double stepGenTime)
    {
        if (_specialQueuingState.Length > 0)
            return;
        // Main state: flush the look-ahead when the buffer runs low
        double kinFlushDelay = _motionQueuing.GetKinFlushDelay();
        if (stepGenTime >= _printTime - kinFlushDelay - 0.001)
            FlushLookahead(isRunout: true);
    }

    public void FlushStepGeneration()
    {
        FlushLookahead();
        _motionQueuing.FlushAllSteps();
    }

    public double GetLastMoveTime()
    {
        if (_specialQueuingState.Length > 0)
        {
            FlushLookahead();
            CalcPrintTime();
        }
        else
        {
            ProcessLookahead();
        }
        return _printTime;
    }

    private double PrimingHandler(double eventtime)
    {
        if (_primingTimer is not null)
            _reactor.UnregisterTimer(_primingTimer);
        _primingTimer = null;
        try
        {
            if (_specialQueuingState == "Priming")
                FlushLookahead(isRunout: true);
        }
        catch (Exception e)
        {
            Printer.Log?.Invoke($"Exception in priming_handler\n{e}");
            Printer.InvokeShutdown("Exception in priming_handler");
        }
        return Reactor.Never;
    }

    private void CheckPrimingState(double eventtime)
    {
        if (_lookahead.IsEmpty())
            return; // may stay in "NeedPrime"
        double estPrintTime = _mcu.EstimatedPrintTime(eventtime);
        if (_checkStallTime != 0.0)
        {
            // Reached "NeedPrime" from idle input
            if (estPrintTime < _checkStallTime)
                _printStall += 1;
            _checkStallTime = 0.0;
        }
        _specialQueuingState = "Priming";
        _needCheckPause = -1.0;
        _primingTimer ??= _reactor.RegisterTimer(PrimingHandler);
        double willPauseTime = _printTime - estPrintTime - BufferTimeHigh;
        double wtime = eventtime + Math.Max(0.0, willPauseTime) + PrimingCmdTime;
        _reactor.UpdateTimer(_primingTimer, wtime);
    }

    private void CheckPause()
    {
        double eventtime = _reactor.Monotonic();
        if (_specialQueuingState.Length > 0)
            CheckPrimingState(eventtime);
        // Pause when many moves are queued
        bool didPause = false;
        while (true)
        {
            double estPrintTime = _mcu.EstimatedPrintTime(eventtime);
            double pauseTime = _printTime - estPrintTime - BufferTimeHigh;
            if (pauseTime <= 0.0)
                break;
            if (!_canPause)
            {
                _needCheckPause = Reactor.Never;
                return;
            }
            pauseTime = Math.Max(.005, Math.Min(1.0, pauseTime));
            eventtime = _reactor.Pause(eventtime + pauseTime);
            didPause = true;
        }
        if (_specialQueuingState.Length == 0)
        {
            // Main state: check again later
            _needCheckPause = _printTime;
            if (!didPause)
                _reactor.Pause(Reactor.Now); // yield so other tasks are not starved
        }
    }

    // ---- movement commands

    public double[] GetPosition() => _commandedPos.ToArray();

    // _commandedPos = list(pos), reusing the list (only this class holds it).
    private void SetCommandedPos(double[] pos)
    {
        var cp = _commandedPos;
        if (cp.Count == pos.Length)
        {
            for (int i = 0; i < pos.Length; i++)
                cp[i] = pos[i];
        }
        else
        {
            cp.Clear();
            cp.AddRange(pos);
        }
    }

    public void SetPosition(IReadOnlyList<double> newpos, string homingAxes = "")
    {
        FlushStepGeneration();
        _trapq.SetPosition(_printTime, newpos[0], newpos[1], newpos[2]);
        for (int i = 0; i < 3; i++)
            _commandedPos[i] = newpos[i];
        _kin.SetPosition(newpos.ToArray(), homingAxes);
        Printer.SendEvent("toolhead:set_position");
    }

    public void LimitNextJunctionSpeed(double speed) => _lookahead.GetLast()?.LimitNextJunctionSpeed(speed);

    public void Move(IReadOnlyList<double> newpos, double speed)
    {
        var move = new Move(this, _commandedPos, newpos, speed);
        if (move.MoveD == 0.0)
            return;
        if (move.IsKinematicMove)
            _kin.CheckMove(move);
        for (int i = 0; i < _extraAxes.Count; i++)
            if (move.AxesD[i + 3] != 0.0)
                _extraAxes[i].CheckMove(move, i + 3);
        SetCommandedPos(move.EndPos);
        bool wantFlush = _lookahead.AddMove(move);
        if (wantFlush)
            ProcessLookahead(lazy: true);
        if (_printTime > _needCheckPause)
            CheckPause();
    }

    /// <summary>Moves to <paramref name="coord"/>, keeping the current position for null entries.</summary>
    public void ManualMove(IReadOnlyList<double?> coord, double speed)
    {
        var curpos = _commandedPos.ToArray();
        for (int i = 0; i < coord.Count; i++)
            if (coord[i] is double v)
                curpos[i] = v;
        Move(curpos, speed);
        Printer.SendEvent("toolhead:manual_move");
    }

    public void Dwell(double delay)
    {
        FlushLookahead();
        double nextPrintTime = GetLastMoveTime() + Math.Max(0.0, delay);
        AdvanceMoveTime(nextPrintTime);
        CheckPause();
    }

    public void WaitMoves()
    {
        FlushLookahead();
        double eventtime = _reactor.Monotonic();
        while (_specialQueuingState.Length == 0 || _printTime >= _mcu.EstimatedPrintTime(eventtime))
        {
            if (!_canPause)
                break;
            eventtime = _reactor.Pause(eventtime + 0.100);
        }
    }

    private void BuildExtraAxesStatus()
    {
        var status = new Dictionary<string, object?>();
        for (int i = 0; i < _extraAxes.Count; i++)
        {
            string n = _extraAxes[i].GetName();
            if (n.Length > 0)
                status[n] = i + 3;
        }
        _extraAxesStatus = status;
    }

    public void SetExtruder(IExtruder extruder, double extrudePos)
    {
        _extraAxes[0] = extruder;
        _commandedPos[3] = extrudePos;
        BuildExtraAxesStatus();
    }

    public IExtruder GetExtruder() => (IExtruder)_extraAxes[0];

    public void AddExtraAxis(IExtraAxis ea, double axisPos)
    {
        FlushLookahead();
        _extraAxes.Add(ea);
        _commandedPos.Add(axisPos);
        BuildExtraAxesStatus();
        Printer.SendEvent("toolhead:update_extra_axes");
    }

    public void RemoveExtraAxis(IExtraAxis ea)
    {
        FlushLookahead();
        int idx = _extraAxes.IndexOf(ea);
        if (idx < 0)
            return;
        _commandedPos.RemoveAt(idx + 3);
        _extraAxes.RemoveAt(idx);
        BuildExtraAxesStatus();
        Printer.SendEvent("toolhead:update_extra_axes");
    }

    /// <summary>The extra axes indexed by position (entries 0-2 are null for x, y, z).</summary>
    public List<IExtraAxis?> GetExtraAxes()
    {
        var res = new List<IExtraAxis?> { null, null, null };
        res.AddRange(_extraAxes);
        return res;
    }

    // ---- homing "drip" moves

    private (double Start, double End) DripLoadTrapq(Move submitMove)
    {
        if (submitMove.MoveD != 0.0)
        {
            SetCommandedPos(submitMove.EndPos);
            _lookahead.AddMove(submitMove);
        }
        var moves = _lookahead.Flush();
        CalcPrintTime();
        double startTime = _printTime, endTime = _printTime;
        foreach (var move in moves)
        {
            _trapq.Append(endTime, move.AccelT, move.CruiseT, move.DecelT,
                move.StartPos[0], move.StartPos[1], move.StartPos[2],
                move.AxesR[0], move.AxesR[1], move.AxesR[2],
                move.StartV, move.CruiseV, move.Accel);
            endTime = endTime + move.AccelT + move.CruiseT + move.DecelT;
        }
        _lookahead.Reset();
        return (startTime, endTime);
    }

    /// <summary>A move sent in small time slices until <paramref name="dripCompletion"/> signals (homing/probing).</summary>
    public void DripMove(IReadOnlyList<double> newpos, double speed, MotionQueuing.IDripCompletion dripCompletion)
    {
        var pos = new double[_commandedPos.Count];
        for (int i = 0; i < pos.Length; i++)
            pos[i] = i < 3 ? newpos[i] : _commandedPos[i];
        var move = new Move(this, _commandedPos, pos, speed);
        if (move.MoveD != 0.0)
            _kin.CheckMove(move);
        // Steps must not start before the nominal start time
        double kinFlushDelay = _motionQueuing.GetKinFlushDelay();
        Dwell(kinFlushDelay);
        ProcessLookahead();
        var (startTime, endTime) = DripLoadTrapq(move);
        _motionQueuing.DripUpdateTime(startTime, endTime, dripCompletion);
        // Clean up what is left of the move on the trapq
        _motionQueuing.WipeTrapq(_trapq);
    }

    // ---- misc

    public (bool IsActive, string Message) Stats(double eventtime)
    {
        double estPrintTime = _mcu.EstimatedPrintTime(eventtime);
        double bufferTime = _printTime - estPrintTime;
        bool isActive = bufferTime > -60.0 || _specialQueuingState.Length == 0;
        return (isActive, PyPercent.Format("print_time=%.3f buffer_time=%.3f print_stall=%d",
            _printTime, Math.Max(bufferTime, 0.0), _printStall));
    }

    public (double PrintTime, double EstPrintTime, bool LookaheadEmpty) CheckBusy(double eventtime)
    {
        double estPrintTime = _mcu.EstimatedPrintTime(eventtime);
        return (_printTime, estPrintTime, _lookahead.IsEmpty());
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        double printTime = _printTime;
        double estimatedPrintTime = _mcu.EstimatedPrintTime(eventtime);
        var extruder = _extraAxes[0];
        var res = new Dictionary<string, object?>(_kin.GetStatus(eventtime))
        {
            ["print_time"] = printTime,
            ["stalls"] = _printStall,
            ["estimated_print_time"] = estimatedPrintTime,
            ["extruder"] = extruder.GetName(),
            ["position"] = new Coord(_commandedPos),
            ["max_velocity"] = MaxVelocity,
            ["max_accel"] = MaxAccel,
            ["minimum_cruise_ratio"] = MinCruiseRatio,
            ["square_corner_velocity"] = SquareCornerVelocity,
            ["extra_axes"] = _extraAxesStatus,
        };
        return res;
    }

    private void HandleShutdown()
    {
        _canPause = false;
        _lookahead.Reset();
    }

    public IKinematics GetKinematics() => _kin;

    IHomingKinematics IHomingToolhead.GetKinematics() => _kin;

    void IHomingToolhead.SetPosition(double[] newpos, string homingAxes) => SetPosition(newpos, homingAxes);

    void IHomingToolhead.DripMove(double[] newpos, double speed, MotionQueuing.IDripCompletion dripCompletion) =>
        DripMove(newpos, speed, dripCompletion);

    public TrapQ GetTrapq() => _trapq;

    /// <summary>Calls <paramref name="callback"/> with the print time at which the last queued move ends.</summary>
    public void RegisterLookaheadCallback(Action<double> callback)
    {
        var lastMove = _lookahead.GetLast();
        if (lastMove is null)
        {
            callback(GetLastMoveTime());
            return;
        }
        (lastMove.TimingCallbacks ??= new()).Add(callback);
    }

    public (double MaxVelocity, double MaxAccel) GetMaxVelocity() => (MaxVelocity, MaxAccel);

    private void CalcJunctionDeviation()
    {
        double scv2 = Math.Pow(SquareCornerVelocity, 2);
        JunctionDeviationValue = scv2 * (Math.Sqrt(2.0) - 1.0) / MaxAccel;
        McrPseudoAccel = MaxAccel * (1.0 - MinCruiseRatio);
    }

    /// <summary>Updates the given limits (null = unchanged) and returns all four.</summary>
    public (double MaxVelocity, double MaxAccel, double SquareCornerVelocity, double MinCruiseRatio) SetMaxVelocities(
        double? maxVelocity, double? maxAccel, double? squareCornerVelocity, double? minCruiseRatio)
    {
        if (maxVelocity is double mv)
            MaxVelocity = mv;
        if (maxAccel is double ma)
            MaxAccel = ma;
        if (squareCornerVelocity is double scv)
            SquareCornerVelocity = scv;
        if (minCruiseRatio is double mcr)
            MinCruiseRatio = mcr;
        CalcJunctionDeviation();
        return (MaxVelocity, MaxAccel, SquareCornerVelocity, MinCruiseRatio);
    }

    /// <summary>Creates the toolhead, its G-code helpers, the extruders and the default modules (upstream toolhead.add_printer_objects).</summary>
    public static void AddPrinterObjects(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        printer.AddObject("toolhead", new ToolHead(config));
        _ = new ToolHeadCommandHelper(config);
        PrinterExtruder.AddPrinterObjects(config);
        string[] modules = ["gcode_move", "homing", "idle_timeout", "statistics",
                            "manual_probe", "tuning_tower", "garbage_collection"];
        foreach (var moduleName in modules)
            printer.TryLoadObject(config, moduleName);
    }
}

/// <summary>G4, M400, SET_VELOCITY_LIMIT and M204 (upstream toolhead.ToolHeadCommandHelper).</summary>
public sealed class ToolHeadCommandHelper
{
    public const string CmdSetVelocityLimitHelp = "Set printer velocity limits";

    private readonly Printer _printer;
    private readonly ToolHead _toolhead;

    public ToolHeadCommandHelper(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("G4", CmdG4);
        gcode.RegisterCommand("M400", CmdM400);
        gcode.RegisterCommand("SET_VELOCITY_LIMIT", CmdSetVelocityLimit, desc: CmdSetVelocityLimitHelp);
        gcode.RegisterCommand("M204", CmdM204);
    }

    private void CmdG4(GCodeCommand gcmd)
    {
        double delay = gcmd.GetFloat("P", 0.0, minval: 0.0) / 1000.0;
        _toolhead.Dwell(delay);
    }

    private void CmdM400(GCodeCommand gcmd) => _toolhead.WaitMoves();

    private void CmdSetVelocityLimit(GCodeCommand gcmd)
    {
        double? maxVelocity = gcmd.GetFloatOrNull("VELOCITY", above: 0.0);
        double? maxAccel = gcmd.GetFloatOrNull("ACCEL", above: 0.0);
        double? squareCornerVelocity = gcmd.GetFloatOrNull("SQUARE_CORNER_VELOCITY", minval: 0.0);
        double? minCruiseRatio = gcmd.GetFloatOrNull("MINIMUM_CRUISE_RATIO", minval: 0.0, below: 1.0);
        var (mv, ma, scv, mcr) = _toolhead.SetMaxVelocities(maxVelocity, maxAccel, squareCornerVelocity, minCruiseRatio);
        string msg = PyPercent.Format("max_velocity: %.6f\nmax_accel: %.6f\nminimum_cruise_ratio: %.6f\nsquare_corner_velocity: %.6f",
            mv, ma, mcr, scv);
        _printer.Log?.Invoke("toolhead: " + msg);
        if (maxVelocity is null && maxAccel is null && squareCornerVelocity is null && minCruiseRatio is null)
            gcmd.RespondInfo(msg, log: false);
    }

    private void CmdM204(GCodeCommand gcmd)
    {
        double? accel = gcmd.GetFloatOrNull("S", above: 0.0);
        if (accel is null)
        {
            // Use the lower of P and T
            double? p = gcmd.GetFloatOrNull("P", above: 0.0);
            double? t = gcmd.GetFloatOrNull("T", above: 0.0);
            if (p is null || t is null)
            {
                gcmd.RespondInfo($"Invalid M204 command \"{gcmd.GetCommandline()}\"");
                return;
            }
            accel = Move.PyMin(p.Value, t.Value);
        }
        _toolhead.SetMaxVelocities(null, accel, null, null);
    }
}
