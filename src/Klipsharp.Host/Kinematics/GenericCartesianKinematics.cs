using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Kinematics;

/// <summary>A carriage that can be paired with a dual carriage ([carriage] or [dual_carriage]).</summary>
public interface IPairedCarriage : ICarriage
{
    /// <summary>The configured axis letter (null for a dual carriage that takes its primary's axis).</summary>
    string? AxisName { get; }

    /// <summary>The carriage this one pairs with, if any.</summary>
    ICarriage? GetDualCarriage();

    void SetDualCarriage(DualCarriage carriage);
}

/// <summary>A [carriage NAME] section: the primary carriage of one axis (upstream generic_cartesian.MainCarriage).</summary>
public sealed class MainCarriage : IPairedCarriage
{
    private static readonly string[] ValidAxes = ["x", "y", "z"];

    private readonly GenericPrinterRail _rail;
    private DualCarriage? _dualCarriage;

    public MainCarriage(ConfigWrapper config)
    {
        _rail = new GenericPrinterRail(config);
        string carriageName = _rail.GetName(shortName: true);
        AxisName = ValidAxes.Contains(carriageName)
            ? config.GetChoice("axis", ValidAxes, carriageName)
            : config.GetChoice("axis", ValidAxes);
        Axis = AxisName[0] - 'x';
    }

    public string AxisName { get; }

    public int Axis { get; }

    public string GetName() => _rail.GetName(shortName: true);

    public int GetAxis() => Axis;

    public GenericPrinterRail GetRail() => _rail;

    public void AddStepper(KinematicStepper kinStepper) => _rail.AddStepper(kinStepper.GetStepper());

    public bool IsActive() =>
        _dualCarriage is null || _dualCarriage.GetDcModule().IsActive(_rail);

    public void SetDualCarriage(DualCarriage carriage) => _dualCarriage = carriage;

    public ICarriage? GetDualCarriage() => _dualCarriage;
}

/// <summary>An [extra_carriage NAME] section: another endstop on a primary carriage's rail (upstream ExtraCarriage).</summary>
public sealed class ExtraCarriage : ICarriage
{
    private readonly string _name;
    private readonly ICarriage _primaryCarriage;
    private readonly string _endstopPin;

    public ExtraCarriage(ConfigWrapper config, IReadOnlyDictionary<string, ICarriage> carriages)
    {
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _primaryCarriage = config.GetChoice("primary_carriage", carriages);
        _endstopPin = config.Get("endstop_pin");
    }

    public string GetName() => _name;

    public int GetAxis() => _primaryCarriage.GetAxis();

    public GenericPrinterRail GetRail() => _primaryCarriage.GetRail();

    public void AddStepper(KinematicStepper kinStepper) =>
        GetRail().AddStepper(kinStepper.GetStepper(), _endstopPin, _name);
}

/// <summary>A [dual_carriage NAME] section (upstream generic_cartesian.DualCarriage).</summary>
public sealed class DualCarriage : IPairedCarriage
{
    private static readonly string[] ValidAxes = ["x", "y", "z"];

    private readonly Printer _printer;
    private readonly GenericPrinterRail _rail;
    private readonly string? _primaryCarriageName;
    private readonly string? _axisName;
    private readonly double? _safeDist;
    private readonly Func<string, Exception> _configError;
    private IPairedCarriage? _primaryCarriage;
    private DualCarriage? _dualCarriage;
    private int _axis;

    public DualCarriage(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _rail = new GenericPrinterRail(config);
        _primaryCarriageName = config.GetOrNull("primary_carriage");
        if (_primaryCarriageName is null)
        {
            _axisName = config.GetChoice("axis", ValidAxes);
            _axis = _axisName[0] - 'x';
            _safeDist = null;
        }
        else
        {
            _axisName = config.GetOrNull("axis");
            if (_axisName is not null && !ValidAxes.Contains(_axisName))
                throw config.Error($"Choice '{_axisName}' for option 'axis' in section '{config.Name}' is not a valid choice");
            _safeDist = config.GetFloatOrNull("safe_distance", minval: 0.0);
        }
        _configError = msg => config.Error(msg);
    }

    /// <summary>Links this dual carriage to its primary carriage, once all carriages are known.</summary>
    public void ResolvePrimaryCarriage(IReadOnlyDictionary<string, ICarriage> carriages)
    {
        if (_primaryCarriageName is null)
            return;
        if (!carriages.TryGetValue(_primaryCarriageName, out var pc))
            throw _configError($"primary_carriage = '{_primaryCarriageName}' for '{GetName()}' is not a valid choice");
        var primary = pc as IPairedCarriage
            ?? throw new InvalidOperationException($"'{pc.GetType().Name}' object has no attribute 'axis_name'");
        _primaryCarriage = primary;
        string? axisName = string.IsNullOrEmpty(_axisName) ? primary.AxisName : _axisName;
        if (axisName != primary.AxisName)
            throw _configError($"Mismatching axes between carriage '{primary.GetName()}' (axis={primary.AxisName}) and dual_carriage '{GetName()}' (axis={axisName})");
        _axis = axisName is null ? 0 : axisName[0] - 'x';
        if (primary.GetDualCarriage() is { } existing)
            throw _configError($"Multiple dual carriages ('{existing.GetName()}', '{GetName()}') for carriage '{primary.GetName()}'");
        primary.SetDualCarriage(this);
        _axis = primary.GetAxis();
        if (_axis > 1)
            throw _configError($"Invalid axis '{"xyz"[_axis]}' for dual_carriage '{GetName()}'");
    }

    public string GetName() => _rail.GetName(shortName: true);

    public int GetAxis() => _axis;

    public GenericPrinterRail GetRail() => _rail;

    public double? GetSafeDist() => _safeDist;

    public DualCarriages GetDcModule() => _printer.LookupObject<DualCarriages>("dual_carriage");

    public bool IsActive() => GetDcModule().IsActive(_rail);

    public void SetDualCarriage(DualCarriage carriage) => _dualCarriage = carriage;

    /// <summary>The carriage this one pairs with: an explicitly set one, else the primary carriage.</summary>
    public ICarriage? GetDualCarriage() => (ICarriage?)_dualCarriage ?? _primaryCarriage;

    public IPairedCarriage? GetPrimaryCarriage() => _primaryCarriage;

    public string? AxisName => _axisName;

    public void AddStepper(KinematicStepper kinStepper) => _rail.AddStepper(kinStepper.GetStepper());
}

/// <summary>
/// Generic cartesian kinematics (upstream kinematics/generic_cartesian.py): carriages
/// per axis ([carriage], [dual_carriage], [extra_carriage]) and steppers whose
/// positions are linear combinations of carriage positions ([stepper NAME] with
/// <c>carriages</c>), covering cartesian, corexy, corexz, markforged and IDEX layouts.
/// </summary>
public sealed class GenericCartesianKinematics : IDualCarriageKinematics
{
    public const string CmdSetStepperCarriagesHelp = "Set stepper carriages";

    private readonly Printer _printer;
    private Dictionary<string, ICarriage> _carriages = new();
    private List<MainCarriage> _primaryCarriages = new();
    private List<DualCarriage> _dcCarriages = new();
    private Dictionary<string, ICarriage> _allCarriages = new();
    private List<KinematicStepper> _kinSteppers = new();
    private readonly DualCarriages? _dcModule;
    private readonly double _maxZVelocity, _maxZAccel;
    private readonly (double Min, double Max)[] _limits;

    public GenericCartesianKinematics(ToolHead toolhead, ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        LoadKinematics(config);
        foreach (var s in GetSteppers())
            s.SetTrapq(toolhead.GetTrapq());
        if (_dcCarriages.Count > 0)
        {
            var dcAxes = _dcCarriages.Select(dc => dc.GetAxis()).ToHashSet();
            var pcs = new List<ICarriage>();
            pcs.AddRange(_primaryCarriages.Where(pc => dcAxes.Contains(pc.GetAxis())));
            pcs.AddRange(_dcCarriages.Where(dc => dc.GetPrimaryCarriage() is null));
            var dcs = pcs.Select(DualOf).ToList();
            var primaryRails = pcs.Select(pc => pc.GetRail()).ToList();
            var dualRails = dcs.Select(dc => dc?.GetRail()).ToList();
            var axes = pcs.Select(pc => pc.GetAxis()).ToList();
            var safeDist = dcs.Select(dc => dc is DualCarriage d ? d.GetSafeDist() : null).ToList();
            var dcModule = _dcModule = new DualCarriages(_printer, primaryRails, dualRails, axes, safeDist);
            double[] zeroPos = [0.0, 0.0];
            // Every combination of one carriage per (primary, dual) pair must be solvable.
            foreach (var acs in CartesianProduct(pcs.Zip(dcs, (p, d) => new[] { p, d }).ToList()))
            {
                foreach (var c in acs)
                {
                    if (c is null)
                        continue;
                    dcModule.GetDcRailWrapper(c.GetRail())!.Activate(DualCarriages.Primary, zeroPos);
                    if (DualOf(c) is { } dc)
                        dcModule.GetDcRailWrapper(dc.GetRail())!.Inactivate(zeroPos);
                }
                CheckKinematics(msg => config.Error(msg));
            }
            foreach (var dc in _dcCarriages)
                dcModule.GetDcRailWrapper(dc.GetRail())!.Inactivate(zeroPos);
            foreach (var pc in _primaryCarriages)
            {
                if (!dcAxes.Contains(pc.GetAxis()))
                    continue;
                dcModule.GetDcRailWrapper(pc.GetRail())!.Activate(DualCarriages.Primary, zeroPos);
            }
        }
        else
        {
            CheckKinematics(msg => config.Error(msg));
        }
        var (maxVelocity, maxAccel) = toolhead.GetMaxVelocity();
        _maxZVelocity = config.GetFloat("max_z_velocity", maxVelocity, above: 0.0, maxval: maxVelocity);
        _maxZAccel = config.GetFloat("max_z_accel", maxAccel, above: 0.0, maxval: maxAccel);
        _limits = [(1.0, -1.0), (1.0, -1.0), (1.0, -1.0)];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("SET_STEPPER_CARRIAGES", CmdSetStepperCarriages, desc: CmdSetStepperCarriagesHelp);
    }

    // The carriage paired with c (upstream c.get_dual_carriage()); extra carriages have none.
    private static ICarriage? DualOf(ICarriage c) =>
        c is IPairedCarriage pc ? pc.GetDualCarriage() : throw new InvalidOperationException($"'{c.GetType().Name}' object has no attribute 'get_dual_carriage'");

    private static IEnumerable<ICarriage?[]> CartesianProduct(List<ICarriage?[]> choices)
    {
        IEnumerable<ICarriage?[]> result = [[]];
        foreach (var options in choices)
        {
            var current = result;
            result = current.SelectMany(prefix => options.Select(o => (ICarriage?[])[.. prefix, o])).ToList();
        }
        return result;
    }

    private void LoadKinematics(ConfigWrapper config)
    {
        var primaryCarriages = new List<MainCarriage>();
        foreach (var mcconfig in config.GetPrefixSections("carriage "))
            primaryCarriages.Add(new MainCarriage(mcconfig));
        string[] validAxes = ["x", "y", "z"];
        for (int axis = 0; axis < 3; axis++)
        {
            var dups = primaryCarriages.Where(pc => pc.GetAxis() == axis).Select(pc => pc.GetName()).ToList();
            if (dups.Count > 1)
                throw config.Error($"Axis '{validAxes[axis]}' is set for multiple primary carriages ({string.Join(", ", dups)})");
            if (dups.Count == 0)
                throw config.Error($"No carriage defined for axis '{validAxes[axis]}'");
        }
        var dcCarriages = new List<DualCarriage>();
        foreach (var dcconfig in config.GetPrefixSections("dual_carriage "))
            dcCarriages.Add(new DualCarriage(dcconfig));
        var carriages = new Dictionary<string, ICarriage>();
        foreach (var carriage in primaryCarriages.Cast<ICarriage>().Concat(dcCarriages))
        {
            string name = carriage.GetName();
            if (carriages.ContainsKey(name))
                throw config.Error($"Redefinition of carriage {name}");
            carriages[name] = carriage;
        }
        foreach (var dc in dcCarriages)
            dc.ResolvePrimaryCarriage(carriages);
        _carriages = new Dictionary<string, ICarriage>(carriages);
        _primaryCarriages = primaryCarriages;
        _dcCarriages = dcCarriages;
        var ecCarriages = new List<ExtraCarriage>();
        foreach (var ecconfig in config.GetPrefixSections("extra_carriage "))
            ecCarriages.Add(new ExtraCarriage(ecconfig, carriages));
        foreach (var ec in ecCarriages)
        {
            string name = ec.GetName();
            if (carriages.ContainsKey(name))
                throw config.Error($"Redefinition of carriage {name}");
            carriages[name] = ec;
        }
        _kinSteppers = config.GetPrefixSections("stepper ").Select(c => new KinematicStepper(c, carriages)).ToList();
        _allCarriages = carriages;
        CheckCarriagesReferences(msg => config.Error(msg));
        CheckMultiMcuHoming(msg => config.Error(msg));
    }

    private void CheckCarriagesReferences(Func<string, Exception> reportError)
    {
        var unreferenced = _allCarriages.Keys.ToList();
        foreach (var s in _kinSteppers)
            foreach (var c in s.GetCarriages())
                unreferenced.Remove(c.GetName());
        if (unreferenced.Count > 0)
            throw reportError($"Carriage(s) {string.Join(", ", unreferenced)} must be referenced by some stepper(s)");
    }

    private void CheckMultiMcuHoming(Func<string, Exception> reportError)
    {
        foreach (var carriage in _carriages.Values)
        {
            var railSteppers = carriage.GetRail().GetSteppers();
            foreach (var es in carriage.GetRail().GetEndstops())
            {
                var stepperMcus = es.Endstop.GetSteppers().Where(s => railSteppers.Contains(s)).Select(s => s.Mcu).Distinct().Count();
                if (stepperMcus > 1)
                    throw reportError($"Multi-mcu homing not supported on multi-mcu shared carriage {es.Name}");
            }
        }
    }

    public List<McuStepper> GetSteppers() => _kinSteppers.Select(s => s.GetStepper()).ToList();

    // Per-stepper coefficient rows and offsets, including the IDEX transforms.
    private (double[][] Matr, double[] Offs) GetKinematicsCoeffs()
    {
        var matr = _kinSteppers.ToDictionary(s => s.GetName(), s => s.GetKinCoeffs());
        var offs = _kinSteppers.ToDictionary(s => s.GetName(), _ => new double[3]);
        if (_dcModule is null)
            return (_kinSteppers.Select(s => matr[s.GetName()]).ToArray(), new double[_kinSteppers.Count]);
        var origMatr = matr.ToDictionary(kv => kv.Key, kv => (double[])kv.Value.Clone());
        foreach (var c in _carriages.Values)
        {
            int axis = c.GetAxis();
            if (!_dcModule.GetAxes().Contains(axis))
                continue;
            var (m, o) = _dcModule.GetTransform(c.GetRail());
            foreach (var s in c.GetRail().GetSteppers())
            {
                matr[s.GetName()][axis] *= m;
                offs[s.GetName()][axis] += o;
            }
        }
        return (_kinSteppers.Select(s => matr[s.GetName()]).ToArray(),
            _kinSteppers.Select(s => MathUtil.MatrixDot(origMatr[s.GetName()], offs[s.GetName()])).ToArray());
    }

    private void CheckKinematics(Func<string, Exception> reportError)
    {
        var (matr, _) = GetKinematicsCoeffs();
        var mtm = MathUtil.MatMatMul(MathUtil.MatTransp(matr), matr)!;
        var rhs = new double[mtm.Length][];
        for (int i = 0; i < rhs.Length; i++)
            rhs[i] = [];
        if (MathUtil.GaussianSolve(mtm, rhs) is null)
            throw reportError("Verify configured stepper(s) and their 'carriages' specifications, the current configuration does not allow independent movements of all printer axes.");
    }

    /// <summary>Cartesian position from stepper positions; an axis no stepper determines is NaN (upstream None).</summary>
    public double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        var (matr, offs) = GetKinematicsCoeffs();
        var spos = _kinSteppers.Select(s => stepperPositions[s.GetName()]).ToArray();
        var pinv = MathUtil.PseudoInverse(matr)!;
        var row = new double[spos.Length];
        for (int i = 0; i < spos.Length; i++)
            row[i] = spos[i] - offs[i];
        var pos = MathUtil.MatMatMul([row], MathUtil.MatTransp(pinv))!;
        for (int i = 0; i < pinv.Length; i++)
            if (pinv[i].All(v => v == 0))
                pos[0][i] = double.NaN;
        return pos[0];
    }

    public void UpdateLimits(int i, (double Min, double Max) range)
    {
        var (l, h) = _limits[i];
        // Only an already homed axis takes new limits.
        if (l <= h)
            _limits[i] = range;
    }

    public void SetPosition(double[] newpos, string homingAxes)
    {
        foreach (var s in _kinSteppers)
            s.SetPosition(newpos);
        foreach (char axisName in homingAxes)
        {
            int axis = "xyz".IndexOf(axisName);
            foreach (var c in _carriages.Values)
            {
                if (c.GetAxis() == axis && IsCarriageActive(c))
                {
                    _limits[axis] = c.GetRail().GetRange();
                    break;
                }
            }
        }
    }

    private bool IsCarriageActive(ICarriage c) => c switch
    {
        MainCarriage mc => mc.IsActive(),
        DualCarriage dc => dc.IsActive(),
        _ => throw new InvalidOperationException($"'{c.GetType().Name}' object has no attribute 'is_active'"),
    };

    public void ClearHomingState(string clearAxes)
    {
        for (int axis = 0; axis < 3; axis++)
            if (clearAxes.Contains("xyz"[axis]))
                _limits[axis] = (1.0, -1.0);
    }

    public void HomeAxis(Homing homingState, int axis, GenericPrinterRail rail)
    {
        var (positionMin, positionMax) = rail.GetRange();
        var hi = rail.GetHomingInfo();
        var homepos = new double?[4];
        homepos[axis] = hi.PositionEndstop;
        var forcepos = (double?[])homepos.Clone();
        if (hi.PositiveDir)
            forcepos[axis] -= 1.5 * (hi.PositionEndstop - positionMin);
        else
            forcepos[axis] += 1.5 * (positionMax - hi.PositionEndstop);
        homingState.HomeRails([rail], forcepos, homepos);
    }

    public void Home(Homing homingState)
    {
        CheckKinematics(msg => new CommandError(msg));
        var primaryCarriages = new Dictionary<int, MainCarriage>();
        foreach (var c in _primaryCarriages)
            primaryCarriages[c.GetAxis()] = c;
        // Each axis homes on its own, in order.
        foreach (int axis in homingState.GetAxes())
        {
            if (_dcModule is not null && _dcModule.GetAxes().Contains(axis))
                _dcModule.Home(homingState, axis);
            else
                HomeAxis(homingState, axis, primaryCarriages[axis].GetRail());
        }
    }

    private void CheckEndstops(Move move)
    {
        var endPos = move.EndPos;
        for (int i = 0; i < 3; i++)
        {
            if (move.AxesD[i] != 0 && (endPos[i] < _limits[i].Min || endPos[i] > _limits[i].Max))
            {
                if (_limits[i].Min > _limits[i].Max)
                    throw move.MoveError("Must home axis first");
                throw move.MoveError();
            }
        }
    }

    public void CheckMove(Move move)
    {
        double xpos = move.EndPos[0], ypos = move.EndPos[1];
        if (xpos < _limits[0].Min || xpos > _limits[0].Max || ypos < _limits[1].Min || ypos > _limits[1].Max)
            CheckEndstops(move);
        if (move.AxesD[2] == 0)
            return; // Normal XY move
        // Z moves are limited by the slower Z axis
        CheckEndstops(move);
        double zRatio = move.MoveD / Math.Abs(move.AxesD[2]);
        move.LimitSpeed(_maxZVelocity * zRatio, _maxZAccel * zRatio);
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        string axes = "";
        for (int i = 0; i < 3; i++)
            if (_limits[i].Min <= _limits[i].Max)
                axes += "xyz"[i];
        var mins = new double[3];
        var maxs = new double[3];
        for (int axis = 0; axis < 3; axis++)
        {
            var onAxis = _carriages.Values.Where(c => c.GetAxis() == axis).Select(c => c.GetRail().GetRange()).ToList();
            mins[axis] = onAxis.Min(r => r.Min);
            maxs[axis] = onAxis.Max(r => r.Max);
        }
        return new()
        {
            ["homed_axes"] = axes,
            ["axis_minimum"] = new Coord(mins),
            ["axis_maximum"] = new Coord(maxs),
        };
    }

    public void CmdSetStepperCarriages(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        string stepperName = gcmd.Get("STEPPER");
        var steppers = _kinSteppers.Where(s => s.GetName() == stepperName || s.GetName(shortName: true) == stepperName).ToList();
        if (steppers.Count != 1)
            throw gcmd.Error($"Invalid STEPPER '{stepperName}' specified");
        var stepper = steppers[0];
        string carriagesStr = gcmd.Get("CARRIAGES").ToLowerInvariant();
        bool validate = gcmd.GetInt("DISABLE_CHECKS", 0) == 0;
        var oldCarriages = stepper.GetCarriages();
        var oldKinCoeffs = stepper.GetKinCoeffs();
        stepper.UpdateCarriages(carriagesStr, _allCarriages, msg => gcmd.Error(msg));
        var newCarriages = stepper.GetCarriages();
        if (!newCarriages.SequenceEqual(oldCarriages))
        {
            stepper.UpdateKinCoeffs(oldKinCoeffs);
            throw gcmd.Error("SET_STEPPER_CARRIAGES cannot add or remove carriages that the stepper controls");
        }
        var pos = toolhead.GetPosition();
        stepper.SetPosition(pos);
        if (!validate)
            return;
        if (_dcModule is not null)
        {
            var dcState = _dcModule.SaveDualCarriageState();
            var pcs = _dcCarriages.Select(dc => dc.GetDualCarriage()).ToList();
            var choices = pcs.Zip(_dcCarriages, (p, d) => new ICarriage?[] { p, d }).ToList();
            foreach (var acs in CartesianProduct(choices))
            {
                foreach (var c in acs)
                {
                    _dcModule.GetDcRailWrapper(c!.GetRail())!.Activate(DualCarriages.Primary, pos);
                    _dcModule.GetDcRailWrapper(DualOf(c)!.GetRail())!.Inactivate(pos);
                }
                CheckKinematics(msg => gcmd.Error(msg));
            }
            _dcModule.RestoreDualCarriageState(dcState, move: false);
        }
        else
        {
            CheckKinematics(msg => gcmd.Error(msg));
        }
    }
}
