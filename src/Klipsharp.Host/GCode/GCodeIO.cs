using System.Text;
using System.Text.RegularExpressions;

namespace Klipsharp.Host.GCode;

/// <summary>
/// Reads G-code from the input (the batch -i file, or a live stream such as a pseudo
/// terminal) and feeds it to the dispatcher (upstream gcode.GCodeIO, object "gcode_io").
/// Input is read in 4096-byte blocks as upstream does; an M112 in a short block is
/// acted on before the queued commands.
/// </summary>
public sealed partial class GCodeIO
{
    private const int ReadSize = 4096;
    private const int InputLogSize = 50;

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly ReactorMutex _gcodeMutex;
    private readonly Reactor _reactor;
    private readonly bool _isFileinput;
    private Stream? _input;
    private Stream? _output;
    private bool _isPrinterReady;
    private bool _isProcessingData;
    private bool _pipeIsActive = true;
    private object? _fdHandle;
    private string _partialInput = "";
    private List<string> _pendingCommands = new();
    private readonly Queue<(double Eventtime, string Data)> _inputLog = new();

    public GCodeIO(Printer printer)
    {
        _printer = printer;
        _gcode = printer.LookupObject<GCodeDispatch>("gcode");
        _gcodeMutex = _gcode.GetMutex();
        _reactor = printer.Reactor;
        _isFileinput = printer.StartArgs.DebugInput is not null;
        if (_isFileinput)
            _input = printer.StartArgs.DebugInputStream ?? File.OpenRead(printer.StartArgs.DebugInput!);
        printer.RegisterEventHandler("klippy:ready", HandleReady);
        printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
        printer.RegisterEventHandler<string, Dictionary<string, object?>>("klippy:analyze_shutdown", HandleAnalyzeShutdown);
    }

    /// <summary>Bytes of G-code read so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// Connects a live G-code stream (e.g. a pseudo terminal); responses are written back to
    /// <paramref name="output"/>. A background thread reads it and hands each block to the reactor.
    /// </summary>
    public void AttachStream(Stream input, Stream? output)
    {
        _input = input;
        _output = output;
        _gcode.RegisterOutputHandler(RespondRaw);
        _streamMode = true;
        _readerThread = new Thread(StreamReader) { IsBackground = true, Name = "gcode-input" };
        _readerThread.Start();
    }

    private bool _streamMode;
    private Thread? _readerThread;
    private readonly SemaphoreSlim _readAllowed = new(1);

    // Reads one block at a time; the next read waits until the reactor took the block and
    // input is wanted again (upstream's fd registration).
    private void StreamReader()
    {
        var buf = new byte[ReadSize];
        while (true)
        {
            _readAllowed.Wait();
            int n;
            try
            {
                n = _input!.Read(buf, 0, buf.Length);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                _reactor.RegisterAsyncCallback(_ => _printer.ReportError(ReadError(e)));
                return;
            }
            if (n <= 0)
                return;
            string? data = Decode(buf, n, out string? error);
            if (data is null)
            {
                _reactor.RegisterAsyncCallback(_ => _printer.ReportError(error!));
                _readAllowed.Release();
                continue;
            }
            _reactor.RegisterAsyncCallback(eventtime =>
            {
                // Keep reading while this block is processed, as upstream keeps its fd
                // registered: an M112 sent during a long command must still be seen
                if (_fdRegistered)
                    _readAllowed.Release();
                HandleData(eventtime, data);
            });
        }
    }

    private bool _fdRegistered = true;

    private bool IsFdRegistered => _streamMode ? _fdRegistered : _fdHandle is not null;

    private void RegisterFd()
    {
        if (_streamMode)
        {
            if (!_fdRegistered)
            {
                _fdRegistered = true;
                _readAllowed.Release();
            }
            return;
        }
        _fdHandle ??= _reactor.RegisterFd(ProcessData);
    }

    private void UnregisterFd()
    {
        if (_streamMode)
        {
            _fdRegistered = false;
            return;
        }
        if (_fdHandle is null)
            return;
        _reactor.UnregisterFd(_fdHandle);
        _fdHandle = null;
    }

    private void HandleReady()
    {
        _isPrinterReady = true;
        if (_isFileinput && !IsFdRegistered)
            RegisterFd();
    }

    private void HandleAnalyzeShutdown(string msg, Dictionary<string, object?> details)
    {
        var sb = new StringBuilder();
        sb.Append($"Dumping gcode input {_inputLog.Count} blocks");
        foreach (var (eventtime, data) in _inputLog)
            sb.Append('\n').Append(PyPercent.Format("Read %f: %s", eventtime, Configuration.PyFormat.Repr(data)));
        _printer.Log?.Invoke(sb.ToString());
    }

    private void HandleShutdown()
    {
        if (!_isPrinterReady)
            return;
        _isPrinterReady = false;
        if (_isFileinput)
            _printer.RequestExit("error_exit");
    }

    private void DoDebuginputExit()
    {
        while (!_printer.SendEventCollect<bool>("gcode:debuginput_exit").All(r => r))
            _reactor.Pause(_reactor.Monotonic() + 0.010);
        _gcode.RequestRestart("exit");
    }

    [GeneratedRegex(@"^(?:[nN][0-9]+)?\s*[mM]112(?:\s|$)")]
    private static partial Regex M112Regex();

    private string? ReadBlock()
    {
        var buf = new byte[ReadSize];
        int n;
        try
        {
            n = _input!.Read(buf, 0, buf.Length);
        }
        catch (IOException e)
        {
            _printer.ReportError(ReadError(e));
            return null;
        }
        string? data = Decode(buf, n, out string? error);
        if (data is null)
            _printer.ReportError(error!);
        return data;
    }

    // Where the input's next block starts, for error messages.
    private long _inputOffset;

    // Each block is decoded on its own, as upstream does: a block that is not UTF-8
    // (also one that splits a character) is skipped whole, with an error.
    private string? Decode(byte[] buf, int n, out string? error)
    {
        long start = _inputOffset;
        _inputOffset += n;
        try
        {
            error = null;
            return new UTF8Encoding(false, true).GetString(buf, 0, n);
        }
        catch (DecoderFallbackException e)
        {
            long at = start + Math.Max(e.Index, 0);
            error = $"Read g-code: {InputName}: byte {at} is not valid UTF-8; bytes {start} to {start + n - 1} were skipped";
            return null;
        }
    }

    private string InputName => _printer.StartArgs.DebugInput ?? "G-code input";

    private string ReadError(Exception e) => $"Read g-code: {InputName}: {e.Message}";

    private void ProcessData(double eventtime)
    {
        string? data = ReadBlock();
        if (data is null)
            return;
        HandleData(eventtime, data);
    }

    private void HandleData(double eventtime, string data)
    {
        _inputLog.Enqueue((eventtime, data));
        while (_inputLog.Count > InputLogSize)
            _inputLog.Dequeue();
        BytesRead += data.Length;
        var lines = data.Split('\n').ToList();
        lines[0] = _partialInput + lines[0];
        _partialInput = lines[^1];
        lines.RemoveAt(lines.Count - 1);
        var pendingCommands = _pendingCommands;
        pendingCommands.AddRange(lines);
        _pipeIsActive = true;
        // End of a batch input file
        if (data.Length == 0 && _isFileinput)
        {
            UnregisterFd();
            if (!_isProcessingData)
                DoDebuginputExit();
            return;
        }
        if (pendingCommands.Count < 20)
        {
            // M112 is acted on ahead of the queue
            foreach (var line in lines)
                if (M112Regex().IsMatch(line))
                    _gcode.CmdM112(null);
        }
        if (_isProcessingData)
        {
            if (pendingCommands.Count >= 20)
                UnregisterFd(); // stop reading until the backlog is processed
            return;
        }
        _isProcessingData = true;
        while (pendingCommands.Count > 0)
        {
            _pendingCommands = new List<string>();
            using (_gcodeMutex.Lock())
                _gcode.ProcessCommands(pendingCommands);
            pendingCommands = _pendingCommands;
        }
        _isProcessingData = false;
        if (!IsFdRegistered)
            RegisterFd();
    }

    private void RespondRaw(string msg)
    {
        if (!_pipeIsActive || _output is null)
            return;
        try
        {
            var bytes = Encoding.UTF8.GetBytes(msg + "\n");
            _output.Write(bytes, 0, bytes.Length);
            _output.Flush();
        }
        catch (IOException e)
        {
            _printer.Log?.Invoke($"Write g-code response\n{e}");
            _pipeIsActive = false;
        }
    }

    public (bool IsActive, string Message) Stats(double eventtime) => (false, $"gcodein={BytesRead}");
}

public sealed partial class GCodeDispatch
{
    /// <summary>Creates the "gcode" and "gcode_io" objects needed before the config is read (upstream gcode.add_early_printer_objects).</summary>
    public static void AddEarlyPrinterObjects(Printer printer)
    {
        printer.AddObject("gcode", new GCodeDispatch(printer));
        printer.AddObject("gcode_io", new GCodeIO(printer));
    }
}
