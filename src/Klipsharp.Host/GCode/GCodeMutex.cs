namespace Klipsharp.Host.GCode;

/// <summary>
/// A reactor-aware mutex (upstream reactor.mutex()): a holder that pauses keeps it locked,
/// and another caller waits (running reactor work) until it is released.
/// </summary>
public sealed class GCodeMutex
{
    private readonly Reactor _reactor;
    private bool _locked;

    public GCodeMutex(Reactor reactor) => _reactor = reactor;

    /// <summary>True while some caller holds the mutex.</summary>
    public bool Test() => _locked;

    /// <summary>Takes the mutex, waiting while another caller holds it; dispose the result to release.</summary>
    public Releaser Lock()
    {
        while (_locked)
            _reactor.Pause(_reactor.Monotonic() + 0.010);
        _locked = true;
        return new Releaser(this);
    }

    /// <summary>Releases the mutex when disposed.</summary>
    public readonly struct Releaser : IDisposable
    {
        private readonly GCodeMutex _owner;

        internal Releaser(GCodeMutex owner) => _owner = owner;

        public void Dispose() => _owner._locked = false;
    }
}
