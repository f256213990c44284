using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Frequency sweep settings (upstream resonance_tester.VibrationPulseTestGenerator, config part).</summary>
public sealed class VibrationPulseTestGenerator
{
    public VibrationPulseTestGenerator(ConfigWrapper config)
    {
        MinFreq = config.GetFloat("min_freq", 5.0, minval: 1.0);
        MaxFreq = config.GetFloat("max_freq", 135.0, minval: MinFreq, maxval: 300.0);
        MaxFreqZ = config.GetFloat("max_freq_z", 100.0, minval: MinFreq, maxval: 300.0);
        AccelPerHz = config.GetFloat("accel_per_hz", 60.0, above: 0.0);
        AccelPerHzZ = config.GetFloat("accel_per_hz_z", 15.0, above: 0.0);
        HzPerSec = config.GetFloat("hz_per_sec", 1.0, minval: 0.1, maxval: 2.0);
    }

    public double MinFreq { get; }
    public double MaxFreq { get; }
    public double MaxFreqZ { get; }
    public double AccelPerHz { get; }
    public double AccelPerHzZ { get; }
    public double HzPerSec { get; }
}

/// <summary>Sweeping vibration settings (upstream resonance_tester.SweepingVibrationsTestGenerator, config part).</summary>
public sealed class SweepingVibrationsTestGenerator
{
    public SweepingVibrationsTestGenerator(ConfigWrapper config)
    {
        VibrationGenerator = new VibrationPulseTestGenerator(config);
        SweepingAccel = config.GetFloat("sweeping_accel", 400.0, above: 0.0);
        SweepingAccelZ = config.GetFloat("sweeping_accel_z", 50.0, above: 0.0);
        SweepingPeriod = config.GetFloat("sweeping_period", 1.2, minval: 0.0);
    }

    public VibrationPulseTestGenerator VibrationGenerator { get; }
    public double SweepingAccel { get; }
    public double SweepingAccelZ { get; }
    public double SweepingPeriod { get; }
}

/// <summary>
/// [resonance_tester]: configuration and command registration (upstream
/// resonance_tester.ResonanceTester). Running the tests needs accelerometer streaming
/// and shaper calibration, which this host does not implement.
/// </summary>
public sealed class ResonanceTester
{
    public const string CmdMeasureAxesNoiseHelp = "Measures noise of all enabled accelerometer chips";
    public const string CmdTestResonancesHelp = "Runs the resonance test for a specified axis";
    public const string CmdShaperCalibrateHelp = "Similar to TEST_RESONANCES but suggest input shaper config";

    private readonly Printer _printer;
    private readonly List<(string Axis, string ChipName)> _accelChipNames;
    private readonly List<(string Axis, IAccelerometer Chip)> _accelChips = new();

    public ResonanceTester(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        MoveSpeed = config.GetFloat("move_speed", 50.0, above: 0.0);
        Generator = new SweepingVibrationsTestGenerator(config);
        List<(string Axis, string Name)> names;
        if (string.IsNullOrEmpty(config.GetOrNull("accel_chip_x")))
        {
            names =
            [
                ("xy", PyFormat.Strip(config.Get("accel_chip"))),
                ("z", PyFormat.Strip(config.Get("accel_chip_z", ""))),
            ];
        }
        else
        {
            names =
            [
                ("x", PyFormat.Strip(config.Get("accel_chip_x"))),
                ("y", PyFormat.Strip(config.Get("accel_chip_y"))),
                ("z", PyFormat.Strip(config.Get("accel_chip_z", ""))),
            ];
        }
        // Group the axes of each chip, chips in name order
        _accelChipNames = names.OrderBy(n => n.Name, StringComparer.Ordinal)
            .GroupBy(n => n.Name)
            .Select(g => (string.Concat(g.Select(v => v.Axis).OrderBy(a => a, StringComparer.Ordinal)), g.Key))
            .ToList();
        MaxSmoothing = config.GetFloatOrNull("max_smoothing", minval: 0.05);
        ProbePoints = config.GetFloatLists("probe_points", innerSep: ',', outerSep: '\n', count: 3);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("MEASURE_AXES_NOISE", CmdUnsupported, desc: CmdMeasureAxesNoiseHelp);
        gcode.RegisterCommand("TEST_RESONANCES", CmdUnsupported, desc: CmdTestResonancesHelp);
        gcode.RegisterCommand("SHAPER_CALIBRATE", CmdUnsupported, desc: CmdShaperCalibrateHelp);
        _printer.RegisterEventHandler("klippy:connect", Connect);
    }

    public double MoveSpeed { get; }

    public SweepingVibrationsTestGenerator Generator { get; }

    public double? MaxSmoothing { get; }

    public IReadOnlyList<IReadOnlyList<double>> ProbePoints { get; }

    /// <summary>(axes, chip name) pairs, e.g. ("xz", "adxl345").</summary>
    public IReadOnlyList<(string Axis, string ChipName)> AccelChipNames => _accelChipNames;

    private void Connect()
    {
        _accelChips.Clear();
        foreach (var (chipAxis, chipName) in _accelChipNames)
        {
            if (chipName.Length == 0)
                continue;
            var chip = _printer.LookupObject(chipName);
            if (chip is not IAccelerometer accel)
                throw new ConfigError($"'{chipName}' is not an accelerometer");
            _accelChips.Add((chipAxis, accel));
        }
    }

    private static void CmdUnsupported(GCodeCommand gcmd) =>
        throw gcmd.Error($"{gcmd.GetCommand()}: resonance testing is not supported by this host");
}
