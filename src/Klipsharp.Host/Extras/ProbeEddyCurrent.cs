using System.Globalization;
using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Extras;

/// <summary>Frequency adjustment for the probe temperature (upstream's drift compensation duck type, e.g. [temperature_probe]).</summary>
public interface IEddyDriftCompensation
{
    double GetTemperature();
    void NoteZCalibrationStart();
    void NoteZCalibrationFinish();
    double AdjustFreq(double freq, double? temp = null);
    double UnadjustFreq(double freq, double? temp = null);
}

/// <summary>No temperature adjustment (upstream DummyDriftCompensation).</summary>
public sealed class DummyDriftCompensation : IEddyDriftCompensation
{
    public double GetTemperature() => 0.0;

    public void NoteZCalibrationStart()
    {
    }

    public void NoteZCalibrationFinish()
    {
    }

    public double AdjustFreq(double freq, double? temp = null) => freq;

    public double UnadjustFreq(double freq, double? temp = null) => freq;
}

/// <summary>The frequency to height calibration table of an eddy current probe (upstream EddyCalibration).</summary>
public sealed class EddyCalibration
{
    /// <summary>Height reported for frequencies outside the calibrated range.</summary>
    public const double OutOfRange = 99.9;

    private readonly Printer _printer;
    private IEddyDriftCompensation _driftComp = new DummyDriftCompensation();
    private List<double> _calFreqs = new();
    private List<double> _calZpos = new();

    public EddyCalibration(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        string? cal = config.GetOrNull("calibrate");
        if (cal is not null)
        {
            var pairs = new List<(double Z, double Freq)>();
            foreach (var d in cal.Split(','))
            {
                var parts = d.Trim().Split(':', 2);
                var values = parts.Select(p => ParsePyFloat(p, config)).ToArray();
                if (values.Length != 2)
                    throw config.Error($"Unable to parse calibrate in section '{config.Name}'");
                pairs.Add((values[0], values[1]));
            }
            LoadCalibration(pairs);
        }
    }

    private static double ParsePyFloat(string s, ConfigWrapper config)
    {
        if (double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            return v;
        throw config.Error($"could not convert string to float: {PyFormat.Repr(s)}");
    }

    private void LoadCalibration(IEnumerable<(double Z, double Freq)> cal)
    {
        var sorted = cal.Select(c => (c.Freq, c.Z)).OrderBy(c => c.Freq).ThenBy(c => c.Z).ToList();
        _calFreqs = sorted.Select(c => c.Freq).ToList();
        _calZpos = sorted.Select(c => c.Z).ToList();
    }

    public Printer GetPrinter() => _printer;

    public void NoteZCalibrationStart() => _driftComp.NoteZCalibrationStart();

    public void NoteZCalibrationFinish() => _driftComp.NoteZCalibrationFinish();

    public void RegisterDriftCompensation(IEddyDriftCompensation comp) => _driftComp = comp;

    public void VerifyCalibrated()
    {
        if (_calFreqs.Count <= 2)
            throw new CommandError("Must calibrate probe_eddy_current first");
    }

    public (List<double> Freqs, List<double> Zpos) GetCalibration() => (_calFreqs.ToList(), _calZpos.ToList());

    // Python bisect.bisect (bisect_right)
    private static int Bisect(IReadOnlyList<double> a, double x)
    {
        int lo = 0, hi = a.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (x < a[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo;
    }

    /// <summary>Replaces the z column (index 2) of (time, frequency, z) rows with the calibrated height.</summary>
    public void ApplyCalibration(List<double[]> samples)
    {
        double curTemp = _driftComp.GetTemperature();
        for (int i = 0; i < samples.Count; i++)
        {
            double sampTime = samples[i][0], freq = samples[i][1];
            double adjFreq = _driftComp.AdjustFreq(freq, curTemp);
            int pos = Bisect(_calFreqs, adjFreq);
            double zpos;
            if (pos >= _calZpos.Count)
            {
                zpos = -OutOfRange;
            }
            else if (pos == 0)
            {
                zpos = OutOfRange;
            }
            else
            {
                double thisFreq = _calFreqs[pos];
                double prevFreq = _calFreqs[pos - 1];
                double thisZpos = _calZpos[pos];
                double prevZpos = _calZpos[pos - 1];
                double gain = (thisZpos - prevZpos) / (thisFreq - prevFreq);
                double offset = prevZpos - prevFreq * gain;
                zpos = adjFreq * gain + offset;
            }
            samples[i] = [sampTime, freq, PyFmt.Round(zpos, 6)];
        }
    }

    public double FreqToHeight(double freq)
    {
        var dummySample = new List<double[]> { new[] { 0.0, freq, 0.0 } };
        ApplyCalibration(dummySample);
        return dummySample[0][2];
    }

    public double HeightToFreq(double height)
    {
        var revZpos = Enumerable.Reverse(_calZpos).ToList();
        var revFreqs = Enumerable.Reverse(_calFreqs).ToList();
        int pos = Bisect(revZpos, height);
        if (pos == 0 || pos >= revZpos.Count)
            throw new CommandError("Invalid probe_eddy_current height");
        double thisFreq = revFreqs[pos];
        double prevFreq = revFreqs[pos - 1];
        double thisZpos = revZpos[pos];
        double prevZpos = revZpos[pos - 1];
        double gain = (thisFreq - prevFreq) / (thisZpos - prevZpos);
        double offset = prevFreq - prevZpos * gain;
        double freq = height * gain + offset;
        return _driftComp.UnadjustFreq(freq);
    }
}

/// <summary>PROBE_EDDY_CURRENT_CALIBRATE and the eddy Z_OFFSET_APPLY_PROBE (upstream EddyCalibrationTool).</summary>
public sealed class EddyCalibrationTool
{
    public const string CmdEddyCalibrateHelp = "Calibrate eddy current probe";
    public const string CmdZOffsetApplyProbeHelp = "Adjust the probe's z_offset";

    private readonly Printer _printer;
    private readonly string _name;
    private readonly EddyCalibration _calibration;
    private double _probeSpeed;

    public EddyCalibrationTool(ConfigWrapper config, EddyCalibration calibration)
    {
        _printer = config.GetPrinter();
        _name = config.Name;
        _calibration = calibration;
        string cname = _name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("PROBE_EDDY_CURRENT_CALIBRATE", "CHIP", cname, CmdEddyCalibrate, desc: CmdEddyCalibrateHelp);
        gcode.RegisterCommand("Z_OFFSET_APPLY_PROBE", CmdZOffsetApplyProbe, desc: CmdZOffsetApplyProbeHelp);
    }

    /// <summary>The calibrate option text for z/frequency pairs: three per line, "%.6f:%.3f".</summary>
    public static string FormatCalibration(IEnumerable<(double Pos, double Freq)> zFreqPairs)
    {
        var sb = new StringBuilder();
        int i = 0;
        foreach (var (pos, freq) in zFreqPairs)
        {
            if (i > 0)
                sb.Append(',');
            if (i % 3 == 0)
                sb.Append('\n');
            sb.Append(PyFmt.F(pos, 6)).Append(':').Append(PyFmt.F(freq, 3));
            i++;
        }
        return sb.ToString();
    }

    private void SaveCalibration(IEnumerable<(double Pos, double Freq)> zFreqPairs)
    {
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RespondInfo("The SAVE_CONFIG command will update the printer config file\nand restart the printer.");
        _printer.LookupObject<PrinterConfig>("configfile").Set(_name, "calibrate", FormatCalibration(zFreqPairs));
    }

    /// <summary>Steps down from 4mm in 40um steps and collects the sensor frequencies at each height.</summary>
    public Dictionary<double, List<double>> DoCalibrationMoves(double moveSpeed)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var kin = toolhead.GetKinematics();
        var msgs = new List<BulkBatch>();
        bool isFinished = false;
        _printer.LookupObject<PrinterEddyProbe>(_name).AddClient(msg =>
        {
            if (isFinished)
                return false;
            msgs.Add(msg);
            return true;
        });
        toolhead.Dwell(1.0);
        _calibration.NoteZCalibrationStart();
        const double maxZ = 4.0;
        const double sampDist = 0.040;
        var reqZpos = Enumerable.Range(0, (int)(maxZ / sampDist) + 1).Select(i => i * sampDist).ToList();
        var startPos = toolhead.GetPosition();
        var times = new List<(double Start, double End, double Z)>();
        foreach (double zpos in reqZpos)
        {
            // Always descend to the next height (less backlash)
            var hopPos = startPos.ToArray();
            hopPos[2] += zpos + 0.500;
            toolhead.ManualMove(hopPos.Select(v => (double?)v).ToList(), moveSpeed);
            var nextPos = startPos.ToArray();
            nextPos[2] += zpos;
            toolhead.ManualMove(nextPos.Select(v => (double?)v).ToList(), moveSpeed);
            double startQueryTime = toolhead.GetLastMoveTime() + 0.050;
            double endQueryTime = startQueryTime + 0.100;
            toolhead.Dwell(0.200);
            // The height from the commanded stepper positions
            toolhead.FlushStepGeneration();
            var kinSpos = kin.GetSteppers().ToDictionary(s => s.GetName(), s => s.GetCommandedPosition());
            var kinPos = kin.CalcPosition(kinSpos);
            times.Add((startQueryTime, endQueryTime, kinPos[2]));
        }
        toolhead.Dwell(1.0);
        toolhead.WaitMoves();
        _calibration.NoteZCalibrationFinish();
        isFinished = true;
        // Match the samples to the heights
        var cal = new Dictionary<double, List<double>>();
        int step = 0;
        foreach (var msg in msgs)
        {
            foreach (var row in msg.Data)
            {
                double queryTime = row[0], freq = row[1];
                while (step < times.Count && queryTime > times[step].End)
                    step++;
                if (step < times.Count && queryTime >= times[step].Start)
                {
                    if (!cal.TryGetValue(times[step].Z, out var list))
                        cal[times[step].Z] = list = new List<double>();
                    list.Add(freq);
                }
            }
        }
        if (cal.Count != times.Count)
            throw new CommandError("Failed calibration - incomplete sensor data");
        return cal;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToList();
        int n = v.Count;
        if (n % 2 == 0)
            return (v[n / 2 - 1] + v[n / 2]) / 2.0;
        return v[n / 2];
    }

    /// <summary>Per height: frequency average, median absolute deviation and sample count.</summary>
    public static Dictionary<double, (double FreqAvg, double Mad, int Count)> CalcFreqs(Dictionary<double, List<double>> meas)
    {
        var positions = new Dictionary<double, (double, double, int)>();
        foreach (var (pos, freqs) in meas)
        {
            int count = freqs.Count;
            double sum = 0.0;
            foreach (var f in freqs)
                sum += f;
            double freqAvg = sum / count;
            double mad = Median(freqs.Select(f => Math.Abs(f - freqAvg)));
            positions[pos] = (freqAvg, mad, count);
        }
        return positions;
    }

    /// <summary>Keeps the heights while the frequency keeps falling above the noise, and reports the noise.</summary>
    public List<(double Pos, double Freq, double MadHz, double MadMm)> ValidateCalibrationData(
        Dictionary<double, (double FreqAvg, double Mad, int Count)> positions)
    {
        double lastFreq = 40000000.0;
        double lastPos = 0.0, lastMad = 0.0;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var filtered = new List<(double, double, double, double)>();
        double madHzTotal = 0.0, madMmTotal = 0.0;
        int samplesCount = 0;
        foreach (var (pos, (freqAvg, madHz, count)) in positions.OrderBy(kv => kv.Key).ThenBy(kv => kv.Value))
        {
            if (freqAvg > lastFreq)
            {
                gcode.RespondInfo($"Frequency stops decreasing at step {PyFmt.F(pos, 3)}");
                break;
            }
            double diffMad = Math.Sqrt(lastMad * lastMad + madHz * madHz);
            // Is the change significant?
            double freqDiff = lastFreq - freqAvg;
            lastFreq = freqAvg;
            if (freqDiff < 2.5 * diffMad)
            {
                gcode.RespondInfo($"Frequency too noisy at step {PyFmt.F(lastPos, 3)} -> {PyFmt.F(pos, 3)}");
                gcode.RespondInfo($"Frequency diff: {PyFmt.F(freqDiff, 3)}, MAD_Hz: {PyFmt.F(lastMad, 3)} -> MAD_Hz: {PyFmt.F(madHz, 3)}");
                break;
            }
            lastMad = madHz;
            double deltaDist = pos - lastPos;
            lastPos = pos;
            // Noise in mm: the deviation over the local slope
            double madMm = madHz * deltaDist / freqDiff;
            filtered.Add((pos, freqAvg, madHz, madMm));
            madHzTotal += madHz;
            madMmTotal += madMm;
            samplesCount += count;
        }
        double avgMad = madHzTotal / filtered.Count;
        double avgMadMm = madMmTotal / filtered.Count;
        gcode.RespondInfo($"probe_eddy_current: noise {PyFmt.F(avgMadMm, 6)}mm, MAD_Hz={PyFmt.F(avgMad, 3)} in {samplesCount} queries\n");
        var freqList = filtered.Select(f => f.Item2).ToList();
        double totalDiff = freqList.Max() - freqList.Min();
        gcode.RespondInfo($"Total frequency range: {PyFmt.F(totalDiff, 3)} Hz\n");
        var points = new List<double> { 0.25, 0.5, 1.0, 2.0, 3.0 };
        foreach (var (pos, _, madHz, madMm) in filtered)
        {
            if (points.Count > 0 && points[0] <= pos)
            {
                points.RemoveAt(0);
                gcode.RespondInfo($"z: {PyFmt.F(pos, 3)} # noise {PyFmt.F(madMm, 6)}mm, MAD_Hz={PyFmt.F(madHz, 3)}\n");
            }
        }
        return filtered;
    }

    private void PostManualProbe(ProbeResult? mpresult)
    {
        if (mpresult is null)
            return;
        var curpos = new List<double?> { mpresult.BedX, mpresult.BedY, mpresult.BedZ };
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        // Away from the bed
        double probeCalibrateZ = curpos[2]!.Value;
        curpos[2] += 5.0;
        toolhead.ManualMove(curpos, _probeSpeed);
        // The sensor over the nozzle position
        var pprobe = _printer.LookupObject<IPrinterProbe>("probe");
        var (xOffset, yOffset, _) = pprobe.GetOffsets();
        curpos[0] -= xOffset;
        curpos[1] -= yOffset;
        toolhead.ManualMove(curpos, _probeSpeed);
        // Back down to the bed
        curpos[2] -= 5.0 - 0.050;
        toolhead.ManualMove(curpos, _probeSpeed);
        var cal = DoCalibrationMoves(_probeSpeed);
        var rawPositions = CalcFreqs(cal);
        var positions = new Dictionary<double, (double, double, int)>();
        foreach (var (k, v) in rawPositions)
            positions[k - probeCalibrateZ] = v;
        var filtered = ValidateCalibrationData(positions);
        if (filtered.Count <= 8)
            throw new CommandError("Failed calibration - No usable data");
        SaveCalibration(filtered.Select(f => (f.Pos, f.Freq)));
    }

    private void CmdEddyCalibrate(GCodeCommand gcmd)
    {
        _probeSpeed = gcmd.GetFloat("PROBE_SPEED", 5.0, above: 0.0);
        _ = new ManualProbeHelper(_printer, gcmd, PostManualProbe);
    }

    private void SaveTapZOffset(GCodeCommand gcmd, double homingZ)
    {
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        double tapZOffset = 0.0;
        if (configfile.SettingsStatus.TryGetValue(_name, out var csettings)
            && csettings.TryGetValue("tap_z_offset", out var v) && v is not null)
            tapZOffset = Convert.ToDouble(v, CultureInfo.InvariantCulture);
        double newCalibrate = tapZOffset - homingZ;
        gcmd.RespondInfo($"{_name}: tap_z_offset: {PyFmt.F(newCalibrate, 3)}\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.");
        configfile.Set(_name, "tap_z_offset", PyFmt.F(newCalibrate, 3));
    }

    private void CmdZOffsetApplyProbe(GCodeCommand gcmd)
    {
        var gcodeMove = _printer.LookupObject<GCodeMove>("gcode_move");
        double offset = gcodeMove.GetStatus()["homing_origin"] is Coord c ? c.Z : 0.0;
        if (offset == 0)
        {
            gcmd.RespondInfo("Nothing to do: Z Offset is 0");
            return;
        }
        if (gcmd.Get("METHOD", "").ToLowerInvariant() == "tap")
        {
            SaveTapZOffset(gcmd, offset);
            return;
        }
        var (calFreqs, calZpos) = _calibration.GetCalibration();
        var pairs = calZpos.Select(z => z - offset).Zip(calFreqs).OrderBy(p => p.First).ThenBy(p => p.Second).ToList();
        SaveCalibration(pairs);
    }
}

/// <summary>The tap analysis of the last "tap" probe: status, depress distance and fit coefficients.</summary>
public sealed record EddyTapInfo(string Status, double DepressDist, TapFit Coeffs);

/// <summary>The fitted tap model: contact height and frequency, slope while pressed, free air slope and curvature.</summary>
public readonly record struct TapFit(double ZContact, double FreqContact, double DepressSlope, double Slope, double Slope2);

/// <summary>PROBE_EDDY_CURRENT_TAP_CALIBRATE: finds a tap_threshold (upstream EddyTapCalibration).</summary>
public sealed class EddyTapCalibration
{
    public const string CmdTapCalibrateHelp = "Calibrate tap_threshold for 'tap' probing";

    private readonly Printer _printer;
    private readonly string _name;
    private readonly EddyCalibration _calibration;
    private readonly EddyTap _eddyTap;
    private double? _refineTapThreshold;

    public EddyTapCalibration(ConfigWrapper config, EddyCalibration calibration, EddyTap eddyTap)
    {
        _printer = config.GetPrinter();
        _name = config.Name;
        _calibration = calibration;
        _eddyTap = eddyTap;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("PROBE_EDDY_CURRENT_TAP_CALIBRATE", CmdTapCalibrate, desc: CmdTapCalibrateHelp);
    }

    /// <summary>Least squares fit freq = c0 + c1*z + c2*z*z over the calibration points at or below 0.750mm.</summary>
    public double[][]? AnalyzeMainCalibration()
    {
        var (freqs, zpos) = _calibration.GetCalibration();
        if (freqs.Count < 2)
            return null;
        var eqs = new List<double[]>();
        var ans = new List<double[]>();
        for (int i = 0; i < Math.Min(freqs.Count, zpos.Count); i++)
        {
            double z = zpos[i];
            if (z <= 0.750)
            {
                ans.Add([freqs[i]]);
                eqs.Add([1.0, z, z * z]);
            }
        }
        return TapBestFit.SolveLinearEquations(eqs.ToArray(), ans.ToArray());
    }

    private static List<string> DescribeMainCalibration(double[][]? coeffs)
    {
        if (coeffs is null)
            return ["Main calibration data not available.", ""];
        return [$"Calibration: f={PyFmt.F(coeffs[0][0], 3)} s={PyFmt.F(coeffs[1][0], 3)} q={PyFmt.F(coeffs[2][0], 3)}", ""];
    }

    private static List<string> DescribeLastTap(EddyTapInfo? lastTap)
    {
        if (lastTap is null)
            return ["Run tap probe for last tap analysis."];
        var c = lastTap.Coeffs;
        double contactSlopeDelta = c.DepressSlope - c.Slope;
        var msgs = new List<string>
        {
            $"Last tap: z={PyFmt.F(c.ZContact, 6)} f={PyFmt.F(c.FreqContact, 3)} s={PyFmt.F(c.Slope, 3)} q={PyFmt.F(c.Slope2, 3)}",
            $"  depress_dist={PyFmt.F(lastTap.DepressDist, 6)} depress_slope={PyFmt.F(c.DepressSlope, 3)}",
            $"  contact_slope_delta={PyFmt.F(contactSlopeDelta, 3)}",
        };
        if (lastTap.Status != "success")
            msgs.AddRange(["", "Warning! Last tap did not succeed."]);
        return msgs;
    }

    private void TryTap(GCodeCommand gcmd, double tapThreshold, int samples = 1)
    {
        var foParams = new Dictionary<string, string>(gcmd.GetCommandParameters())
        {
            ["METHOD"] = "tap",
            ["TAP_THRESHOLD"] = PyFmt.F(tapThreshold, 3),
            ["SAMPLES"] = samples.ToString(CultureInfo.InvariantCulture),
        };
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var foGcmd = gcode.CreateGCodeCommand("", "", foParams);
        gcmd.RespondInfo($"Tap probing with TAP_THRESHOLD={foParams["TAP_THRESHOLD"]} SAMPLES={foParams["SAMPLES"]}");
        var probe = _printer.LookupObject<IPrinterProbe>("probe");
        var probeSession = probe.StartProbeSession(foGcmd);
        probeSession.RunProbe(foGcmd);
        var positions = probeSession.PullProbedResults();
        probeSession.EndProbeSession();
        gcmd.RespondInfo($"Tap probing reports z={PyFmt.F(positions[0].BedZ, 6)}");
    }

    private void SaveTapThreshold(GCodeCommand gcmd, double tapThreshold)
    {
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        gcmd.RespondInfo($"{_name}: tap_threshold: {PyFmt.F(tapThreshold, 3)}\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.");
        configfile.Set(_name, "tap_threshold", PyFmt.F(tapThreshold, 3));
    }

    private void CmdTapCalibrate(GCodeCommand gcmd)
    {
        var mcCoeffs = AnalyzeMainCalibration();
        var lastTap = _eddyTap.GetLastTapInfo();
        string? tapTest = gcmd.GetOrNull("TAP");
        if (tapTest is null)
        {
            // Technical information only
            gcmd.RespondInfo(string.Join("\n", DescribeMainCalibration(mcCoeffs).Concat(DescribeLastTap(lastTap))));
        }
        else if (tapTest == "guess")
        {
            // A tap based on the main calibration
            _refineTapThreshold = null;
            if (mcCoeffs is null)
                throw gcmd.Error("Must complete PROBE_EDDY_CURRENT_CALIBRATE first");
            TryTap(gcmd, mcCoeffs[1][0] * -0.10);
        }
        else if (tapTest == "refine")
        {
            // A tap based on the slope change seen in the last tap
            _refineTapThreshold = null;
            if (lastTap is null || lastTap.Status != "success")
                throw gcmd.Error("Must complete valid 'tap' probe first");
            double contactSlopeDelta = lastTap.Coeffs.DepressSlope - lastTap.Coeffs.Slope;
            double tryTapThreshold = contactSlopeDelta * 0.20;
            TryTap(gcmd, tryTapThreshold);
            _refineTapThreshold = tryTapThreshold;
        }
        else if (tapTest == "verify")
        {
            // Several taps to check the threshold is stable
            if (_refineTapThreshold is not double refine)
                throw gcmd.Error("Must complete valid 'refine' step first");
            TryTap(gcmd, refine, 5);
            SaveTapThreshold(gcmd, refine);
        }
        else
        {
            throw gcmd.Error("Please provide a valid TAP parameter");
        }
    }
}

/// <summary>Collects sensor batches and turns sample time windows into probe results (upstream EddyGatherSamples).</summary>
public sealed class EddyGatherSamples
{
    private readonly Printer _printer;
    private readonly LDC1612 _sensorHelper;
    private readonly List<BulkBatch> _sensorMessages = new();
    private bool _needStop;
    private readonly List<(Func<List<double[]>, ProbeResult> Cb, double StartTime, double EndTime)> _probeRequests = new();
    private readonly List<(ProbeResult? Res, string? ErrMsg)> _analysisResults = new();

    public EddyGatherSamples(Printer printer, LDC1612 sensorHelper)
    {
        _printer = printer;
        _sensorHelper = sensorHelper;
        sensorHelper.AddClient(AddSensorMessage);
    }

    private bool AddSensorMessage(BulkBatch msg)
    {
        if (_needStop)
        {
            _sensorMessages.Clear();
            return false;
        }
        _sensorMessages.Add(msg);
        CheckSensorMessages();
        return true;
    }

    public void Finish() => _needStop = true;

    private List<double[]> PullMeasurements(double startTime, double endTime)
    {
        var measures = new List<double[]>();
        int msgNum = 0, discardMsgs = 0;
        while (msgNum < _sensorMessages.Count)
        {
            var data = _sensorMessages[msgNum].Data;
            msgNum++;
            if (data[0][0] > endTime)
                break;
            if (data[^1][0] < startTime)
            {
                discardMsgs = msgNum;
                continue;
            }
            foreach (var measure in data)
            {
                double time = measure[0];
                if (time < startTime)
                    continue;
                if (time > endTime)
                    break;
                measures.Add(measure);
            }
        }
        _sensorMessages.RemoveRange(0, discardMsgs);
        return measures;
    }

    private void CheckSensorMessages()
    {
        while (_sensorMessages.Count > 0 && _probeRequests.Count > 0)
        {
            var (cb, startTime, endTime) = _probeRequests[0];
            if (_sensorMessages[^1].Data[^1][0] < endTime)
                break;
            var measures = PullMeasurements(startTime, endTime);
            string? errmsg = null;
            ProbeResult? res = null;
            try
            {
                res = cb(measures);
            }
            catch (CommandError e)
            {
                // Raised later, from PullProbed()
                errmsg = e.Message;
            }
            _analysisResults.Add((res, errmsg));
            _probeRequests.RemoveAt(0);
        }
    }

    /// <summary>Analyzes the samples of [startTime, endTime] with <paramref name="cb"/> once they have arrived.</summary>
    public void AddProbeRequest(Func<List<double[]>, ProbeResult> cb, double startTime, double endTime)
    {
        _probeRequests.Add((cb, startTime, endTime));
        CheckSensorMessages();
    }

    private void AwaitSensorMessages()
    {
        var reactor = _printer.Reactor;
        var mcu = _sensorHelper.GetMcu();
        while (_probeRequests.Count > 0)
        {
            var (_, _, endTime) = _probeRequests[0];
            double systime = reactor.Monotonic();
            double estPrintTime = mcu.EstimatedPrintTime(systime);
            if (estPrintTime > endTime + 1.0)
                throw new CommandError("probe_eddy_current sensor outage");
            if (mcu.IsFileOutput)
            {
                // Batch mode: a dummy result
                _analysisResults.Add((ProbeResult.Create([0.0, 0.0, 0.0], (0.0, 0.0, 0.0)), null));
                _probeRequests.RemoveAt(0);
                continue;
            }
            reactor.Pause(systime + 0.010);
        }
    }

    public List<ProbeResult> PullProbed()
    {
        AwaitSensorMessages();
        var results = new List<ProbeResult>();
        foreach (var (res, errmsg) in _analysisResults)
        {
            if (errmsg is not null)
                throw new CommandError(errmsg);
            results.Add(res!);
        }
        _analysisResults.Clear();
        return results;
    }

    /// <summary>A probe result from the average frequency of <paramref name="measures"/> (upstream probe_results_from_avg).</summary>
    public static ProbeResult ProbeResultsFromAvg(List<double[]> measures, IReadOnlyList<double> toolheadPos, EddyCalibration calibration,
        (double X, double Y, double Z) offsets)
    {
        if (measures.Count == 0)
            throw new CommandError("Unable to obtain probe_eddy_current sensor readings");
        double freqSum = 0.0;
        foreach (var m in measures)
            freqSum += m[1];
        double freqAvg = freqSum / measures.Count;
        double sensorZ = calibration.FreqToHeight(freqAvg);
        if (sensorZ <= -EddyCalibration.OutOfRange || sensorZ >= EddyCalibration.OutOfRange)
            throw new CommandError("probe_eddy_current sensor not in valid range");
        return ProbeResult.Create(toolheadPos, (offsets.X, offsets.Y, sensorZ));
    }
}

/// <summary>
/// Fits the frequency/height samples of a tap: frequency = freq_contact +
/// depress_slope*(z-z_contact) below contact, freq_contact + slope*(z-z_contact) +
/// slope2*(z-z_contact)^2 above, by least squares over candidate contact heights
/// (upstream TapBestFit).
/// </summary>
public sealed class TapBestFit
{
    private readonly Dictionary<int, double[]> _leastSquaresCache = new();

    /// <summary>Least squares solution of eqs * x = ans (upstream mathutil.solve_linear_equations).</summary>
    public static double[][]? SolveLinearEquations(double[][] eqs, double[][] ans, bool allowUnderdetermined = false)
    {
        var eqst = MathUtil.MatTransp(eqs);
        var eqstEqs = MathUtil.MatMulTransp(eqst);
        var eqstAns = MathUtil.MatMatMul(eqst, ans)!;
        return MathUtil.GaussianSolve(eqstEqs, eqstAns, allowUnderdetermined);
    }

    private static double[] BuildSums(IReadOnlyList<(double Z, double Freq)> samples, int numLe)
    {
        double sumLeZ = 0.0, sumLeZ2 = 0.0, sumLeFreq = 0.0, sumLeFreqZ = 0.0;
        for (int i = 0; i < numLe; i++)
        {
            var (z, freq) = samples[i];
            sumLeZ += z;
            sumLeZ2 += Math.Pow(z, 2);
            sumLeFreq += freq;
            sumLeFreqZ += freq * z;
        }
        double sumGtZ = 0.0, sumGtZ2 = 0.0, sumGtZ3 = 0.0, sumGtZ4 = 0.0;
        double sumGtFreq = 0.0, sumGtFreqZ = 0.0, sumGtFreqZ2 = 0.0;
        for (int i = numLe; i < samples.Count; i++)
        {
            var (z, freq) = samples[i];
            sumGtZ += z;
            sumGtZ2 += Math.Pow(z, 2);
            sumGtZ3 += Math.Pow(z, 3);
            sumGtZ4 += Math.Pow(z, 4);
            sumGtFreq += freq;
            sumGtFreqZ += freq * z;
            sumGtFreqZ2 += freq * Math.Pow(z, 2);
        }
        return [sumLeZ, sumLeZ2, sumLeFreq, sumLeFreqZ, sumGtZ, sumGtZ2, sumGtZ3, sumGtZ4, sumGtFreq, sumGtFreqZ, sumGtFreqZ2];
    }

    private (double[][] EqstEqs, double[][] EqstAns) BuildLsMatrixOpt(IReadOnlyList<(double Z, double Freq)> samples, double estZContact)
    {
        // Samples at or below the contact estimate (samples are sorted by z)
        int numLe = 0;
        while (numLe < samples.Count && samples[numLe].Z <= estZContact)
            numLe++;
        if (!_leastSquaresCache.TryGetValue(numLe, out var sums))
            _leastSquaresCache[numLe] = sums = BuildSums(samples, numLe);
        double sumLeZ = sums[0], sumLeZ2 = sums[1], sumLeFreq = sums[2], sumLeFreqZ = sums[3];
        double sumGtZ = sums[4], sumGtZ2 = sums[5], sumGtZ3 = sums[6], sumGtZ4 = sums[7];
        double sumGtFreq = sums[8], sumGtFreqZ = sums[9], sumGtFreqZ2 = sums[10];
        int numSamples = samples.Count;
        double ezc = estZContact;
        double ezc2 = Math.Pow(ezc, 2);
        double ezc3 = Math.Pow(ezc, 3);
        double ezc4 = Math.Pow(ezc, 4);
        var e = new double[4][];
        for (int i = 0; i < 4; i++)
            e[i] = new double[4];
        e[0][0] = numSamples;
        e[1][1] = sumLeZ2 - 2 * ezc * sumLeZ + numLe * ezc2;
        e[2][2] = sumGtZ2 + numLe * ezc2;
        e[3][3] = sumGtZ4 + numLe * ezc4;
        e[0][1] = e[1][0] = sumLeZ - numLe * ezc;
        e[0][2] = e[2][0] = sumGtZ + numLe * ezc;
        e[0][3] = e[3][0] = sumGtZ2 + numLe * ezc2;
        e[2][3] = e[3][2] = sumGtZ3 + numLe * ezc3;
        e[2][1] = e[1][2] = ezc * e[0][1];
        e[3][1] = e[1][3] = ezc2 * e[0][1];
        var ans = new double[4][];
        ans[0] = [sumLeFreq + sumGtFreq];
        ans[1] = [sumLeFreqZ - ezc * sumLeFreq];
        ans[2] = [sumGtFreqZ + ezc * sumLeFreq];
        ans[3] = [sumGtFreqZ2 + ezc2 * sumLeFreq];
        return (e, ans);
    }

    private (double Err, double[][] Coeffs) CalcLeastSquares(IReadOnlyList<(double Z, double Freq)> samples, double estZContact)
    {
        var (eqstEqs, eqstAns) = BuildLsMatrixOpt(samples, estZContact);
        var coeffs = MathUtil.GaussianSolve(eqstEqs, eqstAns);
        if (coeffs is not null && coeffs[3][0] < 0.0)
        {
            // The z*z factor can't be negative: fit a line instead
            var altEqs = eqstEqs.Take(3).Select(r => r.Take(3).ToArray()).ToArray();
            var altAns = eqstAns.Take(3).ToArray();
            coeffs = MathUtil.GaussianSolve(altEqs, altAns);
            if (coeffs is not null)
                coeffs = coeffs.Append([0.0]).ToArray();
        }
        if (coeffs is null)
            return (double.MaxValue, [[0.0], [0.0], [0.0], [0.0]]);
        double s = 0.0;
        for (int i = 0; i < Math.Min(coeffs.Length, eqstAns.Length); i++)
            s += coeffs[i][0] * eqstAns[i][0];
        return (-s, coeffs);
    }

    /// <summary>The best fit of (frequency, toolhead position) samples ordered by rising z.</summary>
    public TapFit FindBestFit(IReadOnlyList<(double Freq, double[] Pos)> data)
    {
        _leastSquaresCache.Clear();
        // Work relative to the middle of the data for numerical stability
        double baseZ = .5 * (data[0].Pos[2] + data[^1].Pos[2]);
        double baseFreq = .5 * (data[0].Freq + data[^1].Freq);
        var samples = data.Select(d => (d.Pos[2] - baseZ, d.Freq - baseFreq)).ToList();
        double minZ = samples[0].Item1, bestZ = minZ;
        double maxZ = samples[^1].Item1;
        double bestErr = double.MaxValue;
        double[] bc = [0.0, 0.0, 0.0, 0.0];
        while (maxZ - minZ > 0.000050)
        {
            double midZ = (minZ + maxZ) * .5;
            double guessZ = bestZ < midZ ? (bestZ + maxZ) * .5 : (minZ + bestZ) * .5;
            var (guessErr, coeffs) = CalcLeastSquares(samples, guessZ);
            if (guessErr < bestErr)
            {
                if (guessZ > bestZ)
                    minZ = bestZ;
                else
                    maxZ = bestZ;
                bestZ = guessZ;
                bestErr = guessErr;
                bc = coeffs.Select(v => v[0]).ToArray();
            }
            else
            {
                if (guessZ > bestZ)
                    maxZ = guessZ;
                else
                    minZ = guessZ;
            }
        }
        _leastSquaresCache.Clear();
        double zContact = baseZ + bestZ;
        double freqContact = baseFreq + bc[0] + bestZ * bc[2] + bestZ * bestZ * bc[3];
        double depressSlope = bc[1];
        double slope = bc[2] + 2.0 * bestZ * bc[3];
        double slope2 = bc[3];
        return new TapFit(zContact, freqContact, depressSlope, slope, slope2);
    }
}

/// <summary>Probing by descending until the sensor reads the descend_z height (upstream EddyDescend).</summary>
public sealed class EddyDescend : IProbeSession
{
    public const long MaxValidRawValue = 0x03ffffff;

    private readonly Printer _printer;
    private readonly LDC1612 _sensorHelper;
    private readonly EddyCalibration _calibration;
    private readonly EddyProbeOffsets _probeOffsets;
    private readonly EddyParameterHelper _paramHelper;
    private readonly McuTriggerAnalog _triggerAnalog;
    private readonly double _descendZ;
    private readonly double _zMinPosition;
    private EddyGatherSamples? _gather;

    public EddyDescend(ConfigWrapper config, LDC1612 sensorHelper, EddyCalibration calibration, EddyProbeOffsets probeOffsets,
        EddyParameterHelper paramHelper, McuTriggerAnalog triggerAnalog)
    {
        _printer = config.GetPrinter();
        _sensorHelper = sensorHelper;
        _calibration = calibration;
        _probeOffsets = probeOffsets;
        _paramHelper = paramHelper;
        _triggerAnalog = triggerAnalog;
        if (config.GetOrNull("z_offset", noteValid: false) is not null && config.GetOrNull("descend_z", noteValid: false) is null)
        {
            config.Deprecate("z_offset");
            _descendZ = config.GetFloat("z_offset", above: 0.0);
        }
        else
        {
            _descendZ = config.GetFloat("descend_z", above: 0.0);
        }
        _zMinPosition = ProbeUtil.LookupMinimumZ(config);
        _ = new HomingViaProbeHelper(config, _descendZ);
    }

    private void PrepTriggerAnalog()
    {
        var sosFilter = _triggerAnalog.GetSosFilter();
        sosFilter.SetFilterDesign(null);
        sosFilter.SetOffsetScale(0, 1.0);
        _triggerAnalog.SetRawRange(0, MaxValidRawValue);
        double triggerFreq = _calibration.HeightToFreq(_descendZ);
        long convFreq = _sensorHelper.ConvertFrequencyToRaw(triggerFreq);
        _triggerAnalog.SetTrigger("gt", convFreq);
    }

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        _calibration.VerifyCalibrated();
        PrepTriggerAnalog();
        _gather = new EddyGatherSamples(_printer, _sensorHelper);
        return this;
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pos = toolhead.GetPosition();
        pos[2] = _zMinPosition;
        double speed = _paramHelper.GetProbeParams(gcmd).ProbeSpeed;
        var phoming = _printer.LookupObject<PrinterHoming>("homing");
        bool checkMovement = !phoming.CheckProbeFirstHome(gcmd);
        phoming.ProbingMove(_triggerAnalog, pos, speed, checkMovement: checkMovement);
        // Samples from just after the trigger
        double startTime = _triggerAnalog.GetLastTriggerTime() + 0.050;
        double endTime = startTime + 0.100;
        var toolheadPos = toolhead.GetPosition();
        var offsets = _probeOffsets.GetOffsets();
        _gather!.AddProbeRequest(m => EddyGatherSamples.ProbeResultsFromAvg(m, toolheadPos, _calibration, offsets), startTime, endTime);
    }

    public IReadOnlyList<IProbeResult> PullProbedResults() => _gather!.PullProbed();

    public void EndProbeSession()
    {
        _gather!.Finish();
        _gather = null;
    }
}

/// <summary>"Tap" probing: the nozzle touches the bed and the contact height comes from the frequency curve while lifting (upstream EddyTap).</summary>
public sealed class EddyTap : IProbeSession
{
    public const double FracHz = 1000.0;

    private readonly Printer _printer;
    private readonly LDC1612 _sensorHelper;
    private readonly EddyParameterHelper _paramHelper;
    private readonly McuTriggerAnalog _triggerAnalog;
    private readonly double _zMinPosition;
    private readonly double _tapZOffset;
    private readonly double _tapThreshold;
    private double _currentTapThreshold;
    private DigitalFilter? _filterDesign;
    private EddyGatherSamples? _gather;
    private EddyTapInfo? _lastTap;

    public EddyTap(ConfigWrapper config, LDC1612 sensorHelper, EddyParameterHelper paramHelper, McuTriggerAnalog triggerAnalog)
    {
        _printer = config.GetPrinter();
        _sensorHelper = sensorHelper;
        _paramHelper = paramHelper;
        _triggerAnalog = triggerAnalog;
        _zMinPosition = ProbeUtil.LookupMinimumZ(config);
        _tapZOffset = config.GetFloat("tap_z_offset", 0.0);
        _tapThreshold = config.GetFloat("tap_threshold", 0.0, above: 0.0);
        SetupTap();
    }

    private void SetupTap()
    {
        // A 25Hz lowpass followed by a derivative
        double sps = _sensorHelper.GetSamplesPerSecond();
        var design = new DigitalFilter(sps, msg => new ConfigError(msg));
        design.AddLowpass(25.0, 4);
        design.AddDerivative();
        _filterDesign = design;
        var cmdQueue = _triggerAnalog.GetDispatch().CommandQueue;
        var mcu = _sensorHelper.GetMcu();
        var sosFilter = new McuSosFilter(mcu, cmdQueue, design.GetSize());
        _triggerAnalog.SetupSosFilter(sosFilter);
    }

    private void PrepTriggerAnalogTap(GCodeCommand gcmd)
    {
        double tapThreshold = gcmd.GetFloat("TAP_THRESHOLD", _tapThreshold, above: 0.0);
        if (tapThreshold == 0.0)
            throw new CommandError("Tap not configured");
        var p = _paramHelper.GetProbeParams(gcmd);
        // The MCU filter works in milli-Hz
        var sosFilter = _triggerAnalog.GetSosFilter();
        sosFilter.SetFilterDesign(_filterDesign);
        double s = FracHz * _sensorHelper.ConvertRawToFrequency(1);
        sosFilter.SetOffsetScale(0, s, autoOffset: true);
        _triggerAnalog.SetRawRange(0, EddyDescend.MaxValidRawValue);
        // Trigger on tap_threshold
        double sps = _sensorHelper.GetSamplesPerSecond();
        double adjThresh = tapThreshold * p.ProbeSpeed / sps;
        long sampThresh = (long)(FracHz * adjThresh + 0.5);
        _triggerAnalog.SetTrigger("diff_peak_gt", sampThresh);
        _currentTapThreshold = tapThreshold;
    }

    private void ValidateSamplesTime(List<double[]> measures, double startTime, double endTime)
    {
        if (endTime - startTime < 0.100)
            throw new CommandError("Tap detected too close to start of move");
        var timestamps = measures.Select(m => m[0]).ToList();
        if (timestamps.Count < 2)
            throw new CommandError("Unable to obtain probe_eddy_current sensor readings");
        var ts = new List<double> { startTime };
        ts.AddRange(timestamps);
        ts.Add(endTime);
        var tdiffs = new List<double>();
        for (int i = 1; i < ts.Count; i++)
            tdiffs.Add(ts[i] - ts[i - 1]);
        double tmax = tdiffs.Max();
        double tmin = tdiffs.Skip(1).Take(tdiffs.Count - 2).Min();
        double cycleTime = 1.0 / _sensorHelper.GetSamplesPerSecond();
        if (tmax > cycleTime * 1.25)
            throw new CommandError($"Eddy: Gaps in the data: {PyFmt.F(tmax, 3)} > {PyFmt.F(cycleTime * 1.25, 3)}");
        if (tmin < cycleTime * 0.75)
            throw new CommandError($"Eddy: CLKIN frequency too low: {PyFmt.F(tmin, 3)} < {PyFmt.F(cycleTime * 0.75, 3)}");
    }

    private static CommandError ErrorDetect(string msg) => new($"Unable to detect tap: {msg}");

    private ProbeResult AnalyzePullback(List<double[]> measures, double startTime, double endTime)
    {
        _lastTap = null;
        var reactor = _printer.Reactor;
        ValidateSamplesTime(measures, startTime, endTime);
        // The toolhead position at each measurement
        var data = measures.Select(m => (m[1], EddyScanningProbe.LookupToolheadPos(_printer, m[0]))).ToList();
        reactor.Pause(0.0);
        double minZ = data[0].Item2[2];
        double maxZ = data[^1].Item2[2];
        if (maxZ - minZ < 0.350)
            throw ErrorDetect($"insufficient lift ({PyFmt.F(maxZ - minZ, 6)} vs {PyFmt.F(0.350, 6)})");
        var tapFit = new TapBestFit();
        var coeffs = tapFit.FindBestFit(data);
        _lastTap = new EddyTapInfo("fail", coeffs.ZContact - minZ, coeffs);
        reactor.Pause(0.0);
        double contactSlopeDelta = coeffs.DepressSlope - coeffs.Slope;
        if (contactSlopeDelta < _currentTapThreshold)
            throw ErrorDetect($"insufficient slope delta ({PyFmt.F(contactSlopeDelta, 6)} vs {PyFmt.F(_currentTapThreshold, 6)})");
        if (coeffs.Slope >= 0.0 || coeffs.Slope2 < 0.0)
            throw ErrorDetect($"invalid free air slope (s={PyFmt.F(coeffs.Slope, 6)} s2={PyFmt.F(coeffs.Slope2, 6)})");
        double depress = coeffs.ZContact - minZ;
        if (depress < 0.030 || depress > 0.250)
            throw ErrorDetect($"invalid depress distance ({PyFmt.F(depress, 6)} vs {PyFmt.F(0.030, 6)}:{PyFmt.F(0.250, 6)})");
        _lastTap = new EddyTapInfo("success", depress, coeffs);
        // The position of the first sample above the contact
        int trigIdx = data.Count - 1;
        while (trigIdx > 0 && data[trigIdx - 1].Item2[2] > coeffs.ZContact)
            trigIdx--;
        var trigPos = data[trigIdx].Item2;
        double adjZContact = coeffs.ZContact - _tapZOffset;
        return new ProbeResult(trigPos[0], trigPos[1], adjZContact, trigPos[0], trigPos[1], trigPos[2]);
    }

    public EddyTapInfo? GetLastTapInfo() => _lastTap;

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        PrepTriggerAnalogTap(gcmd);
        _gather = new EddyGatherSamples(_printer, _sensorHelper);
        return this;
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pos = toolhead.GetPosition();
        pos[2] = _zMinPosition;
        var p = _paramHelper.GetProbeParams(gcmd);
        double speed = p.ProbeSpeed;
        double liftSpeed = p.LiftSpeed;
        double liftDist = gcmd.GetFloat("SAMPLE_RETRACT_DIST", 4.0, above: 0.0);
        var phoming = _printer.LookupObject<PrinterHoming>("homing");
        phoming.ProbingMove(_triggerAnalog, pos, speed);
        // Lift off the bed
        var haltpos = toolhead.GetPosition();
        haltpos[2] += liftDist;
        double retractStartTime = toolhead.GetLastMoveTime();
        toolhead.ManualMove(haltpos.Select(v => (double?)v).ToList(), liftSpeed);
        // Samples of the retract
        double startTime = retractStartTime - 0.010;
        double endTime = retractStartTime + 0.150;
        _gather!.AddProbeRequest(m => AnalyzePullback(m, startTime, endTime), startTime, endTime);
    }

    public IReadOnlyList<IProbeResult> PullProbedResults() => _gather!.PullProbed();

    public void EndProbeSession()
    {
        _gather!.Finish();
        _gather = null;
    }
}

/// <summary>METHOD=scan and METHOD=rapid_scan probing: the height from the sensor reading while moving (upstream EddyScanningProbe).</summary>
public sealed class EddyScanningProbe : IProbeSession
{
    private readonly Printer _printer;
    private readonly LDC1612 _sensorHelper;
    private readonly EddyCalibration _calibration;
    private readonly (double X, double Y, double Z) _offsets;
    private EddyGatherSamples? _gather;
    private readonly double _sampleTimeDelay = 0.050;
    private double _sampleTime;
    private bool _isRapid;

    public EddyScanningProbe(ConfigWrapper config, LDC1612 sensorHelper, EddyCalibration calibration, EddyProbeOffsets probeOffsets)
    {
        _printer = config.GetPrinter();
        _sensorHelper = sensorHelper;
        _calibration = calibration;
        _offsets = probeOffsets.GetOffsets();
        _printer.RegisterEventHandler("gcode:command_error", HandleCommandError);
    }

    private void HandleCommandError()
    {
        if (_gather is not null)
            EndProbeSession();
    }

    /// <summary>The toolhead position at <paramref name="posTime"/> from the steppers' past positions.</summary>
    public static double[] LookupToolheadPos(Printer printer, double posTime)
    {
        var kin = printer.LookupObject<ToolHead>("toolhead").GetKinematics();
        var kinSpos = kin.GetSteppers().ToDictionary(s => s.GetName(), s => s.McuToCommandedPosition(s.GetPastMcuPosition(posTime)));
        return kin.CalcPosition(kinSpos);
    }

    private ProbeResult AnalyzeScan(List<double[]> measures, double posTime)
    {
        var toolheadPos = LookupToolheadPos(_printer, posTime);
        return EddyGatherSamples.ProbeResultsFromAvg(measures, toolheadPos, _calibration, _offsets);
    }

    private void RapidLookaheadCb(double printtime)
    {
        if (_gather is null)
            return;
        double startTime = printtime - _sampleTime / 2;
        double endTime = startTime + _sampleTime;
        _gather.AddProbeRequest(m => AnalyzeScan(m, printtime), startTime, endTime);
    }

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        _calibration.VerifyCalibrated();
        _gather = new EddyGatherSamples(_printer, _sensorHelper);
        _sampleTime = gcmd.GetFloat("SAMPLE_TIME", 0.100, above: 0.0);
        _isRapid = gcmd.Get("METHOD", "scan").ToLowerInvariant() == "rapid_scan";
        return this;
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        if (_isRapid)
        {
            toolhead.RegisterLookaheadCallback(RapidLookaheadCb);
            return;
        }
        double printtime = toolhead.GetLastMoveTime();
        toolhead.Dwell(_sampleTimeDelay + _sampleTime);
        double startTime = printtime + _sampleTimeDelay;
        double endTime = startTime + _sampleTime;
        _gather!.AddProbeRequest(m => AnalyzeScan(m, startTime), startTime, endTime);
    }

    public IReadOnlyList<IProbeResult> PullProbedResults()
    {
        if (_isRapid)
        {
            // Flush the lookahead so every callback has run
            _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        }
        var results = _gather!.PullProbed();
        _printer.SendEvent("probe:update_results", results);
        return results;
    }

    public void EndProbeSession()
    {
        _gather!.Finish();
        _gather = null;
    }
}

/// <summary>The x/y offsets of an eddy probe; its z offset is always 0 (upstream EddyProbeOffsets).</summary>
public sealed class EddyProbeOffsets
{
    private readonly double _xOffset, _yOffset;

    public EddyProbeOffsets(ConfigWrapper config)
    {
        _xOffset = config.GetFloat("x_offset", 0.0);
        _yOffset = config.GetFloat("y_offset", 0.0);
    }

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null) => (_xOffset, _yOffset, 0.0);
}

/// <summary>Probe parameters, with fixed defaults for METHOD=scan/rapid_scan/tap (upstream EddyParameterHelper).</summary>
public sealed class EddyParameterHelper : IProbeParamHelper
{
    private readonly ProbeParameterHelper _paramHelper;

    public EddyParameterHelper(ConfigWrapper config) => _paramHelper = new ProbeParameterHelper(config);

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null)
    {
        string? method = gcmd?.Get("METHOD", "").ToLowerInvariant();
        if (gcmd is null || method is not ("scan" or "rapid_scan" or "tap"))
            return _paramHelper.GetProbeParams(gcmd);
        double probeSpeed = gcmd.GetFloat("PROBE_SPEED", 5.0, above: 0.0);
        double liftSpeed = gcmd.GetFloat("LIFT_SPEED", 5.0, above: 0.0);
        int samples = gcmd.GetInt("SAMPLES", 1, minval: 1);
        double sampRetractDist = 0.0;
        double sampTolerance = gcmd.GetFloat("SAMPLES_TOLERANCE", 0.100, minval: 0.0);
        int sampRetries = gcmd.GetInt("SAMPLES_TOLERANCE_RETRIES", 0, minval: 0);
        string samplesResult = gcmd.Get("SAMPLES_RESULT", "average");
        return new ProbeParams(probeSpeed, liftSpeed, samples, sampRetractDist, sampTolerance, sampRetries, samplesResult);
    }
}

/// <summary>[probe_eddy_current NAME]: an eddy current Z probe such as the BTT Eddy (upstream PrinterEddyProbe).</summary>
public sealed class PrinterEddyProbe : IPrinterProbe, IStatusProvider
{
    private readonly Printer _printer;
    private readonly EddyProbeOffsets _probeOffsets;
    private readonly EddyParameterHelper _paramHelper;
    private readonly SampleAveragingHelper _eddyDescendSession;
    private readonly SampleAveragingHelper _eddyTapSession;
    private readonly EddyScanningProbe _eddyScan;
    private readonly ProbeCommandHelper _cmdHelper;

    public PrinterEddyProbe(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        Calibration = new EddyCalibration(config);
        _ = new EddyCalibrationTool(config, Calibration);
        var sensors = new Dictionary<string, Func<ConfigWrapper, EddyCalibration, LDC1612>>
        {
            ["ldc1612"] = (c, cal) => new LDC1612(c, cal),
        };
        string sensorType = config.GetChoice("sensor_type", sensors.Keys.ToList());
        SensorHelper = sensors[sensorType](config, Calibration);
        // The MCU side trigger
        var trigAnalog = new McuTriggerAnalog(SensorHelper);
        _ = new LookupZSteppers(config, trigAnalog.GetDispatch().AddStepper);
        // Plain probing
        _probeOffsets = new EddyProbeOffsets(config);
        _paramHelper = new EddyParameterHelper(config);
        var eddyDescend = new EddyDescend(config, SensorHelper, Calibration, _probeOffsets, _paramHelper, trigAnalog);
        _eddyDescendSession = new SampleAveragingHelper(config, _paramHelper, eddyDescend.StartProbeSession);
        // "tap" probing
        var eddyTap = new EddyTap(config, SensorHelper, _paramHelper, trigAnalog);
        _ = new EddyTapCalibration(config, Calibration, eddyTap);
        _eddyTapSession = new SampleAveragingHelper(config, _paramHelper, eddyTap.StartProbeSession);
        // "scan" and "rapid_scan" probing
        _eddyScan = new EddyScanningProbe(config, SensorHelper, Calibration, _probeOffsets);
        _cmdHelper = new ProbeCommandHelper(config, this, canSetZOffset: false);
        _printer.AddObject("probe", this);
    }

    public EddyCalibration Calibration { get; }

    public LDC1612 SensorHelper { get; }

    /// <summary>Adds a client of the sensor's (time, frequency, z) batches.</summary>
    public void AddClient(Func<BulkBatch, bool> cb) => SensorHelper.AddClient(cb);

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null) => _paramHelper.GetProbeParams(gcmd);

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null)
    {
        if (gcmd is not null && gcmd.Get("METHOD", "").ToLowerInvariant() == "tap")
            return (0.0, 0.0, 0.0);
        return _probeOffsets.GetOffsets(gcmd);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdHelper.GetStatus(eventtime);

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        string method = gcmd.Get("METHOD", "automatic").ToLowerInvariant();
        if (method is "scan" or "rapid_scan")
            return _eddyScan.StartProbeSession(gcmd);
        if (method == "tap")
            return _eddyTapSession.StartProbeSession(gcmd);
        return _eddyDescendSession.StartProbeSession(gcmd);
    }

    public void RegisterDriftCompensation(IEddyDriftCompensation comp) => Calibration.RegisterDriftCompensation(comp);
}
