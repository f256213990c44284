using System.Diagnostics;

namespace Klipsharp.Host;

/// <summary>A timer registered with the <see cref="Reactor"/>; its callback returns the next wake time.</summary>
public sealed class ReactorTimer
{
    internal ReactorTimer(Func<double, double> callback, double waketime)
    {
        Callback = callback;
        WakeTime = waketime;
    }

    internal Func<double, double> Callback { get; }

    /// <summary>Next time (reactor monotonic seconds) the callback runs; <see cref="Reactor.Never"/> when idle.</summary>
    public double WakeTime { get; internal set; }

    internal bool Running;
}

/// <summary>A one-shot result that a paused caller can wait on (upstream's reactor completion).</summary>
public sealed class ReactorCompletion
{
    private readonly Reactor _reactor;
    private object? _result;

    internal ReactorCompletion(Reactor reactor) => _reactor = reactor;

    public bool IsComplete { get; private set; }

    public void Complete(object? result)
    {
        _result = result;
        IsComplete = true;
    }

    /// <summary>Waits (running other reactor work) until completed or <paramref name="waketime"/>; returns the result or <paramref name="waketimeResult"/>.</summary>
    public object? Wait(double waketime = Reactor.Never, object? waketimeResult = null)
    {
        _reactor.PauseUntil(() => IsComplete, waketime);
        return IsComplete ? _result : waketimeResult;
    }
}

/// <summary>
/// The single-threaded event loop (upstream reactor.py). Timers run on the reactor
/// thread; other threads hand work in with <see cref="RegisterAsyncCallback"/>.
/// Where klippy switches greenlets, <see cref="Pause"/> runs a nested dispatch loop
/// until the wake time, so code that waits (M109, M400, homing) keeps other timers
/// and incoming responses flowing. A timer is never re-entered while it runs.
/// </summary>
public sealed class Reactor
{
    public const double Never = 9999999999999999.9;
    public const double Now = 0.0;

    private readonly List<ReactorTimer> _timers = new();
    private readonly Queue<Action<double>> _asyncCallbacks = new();
    private readonly object _asyncLock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly long _startTicks = Stopwatch.GetTimestamp();
    private bool _running;
    private int _runDepth;
    private double _nextTimer = Never;

    /// <summary>Seconds since the reactor was created, from a monotonic clock.</summary>
    public double Monotonic() => Stopwatch.GetElapsedTime(_startTicks).TotalSeconds;

    public ReactorTimer RegisterTimer(Func<double, double> callback, double waketime = Never)
    {
        var timer = new ReactorTimer(callback, waketime);
        _timers.Add(timer);
        _nextTimer = Math.Min(_nextTimer, waketime);
        return timer;
    }

    private readonly List<Action<double>> _fds = new();

    /// <summary>Registers an always-readable handler dispatched before timers on each pass.</summary>
    public object RegisterFd(Action<double> onReadable)
    {
        _fds.Add(onReadable);
        _nextTimer = Now;
        return onReadable;
    }

    public void UnregisterFd(object handle) => _fds.Remove((Action<double>)handle);

    public void UnregisterTimer(ReactorTimer timer)
    {
        timer.WakeTime = Never;
        _timers.Remove(timer);
    }

    public void UpdateTimer(ReactorTimer timer, double waketime)
    {
        timer.WakeTime = waketime;
        _nextTimer = Math.Min(_nextTimer, waketime);
    }

    /// <summary>Runs <paramref name="callback"/> once from the reactor loop as soon as possible.</summary>
    public void RegisterCallback(Action<double> callback, double waketime = Now)
    {
        ReactorTimer? timer = null;
        timer = RegisterTimer(eventtime =>
        {
            UnregisterTimer(timer!);
            callback(eventtime);
            return Never;
        }, waketime);
    }

    /// <summary>Thread-safe: queues <paramref name="callback"/> to run on the reactor thread.</summary>
    public void RegisterAsyncCallback(Action<double> callback)
    {
        lock (_asyncLock)
            _asyncCallbacks.Enqueue(callback);
        _wake.Release();
    }

    public ReactorCompletion Completion() => new(this);

    /// <summary>Waits until <paramref name="waketime"/> while running other reactor work; returns the current time.</summary>
    public double Pause(double waketime)
    {
        if (_runDepth == 0)
        {
            // Outside Run (e.g. klippy:firmware_restart handlers after the loop ended) a pause
            // is a plain sleep, as upstream's: no timer or queued callback may run any more
            double delay = Math.Min(waketime - Monotonic(), 3600.0);
            if (delay > 0)
                Thread.Sleep(TimeSpan.FromSeconds(delay));
            return Monotonic();
        }
        // Like a greenlet switch, a pause always gives other work one reactor pass
        DispatchOnce(Monotonic(), nested: true);
        PauseUntil(static () => false, waketime);
        return Monotonic();
    }

    internal void PauseUntil(Func<bool> done, double waketime)
    {
        while (!done())
        {
            double now = Monotonic();
            if (now >= waketime)
                return;
            double next = DispatchOnce(now, nested: true);
            if (done() || !_running && next >= Never && waketime >= Never)
                return;
            WaitForWork(Math.Min(next, waketime));
        }
    }

    /// <summary>Runs the event loop until <see cref="End"/> is called.</summary>
    public void Run()
    {
        _running = true;
        _runDepth++;
        try
        {
            while (_running)
            {
                double next = DispatchOnce(Monotonic(), nested: false);
                if (!_running)
                    break;
                WaitForWork(next);
            }
        }
        finally
        {
            _runDepth--;
        }
    }

    public void End() => _running = false;

    public bool IsRunning => _running;

    private void WaitForWork(double waketime)
    {
        double delay = waketime - Monotonic();
        if (delay <= 0)
            return;
        int ms = delay >= 1.0 ? 1000 : Math.Max(1, (int)Math.Ceiling(delay * 1000.0));
        _wake.Wait(ms);
    }

    // Runs due async callbacks and timers once; returns the next timer wake time.
    // A nested pass (inside a pause) runs timers and thread callbacks but not file
    // input: without separate stacks, input handled there could wait on the very code
    // that paused (e.g. end-of-file waiting for a virtual SD print that is paused).
    private double DispatchOnce(double eventtime, bool nested)
    {
        while (true)
        {
            Action<double>? cb;
            lock (_asyncLock)
                _asyncCallbacks.TryDequeue(out cb);
            if (cb is null)
                break;
            cb(eventtime);
        }
        // File handlers first (upstream dispatches fd events before timers)
        foreach (var fd in nested ? [] : _fds.ToArray())
            if (_fds.Contains(fd))
                fd(eventtime);
        if (!nested && _fds.Count > 0)
            _nextTimer = Math.Min(_nextTimer, eventtime);
        if (eventtime >= _nextTimer)
        {
            // _nextTimer stays due until the scan ends: a callback that pauses runs nested
            // passes, and those must still see the timers that are due
            var snapshot = _timers.ToArray();
            foreach (var t in snapshot)
            {
                if (t.Running)
                    continue;
                if (eventtime >= t.WakeTime)
                {
                    t.WakeTime = Never;
                    t.Running = true;
                    double wake;
                    try
                    {
                        wake = t.Callback(eventtime);
                    }
                    finally
                    {
                        t.Running = false;
                    }
                    t.WakeTime = wake;
                }
            }
            double next = Never;
            foreach (var t in _timers)
                if (!t.Running)
                    next = Math.Min(next, t.WakeTime);
            if (!nested && _fds.Count > 0)
                next = Math.Min(next, Monotonic());
            _nextTimer = next;
        }
        return _nextTimer;
    }
}
