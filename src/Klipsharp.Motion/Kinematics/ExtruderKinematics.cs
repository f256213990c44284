namespace Klipsharp.Motion;

/// <summary>
/// Extruder stepper kinematics with pressure advance averaged over a smoothing window
/// (upstream's kin_extruder, extruder_stepper_alloc). The extruder trapq carries the
/// filament position in X and marks moves that may use pressure advance with a
/// non-zero Y.
/// </summary>
public sealed class ExtruderStepperKinematics : StepperKinematics
{
    // Pressure advance values in force from a print time on (oldest first).
    private readonly List<PaParams> _paList = new();
    private double _halfSmoothTime, _invHalfSmoothTime2;
    private Move? _padMove;

    private struct PaParams
    {
        public double PressureAdvance, ActivePrintTime;
    }

    public ExtruderStepperKinematics()
    {
        ActiveFlags = ActiveAxes.X;
        _paList.Add(default);
    }

    /// <summary>Half of the current smoothing window (0 when pressure advance is off).</summary>
    public double HalfSmoothTime => _halfSmoothTime;

    // Integral over [start, end] of base + start_v*t + half_accel*t^2.
    private static double ExtruderIntegrate(double @base, double startV, double halfAccel,
        double start, double end)
    {
        double halfV = .5 * startV, sixthA = (1.0 / 3.0) * halfAccel;
        double si = start * (@base + start * (halfV + start * sixthA));
        double ei = end * (@base + end * (halfV + end * sixthA));
        return ei - si;
    }

    // Integral over [start, end] of t * (base + start_v*t + half_accel*t^2).
    private static double ExtruderIntegrateTime(double @base, double startV, double halfAccel,
        double start, double end)
    {
        double halfB = .5 * @base, thirdV = (1.0 / 3.0) * startV;
        double eighthA = .25 * halfAccel;
        double si = start * start * (halfB + start * (thirdV + start * eighthA));
        double ei = end * end * (halfB + end * (thirdV + end * eighthA));
        return ei - si;
    }

    // Time-weighted integral of the pressure-advanced position over part of one move.
    private double PaMoveIntegrate(Move m, double @base, double start, double end, double timeOffset)
    {
        if (start < 0.0)
            start = 0.0;
        if (end > m.MoveT)
            end = m.MoveT;
        bool canPressureAdvance = m.AxesR.Y != 0.0;
        double pressureAdvance = 0.0;
        if (canPressureAdvance)
        {
            // Latest setting that was active when the move started
            int i = _paList.Count - 1;
            while (_paList[i].ActivePrintTime > m.PrintTime && i != 0)
                i--;
            pressureAdvance = _paList[i].PressureAdvance;
        }
        @base += pressureAdvance * m.StartV;
        double startV = m.StartV + pressureAdvance * 2.0 * m.HalfAccel;
        double ha = m.HalfAccel;
        double iext = ExtruderIntegrate(@base, startV, ha, start, end);
        double wgtExt = ExtruderIntegrateTime(@base, startV, ha, start, end);
        return wgtExt - timeOffset * iext;
    }

    // Triangular-weighted integral of the position over move_time +/- hst, across moves.
    private double PaRangeIntegrate(Move m, double moveTime, double hst)
    {
        double res = 0.0, start = moveTime - hst, end = moveTime + hst;
        double startBase = m.StartPos.X;
        res += PaMoveIntegrate(m, 0.0, start, moveTime, start);
        res -= PaMoveIntegrate(m, 0.0, moveTime, end, end);
        Move prev = m;
        while (start < 0.0)
        {
            Move? p = prev.Prev;
            if (p is null)
            {
                // Walked past the head sentinel: the moves this far back were finalized,
                // as after SET_PRESSURE_ADVANCE raises SMOOTH_TIME (the flush before it
                // kept only the old window). Upstream then reads its trapq's list head
                // as a move and goes on around the list into the tail sentinel, whose
                // start is the position after the last queued move (seen with a debug
                // print in kin_extruder.c; motion-fuzz winch-45-xform, which upstream
                // ends with "Invalid sequence"). Hold the position instead.
                p = _padMove ??= new Move();
                p.PrintTime = prev.PrintTime + start;
                p.MoveT = -start;
                p.StartPos = (prev.Next ?? prev).StartPos; // the first real move's start
            }
            prev = p;
            start += prev.MoveT;
            double @base = prev.StartPos.X - startBase;
            res += PaMoveIntegrate(prev, @base, start, prev.MoveT, start);
        }
        while (end > m.MoveT)
        {
            end -= m.MoveT;
            m = m.Next!;
            double @base = m.StartPos.X - startBase;
            res -= PaMoveIntegrate(m, @base, 0.0, end, end);
        }
        return res;
    }

    // Without pressure advance the filament position is the move's X, linear in its distance.
    internal override bool LinearForm(out Coord weights, out double offset)
    {
        weights = new Coord(1, 0, 0);
        offset = 0.0;
        return _halfSmoothTime == 0.0;
    }

    // CalcPosition with pressure advance off, for the solver to inline.
    private struct FilamentPosition<TDistance> : IPositionSource
        where TDistance : struct, IMoveDistance
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime) =>
            m.StartPos.X + TDistance.At(m, moveTime);
    }

    private protected override int GenStepsRangeOther(StepCompress sc, Move m, double absStart, double absEnd)
    {
        if (_halfSmoothTime != 0.0)
            return base.GenStepsRangeOther(sc, m, absStart, absEnd);
        return IsCruise(m)
            ? GenStepsRange<FilamentPosition<CruiseDistance>>(sc, m, absStart, absEnd)
            : GenStepsRange<FilamentPosition<AnyDistance>>(sc, m, absStart, absEnd);
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        double hst = _halfSmoothTime;
        if (hst == 0.0)
            return m.StartPos.X + m.GetDistance(moveTime); // pressure advance off
        double area = PaRangeIntegrate(m, moveTime, hst);
        return m.StartPos.X + area * _invHalfSmoothTime2;
    }

    /// <summary>
    /// Use <paramref name="pressureAdvance"/> for moves from <paramref name="printTime"/>
    /// on, with the given smoothing window (extruder_set_pressure_advance).
    /// </summary>
    public void SetPressureAdvance(double printTime, double pressureAdvance, double smoothTime)
    {
        SyncQueued();
        double hst = smoothTime * .5, oldHst = _halfSmoothTime;
        _halfSmoothTime = hst;
        GenStepsPreActive = GenStepsPostActive = hst;

        // Drop settings that no step generation can reach any more
        double cleanupTime = LastFlushTime - (oldHst > hst ? oldHst : hst);
        int drop = 0;
        while (drop < _paList.Count - 1)
        {
            if (_paList[drop + 1].ActivePrintTime >= cleanupTime)
                break;
            drop++;
        }
        if (drop != 0)
            _paList.RemoveRange(0, drop);

        if (hst == 0.0)
            return;
        _invHalfSmoothTime2 = 1.0 / (hst * hst);

        if (_paList[^1].PressureAdvance == pressureAdvance)
            return; // unchanged: keep the existing entry
        _paList.Add(new PaParams { PressureAdvance = pressureAdvance, ActivePrintTime = printTime });
    }
}
