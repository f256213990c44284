using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>PAUSE/RESUME/CLEAR_PAUSE/CANCEL_PRINT with G-Code state capture (upstream pause_resume PauseResume).</summary>
public sealed class PauseResume : IStatusProvider
{
    public const string CmdPauseHelp = "Pauses the current print";
    public const string CmdResumeHelp = "Resumes the print from a pause";
    public const string CmdClearPauseHelp = "Clears the current paused state without resuming the print";
    public const string CmdCancelPrintHelp = "Cancel the current print";

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly double _recoverVelocity;
    private VirtualSD? _vSd;
    private bool _isPaused, _sdPaused, _pauseCommandSent;

    public PauseResume(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _recoverVelocity = config.GetFloat("recover_velocity", 50.0);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _gcode.RegisterCommand("PAUSE", CmdPause, desc: CmdPauseHelp);
        _gcode.RegisterCommand("RESUME", CmdResume, desc: CmdResumeHelp);
        _gcode.RegisterCommand("CLEAR_PAUSE", CmdClearPause, desc: CmdClearPauseHelp);
        _gcode.RegisterCommand("CANCEL_PRINT", CmdCancelPrint, desc: CmdCancelPrintHelp);
    }

    private void HandleConnect() => _vSd = _printer.TryLookupObject<VirtualSD>("virtual_sdcard");

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["is_paused"] = _isPaused };

    public bool IsSdActive() => _vSd is not null && _vSd.IsActive();

    public void SendPauseCommand()
    {
        if (_pauseCommandSent)
            return;
        if (IsSdActive())
        {
            _sdPaused = true;
            _vSd!.DoPause();
        }
        else
        {
            _sdPaused = false;
            _gcode.RespondInfo("action:paused");
        }
        _pauseCommandSent = true;
    }

    private void CmdPause(GCodeCommand gcmd)
    {
        if (_isPaused)
        {
            gcmd.RespondInfo("Print already paused");
            return;
        }
        SendPauseCommand();
        _gcode.RunScriptFromCommand("SAVE_GCODE_STATE NAME=PAUSE_STATE");
        _isPaused = true;
    }

    public void SendResumeCommand()
    {
        if (_sdPaused)
        {
            _vSd!.DoResume();
            _sdPaused = false;
        }
        else
        {
            _gcode.RespondInfo("action:resumed");
        }
        _pauseCommandSent = false;
    }

    private void CmdResume(GCodeCommand gcmd)
    {
        if (!_isPaused)
        {
            gcmd.RespondInfo("Print is not paused, resume aborted");
            return;
        }
        double velocity = gcmd.GetFloat("VELOCITY", _recoverVelocity);
        _gcode.RunScriptFromCommand($"RESTORE_GCODE_STATE NAME=PAUSE_STATE MOVE=1 MOVE_SPEED={PyFmt.F(velocity, 4)}");
        SendResumeCommand();
        _isPaused = false;
    }

    private void CmdClearPause(GCodeCommand gcmd) => _isPaused = _pauseCommandSent = false;

    private void CmdCancelPrint(GCodeCommand gcmd)
    {
        if (IsSdActive() || _sdPaused)
            _vSd!.DoCancel();
        else
            gcmd.RespondInfo("action:cancel");
        CmdClearPause(gcmd);
    }
}
