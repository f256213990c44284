using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Tracks the stepper phase at which an endstop triggers (upstream endstop_phase.PhaseCalc).</summary>
public sealed class PhaseCalc
{
    public static readonly string[] TrinamicDrivers = ["tmc2130", "tmc2208", "tmc2209", "tmc2240", "tmc2660", "tmc5160"];
    private readonly Printer _printer;
    private readonly string _name;
    private ITmcDriver? _tmcModule;

    public PhaseCalc(Printer printer, string name, long? phases = null)
    {
        _printer = printer;
        _name = name;
        Phases = phases;
    }

    public long? Phases { get; private set; }
    public long[]? PhaseHistory { get; private set; }
    public long? LastPhase { get; private set; }
    public long? LastMcuPosition { get; private set; }
    public bool IsPrimary { get; set; }
    public bool StatsOnly { get; set; }

    public void LookupTmc()
    {
        foreach (var driver in TrinamicDrivers)
        {
            var module = _printer.TryLookupObject<ITmcDriver>($"{driver} {_name}");
            if (module is not null)
            {
                _tmcModule = module;
                if (Phases is null)
                    Phases = module.GetPhaseOffset().Phases;
                break;
            }
        }
        if (Phases is long p)
            PhaseHistory = new long[p];
    }

    public long ConvertPhase(long driverPhase, long driverPhases) =>
        PyMod((long)((double)driverPhase / driverPhases * Phases!.Value + .5), Phases.Value);

    private static long PyMod(long a, long b)
    {
        long m = a % b;
        return m != 0 && (m < 0) != (b < 0) ? m + b : m;
    }

    public long CalcPhase(McuStepper stepper, long trigMcuPos)
    {
        long mcuPhaseOffset = 0;
        if (_tmcModule is not null)
        {
            var (offset, _) = _tmcModule.GetPhaseOffset();
            if (offset is null)
            {
                if (!_printer.IsFileOutput)
                    throw new CommandError($"Stepper {_name} phase unknown");
                offset = 0;
            }
            mcuPhaseOffset = offset.Value;
        }
        long phase = PyMod(trigMcuPos + mcuPhaseOffset, Phases!.Value);
        PhaseHistory![phase]++;
        LastPhase = phase;
        LastMcuPosition = trigMcuPos;
        return phase;
    }
}

/// <summary>[endstop_phase STEPPER]: refines homing with the driver's stepper phase (upstream EndstopPhase).</summary>
public sealed class EndstopPhase
{
    private readonly Printer _printer;
    private readonly string _name;
    private readonly double _stepDist;
    private readonly long _phases;
    private long? _endstopPhase;
    private readonly bool _endstopAlignZero;
    private readonly long _endstopPhaseAccuracy;

    public EndstopPhase(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _name = string.Join(" ", config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Skip(1));
        var sconfig = config.GetSection(_name);
        var (rotationDist, stepsPerRotation) = StepperRails.ParseStepDistance(sconfig);
        _stepDist = rotationDist / stepsPerRotation;
        _phases = sconfig.GetInt("microsteps", noteValid: false) * 4L;
        PhaseCalc = new PhaseCalc(_printer, _name, _phases);
        _printer.RegisterEventHandler("klippy:connect", PhaseCalc.LookupTmc);
        _printer.RegisterEventHandler<Homing, List<GenericPrinterRail>>("homing:home_rails_end", HandleHomeRailsEnd);
        _printer.LoadObject(config, "endstop_phase");
        string? triggerPhase = config.GetOrNull("trigger_phase");
        if (triggerPhase is not null)
        {
            var pp = config.GetIntList("trigger_phase", sep: '/', count: 2);
            if (pp[0] >= pp[1])
                throw config.Error($"Invalid trigger_phase '{triggerPhase}'");
            _endstopPhase = PhaseCalc.ConvertPhase(pp[0], pp[1]);
        }
        _endstopAlignZero = config.GetBoolean("endstop_align_zero", false);
        double? endstopAccuracy = config.GetFloatOrNull("endstop_accuracy", above: 0.0);
        if (endstopAccuracy is null)
            _endstopPhaseAccuracy = _phases / 2 - 1;
        else if (_endstopPhase is not null)
            _endstopPhaseAccuracy = (long)Math.Ceiling(endstopAccuracy.Value * .5 / _stepDist);
        else
            _endstopPhaseAccuracy = (long)Math.Ceiling(endstopAccuracy.Value / _stepDist);
        if (_endstopPhaseAccuracy >= _phases / 2)
            throw config.Error($"Endstop for {_name} is not accurate enough for stepper phase adjustment");
        if (_printer.IsFileOutput)
            _endstopPhaseAccuracy = _phases;
    }

    public PhaseCalc PhaseCalc { get; }

    private double AlignEndstop(GenericPrinterRail rail)
    {
        if (!_endstopAlignZero || _endstopPhase is null)
            return 0.0;
        long microsteps = _phases / 4;
        long halfMicrosteps = microsteps / 2;
        double phaseOffset = (((_endstopPhase.Value + halfMicrosteps) % microsteps) - halfMicrosteps) * _stepDist;
        double fullStep = microsteps * _stepDist;
        double pe = rail.GetHomingInfo().PositionEndstop;
        return (long)(pe / fullStep + .5) * fullStep - pe + phaseOffset;
    }

    private double GetHomedOffset(McuStepper stepper, long trigMcuPos)
    {
        long phase = PhaseCalc.CalcPhase(stepper, trigMcuPos);
        if (_endstopPhase is null)
        {
            _printer.Log?.Invoke($"Setting {_name} endstop phase to {phase}");
            _endstopPhase = phase;
            return 0.0;
        }
        long delta = ((phase - _endstopPhase.Value) % _phases + _phases) % _phases;
        if (delta >= _phases - _endstopPhaseAccuracy)
            delta -= _phases;
        else if (delta > _endstopPhaseAccuracy)
            throw new CommandError($"Endstop {_name} incorrect phase (got {phase} vs {_endstopPhase})");
        return delta * _stepDist;
    }

    private void HandleHomeRailsEnd(Homing homingState, List<GenericPrinterRail> rails)
    {
        foreach (var rail in rails)
        {
            var stepper = (McuStepper)rail.GetEndstops()[0].Endstop.GetSteppers()[0];
            if (stepper.GetName() == _name)
            {
                long trigMcuPos = homingState.GetTriggerPosition(_name);
                double align = AlignEndstop(rail);
                double offset = GetHomedOffset(stepper, trigMcuPos);
                homingState.SetStepperAdjustment(_name, align + offset);
                return;
            }
        }
    }
}

/// <summary>The "endstop_phase" object: phase statistics and ENDSTOP_PHASE_CALIBRATE (upstream EndstopPhases).</summary>
public sealed class EndstopPhases : IStatusProvider
{
    public const string CmdEndstopPhaseCalibrateHelp = "Calibrate stepper phase";
    private readonly Printer _printer;
    private readonly Dictionary<string, PhaseCalc> _tracking = new();
    private readonly GCodeDispatch _gcode;

    public EndstopPhases(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler<Homing, List<GenericPrinterRail>>("homing:home_rails_end", HandleHomeRailsEnd);
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("ENDSTOP_PHASE_CALIBRATE", CmdEndstopPhaseCalibrate, desc: CmdEndstopPhaseCalibrateHelp);
    }

    private void UpdateStepper(McuStepper stepper, long trigMcuPos, bool isPrimary)
    {
        string stepperName = stepper.GetName();
        if (!_tracking.TryGetValue(stepperName, out var phaseCalc))
        {
            var m = _printer.TryLookupObject<EndstopPhase>($"endstop_phase {stepperName}");
            if (m is not null)
                phaseCalc = m.PhaseCalc;
            else
            {
                phaseCalc = new PhaseCalc(_printer, stepperName) { StatsOnly = true };
                phaseCalc.LookupTmc();
            }
            _tracking[stepperName] = phaseCalc;
        }
        if (phaseCalc.PhaseHistory is null)
            return;
        if (isPrimary)
            phaseCalc.IsPrimary = true;
        if (phaseCalc.StatsOnly)
            phaseCalc.CalcPhase(stepper, trigMcuPos);
    }

    private void HandleHomeRailsEnd(Homing homingState, List<GenericPrinterRail> rails)
    {
        foreach (var rail in rails)
        {
            bool isPrimary = true;
            foreach (var stepper in rail.GetSteppers())
            {
                long trigMcuPos = homingState.GetTriggerPosition(stepper.GetName());
                UpdateStepper(stepper, trigMcuPos, isPrimary);
                isPrimary = false;
            }
        }
    }

    private void CmdEndstopPhaseCalibrate(GCodeCommand gcmd)
    {
        string? stepperName = gcmd.GetOrNull("STEPPER");
        if (stepperName is null)
        {
            ReportStats();
            return;
        }
        if (!_tracking.TryGetValue(stepperName, out var phaseCalc) || phaseCalc.PhaseHistory is null)
            throw gcmd.Error($"Stats not available for stepper {stepperName}");
        var (endstopPhase, phases) = GenerateStats(stepperName, phaseCalc);
        if (!phaseCalc.IsPrimary)
            return;
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        string section = $"endstop_phase {stepperName}";
        configfile.RemoveSection(section);
        configfile.Set(section, "trigger_phase", $"{endstopPhase}/{phases}");
        gcmd.RespondInfo("The SAVE_CONFIG command will update the printer config\nfile with these parameters and restart the printer.");
    }

    private (long, long) GenerateStats(string stepperName, PhaseCalc phaseCalc)
    {
        var phaseHistory = phaseCalc.PhaseHistory!;
        var wph = phaseHistory.Concat(phaseHistory).ToArray();
        int phases = phaseHistory.Length;
        int halfPhases = phases / 2;
        var res = new List<(long Cost, int Phase)>();
        for (int i = 0; i < phases; i++)
        {
            int phase = i + halfPhases;
            long cost = 0;
            for (int j = i; j < i + phases; j++)
                cost += wph[j] * Math.Abs(j - phase);
            res.Add((cost, phase));
        }
        res.Sort();
        int best = res[0].Phase;
        var found = Enumerable.Range(best - halfPhases, 2 * halfPhases).Where(j => wph[j] != 0).ToList();
        int bestPhase = best % phases;
        int lo = found[0] % phases, hi = found[^1] % phases;
        _gcode.RespondInfo($"{stepperName}: trigger_phase={bestPhase}/{phases} (range {lo} to {hi})");
        return (bestPhase, phases);
    }

    private void ReportStats()
    {
        if (_tracking.Count == 0)
        {
            _gcode.RespondInfo("No steppers found. (Be sure to home at least once.)");
            return;
        }
        foreach (var stepperName in _tracking.Keys.OrderBy(k => k, StringComparer.Ordinal))
        {
            var phaseCalc = _tracking[stepperName];
            if (!phaseCalc.IsPrimary)
                continue;
            GenerateStats(stepperName, phaseCalc);
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var lh = new Dictionary<string, object?>();
        foreach (var (name, pc) in _tracking)
        {
            if (pc.PhaseHistory is null)
                continue;
            lh[name] = new Dictionary<string, object?>
            {
                ["phase"] = pc.LastPhase,
                ["phases"] = pc.Phases,
                ["mcu_position"] = pc.LastMcuPosition,
            };
        }
        return new Dictionary<string, object?> { ["last_home"] = lh };
    }
}
