using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Prints G-Code files from a host directory as if from an SD card (upstream virtual_sdcard VirtualSD).</summary>
public sealed class VirtualSD : IStatusProvider, IStatsProvider
{
    public static readonly string[] ValidGcodeExts = ["gcode", "g", "gco"];
    public const string DefaultErrorGcode = "\n{% if 'heaters' in printer %}\n   TURN_OFF_HEATERS\n{% endif %}\n";
    public const string CmdSdcardResetFileHelp = "Clears a loaded SD File. Stops the print if necessary";
    public const string CmdSdcardPrintFileHelp = "Loads a SD file and starts the print.  May include files in subdirectories.";

    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly string _sdcardDirname;
    private readonly PrintStats _printStats;
    private readonly TemplateWrapper _onErrorGcode;
    private readonly GCodeDispatch _gcode;
    private SdFile? _currentFile;
    private long _filePosition, _fileSize, _nextFilePosition;
    private bool _mustPauseWork, _cmdFromSd;
    private ReactorTimer? _workTimer;

    public VirtualSD(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        string sd = config.Get("path");
        _sdcardDirname = NormPath(ExpandUser(sd));
        _printStats = _printer.LoadObject<PrintStats>(config, "print_stats");
        _reactor = _printer.Reactor;
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _onErrorGcode = gcodeMacro.LoadTemplate(config, "on_error_gcode", DefaultErrorGcode);
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("M20", CmdM20);
        _gcode.RegisterCommand("M21", CmdM21);
        _gcode.RegisterCommand("M23", CmdM23);
        _gcode.RegisterCommand("M24", CmdM24);
        _gcode.RegisterCommand("M25", CmdM25);
        _gcode.RegisterCommand("M26", CmdM26);
        _gcode.RegisterCommand("M27", CmdM27);
        foreach (var cmd in new[] { "M28", "M29", "M30" })
            _gcode.RegisterCommand(cmd, CmdError);
        _gcode.RegisterCommand("SDCARD_RESET_FILE", CmdSdcardResetFile, desc: CmdSdcardResetFileHelp);
        _gcode.RegisterCommand("SDCARD_PRINT_FILE", CmdSdcardPrintFile, desc: CmdSdcardPrintFileHelp);
        _printer.RegisterEventHandler<bool>("gcode:debuginput_exit", () => _workTimer is null);
    }

    private static string ExpandUser(string p)
    {
        if (p == "~" || p.StartsWith("~/", StringComparison.Ordinal))
            return (Environment.GetEnvironmentVariable("HOME") ?? "") + p[1..];
        return p;
    }

    private static string NormPath(string p)
    {
        if (p.Length == 0)
            return ".";
        bool abs = p.StartsWith('/');
        var parts = new List<string>();
        foreach (var part in p.Split('/'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == ".." && parts.Count > 0 && parts[^1] != "..")
                parts.RemoveAt(parts.Count - 1);
            else if (part == ".." && abs)
                continue;
            else
                parts.Add(part);
        }
        string res = string.Join("/", parts);
        return abs ? "/" + res : res.Length == 0 ? "." : res;
    }

    public (bool IsActive, string Message) Stats(double eventtime) =>
        _workTimer is null ? (false, "") : (true, $"sd_pos={_filePosition}");

    public List<(string Name, long Size)> GetFileList(bool checkSubdirs = false)
    {
        try
        {
            if (checkSubdirs)
            {
                var flist = new List<(string, long)>();
                foreach (var full in Directory.EnumerateFiles(_sdcardDirname, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
                {
                    string name = Path.GetFileName(full);
                    string ext = name[(name.LastIndexOf('.') + 1)..];
                    if (!ValidGcodeExts.Contains(ext))
                        continue;
                    string rPath = full[(_sdcardDirname.Length + 1)..];
                    flist.Add((rPath, new FileInfo(full).Length));
                }
                return flist.OrderBy(f => f.Item1.ToLowerInvariant(), StringComparer.Ordinal).ToList();
            }
            return Directory.EnumerateFileSystemEntries(_sdcardDirname)
                .Select(Path.GetFileName)
                .OrderBy(n => n!.ToLowerInvariant(), StringComparer.Ordinal)
                .Where(n => !n!.StartsWith('.') && File.Exists(Path.Combine(_sdcardDirname, n)))
                .Select(n => (n!, new FileInfo(Path.Combine(_sdcardDirname, n!)).Length))
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _printer.Log?.Invoke("virtual_sdcard get_file_list");
            throw new CommandError("Unable to get file list");
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["file_path"] = FilePath(),
        ["progress"] = Progress(),
        ["is_active"] = IsActive(),
        ["file_position"] = _filePosition,
        ["file_size"] = _fileSize,
    };

    public string? FilePath() => _currentFile?.Name;

    // Upstream runs every file operation on an executor thread and waits for it with a
    // completion: the work handler pauses until the next reactor pass for each call.
    private void ExecutorCall() => _reactor.Pause(Reactor.Now);

    public double Progress() => _fileSize != 0 ? (double)_filePosition / _fileSize : 0.0;

    public bool IsActive() => _workTimer is not null;

    public void DoPause()
    {
        if (_workTimer is null)
            return;
        _mustPauseWork = true;
        while (_workTimer is not null && !_cmdFromSd)
            _reactor.Pause(_reactor.Monotonic() + .001);
    }

    public void DoResume()
    {
        if (_workTimer is not null)
            throw new CommandError("SD busy");
        _mustPauseWork = false;
        _workTimer = _reactor.RegisterTimer(WorkHandler, Reactor.Now);
    }

    public void DoCancel()
    {
        if (_currentFile is not null)
        {
            DoPause();
            _currentFile.Close();
            _currentFile = null;
            _printStats.NoteCancel();
        }
        _filePosition = _fileSize = 0;
    }

    private void CmdError(GCodeCommand gcmd) => throw gcmd.Error("SD write not supported");

    private void ResetFile()
    {
        if (_currentFile is not null)
        {
            DoPause();
            _currentFile.Close();
            _currentFile = null;
        }
        _filePosition = _fileSize = 0;
        _printStats.Reset();
        _printer.SendEvent("virtual_sdcard:reset_file");
    }

    private void CmdSdcardResetFile(GCodeCommand gcmd)
    {
        if (_cmdFromSd)
            throw gcmd.Error("SDCARD_RESET_FILE cannot be run from the sdcard");
        ResetFile();
    }

    private void CmdSdcardPrintFile(GCodeCommand gcmd)
    {
        if (_workTimer is not null)
            throw gcmd.Error("SD busy");
        ResetFile();
        string filename = gcmd.Get("FILENAME");
        if (filename.StartsWith('/'))
            filename = filename[1..];
        LoadFile(gcmd, filename, checkSubdirs: true);
        DoResume();
    }

    private void CmdM20(GCodeCommand gcmd)
    {
        var files = GetFileList();
        gcmd.RespondRaw("Begin file list");
        foreach (var (fname, fsize) in files)
            gcmd.RespondRaw($"{fname} {fsize}");
        gcmd.RespondRaw("End file list");
    }

    private void CmdM21(GCodeCommand gcmd) => gcmd.RespondRaw("SD card ok");

    private void CmdM23(GCodeCommand gcmd)
    {
        if (_workTimer is not null)
            throw gcmd.Error("SD busy");
        ResetFile();
        string filename = PyFormat.Strip(gcmd.GetRawCommandParameters());
        if (filename.StartsWith('/'))
            filename = filename[1..];
        LoadFile(gcmd, filename);
    }

    private void LoadFile(GCodeCommand gcmd, string filename, bool checkSubdirs = false)
    {
        var files = GetFileList(checkSubdirs);
        var flist = files.Select(f => f.Name).ToList();
        var filesByLower = new Dictionary<string, string>();
        foreach (var (fname0, _) in files)
            filesByLower[fname0.ToLowerInvariant()] = fname0;
        SdFile f;
        long fsize;
        try
        {
            string fname = filename;
            if (!flist.Contains(fname))
                fname = filesByLower[fname.ToLowerInvariant()];
            fname = Path.Combine(_sdcardDirname, fname);
            f = SdFile.Open(fname, ExecutorCall);
            fsize = f.Size;
        }
        catch (Exception)
        {
            _printer.Log?.Invoke("virtual_sdcard file open");
            throw gcmd.Error("Unable to open file");
        }
        gcmd.RespondRaw($"File opened:{filename} Size:{fsize}");
        gcmd.RespondRaw("File selected");
        _currentFile = f;
        _filePosition = 0;
        _fileSize = fsize;
        _printStats.SetCurrentFile(filename);
    }

    private void CmdM24(GCodeCommand gcmd) => DoResume();

    private void CmdM25(GCodeCommand gcmd) => DoPause();

    private void CmdM26(GCodeCommand gcmd)
    {
        if (_workTimer is not null)
            throw gcmd.Error("SD busy");
        _filePosition = gcmd.GetInt("S", minval: 0);
    }

    private void CmdM27(GCodeCommand gcmd)
    {
        if (_currentFile is null)
        {
            gcmd.RespondRaw("Not SD printing.");
            return;
        }
        gcmd.RespondRaw($"SD printing byte {_filePosition}/{_fileSize}");
    }

    public long GetFilePosition() => _nextFilePosition;

    public void SetFilePosition(long pos) => _nextFilePosition = pos;

    public bool IsCmdFromSd() => _cmdFromSd;

    private double WorkHandler(double eventtime)
    {
        _printer.Log?.Invoke($"Starting SD card print (position {_filePosition})");
        _reactor.UnregisterTimer(_workTimer!);
        try
        {
            _currentFile!.Seek(_filePosition);
        }
        catch (Exception)
        {
            _workTimer = null;
            return Reactor.Never;
        }
        _printStats.NoteStart();
        var gcodeMutex = _gcode.GetMutex();
        string partialInput = "";
        var lines = new Stack<string>();
        string? errorMessage = null;
        while (!_mustPauseWork)
        {
            if (lines.Count == 0)
            {
                string data;
                try
                {
                    data = _currentFile!.Read(8192);
                }
                catch (Exception)
                {
                    _printer.Log?.Invoke("virtual_sdcard read");
                    break;
                }
                if (data.Length == 0)
                {
                    _currentFile!.Close();
                    _currentFile = null;
                    _printer.Log?.Invoke("Finished SD card print");
                    _gcode.RespondRaw("Done printing file");
                    break;
                }
                var split = data.Split('\n');
                split[0] = partialInput + split[0];
                partialInput = split[^1];
                for (int i = split.Length - 2; i >= 0; i--)
                    lines.Push(split[i]);
                _reactor.Pause(Reactor.Now);
                continue;
            }
            if (gcodeMutex.Test())
            {
                _reactor.Pause(_reactor.Monotonic() + 0.050);
                continue;
            }
            _cmdFromSd = true;
            var line = lines.Pop();
            long nextFilePosition = _filePosition + Encoding.UTF8.GetByteCount(line) + 1;
            _nextFilePosition = nextFilePosition;
            try
            {
                _gcode.RunScript(line);
            }
            catch (CommandError e)
            {
                errorMessage = e.Message;
                try
                {
                    _gcode.RunScript(_onErrorGcode.Render());
                }
                catch (Exception)
                {
                }
                break;
            }
            catch (Exception)
            {
                break;
            }
            _cmdFromSd = false;
            _filePosition = _nextFilePosition;
            if (_nextFilePosition != nextFilePosition)
            {
                try
                {
                    _currentFile!.Seek(_filePosition);
                }
                catch (Exception)
                {
                    _workTimer = null;
                    return Reactor.Never;
                }
                lines.Clear();
                partialInput = "";
            }
        }
        _printer.Log?.Invoke($"Exiting SD card print (position {_filePosition})");
        _workTimer = null;
        _cmdFromSd = false;
        if (errorMessage is not null)
            _printStats.NoteError(errorMessage);
        else if (_currentFile is not null)
            _printStats.NotePause();
        else
            _printStats.NoteComplete();
        return Reactor.Never;
    }

    /// <summary>
    /// The file object upstream prints from: a text reader (UTF-8, no newline translation)
    /// over a buffered reader over a raw file whose every call runs on an executor thread.
    /// Each raw call costs one reactor pass, which is what other timers (the batch-mode
    /// step flush) observe, so the raw calls are reproduced one for one.
    /// </summary>
    private sealed class SdFile
    {
        private const int ChunkSize = 8192;
        private readonly FileStream _raw;
        private readonly Action _rawCall;
        private readonly byte[] _chunk = new byte[ChunkSize];
        private Decoder _decoder = NewDecoder();
        private string _decoded = "";
        private int _decodedUsed;

        private SdFile(FileStream raw, string name, Action rawCall)
        {
            _raw = raw;
            Name = name;
            _rawCall = rawCall;
        }

        public string Name { get; }

        public long Size { get; private set; }

        private static Decoder NewDecoder() => new UTF8Encoding(false, throwOnInvalidBytes: true).GetDecoder();

        /// <summary>Open, then measure the size the way upstream does (seek to the end, tell, seek back).</summary>
        public static SdFile Open(string path, Action rawCall)
        {
            rawCall(); // open
            var f = new SdFile(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1), path, rawCall);
            rawCall(); // buffered reader setup: readable, tell
            rawCall();
            rawCall(); // seek to end: seekable, seek
            rawCall();
            f.Size = f._raw.Seek(0, SeekOrigin.End);
            rawCall(); // tell
            rawCall(); // seek to start: seekable, seek
            rawCall();
            f._raw.Seek(0, SeekOrigin.Begin);
            rawCall(); // text wrapper setup: readable, seekable
            rawCall();
            return f;
        }

        /// <summary>Text seek to a byte position: flush, seekable, seek.</summary>
        public void Seek(long pos)
        {
            _rawCall();
            _rawCall();
            _rawCall();
            _raw.Seek(pos, SeekOrigin.Begin);
            _decoder = NewDecoder();
            _decoded = "";
            _decodedUsed = 0;
        }

        /// <summary>Up to <paramref name="n"/> characters; each chunk of bytes is one raw read.</summary>
        public string Read(int n)
        {
            var result = new StringBuilder();
            int remaining = n - TakeDecoded(result, n);
            while (remaining > 0)
            {
                _rawCall();
                int nbytes = _raw.Read(_chunk, 0, ChunkSize);
                bool eof = nbytes == 0;
                var chars = new char[_decoder.GetCharCount(_chunk, 0, nbytes, eof)];
                int nchars = _decoder.GetChars(_chunk, 0, nbytes, chars, 0, eof);
                _decoded = new string(chars, 0, nchars);
                _decodedUsed = 0;
                if (eof && nchars == 0)
                    break;
                remaining -= TakeDecoded(result, remaining);
            }
            return result.ToString();
        }

        private int TakeDecoded(StringBuilder result, int n)
        {
            int take = Math.Min(n, _decoded.Length - _decodedUsed);
            result.Append(_decoded, _decodedUsed, take);
            _decodedUsed += take;
            return take;
        }

        /// <summary>Close: the text and buffered layers each flush, then the raw file closes.</summary>
        public void Close()
        {
            _rawCall();
            _rawCall();
            _rawCall();
            _raw.Dispose();
        }
    }
}
