namespace Klipsharp.Motion;

/// <summary>Which cartesian axes a stepper's position depends on (itersolve's AF_* flags).</summary>
[Flags]
public enum ActiveAxes
{
    None = 0,
    X = 1 << 0,
    Y = 1 << 1,
    Z = 1 << 2,
}

/// <summary>
/// Per-stepper kinematics for the iterative solver (upstream chelper's
/// <c>struct stepper_kinematics</c>). Subclasses give the stepper position for a time
/// within a move; the solver (IterSolve.cs, the other part of this class) finds the
/// times at which that position crosses each half step.
/// </summary>
public abstract partial class StepperKinematics
{
    public double StepDist, CommandedPos;
    public double LastFlushTime, LastMoveTime;
    public TrapQ? TrapQ;
    public ActiveAxes ActiveFlags;
    public double GenStepsPreActive, GenStepsPostActive;

    // The manager whose queued rounds may be generating this stepper; changes from
    // outside step generation wait for them (see SteppersSyncManager.QueueGenSteps).
    internal SteppersSyncManager? Owner { get; set; }

    /// <summary>Wait for queued step generation that uses this stepper (call before changing its parameters).</summary>
    protected void SyncQueued() => Owner?.SyncForChange();

    /// <summary>Stepper position (in mm or radians, as the kinematics defines) at <paramref name="moveTime"/> within <paramref name="m"/>.</summary>
    public abstract double CalcPosition(Move m, double moveTime);

    /// <summary>Called after the commanded position changes (upstream's post_cb); most kinematics need nothing.</summary>
    public virtual void PostCommandedPositionChange()
    {
    }
}
