using System.Runtime.ExceptionServices;
using System.Text;
using Klipsharp.Host.Tests.Conformance;
using Klipsharp.SimMcu;
using Klipsharp.Verbs;

namespace Klipsharp.Host.Tests.Live;

/// <summary>
/// Runs the live host (PrinterHost.Run, as <c>klipsharp run</c> does) on a background
/// thread against the built-in simulated MCU, with a private copy of
/// config/sim-cartesian.cfg whose virtual_sdcard is a temporary directory.
/// </summary>
internal sealed class LiveHost : IDisposable
{
    private readonly SimulatedMcuPool? _pool;
    private readonly SimulatedMcu? _sim;
    private readonly Thread _thread;
    private readonly object _lock = new();
    private readonly List<string> _log = new();
    private readonly List<string> _responses = new();
    private Printer? _printer;
    private (string Result, string? LastError)? _result;
    private Exception? _crash;

    /// <param name="adjustConfig">Edits the copied config (its path) before the host starts.</param>
    /// <param name="printGcode">Written to part.gcode in the sdcard directory before the host starts.</param>
    /// <param name="makeJob">Creates the print job from the full path of part.gcode.</param>
    /// <param name="withTty">Serve G-code on an in-memory "pseudo-terminal" (see <see cref="TtyWrite"/>, <see cref="TtyText"/>).</param>
    /// <param name="configText">A whole config to use instead of sim-cartesian.cfg.</param>
    /// <param name="links">Openers of MCU links by <c>serial:</c> prefix (HostOptions.SimulatedLinkFactory); other serials go to the simulated MCU pool.</param>
    public LiveHost(string? extraConfig = null, Action<string>? adjustConfig = null, string? printGcode = null,
                    Func<string, PrintJob>? makeJob = null, bool withTty = false, string? configText = null,
                    IReadOnlyDictionary<string, Func<string, Stream>>? links = null)
    {
        Dir = Directory.CreateTempSubdirectory("ks-live-").FullName;
        string cfg;
        if (configText is not null)
        {
            cfg = configText;
        }
        else
        {
            cfg = File.ReadAllText(Path.Combine(RepoPaths.Root, "config", "sim-cartesian.cfg"));
            File.Copy(Path.Combine(RepoPaths.Root, "config", "sim-cartesian.json"), Path.Combine(Dir, "sim-cartesian.json"));
            cfg = cfg.Replace("path: config", "path: " + Dir);
        }
        if (extraConfig is not null)
            cfg += "\n" + extraConfig + "\n";
        ConfigPath = Path.Combine(Dir, "printer.cfg");
        File.WriteAllText(ConfigPath, cfg);
        adjustConfig?.Invoke(ConfigPath);
        string part = Path.Combine(Dir, "part.gcode");
        if (printGcode is not null)
            File.WriteAllText(part, printGcode);
        var job = makeJob?.Invoke(part);
        Job = job;
        JitWarmup.Start();
        if (configText is null)
        {
            _pool = new SimulatedMcuPool(Dir);
            _sim = _pool.Get("sim:atmega2560:sim-cartesian.json");
        }
        Stream OpenLink(string serial)
        {
            foreach (var (prefix, open) in links ?? new Dictionary<string, Func<string, Stream>>())
                if (serial.StartsWith(prefix, StringComparison.Ordinal))
                    return open(serial);
            return _pool?.OpenLink(serial) ?? throw new ArgumentException($"no link for serial '{serial}'");
        }
        if (withTty)
        {
            var (hostEnd, clientEnd) = Klipsharp.Host.Serial.DuplexPipe.CreateTransportPair();
            _tty = GCodeTty.FromTransport(hostEnd);
            _ttyClient = clientEnd;
            new Thread(ReadTty) { IsBackground = true, Name = "tty-client" }.Start();
        }
        var options = new HostOptions
        {
            SimulatedLinkFactory = OpenLink,
            GCodeInput = _tty,
            RestartDelay = 0.0,
            OnPrinterCreated = p =>
            {
                lock (_lock)
                    _printer = p;
                p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RegisterOutputHandler(msg =>
                {
                    lock (_lock)
                        _responses.Add(msg);
                });
                job?.Attach(p);
            },
        };
        var args = new StartArgs { ConfigFile = ConfigPath };
        _thread = new Thread(() =>
        {
            try
            {
                var r = PrinterHost.Run(args, Log, options);
                lock (_lock)
                    _result = r;
            }
            catch (Exception e)
            {
                lock (_lock)
                    _crash = e;
            }
        }) { IsBackground = true, Name = "live-host" };
        _thread.Start();
    }

    private readonly GCodeTty? _tty;
    private readonly Klipsharp.Host.Serial.IMcuTransport? _ttyClient;
    private readonly StringBuilder _ttyText = new();

    private void ReadTty()
    {
        var buf = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = _ttyClient!.Read(buf);
            }
            catch (Exception)
            {
                return;
            }
            if (n <= 0)
                return;
            lock (_lock)
                _ttyText.Append(Encoding.UTF8.GetString(buf, 0, n));
        }
    }

    /// <summary>Sends text to the host's G-code input, as a terminal program would.</summary>
    public void TtyWrite(string text) => _ttyClient!.Write(Encoding.UTF8.GetBytes(text));

    /// <summary>Everything the host answered on its G-code terminal so far.</summary>
    public string TtyText
    {
        get
        {
            lock (_lock)
                return _ttyText.ToString();
        }
    }

    public string Dir { get; }

    public string ConfigPath { get; }

    public SimulatedMcu Sim => _sim ?? throw new InvalidOperationException("no simulated MCU (custom links)");

    public PrintJob? Job { get; }

    public Printer Printer
    {
        get
        {
            lock (_lock)
                return _printer ?? throw new InvalidOperationException("no printer yet");
        }
    }

    public string LogText
    {
        get
        {
            lock (_lock)
                return string.Join("\n", _log);
        }
    }

    public List<string> Responses
    {
        get
        {
            lock (_lock)
                return _responses.ToList();
        }
    }

    private void Log(string msg)
    {
        lock (_lock)
            _log.Add(msg);
    }

    private static readonly string[] OverloadReasons =
        ["Timer too close", "Rescheduled timer in the past", "Stepper too far in past", "Missed scheduling of next"];

    /// <summary>Throws <see cref="HostOverloadedException"/> when the MCU shut down because the host was late (a starved machine).</summary>
    public void ThrowIfOverloaded()
    {
        if (_sim is null)
            return;
        string reason = _sim.IsShutdown ? _sim.ShutdownReason : "";
        if (OverloadReasons.Any(r => reason.StartsWith(r, StringComparison.Ordinal)))
            throw new HostOverloadedException($"MCU shutdown '{reason}'\nlog:\n{LogText}");
    }

    /// <summary>Waits until <paramref name="cond"/> holds; fails with the log after <paramref name="timeout"/> seconds.</summary>
    public void WaitFor(Func<bool> cond, string what, double timeout = 60.0)
    {
        var end = DateTime.UtcNow.AddSeconds(timeout);
        while (!cond())
        {
            lock (_lock)
            {
                if (_crash is not null)
                    ExceptionDispatchInfo.Throw(_crash);
            }
            if (DateTime.UtcNow > end)
            {
                ThrowIfOverloaded();
                Assert.Fail($"timed out waiting for {what}\nstate: {SafeState()}\nlog:\n{LogText}");
            }
            Thread.Sleep(50);
        }
    }

    private string SafeState()
    {
        lock (_lock)
            return _printer?.StateMessage ?? "(no printer)";
    }

    public void WaitReady(double timeout = 60.0) =>
        WaitFor(() =>
        {
            lock (_lock)
                return _printer is not null && _printer.StateMessage == Printer.MessageReady;
        }, "the printer to become ready", timeout);

    /// <summary>Runs <paramref name="body"/> on the reactor thread and returns its result (exceptions are rethrown here).</summary>
    public T OnReactor<T>(Func<Printer, T> body, double timeout = 60.0)
    {
        var p = Printer;
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        p.Reactor.RegisterAsyncCallback(_ =>
        {
            try
            {
                tcs.SetResult(body(p));
            }
            catch (Exception e)
            {
                tcs.SetException(e);
            }
        });
        var end = DateTime.UtcNow.AddSeconds(timeout);
        while (!((IAsyncResult)tcs.Task).AsyncWaitHandle.WaitOne(100))
        {
            if (!_thread.IsAlive || p.RunResult is not null)
            {
                // The body itself may have asked the host to stop (FIRMWARE_RESTART): its
                // result follows right after
                if (tcs.Task.Wait(TimeSpan.FromSeconds(2)))
                    break;
                ThrowIfOverloaded();
                throw new HostStoppedException($"the host stopped ({p.RunResult}): {p.StateMessage}\nlog:\n{LogText}");
            }
            if (DateTime.UtcNow > end)
                Assert.Fail($"reactor did not run the request\nlog:\n{LogText}");
        }
        // With one MCU the trsync expires 250 ms after its last extension: a homing that
        // ends in a communication timeout had a host stalled that long (a starved machine)
        // (homing reports it as "Error during homing stepper_z: Communication timeout during homing")
        if (tcs.Task.Exception?.InnerException is CommandError ce
            && ce.Message.EndsWith("Communication timeout during homing", StringComparison.Ordinal))
            throw new HostOverloadedException($"{ce.Message}\nlog:\n{LogText}");
        return tcs.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> again (up to three times in all) when the host was
    /// too late for the MCU: a real-time host on a starved machine can be late with a
    /// message, and the MCU then shuts down as a real one would ("Timer too close" and
    /// friends). That is the machine, not the behaviour under test; a real fault fails
    /// every attempt.
    /// </summary>
    public static void RetryWhenOverloaded(Action attempt)
    {
        for (int i = 1; ; i++)
        {
            try
            {
                attempt();
                return;
            }
            catch (HostOverloadedException) when (i < 3)
            {
            }
        }
    }

    /// <summary>Runs a G-code script as the API would and returns the responses it produced.</summary>
    public List<string> Gcode(string script, double timeout = 60.0)
    {
        int before;
        lock (_lock)
            before = _responses.Count;
        OnReactor(p =>
        {
            p.LookupObject<Klipsharp.Host.GCode.GCodeDispatch>("gcode").RunScript(script);
            return 0;
        }, timeout);
        lock (_lock)
            return _responses.Skip(before).ToList();
    }

    /// <summary>Asks the host to exit and waits for PrinterHost.Run to return.</summary>
    public (string Result, string? LastError) Exit(double timeout = 30.0)
    {
        Printer p;
        lock (_lock)
            p = _printer!;
        bool done;
        lock (_lock)
            done = _result is not null;
        if (!done)
            p.Reactor.RegisterAsyncCallback(_ => p.RequestExit("exit"));
        return WaitExit(timeout);
    }

    /// <summary>Waits for PrinterHost.Run to return by itself.</summary>
    public (string Result, string? LastError) WaitExit(double timeout = 60.0)
    {
        if (!_thread.Join(TimeSpan.FromSeconds(timeout)))
            Assert.Fail($"host did not exit\nlog:\n{LogText}");
        lock (_lock)
        {
            if (_crash is not null)
                ExceptionDispatchInfo.Throw(_crash);
            return _result!.Value;
        }
    }

    public void Dispose()
    {
        if (_thread.IsAlive)
        {
            try
            {
                var p = _printer;
                p?.Reactor.RegisterAsyncCallback(_ => p.RequestExit("exit"));
                _thread.Join(TimeSpan.FromSeconds(20));
            }
            catch (Exception)
            {
            }
        }
        _pool?.Dispose();
        _tty?.Dispose();
        _ttyClient?.Dispose();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A request could not run because the host already stopped.</summary>
internal sealed class HostStoppedException(string message) : Exception(message);

/// <summary>The MCU shut down because the host was too late with a message (an overloaded machine).</summary>
internal sealed class HostOverloadedException(string message) : Exception(message);
