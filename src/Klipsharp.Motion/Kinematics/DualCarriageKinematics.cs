namespace Klipsharp.Motion;

/// <summary>
/// IDEX dual carriage stepper kinematics (upstream kin_idex.c): wraps a carriage's
/// original kinematics and feeds it the toolhead position transformed per axis by
/// scale and offset (copy and mirror modes, or a parked carriage with scale 0).
/// </summary>
public sealed class DualCarriageKinematics : StepperKinematics
{
    // The original kinematics is evaluated on a private motionless move at this time.
    private const double DummyT = 500.0;

    private readonly Move _m = new() { MoveT = 2.0 * DummyT };
    private StepperKinematics? _origSk;
    private double _xScale = 1.0, _xOffs, _yScale = 1.0, _yOffs;

    /// <summary>The wrapped kinematics, or null before <see cref="SetSk"/>.</summary>
    public StepperKinematics? OriginalKinematics => _origSk;

    /// <summary>Wraps <paramref name="origSk"/> and takes its active axes (upstream dual_carriage_set_sk).</summary>
    public void SetSk(StepperKinematics origSk)
    {
        SyncQueued();
        ActiveFlags = origSk.ActiveFlags;
        _origSk = origSk;
    }

    /// <summary>
    /// Sets position = toolhead * scale + offs for <paramref name="axis"/> 'x' or 'y'
    /// (upstream dual_carriage_set_transform); scale 0 makes the axis inactive. Returns
    /// false for any other axis.
    /// </summary>
    public bool SetTransform(char axis, double scale, double offs)
    {
        SyncQueued();
        if (axis == 'x')
        {
            _xScale = scale;
            _xOffs = offs;
            UpdateAxisFlag(ActiveAxes.X, scale);
            return true;
        }
        if (axis == 'y')
        {
            _yScale = scale;
            _yOffs = offs;
            UpdateAxisFlag(ActiveAxes.Y, scale);
            return true;
        }
        return false;
    }

    private void UpdateAxisFlag(ActiveAxes flag, double scale)
    {
        // NaN counts as non-zero, as in C.
        if (scale == 0)
            ActiveFlags &= ~flag;
        else if ((Orig().ActiveFlags & flag) != 0)
            ActiveFlags |= flag;
    }

    private StepperKinematics Orig() =>
        _origSk ?? throw new InvalidOperationException("dual carriage kinematics used before SetSk");

    // The carriage position is linear in the toolhead position, so the wrapped
    // kinematics' linear form carries over with the scales and offsets folded in.
    internal override bool LinearForm(out Coord weights, out double offset)
    {
        if (_origSk is null || !_origSk.LinearForm(out Coord w, out double origOffset))
        {
            weights = default;
            offset = 0.0;
            return false;
        }
        weights = new Coord(w.X * _xScale, w.Y * _yScale, w.Z);
        offset = origOffset + w.X * _xOffs + w.Y * _yOffs;
        return true;
    }

    public override double CalcPosition(Move m, double moveTime)
    {
        StepperKinematics orig = Orig();
        Coord pos = m.GetCoord(moveTime);
        _m.StartPos.X = pos.X * _xScale + _xOffs;
        _m.StartPos.Y = pos.Y * _yScale + _yOffs;
        _m.StartPos.Z = pos.Z;
        return orig.CalcPosition(_m, DummyT);
    }
}
