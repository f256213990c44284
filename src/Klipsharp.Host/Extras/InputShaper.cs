using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;
using Klipsharp.Motion;

namespace Klipsharp.Host.Extras;

/// <summary>The configured shaper of one axis: type, frequency and damping ratio (upstream InputShaperParams).</summary>
public sealed class InputShaperParams
{
    private readonly string _axis;

    public InputShaperParams(string axis, ConfigWrapper config)
    {
        _axis = axis;
        string shaperType = config.Get("shaper_type", "mzv");
        ShaperType = config.Get("shaper_type_" + axis, shaperType);
        var sconfig = InputShaperDefs.GetShaperCfg(ShaperType)
            ?? throw config.Error($"Unsupported shaper type: {ShaperType}");
        DampingRatio = config.GetFloat("damping_ratio_" + axis, InputShaperDefs.DefaultDampingRatio,
            minval: 0.0, maxval: sconfig.MaxDampingRatio);
        ShaperFreq = config.GetFloat("shaper_freq_" + axis, 0.0, minval: 0.0);
        // Validate the shaper now so a bad definition fails at startup.
        GetShaper(error: msg => config.Error(msg));
    }

    public string ShaperType { get; private set; }

    public double ShaperFreq { get; private set; }

    public double DampingRatio { get; private set; }

    /// <summary>Applies the SET_INPUT_SHAPER parameters of this axis.</summary>
    public void Update(GCodeCommand gcmd)
    {
        string axis = _axis.ToUpperInvariant();
        string shaperType = gcmd.GetOrNull("SHAPER_TYPE") ?? gcmd.Get("SHAPER_TYPE_" + axis, ShaperType);
        var sconfig = InputShaperDefs.GetShaperCfg(shaperType.ToLowerInvariant())
            ?? throw gcmd.Error($"Unsupported shaper type: {shaperType}");
        double dampingRatio = gcmd.GetFloat("DAMPING_RATIO_" + axis, DampingRatio, minval: 0.0);
        if (dampingRatio > sconfig.MaxDampingRatio)
            throw gcmd.Error($"Too high value of damping_ratio={PyFmt.F(dampingRatio, 3)} for shaper {shaperType} on axis {axis}");
        double shaperFreq = gcmd.GetFloat("SHAPER_FREQ_" + axis, ShaperFreq, minval: 0.0);
        // Validate before committing (upstream validates against the current frequency's on/off state).
        GetShaper(shaperType.ToLowerInvariant(), shaperFreq, dampingRatio, msg => gcmd.Error(msg));
        DampingRatio = dampingRatio;
        ShaperType = shaperType.ToLowerInvariant();
        ShaperFreq = shaperFreq;
    }

    /// <summary>The pulses (count, amplitudes, times); none while the frequency is zero.</summary>
    public (int N, double[] A, double[] T) GetShaper(string? shaperType = null, double? shaperFreq = null,
        double? dampingRatio = null, Func<string, Exception>? error = null)
    {
        double[] a, t;
        if (ShaperFreq == 0)
        {
            (a, t) = InputShaperDefs.GetNoneShaper();
        }
        else
        {
            // Python's "x or y": a zero/empty argument falls back to the current value.
            string type = string.IsNullOrEmpty(shaperType) ? ShaperType : shaperType;
            double freq = shaperFreq is { } f && f != 0 ? f : ShaperFreq;
            double damping = dampingRatio is { } d && d != 0 ? d : DampingRatio;
            (a, t) = InputShaperDefs.InitShaper(type, freq, damping, error)
                ?? throw new InvalidOperationException("cannot unpack non-iterable NoneType object");
        }
        return (a.Length, a, t);
    }

    /// <summary>Status fields in upstream's order, formatted as upstream does.</summary>
    public List<(string Key, string Value)> GetStatus() =>
    [
        ("shaper_type", ShaperType),
        ("shaper_freq", PyFmt.F(ShaperFreq, 3)),
        ("damping_ratio", PyFmt.F(DampingRatio, 6)),
    ];
}

/// <summary>The input shaper of one axis, with the pulses currently in effect (upstream AxisInputShaper).</summary>
public sealed class AxisInputShaper
{
    private (int N, double[] A, double[] T)? _saved;
    private int _n;
    private double[] _a, _t;

    public AxisInputShaper(string axis, ConfigWrapper config)
    {
        Axis = axis;
        Params = new InputShaperParams(axis, config);
        (_n, _a, _t) = Params.GetShaper();
    }

    public string Axis { get; }

    public InputShaperParams Params { get; }

    public string GetName() => "shaper_" + Axis;

    public (int N, double[] A, double[] T) GetShaper() => (_n, _a, _t);

    public void Update(GCodeCommand gcmd)
    {
        Params.Update(gcmd);
        (_n, _a, _t) = Params.GetShaper();
    }

    /// <summary>Loads the pulses into <paramref name="sk"/>; on failure shaping of this axis is disabled and false returned.</summary>
    public bool SetShaperKinematics(InputShaperKinematics sk)
    {
        bool success = sk.SetShaperParams(Axis[0], _n, _a, _t);
        if (!success)
        {
            DisableShaping();
            sk.SetShaperParams(Axis[0], _n, _a, _t);
        }
        return success;
    }

    public bool IsEnabled() => _n > 0;

    public void DisableShaping()
    {
        if (_saved is null && _n != 0)
            _saved = (_n, _a, _t);
        var (a, t) = InputShaperDefs.GetNoneShaper();
        (_n, _a, _t) = (a.Length, a, t);
    }

    public void EnableShaping()
    {
        if (_saved is not { } saved)
            return; // shaping was not disabled
        (_n, _a, _t) = saved;
        _saved = null;
    }

    public void Report(GCodeCommand gcmd)
    {
        string info = string.Join(" ", Params.GetStatus().Select(kv => $"{kv.Key}_{Axis}:{kv.Value}"));
        gcmd.RespondInfo(info);
    }
}

/// <summary>
/// Input shaping of toolhead motion (upstream extras/input_shaper.py): wraps each
/// toolhead stepper's kinematics in <see cref="InputShaperKinematics"/> and sets the
/// per-axis shaper pulses; SET_INPUT_SHAPER changes them at run time.
/// </summary>
public sealed class InputShaper
{
    public const string CmdSetInputShaperHelp = "Set cartesian parameters for input shaper";

    private readonly Printer _printer;
    private readonly AxisInputShaper[] _shapers;
    private readonly List<InputShaperKinematics> _inputShaperStepperKinematics = new();
    private readonly List<StepperKinematics> _origStepperKinematics = new();
    private ToolHead? _toolhead;

    public InputShaper(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:connect", Connect);
        _printer.RegisterEventHandler("dual_carriage:update_kinematics", UpdateKinematics);
        _shapers = [new AxisInputShaper("x", config), new AxisInputShaper("y", config), new AxisInputShaper("z", config)];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("SET_INPUT_SHAPER", CmdSetInputShaper, desc: CmdSetInputShaperHelp);
    }

    public IReadOnlyList<AxisInputShaper> GetShapers() => _shapers;

    private void Connect()
    {
        _toolhead = _printer.LookupObject<ToolHead>("toolhead");
        if (_printer.TryLookupObject<object>("dual_carriage") is not null)
        {
            foreach (var shaper in _shapers)
            {
                if (shaper.IsEnabled())
                    throw new ConfigError(
                        "Input shaper parameters cannot be configured via [input_shaper] section with dual_carriage(s) "
                        + " enabled. Refer to Klipper documentation on how  to configure input shaper for dual_carriage(s).");
            }
            return;
        }
        UpdateInputShaping(msg => new ConfigError(msg));
    }

    private InputShaperKinematics? GetInputShaperStepperKinematics(McuStepper stepper)
    {
        var sk = stepper.GetStepperKinematics()!;
        if (sk is InputShaperKinematics existing && _inputShaperStepperKinematics.Contains(existing))
            return existing;
        var isSk = new InputShaperKinematics();
        // Same order as upstream: install first, then wrap the original.
        stepper.SetStepperKinematics(isSk);
        if (!isSk.SetSk(sk))
        {
            stepper.SetStepperKinematics(sk);
            return null;
        }
        _origStepperKinematics.Add(sk);
        _inputShaperStepperKinematics.Add(isSk);
        return isSk;
    }

    private void UpdateKinematics()
    {
        if (_toolhead is null)
            return; // still initializing
        _toolhead.FlushStepGeneration();
        foreach (var s in _toolhead.GetKinematics().GetSteppers())
        {
            if (s.GetTrapq() is null)
                continue;
            var isSk = GetInputShaperStepperKinematics(s);
            isSk?.UpdateSk();
        }
        _printer.LookupObject<MotionQueuing>("motion_queuing").CheckStepGenerationScanWindows();
    }

    private void UpdateInputShaping(Func<string, Exception>? error = null)
    {
        var toolhead = _toolhead!;
        toolhead.FlushStepGeneration();
        var failedShapers = new List<AxisInputShaper>();
        foreach (var s in toolhead.GetKinematics().GetSteppers())
        {
            if (s.GetTrapq() is null)
                continue;
            var isSk = GetInputShaperStepperKinematics(s);
            if (isSk is null)
                continue;
            foreach (var shaper in _shapers)
            {
                if (failedShapers.Contains(shaper))
                    continue;
                if (!shaper.SetShaperKinematics(isSk))
                    failedShapers.Add(shaper);
            }
        }
        _printer.LookupObject<MotionQueuing>("motion_queuing").CheckStepGenerationScanWindows();
        if (failedShapers.Count > 0)
        {
            error ??= msg => new CommandError(msg);
            throw error($"Failed to configure shaper(s) {string.Join(", ", failedShapers.Select(s => s.GetName()))} with given parameters");
        }
    }

    public void DisableShaping()
    {
        foreach (var shaper in _shapers)
            shaper.DisableShaping();
        UpdateInputShaping();
    }

    public void EnableShaping()
    {
        foreach (var shaper in _shapers)
            shaper.EnableShaping();
        UpdateInputShaping();
    }

    public void CmdSetInputShaper(GCodeCommand gcmd)
    {
        if (gcmd.GetCommandParameters().Count > 0)
        {
            foreach (var shaper in _shapers)
                shaper.Update(gcmd);
            UpdateInputShaping();
        }
        for (int ind = 0; ind < _shapers.Length; ind++)
        {
            if (ind < 2 || _shapers[ind].IsEnabled())
                _shapers[ind].Report(gcmd);
        }
    }
}
