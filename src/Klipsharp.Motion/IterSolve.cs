using System.Runtime.CompilerServices;

namespace Klipsharp.Motion;

// The iterative solver (upstream chelper's itersolve.c): finds the times at which the
// stepper position crosses each half-step boundary and feeds them to a StepCompress.
public abstract partial class StepperKinematics
{
    // Initial bracket width for the secant search after a step or direction change.
    private const double SeekTimeReset = 0.000100;

    private Move? _scratchMove;

    // Where GenerateSteps' last walk along the trapq stopped (see there).
    private TrapQ? _walkTrapQ;
    private Move? _walkStart;
    private long _walkRemovals;
    private double _walkFlushTime;

    /// <summary>Secant position evaluations the solver has made for this stepper (for benchmarks).</summary>
    public long SolverIterations { get; private set; }

    /// <summary>Steps the solver has found for this stepper (for benchmarks).</summary>
    public long SolverSteps { get; private set; }

    /// <summary>Cartesian axis (0-2) whose position this stepper follows one to one, or -1: lets the solver skip the virtual CalcPosition call.</summary>
    internal int CartesianAxis { get; private protected set; } = -1;

    /// <summary>Test switch: the secant search calls the virtual CalcPosition for every guess instead of its inlined position (the steps must not change).</summary>
    internal bool SolverUsesVirtualPosition { get; set; }

    // How the solver gets the stepper position; a struct type argument makes the JIT
    // compile one solver per case with the position code inlined.
    private protected interface IPositionSource
    {
        double Position(StepperKinematics sk, Move m, double moveTime);
    }

    private struct VirtualPosition : IPositionSource
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime) => sk.CalcPosition(m, moveTime);
    }

    // One cartesian axis of a coordinate, as a struct type argument: code generic over
    // it is compiled once per axis with the field access inlined.
    private protected interface IAxis
    {
        static abstract int Index { get; }

        static abstract double Of(in Coord c);
    }

    private protected struct AxisX : IAxis
    {
        public static int Index => 0;

        public static double Of(in Coord c) => c.X;
    }

    private protected struct AxisY : IAxis
    {
        public static int Index => 1;

        public static double Of(in Coord c) => c.Y;
    }

    private protected struct AxisZ : IAxis
    {
        public static int Index => 2;

        public static double Of(in Coord c) => c.Z;
    }

    // One coordinate of Move.GetCoord, with the same operations in the same order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static double AxisPosition<TAxis>(Move m, double moveTime)
        where TAxis : struct, IAxis =>
        AxisAtDistance<TAxis>(m, m.GetDistance(moveTime));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static double AxisAtDistance<TAxis>(Move m, double moveDist)
        where TAxis : struct, IAxis =>
        TAxis.Of(m.StartPos) + TAxis.Of(m.AxesR) * moveDist;

    // How the solver computes Move.GetDistance, as a struct type argument.
    private protected interface IMoveDistance
    {
        static abstract double At(Move m, double moveTime);
    }

    private protected struct AnyDistance : IMoveDistance
    {
        public static double At(Move m, double moveTime) => m.GetDistance(moveTime);
    }

    private protected struct CruiseDistance : IMoveDistance
    {
        public static double At(Move m, double moveTime) => DistanceInCruise(m, moveTime);
    }

    /// <summary>
    /// Whether the move is a cruise segment (HalfAccel zero, StartV not): then
    /// StartV + HalfAccel * t is StartV exactly, so <see cref="DistanceInCruise"/> is
    /// GetDistance bit for bit, two dependent operations shorter. Most steps of a print
    /// are found in cruise segments.
    /// </summary>
    internal static bool IsCruise(Move m) => m.HalfAccel == 0.0 && m.StartV != 0.0;

    /// <summary>Move.GetDistance of a move for which <see cref="IsCruise"/> holds.</summary>
    internal static double DistanceInCruise(Move m, double moveTime) => m.StartV * moveTime;

    // CartesianStepperKinematics.CalcPosition.
    private struct CartesianPosition<TAxis, TDistance> : IPositionSource
        where TAxis : struct, IAxis
        where TDistance : struct, IMoveDistance
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime) =>
            AxisAtDistance<TAxis>(m, TDistance.At(m, moveTime));
    }

    private int GenStepsRangeCartesian<TAxis>(StepCompress sc, Move m, double absStart, double absEnd)
        where TAxis : struct, IAxis => IsCruise(m)
        ? GenStepsRange<CartesianPosition<TAxis, CruiseDistance>>(sc, m, absStart, absEnd)
        : GenStepsRange<CartesianPosition<TAxis, AnyDistance>>(sc, m, absStart, absEnd);

    // Whether a belt stepper (corexy, corexz) moves with the sum or the difference of its
    // two coordinates, as a struct type argument.
    private protected interface IBeltSign
    {
        static abstract double Combine(double x, double other);
    }

    private protected struct BeltPlus : IBeltSign
    {
        public static double Combine(double x, double other) => x + other;
    }

    private protected struct BeltMinus : IBeltSign
    {
        public static double Combine(double x, double other) => x - other;
    }

    // CoreXY/CoreXZStepperKinematics.CalcPosition: x and the other coordinate of
    // GetCoord, added or subtracted.
    private struct BeltPosition<TOther, TSign, TDistance> : IPositionSource
        where TOther : struct, IAxis
        where TSign : struct, IBeltSign
        where TDistance : struct, IMoveDistance
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime)
        {
            double moveDist = TDistance.At(m, moveTime);
            return TSign.Combine(AxisAtDistance<AxisX>(m, moveDist), AxisAtDistance<TOther>(m, moveDist));
        }
    }

    private protected int GenStepsRangeBelt<TOther, TSign>(StepCompress sc, Move m, double absStart, double absEnd)
        where TOther : struct, IAxis
        where TSign : struct, IBeltSign => IsCruise(m)
        ? GenStepsRange<BeltPosition<TOther, TSign, CruiseDistance>>(sc, m, absStart, absEnd)
        : GenStepsRange<BeltPosition<TOther, TSign, AnyDistance>>(sc, m, absStart, absEnd);

    // The part of the move between two absolute print times, in times within the move.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double Start, double End) MoveTimes(Move m, double absStart, double absEnd)
    {
        double start = absStart - m.PrintTime, end = absEnd - m.PrintTime;
        return (start < 0.0 ? 0.0 : start, end > m.MoveT ? m.MoveT : end);
    }

    // Generate the steps of one move between two absolute print times.
    private int GenStepsRange(StepCompress sc, Move m, double absStart, double absEnd) =>
        ClosedFormSteps && LinearForm(out Coord weights, out double offset)
            ? GenStepsClosedForm(sc, m, absStart, absEnd, weights, offset)
            : SolverUsesVirtualPosition ? GenStepsRange<VirtualPosition>(sc, m, absStart, absEnd) : CartesianAxis switch
    {
        0 => GenStepsRangeCartesian<AxisX>(sc, m, absStart, absEnd),
        1 => GenStepsRangeCartesian<AxisY>(sc, m, absStart, absEnd),
        2 => GenStepsRangeCartesian<AxisZ>(sc, m, absStart, absEnd),
        _ => GenStepsRangeOther(sc, m, absStart, absEnd),
    };

    // The secant search for kinematics that are not a cartesian axis; kinematics with a
    // position that can be computed without a virtual call override it.
    private protected virtual int GenStepsRangeOther(StepCompress sc, Move m, double absStart, double absEnd) =>
        GenStepsRange<VirtualPosition>(sc, m, absStart, absEnd);

    // The secant search's state, kept between the call-free search loop and the caller
    // that makes the rare calls it leaves (a step compression append or commit that needs
    // the slow path).
    private struct SecantSearch
    {
        public double HalfStep, End, OldGuessTime, OldGuessPos, GuessTime, GuessPos, Target;
        public double LastTime, LowTime, HighTime;
        public bool Sdir, IsDirChange, HaveBracket, CheckOscillate;
        public int Iterations, Steps;
        // An Append that TryAppendFast declined: the caller finishes it.
        public ulong PendingClock;
    }

    private enum SearchExit { RangeDone, FinishAppend, FinishCommit }

    private protected int GenStepsRange<TPos>(StepCompress sc, Move m, double absStart, double absEnd)
        where TPos : struct, IPositionSource
    {
        var s = new SecantSearch { HalfStep = .5 * StepDist };
        (double start, s.End) = MoveTimes(m, absStart, absEnd);
        s.OldGuessTime = s.GuessTime = start;
        s.OldGuessPos = s.GuessPos = CommandedPos;
        s.Sdir = sc.GetStepDir() != 0;
        s.Target = CommandedPos + (s.Sdir ? s.HalfStep : -s.HalfStep);
        s.LastTime = s.LowTime = start;
        s.HighTime = start + SeekTimeReset;
        if (s.HighTime > s.End)
            s.HighTime = s.End;
        for (;;)
        {
            switch (SearchSteps<TPos>(sc, m, ref s))
            {
                case SearchExit.FinishAppend:
                    int ret = sc.FinishAppend(s.Sdir ? 1 : 0, s.PendingClock);
                    if (ret != 0)
                        return ret;
                    break;
                case SearchExit.FinishCommit:
                    sc.FinishCommit(); // upstream ignores the result here
                    break;
                default:
                    CommandedPos = s.Target - (s.Sdir ? s.HalfStep : -s.HalfStep);
                    SolverIterations += s.Iterations;
                    SolverSteps += s.Steps;
                    PostCommandedPositionChange();
                    return 0;
            }
        }
    }

    // The secant search of GenStepsRange, from the state in s until the range ends or step
    // compression needs a call (inlined position sources make no call, so the loop's
    // values stay in registers).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private SearchExit SearchSteps<TPos>(StepCompress sc, Move m, ref SecantSearch s)
        where TPos : struct, IPositionSource
    {
        double halfStep = s.HalfStep, end = s.End;
        double oldGuessTime = s.OldGuessTime, oldGuessPos = s.OldGuessPos;
        double guessTime = s.GuessTime, guessPos = s.GuessPos, target = s.Target;
        double lastTime = s.LastTime, lowTime = s.LowTime, highTime = s.HighTime;
        bool sdir = s.Sdir, isDirChange = s.IsDirChange, haveBracket = s.HaveBracket, checkOscillate = s.CheckOscillate;
        int iterations = s.Iterations, steps = s.Steps;
        SearchExit exit;
        for (;;)
        {
            // Secant method: extrapolate the next time from the last two guesses
            double guessDist = guessPos - target;
            double ogDist = oldGuessPos - target;
            double nextTime = (oldGuessTime * guessDist - guessTime * ogDist)
                              / (guessDist - ogDist);
            if (!(nextTime > lowTime && nextTime < highTime)) // also catches NaN
            {
                if (haveBracket)
                {
                    // Poor guess within a known bracket: bisect instead
                    nextTime = (lowTime + highTime) * .5;
                    checkOscillate = false;
                }
                else if (guessTime >= end)
                {
                    exit = SearchExit.RangeDone; // no further steps in this range
                    break;
                }
                else
                {
                    // No bracket yet: widen the search exponentially
                    nextTime = highTime;
                    highTime = 2.0 * highTime - lastTime;
                    if (highTime > end)
                        highTime = end;
                }
            }
            oldGuessTime = guessTime;
            oldGuessPos = guessPos;
            guessTime = nextTime;
            guessPos = default(TPos).Position(this, m, nextTime);
            iterations++;
            guessDist = guessPos - target;
            if (Math.Abs(guessDist) > .000000001)
            {
                double relDist = sdir ? guessDist : -guessDist;
                if (relDist > 0.0)
                {
                    // Past the target: the step is certainly in (lowTime, guessTime]
                    if (haveBracket && oldGuessTime <= lowTime)
                    {
                        if (checkOscillate)
                        {
                            // Force a bisection next to break a persistent oscillation
                            oldGuessTime = guessTime;
                            oldGuessPos = guessPos;
                        }
                        checkOscillate = true;
                    }
                    highTime = guessTime;
                    haveBracket = true;
                }
                else if (relDist < -(halfStep + halfStep + .000000010))
                {
                    // Moved a full step the other way: direction change
                    sdir = !sdir;
                    target = sdir ? target + halfStep + halfStep
                                  : target - halfStep - halfStep;
                    lowTime = lastTime;
                    highTime = guessTime;
                    isDirChange = haveBracket = true;
                    checkOscillate = false;
                }
                else
                {
                    lowTime = guessTime;
                }
                if (!haveBracket || highTime - lowTime > .000000001)
                {
                    // The stepper reached the step position; no rollback possible
                    if (!isDirChange && relDist >= -halfStep && !sc.TryCommitFast())
                    {
                        exit = SearchExit.FinishCommit;
                        break;
                    }
                    continue;
                }
            }
            // Step found: submit it
            steps++;
            bool appended = sc.TryAppendFast(sdir ? 1 : 0, m.PrintTime, guessTime, out ulong stepClock);
            target = sdir ? target + halfStep + halfStep : target - halfStep - halfStep;
            double seekTimeDelta = 1.5 * (guessTime - lastTime);
            if (seekTimeDelta < .000000001)
                seekTimeDelta = .000000001;
            if (isDirChange && seekTimeDelta > SeekTimeReset)
                seekTimeDelta = SeekTimeReset;
            lastTime = lowTime = guessTime;
            highTime = guessTime + seekTimeDelta;
            if (highTime > end)
                highTime = end;
            isDirChange = haveBracket = checkOscillate = false;
            if (!appended)
            {
                // The search goes on after the caller has finished this append
                s.PendingClock = stepClock;
                exit = SearchExit.FinishAppend;
                break;
            }
        }
        s.OldGuessTime = oldGuessTime;
        s.OldGuessPos = oldGuessPos;
        s.GuessTime = guessTime;
        s.GuessPos = guessPos;
        s.Target = target;
        s.LastTime = lastTime;
        s.LowTime = lowTime;
        s.HighTime = highTime;
        s.Sdir = sdir;
        s.IsDirChange = isDirChange;
        s.HaveBracket = haveBracket;
        s.CheckOscillate = checkOscillate;
        s.Iterations = iterations;
        s.Steps = steps;
        return exit;
    }

    /// <summary>
    /// Find step times as roots of the move's distance equation instead of by upstream's
    /// secant search, for kinematics whose position is linear in the move distance. Each
    /// step lands within a clock or two of upstream's before compression (where that is
    /// not so, at rest or where the stepper is off the move, the secant search is kept),
    /// so the command stream differs from upstream's within the conformance checker's
    /// step tolerance. Off by default (set from the host's --closed-form-steps).
    /// </summary>
    public bool ClosedFormSteps { get; set; }

    // Set by kinematics whose position within any move is LinearWeights . (StartPos +
    // AxesR * distance): then each step time is a root of a quadratic.
    private protected Coord? LinearWeights;

    /// <summary>
    /// Whether the position within any move is weights . (StartPos + AxesR * distance)
    /// + offset (kinematics that wrap another, as dual carriage, derive it from theirs).
    /// </summary>
    internal virtual bool LinearForm(out Coord weights, out double offset)
    {
        weights = LinearWeights.GetValueOrDefault();
        offset = 0.0;
        return LinearWeights.HasValue;
    }

    // GenStepsRange for a position w . (StartPos + AxesR * distance) + offset: the same
    // half-step targets, step acceptance (within 1e-9 of a target), direction-change threshold and
    // commit as the secant search, with each time the root of
    // start_v*t + half_accel*t^2 = distance to the target.
    private int GenStepsClosedForm(StepCompress sc, Move m, double absStart, double absEnd, Coord w, double offset)
    {
        double halfStep = .5 * StepDist;
        var (start, end) = MoveTimes(m, absStart, absEnd);
        double v0 = m.StartV, halfAccel = m.HalfAccel;
        double vStart = v0 + 2.0 * halfAccel * start, vEnd = v0 + 2.0 * halfAccel * end;
        double basePos = w.X * m.StartPos.X + w.Y * m.StartPos.Y + w.Z * m.StartPos.Z + offset;
        double perDist = w.X * m.AxesR.X + w.Y * m.AxesR.Y + w.Z * m.AxesR.Z;
        if ((vStart < 0.0 ? vEnd > 0.0 : vEnd < 0.0) && TurnIsVisible(m, start, end, perDist))
            return GenStepsRange<VirtualPosition>(sc, m, absStart, absEnd);
        double posEnd = basePos + perDist * m.GetDistance(end);
        double posStart = basePos + perDist * m.GetDistance(start);
        if (!(Math.Abs(posStart - CommandedPos) < halfStep - .000000001))
        {
            // The stepper is not within half a step of the range's start position (a new
            // rotation distance or kinematic position, or it rests on a half step): the
            // secant search's steps there depend on how its guesses approach that point
            return GenStepsRange<VirtualPosition>(sc, m, absStart, absEnd);
        }
        if (vStart + vEnd < 0.0)
        {
            // Moving backwards along the move (an extruder retracting): turn the signs so
            // that the distance grows with time
            v0 = -v0;
            halfAccel = -halfAccel;
            perDist = -perDist;
        }
        bool sdir = sc.GetStepDir() != 0;
        double target = CommandedPos + (sdir ? halfStep : -halfStep);
        int steps = 0;
        bool moving = perDist != 0.0 && vStart + vEnd != 0.0 && end > start;
        if (moving && (perDist > 0.0) != sdir)
        {
            // The secant search turns only once the position is more than a full step
            // (and 1e-8) behind the target
            double back = sdir ? target - posEnd : posEnd - target;
            if (back > halfStep + halfStep + .000000010)
            {
                sdir = !sdir;
                target = sdir ? target + halfStep + halfStep : target - halfStep - halfStep;
            }
            else
            {
                moving = false;
            }
        }
        if (moving)
        {
            if (SlowCrossingAtAnEnd(target, posEnd, sdir, basePos, perDist, v0, halfAccel, vStart, vEnd, halfStep))
            {
                // (Nothing has been sent yet, and CommandedPos is unchanged.)
                return GenStepsRange<VirtualPosition>(sc, m, absStart, absEnd);
            }
            double invPerDist = 1.0 / perDist;
            int ret;
            if (halfAccel == 0.0)
            {
                ret = AppendSteps(sc, m, new CruiseStepTime(basePos, invPerDist / v0), sdir, ref target,
                    posEnd, start, end, halfStep, ref steps);
            }
            else if (Math.Abs(halfAccel) > 1e-6 * v0)
            {
                ret = AppendSteps(sc, m, new AccelStepTime(basePos, invPerDist, v0, halfAccel), sdir,
                    ref target, posEnd, start, end, halfStep, ref steps);
            }
            else
            {
                ret = AppendSteps(sc, m, new SmallAccelStepTime(basePos, invPerDist, v0, halfAccel), sdir,
                    ref target, posEnd, start, end, halfStep, ref steps);
            }
            if (ret != 0)
                return ret;
        }
        // The search for the next step ends with the position at the end of a range that
        // is not empty; it commits the last step once the stepper is fully at its position
        double relDist = sdir ? posEnd - target : target - posEnd;
        if (end > start && relDist < -.000000001 && relDist >= -halfStep)
            sc.Commit();
        CommandedPos = target - (sdir ? halfStep : -halfStep);
        SolverSteps += steps;
        PostCommandedPositionChange();
        return 0;
    }

    // The speed along the move where it has gone dist: sqrt(v0^2 + 4*half_accel*dist),
    // 0 at and past a stop.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double SpeedAt(double v02, double fourHalfAccel, double dist)
    {
        double disc = v02 + fourHalfAccel * dist;
        return Math.Sqrt(disc > 0.0 ? disc : 0.0);
    }

    // The time within a move (after its start, perhaps a little past the range) at which
    // the stepper reaches a target position.
    private interface IStepTime
    {
        double Time(double target);
    }

    // At constant speed: distance over speed.
    private readonly struct CruiseStepTime(double basePos, double timePerPos) : IStepTime
    {
        public double Time(double target) => (target - basePos) * timePerPos;
    }

    // The root of half_accel*t^2 + v0*t = dist as (v - v0) / (2*half_accel), v the speed
    // there: no division per step. v - v0 loses about ulp(v0) to cancellation, which is
    // below 1e-10 s when |half_accel| > 1e-6 * v0.
    private readonly struct AccelStepTime(double basePos, double invPerDist, double v0, double halfAccel) : IStepTime
    {
        private readonly double _v02 = v0 * v0, _fourHalfAccel = 4.0 * halfAccel, _inv2HalfAccel = 0.5 / halfAccel;

        public double Time(double target)
        {
            return (SpeedAt(_v02, _fourHalfAccel, (target - basePos) * invPerDist) - v0) * _inv2HalfAccel;
        }
    }

    // The same root as 2*dist / (v0 + v), which does not cancel for a small acceleration.
    private readonly struct SmallAccelStepTime(double basePos, double invPerDist, double v0, double halfAccel) : IStepTime
    {
        private readonly double _v02 = v0 * v0, _fourHalfAccel = 4.0 * halfAccel;

        public double Time(double target)
        {
            double dist = (target - basePos) * invPerDist;
            return 2.0 * dist / (v0 + SpeedAt(_v02, _fourHalfAccel, dist));
        }
    }

    // Append the steps at each half-step target up to the range's end position (within
    // the secant search's 1e-9), each at its time clamped to [start, end].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int AppendSteps<TTime>(StepCompress sc, Move m, TTime stepTime, bool sdir, ref double target,
        double posEnd, double start, double end, double halfStep, ref int steps)
        where TTime : struct, IStepTime
    {
        while (!AppendStepsFast(sc, m, stepTime, sdir, ref target, posEnd, start, end, halfStep, ref steps,
                   out ulong stepClock))
        {
            int ret = sc.FinishAppend(sdir ? 1 : 0, stepClock);
            if (ret != 0)
                return ret;
        }
        return 0;
    }

    // AppendSteps' loop without calls (so its values stay in registers): true at the end
    // of the range, false when step compression declined the fast append of the step at
    // stepClock (target is then past that step; the caller finishes the append).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool AppendStepsFast<TTime>(StepCompress sc, Move m, TTime stepTime, bool sdir,
        ref double target, double posEnd, double start, double end, double halfStep, ref int steps,
        out ulong stepClock)
        where TTime : struct, IStepTime
    {
        double printTime = m.PrintTime, nextTarget = target;
        int dir = sdir ? 1 : 0, found = steps;
        bool appended = true;
        stepClock = 0;
        for (;;)
        {
            double beyond = sdir ? nextTarget - posEnd : posEnd - nextTarget;
            if (beyond > .000000001)
                break;
            double t = stepTime.Time(nextTarget);
            if (!(t > start)) // (or NaN)
                t = start;
            else if (t > end)
                t = end;
            found++;
            appended = sc.TryAppendFast(dir, printTime, t, out stepClock);
            nextTarget = sdir ? nextTarget + halfStep + halfStep : nextTarget - halfStep - halfStep;
            if (!appended)
                break;
        }
        target = nextTarget;
        steps = found;
        return appended;
    }

    // Stepper speed (mm/s) below which a step's crossing is left to the secant search:
    // it takes the first guess within 1e-9 mm of the target, which at 0.001 mm/s can be
    // a microsecond from the crossing, and much more as the speed nears zero.
    private const double SlowCrossingSpeed = 0.001;

    // Whether the first or the last step of a range crosses its target slower than
    // SlowCrossingSpeed (the speed is monotonic within a range, so only steps next to a
    // slow end can). vStart and vEnd are the speeds along the move at the range's ends.
    private static bool SlowCrossingAtAnEnd(double firstTarget, double posEnd, bool sdir, double basePos,
        double perDist, double v0, double halfAccel, double vStart, double vEnd, double halfStep)
    {
        double perDistAbs = Math.Abs(perDist);
        bool SlowAt(double target) =>
            perDistAbs * SpeedAt(v0 * v0, 4.0 * halfAccel, (target - basePos) / perDist) < SlowCrossingSpeed;
        if (perDistAbs * Math.Abs(vStart) < SlowCrossingSpeed && SlowAt(firstTarget))
            return true;
        if (perDistAbs * Math.Abs(vEnd) < SlowCrossingSpeed)
        {
            double step = halfStep + halfStep;
            double span = (sdir ? posEnd - firstTarget : firstTarget - posEnd) + .000000001;
            if (span < 0.0)
                return false; // no step in the range
            return SlowAt(firstTarget + (sdir ? 1.0 : -1.0) * Math.Floor(span / step) * step);
        }
        return false;
    }

    // Whether the velocity's change of sign within [start, end] moves the stepper back
    // by more than rounding (a toolhead or extruder move segment never turns; one that
    // ends at rest can end a rounding error below zero velocity).
    private static bool TurnIsVisible(Move m, double start, double end, double perDist)
    {
        double turn = -m.StartV / (2.0 * m.HalfAccel);
        double atTurn = m.GetDistance(turn);
        double back = Math.Min(Math.Abs(atTurn - m.GetDistance(start)), Math.Abs(atTurn - m.GetDistance(end)));
        return Math.Abs(perDist) * back > 1e-12;
    }

    // Whether the move has motion on any axis this stepper depends on.
    private bool CheckActive(Move m)
    {
        ActiveAxes af = ActiveFlags;
        return ((af & ActiveAxes.X) != 0 && m.AxesR.X != 0.0)
            || ((af & ActiveAxes.Y) != 0 && m.AxesR.Y != 0.0)
            || ((af & ActiveAxes.Z) != 0 && m.AxesR.Z != 0.0);
    }

    /// <summary>
    /// Generate step times for the trapq moves up to <paramref name="flushTime"/>
    /// (itersolve_generate_steps). Returns 0, or a StepCompress error code.
    /// </summary>
    public int GenerateSteps(StepCompress sc, double flushTime)
    {
        double lastFlushTime = LastFlushTime;
        LastFlushTime = flushTime;
        if (TrapQ is null)
            return 0;
        // Upstream walks from the head; the move where the last walk stopped is on the
        // way as long as no move was unlinked since (queued rounds leave the trapq
        // unfinalized for up to 1024 rounds, which makes the walk from the head long)
        TrapQ tq = TrapQ;
        Move m = _walkTrapQ == tq && _walkRemovals == tq.Removals && lastFlushTime >= _walkFlushTime
            ? _walkStart! : tq.HeadSentinel;
        while (lastFlushTime >= m.PrintTime + m.MoveT)
            m = m.Next!;
        // (Not the tail sentinel: later moves are added in front of it.)
        _walkTrapQ = m == tq.TailSentinel ? null : tq;
        _walkRemovals = tq.Removals;
        _walkStart = m;
        _walkFlushTime = lastFlushTime;
        double forceStepsTime = LastMoveTime + GenStepsPostActive;
        int skipCount = 0;
        for (;;)
        {
            double moveStart = m.PrintTime, moveEnd = moveStart + m.MoveT;
            if (CheckActive(m))
            {
                if (skipCount != 0 && GenStepsPreActive != 0.0)
                {
                    // Steps leading up to the activity (e.g. pressure advance smoothing)
                    double absStart = moveStart - GenStepsPreActive;
                    if (absStart < lastFlushTime)
                        absStart = lastFlushTime;
                    if (absStart < forceStepsTime)
                        absStart = forceStepsTime;
                    Move pm = m.Prev!;
                    while (--skipCount != 0 && pm.PrintTime > absStart)
                        pm = pm.Prev!;
                    do
                    {
                        int pret = GenStepsRange(sc, pm, absStart, flushTime);
                        if (pret != 0)
                            return pret;
                        pm = pm.Next!;
                    } while (pm != m);
                }
                int ret = GenStepsRange(sc, m, lastFlushTime, flushTime);
                if (ret != 0)
                    return ret;
                if (moveEnd >= flushTime)
                {
                    LastMoveTime = flushTime;
                    return 0;
                }
                skipCount = 0;
                LastMoveTime = moveEnd;
                forceStepsTime = LastMoveTime + GenStepsPostActive;
            }
            else
            {
                if (moveStart < forceStepsTime)
                {
                    // Steps just after the activity
                    double absEnd = forceStepsTime;
                    if (absEnd > flushTime)
                        absEnd = flushTime;
                    int ret = GenStepsRange(sc, m, lastFlushTime, absEnd);
                    if (ret != 0)
                        return ret;
                    skipCount = 1;
                }
                else
                {
                    skipCount++;
                }
                if (flushTime + GenStepsPreActive <= moveEnd)
                    return 0;
            }
            m = m.Next!;
        }
    }

    /// <summary>
    /// Print time of the first move after the last flush that moves this stepper, or 0
    /// if none starts before <paramref name="flushTime"/> (itersolve_check_active).
    /// </summary>
    public double CheckActive(double flushTime)
    {
        SyncQueued();
        if (TrapQ is null)
            return 0.0;
        TrapQ.CheckSentinels();
        Move m = TrapQ.HeadSentinel;
        while (LastFlushTime >= m.PrintTime + m.MoveT)
            m = m.Next!;
        for (;;)
        {
            if (CheckActive(m))
                return m.PrintTime;
            if (flushTime <= m.PrintTime + m.MoveT)
                return 0.0;
            m = m.Next!;
        }
    }

    /// <summary>Whether this stepper depends on cartesian axis 'x', 'y' or 'z' (itersolve_is_active_axis).</summary>
    public bool IsActiveAxis(char axis)
    {
        if (axis < 'x' || axis > 'z')
            return false;
        return ((int)ActiveFlags & ((int)ActiveAxes.X << (axis - 'x'))) != 0;
    }

    /// <summary>Attach a trapq (or none) and set the step distance (itersolve_set_trapq).</summary>
    public void SetTrapQ(TrapQ? tq, double stepDist)
    {
        SyncQueued();
        TrapQ = tq;
        StepDist = stepDist;
    }

    /// <summary>The attached trapq (itersolve_get_trapq).</summary>
    public TrapQ? GetTrapQ() => TrapQ;

    /// <summary>Stepper position for a stationary cartesian position (itersolve_calc_position_from_coord).</summary>
    public double CalcPositionFromCoord(double x, double y, double z)
    {
        SyncQueued();
        // A zeroed, stationary 1000s move evaluated at its midpoint, as upstream.
        Move m = _scratchMove ??= new Move();
        m.PrintTime = 0.0;
        m.StartV = m.HalfAccel = 0.0;
        m.AxesR = default;
        m.Prev = m.Next = null;
        m.StartPos = new Coord(x, y, z);
        m.MoveT = 1000.0;
        return CalcPosition(m, 500.0);
    }

    /// <summary>Set the commanded position from a cartesian position (itersolve_set_position).</summary>
    public void SetPosition(double x, double y, double z) =>
        CommandedPos = CalcPositionFromCoord(x, y, z); // (which waits for queued rounds)

    /// <summary>The stepper position after the last generated step (itersolve_get_commanded_pos).</summary>
    public double GetCommandedPos()
    {
        SyncQueued();
        return CommandedPos;
    }
}
