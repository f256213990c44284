using System.Runtime.CompilerServices;

namespace Klipsharp.Motion;

/// <summary>
/// Implemented by stepper kinematics whose commanded-position fixup (upstream's post_cb)
/// is set per instance, so wrappers forward it only when upstream would. Kinematics that
/// do not implement this interface have no post_cb.
/// </summary>
public interface IPostCallbackKinematics
{
    /// <summary>True when upstream's sk->post_cb would be non-null for this instance.</summary>
    bool HasPostCallback { get; }
}

/// <summary>
/// Input shaper stepper kinematics (upstream kin_shaper.c): wraps the stepper's original
/// kinematics and feeds it the toolhead position convolved with each axis' shaper pulses.
/// </summary>
public sealed class InputShaperKinematics : StepperKinematics, IPostCallbackKinematics
{
    // The original kinematics is evaluated on a private motionless move at this time.
    private const double DummyT = 500.0;
    private const int MaxPulses = 10;

    private sealed class ShaperPulses
    {
        public int NumPulses, PInd;
        public readonly double[] T = new double[MaxPulses];
        public readonly double[] A = new double[MaxPulses];
    }

    private enum Variant { Unset, X, Y, Z, Xyz }

    private readonly ShaperPulses[] _sp = [new(), new(), new()];
    private readonly Move _m = new() { MoveT = 2.0 * DummyT };
    private StepperKinematics? _origSk;
    private Variant _variant;
    private bool _hasPostCb;

    /// <summary>The wrapped kinematics, or null before <see cref="SetSk"/> succeeds.</summary>
    public StepperKinematics? OriginalKinematics => _origSk;

    public bool HasPostCallback => _hasPostCb;

    private static ActiveAxes AxisFlag(int axisInd) => (ActiveAxes)(1 << axisInd);

    /// <summary>
    /// Wraps <paramref name="origSk"/> (upstream input_shaper_set_sk). Fails, leaving this
    /// object unchanged, when the original kinematics has no active axis.
    /// </summary>
    public bool SetSk(StepperKinematics origSk)
    {
        SyncQueued();
        ActiveAxes flags = origSk.ActiveFlags;
        if (flags == ActiveAxes.X)
            _variant = Variant.X;
        else if (flags == ActiveAxes.Y)
            _variant = Variant.Y;
        else if (flags == ActiveAxes.Z)
            _variant = Variant.Z;
        else if ((flags & (ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z)) != 0)
            _variant = Variant.Xyz;
        else
            return false;
        ActiveFlags = flags;
        _origSk = origSk;
        CommandedPos = origSk.CommandedPos;
        LastFlushTime = origSk.LastFlushTime;
        LastMoveTime = origSk.LastMoveTime;
        // Like upstream, once set the forwarding callback stays set.
        if (origSk is IPostCallbackKinematics { HasPostCallback: true })
            _hasPostCb = true;
        return true;
    }

    /// <summary>Refreshes the active axes from the original kinematics after they changed (upstream input_shaper_update_sk).</summary>
    public void UpdateSk()
    {
        SyncQueued();
        StepperKinematics orig = Orig();
        ActiveAxes kinFlags = orig.ActiveFlags & (ActiveAxes.X | ActiveAxes.Y | ActiveAxes.Z);
        _variant = kinFlags switch
        {
            ActiveAxes.X => Variant.X,
            ActiveAxes.Y => Variant.Y,
            ActiveAxes.Z => Variant.Z,
            _ => Variant.Xyz,
        };
        ActiveFlags = orig.ActiveFlags;
        NoteGenerationTime();
    }

    /// <summary>
    /// Sets the shaper of <paramref name="axis"/> ('x', 'y' or 'z') from pulse amplitudes
    /// <paramref name="a"/> and times <paramref name="t"/> in their traditional order
    /// (upstream input_shaper_set_shaper_params). Ignored (success) when the original
    /// kinematics does not use that axis; n = 0 disables shaping. Returns false for a bad
    /// axis, more than 10 pulses, or pulse times not strictly increasing.
    /// </summary>
    public bool SetShaperParams(char axis, int n, ReadOnlySpan<double> a, ReadOnlySpan<double> t)
    {
        SyncQueued();
        int axisInd = axis - 'x';
        if (axisInd < 0 || axisInd >= 3)
            return false;
        StepperKinematics orig = Orig();
        bool ok = true;
        if ((orig.ActiveFlags & AxisFlag(axisInd)) != 0)
        {
            ok = InitShaper(n, a, t, _sp[axisInd]);
            NoteGenerationTime();
        }
        return ok;
    }

    private StepperKinematics Orig() =>
        _origSk ?? throw new InvalidOperationException("input shaper kinematics used before SetSk");

    private static bool InitShaper(int n, ReadOnlySpan<double> a, ReadOnlySpan<double> t, ShaperPulses sp)
    {
        if (n < 0 || n > MaxPulses)
        {
            sp.NumPulses = 0;
            return false;
        }
        if (a.Length < n || t.Length < n)
            throw new ArgumentException($"shaper needs {n} amplitudes and times");
        for (int i = 1; i < n; ++i)
            if (t[i - 1] >= t[i])
                return false;
        double sumA = 0.0;
        for (int i = 0; i < n; ++i)
            sumA += a[i];
        double invA = 1.0 / sumA;
        // Stored reversed relative to the traditional definition (convolution looks back in time).
        for (int i = 0; i < n; ++i)
        {
            sp.A[n - i - 1] = a[i] * invA;
            sp.T[n - i - 1] = -t[i];
        }
        sp.NumPulses = n;
        ShiftPulses(sp);
        return true;
    }

    // Center the pulses on t=0 so constant-velocity motion passes through unchanged.
    private static void ShiftPulses(ShaperPulses sp)
    {
        double ts = 0.0;
        for (int i = 0; i < sp.NumPulses; ++i)
            ts += sp.A[i] * sp.T[i];
        for (int i = 0; i < sp.NumPulses; ++i)
            sp.T[i] -= ts;
        int p = 0;
        while (p < sp.NumPulses && !(sp.T[p] > 0))
            ++p;
        sp.PInd = p;
    }

    // Convolution of the axis position with the shaper pulses; pulses before p_ind look
    // back into earlier moves, the rest look ahead into later ones.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ShapedPosition<TAxis>(Move m, double moveTime, ShaperPulses sp)
        where TAxis : struct, IAxis
    {
        double res = 0.0;
        int numPulses = sp.NumPulses;
        double[] times = sp.T, amplitudes = sp.A;
        Move prev = m;
        double t = moveTime;
        for (int i = sp.PInd - 1; i >= 0; --i)
        {
            t += times[i];
            while (t < 0.0)
            {
                prev = prev.Prev!;
                t += prev.MoveT;
            }
            res += amplitudes[i] * AxisPosition<TAxis>(prev, t);
            t -= times[i];
        }
        t = moveTime;
        for (int i = sp.PInd; i < numPulses; ++i)
        {
            t += times[i];
            while (t > m.MoveT)
            {
                t -= m.MoveT;
                m = m.Next!;
            }
            res += amplitudes[i] * AxisPosition<TAxis>(m, t);
            t -= times[i];
        }
        return res;
    }

    // The original kinematics gets the shaped position as a motionless move's start
    // position. A cartesian stepper's position there is start + 0 * ((0 + 0 * t) * t),
    // which is the shaped position + 0.0 exactly, so that is returned without the call.
    public override double CalcPosition(Move m, double moveTime)
    {
        StepperKinematics orig = _origSk!;
        switch (_variant)
        {
            case Variant.X:
            {
                ShaperPulses sx = _sp[0];
                if (sx.NumPulses == 0)
                    return orig.CalcPosition(m, moveTime);
                if (orig.CartesianAxis == 0)
                    return ShapedPosition<AxisX>(m, moveTime, sx) + 0.0; // (what orig computes, below)
                _m.StartPos.X = ShapedPosition<AxisX>(m, moveTime, sx);
                return orig.CalcPosition(_m, DummyT);
            }
            case Variant.Y:
            {
                ShaperPulses sy = _sp[1];
                if (sy.NumPulses == 0)
                    return orig.CalcPosition(m, moveTime);
                if (orig.CartesianAxis == 1)
                    return ShapedPosition<AxisY>(m, moveTime, sy) + 0.0; // (what orig computes, below)
                _m.StartPos.Y = ShapedPosition<AxisY>(m, moveTime, sy);
                return orig.CalcPosition(_m, DummyT);
            }
            case Variant.Z:
            {
                ShaperPulses sz = _sp[2];
                if (sz.NumPulses == 0)
                    return orig.CalcPosition(m, moveTime);
                if (orig.CartesianAxis == 2)
                    return ShapedPosition<AxisZ>(m, moveTime, sz) + 0.0; // (what orig computes, below)
                _m.StartPos.Z = ShapedPosition<AxisZ>(m, moveTime, sz);
                return orig.CalcPosition(_m, DummyT);
            }
            case Variant.Xyz:
            {
                if (_sp[0].NumPulses == 0 && _sp[1].NumPulses == 0 && _sp[2].NumPulses == 0)
                    return orig.CalcPosition(m, moveTime);
                _m.StartPos = m.GetCoord(moveTime);
                if (_sp[0].NumPulses != 0)
                    _m.StartPos.X = ShapedPosition<AxisX>(m, moveTime, _sp[0]);
                if (_sp[1].NumPulses != 0)
                    _m.StartPos.Y = ShapedPosition<AxisY>(m, moveTime, _sp[1]);
                if (_sp[2].NumPulses != 0)
                    _m.StartPos.Z = ShapedPosition<AxisZ>(m, moveTime, _sp[2]);
                return orig.CalcPosition(_m, DummyT);
            }
            default:
                throw new InvalidOperationException("input shaper kinematics used before SetSk");
        }
    }

    // CalcPosition of a shaped cartesian stepper (see there), for the solver to inline.
    private struct ShapedCartesianPosition<TAxis> : IPositionSource
        where TAxis : struct, IAxis
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime) =>
            ShapedPosition<TAxis>(m, moveTime, Unsafe.As<InputShaperKinematics>(sk)._sp[TAxis.Index]) + 0.0;
    }

    // CalcPosition of a shaped corexy stepper: the wrapped kinematics' x+y or x-y of the
    // motionless move, each coordinate being its start position + 0.0 (see above).
    private struct ShapedCoreXYPosition<TSign> : IPositionSource
        where TSign : struct, IBeltSign
    {
        public readonly double Position(StepperKinematics sk, Move m, double moveTime)
        {
            ShaperPulses[] sp = Unsafe.As<InputShaperKinematics>(sk)._sp;
            ShaperPulses sx = sp[0], sy = sp[1];
            double x = (sx.NumPulses != 0 ? ShapedPosition<AxisX>(m, moveTime, sx) : AxisPosition<AxisX>(m, moveTime)) + 0.0;
            double y = (sy.NumPulses != 0 ? ShapedPosition<AxisY>(m, moveTime, sy) : AxisPosition<AxisY>(m, moveTime)) + 0.0;
            return TSign.Combine(x, y);
        }
    }

    private protected override int GenStepsRangeOther(StepCompress sc, Move m, double absStart, double absEnd)
    {
        int axis = _variant switch { Variant.X => 0, Variant.Y => 1, Variant.Z => 2, _ => -1 };
        if (axis >= 0 && _origSk!.CartesianAxis == axis && _sp[axis].NumPulses != 0)
        {
            return axis switch
            {
                0 => GenStepsRange<ShapedCartesianPosition<AxisX>>(sc, m, absStart, absEnd),
                1 => GenStepsRange<ShapedCartesianPosition<AxisY>>(sc, m, absStart, absEnd),
                _ => GenStepsRange<ShapedCartesianPosition<AxisZ>>(sc, m, absStart, absEnd),
            };
        }
        if (_variant == Variant.Xyz && _origSk is CoreXYStepperKinematics corexy
            && (_sp[0].NumPulses != 0 || _sp[1].NumPulses != 0))
        {
            return corexy.Plus
                ? GenStepsRange<ShapedCoreXYPosition<BeltPlus>>(sc, m, absStart, absEnd)
                : GenStepsRange<ShapedCoreXYPosition<BeltMinus>>(sc, m, absStart, absEnd);
        }
        return base.GenStepsRangeOther(sc, m, absStart, absEnd);
    }

    /// <summary>Forwards the fixup to the original kinematics when it has one (upstream shaper_commanded_pos_post_fixup).</summary>
    public override void PostCommandedPositionChange()
    {
        if (!_hasPostCb)
            return;
        StepperKinematics orig = _origSk!;
        orig.CommandedPos = CommandedPos;
        orig.PostCommandedPositionChange();
        CommandedPos = orig.CommandedPos;
    }

    // Step generation must look ahead/behind by the widest shaper of any active axis.
    private void NoteGenerationTime()
    {
        double preActive = 0.0, postActive = 0.0;
        ShaperPulses sx = _sp[0];
        if ((ActiveFlags & ActiveAxes.X) != 0 && sx.NumPulses != 0)
        {
            preActive = sx.T[sx.NumPulses - 1];
            postActive = -sx.T[0];
        }
        for (int axis = 1; axis < 3; axis++)
        {
            ShaperPulses sp = _sp[axis];
            if ((ActiveFlags & AxisFlag(axis)) != 0 && sp.NumPulses != 0)
            {
                preActive = sp.T[sp.NumPulses - 1] > preActive ? sp.T[sp.NumPulses - 1] : preActive;
                postActive = -sp.T[0] > postActive ? -sp.T[0] : postActive;
            }
        }
        GenStepsPreActive = preActive;
        GenStepsPostActive = postActive;
    }
}
