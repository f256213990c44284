using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[firmware_retraction]: G10/G11 retraction (upstream firmware_retraction.FirmwareRetraction).</summary>
public sealed class FirmwareRetraction : IStatusProvider
{
    public const string CmdSetRetractionHelp = "Set firmware retraction parameters";
    public const string CmdGetRetractionHelp = "Report firmware retraction parameters";
    private double _retractLength, _retractSpeed, _unretractExtraLength, _unretractSpeed, _unretractLength;
    private bool _isRetracted;
    private readonly GCodeDispatch _gcode;

    public FirmwareRetraction(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        _retractLength = config.GetFloat("retract_length", 0.0, minval: 0.0);
        _retractSpeed = config.GetFloat("retract_speed", 20.0, minval: 1);
        _unretractExtraLength = config.GetFloat("unretract_extra_length", 0.0, minval: 0.0);
        _unretractSpeed = config.GetFloat("unretract_speed", 10.0, minval: 1);
        _unretractLength = _retractLength + _unretractExtraLength;
        _gcode = printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("SET_RETRACTION", CmdSetRetraction, desc: CmdSetRetractionHelp);
        _gcode.RegisterCommand("GET_RETRACTION", CmdGetRetraction, desc: CmdGetRetractionHelp);
        _gcode.RegisterCommand("G10", CmdG10);
        _gcode.RegisterCommand("G11", CmdG11);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["retract_length"] = _retractLength,
        ["retract_speed"] = _retractSpeed,
        ["unretract_extra_length"] = _unretractExtraLength,
        ["unretract_speed"] = _unretractSpeed,
    };

    private void CmdSetRetraction(GCodeCommand gcmd)
    {
        _retractLength = gcmd.GetFloat("RETRACT_LENGTH", _retractLength, minval: 0.0);
        _retractSpeed = gcmd.GetFloat("RETRACT_SPEED", _retractSpeed, minval: 1);
        _unretractExtraLength = gcmd.GetFloat("UNRETRACT_EXTRA_LENGTH", _unretractExtraLength, minval: 0.0);
        _unretractSpeed = gcmd.GetFloat("UNRETRACT_SPEED", _unretractSpeed, minval: 1);
        _unretractLength = _retractLength + _unretractExtraLength;
        _isRetracted = false;
    }

    private void CmdGetRetraction(GCodeCommand gcmd) =>
        gcmd.RespondInfo($"RETRACT_LENGTH={PyFmt.F(_retractLength, 5)} RETRACT_SPEED={PyFmt.F(_retractSpeed, 5)} UNRETRACT_EXTRA_LENGTH={PyFmt.F(_unretractExtraLength, 5)} UNRETRACT_SPEED={PyFmt.F(_unretractSpeed, 5)}");

    private void CmdG10(GCodeCommand gcmd)
    {
        if (_isRetracted)
            return;
        _gcode.RunScriptFromCommand($"SAVE_GCODE_STATE NAME=_retract_state\nG91\nG1 E-{PyFmt.F(_retractLength, 5)} F{(long)(_retractSpeed * 60)}\nRESTORE_GCODE_STATE NAME=_retract_state");
        _isRetracted = true;
    }

    private void CmdG11(GCodeCommand gcmd)
    {
        if (!_isRetracted)
            return;
        _gcode.RunScriptFromCommand($"SAVE_GCODE_STATE NAME=_retract_state\nG91\nG1 E{PyFmt.F(_unretractLength, 5)} F{(long)(_unretractSpeed * 60)}\nRESTORE_GCODE_STATE NAME=_retract_state");
        _isRetracted = false;
    }
}
