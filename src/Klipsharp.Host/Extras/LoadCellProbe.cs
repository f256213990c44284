using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>
/// An option read from the config that a G-code command parameter of the upper-cased name
/// may override, with its bounds (upstream load_cell_probe.ParamHelper).
/// </summary>
public sealed class LoadCellParamHelper
{
    private readonly string _configSection;
    private readonly string _typeName;
    private readonly ConfigBound? _minval, _maxval, _above, _below;
    private readonly int? _maxLen;

    private LoadCellParamHelper(ConfigWrapper config, string name, string typeName, object? @default, ConfigBound? minval,
        ConfigBound? maxval, ConfigBound? above, ConfigBound? below, int? maxLen)
    {
        _configSection = config.Name;
        Name = name;
        _typeName = typeName;
        Value = @default;
        _minval = minval;
        _maxval = maxval;
        _above = above;
        _below = below;
        _maxLen = maxLen;
        // The config value is read once
        Value = Get(config: config);
    }

    public string Name { get; }

    /// <summary>The config value: int?, double? or List&lt;double&gt;.</summary>
    public object? Value { get; }

    public static LoadCellParamHelper IntParamHelper(ConfigWrapper config, string name, int? @default = null, int? minval = null,
        int? maxval = null) => new(config, name, "int", @default, minval, maxval, null, null, null);

    public static LoadCellParamHelper FloatParamHelper(ConfigWrapper config, string name, double? @default = null,
        ConfigBound? minval = null, ConfigBound? maxval = null, ConfigBound? above = null, ConfigBound? below = null) =>
        new(config, name, "float", @default, minval, maxval, above, below, null);

    public static LoadCellParamHelper FloatListParamHelper(ConfigWrapper config, string name, List<double>? @default = null,
        ConfigBound? above = null, ConfigBound? below = null, int? maxLen = null) =>
        new(config, name, "float_list", @default, null, null, above, below, maxLen);

    private string GetName(GCodeCommand? gcmd) => gcmd is not null ? Name.ToUpperInvariant() : Name;

    // Python's "a or b" on optional bounds
    private static ConfigBound? Or(ConfigBound? a, ConfigBound? b) => a is { } v && v.Value != 0.0 ? a : b;

    private void ValidateFloat(string description, Func<string, Exception> error, double value, ConfigBound? above, ConfigBound? below)
    {
        above = Or(above, _above);
        if (above is { } ab && value <= ab.Value)
            throw error($"{description} must be above {ab}");
        below = Or(below, _below);
        if (below is { } be && value >= be.Value)
            throw error($"{description} must be below {be}");
    }

    private void ValidateFloatList(ConfigWrapper? config, GCodeCommand? gcmd, List<double> values, ConfigBound? above, ConfigBound? below)
    {
        string description;
        Func<string, Exception> error;
        if (gcmd is not null)
        {
            description = $"Error on '{gcmd.GetCommandline()}': {GetName(gcmd)}";
            error = gcmd.Error;
        }
        else
        {
            description = $"Option '{GetName(gcmd)}' in section '{_configSection}'";
            error = msg => new ConfigError(msg);
        }
        if (_maxLen is int maxLen && values.Count > maxLen)
            throw error($"{description} has maximum length {maxLen}");
        foreach (var value in values)
            ValidateFloat(description, error, value, above, below);
    }

    private int? GetInt(ConfigWrapper? config, GCodeCommand? gcmd)
    {
        var minval = (int?)(Or(null, _minval)?.Value);
        var maxval = (int?)(Or(null, _maxval)?.Value);
        int? def = (int?)Value;
        if (gcmd is not null)
            return def is null ? gcmd.GetIntOrNull(GetName(gcmd), minval, maxval) : gcmd.GetInt(GetName(gcmd), def, minval, maxval);
        return def is null ? config!.GetIntOrNull(Name, minval, maxval) : config!.GetInt(Name, def, minval, maxval);
    }

    private double? GetFloat(ConfigWrapper? config, GCodeCommand? gcmd, ConfigBound? above, ConfigBound? below)
    {
        ConfigBound? minval = _minval, maxval = _maxval;
        above = Or(above, _above);
        below = Or(below, _below);
        double? def = Value is null ? null : Convert.ToDouble(Value, System.Globalization.CultureInfo.InvariantCulture);
        if (gcmd is not null)
        {
            string name = GetName(gcmd);
            return def is null
                ? gcmd.GetFloatOrNull(name, minval?.Value, maxval?.Value, above?.Value, below?.Value)
                : gcmd.GetFloat(name, def, minval?.Value, maxval?.Value, above?.Value, below?.Value);
        }
        return def is null
            ? config!.GetFloatOrNull(Name, minval, maxval, above, below)
            : config!.GetFloat(Name, def, minval, maxval, above, below);
    }

    private List<double> GetFloatList(ConfigWrapper? config, GCodeCommand? gcmd, ConfigBound? above, ConfigBound? below)
    {
        // Never null: the default is the empty list
        var def = Value as List<double> ?? new List<double>();
        List<double> floatList;
        if (gcmd is not null)
        {
            // Without the parameter: the default
            if (!gcmd.GetCommandParameters().ContainsKey(GetName(gcmd)))
                return def;
            string value = gcmd.Get(GetName(gcmd), "");
            if (value.Trim().Length == 0)
                return new List<double>();
            floatList = new List<double>();
            foreach (var p in value.Split(','))
            {
                if (!PyFormat.TryParseFloat(p.Trim(), out double f))
                    throw gcmd.Error($"Error on '{gcmd.GetCommandline()}': unable to parse {value}");
                floatList.Add(f);
            }
        }
        else
        {
            floatList = config!.GetFloatList(Name, def).ToList();
        }
        if (floatList.Count > 0)
            ValidateFloatList(config, gcmd, floatList, above, below);
        return floatList;
    }

    /// <summary>The value from <paramref name="gcmd"/> (or <paramref name="config"/>), the config value when neither is given.</summary>
    public object? Get(GCodeCommand? gcmd = null, ConfigBound? above = null, ConfigBound? below = null, ConfigWrapper? config = null)
    {
        if (config is null && gcmd is null)
            return Value;
        return _typeName switch
        {
            "int" => GetInt(config, gcmd),
            "float" => GetFloat(config, gcmd, above, below),
            _ => GetFloatList(config, gcmd, above, below),
        };
    }
}

/// <summary>The parameters of the continuous tare filter; compared to detect changes (upstream ContinuousTareFilter).</summary>
public sealed record ContinuousTareFilter(double? Sps = null, double? Drift = null, int? DriftDelay = null, double? Buzz = null,
    int? BuzzDelay = null, IReadOnlyList<double>? Notches = null, double? NotchQuality = null)
{
    public bool Equals(ContinuousTareFilter? other) =>
        other is not null && Sps == other.Sps && Drift == other.Drift && DriftDelay == other.DriftDelay && Buzz == other.Buzz
        && BuzzDelay == other.BuzzDelay && NotchQuality == other.NotchQuality
        && (Notches ?? []).SequenceEqual(other.Notches ?? []) && (Notches is null) == (other.Notches is null);

    public override int GetHashCode() => HashCode.Combine(Sps, Drift, Buzz);

    /// <summary>The filter design: drift highpass, buzz lowpass, then the notches.</summary>
    public DigitalFilter DesignFilter(Func<string, Exception> errorFunc)
    {
        var df = new DigitalFilter(Sps ?? 0.0, errorFunc);
        if (Drift is double drift && drift != 0.0)
            df.AddHighpass(drift, DriftDelay ?? 0);
        if (Buzz is double buzz && buzz != 0.0)
            df.AddLowpass(buzz, BuzzDelay ?? 0);
        foreach (var notch in Notches ?? [])
            df.AddNotch(notch, NotchQuality ?? 0.0);
        return df;
    }
}

/// <summary>The continuous tare filter settings and the MCU SOS filter they program (upstream ContinuousTareFilterHelper).</summary>
public sealed class ContinuousTareFilterHelper
{
    private readonly McuSosFilter _sosFilter;
    private readonly double _sps;
    private readonly LoadCellParamHelper _driftParam, _driftDelayParam, _buzzParam, _buzzDelayParam, _notchesParam, _notchQualityParam;
    private readonly ContinuousTareFilter _activeDesign;

    public ContinuousTareFilterHelper(ConfigWrapper config, IBulkSensorAdc sensor, McuSosFilter sosFilter)
    {
        _sosFilter = sosFilter;
        _sps = sensor.GetSamplesPerSecond();
        ConfigBound maxFilterFrequency = (int)Math.Floor(_sps / 2.0);
        _driftParam = LoadCellParamHelper.FloatParamHelper(config, "drift_filter_cutoff_frequency", null, minval: 0.1, maxval: 20.0);
        _driftDelayParam = LoadCellParamHelper.IntParamHelper(config, "drift_filter_delay", 2, minval: 1, maxval: 2);
        _buzzParam = LoadCellParamHelper.FloatParamHelper(config, "buzz_filter_cutoff_frequency", null,
            above: Math.Min(80.0, maxFilterFrequency.Value - 1.0), below: maxFilterFrequency);
        _buzzDelayParam = LoadCellParamHelper.IntParamHelper(config, "buzz_filter_delay", 2, minval: 1, maxval: 2);
        _notchesParam = LoadCellParamHelper.FloatListParamHelper(config, "notch_filter_frequencies", new List<double>(), above: 0.0,
            below: maxFilterFrequency, maxLen: 2);
        _notchQualityParam = LoadCellParamHelper.FloatParamHelper(config, "notch_filter_quality", 2.0, minval: 0.5, maxval: 6.0);
        ConfigDesign = BuildFilter();
        _activeDesign = ConfigDesign;
        var design = _activeDesign.DesignFilter(msg => new ConfigError(msg));
        _sosFilter.SetFilterDesign(design);
    }

    /// <summary>The filter given in the config file.</summary>
    public ContinuousTareFilter ConfigDesign { get; }

    private ContinuousTareFilter BuildFilter(GCodeCommand? gcmd = null)
    {
        var drift = (double?)_driftParam.Get(gcmd);
        var driftDelay = (int?)_driftDelayParam.Get(gcmd);
        var buzz = (double?)_buzzParam.Get(gcmd);
        var buzzDelay = (int?)_buzzDelayParam.Get(gcmd);
        // Notches lie between the drift and buzz cutoffs
        var notches = (List<double>?)_notchesParam.Get(gcmd, above: drift, below: buzz);
        var notchQuality = (double?)_notchQualityParam.Get(gcmd);
        return new ContinuousTareFilter(_sps, drift, driftDelay, buzz, buzzDelay, notches, notchQuality);
    }

    public void UpdateFromCommand(GCodeCommand gcmd)
    {
        var gcmdFilter = BuildFilter(gcmd);
        if (_activeDesign == gcmdFilter)
            return;
        // Upstream programs the active (config) design here, not the command's
        var design = _activeDesign.DesignFilter(msg => gcmd.Error(msg));
        _sosFilter.SetFilterDesign(design);
    }
}

/// <summary>The probing settings of a load cell probe (upstream LoadCellProbeConfigHelper).</summary>
public sealed class LoadCellProbeConfigHelper
{
    private readonly LoadCell _loadCell;
    private readonly IBulkSensorAdc _sensor;
    private readonly LoadCellParamHelper _tareTimeParam, _triggerForceParam, _forceSafetyLimitParam;

    public LoadCellProbeConfigHelper(ConfigWrapper config, LoadCell loadCellInst)
    {
        _loadCell = loadCellInst;
        _sensor = loadCellInst.Sensor;
        // 4 cycles of 60Hz mains, to average out power noise
        _tareTimeParam = LoadCellParamHelper.FloatParamHelper(config, "tare_time", 4.0 / 60.0, minval: 0.01, maxval: 1.0);
        _triggerForceParam = LoadCellParamHelper.FloatParamHelper(config, "trigger_force", 75, minval: 10, maxval: 250);
        _forceSafetyLimitParam = LoadCellParamHelper.FloatParamHelper(config, "force_safety_limit", 2000, minval: 100, maxval: 5000);
    }

    public int GetTareSamples(GCodeCommand? gcmd = null)
    {
        double tareTime = Convert.ToDouble(_tareTimeParam.Get(gcmd), System.Globalization.CultureInfo.InvariantCulture);
        double sps = _sensor.GetSamplesPerSecond();
        return Math.Max(2, (int)Math.Ceiling(tareTime * sps));
    }

    public double GetTriggerForceGrams(GCodeCommand? gcmd = null) =>
        Convert.ToDouble(_triggerForceParam.Get(gcmd), System.Globalization.CultureInfo.InvariantCulture);

    public double GetSafetyLimitGrams(GCodeCommand? gcmd = null) =>
        Convert.ToDouble(_forceSafetyLimitParam.Get(gcmd), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The raw count range outside which probing stops (reference tare +/- the safety limit).</summary>
    public (long Min, long Max) GetSafetyRange(GCodeCommand? gcmd = null)
    {
        double countsPerGram = _loadCell.GetCountsPerGram()!.Value;
        double zero = _loadCell.GetReferenceTareCounts()!.Value;
        long safetyCounts = (long)(countsPerGram * GetSafetyLimitGrams(gcmd));
        long safetyMin = (long)(zero - safetyCounts);
        long safetyMax = (long)(zero + safetyCounts);
        // Not beyond what the sensor can read
        var (sensorMin, sensorMax) = _loadCell.Sensor.GetRange();
        if (safetyMin <= sensorMin || safetyMax >= sensorMax)
            throw new CommandError("Load cell force_safety_limit exceeds sensor range!");
        return (safetyMin, safetyMax);
    }

    /// <summary>1/counts_per_gram.</summary>
    public double GetGramsPerCount()
    {
        double countsPerGram = _loadCell.GetCountsPerGram()!.Value;
        // A value this large would round to 0 in the MCU
        if (countsPerGram >= (1 << 29))
            throw new OverflowException("counts_per_gram value is too large to filter");
        return 1.0 / countsPerGram;
    }
}

/// <summary>Probing moves through the MCU trigger_analog of a load cell (upstream LoadCellProbingMove).</summary>
public sealed class LoadCellProbingMove
{
    /// <summary>The MCU filter works in 1/32768 gram units.</summary>
    public const double FracGramsConv = 32768.0;

    private readonly Printer _printer;
    private readonly LoadCell _loadCell;
    private readonly McuTriggerAnalog _mcuTriggerAnalog;
    private readonly IProbeParamHelper _paramHelper;
    private readonly ContinuousTareFilterHelper _continuousTareFilterHelper;
    private readonly LoadCellProbeConfigHelper _configHelper;
    private readonly double _zMinPosition;
    private readonly long _tareCounts = 0;

    public LoadCellProbingMove(ConfigWrapper config, LoadCell loadCellInst, McuTriggerAnalog mcuTriggerAnalog, IProbeParamHelper paramHelper,
        ContinuousTareFilterHelper continuousTareFilterHelper, LoadCellProbeConfigHelper configHelper)
    {
        _printer = config.GetPrinter();
        _loadCell = loadCellInst;
        _mcuTriggerAnalog = mcuTriggerAnalog;
        _paramHelper = paramHelper;
        _continuousTareFilterHelper = continuousTareFilterHelper;
        _configHelper = configHelper;
        _zMinPosition = ProbeUtil.LookupMinimumZ(config);
        var dispatch = mcuTriggerAnalog.GetDispatch();
        _ = new LookupZSteppers(config, dispatch.AddStepper);
    }

    private LoadCellSampleCollector StartCollector()
    {
        // Homing starts at the last move time (padded when the queue has drained)
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        var collector = _loadCell.GetCollector();
        collector.StartCollecting(minTime: printTime);
        return collector;
    }

    /// <summary>Waits for the last move, then tares and sets the trigger range and force.</summary>
    private void PauseAndTare(GCodeCommand gcmd)
    {
        var collector = StartCollector();
        int numSamples = _configHelper.GetTareSamples(gcmd);
        // collect_min keeps the samples already collected
        var results = collector.CollectMin(numSamples);
        var tareSamples = LoadCellPrinterProbe.CheckSensorErrors(results);
        double sum = 0.0;
        foreach (var s in tareSamples)
            sum += s[2];
        double tareCounts = sum / tareSamples.Count;
        _continuousTareFilterHelper.UpdateFromCommand(gcmd);
        _loadCell.Tare(tareCounts);
        var (safetyMin, safetyMax) = _configHelper.GetSafetyRange(gcmd);
        _mcuTriggerAnalog.SetRawRange(safetyMin, safetyMax);
        double gpc = _configHelper.GetGramsPerCount() * FracGramsConv;
        var sosFilter = _mcuTriggerAnalog.GetSosFilter();
        sosFilter.SetOffsetScale((long)-tareCounts, gpc);
        double triggerVal = _configHelper.GetTriggerForceGrams(gcmd);
        long triggerFracGrams = (long)(triggerVal * FracGramsConv);
        _mcuTriggerAnalog.SetTrigger("abs_ge", triggerFracGrams);
    }

    /// <summary>Probes toward z_min until the MCU trigger fires; returns the position and the collector of the tap.</summary>
    public (double[] Epos, LoadCellSampleCollector Collector) ProbingMove(GCodeCommand gcmd)
    {
        if (!_loadCell.IsCalibrated())
            throw new CommandError("Load Cell not calibrated");
        PauseAndTare(gcmd);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pos = toolhead.GetPosition();
        pos[2] = _zMinPosition;
        double speed = _paramHelper.GetProbeParams(gcmd).ProbeSpeed;
        var phoming = _printer.LookupObject<PrinterHoming>("homing");
        // Collect after the tare samples
        var collector = StartCollector();
        var epos = phoming.ProbingMove(_mcuTriggerAnalog, pos, speed);
        return (epos, collector);
    }

    /// <summary>Waits for a trigger without moving; returns the trigger time, 0 on timeout.</summary>
    public double ProbingTest(GCodeCommand gcmd, double timeout)
    {
        PauseAndTare(gcmd);
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        _mcuTriggerAnalog.HomeStart(printTime, 0.0, 0, 0.0);
        return _mcuTriggerAnalog.HomeWait(printTime + timeout);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["tare_counts"] = _tareCounts,
        ["last_trigger_time"] = _mcuTriggerAnalog.GetLastTriggerTime(),
    };
}

/// <summary>One tap: the probing move and the collection of its samples (upstream TappingMove).</summary>
public sealed class TappingMove
{
    private readonly Printer _printer;
    private readonly LoadCellProbingMove _loadCellProbingMove;
    private double? _lastResult;
    private bool _isLastResultValid;
    private readonly ApiClientHelper<(double[] Time, double[] Force)> _clients = new();

    public TappingMove(ConfigWrapper config, LoadCellProbingMove loadCellProbingMove, LoadCellProbeConfigHelper configHelper)
    {
        _printer = config.GetPrinter();
        _loadCellProbingMove = loadCellProbingMove;
    }

    /// <summary>Adds a client of tap (time, force) data; returning false ends it.</summary>
    public void AddClient(Func<(double[] Time, double[] Force), bool> cb) => _clients.AddClient(cb);

    public (double[] Epos, bool IsValid) RunTap(GCodeCommand gcmd)
    {
        var (epos, collector) = _loadCellProbingMove.ProbingMove(gcmd);
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        double moveEnd = toolhead.GetLastMoveTime();
        var results = collector.CollectUntil(moveEnd);
        var samples = LoadCellPrinterProbe.CheckSensorErrors(results);
        // The tap's time and force columns
        _clients.Send((samples.Select(s => s[0]).ToArray(), samples.Select(s => s[1]).ToArray()));
        _isLastResultValid = true;
        _lastResult = epos[2];
        return (epos, _isLastResultValid);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["last_z_result"] = _lastResult,
        ["is_last_tap_valid"] = _isLastResultValid,
    };
}

/// <summary>A probe session of single taps (upstream TapSession).</summary>
public sealed class TapSession : IProbeSession
{
    private readonly TappingMove _tappingMove;
    private readonly ProbeOffsetsHelper _probeOffsets;
    private List<IProbeResult> _results = new();

    public TapSession(ConfigWrapper config, TappingMove tappingMove, ProbeOffsetsHelper probeOffsets)
    {
        _tappingMove = tappingMove;
        _probeOffsets = probeOffsets;
    }

    public IProbeSession StartProbeSession(GCodeCommand gcmd) => this;

    public void EndProbeSession() => _results = new();

    public void RunProbe(GCodeCommand gcmd)
    {
        var (epos, _) = _tappingMove.RunTap(gcmd);
        _results.Add(ProbeResult.Create(epos, _probeOffsets.GetOffsets()));
    }

    public IReadOnlyList<IProbeResult> PullProbedResults()
    {
        var res = _results;
        _results = new();
        return res;
    }
}

/// <summary>LOAD_CELL_TEST_TAP (upstream LoadCellProbeCommands).</summary>
public sealed class LoadCellProbeCommands
{
    public const string CmdLoadCellTestTapHelp = "Tap the load cell probe to verify operation";

    private readonly Printer _printer;
    private readonly LoadCellProbingMove _loadCellProbingMove;

    public LoadCellProbeCommands(ConfigWrapper config, LoadCellProbingMove loadCellProbingMove)
    {
        _printer = config.GetPrinter();
        _loadCellProbingMove = loadCellProbingMove;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("LOAD_CELL_TEST_TAP", CmdLoadCellTestTap, desc: CmdLoadCellTestTapHelp);
    }

    private void CmdLoadCellTestTap(GCodeCommand gcmd)
    {
        int taps = gcmd.GetInt("TAPS", 3, minval: 1, maxval: 10);
        double timeout = gcmd.GetFloat("TIMEOUT", 30.0, minval: 1.0, maxval: 120.0);
        gcmd.RespondInfo($"Tap the load cell {taps} times:");
        var reactor = _printer.Reactor;
        for (int i = 0; i < taps; i++)
        {
            double result = _loadCellProbingMove.ProbingTest(gcmd, timeout);
            if (result == 0.0)
                throw gcmd.Error("Test timeout out");
            gcmd.RespondInfo("Tap Detected!");
            // Time for the finger to move away
            reactor.Pause(reactor.Monotonic() + 0.2);
        }
        gcmd.RespondInfo($"Test complete, {taps} taps detected");
    }
}

/// <summary>[load_cell_probe]: a load cell in the toolhead used as the Z probe (upstream LoadCellPrinterProbe).</summary>
public sealed class LoadCellPrinterProbe : IPrinterProbe, IStatusProvider
{
    private readonly Printer _printer;
    private readonly LoadCell _loadCell;
    private readonly McuTriggerAnalog _mcuTriggerAnalog;
    private readonly ProbeParameterHelper _paramHelper;
    private readonly ProbeCommandHelper _cmdHelper;
    private readonly ProbeOffsetsHelper _probeOffsets;
    private readonly TappingMove _tappingMove;
    private readonly SampleAveragingHelper _probeSession;

    public LoadCellPrinterProbe(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var sensors = LoadCell.SensorTypes();
        var sensorClass = config.GetChoice("sensor_type", sensors);
        var sensor = sensorClass(config);
        _loadCell = new LoadCell(config, sensor);
        var configHelper = new LoadCellProbeConfigHelper(config, _loadCell);
        _mcuTriggerAnalog = new McuTriggerAnalog(sensor);
        var cmdQueue = _mcuTriggerAnalog.GetDispatch().CommandQueue;
        var sosFilter = new McuSosFilter(_loadCell.Sensor.GetMcu(), cmdQueue, 4);
        _mcuTriggerAnalog.SetupSosFilter(sosFilter);
        var continuousTareFilterHelper = new ContinuousTareFilterHelper(config, sensor, sosFilter);
        _paramHelper = new ProbeParameterHelper(config);
        _cmdHelper = new ProbeCommandHelper(config, this);
        _probeOffsets = new ProbeOffsetsHelper(config);
        var loadCellProbingMove = new LoadCellProbingMove(config, _loadCell, _mcuTriggerAnalog, _paramHelper,
            continuousTareFilterHelper, configHelper);
        _tappingMove = new TappingMove(config, loadCellProbingMove, configHelper);
        var tapSession = new TapSession(config, _tappingMove, _probeOffsets);
        _probeSession = new SampleAveragingHelper(config, _paramHelper, tapSession.StartProbeSession);
        _ = new LoadCellProbeCommands(config, loadCellProbingMove);
        _ = new HomingViaProbeHelper(config, GetOffsets().Z);
        _printer.AddObject("probe", this);
    }

    /// <summary>The samples of a collector result; sensor errors fail the probe (upstream check_sensor_errors).</summary>
    public static List<double[]> CheckSensorErrors((List<double[]> Samples, (long Errors, long Overflows)? Errors) results)
    {
        if (results.Errors is var (errors, overflows))
            throw new CommandError($"Load cell sensor reported errors while probing: {errors} errors, {overflows} overflows");
        return results.Samples;
    }

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null) => _paramHelper.GetProbeParams(gcmd);

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null) => _probeOffsets.GetOffsets(gcmd);

    public IProbeSession StartProbeSession(GCodeCommand gcmd) => _probeSession.StartProbeSession(gcmd);

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var status = _cmdHelper.GetStatus(eventtime);
        foreach (var (k, v) in _loadCell.GetStatus(eventtime))
            status[k] = v;
        foreach (var (k, v) in _tappingMove.GetStatus(eventtime))
            status[k] = v;
        return status;
    }
}
