using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Extras;

/// <summary>
/// Delta printer calibration (upstream extras/delta_calibrate.py): DELTA_CALIBRATE
/// probes heights around the bed and fits the delta geometry by coordinate descent;
/// DELTA_ANALYZE adds measurements of the calibration print for an extended fit.
/// Positions are kept as "stable positions" (steps since each tower's endstop).
/// </summary>
public sealed class DeltaCalibrate
{
    public const string CmdDeltaCalibrateHelp = "Delta calibration script";
    public const string CmdDeltaAnalyzeHelp = "Extended delta calibration tool";

    // Geometry of the calibration object docs/prints/calibrate_size.stl
    private static readonly double[] MeasureAngles = [210.0, 270.0, 330.0, 30.0, 90.0, 150.0];
    private const double MeasureOuterRadius = 65;
    private const double MeasureRidgeRadius = 5.0 - .5;

    /// <summary>How much a distance measurement counts relative to a height measurement.</summary>
    private const double MeasureWeight = 0.5;

    private readonly Printer _printer;
    private readonly ProbePointsHelper _probeHelper;
    private readonly List<(double Height, double[] Pos)> _lastProbePositions = new();
    private readonly List<(double Height, double[] Pos)> _manualHeights = new();
    private readonly Dictionary<string, double[]> _deltaAnalyzeEntry = new() { ["SCALE"] = [1.0] };
    private readonly List<(double Dist, double[] Pos1, double[] Pos2)> _lastDistances = new();
    private readonly GCodeDispatch _gcode;

    public DeltaCalibrate(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        // Default probe points: the center and six points around it
        double radius = config.GetFloat("radius", above: 0.0);
        var points = new List<IReadOnlyList<double>> { new[] { 0.0, 0.0 } };
        double[] scatter = [.95, .90, .85, .70, .75, .80];
        for (int i = 0; i < 6; i++)
        {
            double r = (90.0 + 60.0 * i) * (Math.PI / 180.0);
            double dist = radius * scatter[i];
            points.Add(new[] { Math.Cos(r) * dist, Math.Sin(r) * dist });
        }
        _probeHelper = new ProbePointsHelper(config, ProbeFinalize, points);
        _probeHelper.MinimumPoints(3);
        // Restore saved probe results, manual heights and distance measurements
        for (int i = 0; i < 999; i++)
        {
            double? height = config.GetFloatOrNull($"height{i}");
            if (height is null)
                break;
            _lastProbePositions.Add((height.Value, LoadConfigStable(config, $"height{i}_pos")));
        }
        for (int i = 0; i < 999; i++)
        {
            double? height = config.GetFloatOrNull($"manual_height{i}");
            if (height is null)
                break;
            _manualHeights.Add((height.Value, LoadConfigStable(config, $"manual_height{i}_pos")));
        }
        for (int i = 0; i < 999; i++)
        {
            double? dist = config.GetFloatOrNull($"distance{i}");
            if (dist is null)
                break;
            _lastDistances.Add((dist.Value, LoadConfigStable(config, $"distance{i}_pos1"),
                LoadConfigStable(config, $"distance{i}_pos2")));
        }
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("DELTA_CALIBRATE", CmdDeltaCalibrate, desc: CmdDeltaCalibrateHelp);
        _gcode.RegisterCommand("DELTA_ANALYZE", CmdDeltaAnalyze, desc: CmdDeltaAnalyzeHelp);
    }

    private static double[] LoadConfigStable(ConfigWrapper config, string option) =>
        config.GetFloatList(option, count: 3).ToArray();

    private IDeltaCalibrationKinematics Kinematics() =>
        (IDeltaCalibrationKinematics)_printer.LookupObject<ToolHead>("toolhead").GetKinematics();

    private void HandleConnect()
    {
        if (_printer.LookupObject<ToolHead>("toolhead").GetKinematics() is not IDeltaCalibrationKinematics)
            throw new ConfigError("Delta calibrate is only for delta printers");
    }

    /// <summary>
    /// Distance measurements of the calibration object as (actual distance, stable
    /// position 1, stable position 2) triples (upstream measurements_to_distances).
    /// </summary>
    public static List<(double Dist, double[] Pos1, double[] Pos2)> MeasurementsToDistances(
        IReadOnlyDictionary<string, double[]> measuredParams, IDeltaCalibration deltaParams)
    {
        var mp = measuredParams;
        double scale = mp["SCALE"][0];
        double[] cpw = mp["CENTER_PILLAR_WIDTHS"];
        double[] centerWidths = [cpw[0], cpw[2], cpw[1], cpw[0], cpw[2], cpw[1]];
        var centerDists = mp["CENTER_DISTS"].Zip(centerWidths, (od, cw) => od - cw).ToArray();
        var outerDists = mp["OUTER_DISTS"].Zip(mp["OUTER_PILLAR_WIDTHS"], (od, opw) => od - opw).ToArray();
        // Angles in degrees to XY multipliers
        var xyAngles = MeasureAngles.Select(a => a * (Math.PI / 180.0)).Select(a => (Math.Cos(a), Math.Sin(a))).ToArray();
        // Center measurements
        double innerRidge = MeasureRidgeRadius * scale;
        double outerRidge = (MeasureOuterRadius + MeasureRidgeRadius) * scale;
        var res = new List<(double, double[], double[])>();
        int nCenter = Math.Min(centerDists.Length, xyAngles.Length);
        for (int i = 0; i < nCenter; i++)
        {
            var (ax, ay) = xyAngles[i];
            double[] ip = [ax * innerRidge, ay * innerRidge, 0.0];
            double[] op = [ax * outerRidge, ay * outerRidge, 0.0];
            res.Add((centerDists[i], deltaParams.CalcStablePosition(ip), deltaParams.CalcStablePosition(op)));
        }
        // Outer measurements
        double outerCenter = MeasureOuterRadius * scale;
        var startPos = xyAngles.Select(a => (a.Item1 * outerCenter, a.Item2 * outerCenter)).ToArray();
        var shiftedAngles = xyAngles.Skip(2).Concat(xyAngles.Take(2)).ToArray();
        int nOuter = Math.Min(outerDists.Length, shiftedAngles.Length);
        for (int i = 0; i < nOuter; i++)
        {
            var (ax, ay) = shiftedAngles[i];
            var (spx, spy) = startPos[i];
            double[] fp = [ax * innerRidge + spx, ay * innerRidge + spy, 0.0];
            double[] sp = [ax * outerRidge + spx, ay * outerRidge + spy, 0.0];
            res.Add((outerDists[i], deltaParams.CalcStablePosition(fp), deltaParams.CalcStablePosition(sp)));
        }
        return res;
    }

    private void SaveState(List<(double Height, double[] Pos)> probePositions,
        List<(double Dist, double[] Pos1, double[] Pos2)> distances, IDeltaCalibration deltaParams)
    {
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        deltaParams.SaveState(configfile, _printer);
        const string section = "delta_calibrate";
        configfile.RemoveSection(section);
        static string Stable(double[] p) => $"{PyFmt.F(p[0], 3)},{PyFmt.F(p[1], 3)},{PyFmt.F(p[2], 3)}";
        for (int i = 0; i < probePositions.Count; i++)
        {
            configfile.Set(section, $"height{i}", probePositions[i].Height);
            configfile.Set(section, $"height{i}_pos", Stable(probePositions[i].Pos));
        }
        for (int i = 0; i < _manualHeights.Count; i++)
        {
            configfile.Set(section, $"manual_height{i}", _manualHeights[i].Height);
            configfile.Set(section, $"manual_height{i}_pos", Stable(_manualHeights[i].Pos));
        }
        for (int i = 0; i < distances.Count; i++)
        {
            configfile.Set(section, $"distance{i}", distances[i].Dist);
            configfile.Set(section, $"distance{i}_pos1", Stable(distances[i].Pos1));
            configfile.Set(section, $"distance{i}_pos2", Stable(distances[i].Pos2));
        }
    }

    private string? ProbeFinalize(IReadOnlyList<ProbeResult> positions)
    {
        var calibration = Kinematics().GetCalibration();
        var probePositions = positions
            .Select(p => (p.TestZ - p.BedZ, calibration.CalcStablePosition([p.TestX, p.TestY, p.TestZ])))
            .ToList();
        CalculateParams(probePositions, _lastDistances);
        return null;
    }

    private static double Dist3(double[] a, double[] b) =>
        MathUtil.Sqrt(Math.Pow(a[0] - b[0], 2) + Math.Pow(a[1] - b[1], 2) + Math.Pow(a[2] - b[2], 2));

    private void CalculateParams(List<(double Height, double[] Pos)> probePositions,
        List<(double Dist, double[] Pos1, double[] Pos2)> distances)
    {
        var heightPositions = _manualHeights.Concat(probePositions).ToList();
        var origDeltaParams = Kinematics().GetCalibration();
        var (adjParams, parameters) = origDeltaParams.CoordinateDescentParams(distances.Count > 0);
        _printer.Log?.Invoke("Calculating delta_calibrate");
        double zWeight = 1.0;
        if (distances.Count > 0)
            zWeight = distances.Count / (MeasureWeight * probePositions.Count);
        double DeltaErrorFunc(Dictionary<string, double> p)
        {
            try
            {
                var deltaParams = origDeltaParams.NewCalibration(p);
                double totalError = 0.0;
                foreach (var (zOffset, stablePos) in heightPositions)
                {
                    double z = deltaParams.GetPositionFromStable(stablePos)[2];
                    totalError += Math.Pow(z - zOffset, 2);
                }
                totalError *= zWeight;
                foreach (var (dist, stablePos1, stablePos2) in distances)
                {
                    double d = Dist3(deltaParams.GetPositionFromStable(stablePos1), deltaParams.GetPositionFromStable(stablePos2));
                    totalError += Math.Pow(d - dist, 2);
                }
                return totalError;
            }
            catch (ArithmeticException)
            {
                // A square root of a negative number: geometry out of reach
                return 9999999999999.9;
            }
        }
        var newParams = MathUtil.CoordinateDescent(adjParams, parameters, DeltaErrorFunc, _printer.Log);
        var newDeltaParams = origDeltaParams.NewCalibration(newParams);
        foreach (var (zOffset, spos) in heightPositions)
        {
            _printer.Log?.Invoke($"height orig: {PyFmt.F(origDeltaParams.GetPositionFromStable(spos)[2], 6)}"
                + $" new: {PyFmt.F(newDeltaParams.GetPositionFromStable(spos)[2], 6)} goal: {PyFmt.F(zOffset, 6)}");
        }
        foreach (var (dist, spos1, spos2) in distances)
        {
            double origDist = Dist3(origDeltaParams.GetPositionFromStable(spos1), origDeltaParams.GetPositionFromStable(spos2));
            double newDist = Dist3(newDeltaParams.GetPositionFromStable(spos1), newDeltaParams.GetPositionFromStable(spos2));
            _printer.Log?.Invoke($"distance orig: {PyFmt.F(origDist, 6)} new: {PyFmt.F(newDist, 6)} goal: {PyFmt.F(dist, 6)}");
        }
        SaveState(probePositions, distances, newDeltaParams);
        _gcode.RespondInfo("The SAVE_CONFIG command will update the printer config file\n"
            + "with these parameters and restart the printer.");
    }

    public void CmdDeltaCalibrate(GCodeCommand gcmd) => _probeHelper.StartProbe(gcmd);

    private void AddManualHeight(double height)
    {
        // Where is the toolhead now, as a stable position?
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        var kin = toolhead.GetKinematics();
        var kinSpos = new Dictionary<string, double>();
        foreach (var s in kin.GetSteppers())
            kinSpos[s.GetName()] = s.GetCommandedPosition();
        var kinPos = kin.CalcPosition(kinSpos);
        var deltaParams = ((IDeltaCalibrationKinematics)kin).GetCalibration();
        var stablePos = deltaParams.CalcStablePosition(kinPos);
        _manualHeights.Add((height, stablePos));
        _gcode.RespondInfo($"Adding manual height: {PyFmt.F(kinPos[0], 3)},{PyFmt.F(kinPos[1], 3)},{PyFmt.F(kinPos[2], 3)}"
            + $" is actually z={PyFmt.F(height, 3)}");
    }

    private void DoExtendedCalibration()
    {
        List<(double Dist, double[] Pos1, double[] Pos2)> distances;
        if (_deltaAnalyzeEntry.Count <= 1)
            distances = _lastDistances;
        else if (_deltaAnalyzeEntry.Count < 5)
            throw _gcode.Error("Not all measurements provided");
        else
            distances = MeasurementsToDistances(_deltaAnalyzeEntry, Kinematics().GetCalibration());
        if (_lastProbePositions.Count == 0)
            throw _gcode.Error("Must run basic calibration with DELTA_CALIBRATE first");
        CalculateParams(_lastProbePositions, distances);
    }

    public void CmdDeltaAnalyze(GCodeCommand gcmd)
    {
        double? mheight = gcmd.GetFloatOrNull("MANUAL_HEIGHT");
        if (mheight is { } mh)
        {
            AddManualHeight(mh);
            return;
        }
        // Distance measurements of the calibration object
        (string Name, int Count)[] args =
        [
            ("CENTER_DISTS", 6), ("CENTER_PILLAR_WIDTHS", 3), ("OUTER_DISTS", 6),
            ("OUTER_PILLAR_WIDTHS", 6), ("SCALE", 1),
        ];
        foreach (var (name, count) in args)
        {
            string? data = gcmd.GetOrNull(name);
            if (data is null)
                continue;
            var parts = new List<double>();
            foreach (string part in data.Split(','))
            {
                if (!PyFormat.TryParseFloat(part, out double v))
                    throw gcmd.Error($"Unable to parse parameter '{name}'");
                parts.Add(v);
            }
            if (parts.Count != count)
                throw gcmd.Error($"Parameter '{name}' must have {count} values");
            _deltaAnalyzeEntry[name] = parts.ToArray();
            _printer.Log?.Invoke($"DELTA_ANALYZE {name} = [{string.Join(", ", parts.Select(PyFormat.Repr))}]");
        }
        string? action = gcmd.GetOrNull("CALIBRATE");
        if (action is not null)
        {
            if (action != "extended")
                throw gcmd.Error("Unknown calibrate action");
            DoExtendedCalibration();
        }
    }
}
