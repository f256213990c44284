using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[axis_twist_compensation]: corrects probe results for a twisted X (or Y) axis (upstream axis_twist_compensation.AxisTwistCompensation).</summary>
public sealed class AxisTwistCompensation
{
    public const int DefaultSampleCount = 3;
    public const double DefaultSpeed = 50.0;
    public const double DefaultHorizontalMoveZ = 5.0;

    public AxisTwistCompensation(ConfigWrapper config)
    {
        Printer = config.GetPrinter();
        HorizontalMoveZ = config.GetFloat("horizontal_move_z", DefaultHorizontalMoveZ);
        Speed = config.GetFloat("speed", DefaultSpeed);
        CalibrateStartX = config.GetFloatOrNull("calibrate_start_x");
        CalibrateEndX = config.GetFloatOrNull("calibrate_end_x");
        CalibrateY = config.GetFloatOrNull("calibrate_y");
        ZCompensations = config.GetFloatList("z_compensations", []).ToList();
        CompensationStartX = config.GetFloatOrNull("compensation_start_x");
        CompensationEndX = config.GetFloatOrNull("compensation_end_x");
        CalibrateStartY = config.GetFloatOrNull("calibrate_start_y");
        CalibrateEndY = config.GetFloatOrNull("calibrate_end_y");
        CalibrateX = config.GetFloatOrNull("calibrate_x");
        CompensationStartY = config.GetFloatOrNull("compensation_start_y");
        CompensationEndY = config.GetFloatOrNull("compensation_end_y");
        ZyCompensations = config.GetFloatList("zy_compensations", []).ToList();
        _ = new Calibrater(this, config);
        Printer.RegisterEventHandler<List<ProbeResult>>("probe:update_results", UpdateZCompensationValue);
    }

    public Printer Printer { get; }
    public double HorizontalMoveZ { get; }
    public double Speed { get; }
    public double? CalibrateStartX { get; }
    public double? CalibrateEndX { get; }
    public double? CalibrateY { get; }
    public double? CalibrateStartY { get; }
    public double? CalibrateEndY { get; }
    public double? CalibrateX { get; }
    public List<double> ZCompensations { get; set; }
    public List<double> ZyCompensations { get; set; }
    public double? CompensationStartX { get; set; }
    public double? CompensationEndX { get; set; }
    public double? CompensationStartY { get; set; }
    public double? CompensationEndY { get; set; }

    private void UpdateZCompensationValue(List<ProbeResult> poslist)
    {
        for (int i = 0; i < poslist.Count; i++)
        {
            var pos = poslist[i];
            double zo = 0.0;
            if (ZCompensations.Count > 0)
                zo += GetInterpolatedZCompensation(pos.TestX, ZCompensations, CompensationStartX!.Value, CompensationEndX!.Value);
            if (ZyCompensations.Count > 0)
                zo += GetInterpolatedZCompensation(pos.TestY, ZyCompensations, CompensationStartY!.Value, CompensationEndY!.Value);
            poslist[i] = pos with { BedZ = pos.BedZ + zo };
        }
    }

    /// <summary>Linear interpolation of the compensation table at a coordinate (clamped to the ends' segments).</summary>
    public static double GetInterpolatedZCompensation(double coord, IReadOnlyList<double> zCompensations, double compStart, double compEnd)
    {
        int sampleCount = zCompensations.Count;
        double spacing = (compEnd - compStart) / (sampleCount - 1);
        double interpolateT = (coord - compStart) / spacing;
        double fl = Math.Floor(interpolateT);
        int interpolateI = (int)Math.Min(sampleCount - 2, Math.Max(0, fl));
        interpolateT -= interpolateI;
        return BedMeshUtil.Lerp(interpolateT, zCompensations[interpolateI], zCompensations[interpolateI + 1]);
    }

    public void ClearCompensations(string? axis = null)
    {
        if (axis is null)
        {
            ZCompensations = new();
            ZyCompensations = new();
        }
        else if (axis == "X")
        {
            ZCompensations = new();
        }
        else if (axis == "Y")
        {
            ZyCompensations = new();
        }
    }
}

/// <summary>AXIS_TWIST_COMPENSATION_CALIBRATE: probe and nozzle-touch along an axis (upstream axis_twist_compensation.Calibrater).</summary>
public sealed class Calibrater
{
    public const string CmdAxisTwistCompensationCalibrateHelp =
        "\n    Performs the x twist calibration wizard\n    Measure z probe offset at n points along the x axis,\n    and calculate x twist compensation\n    ";

    private readonly AxisTwistCompensation _compensation;
    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private IPrinterProbe? _probe;
    private double _liftSpeed;
    private readonly double _speed;
    private readonly double _horizontalMoveZ;
    private readonly (double? X, double? Y) _xStartPoint, _xEndPoint, _yStartPoint, _yEndPoint;
    private List<double> _results = new();
    private int _currentPointIndex;
    private GCodeCommand? _gcmd;
    private readonly string _configname;
    private string _currentAxis = "X";
    private double _currentMeasuredZ;

    public Calibrater(AxisTwistCompensation compensation, ConfigWrapper config)
    {
        _compensation = compensation;
        _printer = compensation.Printer;
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _speed = compensation.Speed;
        _horizontalMoveZ = compensation.HorizontalMoveZ;
        _xStartPoint = (compensation.CalibrateStartX, compensation.CalibrateY);
        _xEndPoint = (compensation.CalibrateEndX, compensation.CalibrateY);
        _yStartPoint = (compensation.CalibrateX, compensation.CalibrateStartY);
        _yEndPoint = (compensation.CalibrateX, compensation.CalibrateEndY);
        _configname = config.Name;
        _gcode.RegisterCommand("AXIS_TWIST_COMPENSATION_CALIBRATE", CmdAxisTwistCompensationCalibrate,
            desc: CmdAxisTwistCompensationCalibrateHelp);
    }

    private void HandleConnect()
    {
        _probe = _printer.TryLookupObject<IPrinterProbe>("probe")
            ?? throw new ConfigError("AXIS_TWIST_COMPENSATION requires [probe] to be defined");
        _liftSpeed = _probe.GetProbeParams().LiftSpeed;
    }

    // Python truthiness: None and 0.0 both count as missing
    private static bool Truthy(double? v) => v is double d && d != 0.0;

    private void CmdAxisTwistCompensationCalibrate(GCodeCommand gcmd)
    {
        _gcmd = gcmd;
        var (probeXOffset, probeYOffset, _) = _probe!.GetOffsets(gcmd);
        int sampleCount = gcmd.GetInt("SAMPLE_COUNT", AxisTwistCompensation.DefaultSampleCount);
        string axis = gcmd.Get("AXIS", "X");
        if (sampleCount < 2)
            throw gcmd.Error("SAMPLE_COUNT to probe must be at least 2");
        var nozzlePoints = new List<(double X, double Y)>();
        double intervalDist;
        if (axis == "X")
        {
            _compensation.ClearCompensations("X");
            if (!(Truthy(_xStartPoint.X) && Truthy(_xEndPoint.X) && Truthy(_xStartPoint.Y)))
                throw gcmd.Error("AXIS_TWIST_COMPENSATION for X axis requires\n                    calibrate_start_x, calibrate_end_x and calibrate_y\n                    to be defined\n                    ");
            double xAxisRange = _xEndPoint.X!.Value - _xStartPoint.X!.Value;
            intervalDist = xAxisRange / (sampleCount - 1);
            for (int i = 0; i < sampleCount; i++)
                nozzlePoints.Add((_xStartPoint.X.Value + i * intervalDist, _xStartPoint.Y!.Value));
        }
        else if (axis == "Y")
        {
            _compensation.ClearCompensations("Y");
            if (!(Truthy(_yStartPoint.X) && Truthy(_yEndPoint.X) && Truthy(_yStartPoint.Y)))
                throw gcmd.Error("AXIS_TWIST_COMPENSATION for Y axis requires\n                    calibrate_start_y, calibrate_end_y and calibrate_x\n                    to be defined\n                    ");
            double yAxisRange = _yEndPoint.Y!.Value - _yStartPoint.Y!.Value;
            intervalDist = yAxisRange / (sampleCount - 1);
            for (int i = 0; i < sampleCount; i++)
                nozzlePoints.Add((_yStartPoint.X!.Value, _yStartPoint.Y.Value + i * intervalDist));
        }
        else
        {
            throw gcmd.Error("AXIS_TWIST_COMPENSATION_CALIBRATE: Invalid axis.");
        }
        var probePoints = nozzlePoints.Select(p => (p.X - probeXOffset, p.Y - probeYOffset)).ToList();
        ProbeUtil.VerifyNoManualProbe(_printer);
        _currentPointIndex = 0;
        _results = new();
        _currentAxis = axis;
        Calibration(probePoints, nozzlePoints);
    }

    private void MoveHelper(double? x, double? y, double? z, double? overrideSpeed = null)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        double speed = z is null ? _speed : _liftSpeed;
        speed = overrideSpeed ?? speed;
        toolhead.ManualMove([x, y, z], speed);
    }

    private void Calibration(List<(double X, double Y)> probePoints, List<(double X, double Y)> nozzlePoints)
    {
        _gcmd!.RespondInfo($"AXIS_TWIST_COMPENSATION_CALIBRATE: Probing point {_currentPointIndex + 1} of {probePoints.Count}");
        MoveHelper(null, null, _horizontalMoveZ);
        MoveHelper(probePoints[_currentPointIndex].X, probePoints[_currentPointIndex].Y, null);
        var pos = ProbeUtil.RunSingleProbe(_probe!, _gcmd);
        _currentMeasuredZ = pos.BedZ;
        MoveHelper(null, null, _horizontalMoveZ);
        MoveHelper(nozzlePoints[_currentPointIndex].X, nozzlePoints[_currentPointIndex].Y, null);
        bool isEnd = _currentPointIndex == probePoints.Count - 1;
        _ = new ManualProbeHelper(_printer, _gcmd, mpresult =>
        {
            if (mpresult is null)
            {
                _gcmd.RespondInfo("AXIS_TWIST_COMPENSATION_CALIBRATE: Probe cancelled, calibration aborted");
                return;
            }
            _results.Add(_currentMeasuredZ - mpresult.BedZ);
            if (isEnd)
            {
                FinalizeCalibration();
            }
            else
            {
                _currentPointIndex++;
                Calibration(probePoints, nozzlePoints);
            }
        });
    }

    private void FinalizeCalibration()
    {
        double sum = 0;
        foreach (var r in _results)
            sum += r;
        double avg = sum / _results.Count;
        _results = _results.Select(x => avg - x).ToList();
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        string valuesAsStr = string.Join(", ", _results.Select(x => PyFmt.F(x, 6)));
        if (_currentAxis == "X")
        {
            configfile.Set(_configname, "z_compensations", valuesAsStr);
            configfile.Set(_configname, "compensation_start_x", _xStartPoint.X);
            configfile.Set(_configname, "compensation_end_x", _xEndPoint.X);
            _compensation.ZCompensations = _results;
            _compensation.CompensationStartX = _xStartPoint.X;
            _compensation.CompensationEndX = _xEndPoint.X;
        }
        else if (_currentAxis == "Y")
        {
            configfile.Set(_configname, "zy_compensations", valuesAsStr);
            configfile.Set(_configname, "compensation_start_y", _yStartPoint.Y);
            configfile.Set(_configname, "compensation_end_y", _yEndPoint.Y);
            _compensation.ZyCompensations = _results;
            _compensation.CompensationStartY = _yStartPoint.Y;
            _compensation.CompensationEndY = _yEndPoint.Y;
        }
        _gcode.RespondInfo("AXIS_TWIST_COMPENSATION state has been saved for the current session.  The SAVE_CONFIG command will update the printer config file and restart the printer.");
        _gcmd!.RespondInfo($"AXIS_TWIST_COMPENSATION_CALIBRATE: Calibration complete, offsets: {BedMeshUtil.List(_results)}, mean z_offset: {PyFmt.F(avg, 6)}");
    }
}
