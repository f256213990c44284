using Klipsharp.Host.Configuration;

namespace Klipsharp.Host;

/// <summary>Start-up arguments of the host (upstream's start_args).</summary>
public sealed record StartArgs
{
    public required string ConfigFile { get; init; }

    /// <summary>G-code input file in batch mode (klippy's -i / debuginput).</summary>
    public string? DebugInput { get; init; }

    /// <summary>
    /// The open batch input; the host opens it once per process so that a printer started by
    /// RESTART continues reading where the previous one stopped (as klippy's gcode_fd).
    /// </summary>
    public Stream? DebugInputStream { get; init; }

    /// <summary>Output file of the binary MCU stream in batch mode (klippy's -o / debugoutput).</summary>
    public string? DebugOutput { get; init; }

    /// <summary>MCU name to dictionary path ("mcu" for the main one) in batch mode.</summary>
    public IReadOnlyDictionary<string, string> Dictionaries { get; init; } = new Dictionary<string, string>();

    public string StartReason { get; init; } = "startup";

    public string? LogFile { get; init; }

    /// <summary>
    /// Step times from closed-form roots where the kinematics allow (--closed-form-steps):
    /// faster, but not upstream's exact command stream (see StepperKinematics.ClosedFormSteps).
    /// </summary>
    public bool ClosedFormSteps { get; init; }
}

/// <summary>
/// The printer: owns the reactor, the registry of printer objects (one per config
/// section or helper), and the event bus (upstream klippy.py's Printer).
/// </summary>
public sealed class Printer
{
    public const string MessageReady = "Printer is ready";
    public const string MessageStartup = "Printer is not ready\nThe klippy host software is attempting to connect.  Please\nretry in a few moments.\n";
    public const string MessageRestart = "Once the underlying issue is corrected, use the \"RESTART\"\ncommand to reload the config and restart the host software.\nPrinter is halted\n";

    private readonly Dictionary<string, object> _objects = new();
    private readonly List<string> _objectOrder = new();
    private readonly Dictionary<string, List<Delegate>> _eventHandlers = new();

    public Printer(Reactor reactor, StartArgs startArgs)
    {
        Reactor = reactor;
        StartArgs = startArgs;
        StateMessage = MessageStartup;
    }

    public Reactor Reactor { get; }

    public StartArgs StartArgs { get; }

    public string StateMessage { get; private set; }

    public bool IsShutdown { get; private set; }

    /// <summary>Why the run ended ("exit", "error_exit", "restart", "firmware_restart"), or null while running.</summary>
    public string? RunResult { get; private set; }

    /// <summary>True when the MCU streams go to files (batch mode) instead of real MCUs.</summary>
    public bool IsFileOutput => StartArgs.DebugOutput is not null;

    /// <summary>The state category shown to users: ready, startup, shutdown or error.</summary>
    public string StateCategory =>
        StateMessage == MessageReady ? "ready"
        : StateMessage == MessageStartup ? "startup"
        : IsShutdown ? "shutdown" : "error";

    public void AddObject(string name, object obj)
    {
        if (_objects.ContainsKey(name))
            throw new ConfigError($"Printer object '{name}' already created");
        _objects[name] = obj;
        _objectOrder.Add(name);
    }

    public object LookupObject(string name) =>
        _objects.TryGetValue(name, out var obj) ? obj : throw new ConfigError($"Unknown config object '{name}'");

    public T LookupObject<T>(string name) where T : class => (T)LookupObject(name);

    public T? TryLookupObject<T>(string name) where T : class =>
        _objects.TryGetValue(name, out var obj) ? obj as T : null;

    /// <summary>Objects named <paramref name="module"/> or "<paramref name="module"/> suffix", the bare name first (upstream lookup_objects).</summary>
    public List<(string Name, object Obj)> LookupObjects(string? module = null)
    {
        var result = new List<(string, object)>();
        if (module is null)
        {
            foreach (var n in _objectOrder)
                result.Add((n, _objects[n]));
            return result;
        }
        if (_objects.TryGetValue(module, out var bare))
            result.Add((module, bare));
        string prefix = module + " ";
        foreach (var n in _objectOrder)
            if (n.StartsWith(prefix, StringComparison.Ordinal))
                result.Add((n, _objects[n]));
        return result;
    }

    /// <summary>Loads (once) the module for <paramref name="section"/>; throws when no such module exists.</summary>
    public object LoadObject(ConfigWrapper config, string section) =>
        TryLoadObject(config, section) ?? throw new ConfigError($"Unable to load module '{section}'");

    public T LoadObject<T>(ConfigWrapper config, string section) where T : class => (T)LoadObject(config, section);

    /// <summary>Loads (once) the module for <paramref name="section"/>; null when no module handles it.</summary>
    public object? TryLoadObject(ConfigWrapper config, string section)
    {
        if (_objects.TryGetValue(section, out var existing))
            return existing;
        var parts = section.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !PrinterModules.TryGetFactory(parts[0], parts.Length > 1, out var factory))
            return null;
        var obj = factory(config.GetSection(section));
        _objects[section] = obj;
        _objectOrder.Add(section);
        return obj;
    }

    public void RegisterEventHandler(string evt, Action callback) => AddHandler(evt, callback);

    public void RegisterEventHandler<T>(string evt, Action<T> callback) => AddHandler(evt, callback);

    public void RegisterEventHandler<T1, T2>(string evt, Action<T1, T2> callback) => AddHandler(evt, callback);

    private void AddHandler(string evt, Delegate callback)
    {
        if (!_eventHandlers.TryGetValue(evt, out var list))
            _eventHandlers[evt] = list = new List<Delegate>();
        list.Add(callback);
    }

    internal IReadOnlyList<Delegate> HandlersFor(string evt) => Handlers(evt);

    /// <summary>Details of the last connect error (the underlying protocol/MCU message).</summary>
    public string? LastErrorDetail { get; internal set; }

    private IReadOnlyList<Delegate> Handlers(string evt) =>
        _eventHandlers.TryGetValue(evt, out var list) ? list.ToArray() : Array.Empty<Delegate>();

    public void SendEvent(string evt)
    {
        foreach (var cb in Handlers(evt))
            ((Action)cb)();
    }

    public void SendEvent<T>(string evt, T arg)
    {
        foreach (var cb in Handlers(evt))
            ((Action<T>)cb)(arg);
    }

    public void SendEvent<T1, T2>(string evt, T1 arg1, T2 arg2)
    {
        foreach (var cb in Handlers(evt))
            ((Action<T1, T2>)cb)(arg1, arg2);
    }

    /// <summary>Handlers of <paramref name="evt"/> that take no arguments and return a value (e.g. homing:home_rails_begin results).</summary>
    public List<TResult> SendEventCollect<TResult>(string evt)
    {
        var results = new List<TResult>();
        foreach (var cb in Handlers(evt))
            results.Add(((Func<TResult>)cb)());
        return results;
    }

    public void RegisterEventHandler<TResult>(string evt, Func<TResult> callback) => AddHandler(evt, callback);

    /// <summary>The last error shown to the user (config error, shutdown reason, or failed G-code command in batch mode).</summary>
    public string? LastError { get; set; }

    internal void SetState(string msg)
    {
        if (msg != MessageReady)
            LastError = msg;
        if (StateMessage == MessageReady || StateMessage == MessageStartup)
            StateMessage = msg;
        if (msg != MessageReady && StartArgs.DebugInput is not null)
            RequestExit("error_exit");
    }

    /// <summary>Replaces the error message shown to users when it is still <paramref name="oldMsg"/>.</summary>
    public void UpdateErrorMessage(string oldMsg, string newMsg)
    {
        if (StateMessage != oldMsg || StateMessage == MessageReady || StateMessage == MessageStartup
            || newMsg == MessageReady || newMsg == MessageStartup)
            return;
        StateMessage = newMsg;
    }

    /// <summary>
    /// Enters the shutdown state: every shutdown handler runs, then the klippy:analyze_shutdown
    /// handlers get <paramref name="msg"/> and <paramref name="details"/> (they may rewrite the
    /// message shown to the user, e.g. "MCU 'mcu' shutdown: ...").
    /// </summary>
    /// <summary>
    /// Runs at shutdown before the "klippy:shutdown" handlers, so that background motion
    /// work (batch step generation) is finished and sent first, as it would have been
    /// without it.
    /// </summary>
    public Action? ShutdownBarrier { get; set; }

    public void InvokeShutdown(string msg, Dictionary<string, object?>? details = null)
    {
        if (IsShutdown)
            return;
        Log?.Invoke($"Transition to shutdown state: {msg}");
        IsShutdown = true;
        SetState(msg);
        try
        {
            ShutdownBarrier?.Invoke();
        }
        catch (Exception e)
        {
            Log?.Invoke($"Exception finishing background work at shutdown: {e}");
        }
        foreach (var cb in Handlers("klippy:shutdown"))
        {
            try
            {
                ((Action)cb)();
            }
            catch (Exception e)
            {
                Log?.Invoke($"Exception during shutdown handler: {e}");
            }
        }
        details ??= new Dictionary<string, object?>();
        foreach (var cb in Handlers("klippy:analyze_shutdown"))
        {
            try
            {
                ((Action<string, Dictionary<string, object?>>)cb)(msg, details);
            }
            catch (Exception e)
            {
                Log?.Invoke($"Exception in analyze_shutdown handler: {e}");
            }
        }
    }

    public void InvokeAsyncShutdown(string msg, Dictionary<string, object?>? details = null) =>
        Reactor.RegisterAsyncCallback(_ => InvokeShutdown(msg, details));

    public void RequestExit(string result)
    {
        RunResult ??= result;
        Reactor.End();
    }

    /// <summary>Where log lines go (stderr, a log file, or nowhere).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>
    /// Where errors go that the run survives but the user must see even with the log
    /// off (upstream logs them at ERROR level, which batch mode prints); null: to <see cref="Log"/>.
    /// </summary>
    public Action<string>? LogError { get; set; }

    /// <summary>Report an error that the run survives (see <see cref="LogError"/>).</summary>
    public void ReportError(string message) => (LogError ?? Log)?.Invoke(message);

    /// <summary>Marks the printer ready and runs the klippy:ready handlers.</summary>
    internal void SetReady()
    {
        SetState(MessageReady);
        foreach (var cb in Handlers("klippy:ready"))
        {
            if (StateMessage != MessageReady)
                return;
            ((Action)cb)();
        }
    }

    internal bool ConnectHandlersStillStarting() => StateMessage == MessageStartup;
}
