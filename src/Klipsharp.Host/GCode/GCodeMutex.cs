namespace Klipsharp.Host.GCode;

/// <summary>
/// The G-code mutex (upstream reactor.mutex() as used by gcode.py). Upstream a second
/// caller sleeps in its own greenlet until the holder is done. Here everything runs on one
/// stack: a contended caller is always nested inside the holder's wait (M109, G4 ...), so
/// waiting would never end; it runs at once instead, inside the holder's wait.
/// </summary>
public sealed class GCodeMutex
{
    private int _depth;

    public GCodeMutex(Reactor reactor)
    {
        _ = reactor;
    }

    /// <summary>True while some caller holds the mutex.</summary>
    public bool Test() => _depth > 0;

    /// <summary>Takes the mutex; dispose the result to release it.</summary>
    public Releaser Lock()
    {
        _depth++;
        return new Releaser(this);
    }

    /// <summary>Releases the mutex when disposed.</summary>
    public readonly struct Releaser : IDisposable
    {
        private readonly GCodeMutex _owner;

        internal Releaser(GCodeMutex owner) => _owner = owner;

        public void Dispose() => _owner._depth--;
    }
}
