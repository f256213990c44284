using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[bed_tilt]: adds a planar z correction to every move (upstream bed_tilt.BedTilt).</summary>
public sealed class BedTilt : IMoveTransform
{
    private readonly Printer _printer;
    private ToolHead? _toolhead;

    public BedTilt(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        XAdjust = config.GetFloat("x_adjust", 0.0);
        YAdjust = config.GetFloat("y_adjust", 0.0);
        ZAdjust = config.GetFloat("z_adjust", 0.0);
        if (config.GetOrNull("points") is not null)
            _ = new BedTiltCalibrate(config, this);
        var gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        gcodeMove.SetMoveTransform(this);
    }

    public double XAdjust { get; private set; }

    public double YAdjust { get; private set; }

    public double ZAdjust { get; private set; }

    private void HandleConnect() => _toolhead = _printer.LookupObject<ToolHead>("toolhead");

    public double[] GetPosition()
    {
        var pos = _toolhead!.GetPosition();
        pos[2] -= pos[0] * XAdjust + pos[1] * YAdjust + ZAdjust;
        return pos;
    }

    public void Move(IReadOnlyList<double> newpos, double speed)
    {
        var pos = newpos.ToArray();
        pos[2] += pos[0] * XAdjust + pos[1] * YAdjust + ZAdjust;
        _toolhead!.Move(pos, speed);
    }

    /// <summary>Applies new tilt parameters and records them for SAVE_CONFIG.</summary>
    public void UpdateAdjust(double xAdjust, double yAdjust, double zAdjust)
    {
        XAdjust = xAdjust;
        YAdjust = yAdjust;
        ZAdjust = zAdjust;
        _printer.LookupObject<GCodeMove>("gcode_move").ResetLastPosition();
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        configfile.Set("bed_tilt", "x_adjust", PyFmt.F(xAdjust, 6));
        configfile.Set("bed_tilt", "y_adjust", PyFmt.F(yAdjust, 6));
        configfile.Set("bed_tilt", "z_adjust", PyFmt.F(zAdjust, 6));
    }
}

/// <summary>BED_TILT_CALIBRATE: probes points and fits the tilt plane (upstream bed_tilt.BedTiltCalibrate).</summary>
public sealed class BedTiltCalibrate
{
    public const string CmdBedTiltCalibrateHelp = "Bed tilt calibration script";

    private readonly Printer _printer;
    private readonly BedTilt _bedtilt;
    private readonly ProbePointsHelper _probeHelper;
    private readonly GCodeDispatch _gcode;

    public BedTiltCalibrate(ConfigWrapper config, BedTilt bedtilt)
    {
        _printer = config.GetPrinter();
        _bedtilt = bedtilt;
        _probeHelper = new ProbePointsHelper(config, ProbeFinalize);
        _probeHelper.MinimumPoints(3);
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("BED_TILT_CALIBRATE", CmdBedTiltCalibrate, desc: CmdBedTiltCalibrateHelp);
    }

    private void CmdBedTiltCalibrate(GCodeCommand gcmd) => _probeHelper.StartProbe(gcmd);

    private string? ProbeFinalize(IReadOnlyList<ProbeResult> positions)
    {
        var eqs = positions.Select(p => new[] { 1.0, p.BedX, p.BedY }).ToArray();
        var ans = positions.Select(p => new[] { p.BedZ }).ToArray();
        var res = ZTilt.SolveLinearEquations(eqs, ans) ?? throw _gcode.Error("Unable to calculate tilt");
        double zAdjust = res[0][0], xAdjust = res[1][0], yAdjust = res[2][0];
        _bedtilt.UpdateAdjust(xAdjust, yAdjust, zAdjust);
        string msg = $"x_adjust: {PyFmt.F(xAdjust, 6)} y_adjust: {PyFmt.F(yAdjust, 6)} z_adjust: {PyFmt.F(zAdjust, 6)}";
        _printer.Log?.Invoke("bed_tilt: " + msg);
        _gcode.RespondInfo(msg + "\nThe above parameters have been applied to the current\nsession. The SAVE_CONFIG command will update the printer\nconfig file and restart the printer.");
        return null;
    }
}
