using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[sdcard_loop]: SDCARD_LOOP_BEGIN/END/DESIST repeat parts of a virtual SD file (upstream sdcard_loop.SDCardLoop).</summary>
public sealed class SDCardLoop
{
    public const string CmdSdcardLoopBeginHelp = "Begins a looped section in the SD file.";
    public const string CmdSdcardLoopEndHelp = "Ends a looped section in the SD file.";
    public const string CmdSdcardLoopDesistHelp = "Stops iterating the current loop stack.";

    private readonly Printer _printer;
    private readonly VirtualSD _sdcard;
    private List<(int Count, long Position)> _loopStack = new();

    public SDCardLoop(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _sdcard = _printer.LoadObject<VirtualSD>(config, "virtual_sdcard");
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("SDCARD_LOOP_BEGIN", CmdSdcardLoopBegin, desc: CmdSdcardLoopBeginHelp);
        gcode.RegisterCommand("SDCARD_LOOP_END", CmdSdcardLoopEnd, desc: CmdSdcardLoopEndHelp);
        gcode.RegisterCommand("SDCARD_LOOP_DESIST", CmdSdcardLoopDesist, desc: CmdSdcardLoopDesistHelp);
    }

    private void CmdSdcardLoopBegin(GCodeCommand gcmd)
    {
        int count = gcmd.GetInt("COUNT", minval: 0);
        if (!LoopBegin(count))
            throw gcmd.Error("Only permitted in SD file.");
    }

    private void CmdSdcardLoopEnd(GCodeCommand gcmd)
    {
        if (!LoopEnd())
            throw gcmd.Error("Only permitted in SD file.");
    }

    private void CmdSdcardLoopDesist(GCodeCommand gcmd)
    {
        if (!LoopDesist())
            throw gcmd.Error("Only permitted outside of a SD file.");
    }

    /// <summary>Pushes a loop start (count 0 = forever); false outside an SD file.</summary>
    public bool LoopBegin(int count)
    {
        if (!_sdcard.IsCmdFromSd())
            return false;
        _loopStack.Add((count, _sdcard.GetFilePosition()));
        return true;
    }

    /// <summary>Jumps back to the innermost loop start when iterations remain; false outside an SD file.</summary>
    public bool LoopEnd()
    {
        if (!_sdcard.IsCmdFromSd())
            return false;
        if (_loopStack.Count == 0)
            return true;
        var (count, position) = _loopStack[^1];
        _loopStack.RemoveAt(_loopStack.Count - 1);
        if (count == 0)
        {
            _sdcard.SetFilePosition(position);
            _loopStack.Add((0, position));
        }
        else if (count != 1)
        {
            _sdcard.SetFilePosition(position);
            _loopStack.Add((count - 1, position));
        }
        return true;
    }

    /// <summary>Drops all loops; false when called from inside an SD file.</summary>
    public bool LoopDesist()
    {
        if (_sdcard.IsCmdFromSd())
            return false;
        _printer.Log?.Invoke("Desisting existing SD loops");
        _loopStack = new();
        return true;
    }
}
