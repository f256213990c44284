using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[manual_probe]: MANUAL_PROBE, Z_ENDSTOP_CALIBRATE and Z_OFFSET_APPLY_ENDSTOP (upstream manual_probe.ManualProbe).</summary>
public sealed class ManualProbe : IStatusProvider
{
    public const string CmdManualProbeHelp = "Start manual probe helper script";
    public const string CmdZEndstopCalibrateHelp = "Calibrate a Z endstop";
    public const string CmdZOffsetApplyEndstopHelp = "Adjust the z endstop_position";

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly GCodeMove _gcodeMove;
    private readonly double? _zPositionEndstop;
    private readonly string? _zEndstopConfigName;
    private readonly double? _aPositionEndstop, _bPositionEndstop, _cPositionEndstop;
    private Dictionary<string, object?> _status = new();

    public ManualProbe(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        _gcode.RegisterCommand("MANUAL_PROBE", CmdManualProbe, desc: CmdManualProbeHelp);
        var zconfig = SafeZHoming.LookupZEndstopConfig(config);
        if (zconfig is not null)
        {
            _zPositionEndstop = zconfig.GetFloatOrNull("position_endstop", noteValid: false);
            _zEndstopConfigName = zconfig.Name;
        }
        _aPositionEndstop = config.GetSection("stepper_a").GetFloatOrNull("position_endstop", noteValid: false);
        _bPositionEndstop = config.GetSection("stepper_b").GetFloatOrNull("position_endstop", noteValid: false);
        _cPositionEndstop = config.GetSection("stepper_c").GetFloatOrNull("position_endstop", noteValid: false);
        if (_zPositionEndstop is not null)
        {
            _gcode.RegisterCommand("Z_ENDSTOP_CALIBRATE", CmdZEndstopCalibrate, desc: CmdZEndstopCalibrateHelp);
            _gcode.RegisterCommand("Z_OFFSET_APPLY_ENDSTOP", CmdZOffsetApplyEndstop, desc: CmdZOffsetApplyEndstopHelp);
        }
        if (config.GetSection("printer").Get("kinematics") == "delta")
            _gcode.RegisterCommand("Z_OFFSET_APPLY_ENDSTOP", CmdZOffsetApplyDeltaEndstops, desc: CmdZOffsetApplyEndstopHelp);
        ResetStatus();
    }

    /// <summary>The section holding the Z endstop, or null (upstream lookup_z_endstop_config).</summary>
    public static ConfigWrapper? LookupZEndstopConfig(ConfigWrapper config) => SafeZHoming.LookupZEndstopConfig(config);

    /// <summary>Fails when a manual probe is already running (upstream verify_no_manual_probe).</summary>
    public static void VerifyNoManualProbe(Printer printer) => ProbeUtil.VerifyNoManualProbe(printer);

    private void ManualProbeFinalize(ProbeResult? mpresult)
    {
        if (mpresult is not null)
            _gcode.RespondInfo($"Z position is {PyFmt.F(mpresult.BedZ, 3)}");
    }

    /// <summary>Marks no manual probe as active.</summary>
    public void ResetStatus() => _status = new()
    {
        ["is_active"] = false,
        ["z_position"] = null,
        ["z_position_lower"] = null,
        ["z_position_upper"] = null,
    };

    internal void SetStatus(Dictionary<string, object?> status) => _status = status;

    public Dictionary<string, object?> GetStatus(double eventtime) => _status;

    private void CmdManualProbe(GCodeCommand gcmd) => _ = new ManualProbeHelper(_printer, gcmd, ManualProbeFinalize);

    private static string SaveConfigNote(string body) =>
        body + "\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.";

    private void ZEndstopFinalize(ProbeResult? mpresult)
    {
        if (mpresult is null)
            return;
        double zPos = _zPositionEndstop!.Value - mpresult.BedZ;
        _gcode.RespondInfo(SaveConfigNote($"{_zEndstopConfigName}: position_endstop: {PyFmt.F(zPos, 3)}"));
        _printer.LookupObject<PrinterConfig>("configfile").Set(_zEndstopConfigName!, "position_endstop", PyFmt.F(zPos, 3));
    }

    private void CmdZEndstopCalibrate(GCodeCommand gcmd) => _ = new ManualProbeHelper(_printer, gcmd, ZEndstopFinalize);

    private double HomingOriginZ() => _gcodeMove.GetStatus()["homing_origin"] is Coord c ? c.Z : 0.0;

    private void CmdZOffsetApplyEndstop(GCodeCommand gcmd)
    {
        double offset = HomingOriginZ();
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        if (offset == 0)
        {
            _gcode.RespondInfo("Nothing to do: Z Offset is 0");
            return;
        }
        double newCalibrate = _zPositionEndstop!.Value - offset;
        _gcode.RespondInfo(SaveConfigNote($"{_zEndstopConfigName}: position_endstop: {PyFmt.F(newCalibrate, 3)}"));
        configfile.Set(_zEndstopConfigName!, "position_endstop", PyFmt.F(newCalibrate, 3));
    }

    private void CmdZOffsetApplyDeltaEndstops(GCodeCommand gcmd)
    {
        double offset = HomingOriginZ();
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        if (offset == 0)
        {
            _gcode.RespondInfo("Nothing to do: Z Offset is 0");
            return;
        }
        // Upstream does arithmetic on None here (a TypeError) when a tower lacks position_endstop.
        double a = (_aPositionEndstop ?? throw new CommandError("Internal error")) - offset;
        double b = (_bPositionEndstop ?? throw new CommandError("Internal error")) - offset;
        double c = (_cPositionEndstop ?? throw new CommandError("Internal error")) - offset;
        _gcode.RespondInfo(SaveConfigNote(
            $"stepper_a: position_endstop: {PyFmt.F(a, 3)}\nstepper_b: position_endstop: {PyFmt.F(b, 3)}\nstepper_c: position_endstop: {PyFmt.F(c, 3)}"));
        configfile.Set("stepper_a", "position_endstop", PyFmt.F(a, 3));
        configfile.Set("stepper_b", "position_endstop", PyFmt.F(b, 3));
        configfile.Set("stepper_c", "position_endstop", PyFmt.F(c, 3));
    }
}

/// <summary>The interactive TESTZ/ACCEPT/ABORT script that finds a Z height by hand (upstream ManualProbeHelper).</summary>
public sealed class ManualProbeHelper
{
    public const string CmdAcceptHelp = "Accept the current Z position";
    public const string CmdAbortHelp = "Abort manual Z probing tool";
    public const string CmdTestzHelp = "Move to new Z height";

    private const double ZBobMinimum = 0.500;
    private const double BisectMax = 0.200;

    private readonly Printer _printer;
    private readonly Action<ProbeResult?> _finalizeCallback;
    private readonly GCodeDispatch _gcode;
    private readonly ToolHead _toolhead;
    private readonly ManualProbe _manualProbe;
    private readonly double _speed;
    private readonly List<double> _pastPositions = new();
    private readonly double[] _startPosition;
    private double[]? _lastToolheadPos;
    private double[]? _lastKinematicsPos;

    public ManualProbeHelper(Printer printer, GCodeCommand gcmd, Action<ProbeResult?> finalizeCallback)
    {
        _printer = printer;
        _finalizeCallback = finalizeCallback;
        _gcode = printer.LookupObject<GCodeDispatch>("gcode");
        _toolhead = printer.LookupObject<ToolHead>("toolhead");
        _manualProbe = printer.LookupObject<ManualProbe>("manual_probe");
        _speed = gcmd.GetFloat("SPEED", 5.0);
        ProbeUtil.VerifyNoManualProbe(printer);
        _gcode.RegisterCommand("ACCEPT", CmdAccept, desc: CmdAcceptHelp);
        _gcode.RegisterCommand("NEXT", CmdAccept);
        _gcode.RegisterCommand("ABORT", CmdAbort, desc: CmdAbortHelp);
        _gcode.RegisterCommand("TESTZ", CmdTestz, desc: CmdTestzHelp);
        _gcode.RespondInfo("Starting manual Z probe. Use TESTZ to adjust position.\nFinish with ACCEPT or ABORT command.");
        _startPosition = _toolhead.GetPosition();
        ReportZStatus();
    }

    private double[] GetKinematicsPos()
    {
        var toolheadPos = _toolhead.GetPosition();
        if (_lastToolheadPos is not null && toolheadPos.AsSpan().SequenceEqual(_lastToolheadPos))
            return _lastKinematicsPos!;
        _toolhead.FlushStepGeneration();
        var kin = _toolhead.GetKinematics();
        var kinSpos = new Dictionary<string, double>();
        foreach (var s in kin.GetSteppers())
            kinSpos[s.GetName()] = s.GetCommandedPosition();
        var kinPos = kin.CalcPosition(kinSpos);
        _lastToolheadPos = toolheadPos;
        _lastKinematicsPos = kinPos;
        return kinPos;
    }

    private void MoveZ(double zPos)
    {
        var curpos = _toolhead.GetPosition();
        try
        {
            double zBobPos = zPos + ZBobMinimum;
            if (curpos[2] < zBobPos)
                _toolhead.ManualMove([null, null, zBobPos], _speed);
            _toolhead.ManualMove([null, null, zPos], _speed);
        }
        catch (CommandError)
        {
            Finalize(false);
            throw;
        }
    }

    private static int BisectLeft(List<double> list, double value)
    {
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (list[mid] < value)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    private void ReportZStatus(bool warnNoChange = false, double? prevPosIn = null)
    {
        double zPos = GetKinematicsPos()[2];
        if (warnNoChange && zPos == prevPosIn)
            _gcode.RespondInfo("WARNING: No change in position (reached stepper resolution)");
        var pp = _pastPositions;
        int nextPos = BisectLeft(pp, zPos);
        int prevPos = nextPos - 1;
        if (nextPos < pp.Count && pp[nextPos] == zPos)
            nextPos++;
        double? prevVal = null, nextVal = null;
        string prevStr = "??????", nextStr = "??????";
        if (prevPos >= 0)
        {
            prevVal = pp[prevPos];
            prevStr = PyFmt.F(prevVal.Value, 3);
        }
        if (nextPos < pp.Count)
        {
            nextVal = pp[nextPos];
            nextStr = PyFmt.F(nextVal.Value, 3);
        }
        _manualProbe.SetStatus(new()
        {
            ["is_active"] = true,
            ["z_position"] = zPos,
            ["z_position_lower"] = prevVal,
            ["z_position_upper"] = nextVal,
        });
        _gcode.RespondInfo($"Z position: {prevStr} --> {PyFmt.F(zPos, 3)} <-- {nextStr}");
    }

    private void CmdAccept(GCodeCommand gcmd)
    {
        var pos = _toolhead.GetPosition();
        var start = _startPosition;
        if (pos[0] != start[0] || pos[1] != start[1] || pos[2] >= start[2])
        {
            gcmd.RespondInfo("Manual probe failed! Use TESTZ commands to position the\nnozzle prior to running ACCEPT.");
            Finalize(false);
            return;
        }
        Finalize(true);
    }

    private void CmdAbort(GCodeCommand gcmd) => Finalize(false);

    private void CmdTestz(GCodeCommand gcmd)
    {
        double zPos = GetKinematicsPos()[2];
        var pp = _pastPositions;
        int insertPos = BisectLeft(pp, zPos);
        if (insertPos >= pp.Count || pp[insertPos] != zPos)
            pp.Insert(insertPos, zPos);
        string req = gcmd.Get("Z");
        double nextZPos;
        if (req is "+" or "++")
        {
            double checkZ = 9999999999999.9;
            if (insertPos < pp.Count - 1)
                checkZ = pp[insertPos + 1];
            if (req == "+")
                checkZ = (checkZ + zPos) / 2.0;
            nextZPos = Math.Min(checkZ, zPos + BisectMax);
        }
        else if (req is "-" or "--")
        {
            double checkZ = -9999999999999.9;
            if (insertPos > 0)
                checkZ = pp[insertPos - 1];
            if (req == "-")
                checkZ = (checkZ + zPos) / 2.0;
            nextZPos = Math.Max(checkZ, zPos - BisectMax);
        }
        else
        {
            nextZPos = zPos + gcmd.GetFloat("Z");
        }
        MoveZ(nextZPos);
        ReportZStatus(nextZPos != zPos, zPos);
    }

    private void Finalize(bool success)
    {
        _manualProbe.ResetStatus();
        _gcode.RegisterCommand("ACCEPT", null);
        _gcode.RegisterCommand("NEXT", null);
        _gcode.RegisterCommand("ABORT", null);
        _gcode.RegisterCommand("TESTZ", null);
        ProbeResult? mpresult = null;
        if (success)
            mpresult = ProbeResult.Create(GetKinematicsPos(), (0.0, 0.0, 0.0));
        _finalizeCallback(mpresult);
    }
}
