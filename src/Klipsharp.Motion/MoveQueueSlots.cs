namespace Klipsharp.Motion;

/// <summary>
/// The clocks at which an MCU's move-queue slots become free (upstream steppersync's
/// move_clocks heap). Only the earliest is ever read, and it is replaced by the
/// min_clock of each message sent. Those arrive in nearly ascending order (messages
/// go out in req_clock order), so the clocks are kept sorted in a ring: taking the
/// earliest is a step of the head, and a new clock is placed from the back, usually
/// at the back itself. Any order that yields the minimum gives upstream's values.
/// </summary>
public sealed class MoveQueueSlots
{
    private readonly ulong[] _clocks;
    private int _head;

    /// <summary><paramref name="count"/> slots, all free from clock 0.</summary>
    public MoveQueueSlots(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _clocks = new ulong[count];
    }

    /// <summary>Number of slots.</summary>
    public int Count => _clocks.Length;

    /// <summary>The earliest clock at which a slot is free.</summary>
    public ulong Earliest => _clocks[_head];

    /// <summary>Mark the earliest-free slot busy until <paramref name="clock"/>.</summary>
    public void ReplaceEarliest(ulong clock)
    {
        ulong[] c = _clocks;
        int n = c.Length;
        // The old head's cell becomes the back of the ring; walk forward from there
        // (backwards in order) past the clocks later than the new one.
        int pos = _head;
        _head = pos + 1 == n ? 0 : pos + 1;
        for (int moved = 1; moved < n; moved++)
        {
            int prev = pos == 0 ? n - 1 : pos - 1;
            if (c[prev] <= clock)
                break;
            c[pos] = c[prev];
            pos = prev;
        }
        c[pos] = clock;
    }
}
