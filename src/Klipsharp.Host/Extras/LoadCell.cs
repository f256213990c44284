using System.Globalization;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>A bulk ADC a load cell reads (upstream's BulkSensorAdc duck type: hx71x, ads1220, ads131m0x).</summary>
public interface IBulkSensorAdc : ITriggerAnalogSensor
{
    Dictionary<string, object?> GetStatus(double eventtime);

    /// <summary>The saturation limits of a reading.</summary>
    (long Min, long Max) GetRange();

    /// <summary>Adds a client of (time, counts, fraction of range) batches; returning false ends it.</summary>
    void AddClient(Func<BulkBatch, bool> callback);
}

/// <summary>Sends messages to subscribed clients (upstream load_cell.ApiClientHelper, without the webhooks endpoint).</summary>
public sealed class ApiClientHelper<T>
{
    private readonly List<Func<T, bool>> _clientCbs = new();

    public void Send(T msg)
    {
        foreach (var clientCb in _clientCbs.ToList())
        {
            if (!clientCb(msg))
                _clientCbs.Remove(clientCb);
        }
    }

    public void AddClient(Func<T, bool> clientCb) => _clientCbs.Add(clientCb);
}

/// <summary>LOAD_CELL_TARE, LOAD_CELL_CALIBRATE, LOAD_CELL_READ and LOAD_CELL_DIAGNOSTIC (upstream LoadCellCommandHelper).</summary>
public sealed class LoadCellCommandHelper
{
    public const string CmdLoadCellTareHelp = "Set the Zero point of the load cell";
    public const string CmdCalibrateLoadCellHelp = "Start interactive calibration tool";
    public const string CmdLoadCellReadHelp = "Take a reading from the load cell";
    public const string CmdLoadCellDiagnosticHelp = "Check the health of the load cell";

    private readonly Printer _printer;
    private readonly LoadCell _loadCell;

    public LoadCellCommandHelper(ConfigWrapper config, LoadCell loadCell)
    {
        _printer = config.GetPrinter();
        _loadCell = loadCell;
        var nameParts = config.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        RegisterCommands(nameParts[^1]);
        if (nameParts.Length == 1)
            RegisterCommands(null);
    }

    private void RegisterCommands(string? name)
    {
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("LOAD_CELL_TARE", "LOAD_CELL", name, CmdLoadCellTare, desc: CmdLoadCellTareHelp);
        gcode.RegisterMuxCommand("LOAD_CELL_CALIBRATE", "LOAD_CELL", name, CmdLoadCellCalibrate, desc: CmdCalibrateLoadCellHelp);
        gcode.RegisterMuxCommand("LOAD_CELL_READ", "LOAD_CELL", name, CmdLoadCellRead, desc: CmdLoadCellReadHelp);
        gcode.RegisterMuxCommand("LOAD_CELL_DIAGNOSTIC", "LOAD_CELL", name, CmdLoadCellDiagnostic, desc: CmdLoadCellDiagnosticHelp);
    }

    private void CmdLoadCellTare(GCodeCommand gcmd)
    {
        double tareCounts = _loadCell.AvgCounts();
        _loadCell.Tare(tareCounts);
        double tarePercent = _loadCell.CountsToPercent(tareCounts);
        gcmd.RespondInfo($"Load cell tare value: {PyFmt.F(tarePercent, 2)}% ({LoadCell.PyInt(tareCounts)})");
    }

    private void CmdLoadCellCalibrate(GCodeCommand gcmd) => _ = new LoadCellGuidedCalibrationHelper(_printer, _loadCell);

    private void CmdLoadCellRead(GCodeCommand gcmd)
    {
        double counts = _loadCell.AvgCounts();
        double percent = _loadCell.CountsToPercent(counts);
        double? force = _loadCell.CountsToGrams(counts);
        if (percent >= 100 || percent <= -100)
            gcmd.RespondInfo($"Err ({PyFmt.F(percent, 2)}%)");
        if (force is null)
            gcmd.RespondInfo($"---.-g ({PyFmt.F(percent, 2)}%)");
        else
            gcmd.RespondInfo($"{PyFmt.F(force.Value, 1)}g ({PyFmt.F(percent, 2)}%)");
    }

    private void CmdLoadCellDiagnostic(GCodeCommand gcmd)
    {
        gcmd.RespondInfo("Collecting load cell data for 10 seconds...");
        var collector = _loadCell.GetCollector();
        var reactor = _printer.Reactor;
        collector.StartCollecting();
        reactor.Pause(reactor.Monotonic() + 10.0);
        var (samples, errors) = collector.StopCollecting();
        if (errors is var (errs, overflows))
            gcmd.RespondInfo($"Sensor reported errors: {errs} errors, {overflows} overflows");
        else
            gcmd.RespondInfo("Sensor reported no errors");
        if (samples.Count == 0)
            throw gcmd.Error("No samples returned from sensor!");
        var counts = samples.Select(s => s[2]).ToList();
        var (rangeMin, rangeMax) = _loadCell.SaturationRange();
        int goodCount = 0, saturationCount = 0;
        foreach (var sample in counts)
        {
            if (sample >= rangeMax || sample <= rangeMin)
                saturationCount++;
            else
                goodCount++;
        }
        gcmd.RespondInfo($"Samples Collected: {samples.Count}");
        if (samples.Count > 2)
        {
            double sensorSps = _loadCell.Sensor.GetSamplesPerSecond();
            double sps = samples.Count / (samples[^1][0] - samples[0][0]);
            gcmd.RespondInfo($"Measured samples per second: {PyFmt.F(sps, 1)}, configured: {PyFmt.F(sensorSps, 1)}");
        }
        gcmd.RespondInfo($"Good samples: {goodCount}, Saturated samples: {saturationCount}, Unique values: {counts.Distinct().Count()}");
        double maxPct = _loadCell.CountsToPercent(counts.Max());
        double minPct = _loadCell.CountsToPercent(counts.Min());
        gcmd.RespondInfo($"Sample range: [{PyFmt.F(minPct, 2)}% to {PyFmt.F(maxPct, 2)}%]");
        gcmd.RespondInfo($"Sample range / sensor capacity: {PyFmt.F((maxPct - minPct) / 2.0, 5)}%");
    }
}

/// <summary>The interactive TARE / CALIBRATE GRAMS= / ACCEPT / ABORT load cell calibration (upstream LoadCellGuidedCalibrationHelper).</summary>
public sealed class LoadCellGuidedCalibrationHelper
{
    public const string CmdAbortHelp = "Abort load cell calibration tool";
    public const string CmdAcceptHelp = "Accept calibration results and apply to load cell";
    public const string CmdTareHelp = "Tare the load cell";
    public const string CmdCalibrateHelp = "Enter the load cell value in grams";

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly LoadCell _loadCell;
    private double? _tareCounts;
    private double? _countsPerGram;
    private double _tarePercent;

    public LoadCellGuidedCalibrationHelper(Printer printer, LoadCell loadCell)
    {
        _printer = printer;
        _gcode = printer.LookupObject<GCodeDispatch>("gcode");
        _loadCell = loadCell;
        RegisterCommands();
        _gcode.RespondInfo("Starting load cell calibration. \n1.) Remove all load and run TARE. \n2.) Apply a known load, run CALIBRATE GRAMS=nnn. \nComplete calibration with the ACCEPT command.\nUse the ABORT command to quit.");
    }

    private void VerifyNoActiveCalibration()
    {
        try
        {
            _gcode.RegisterCommand("TARE", _ => { });
        }
        catch (ConfigError)
        {
            throw _gcode.Error("Already Calibrating a Load Cell. Use ABORT to quit.");
        }
        _gcode.RegisterCommand("TARE", null);
    }

    private void RegisterCommands()
    {
        VerifyNoActiveCalibration();
        _gcode.RegisterCommand("ABORT", CmdAbort, desc: CmdAbortHelp);
        _gcode.RegisterCommand("ACCEPT", CmdAccept, desc: CmdAcceptHelp);
        _gcode.RegisterCommand("TARE", CmdTare, desc: CmdTareHelp);
        _gcode.RegisterCommand("CALIBRATE", CmdCalibrate, desc: CmdCalibrateHelp);
    }

    /// <summary>Counts per gram from the tare and calibration readings.</summary>
    public static double CountsPerGram(double tareCounts, double grams, double calCounts) =>
        Math.Abs(Math.Truncate(tareCounts - calCounts)) / grams;

    /// <summary>The largest force (kg) the load cell can read before saturating, given the tare bias.</summary>
    public static double CapacityKg(double tareCounts, double countsPerGram, long rangeMax) =>
        Math.Truncate((rangeMax - Math.Abs(tareCounts)) / countsPerGram) / 1000.0;

    private void Finalize(bool saveResults = false)
    {
        foreach (var name in new[] { "ABORT", "ACCEPT", "TARE", "CALIBRATE" })
            _gcode.RegisterCommand(name, null);
        if (!saveResults)
        {
            _gcode.RespondInfo("Load cell calibration aborted");
            return;
        }
        if (_countsPerGram is null || _tareCounts is null)
            _gcode.RespondInfo("Calibration process is incomplete, aborting");
        _loadCell.SetCalibration(_countsPerGram, _tareCounts);
        _gcode.RespondInfo($"Load cell calibration settings:\n\ncounts_per_gram: {PyFmt.F(_countsPerGram!.Value, 6)}\nreference_tare_counts: {LoadCell.PyInt(_tareCounts!.Value)}\n\nThe SAVE_CONFIG command will update the printer config file with the above and restart the printer.");
        _loadCell.Tare(_tareCounts.Value);
    }

    private void CmdAbort(GCodeCommand gcmd) => Finalize(false);

    private void CmdAccept(GCodeCommand gcmd) => Finalize(true);

    private void CmdTare(GCodeCommand gcmd)
    {
        double tareCounts = _loadCell.AvgCounts();
        _tareCounts = tareCounts;
        // A new tare needs a new calibration
        _countsPerGram = null;
        _tarePercent = _loadCell.CountsToPercent(tareCounts);
        gcmd.RespondInfo($"Load cell tare value: {PyFmt.F(_tarePercent, 2)}% ({LoadCell.PyInt(tareCounts)})");
        if (_tarePercent > 2.0)
            gcmd.RespondInfo("WARNING: tare value is more than 2% away from 0!\nThe load cell's range will be impacted.\nCheck for external force on the load cell.");
        gcmd.RespondInfo("Now apply a known force to the load cell and enter                          the force value with:\n CALIBRATE GRAMS=nnn");
    }

    private void CmdCalibrate(GCodeCommand gcmd)
    {
        if (_tareCounts is not double tareCounts)
        {
            gcmd.RespondInfo("You must use TARE first.");
            return;
        }
        double grams = gcmd.GetFloat("GRAMS", minval: 50.0, maxval: 25000.0);
        double calCounts = _loadCell.AvgCounts();
        double calPercent = _loadCell.CountsToPercent(calCounts);
        double cPerG = CountsPerGram(tareCounts, grams, calCounts);
        var (rangeMin, rangeMax) = _loadCell.SaturationRange();
        double capKg = CapacityKg(tareCounts, cPerG, rangeMax);
        gcmd.RespondInfo($"Calibration value: {PyFmt.F(calPercent, 2)}% ({LoadCell.PyInt(calCounts)}), Counts/gram: {PyFmt.F(cPerG, 5)},             Total capacity: +/- {PyFmt.F(capKg, 2)}Kg");
        if (calCounts >= rangeMax || calCounts <= rangeMin)
            throw new CommandError("ERROR: Sensor is saturated with too much load!\nUse less force to calibrate the load cell.");
        if (calCounts == tareCounts)
            throw new CommandError("ERROR: Tare and Calibration readings are the same!\nCheck wiring and validate sensor with READ_LOAD_CELL command.");
        if (Math.Abs(calPercent - _tarePercent) < 1.0)
            throw new CommandError("ERROR: Tare and Calibration readings are less than 1% different!\nUse more force when calibrating or a higher sensor gain.");
        // Only after every check passed
        _countsPerGram = cPerG;
        if (capKg < 1.0)
            gcmd.RespondInfo("WARNING: Load cell capacity is less than 1kg!\nCheck wiring and consider using a lower sensor gain.");
        if (capKg > 25.0)
            gcmd.RespondInfo("WARNING: Load cell capacity is more than 25Kg!\nCheck wiring and consider using a higher sensor gain.");
        gcmd.RespondInfo("Accept calibration with the ACCEPT command.");
    }
}

/// <summary>
/// Collects load cell samples (time, grams, counts, tare counts) for a while, for a sample
/// count or up to a print time (upstream LoadCellSampleCollector). Batch mode yields one
/// (0, 0, 0) sample.
/// </summary>
public sealed class LoadCellSampleCollector
{
    public const double RetryDelay = 0.05;

    private readonly Printer _printer;
    private readonly LoadCell _loadCell;
    private readonly Reactor _reactor;
    private readonly Mcu.Mcu _mcu;
    private double _minTime;
    private double _maxTime = double.PositiveInfinity;
    private double _minCount = double.PositiveInfinity;
    private List<double[]> _samples = new();
    private long _errors, _overflows, _startErrors, _startOverflows;

    public LoadCellSampleCollector(Printer printer, LoadCell loadCell)
    {
        _printer = printer;
        _loadCell = loadCell;
        _reactor = printer.Reactor;
        _mcu = loadCell.Sensor.GetMcu();
    }

    public bool IsStarted { get; private set; }

    private bool OnSamples(BulkBatch msg)
    {
        if (!IsStarted)
            return false;
        _errors = msg.Errors;
        _overflows = msg.Overflows;
        foreach (var sample in msg.Data)
        {
            double time = sample[0];
            if (_minTime <= time && time <= _maxTime)
                _samples.Add(sample);
            if (time > _maxTime)
                IsStarted = false;
        }
        if (_samples.Count >= _minCount)
            IsStarted = false;
        return IsStarted;
    }

    private (List<double[]> Samples, (long Errors, long Overflows)? Errors) FinishCollecting()
    {
        IsStarted = false;
        _minTime = 0.0;
        _maxTime = double.PositiveInfinity;
        _minCount = double.PositiveInfinity;
        var samples = _samples;
        _samples = new();
        long errors = Math.Max(0, _errors - _startErrors);
        _errors = 0;
        long overflows = Math.Max(0, _overflows - _startOverflows);
        _overflows = 0;
        if (_mcu.IsFileOutput)
            samples = [[0.0, 0.0, 0.0]];
        return (samples, errors != 0 || overflows != 0 ? (errors, overflows) : null);
    }

    private (List<double[]> Samples, (long Errors, long Overflows)? Errors) CollectUntilTimeout(double timeout)
    {
        StartCollecting();
        while (IsStarted)
        {
            double now = _reactor.Monotonic();
            if (_mcu.EstimatedPrintTime(now) > timeout)
            {
                var (samples, err) = FinishCollecting();
                var (errors, overflows) = err ?? (0, 0);
                throw new CommandError($"LoadCellSampleCollector timed out! Collected {samples.Count} samples, Errors: {errors}, Overflows: {overflows}");
            }
            if (_mcu.IsFileOutput)
                break;
            _reactor.Pause(now + RetryDelay);
        }
        return FinishCollecting();
    }

    /// <summary>Starts collecting, with no automatic end.</summary>
    public void StartCollecting(double? minTime = null)
    {
        if (IsStarted)
            return;
        _minTime = minTime ?? _minTime;
        IsStarted = true;
        var sensorStatus = _loadCell.Sensor.GetStatus(_reactor.Monotonic());
        _startErrors = Convert.ToInt64(sensorStatus["errors"], CultureInfo.InvariantCulture);
        _startOverflows = Convert.ToInt64(sensorStatus["overflows"], CultureInfo.InvariantCulture);
        _loadCell.AddClient(OnSamples);
    }

    /// <summary>Stops collecting and returns the samples and (errors, overflows), null without errors.</summary>
    public (List<double[]> Samples, (long Errors, long Overflows)? Errors) StopCollecting() => FinishCollecting();

    /// <summary>Waits for at least <paramref name="minCount"/> samples (returning every sample collected).</summary>
    public (List<double[]> Samples, (long Errors, long Overflows)? Errors) CollectMin(int minCount = 1)
    {
        _minCount = minCount;
        if (_samples.Count >= minCount)
            return FinishCollecting();
        double printTime = _mcu.EstimatedPrintTime(_reactor.Monotonic());
        double startTime = Math.Max(printTime, _minTime);
        double sps = _loadCell.Sensor.GetSamplesPerSecond();
        return CollectUntilTimeout(startTime + 1.0 + minCount / sps);
    }

    /// <summary>Waits for a sample stamped after <paramref name="printTime"/>.</summary>
    public (List<double[]> Samples, (long Errors, long Overflows)? Errors) CollectUntil(double printTime)
    {
        _maxTime = printTime;
        if (_samples.Count > 0 && _samples[^1][0] >= printTime)
            return FinishCollecting();
        return CollectUntilTimeout(_maxTime + 1.0);
    }
}

/// <summary>[load_cell] / [load_cell NAME]: a load cell on a bulk ADC, with tare and counts to grams (upstream load_cell.LoadCell).</summary>
public sealed class LoadCell : IStatusProvider
{
    public const double MinCountsPerGram = 1.0;

    private readonly Printer _printer;
    private readonly string _configName;
    private readonly Queue<double> _forceBuffer = new();
    private readonly int _bufferSize;
    private readonly double _invert;
    private readonly ApiClientHelper<BulkBatch> _clients = new();

    public LoadCell(ConfigWrapper config, IBulkSensorAdc sensor)
    {
        _printer = config.GetPrinter();
        _configName = config.Name;
        Name = config.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        Sensor = sensor;
        _bufferSize = (int)(sensor.GetSamplesPerSecond() / 2);
        ReferenceTareCounts = config.GetIntOrNull("reference_tare_counts");
        TareCounts = ReferenceTareCounts;
        CountsPerGramValue = config.GetFloatOrNull("counts_per_gram", minval: MinCountsPerGram);
        _invert = config.GetChoice("sensor_orientation", new Dictionary<string, double> { ["normal"] = 1.0, ["inverted"] = -1.0 }, "normal");
        _ = new LoadCellCommandHelper(config, this);
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
    }

    public string Name { get; }

    public IBulkSensorAdc Sensor { get; }

    public double? ReferenceTareCounts { get; private set; }

    public double? TareCounts { get; private set; }

    public double? CountsPerGramValue { get; private set; }

    /// <summary>Python's int() of a float, as "%i" prints it.</summary>
    public static string PyInt(double v) => ((long)Math.Truncate(v)).ToString(CultureInfo.InvariantCulture);

    private void HandleDoReady(double eventtime)
    {
        Sensor.AddClient(SensorDataEvent);
        AddClient(TrackForce);
        // Announce the calibration state
        if (IsCalibrated())
            _printer.SendEvent("load_cell:calibrate", this);
        if (IsTared())
            _printer.SendEvent("load_cell:tare", this);
    }

    private void HandleReady() => _printer.Reactor.RegisterCallback(HandleDoReady);

    // Counts to (time, grams, counts, tare counts) rows for the clients
    private bool SensorDataEvent(BulkBatch msg)
    {
        var samples = new List<double[]>();
        foreach (var row in msg.Data)
            samples.Add([row[0], CountsToGrams(row[1]) ?? double.NaN, row[1], TareCounts ?? double.NaN]);
        _clients.Send(new BulkBatch(samples, msg.Errors, msg.Overflows));
        return true;
    }

    /// <summary>Adds a client of (time, grams, counts, tare counts) batches (NaN for unknown); returning false ends it.</summary>
    public void AddClient(Func<BulkBatch, bool> callback) => _clients.AddClient(callback);

    public void Tare(double tareCounts)
    {
        TareCounts = Math.Truncate(tareCounts);
        _printer.SendEvent("load_cell:tare", this);
    }

    public void SetCalibration(double? countsPerGram, double? tareCounts)
    {
        if (countsPerGram is null || Math.Abs(countsPerGram.Value) < MinCountsPerGram)
            throw new CommandError("Invalid counts per gram value");
        if (tareCounts is null)
            throw new CommandError("Missing tare counts");
        CountsPerGramValue = countsPerGram;
        ReferenceTareCounts = Math.Truncate(tareCounts.Value);
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        configfile.Set(_configName, "counts_per_gram", PyFmt.F(CountsPerGramValue.Value, 5));
        configfile.Set(_configName, "reference_tare_counts", PyInt(ReferenceTareCounts.Value));
        _printer.SendEvent("load_cell:calibrate", this);
    }

    /// <summary>Grams for a reading, or null when not calibrated and tared.</summary>
    public double? CountsToGrams(double sample)
    {
        if (!IsCalibrated() || !IsTared())
            return null;
        double sampleDelta = sample - TareCounts!.Value;
        return _invert * (sampleDelta / CountsPerGramValue!.Value);
    }

    public (long Min, long Max) SaturationRange() => Sensor.GetRange();

    /// <summary>A reading as a +/- percentage of the sensor range.</summary>
    public double CountsToPercent(double counts)
    {
        var (_, rangeMax) = SaturationRange();
        return counts / rangeMax * 100.0;
    }

    /// <summary>The average reading over about one second, failing on errors or saturation.</summary>
    public double AvgCounts(int? numSamples = null)
    {
        int n = numSamples ?? (int)Sensor.GetSamplesPerSecond();
        var (samples, errors) = GetCollector().CollectMin(n);
        if (errors is var (errs, overflows))
            throw new CommandError($"Sensor reported {errs + overflows} errors while sampling");
        var (rangeMin, rangeMax) = SaturationRange();
        foreach (var sample in samples)
            if (sample[2] >= rangeMax || sample[2] <= rangeMin)
                throw new CommandError("Some samples are saturated (+/-100%)");
        double sum = 0.0;
        foreach (var sample in samples)
            sum += sample[2];
        return sum / samples.Count;
    }

    // The recent forces, for the status
    private bool TrackForce(BulkBatch msg)
    {
        if (!(IsCalibrated() && IsTared()))
            return true;
        foreach (var sample in msg.Data)
        {
            _forceBuffer.Enqueue(sample[1]);
            while (_forceBuffer.Count > _bufferSize)
                _forceBuffer.Dequeue();
        }
        return true;
    }

    private Dictionary<string, object?> ForceG()
    {
        if (IsCalibrated() && IsTared() && _forceBuffer.Count > 0)
        {
            double sum = 0.0;
            foreach (var f in _forceBuffer)
                sum += f;
            return new()
            {
                ["force_g"] = PyFmt.Round(sum / _forceBuffer.Count, 1),
                ["min_force_g"] = PyFmt.Round(_forceBuffer.Min(), 1),
                ["max_force_g"] = PyFmt.Round(_forceBuffer.Max(), 1),
            };
        }
        return new();
    }

    public bool IsTared() => TareCounts is not null;

    public bool IsCalibrated() => CountsPerGramValue is not null && ReferenceTareCounts is not null;

    public double? GetReferenceTareCounts() => ReferenceTareCounts;

    public double? GetTareCounts() => TareCounts;

    public double? GetCountsPerGram() => CountsPerGramValue;

    public LoadCellSampleCollector GetCollector() => new(_printer, this);

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var status = ForceG();
        status["is_calibrated"] = IsCalibrated();
        status["counts_per_gram"] = CountsPerGramValue;
        status["reference_tare_counts"] = ReferenceTareCounts is double r ? (long)r : null;
        status["tare_counts"] = TareCounts is double t ? (long)t : null;
        foreach (var (k, v) in Sensor.GetStatus(eventtime))
            status[k] = v;
        return status;
    }

    /// <summary>Every sensor_type a load cell accepts (hx71x, ads1220, ads131m0x).</summary>
    public static Dictionary<string, Func<ConfigWrapper, IBulkSensorAdc>> SensorTypes()
    {
        var sensors = new Dictionary<string, Func<ConfigWrapper, IBulkSensorAdc>>();
        foreach (var (name, create) in HX71xBase.SensorTypes.Concat(ADS1220.SensorTypes).Concat(ADS131M0X.SensorTypes))
            sensors[name] = create;
        return sensors;
    }

    /// <summary>Upstream load_config / load_config_prefix.</summary>
    public static LoadCell LoadConfig(ConfigWrapper config)
    {
        var sensors = SensorTypes();
        var sensorClass = config.GetChoice("sensor_type", sensors);
        return new LoadCell(config, sensorClass(config));
    }
}
