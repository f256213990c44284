using System.Collections.Concurrent;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Serial;
using Klipsharp.Protocol;

namespace Klipsharp.Host;

/// <summary>What a live host run needs beyond the start arguments.</summary>
public sealed class HostOptions
{
    /// <summary>Opens an in-process link to the simulated MCU named by a <c>sim:</c> serial option (the option's value is the argument).</summary>
    public Func<string, Stream>? SimulatedLinkFactory { get; init; }

    /// <summary>G-code input that outlives printer restarts (upstream's gcode_fd), e.g. a <see cref="GCodeTty"/>.</summary>
    public GCodeTty? GCodeInput { get; init; }

    /// <summary>Called with each new printer (also after RESTART/FIRMWARE_RESTART) before it reads its config.</summary>
    public Action<Printer>? OnPrinterCreated { get; init; }

    /// <summary>Pause between a restart request and the new printer (klippy sleeps one second).</summary>
    public double RestartDelay { get; init; } = 1.0;

    /// <summary>Where errors the run survives go (see <see cref="Printer.LogError"/>); null: to the log.</summary>
    public Action<string>? ErrorLog { get; init; }
}

/// <summary>
/// Starts a printer from its config and runs it until it exits (upstream klippy.py's
/// Printer._read_config/_connect/run and main()): RESTART and FIRMWARE_RESTART start a
/// new printer, "exit" and "error_exit" end the run.
/// </summary>
public static class PrinterHost
{
    /// <summary>
    /// Runs printers until one exits; returns the final run result ("exit" or "error_exit")
    /// and the last error reported.
    /// </summary>
    public static (string Result, string? LastError) Run(StartArgs startArgs, Action<string>? log = null, HostOptions? options = null)
    {
        options ??= new HostOptions();
        var args = startArgs;
        Stream? ownedInput = null;
        if (args.DebugInput is not null && args.DebugInputStream is null)
        {
            ownedInput = File.OpenRead(args.DebugInput);
            args = WithReason(args, args.StartReason, ownedInput);
        }
        try
        {
            while (true)
            {
                var (result, lastError) = RunOnce(args, log, options);
                if (result is "exit" or "error_exit")
                    return (result, lastError);
                if (args.DebugOutput is null && options.RestartDelay > 0.0)
                    Thread.Sleep(TimeSpan.FromSeconds(options.RestartDelay));
                log?.Invoke("Restarting printer");
                args = WithReason(args, result, args.DebugInputStream);
            }
        }
        finally
        {
            ownedInput?.Dispose();
        }
    }

    private static StartArgs WithReason(StartArgs args, string reason, Stream? input) =>
        args with { DebugInputStream = input, StartReason = reason };

    /// <summary>Creates one printer and runs its reactor until exit or restart; returns the run result and the last error.</summary>
    public static (string Result, string? LastError) RunOnce(StartArgs startArgs, Action<string>? log, HostOptions options)
    {
        var reactor = new Reactor();
        var printer = new Printer(reactor, startArgs) { Log = log, LogError = options.ErrorLog };
        GCode.GCodeDispatch.AddEarlyPrinterObjects(printer);
        Stream? gcodeStream = null;
        if (options.GCodeInput is not null && startArgs.DebugInput is null)
        {
            gcodeStream = options.GCodeInput.OpenSession();
            printer.LookupObject<GCode.GCodeIO>("gcode_io").AttachStream(gcodeStream, options.GCodeInput.Output);
        }
        options.OnPrinterCreated?.Invoke(printer);
        if (startArgs.DebugOutput is null)
            RaiseReactorPriority(log);
        reactor.RegisterCallback(_ => Connect(printer, options));
        RunReactor(printer);
        string result = printer.RunResult ?? "exit";
        try
        {
            // Batch mode: step generation still running behind the G-code goes out first
            printer.TryLookupObject<MotionQueuing>("motion_queuing")?.SyncStepGeneration();
        }
        catch (Exception e)
        {
            log?.Invoke($"Step generation failed at exit: {e.Message}");
            if (result == "exit")
                result = "error_exit";
        }
        try
        {
            if (result == "firmware_restart")
                printer.SendEvent("klippy:firmware_restart");
            printer.SendEvent("klippy:disconnect");
        }
        catch (Exception e)
        {
            log?.Invoke($"Unhandled exception during post run: {e}");
        }
        // Batch mode: make sure every output file is complete even if a handler failed
        foreach (var (_, obj) in printer.LookupObjects("mcu"))
            if (obj is Mcu.Mcu mcu)
                mcu.Disconnect();
        string? lastError = printer.LastError;
        // Upstream's reactor.finalize: unwind callbacks still paused so their threads end
        // (their error handlers may still log; the run's outcome is already taken)
        reactor.Close();
        gcodeStream?.Dispose();
        return (result, lastError);
    }

    // A live host must answer the MCU within a few tenths of a second even on a busy computer
    private static void RaiseReactorPriority(Action<string>? log)
    {
        if (Klipsharp.Protocol.ThreadScheduling.TrySetCurrentThreadNice(Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice))
            log?.Invoke($"Reactor thread priority raised (nice {Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice})");
        else
            log?.Invoke("Reactor thread priority not raised (needs CAP_SYS_NICE); a busy computer may cause 'Timer too close'");
    }

    // The reactor loop with klippy's last-resort handling of an exception escaping a callback
    private static void RunReactor(Printer printer)
    {
        var reactor = printer.Reactor;
        try
        {
            reactor.Run();
        }
        catch (Exception e)
        {
            const string msg = "Unhandled exception during run";
            printer.Log?.Invoke($"{msg}\n{e}");
            try
            {
                reactor.RegisterCallback(_ =>
                {
                    printer.InvokeShutdown(msg);
                    // An exit or restart asked for before (batch mode's error exit at an
                    // earlier shutdown) still ends the run; upstream runs on and hangs
                    if (printer.RunResult is not null)
                        reactor.End();
                });
                reactor.Run();
            }
            catch (Exception e2)
            {
                printer.Log?.Invoke($"Repeat unhandled exception during run\n{e2}");
                printer.RequestExit("error_exit");
            }
        }
    }

    /// <summary>Loads pins, MCUs, every config section's module and the toolhead, then checks for unused options.</summary>
    public static void ReadConfig(Printer printer)
    {
        var pconfig = new PrinterConfig(printer);
        printer.AddObject("configfile", pconfig);
        var config = pconfig.ReadMainConfig(printer.StartArgs.ConfigFile);
        config.Owner = printer;
        printer.AddObject("pins", new PrinterPins());
        Mcu.Mcu.AddPrinterObjects(config);
        foreach (var section in config.GetPrefixSections(""))
            printer.TryLoadObject(config, section.Name);
        ToolHead.AddPrinterObjects(config);
        pconfig.CheckUnusedOptions(config, printer.LookupObjects().Select(o => o.Name).ToList());
    }

    private static void NotifyMcuError(Printer printer, string msg, string error) =>
        printer.SendEvent("klippy:notify_mcu_error", msg, new Dictionary<string, object?> { ["error"] = error });

    private static void Connect(Printer printer, HostOptions options)
    {
        try
        {
            ReadConfig(printer);
            foreach (var (_, obj) in printer.LookupObjects("mcu"))
                if (obj is Mcu.Mcu mcu)
                    mcu.SimulatedLinkFactory = options.SimulatedLinkFactory;
            printer.SendEvent("klippy:mcu_identify");
            foreach (var cb in printer.HandlersFor("klippy:connect"))
            {
                if (!printer.ConnectHandlersStillStarting())
                    return;
                ((Action)cb)();
            }
        }
        catch (Exception e) when (e is ConfigError or PinError)
        {
            printer.Log?.Invoke($"Config error: {e.Message}");
            printer.SetState($"{e.Message}\n{Printer.MessageRestart}");
            printer.LastError = e.Message;
            return;
        }
        catch (ProtocolError e)
        {
            const string msg = "Protocol error";
            printer.Log?.Invoke($"{msg}: {e.Message}");
            printer.SetState(msg);
            printer.LastErrorDetail = e.Message;
            printer.LastError = $"{msg}: {e.Message}";
            NotifyMcuError(printer, msg, e.Message);
            return;
        }
        catch (McuError e)
        {
            const string msg = "MCU error during connect";
            printer.Log?.Invoke($"{msg}: {e.Message}");
            printer.SetState(msg);
            printer.LastErrorDetail = e.Message;
            printer.LastError = $"{msg}: {e.Message}";
            NotifyMcuError(printer, msg, e.Message);
            return;
        }
        catch (Exception e)
        {
            printer.Log?.Invoke($"Unhandled exception during connect: {e}");
            printer.SetState($"Internal error during connect: {e.Message}\n{Printer.MessageRestart}");
            return;
        }
        try
        {
            printer.SetReady();
        }
        catch (Exception e)
        {
            printer.Log?.Invoke($"Unhandled exception during ready callback: {e}");
            printer.InvokeShutdown($"Internal error during ready callback: {e.Message}");
        }
    }
}

/// <summary>
/// The host's G-code pseudo-terminal (upstream util.create_pty and the gcode_fd that
/// survives restarts): one thread reads the pty and hands the data to the current
/// printer's session stream, so a restarted printer continues where the last one stopped.
/// </summary>
public sealed class GCodeTty : IDisposable
{
    private readonly IMcuTransport _transport;
    private readonly BlockingCollection<byte[]> _data = new();
    private readonly Thread _reader;
    private CancellationTokenSource? _session;

    private GCodeTty(IMcuTransport transport)
    {
        _transport = transport;
        Output = new WriteOnlyStream(transport);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "gcode-tty" };
        _reader.Start();
    }

    /// <summary>Creates a pseudo-terminal with <paramref name="linkPath"/> a symlink to its slave side (e.g. /tmp/printer).</summary>
    public static GCodeTty Create(string linkPath) => new(McuTransports.CreatePty(linkPath));

    /// <summary>Serves G-code from any transport (tests).</summary>
    public static GCodeTty FromTransport(IMcuTransport transport) => new(transport);

    /// <summary>Responses to the G-code client.</summary>
    public Stream Output { get; }

    private void ReadLoop()
    {
        var buf = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = _transport.Read(buf);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                break;
            }
            if (n <= 0)
                break;
            try
            {
                _data.Add(buf.AsSpan(0, n).ToArray());
            }
            catch (InvalidOperationException)
            {
                break;
            }
        }
    }

    /// <summary>A stream of the input for one printer; disposing it ends that printer's reads without losing later input.</summary>
    public Stream OpenSession()
    {
        _session?.Cancel();
        var cts = new CancellationTokenSource();
        _session = cts;
        return new SessionStream(this, cts);
    }

    public void Dispose()
    {
        _session?.Cancel();
        _data.CompleteAdding();
        _transport.Dispose();
    }

    private sealed class SessionStream(GCodeTty owner, CancellationTokenSource cts) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        private byte[]? _rest;

        public override int Read(byte[] buffer, int offset, int count)
        {
            byte[] block;
            if (_rest is not null)
            {
                block = _rest;
                _rest = null;
            }
            else
            {
                try
                {
                    if (!owner._data.TryTake(out block!, Timeout.Infinite, cts.Token))
                        return 0;
                }
                catch (OperationCanceledException)
                {
                    return 0;
                }
                catch (InvalidOperationException)
                {
                    return 0; // input closed
                }
            }
            int n = Math.Min(count, block.Length);
            Array.Copy(block, 0, buffer, offset, n);
            if (n < block.Length)
                _rest = block[n..];
            return n;
        }

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                cts.Cancel();
            base.Dispose(disposing);
        }
    }

    private sealed class WriteOnlyStream(IMcuTransport transport) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => transport.Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
