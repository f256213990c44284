using System.Diagnostics;

namespace Klipsharp.SimMcu;

/// <summary>
/// The MCU's timer counter. In real-time mode it follows the wall clock scaled to
/// CLOCK_FREQ; in manual mode it only moves when told to (deterministic tests). While a
/// timer runs, the clock reads that timer's wake time, as if the MCU were infinitely fast.
/// </summary>
public sealed class SimClock
{
    private readonly long _freq;
    private long _manual;
    private readonly long _stamp;
    private long? _frozen;

    /// <summary>Creates a clock at tick 0.</summary>
    public SimClock(long freq, bool realTime)
    {
        _freq = freq;
        RealTime = realTime;
        _stamp = Stopwatch.GetTimestamp();
    }

    /// <summary>Ticks per second.</summary>
    public long Frequency => _freq;

    /// <summary>True when the clock follows the wall clock.</summary>
    public bool RealTime { get; }

    /// <summary>Current 64-bit tick count.</summary>
    public long Now64
    {
        get
        {
            if (_frozen is long d)
                return d;
            return RealTime ? WallTicks() : _manual;
        }
    }

    /// <summary>Current 32-bit timer value (what <c>timer_read_time</c> returns).</summary>
    public uint Now32 => (uint)Now64;

    /// <summary>Seconds since tick 0.</summary>
    public double Seconds => (double)Now64 / _freq;

    /// <summary>Converts a tick count to seconds.</summary>
    public double ToSeconds(long ticks) => (double)ticks / _freq;

    /// <summary>Manual mode: moves the clock forward to <paramref name="ticks"/> (never back).</summary>
    public void SetManual(long ticks)
    {
        if (ticks > _manual)
            _manual = ticks;
    }

    /// <summary>Real-time mode: seconds of wall time until tick <paramref name="ticks"/>.</summary>
    internal double SecondsUntil(long ticks) => (double)(ticks - WallTicks()) / _freq;

    /// <summary>Real-time mode: the wall clock in ticks, ignoring any freeze.</summary>
    internal long WallTicks() =>
        (long)((Int128)(Stopwatch.GetTimestamp() - _stamp) * _freq / Stopwatch.Frequency);

    // The clock reads a fixed value while a timer runs (its wake time) or while one
    // batch of input is processed, so every reading in that step agrees.
    internal void Freeze(long ticks) => _frozen = ticks;

    internal void Unfreeze() => _frozen = null;
}
