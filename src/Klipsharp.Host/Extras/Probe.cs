using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>
/// A probe measurement: commanding the toolhead to (BedX, BedY) and descending, the nozzle
/// contacts the bed at toolhead z BedZ; the test was made with the toolhead at Test* (upstream
/// manual_probe.ProbeResult).
/// </summary>
public sealed record ProbeResult(double BedX, double BedY, double BedZ, double TestX, double TestY, double TestZ) : IProbeResult
{
    /// <summary>A result from a test position and the probe offsets (upstream create_probe_result).</summary>
    public static ProbeResult Create(IReadOnlyList<double> testPos, (double X, double Y, double Z) offsets) =>
        new(testPos[0] + offsets.X, testPos[1] + offsets.Y, testPos[2] - offsets.Z, testPos[0], testPos[1], testPos[2]);

    public double this[int i] => i switch
    {
        0 => BedX, 1 => BedY, 2 => BedZ, 3 => TestX, 4 => TestY, 5 => TestZ,
        _ => throw new IndexOutOfRangeException(),
    };
}

/// <summary>A probe as the probing tools use it (upstream's probe object duck type).</summary>
public interface IPrinterProbe : IHomingProbe
{
    ProbeParams GetProbeParams(GCodeCommand? gcmd = null);
    (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null);
}

/// <summary>Resolved probing parameters (upstream get_probe_params dict).</summary>
public sealed record ProbeParams(double ProbeSpeed, double LiftSpeed, int Samples, double SampleRetractDist,
    double SamplesTolerance, int SamplesToleranceRetries, string SamplesResult);

/// <summary>Probe helpers (upstream probe.py module functions).</summary>
public static class ProbeUtil
{
    public const string HintTimeout = "\nIf the probe did not move far enough to trigger, then\nconsider reducing the Z axis minimum position so the probe\ncan travel further (the Z minimum position can be negative).\n";

    /// <summary>Mean or median of probe results (upstream calc_probe_z_average).</summary>
    public static ProbeResult CalcProbeZAverage(IReadOnlyList<ProbeResult> positions, string method = "average")
    {
        if (method != "median")
        {
            double invCount = 1.0 / positions.Count;
            var sums = new double[6];
            for (int i = 0; i < 6; i++)
            {
                double s = 0.0;
                foreach (var p in positions)
                    s += p[i];
                sums[i] = s * invCount;
            }
            return new ProbeResult(sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]);
        }
        var zSorted = positions.OrderBy(p => p.BedZ).ToList();
        int middle = positions.Count / 2;
        if ((positions.Count & 1) == 1)
            return zSorted[middle];
        return CalcProbeZAverage(zSorted.GetRange(middle - 1, 2), "average");
    }

    /// <summary>The minimum Z position of the printer (upstream lookup_minimum_z).</summary>
    public static double LookupMinimumZ(ConfigWrapper config)
    {
        var zconfig = SafeZHoming.LookupZEndstopConfig(config);
        if (zconfig is not null)
            return zconfig.GetFloat("position_min", 0.0, noteValid: false);
        var pconfig = config.GetSection("printer");
        return pconfig.GetFloat("minimum_z_position", 0.0, noteValid: false);
    }

    /// <summary>One probe at the current XY position (upstream run_single_probe).</summary>
    public static ProbeResult RunSingleProbe(IPrinterProbe probe, GCodeCommand gcmd)
    {
        var session = probe.StartProbeSession(gcmd);
        session.RunProbe(gcmd);
        var pos = (ProbeResult)session.PullProbedResults()[0];
        session.EndProbeSession();
        return pos;
    }

    /// <summary>Fails when a manual probe is in progress (upstream manual_probe.verify_no_manual_probe).</summary>
    public static void VerifyNoManualProbe(Printer printer)
    {
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        try
        {
            gcode.RegisterCommand("ACCEPT", _ => { }, desc: "dummy");
        }
        catch (Exception)
        {
            throw new CommandError("Already in a manual Z probe. Use ABORT to abort it.");
        }
        gcode.RegisterCommand("ACCEPT", null);
    }
}

/// <summary>QUERY_PROBE, PROBE, PROBE_ACCURACY and friends (upstream ProbeCommandHelper).</summary>
public sealed class ProbeCommandHelper : IStatusProvider
{
    public const string CmdQueryProbeHelp = "Return the status of the z-probe";
    public const string CmdProbeHelp = "Probe Z-height at current XY position";
    public const string CmdProbeCalibrateHelp = "Calibrate the probe's z_offset";
    public const string CmdProbeAccuracyHelp = "Probe Z-height accuracy at current XY position";
    public const string CmdZOffsetApplyProbeHelp = "Adjust the probe's z_offset";

    private readonly Printer _printer;
    private readonly IPrinterProbe _probe;
    private readonly Func<double, int>? _queryEndstop;
    private readonly string _name;
    private bool _lastState;
    private Coord _lastProbePosition = new([0.0, 0.0, 0.0]);
    private double _lastZResult;

    public ProbeCommandHelper(ConfigWrapper config, IPrinterProbe probe, Func<double, int>? queryEndstop = null, bool canSetZOffset = true)
    {
        _printer = config.GetPrinter();
        _probe = probe;
        _queryEndstop = queryEndstop;
        _name = config.Name;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("QUERY_PROBE", CmdQueryProbe, desc: CmdQueryProbeHelp);
        gcode.RegisterCommand("PROBE", CmdProbe, desc: CmdProbeHelp);
        if (canSetZOffset)
            gcode.RegisterCommand("PROBE_CALIBRATE", CmdProbeCalibrate, desc: CmdProbeCalibrateHelp);
        gcode.RegisterCommand("PROBE_ACCURACY", CmdProbeAccuracy, desc: CmdProbeAccuracyHelp);
        if (canSetZOffset)
            gcode.RegisterCommand("Z_OFFSET_APPLY_PROBE", CmdZOffsetApplyProbe, desc: CmdZOffsetApplyProbeHelp);
    }

    private void Move(IReadOnlyList<double?> coord, double speed) =>
        _printer.LookupObject<ToolHead>("toolhead").ManualMove(coord, speed);

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["name"] = _name,
        ["last_query"] = _lastState,
        ["last_probe_position"] = _lastProbePosition,
        ["last_z_result"] = _lastZResult,
    };

    private void CmdQueryProbe(GCodeCommand gcmd)
    {
        if (_queryEndstop is null)
            throw gcmd.Error("Probe does not support QUERY_PROBE");
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        int res = _queryEndstop(printTime);
        _lastState = res != 0;
        gcmd.RespondInfo($"probe: {(res != 0 ? "TRIGGERED" : "open")}");
    }

    private void CmdProbe(GCodeCommand gcmd)
    {
        var pos = ProbeUtil.RunSingleProbe(_probe, gcmd);
        gcmd.RespondInfo($"Result: at {PyFmt.F(pos.BedX, 3)},{PyFmt.F(pos.BedY, 3)} estimate contact at z={PyFmt.F(pos.BedZ, 6)}");
        _lastProbePosition = new Coord([pos.BedX, pos.BedY, pos.BedZ]);
        var (_, _, zOffset) = _probe.GetOffsets(gcmd);
        _lastZResult = pos.BedZ + zOffset;
    }

    private ((double X, double Y, double Z) Offsets, ProbeResult Ppos)? _probeCalibrateInfo;

    private void ProbeCalibrateFinalize(ProbeResult? mpresult)
    {
        if (mpresult is null)
            return;
        var (offsets, ppos) = _probeCalibrateInfo!.Value;
        double zOffset = offsets.Z - mpresult.BedZ + ppos.BedZ;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RespondInfo($"{_name}: z_offset: {PyFmt.F(zOffset, 3)}\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.");
        _printer.LookupObject<PrinterConfig>("configfile").Set(_name, "z_offset", PyFmt.F(zOffset, 3));
    }

    private void CmdProbeCalibrate(GCodeCommand gcmd)
    {
        ProbeUtil.VerifyNoManualProbe(_printer);
        var p = _probe.GetProbeParams(gcmd);
        var ppos = ProbeUtil.RunSingleProbe(_probe, gcmd);
        var curpos = _printer.LookupObject<ToolHead>("toolhead").GetPosition();
        curpos[2] += 5.0;
        Move(curpos.Select(v => (double?)v).ToList(), p.LiftSpeed);
        curpos[0] = ppos.BedX;
        curpos[1] = ppos.BedY;
        Move(curpos.Select(v => (double?)v).ToList(), p.ProbeSpeed);
        _probeCalibrateInfo = (_probe.GetOffsets(gcmd), ppos);
        _ = new ManualProbeHelper(_printer, gcmd, ProbeCalibrateFinalize);
    }

    private void CmdProbeAccuracy(GCodeCommand gcmd)
    {
        var p = _probe.GetProbeParams(gcmd);
        int sampleCount = gcmd.GetInt("SAMPLES", 10, minval: 1);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var startPos = toolhead.GetPosition();
        gcmd.RespondInfo($"PROBE_ACCURACY at X:{PyFmt.F(startPos[0], 3)} Y:{PyFmt.F(startPos[1], 3)} Z:{PyFmt.F(startPos[2], 3)} (samples={sampleCount} retract={PyFmt.F(p.SampleRetractDist, 3)} speed={PyFmt.F(p.ProbeSpeed, 1)} lift_speed={PyFmt.F(p.LiftSpeed, 1)})\n");
        var foParams = new Dictionary<string, string>(gcmd.GetCommandParameters()) { ["SAMPLES"] = "1" };
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var foGcmd = gcode.CreateGCodeCommand("", "", foParams);
        var session = _probe.StartProbeSession(foGcmd);
        for (int probeNum = 0; probeNum < sampleCount; probeNum++)
        {
            session.RunProbe(foGcmd);
            double liftZ = toolhead.GetPosition()[2] + p.SampleRetractDist;
            Move([startPos[0], startPos[1], liftZ], p.LiftSpeed);
        }
        var positions = session.PullProbedResults().Cast<ProbeResult>().ToList();
        session.EndProbeSession();
        double maxValue = positions.Max(x => x.BedZ);
        double minValue = positions.Min(x => x.BedZ);
        double rangeValue = maxValue - minValue;
        double avgValue = ProbeUtil.CalcProbeZAverage(positions, "average").BedZ;
        double median = ProbeUtil.CalcProbeZAverage(positions, "median").BedZ;
        double deviationSum = 0;
        foreach (var pos in positions)
            deviationSum += Math.Pow(pos.BedZ - avgValue, 2.0);
        double sigma = Math.Pow(deviationSum / positions.Count, 0.5);
        gcmd.RespondInfo($"probe accuracy results: maximum {PyFmt.F(maxValue, 6)}, minimum {PyFmt.F(minValue, 6)}, range {PyFmt.F(rangeValue, 6)}, average {PyFmt.F(avgValue, 6)}, median {PyFmt.F(median, 6)}, standard deviation {PyFmt.F(sigma, 6)}");
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
        double zOffset = _probe.GetOffsets(gcmd).Z;
        double newCalibrate = zOffset - offset;
        gcmd.RespondInfo($"{_name}: z_offset: {PyFmt.F(newCalibrate, 3)}\nThe SAVE_CONFIG command will update the printer config file\nwith the above and restart the printer.");
        _printer.LookupObject<PrinterConfig>("configfile").Set(_name, "z_offset", PyFmt.F(newCalibrate, 3));
    }
}

/// <summary>Adds every stepper moving Z to a probe endstop at MCU identify time (upstream LookupZSteppers).</summary>
public sealed class LookupZSteppers
{
    private readonly Printer _printer;
    private readonly Action<IMcuStepper> _addStepperCb;

    public LookupZSteppers(ConfigWrapper config, Action<IMcuStepper> addStepperCb)
    {
        _printer = config.GetPrinter();
        _addStepperCb = addStepperCb;
        _printer.RegisterEventHandler("klippy:mcu_identify", HandleMcuIdentify);
    }

    private void HandleMcuIdentify()
    {
        var kin = _printer.LookupObject<ToolHead>("toolhead").GetKinematics();
        foreach (var stepper in kin.GetSteppers())
            if (stepper.IsActiveAxis('z'))
                _addStepperCb(stepper);
    }
}

/// <summary>The probe:z_virtual_endstop pin; homing through it runs a probe session (upstream HomingViaProbeHelper).</summary>
public sealed class HomingViaProbeHelper : IPinChip, IMcuEndstop, IPositionEndstop, IProbeEndstop
{
    private readonly Printer _printer;
    private readonly double _positionEndstop;
    private readonly Func<double, int>? _queryEndstopCb;

    public HomingViaProbeHelper(ConfigWrapper config, double positionEndstop, Func<double, int>? queryEndstopCb = null)
    {
        _printer = config.GetPrinter();
        _positionEndstop = positionEndstop;
        _queryEndstopCb = queryEndstopCb;
        _printer.LookupObject<PrinterPins>("pins").RegisterChip("probe", this);
    }

    private CommandError Fail() => new("Internal error. Can't home via HomingViaProbeHelper.");

    public Mcu.Mcu Mcu => throw Fail();

    public void AddStepper(IMcuStepper stepper)
    {
    }

    public IReadOnlyList<IMcuStepper> GetSteppers() => [];

    public ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime, bool triggered = true) => throw Fail();

    public double HomeWait(double homeEndTime) => throw Fail();

    public int QueryEndstop(double printTime) => _queryEndstopCb is null ? 0 : _queryEndstopCb(printTime);

    public double GetPositionEndstop() => _positionEndstop;

    public object SetupPin(string pinType, PinParams pinParams)
    {
        if (pinType != "endstop" || pinParams.Pin != "z_virtual_endstop")
            throw new PinError("Probe virtual endstop only useful as endstop pin");
        if (pinParams.Invert != 0 || pinParams.Pullup != 0)
            throw new PinError("Can not pullup/invert probe virtual endstop");
        return this;
    }
}

/// <summary>Probes by descending until an MCU endstop triggers (upstream DescendToEndstopHelper).</summary>
public sealed class DescendToEndstopHelper
{
    private readonly Printer _printer;
    private readonly IMcuEndstop _mcuProbe;
    private readonly Func<(double X, double Y, double Z)> _probeOffsets;
    private readonly Func<GCodeCommand?, ProbeParams> _paramHelper;
    private readonly bool _alwaysCheckMovement;
    private readonly double _zMinPosition;
    private List<IProbeResult> _results = new();

    public DescendToEndstopHelper(ConfigWrapper config, IMcuEndstop mcuProbe, Func<(double, double, double)> probeOffsets,
        Func<GCodeCommand?, ProbeParams> paramHelper, bool alwaysCheckMovement = false)
    {
        _printer = config.GetPrinter();
        _mcuProbe = mcuProbe;
        _probeOffsets = probeOffsets;
        _paramHelper = paramHelper;
        _alwaysCheckMovement = alwaysCheckMovement;
        _zMinPosition = ProbeUtil.LookupMinimumZ(config);
        _ = new LookupZSteppers(config, mcuProbe.AddStepper);
    }

    public void DescendUntilTrigger(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pos = toolhead.GetPosition();
        pos[2] = _zMinPosition;
        double speed = _paramHelper(gcmd).ProbeSpeed;
        var phoming = _printer.LookupObject<PrinterHoming>("homing");
        bool checkMovement = _alwaysCheckMovement || !phoming.CheckProbeFirstHome(gcmd);
        var ppos = phoming.ProbingMove(new McuEndstopAdapter(_mcuProbe), pos, speed, checkMovement: checkMovement);
        _results.Add(ProbeResult.Create(ppos, _probeOffsets()));
    }

    public List<IProbeResult> PullTriggerPositions()
    {
        var res = _results;
        _results = new();
        return res;
    }

    public void ClearTriggerPositions() => PullTriggerPositions();
}

/// <summary>A source of probing parameters (upstream get_probe_params duck type).</summary>
public interface IProbeParamHelper
{
    ProbeParams GetProbeParams(GCodeCommand? gcmd = null);
}

/// <summary>Probing speeds and multi-sample settings (upstream ProbeParameterHelper).</summary>
public sealed class ProbeParameterHelper : IProbeParamHelper
{
    private readonly GCodeCommand _dummyGcodeCmd;
    private readonly double _speed, _liftSpeed, _sampleRetractDist, _samplesTolerance;
    private readonly int _sampleCount, _samplesRetries;
    private readonly string _samplesResult;

    public ProbeParameterHelper(ConfigWrapper config)
    {
        var gcode = config.GetPrinter().LookupObject<GCodeDispatch>("gcode");
        _dummyGcodeCmd = gcode.CreateGCodeCommand("", "", new Dictionary<string, string>());
        _speed = config.GetFloat("speed", 5.0, above: 0.0);
        _liftSpeed = config.GetFloat("lift_speed", _speed, above: 0.0);
        _sampleCount = config.GetInt("samples", 1, minval: 1);
        _sampleRetractDist = config.GetFloat("sample_retract_dist", 2.0, above: 0.0);
        _samplesResult = config.GetChoice("samples_result", new[] { "median", "average" }, "average");
        _samplesTolerance = config.GetFloat("samples_tolerance", 0.100, minval: 0.0);
        _samplesRetries = config.GetInt("samples_tolerance_retries", 0, minval: 0);
    }

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null)
    {
        gcmd ??= _dummyGcodeCmd;
        double probeSpeed = gcmd.GetFloat("PROBE_SPEED", _speed, above: 0.0);
        double liftSpeed = gcmd.GetFloat("LIFT_SPEED", _liftSpeed, above: 0.0);
        int samples = gcmd.GetInt("SAMPLES", _sampleCount, minval: 1);
        double sampleRetractDist = gcmd.GetFloat("SAMPLE_RETRACT_DIST", _sampleRetractDist, above: 0.0);
        double samplesTolerance = gcmd.GetFloat("SAMPLES_TOLERANCE", _samplesTolerance, minval: 0.0);
        int samplesRetries = gcmd.GetInt("SAMPLES_TOLERANCE_RETRIES", _samplesRetries, minval: 0);
        string samplesResult = gcmd.Get("SAMPLES_RESULT", _samplesResult);
        return new ProbeParams(probeSpeed, liftSpeed, samples, sampleRetractDist, samplesTolerance, samplesRetries, samplesResult);
    }
}

/// <summary>Runs several probe attempts per point and averages them (upstream SampleAveragingHelper).</summary>
public sealed class SampleAveragingHelper : IProbeSession
{
    private readonly Printer _printer;
    private readonly IProbeParamHelper _paramHelper;
    private readonly Func<GCodeCommand, IProbeSession> _startSessionCb;
    private IProbeSession? _hwProbeSession;
    private List<IProbeResult> _results = new();

    public SampleAveragingHelper(ConfigWrapper config, IProbeParamHelper paramHelper, Func<GCodeCommand, IProbeSession> startSessionCb)
    {
        _printer = config.GetPrinter();
        _paramHelper = paramHelper;
        _startSessionCb = startSessionCb;
        _printer.RegisterEventHandler("gcode:command_error", HandleCommandError);
    }

    private void HandleCommandError()
    {
        if (_hwProbeSession is null)
            return;
        try
        {
            EndProbeSession();
        }
        catch (Exception)
        {
            _printer.Log?.Invoke("Multi-probe end");
        }
    }

    private CommandError ProbeStateError() => new("Internal probe error - start/end probe session mismatch");

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        if (_hwProbeSession is not null)
            throw ProbeStateError();
        _hwProbeSession = _startSessionCb(gcmd);
        _results = new();
        return this;
    }

    public void EndProbeSession()
    {
        var hw = _hwProbeSession ?? throw ProbeStateError();
        _results = new();
        _hwProbeSession = null;
        hw.EndProbeSession();
    }

    private ProbeResult Probe(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        double curtime = _printer.Reactor.Monotonic();
        if (!(toolhead.GetStatus(curtime)["homed_axes"] as string ?? "").Contains('z'))
            throw new CommandError("Must home before probe");
        ProbeResult epos;
        try
        {
            _hwProbeSession!.RunProbe(gcmd);
            epos = (ProbeResult)_hwProbeSession.PullProbedResults()[0];
        }
        catch (CommandError e)
        {
            string reason = e.Message;
            if (reason.Contains("Timeout during endstop homing", StringComparison.Ordinal))
                reason += ProbeUtil.HintTimeout;
            throw new CommandError(reason);
        }
        var results = new List<ProbeResult> { epos };
        _printer.SendEvent("probe:update_results", results);
        epos = results[0];
        if (gcmd.GetCommand() != "G28")
        {
            var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
            gcode.RespondInfo($"probe: at {PyFmt.F(epos.BedX, 3)},{PyFmt.F(epos.BedY, 3)} bed will contact at z={PyFmt.F(epos.BedZ, 6)}");
        }
        return epos;
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        if (_hwProbeSession is null)
            throw ProbeStateError();
        var p = _paramHelper.GetProbeParams(gcmd);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var probexy = toolhead.GetPosition()[..2];
        int retries = 0;
        var positions = new List<ProbeResult>();
        while (positions.Count < p.Samples)
        {
            positions.Add(Probe(gcmd));
            var zPositions = positions.Select(x => x.BedZ).ToList();
            if (zPositions.Max() - zPositions.Min() > p.SamplesTolerance)
            {
                if (retries >= p.SamplesToleranceRetries)
                    throw gcmd.Error("Probe samples exceed samples_tolerance");
                gcmd.RespondInfo("Probe samples exceed tolerance. Retrying...");
                retries++;
                positions.Clear();
            }
            if (positions.Count < p.Samples)
            {
                double curZ = toolhead.GetPosition()[2];
                toolhead.ManualMove([probexy[0], probexy[1], curZ + p.SampleRetractDist], p.LiftSpeed);
            }
        }
        _results.Add(ProbeUtil.CalcProbeZAverage(positions, p.SamplesResult));
    }

    public IReadOnlyList<IProbeResult> PullProbedResults()
    {
        var res = _results;
        _results = new();
        return res;
    }
}

/// <summary>The x/y/z offsets of a probe from the nozzle (upstream ProbeOffsetsHelper).</summary>
public sealed class ProbeOffsetsHelper
{
    private readonly double _xOffset, _yOffset, _zOffset;

    public ProbeOffsetsHelper(ConfigWrapper config)
    {
        _xOffset = config.GetFloat("x_offset", 0.0);
        _yOffset = config.GetFloat("y_offset", 0.0);
        _zOffset = config.GetFloat("z_offset");
    }

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null) => (_xOffset, _yOffset, _zOffset);
}

/// <summary>Probes a list of XY points and hands the results to a callback (upstream ProbePointsHelper).</summary>
public sealed class ProbePointsHelper
{
    private readonly Printer _printer;
    private readonly Func<IReadOnlyList<ProbeResult>, string?> _finalizeCallback;
    private readonly string _name;
    private readonly double _defaultHorizontalMoveZ;
    private readonly double _speed;
    private bool _useOffsets;
    private double _liftSpeed;
    private double _horizontalMoveZ;
    private (double X, double Y, double Z) _probeOffsets;

    public ProbePointsHelper(ConfigWrapper config, Func<IReadOnlyList<ProbeResult>, string?> finalizeCallback,
        IReadOnlyList<IReadOnlyList<double>>? defaultPoints = null)
    {
        _printer = config.GetPrinter();
        _finalizeCallback = finalizeCallback;
        ProbePoints = defaultPoints ?? [];
        _name = config.Name;
        if (defaultPoints is null || config.GetOrNull("points") is not null)
            ProbePoints = config.GetFloatLists("points", innerSep: ',', outerSep: '\n', count: 2);
        _defaultHorizontalMoveZ = config.GetFloat("horizontal_move_z", 5.0);
        _speed = config.GetFloat("speed", 50.0, above: 0.0);
        _liftSpeed = _speed;
    }

    public IReadOnlyList<IReadOnlyList<double>> ProbePoints { get; private set; }

    public void MinimumPoints(int n)
    {
        if (ProbePoints.Count < n)
            throw new ConfigError($"Need at least {n} probe points for {_name}");
    }

    public void UpdateProbePoints(IReadOnlyList<IReadOnlyList<double>> points, int minPoints)
    {
        ProbePoints = points;
        MinimumPoints(minPoints);
    }

    public void UseXyOffsets(bool useOffsets) => _useOffsets = useOffsets;

    public double GetLiftSpeed() => _liftSpeed;

    private void Move(IReadOnlyList<double?> coord, double speed) =>
        _printer.LookupObject<ToolHead>("toolhead").ManualMove(coord, speed);

    private void RaiseTool(bool isFirst = false) => Move([null, null, _horizontalMoveZ], isFirst ? _speed : _liftSpeed);

    private bool InvokeCallback(IReadOnlyList<ProbeResult> results)
    {
        _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        return _finalizeCallback(results) != "retry";
    }

    private void MoveNext(int probeNum)
    {
        var nextpos = ProbePoints[probeNum].Select(v => (double?)v).ToList();
        if (_useOffsets)
        {
            nextpos[0] -= _probeOffsets.X;
            nextpos[1] -= _probeOffsets.Y;
        }
        Move(nextpos, _speed);
    }

    public void StartProbe(GCodeCommand gcmd)
    {
        ProbeUtil.VerifyNoManualProbe(_printer);
        var probe = _printer.TryLookupObject<IPrinterProbe>("probe");
        string method = gcmd.Get("METHOD", "automatic").ToLowerInvariant();
        _horizontalMoveZ = gcmd.GetFloat("HORIZONTAL_MOVE_Z", _defaultHorizontalMoveZ);
        if (probe is null || method == "manual")
        {
            _liftSpeed = _speed;
            _probeOffsets = (0.0, 0.0, 0.0);
            _manualResults = new();
            ManualProbeStart();
            return;
        }
        _liftSpeed = probe.GetProbeParams(gcmd).LiftSpeed;
        _probeOffsets = probe.GetOffsets(gcmd);
        if (_horizontalMoveZ < _probeOffsets.Z)
            throw gcmd.Error("horizontal_move_z can't be less than probe's z_offset");
        var session = probe.StartProbeSession(gcmd);
        int probeNum = 0;
        while (true)
        {
            RaiseTool(probeNum == 0);
            if (probeNum >= ProbePoints.Count)
            {
                var results = session.PullProbedResults().Cast<ProbeResult>().ToList();
                if (InvokeCallback(results))
                    break;
                probeNum = 0;
            }
            MoveNext(probeNum);
            session.RunProbe(gcmd);
            probeNum++;
        }
        session.EndProbeSession();
    }

    private List<ProbeResult> _manualResults = new();

    private void ManualProbeStart()
    {
        RaiseTool(_manualResults.Count == 0);
        if (_manualResults.Count >= ProbePoints.Count)
        {
            if (InvokeCallback(_manualResults))
                return;
            _manualResults = new();
        }
        MoveNext(_manualResults.Count);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var gcmd = gcode.CreateGCodeCommand("", "", new Dictionary<string, string>());
        _ = new ManualProbeHelper(_printer, gcmd, ManualProbeFinalize);
    }

    private void ManualProbeFinalize(ProbeResult? mpresult)
    {
        if (mpresult is null)
            return;
        _manualResults.Add(mpresult);
        ManualProbeStart();
    }
}

/// <summary>The probe's endstop pin with activate/deactivate scripts (upstream ProbeEndstopWrapper).</summary>
public sealed class ProbeEndstopWrapper : IProbeSession
{
    private readonly Printer _printer;
    private readonly bool _stowOnEachSample;
    private readonly TemplateWrapper _activateGcode, _deactivateGcode;
    private readonly DescendToEndstopHelper _homingHelper;
    private string _multi = "OFF";

    public ProbeEndstopWrapper(ConfigWrapper config, ProbeOffsetsHelper probeOffsets, ProbeParameterHelper paramHelper)
    {
        _printer = config.GetPrinter();
        _stowOnEachSample = config.GetBoolean("deactivate_on_each_sample", true);
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _activateGcode = gcodeMacro.LoadTemplate(config, "activate_gcode", "");
        _deactivateGcode = gcodeMacro.LoadTemplate(config, "deactivate_gcode", "");
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        McuEndstop = (IMcuEndstop)ppins.SetupPin("endstop", config.Get("pin"));
        _homingHelper = new DescendToEndstopHelper(config, McuEndstop, () => probeOffsets.GetOffsets(), g => paramHelper.GetProbeParams(g));
    }

    public IMcuEndstop McuEndstop { get; }

    public int QueryEndstop(double printTime) => McuEndstop.QueryEndstop(printTime);

    private static bool SamePosition(double[] a, double[] b) => a[0] == b[0] && a[1] == b[1] && a[2] == b[2];

    private void RaiseProbe()
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var startPos = toolhead.GetPosition();
        _deactivateGcode.RunGcodeFromCommand();
        if (!SamePosition(toolhead.GetPosition(), startPos))
            throw new CommandError("Toolhead moved during probe deactivate_gcode script");
    }

    private void LowerProbe()
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var startPos = toolhead.GetPosition();
        _activateGcode.RunGcodeFromCommand();
        if (!SamePosition(toolhead.GetPosition(), startPos))
            throw new CommandError("Toolhead moved during probe activate_gcode script");
    }

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        _homingHelper.ClearTriggerPositions();
        if (!_stowOnEachSample)
            _multi = "FIRST";
        return this;
    }

    private void ProbePrepare()
    {
        if (_multi is "OFF" or "FIRST")
        {
            LowerProbe();
            if (_multi == "FIRST")
                _multi = "ON";
        }
    }

    private void ProbeFinish()
    {
        if (_multi == "OFF")
            RaiseProbe();
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        ProbePrepare();
        try
        {
            _homingHelper.DescendUntilTrigger(gcmd);
        }
        catch (CommandError)
        {
            ProbeFinish();
            throw;
        }
        ProbeFinish();
    }

    public IReadOnlyList<IProbeResult> PullProbedResults() => _homingHelper.PullTriggerPositions();

    public void EndProbeSession()
    {
        _homingHelper.ClearTriggerPositions();
        if (!_stowOnEachSample)
        {
            RaiseProbe();
            _multi = "OFF";
        }
    }
}

/// <summary>[probe]: a Z probe on an endstop pin (upstream PrinterProbe).</summary>
public sealed class PrinterProbe : IPrinterProbe, IStatusProvider
{
    private readonly ProbeOffsetsHelper _probeOffsets;
    private readonly ProbeParameterHelper _paramHelper;
    private readonly SampleAveragingHelper _probeSession;
    private readonly ProbeCommandHelper _cmdHelper;

    public PrinterProbe(ConfigWrapper config)
    {
        _probeOffsets = new ProbeOffsetsHelper(config);
        _paramHelper = new ProbeParameterHelper(config);
        McuProbe = new ProbeEndstopWrapper(config, _probeOffsets, _paramHelper);
        _probeSession = new SampleAveragingHelper(config, _paramHelper, McuProbe.StartProbeSession);
        Func<double, int> queryEndstop = McuProbe.QueryEndstop;
        _cmdHelper = new ProbeCommandHelper(config, this, queryEndstop);
        _ = new HomingViaProbeHelper(config, _probeOffsets.GetOffsets().Z, queryEndstop);
    }

    public ProbeEndstopWrapper McuProbe { get; }

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null) => _paramHelper.GetProbeParams(gcmd);

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null) => _probeOffsets.GetOffsets(gcmd);

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdHelper.GetStatus(eventtime);

    public IProbeSession StartProbeSession(GCodeCommand gcmd) => _probeSession.StartProbeSession(gcmd);
}
