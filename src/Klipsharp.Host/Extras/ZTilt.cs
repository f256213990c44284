using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Extras;

/// <summary>Moves each Z stepper on its own to level a bed or gantry (upstream z_tilt.ZAdjustHelper).</summary>
public sealed class ZAdjustHelper
{
    private readonly Printer _printer;
    private readonly string _name;
    private readonly int _zCount;
    private List<McuStepper> _zSteppers = new();

    public ZAdjustHelper(ConfigWrapper config, int zCount)
    {
        _printer = config.GetPrinter();
        _name = config.Name;
        _zCount = zCount;
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    private void HandleConnect()
    {
        var kin = _printer.LookupObject<ToolHead>("toolhead").GetKinematics();
        var zSteppers = kin.GetSteppers().Where(s => s.IsActiveAxis('z')).ToList();
        if (zSteppers.Count != _zCount)
            throw new ConfigError($"{_name} z_positions needs exactly {zSteppers.Count} items");
        if (zSteppers.Count < 2)
            throw new ConfigError($"{_name} requires multiple z steppers");
        _zSteppers = zSteppers;
    }

    /// <summary>Raises each Z stepper by its adjustment (lowest first) so they end up level.</summary>
    public void AdjustSteppers(IReadOnlyList<double> adjustments, double speed)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var curpos = toolhead.GetPosition();
        var stepstrs = _zSteppers.Zip(adjustments, (s, a) => $"{s.GetName()} = {PyFmt.F(a, 6)}");
        gcode.RespondInfo("Making the following Z adjustments:\n" + string.Join("\n", stepstrs));
        toolhead.FlushStepGeneration();
        foreach (var s in _zSteppers)
            s.SetTrapq(null);
        // Stable sort by offset, as Python's list.sort
        var positions = adjustments.Zip(_zSteppers, (a, s) => (Offset: -a, Stepper: s))
            .OrderBy(p => p.Offset).ToList();
        var (firstStepperOffset, _) = positions[0];
        double zLow = curpos[2] - firstStepperOffset;
        for (int i = 0; i < positions.Count - 1; i++)
        {
            var stepper = positions[i].Stepper;
            double nextStepperOffset = positions[i + 1].Offset;
            toolhead.FlushStepGeneration();
            stepper.SetTrapq(toolhead.GetTrapq());
            curpos[2] = zLow + nextStepperOffset;
            try
            {
                toolhead.Move(curpos, speed);
                toolhead.SetPosition(curpos);
            }
            catch (Exception)
            {
                toolhead.FlushStepGeneration();
                foreach (var s in _zSteppers)
                    s.SetTrapq(toolhead.GetTrapq());
                throw;
            }
        }
        var lastStepper = positions[^1].Stepper;
        toolhead.FlushStepGeneration();
        lastStepper.SetTrapq(toolhead.GetTrapq());
        curpos[2] += firstStepperOffset;
        toolhead.SetPosition(curpos);
    }
}

/// <summary>Whether a Z adjustment completed since the motors were last enabled (upstream z_tilt.ZAdjustStatus).</summary>
public sealed class ZAdjustStatus
{
    private bool _applied;

    public ZAdjustStatus(Printer printer) => printer.RegisterEventHandler("stepper_enable:motor_off", MotorOff);

    public string CheckRetryResult(string retryResult)
    {
        if (retryResult == "done")
            _applied = true;
        return retryResult;
    }

    public void Reset() => _applied = false;

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["applied"] = _applied };

    private void MotorOff() => Reset();
}

/// <summary>Repeats a leveling probe until the probed range is within tolerance (upstream z_tilt.RetryHelper).</summary>
public sealed class RetryHelper
{
    private readonly GCodeDispatch _gcode;
    private readonly int _defaultMaxRetries;
    private readonly double _defaultRetryTolerance;
    private readonly string _valueLabel = "Probed points range";
    private readonly string _errorMsgExtra;
    private int _maxRetries;
    private double _retryTolerance;
    private int _currentRetry;
    private double? _previous;
    private int _increasing;

    public RetryHelper(ConfigWrapper config, string errorMsgExtra = "")
    {
        _gcode = config.GetPrinter().LookupObject<GCodeDispatch>("gcode");
        _defaultMaxRetries = config.GetInt("retries", 0, minval: 0);
        _defaultRetryTolerance = config.GetFloat("retry_tolerance", 0.0, above: 0.0);
        _errorMsgExtra = errorMsgExtra;
    }

    public void Start(GCodeCommand gcmd)
    {
        _maxRetries = gcmd.GetInt("RETRIES", _defaultMaxRetries, minval: 0, maxval: 30);
        _retryTolerance = gcmd.GetFloat("RETRY_TOLERANCE", _defaultRetryTolerance, minval: 0.0, maxval: 1.0);
        _currentRetry = 0;
        _previous = null;
        _increasing = 0;
    }

    private bool CheckIncrease(double error)
    {
        // A previous value of 0.0 is falsy in upstream's check
        if (_previous is double prev && prev != 0.0 && error > prev + 0.0000001)
            _increasing++;
        else if (_increasing > 0)
            _increasing--;
        _previous = error;
        return _increasing > 1;
    }

    /// <summary>"done" or "retry" for the probed z values; throws when retries run out or the range grows.</summary>
    public string CheckRetry(IReadOnlyList<double> zPositions)
    {
        if (_maxRetries == 0)
            return "done";
        double error = PyFmt.Round(zPositions.Max() - zPositions.Min(), 6);
        _gcode.RespondInfo($"Retries: {_currentRetry}/{_maxRetries} {_valueLabel}: {PyFmt.F(error, 6)} tolerance: {PyFmt.F(_retryTolerance, 6)}");
        if (CheckIncrease(error))
            throw _gcode.Error($"Retries aborting: {_valueLabel} is increasing. {_errorMsgExtra}");
        if (error <= _retryTolerance)
            return "done";
        _currentRetry++;
        if (_currentRetry > _maxRetries)
            throw _gcode.Error("Too many retries");
        return "retry";
    }
}

/// <summary>[z_tilt]: Z_TILT_ADJUST levels a bed driven by several Z steppers (upstream z_tilt.ZTilt).</summary>
public sealed class ZTilt : IStatusProvider
{
    public const string CmdZTiltAdjustHelp = "Adjust the Z tilt";

    private readonly Printer _printer;
    private readonly IReadOnlyList<IReadOnlyList<double>> _zPositions;
    private readonly RetryHelper _retryHelper;
    private readonly ProbePointsHelper _probeHelper;
    private readonly ZAdjustStatus _zStatus;
    private readonly ZAdjustHelper _zHelper;

    public ZTilt(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _zPositions = config.GetFloatLists("z_positions", innerSep: ',', outerSep: '\n', count: 2);
        _retryHelper = new RetryHelper(config);
        _probeHelper = new ProbePointsHelper(config, ProbeFinalize);
        _probeHelper.MinimumPoints(2);
        _zStatus = new ZAdjustStatus(_printer);
        _zHelper = new ZAdjustHelper(config, _zPositions.Count);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("Z_TILT_ADJUST", CmdZTiltAdjust, desc: CmdZTiltAdjustHelp);
    }

    private void CmdZTiltAdjust(GCodeCommand gcmd)
    {
        _zStatus.Reset();
        _retryHelper.Start(gcmd);
        _probeHelper.StartProbe(gcmd);
    }

    /// <summary>Least-squares plane a + b*x + c*y = z through the probed points: (z_adjust, x_adjust, y_adjust).</summary>
    public static (double ZAdjust, double XAdjust, double YAdjust) FitPlane(IReadOnlyList<ProbeResult> positions)
    {
        var eqs = positions.Select(p => new[] { 1.0, p.BedX, p.BedY }).ToArray();
        var ans = positions.Select(p => new[] { p.BedZ }).ToArray();
        var res = SolveLinearEquations(eqs, ans, allowUnderdetermined: true)!;
        return (res[0][0], res[1][0], res[2][0]);
    }

    /// <summary>Normal-equation least squares (upstream mathutil.solve_linear_equations).</summary>
    public static double[][]? SolveLinearEquations(double[][] eqs, double[][] ans, bool allowUnderdetermined = false)
    {
        var eqst = MathUtil.MatTransp(eqs);
        var eqstEqs = MathUtil.MatMulTransp(eqst);
        var eqstAns = MathUtil.MatMatMul(eqst, ans)!;
        return MathUtil.GaussianSolve(eqstEqs, eqstAns, allowUnderdetermined);
    }

    private string? ProbeFinalize(IReadOnlyList<ProbeResult> positions)
    {
        var (zAdjust, xAdjust, yAdjust) = FitPlane(positions);
        _printer.Log?.Invoke($"Calculated bed tilt parameters: x_adjust={PyFmt.F(xAdjust, 6)} y_adjust={PyFmt.F(yAdjust, 6)} z_adjust={PyFmt.F(zAdjust, 6)}");
        double speed = _probeHelper.GetLiftSpeed();
        var adjustments = _zPositions.Select(p => p[0] * xAdjust + p[1] * yAdjust + zAdjust).ToList();
        _zHelper.AdjustSteppers(adjustments, speed);
        return _zStatus.CheckRetryResult(_retryHelper.CheckRetry(positions.Select(p => p.BedZ).ToList()));
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _zStatus.GetStatus(eventtime);
}
