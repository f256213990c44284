namespace Klipsharp.SimMcu;

/// <summary>What a timer callback asks for: run again at its (updated) wake time, or stop.</summary>
internal enum TimerResult
{
    Done,
    Reschedule,
}

/// <summary>A scheduled callback (firmware <c>struct timer</c>): a 32-bit wake time and a function.</summary>
internal sealed class SimTimer
{
    /// <summary>Wake time as a 32-bit clock (the firmware's <c>waketime</c>).</summary>
    public uint WakeTime;

    /// <summary>Callback; may change <see cref="WakeTime"/> and <see cref="Func"/>.</summary>
    public Func<SimTimer, TimerResult> Func = static _ => TimerResult.Done;

    internal long Wake64;
    internal long Order;
    internal bool Scheduled;
}

/// <summary>
/// The timer list (firmware sched.c): timers run in wake time order, first-in first-out
/// among equal times. 32-bit wake times are placed on the 64-bit clock by their signed
/// distance from now, so they wrap as the firmware's <c>timer_is_before</c> does.
/// </summary>
internal sealed class Scheduler
{
    // A binary heap keeps insertion free of allocations (a sorted set allocates a node per
    // insert, and a stepping MCU reinserts its timers thousands of times a second)
    private readonly PriorityQueue<SimTimer, (long Wake64, long Order)> _timers = new();
    private long _order;

    /// <summary>Number of scheduled timers.</summary>
    public int Count => _timers.Count;

    /// <summary>The next wake time (64-bit), or null when nothing is scheduled.</summary>
    public long? NextWake => _timers.TryPeek(out _, out var key) ? key.Wake64 : null;

    /// <summary>Places the timer at its wake time relative to <paramref name="now64"/>; true when that is in the past.</summary>
    public bool Add(SimTimer t, long now64)
    {
        Remove(t);
        Insert(t, now64 + (int)(t.WakeTime - (uint)now64));
        return t.Wake64 < now64;
    }

    /// <summary>Removes the timer if scheduled.</summary>
    public void Remove(SimTimer t)
    {
        if (!t.Scheduled)
            return;
        _timers.Remove(t, out _, out _, ReferenceEqualityComparer.Instance);
        t.Scheduled = false;
    }

    /// <summary>Removes every timer.</summary>
    public void Clear()
    {
        foreach (var (t, _) in _timers.UnorderedItems)
            t.Scheduled = false;
        _timers.Clear();
    }

    /// <summary>Takes the first timer if it is due at or before <paramref name="until64"/>.</summary>
    public SimTimer? PopDue(long until64)
    {
        if (!_timers.TryPeek(out var t, out var key) || key.Wake64 > until64)
            return null;
        _timers.Dequeue();
        t.Scheduled = false;
        return t;
    }

    /// <summary>Re-inserts a timer that ran at <paramref name="ranAt64"/> (its previous wake) after its callback updated the wake time.</summary>
    public void Reinsert(SimTimer t, long ranAt64, uint ranAt32)
    {
        Remove(t);
        Insert(t, ranAt64 + (int)(t.WakeTime - ranAt32));
    }

    private void Insert(SimTimer t, long wake64)
    {
        t.Wake64 = wake64;
        t.Order = _order++;
        t.Scheduled = true;
        _timers.Enqueue(t, (wake64, t.Order));
    }
}
