using System.Diagnostics;
using System.Runtime.ExceptionServices;

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

    /// <summary>Whether the callback runs without <see cref="Reactor.CallbackBarrier"/> first.</summary>
    public bool SkipsBarrier { get; set; }
}

/// <summary>A one-shot result that a paused caller can wait on (upstream's reactor completion).</summary>
public sealed class ReactorCompletion
{
    private readonly Reactor _reactor;
    private readonly List<ReactorGreenlet> _waiting = new();
    private object? _result;

    internal ReactorCompletion(Reactor reactor) => _reactor = reactor;

    public bool IsComplete { get; private set; }

    /// <summary>True once <see cref="Complete"/> was called.</summary>
    public bool Test() => IsComplete;

    public void Complete(object? result)
    {
        _result = result;
        IsComplete = true;
        foreach (var g in _waiting)
            if (g.Timer is not null)
                _reactor.UpdateTimer(g.Timer, Reactor.Now);
    }

    /// <summary>Waits (running other reactor work) until completed or <paramref name="waketime"/>; returns the result or <paramref name="waketimeResult"/>.</summary>
    public object? Wait(double waketime = Reactor.Never, object? waketimeResult = null)
    {
        if (IsComplete)
            return _result;
        var g = _reactor.CurrentGreenlet;
        if (g is null)
        {
            // Outside Run nothing can complete it: a plain sleep, as upstream's pause there
            if (waketime < Reactor.Never)
                _reactor.Pause(waketime);
            return IsComplete ? _result : waketimeResult;
        }
        _waiting.Add(g);
        _reactor.Pause(waketime);
        _waiting.Remove(g);
        return IsComplete ? _result : waketimeResult;
    }
}

/// <summary>A lock whose waiters pause in the reactor until it is free (upstream's ReactorMutex).</summary>
public sealed class ReactorMutex
{
    private readonly Reactor _reactor;
    private readonly List<ReactorGreenlet> _queue = new();
    private bool _isLocked;
    private bool _nextPending;

    internal ReactorMutex(Reactor reactor, bool isLocked)
    {
        _reactor = reactor;
        _isLocked = isLocked;
    }

    /// <summary>True while some caller holds the mutex.</summary>
    public bool Test() => _isLocked;

    /// <summary>Takes the mutex, pausing until it is free; dispose the result to release it.</summary>
    public Releaser Lock()
    {
        Enter();
        return new Releaser(this);
    }

    public void Enter()
    {
        if (!_isLocked)
        {
            _isLocked = true;
            return;
        }
        var g = _reactor.CurrentGreenlet
                ?? throw new InvalidOperationException("reactor mutex contended outside the reactor loop");
        _queue.Add(g);
        while (true)
        {
            _reactor.Pause(Reactor.Never);
            if (_nextPending && _queue[0] == g)
            {
                _nextPending = false;
                _queue.RemoveAt(0);
                return;
            }
        }
    }

    public void Exit()
    {
        if (_queue.Count == 0)
        {
            _isLocked = false;
            return;
        }
        _nextPending = true;
        if (_queue[0].Timer is { } timer)
            _reactor.UpdateTimer(timer, Reactor.Now);
    }

    /// <summary>Releases the mutex when disposed.</summary>
    public readonly struct Releaser : IDisposable
    {
        private readonly ReactorMutex _owner;

        internal Releaser(ReactorMutex owner) => _owner = owner;

        public void Dispose() => _owner.Exit();
    }
}

/// <summary>
/// One of the reactor's "greenlets": a dedicated thread that runs only while it holds the
/// baton. A switch hands the baton (and a value) to the target and blocks until some other
/// greenlet switches back, so exactly one of them runs reactor code at any time.
/// </summary>
internal sealed class ReactorGreenlet
{
    internal readonly SemaphoreSlim Signal = new(0);
    internal Thread? Thread;
    internal double Value;
    // The timer that resumes this greenlet while it is paused as a former dispatcher
    internal ReactorTimer? Timer;
    internal bool Dead;
    // Set by Reactor.Close: the next resume unwinds the greenlet's stack
    internal bool ThrowExit;
    // An exception that ended a child greenlet, rethrown here (the parent) on resume
    internal ExceptionDispatchInfo? PendingError;
}

/// <summary>
/// The event loop (upstream reactor.py) with upstream's greenlet model: timers, fd handlers
/// and callbacks run on a "dispatch greenlet"; a callback that pauses keeps its stack (its
/// thread) and a new or cached dispatcher takes over the loop, so independent waits (M109,
/// M400, homing, TMC queries) never block each other. Greenlets are threads that pass a
/// baton, so reactor code is still single-threaded; other threads hand work in with
/// <see cref="RegisterAsyncCallback"/>.
/// </summary>
public sealed class Reactor
{
    public const double Never = 9999999999999999.9;
    public const double Now = 0.0;

    private ReactorTimer[] _timers = [];
    private readonly Queue<Action<double>> _asyncCallbacks = new();
    private readonly object _asyncLock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly long _startTicks = Stopwatch.GetTimestamp();
    // Copy on write, like the timers: a pass iterates the handlers as they were when it began
    private Action<double>[] _fds = [];
    private volatile bool _running;
    private double _nextTimer = Never;

    // Greenlets: the one running, the current dispatcher, the thread in Run (parent of
    // every dispatcher), idle dispatchers and every greenlet created (for Close)
    private ReactorGreenlet? _current;
    private ReactorGreenlet? _gDispatch;
    private ReactorGreenlet? _main;
    private readonly List<ReactorGreenlet> _cachedDispatchGreenlets = new();
    private readonly List<ReactorGreenlet> _allGreenlets = new();
    private int _greenletCount;
    private bool _closing;

    /// <summary>Seconds since the reactor was created, from a monotonic clock.</summary>
    public double Monotonic() => Stopwatch.GetElapsedTime(_startTicks).TotalSeconds;

    internal ReactorGreenlet? CurrentGreenlet =>
        _gDispatch is not null && _current?.Thread == Thread.CurrentThread ? _current : null;

    // ---- timers

    public ReactorTimer RegisterTimer(Func<double, double> callback, double waketime = Never)
    {
        var timer = new ReactorTimer(callback, waketime);
        // Copy on write: a timer pass iterates the list as it was when the pass began
        var timers = new ReactorTimer[_timers.Length + 1];
        _timers.CopyTo(timers, 0);
        timers[^1] = timer;
        _timers = timers;
        _nextTimer = Math.Min(_nextTimer, waketime);
        return timer;
    }

    public void UnregisterTimer(ReactorTimer timer)
    {
        timer.WakeTime = Never;
        int i = Array.IndexOf(_timers, timer);
        if (i < 0)
            return;
        var timers = new ReactorTimer[_timers.Length - 1];
        Array.Copy(_timers, 0, timers, 0, i);
        Array.Copy(_timers, i + 1, timers, i, _timers.Length - i - 1);
        _timers = timers;
    }

    public void UpdateTimer(ReactorTimer timer, double waketime)
    {
        // A running timer gets its next wake time from its callback's result
        if (timer.Running)
            return;
        timer.WakeTime = waketime;
        _nextTimer = Math.Min(_nextTimer, waketime);
    }

    private void CheckTimers(double eventtime)
    {
        _nextTimer = Never;
        var gDispatch = _gDispatch;
        foreach (var t in _timers)
        {
            double waketime = t.WakeTime;
            if (eventtime >= waketime)
            {
                if (!t.SkipsBarrier)
                    CallbackBarrier?.Invoke();
                t.WakeTime = Never;
                t.Running = true;
                waketime = t.Callback(eventtime);
                t.WakeTime = waketime;
                t.Running = false;
                if (gDispatch != _gDispatch)
                {
                    // The callback paused and has finished on its own greenlet
                    _nextTimer = Math.Min(_nextTimer, waketime);
                    EndGreenlet(gDispatch!);
                    return;
                }
            }
            _nextTimer = Math.Min(_nextTimer, waketime);
        }
    }

    // ---- callbacks

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

    private bool AsyncPending()
    {
        lock (_asyncLock)
            return _asyncCallbacks.Count > 0;
    }

    // Upstream's pipe handler: queued thread callbacks become reactor callbacks (timers)
    private void GotPipeSignal()
    {
        while (_wake.CurrentCount > 0 && _wake.Wait(0))
        {
        }
        while (true)
        {
            Action<double>? cb;
            lock (_asyncLock)
                _asyncCallbacks.TryDequeue(out cb);
            if (cb is null)
                break;
            RegisterCallback(cb);
        }
    }

    public ReactorCompletion Completion() => new(this);

    /// <summary>A mutex whose waiters pause in the reactor (upstream reactor.mutex()).</summary>
    public ReactorMutex Mutex(bool isLocked = false) => new(this, isLocked);

    /// <summary>
    /// Runs before every timer callback (unless the timer skips it): lets background
    /// work that callbacks must not see half done finish first. File handlers (batch
    /// input) are responsible for themselves.
    /// </summary>
    public Action? CallbackBarrier { get; set; }

    // ---- file handlers

    /// <summary>Registers an always-readable handler (a batch input file) dispatched before timers on each pass.</summary>
    public object RegisterFd(Action<double> onReadable)
    {
        _fds = [.. _fds, onReadable];
        return onReadable;
    }

    public void UnregisterFd(object handle) => _fds = Array.FindAll(_fds, fd => fd != (Action<double>)handle);

    // ---- greenlets

    // Hands the baton (and a value) to target and waits for it to come back
    private double Switch(ReactorGreenlet target, double value)
    {
        var self = _current!;
        target.Value = value;
        _current = target;
        target.Signal.Release();
        self.Signal.Wait();
        return Resumed(self);
    }

    private static double Resumed(ReactorGreenlet self)
    {
        if (self.ThrowExit)
        {
            self.ThrowExit = false;
            throw new GreenletExit();
        }
        if (self.PendingError is { } error)
        {
            self.PendingError = null;
            error.Throw();
        }
        return self.Value;
    }

    private ReactorGreenlet NewDispatchGreenlet()
    {
        var g = new ReactorGreenlet();
        g.Thread = new Thread(() => GreenletMain(g))
        {
            IsBackground = true,
            Name = $"reactor-g{++_greenletCount}",
        };
        _allGreenlets.Add(g);
        g.Thread.Start();
        return g;
    }

    private void GreenletMain(ReactorGreenlet g)
    {
        g.Signal.Wait();
        ExceptionDispatchInfo? error = null;
        try
        {
            Resumed(g);
            DispatchLoop();
        }
        catch (GreenletExit)
        {
        }
        catch (Exception e)
        {
            error = ExceptionDispatchInfo.Capture(e);
        }
        // A finished greenlet returns to its parent, an exception with it
        g.Dead = true;
        var parent = _main!;
        parent.PendingError = error;
        parent.Value = 0.0;
        _current = parent;
        parent.Signal.Release();
    }

    private double SysPause(double waketime)
    {
        double delay = Math.Min(waketime - Monotonic(), 3600.0);
        if (delay > 0)
            Thread.Sleep((int)Math.Ceiling(delay * 1000.0));
        return Monotonic();
    }

    /// <summary>Waits until <paramref name="waketime"/> while running other reactor work; returns the current time.</summary>
    public double Pause(double waketime)
    {
        if (_gDispatch is null)
        {
            // A greenlet being unwound by Close must not go on waiting
            if (_closing && _current?.Thread == Thread.CurrentThread)
                throw new GreenletExit();
            // Outside Run (e.g. klippy:firmware_restart handlers after the loop ended) a pause
            // is a plain sleep, as upstream's: no timer or queued callback may run any more
            return SysPause(waketime);
        }
        var g = _current!;
        if (g.Thread != Thread.CurrentThread)
            throw new InvalidOperationException("Reactor.Pause called from a thread that is not running the reactor");
        if (g != _gDispatch)
        {
            // Resumed from its timer earlier: the dispatcher's timer pass takes the wake time
            return Switch(_gDispatch, waketime);
        }
        // Pausing the dispatcher: a timer resumes this greenlet, another one dispatches
        var self = g;
        g.Timer = RegisterTimer(eventtime => Switch(self, eventtime), waketime);
        _nextTimer = Now;
        if (_cachedDispatchGreenlets.Count > 0)
        {
            var gNext = _cachedDispatchGreenlets[^1];
            _cachedDispatchGreenlets.RemoveAt(_cachedDispatchGreenlets.Count - 1);
            return Switch(gNext, 0.0);
        }
        // Run creates a new dispatcher
        return Switch(_main!, 0.0);
    }

    // A callback that paused has finished: park its greenlet for reuse and give the loop
    // back to the dispatcher that resumed it
    private void EndGreenlet(ReactorGreenlet gOld)
    {
        if (gOld.Timer is not null)
            UnregisterTimer(gOld.Timer);
        gOld.Timer = null;
        if (_gDispatch is null)
            throw new GreenletExit();
        _cachedDispatchGreenlets.Add(gOld);
        Switch(_gDispatch, Never);
        // Reactivated by a pause: this greenlet is the dispatcher again
        _gDispatch = gOld;
    }

    // ---- main loop

    private void DispatchLoop()
    {
        double eventtime = 0.0;
        bool busy = true;
        while (_running)
        {
            double timeout = 0.0;
            if (!busy)
                timeout = Math.Min(1.0, Math.Max(0.001, _nextTimer - eventtime));
            // "poll": the thread-callback queue and the (always readable) file handlers
            var fds = _fds;
            bool pipeReady = AsyncPending();
            if (!pipeReady && fds.Length == 0 && timeout > 0.0)
            {
                _wake.Wait((int)Math.Ceiling(timeout * 1000.0));
                pipeReady = AsyncPending();
            }
            eventtime = Monotonic();
            busy = false;
            if (pipeReady || fds.Length > 0)
            {
                busy = true;
                if (DispatchFdEvents(eventtime, pipeReady, fds))
                    continue;
            }
            if (eventtime >= _nextTimer)
            {
                busy = true;
                CheckTimers(eventtime);
            }
        }
    }

    private bool DispatchFdEvents(double eventtime, bool pipeReady, Action<double>[] fds)
    {
        var gDispatch = _gDispatch;
        if (pipeReady)
            GotPipeSignal();
        foreach (var fd in fds)
        {
            if (Array.IndexOf(_fds, fd) < 0)
                continue;
            fd(eventtime);
            if (gDispatch != _gDispatch)
            {
                EndGreenlet(gDispatch!);
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Runs the event loop until <see cref="End"/> is called. An exception escaping a
    /// callback ends the loop and is thrown here; paused callbacks stay paused, so Run may
    /// be called again (klippy's shutdown after an unhandled exception).
    /// </summary>
    public void Run()
    {
        if (_main is not null)
            throw new InvalidOperationException("Reactor.Run is already running");
        _running = true;
        var main = new ReactorGreenlet { Thread = Thread.CurrentThread };
        _main = main;
        _current = main;
        try
        {
            while (_running)
            {
                // Returns when a dispatcher pauses with no idle one to take over, when the
                // loop ends, or with the exception that ended a dispatcher
                var g = NewDispatchGreenlet();
                _gDispatch = g;
                Switch(g, 0.0);
            }
        }
        finally
        {
            _gDispatch = null;
            _main = null;
            _current = null;
        }
    }

    /// <summary>Asks <see cref="Run"/> to return.</summary>
    public void End()
    {
        _running = false;
        _wake.Release();
    }

    public bool IsRunning => _running;

    /// <summary>
    /// Unwinds every paused callback (upstream's finalize): each one's pause throws so its
    /// finally blocks run, and its thread exits. Call after <see cref="Run"/> returned.
    /// </summary>
    public void Close()
    {
        if (_main is not null)
            throw new InvalidOperationException("Reactor.Close while Run is running");
        _cachedDispatchGreenlets.Clear();
        var closer = new ReactorGreenlet { Thread = Thread.CurrentThread };
        _main = closer;
        _current = closer;
        _closing = true;
        try
        {
            foreach (var g in _allGreenlets)
            {
                if (g.Dead)
                    continue;
                g.ThrowExit = true;
                try
                {
                    Switch(g, 0.0);
                }
                catch (Exception)
                {
                    // Like upstream, an error while a greenlet unwinds does not stop the others
                }
            }
            _allGreenlets.Clear();
        }
        finally
        {
            _closing = false;
            _main = null;
            _current = null;
        }
    }

    // Thrown from a paused greenlet's Pause by Close (upstream's GreenletExit)
    private sealed class GreenletExit : Exception
    {
        public GreenletExit() : base("reactor greenlet exit")
        {
        }
    }
}
