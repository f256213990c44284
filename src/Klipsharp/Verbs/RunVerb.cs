using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Klipsharp.Host;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.SimMcu;

namespace Klipsharp.Verbs;

/// <summary>
/// <c>run CONFIG [-I PTY] [-l LOG] [-v] [--print FILE]</c>: the live printer host (upstream
/// klippy without -o). MCUs are reached through their <c>serial:</c> option; <c>sim:BOARD</c>
/// (optionally <c>sim:BOARD:MACHINE.json</c>, relative to the config file) starts the
/// built-in simulated MCU in this process. G-code comes from the pseudo-terminal PTY;
/// with <c>--print FILE</c> the file is printed through virtual_sdcard with a progress
/// display, and the host exits when the print is done (status 0) or failed (status 1).
/// </summary>
public static class RunVerb
{
    private const string Usage =
        "usage: klipsharp run CONFIG [-I PTY] [-l LOG] [-v] [--print FILE]\n" +
        "  -I PTY        G-code pseudo-terminal to create (default /tmp/printer; with --print only when given)\n" +
        "  -l LOG        write the log to LOG (default: stderr; with --print: discarded)\n" +
        "  -v            with --print, also show the log on stderr\n" +
        "  --print FILE  print FILE (inside the config's [virtual_sdcard] path) and exit when done\n" +
        "  --closed-form-steps  step times from closed-form roots where the kinematics allow:\n" +
        "                less CPU; steps within a clock or two of upstream's before compression\n" +
        "  [mcu] serial: sim:atmega2560[:MACHINE.json] runs the built-in simulated MCU\n";

    /// <summary>Runs the verb; returns the exit status.</summary>
    public static int Run(string[] args)
    {
        string? config = null, tty = null, logFile = null, printFile = null;
        bool verbose = false, closedFormSteps = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (a)
            {
                case "-I" or "--input-tty":
                    tty = Next() ?? "";
                    if (tty.Length == 0)
                        return Fail($"option {a} needs a path");
                    break;
                case "-l" or "--logfile":
                    logFile = Next();
                    if (logFile is null)
                        return Fail($"option {a} needs a file name");
                    break;
                case "--print":
                    printFile = Next();
                    if (printFile is null)
                        return Fail("option --print needs a file name");
                    break;
                case "-v":
                    verbose = true;
                    break;
                case "--closed-form-steps":
                    closedFormSteps = true;
                    break;
                case "-h" or "--help":
                    Console.Error.Write(Usage);
                    return 0;
                default:
                    if (a.StartsWith('-') && a.Length > 1)
                        return Fail($"no such option: {a}");
                    if (config is not null)
                        return Fail("Incorrect number of arguments");
                    config = a;
                    break;
            }
        }
        if (config is null)
            return Fail("Incorrect number of arguments");
        if (!File.Exists(config))
            return Fail($"Unable to open config file {config}");
        if (printFile is not null && !File.Exists(printFile))
            return Fail($"Unable to open G-code file '{printFile}'");
        if (printFile is null)
            tty ??= "/tmp/printer";

        TextWriter? logWriter = null;
        var logLock = new object();
        try
        {
            if (logFile is not null)
                logWriter = new StreamWriter(logFile, append: false) { AutoFlush = true };
            else if (printFile is null || verbose)
                logWriter = Console.Error;
            void Log(string msg)
            {
                if (logWriter is null)
                    return;
                lock (logLock)
                    logWriter.WriteLine(msg);
            }

            JitWarmup.Start();
            using var sims = new SimulatedMcuPool(Path.GetDirectoryName(Path.GetFullPath(config)) ?? ".", Log);
            GCodeTty? gcodeTty = null;
            if (tty is not null)
            {
                try
                {
                    gcodeTty = GCodeTty.Create(tty);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return Fail($"Unable to create pseudo-terminal '{tty}': {e.Message}");
                }
                Log($"G-code input on {tty}");
            }
            using var ttyDispose = gcodeTty;
            var job = printFile is null ? null : new PrintJob(printFile) { Display = new ProgressDisplay(Console.Out) };
            Printer? current = null;
            var options = new HostOptions
            {
                SimulatedLinkFactory = sims.OpenLink,
                GCodeInput = gcodeTty,
                OnPrinterCreated = p =>
                {
                    current = p;
                    job?.Attach(p);
                },
            };
            var startArgs = new StartArgs { ConfigFile = config, LogFile = logFile, ClosedFormSteps = closedFormSteps };
            // Ctrl-C / SIGTERM: leave like klippy's "exit"
            void OnSignal(PosixSignalContext ctx)
            {
                ctx.Cancel = true;
                var p = current;
                p?.Reactor.RegisterAsyncCallback(_ => p.RequestExit("exit"));
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            Log("Starting Klipsharp...");
            if (printFile is not null)
                Console.Out.WriteLine($"klipsharp: printing {printFile} on {config} (Ctrl-C stops; -l LOG keeps the host log)");
            var (result, lastError) = PrinterHost.Run(startArgs, Log, options);
            if (job is not null)
            {
                if (job.Outcome == PrintOutcome.Complete)
                    return 0;
                Console.Error.WriteLine((job.Error ?? lastError ?? "print did not complete").TrimEnd());
                return 1;
            }
            if (result == "error_exit")
            {
                Console.Error.WriteLine((lastError ?? "klipsharp: host stopped with an error").TrimEnd());
                return 1;
            }
            return 0;
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        finally
        {
            if (logWriter is not null && logWriter != Console.Error)
                logWriter.Dispose();
        }
    }

    private static int Fail(string msg)
    {
        Console.Error.WriteLine($"klipsharp run: {msg}");
        Console.Error.Write(Usage);
        return 2;
    }
}

/// <summary>
/// The simulated MCUs of one host process, created on first use from a <c>sim:</c> serial
/// option and kept across host restarts (like a board that stays powered).
/// </summary>
public sealed class SimulatedMcuPool : IDisposable
{
    private readonly string _configDir;
    private readonly Dictionary<string, SimulatedMcu> _mcus = new();
    private readonly object _lock = new();

    /// <summary>Creates a pool; machine files are found relative to <paramref name="configDir"/>.</summary>
    public SimulatedMcuPool(string configDir, Action<string>? log = null)
    {
        _configDir = configDir;
        _log = log;
    }

    private readonly Action<string>? _log;

    /// <summary>Registers an already created MCU (a test's) for <paramref name="serial"/>; it is started if needed.</summary>
    public void Add(string serial, SimulatedMcu mcu)
    {
        lock (_lock)
            _mcus[serial] = mcu;
    }

    /// <summary>The simulated MCU serving <paramref name="serial"/>, creating and starting it on first use.</summary>
    public SimulatedMcu Get(string serial)
    {
        lock (_lock)
        {
            if (_mcus.TryGetValue(serial, out var mcu))
                return mcu;
            var (board, machine) = Parse(serial);
            mcu = new SimulatedMcu(board, machine, realTime: true);
            if (_log is { } log)
            {
                var sim = mcu;
                sim.ShutdownOccurred += reason => log(reason == "Timer too close" && sim.ShutdownDetail is { } detail
                    ? $"Simulated MCU '{serial}' shutdown: {reason} ({detail})"
                    : $"Simulated MCU '{serial}' shutdown: {reason}");
            }
            mcu.Start();
            _mcus[serial] = mcu;
            return mcu;
        }
    }

    /// <summary>Opens a new link to the MCU named by <paramref name="serial"/> (<see cref="HostOptions.SimulatedLinkFactory"/>).</summary>
    public Stream OpenLink(string serial) => Get(serial).CreateLink();

    /// <summary>The MCUs created so far, by serial option.</summary>
    public IReadOnlyDictionary<string, SimulatedMcu> Instances
    {
        get
        {
            lock (_lock)
                return new Dictionary<string, SimulatedMcu>(_mcus);
        }
    }

    // sim:BOARD[:MACHINE.json]
    private (SimBoard Board, SimMachine? Machine) Parse(string serial)
    {
        string spec = serial.StartsWith("sim:", StringComparison.Ordinal) ? serial[4..] : serial;
        int colon = spec.IndexOf(':');
        string boardName = (colon < 0 ? spec : spec[..colon]).Trim();
        string? machineFile = colon < 0 ? null : spec[(colon + 1)..].Trim();
        if (boardName.Length == 0)
            boardName = "atmega2560";
        var board = SimBoard.ByName(boardName)
            ?? throw new ArgumentException($"unknown simulated board '{boardName}' (known: {string.Join(", ", SimBoard.Names)})");
        if (string.IsNullOrEmpty(machineFile))
            return (board, null);
        string path = Path.IsPathRooted(machineFile) ? machineFile : Path.Combine(_configDir, machineFile);
        try
        {
            return (board, SimMachineJson.Load(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new ArgumentException($"cannot use simulated machine file '{path}': {e.Message}");
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var m in _mcus.Values)
                m.Dispose();
            _mcus.Clear();
        }
    }
}

/// <summary>How a <see cref="PrintJob"/> ended.</summary>
public enum PrintOutcome
{
    /// <summary>Still running (or the printer never became ready).</summary>
    None,
    /// <summary>The file was printed to its end and all moves finished.</summary>
    Complete,
    /// <summary>The print failed: a G-code error, a cancel, or a printer shutdown.</summary>
    Failed,
}

/// <summary>
/// Prints one file through virtual_sdcard once the printer is ready, reports progress,
/// waits for the last move, and then ends the host run.
/// </summary>
public sealed class PrintJob
{
    private readonly string _file;
    private Printer? _printer;
    private ReactorTimer? _timer;
    private bool _started;
    private bool _finishing;
    private readonly Stopwatch _elapsed = new();

    public PrintJob(string file) => _file = file;

    /// <summary>Where progress goes (null: nowhere).</summary>
    public ProgressDisplay? Display { get; init; }

    /// <summary>Runs on the reactor after the print completed and the moves finished, before the host exits (tests inspect the printer here).</summary>
    public Action<Printer>? AfterPrint { get; init; }

    /// <summary>False: stay running after the print (the caller ends the run).</summary>
    public bool ExitWhenDone { get; init; } = true;

    public PrintOutcome Outcome { get; private set; }

    /// <summary>Why the print failed.</summary>
    public string? Error { get; private set; }

    /// <summary>Hooks the job into a (new) printer; the print is started on the first printer that becomes ready.</summary>
    public void Attach(Printer printer)
    {
        _printer = printer;
        printer.RegisterEventHandler("klippy:ready", () =>
        {
            // The first homing must not wait on the JIT: start once the warm-up is done
            double giveUp = printer.Reactor.Monotonic() + 10.0;
            ReactorTimer? wait = null;
            wait = printer.Reactor.RegisterTimer(et =>
            {
                if (!JitWarmup.IsFinished && et < giveUp)
                    return et + 0.1;
                printer.Reactor.UnregisterTimer(wait!);
                Start(printer);
                return Reactor.Never;
            }, Reactor.Now);
        });
        _timer = printer.Reactor.RegisterTimer(et => Poll(printer, et), printer.Reactor.Monotonic() + 0.5);
    }

    private void Start(Printer printer)
    {
        if (_started)
            return;
        _started = true;
        var sdcard = printer.TryLookupObject<VirtualSD>("virtual_sdcard");
        if (sdcard is null)
        {
            Fail(printer, "--print needs a [virtual_sdcard] section in the config");
            return;
        }
        string sdPath = "";
        var raw = printer.LookupObject<Host.Configuration.PrinterConfig>("configfile").RawConfigStatus;
        if (raw.TryGetValue("virtual_sdcard", out var section) && section.TryGetValue("path", out var p))
            sdPath = p;
        if (sdPath == "~" || sdPath.StartsWith("~/", StringComparison.Ordinal))
            sdPath = (Environment.GetEnvironmentVariable("HOME") ?? "") + sdPath[1..];
        string dir = Path.GetFullPath(sdPath.Length == 0 ? "." : sdPath);
        string rel = Path.GetRelativePath(dir, Path.GetFullPath(_file));
        if (rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel))
        {
            Fail(printer, $"--print file '{_file}' is not inside the virtual_sdcard path '{sdPath}'");
            return;
        }
        _elapsed.Start();
        try
        {
            printer.LookupObject<GCodeDispatch>("gcode").RunScript($"SDCARD_PRINT_FILE FILENAME=\"{rel}\"");
        }
        catch (CommandError e)
        {
            Fail(printer, e.Message);
        }
    }

    private void Fail(Printer printer, string msg)
    {
        if (Outcome != PrintOutcome.None)
            return;
        Outcome = PrintOutcome.Failed;
        Error = msg;
        Display?.Finish("Print failed");
        printer.RequestExit("error_exit");
    }

    private double Poll(Printer printer, double eventtime)
    {
        if (printer != _printer || Outcome != PrintOutcome.None)
            return Reactor.Never;
        if (printer.IsShutdown)
        {
            Fail(printer, printer.StateMessage);
            return Reactor.Never;
        }
        if (printer.StateCategory == "error")
        {
            Fail(printer, printer.StateMessage);
            return Reactor.Never;
        }
        if (!_started)
            return eventtime + 0.5;
        var stats = printer.TryLookupObject<PrintStats>("print_stats")?.GetStatus(eventtime);
        string state = stats?.GetValueOrDefault("state") as string ?? "";
        Display?.Update(Snapshot(printer, eventtime, state));
        switch (state)
        {
            case "complete":
                if (!_finishing)
                {
                    _finishing = true;
                    printer.Reactor.RegisterCallback(_ => Finish(printer));
                }
                return Reactor.Never;
            case "error":
                Fail(printer, stats?.GetValueOrDefault("message") as string ?? "print error");
                return Reactor.Never;
            case "cancelled":
                Fail(printer, "print cancelled");
                return Reactor.Never;
        }
        return eventtime + (Display?.Interval ?? 0.5);
    }

    private void Finish(Printer printer)
    {
        try
        {
            printer.LookupObject<ToolHead>("toolhead").WaitMoves();
            if (printer.IsShutdown)
            {
                Fail(printer, printer.StateMessage);
                return;
            }
            Outcome = PrintOutcome.Complete;
            Display?.Finish(string.Create(CultureInfo.InvariantCulture, $"Print complete in {ProgressDisplay.FormatTime(_elapsed.Elapsed.TotalSeconds)}"));
            AfterPrint?.Invoke(printer);
        }
        catch (CommandError e)
        {
            Fail(printer, e.Message);
            return;
        }
        if (ExitWhenDone)
            printer.RequestExit("exit");
    }

    private ProgressSnapshot Snapshot(Printer printer, double eventtime, string state)
    {
        double progress = printer.TryLookupObject<VirtualSD>("virtual_sdcard")?.Progress() ?? 0.0;
        var temps = new List<(string, double, double)>();
        foreach (var name in new[] { "extruder", "heater_bed" })
        {
            var st = printer.TryLookupObject<IStatusProvider>(name)?.GetStatus(eventtime);
            if (st is null)
                continue;
            double temp = st.GetValueOrDefault("temperature") is double t ? t : 0.0;
            double target = st.GetValueOrDefault("target") is double g ? g : 0.0;
            temps.Add((name, temp, target));
        }
        return new ProgressSnapshot(progress, _elapsed.Elapsed.TotalSeconds, state, temps);
    }
}

/// <summary>One progress report: fraction printed, seconds since start, print_stats state, and heater temperatures.</summary>
public sealed record ProgressSnapshot(double Progress, double Elapsed, string State, IReadOnlyList<(string Name, double Temp, double Target)> Heaters);

/// <summary>Writes print progress to a terminal (one updating line) or a log (a line every few seconds).</summary>
public sealed class ProgressDisplay
{
    private readonly TextWriter _out;
    private readonly bool _isTerminal;
    private int _lastLength;
    private double _lastPrinted = double.NegativeInfinity;

    public ProgressDisplay(TextWriter output, bool? isTerminal = null)
    {
        _out = output;
        _isTerminal = isTerminal ?? (output == Console.Out && !Console.IsOutputRedirected);
    }

    /// <summary>Seconds between updates.</summary>
    public double Interval => _isTerminal ? 0.5 : 1.0;

    public static string FormatTime(double seconds)
    {
        long s = (long)seconds;
        return s >= 3600 ? $"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}" : $"{s / 60}:{s % 60:00}";
    }

    public static string Format(ProgressSnapshot p)
    {
        var ci = CultureInfo.InvariantCulture;
        var parts = new List<string>
        {
            string.Create(ci, $"{p.Progress * 100.0,5:F1}%"),
            FormatTime(p.Elapsed),
        };
        foreach (var (name, temp, target) in p.Heaters)
            parts.Add(string.Create(ci, $"{(name == "heater_bed" ? "bed" : name)} {temp:F1}/{target:F0}"));
        parts.Add(p.State);
        return string.Join("  ", parts);
    }

    public void Update(ProgressSnapshot p)
    {
        string line = Format(p);
        if (_isTerminal)
        {
            _out.Write("\r" + line.PadRight(_lastLength));
            _lastLength = line.Length;
        }
        else
        {
            if (p.Elapsed - _lastPrinted < 5.0)
                return;
            _lastPrinted = p.Elapsed;
            _out.WriteLine(line);
        }
        _out.Flush();
    }

    public void Finish(string msg)
    {
        if (_isTerminal && _lastLength > 0)
            _out.WriteLine();
        _lastLength = 0;
        _out.WriteLine(msg);
        _out.Flush();
    }
}

/// <summary>
/// Compiles the host's code on a background thread at start-up, so the reactor thread does
/// not stall on the JIT the first time it heats, homes or prints: a stall of a tenth of a
/// second in the middle of a homing move is enough for the MCU to report "Timer too close".
/// Does nothing where there is no JIT (native AOT).
/// </summary>
public static class JitWarmup
{
    private static int _started;
    private static volatile bool _finished;

    /// <summary>True once the warm-up has compiled everything (or when there is none to wait for).</summary>
    public static bool IsFinished => _finished || Volatile.Read(ref _started) == 0;

    /// <summary>Starts the warm-up once per process.</summary>
    public static void Start()
    {
        if (!RuntimeFeature.IsDynamicCodeSupported || Interlocked.Exchange(ref _started, 1) != 0)
            return;
        var t = new Thread(Run) { IsBackground = true, Name = "jit-warmup" };
        t.Start();
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Only runs with a JIT; methods that were trimmed are simply not compiled.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Only runs with a JIT; methods that were trimmed are simply not compiled.")]
    [UnconditionalSuppressMessage("Trimming", "IL2065", Justification = "Only runs with a JIT; methods that were trimmed are simply not compiled.")]
    private static void Run()
    {
        try
        {
            Assembly[] assemblies = [typeof(Printer).Assembly, typeof(Klipsharp.Motion.TrapQ).Assembly, typeof(Klipsharp.Protocol.DataDictionary).Assembly];
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var asm in assemblies)
            {
                Type[] types;
                try
                {
                    types = asm.GetTypes();
                }
                catch (ReflectionTypeLoadException e)
                {
                    types = e.Types.OfType<Type>().ToArray();
                }
                foreach (var type in types)
                {
                    if (type.IsGenericTypeDefinition)
                        continue;
                    foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
                    {
                        if (m.IsAbstract || m.ContainsGenericParameters)
                            continue;
                        try
                        {
                            RuntimeHelpers.PrepareMethod(m.MethodHandle);
                        }
                        catch (Exception)
                        {
                            // Some methods cannot be prepared on their own (e.g. P/Invoke stubs); skip them
                        }
                    }
                }
            }
        }
        finally
        {
            _finished = true;
        }
    }
}
