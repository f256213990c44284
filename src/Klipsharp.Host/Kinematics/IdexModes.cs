using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>Kinematics that host dual carriages (cartesian, hybrid corexy/corexz, generic cartesian).</summary>
public interface IDualCarriageKinematics : IKinematics
{
    /// <summary>Sets the limits of axis <paramref name="i"/> if it is homed.</summary>
    void UpdateLimits(int i, (double Min, double Max) range);

    void HomeAxis(Homing homingState, int axis, GenericPrinterRail rail);
}

/// <summary>Duplication and mirroring modes for IDEX printers (upstream kinematics/idex_modes.py DualCarriages, object "dual_carriage").</summary>
public sealed class DualCarriages : IStatusProvider
{
    public const string Inactive = "INACTIVE";
    public const string Primary = "PRIMARY";
    public const string Copy = "COPY";
    public const string Mirror = "MIRROR";
    public static readonly string[] ValidModes = [Inactive, Primary, Copy, Mirror];

    public const string CmdSetDualCarriageHelp = "Configure the dual carriages mode";
    public const string CmdSaveDualCarriageStateHelp = "Save dual carriages modes and positions";
    public const string CmdRestoreDualCarriageStateHelp = "Restore dual carriages modes and positions";

    private readonly Printer _printer;
    private readonly List<DualCarriagesRail> _primaryRails = new();
    private readonly List<DualCarriagesRail?> _dualRails = new();
    // Ordered by insertion, keyed by short rail name
    private readonly List<(string Name, DualCarriagesRail Rail)> _dcRails = new();
    private readonly Dictionary<string, SavedState> _savedStates = new();
    private readonly List<int> _axes;

    /// <summary>Saved carriage modes and positions (upstream save_dual_carriage_state dict).</summary>
    public sealed record SavedState(Dictionary<string, string> CarriageModes,
                                    Dictionary<string, double> CarriagePositions, double[] ToolheadPosition);

    public DualCarriages(Printer printer, IReadOnlyList<GenericPrinterRail> primaryRails,
                         IReadOnlyList<GenericPrinterRail?> dualRails, IReadOnlyList<int> axes,
                         IReadOnlyList<double?> safeDist)
    {
        _printer = printer;
        InitSteppers(primaryRails.Concat(dualRails));
        var sd = safeDist.ToList();
        for (int i = 0; i < dualRails.Count; i++)
        {
            var dc = dualRails[i];
            if (dc is null || sd[i] is not null)
                continue;
            var pc = primaryRails[i];
            sd[i] = Move.PyMin(Math.Abs(pc.PositionMin - dc.PositionMin), Math.Abs(pc.PositionMax - dc.PositionMax));
        }
        var activated = new bool[3];
        for (int i = 0; i < primaryRails.Count; i++)
        {
            bool activate = !activated[axes[i]];
            activated[axes[i]] = true;
            _primaryRails.Add(new DualCarriagesRail(printer, primaryRails[i], dualRails[i], axes[i], sd[i], activate));
        }
        for (int i = 0; i < dualRails.Count; i++)
        {
            var c = dualRails[i];
            _dualRails.Add(c is null ? null : new DualCarriagesRail(printer, c, primaryRails[i], axes[i], sd[i], false));
        }
        foreach (var c in _primaryRails.Concat(_dualRails))
        {
            if (c is null)
                continue;
            string name = c.Rail.GetName(shortName: true);
            int idx = _dcRails.FindIndex(e => e.Name == name);
            if (idx >= 0)
                _dcRails[idx] = (name, c);
            else
                _dcRails.Add((name, c));
        }
        _axes = axes.Distinct().OrderBy(a => a).ToList();
        printer.AddObject("dual_carriage", this);
        printer.RegisterEventHandler("klippy:ready", HandleReady);
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("SET_DUAL_CARRIAGE", CmdSetDualCarriage, desc: CmdSetDualCarriageHelp);
        gcode.RegisterCommand("SAVE_DUAL_CARRIAGE_STATE", CmdSaveDualCarriageState, desc: CmdSaveDualCarriageStateHelp);
        gcode.RegisterCommand("RESTORE_DUAL_CARRIAGE_STATE", CmdRestoreDualCarriageState, desc: CmdRestoreDualCarriageStateHelp);
    }

    private IEnumerable<DualCarriagesRail> DcRails => _dcRails.Select(e => e.Rail);

    private void InitSteppers(IEnumerable<GenericPrinterRail?> rails)
    {
        // A set of steppers, in first-seen order
        var steppers = new List<McuStepper>();
        foreach (var rail in rails)
        {
            if (rail is null)
                continue;
            var cSteppers = rail.GetSteppers();
            if (cSteppers.Count == 0)
                throw new ConfigError($"At least one stepper must be associated with carriage: {rail.GetName()}");
            foreach (var s in cSteppers)
                if (!steppers.Contains(s))
                    steppers.Add(s);
        }
        foreach (var s in steppers)
        {
            var sk = new DualCarriageKinematics();
            var origSk = s.GetStepperKinematics()!;
            sk.SetSk(origSk);
            s.SetStepperKinematics(sk);
        }
    }

    public List<int> GetAxes() => _axes;

    public GenericPrinterRail? GetPrimaryRail(int axis)
    {
        foreach (var dcRail in DcRails)
            if (dcRail.Mode == Primary && dcRail.Axis == axis)
                return dcRail.Rail;
        return null;
    }

    public DualCarriagesRail? GetDcRailWrapper(GenericPrinterRail rail)
    {
        foreach (var dcRail in DcRails)
            if (dcRail.Rail == rail)
                return dcRail;
        return null;
    }

    public (double Scale, double Offset) GetTransform(GenericPrinterRail rail)
    {
        var dcRail = GetDcRailWrapper(rail);
        if (dcRail is not null)
            return (dcRail.Scale, dcRail.Offset);
        return (0.0, 0.0);
    }

    public bool IsActive(GenericPrinterRail rail) => GetDcRailWrapper(rail)?.IsActive() ?? false;

    private IDualCarriageKinematics Kin(ToolHead toolhead) => (IDualCarriageKinematics)toolhead.GetKinematics();

    public void ToggleActiveDcRail(DualCarriagesRail targetDc)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        var pos = toolhead.GetPosition();
        var kin = Kin(toolhead);
        int axis = targetDc.Axis;
        foreach (var dc in DcRails)
            if (dc != targetDc && dc.Axis == axis && dc.IsActive())
                dc.Inactivate(pos);
        if (targetDc.Mode != Primary)
        {
            var newpos = pos.ToArray();
            newpos[axis] = targetDc.GetAxisPosition(pos);
            targetDc.Activate(Primary, newpos, oldPosition: pos);
            toolhead.SetPosition(newpos);
        }
        kin.UpdateLimits(axis, targetDc.Rail.GetRange());
    }

    public void Home(Homing homingState, int axis)
    {
        var kin = Kin(_printer.LookupObject<ToolHead>("toolhead"));
        var homingRails = _primaryRails.Where(r => r.Axis == axis).ToList();
        foreach (var dcRail in homingRails)
        {
            var dcs = DcRails.Where(dc => dcRail.Rail == dc.Rail || dcRail.Rail == dc.DualRail).ToList();
            if (dcs.Count > 1 && (GetDcOrder(dcs[0], dcs[1]) > 0) != dcs[0].Rail.GetHomingInfo().PositiveDir)
            {
                // Both carriages home the same way and the first homes against the
                // second, so the second must home first
                dcs.Reverse();
            }
            foreach (var dc in dcs)
            {
                ToggleActiveDcRail(dc);
                kin.HomeAxis(homingState, dc.Axis, dc.Rail);
            }
        }
        // The first rail becomes primary again
        ActivateDcMode(homingRails[0], Primary);
    }

    public Dictionary<string, object?> GetStatus(double eventtime = 0.0)
    {
        var carriages = new Dictionary<string, object?>();
        foreach (var dc in DcRails)
            carriages[dc.GetName()] = dc.Mode;
        var status = new Dictionary<string, object?> { ["carriages"] = carriages };
        if (_dcRails.Count == 2)
        {
            int i = 0;
            foreach (var dc in DcRails)
                status[$"carriage_{i++}"] = dc.Mode;
        }
        return status;
    }

    public (double Min, double Max) GetKinRange(ToolHead toolhead, int axis)
    {
        var pos = toolhead.GetPosition();
        double axisPos = pos[axis];
        double rangeMin = -1e10, rangeMax = 1e10;
        foreach (var carriage in DcRails)
        {
            if (carriage.Axis != axis)
                continue;
            var dcs = new List<DualCarriagesRail> { carriage };
            dcs.AddRange(DcRails.Where(dc => carriage.Rail == dc.DualRail));
            var axesPos = dcs.Select(dc => dc.GetAxisPosition(pos)).ToList();
            // How dcs[0] limits the motion range
            if (!dcs[0].IsActive())
                continue;
            if (dcs[0].Mode == Primary)
            {
                rangeMin = Math.Max(rangeMin, dcs[0].Rail.PositionMin);
                rangeMax = Move.PyMin(rangeMax, dcs[0].Rail.PositionMax);
            }
            else if (dcs[0].Mode == Copy)
            {
                rangeMin = Math.Max(rangeMin, axisPos + dcs[0].Rail.PositionMin - axesPos[0]);
                rangeMax = Move.PyMin(rangeMax, axisPos + dcs[0].Rail.PositionMax - axesPos[0]);
            }
            else if (dcs[0].Mode == Mirror)
            {
                rangeMin = Math.Max(rangeMin, axisPos + axesPos[0] - dcs[0].Rail.PositionMax);
                rangeMax = Move.PyMin(rangeMax, axisPos + axesPos[0] - dcs[0].Rail.PositionMin);
            }
            double? safeDist = dcs[0].SafeDist;
            if (safeDist is null || safeDist == 0.0 || dcs.Count == 1)
                continue;
            var modes = new HashSet<string> { dcs[0].Mode, dcs[1].Mode };
            if (dcs[0].Mode == dcs[1].Mode || modes.SetEquals([Primary, Copy]))
                continue; // they move the same way and cannot collide
            // How far dcs[0] can move toward dcs[1]
            double dcsDist = axesPos[1] - axesPos[0];
            double safeMoveDist = GetDcOrder(dcs[0], dcs[1]) > 0 ? dcsDist + safeDist.Value : dcsDist - safeDist.Value;
            if (dcs[1].IsActive())
                safeMoveDist *= 0.5;
            if (dcs[0].Mode is Primary or Copy)
            {
                if (GetDcOrder(dcs[0], dcs[1]) > 0)
                    rangeMin = Math.Max(rangeMin, axisPos + safeMoveDist);
                else
                    rangeMax = Move.PyMin(rangeMax, axisPos + safeMoveDist);
            }
            else
            {
                if (GetDcOrder(dcs[0], dcs[1]) > 0)
                    rangeMax = Move.PyMin(rangeMax, axisPos - safeMoveDist);
                else
                    rangeMin = Math.Max(rangeMin, axisPos - safeMoveDist);
            }
        }
        if (rangeMin > rangeMax)
        {
            // Possible after multi-MCU homing: an empty range blocks motion until
            // another mode is selected
            return (rangeMin, rangeMin);
        }
        return (rangeMin, rangeMax);
    }

    public int GetDcOrder(DualCarriagesRail firstDc, DualCarriagesRail secondDc)
    {
        if (firstDc == secondDc)
            return 0;
        // -1 when the first carriage is always below the second one, else 1
        var firstRail = firstDc.Rail;
        var secondRail = secondDc.Rail;
        var firstHi = firstRail.GetHomingInfo();
        var secondHi = secondRail.GetHomingInfo();
        if (firstHi.PositiveDir != secondHi.PositiveDir)
            return firstHi.PositiveDir ? 1 : -1;
        if (firstRail.PositionEndstop > secondRail.PositionEndstop)
            return 1;
        return -1;
    }

    public void ActivateDcMode(DualCarriagesRail dc, string mode)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        var kin = Kin(toolhead);
        int axis = dc.Axis;
        if (mode == Inactive)
            dc.Inactivate(toolhead.GetPosition());
        else if (mode == Primary)
            ToggleActiveDcRail(dc);
        else
            dc.Activate(mode, toolhead.GetPosition());
        kin.UpdateLimits(axis, GetKinRange(toolhead, axis));
    }

    private void HandleReady()
    {
        foreach (var dcRail in DcRails)
            dcRail.ApplyTransform();
    }

    private void CmdSetDualCarriage(GCodeCommand gcmd)
    {
        string? carriageStr = gcmd.GetOrNull("CARRIAGE");
        if (carriageStr is null)
            throw gcmd.Error("CARRIAGE must be specified");
        DualCarriagesRail? dcRail = null;
        int found = _dcRails.FindIndex(e => e.Name == carriageStr);
        if (found >= 0)
        {
            dcRail = _dcRails[found].Rail;
        }
        else
        {
            if (_dcRails.Count == 2 && PyFormat.TryParseInt(PyFormat.Strip(carriageStr), out long index))
            {
                if (index < 0 || index > 1)
                    throw gcmd.Error($"Invalid CARRIAGE={index} index");
                dcRail = index != 0 ? _dualRails[0] : _primaryRails[0];
            }
            if (dcRail is null)
                throw gcmd.Error($"Invalid CARRIAGE={carriageStr} specified");
        }
        string mode = gcmd.Get("MODE", Primary).ToUpperInvariant();
        if (!ValidModes.Contains(mode))
            throw gcmd.Error($"Invalid mode={mode} specified");
        if (mode is Copy or Mirror)
        {
            var primary = GetPrimaryRail(dcRail.Axis);
            if (primary is null || primary == dcRail.Rail)
                throw gcmd.Error("Must activate another carriage as PRIMARY first");
            double curtime = _printer.Reactor.Monotonic();
            var kin = _printer.LookupObject<ToolHead>("toolhead").GetKinematics();
            string axis = "xyz"[dcRail.Axis].ToString();
            if (!((string)kin.GetStatus(curtime)["homed_axes"]!).Contains(axis))
                throw gcmd.Error($"Axis {axis.ToUpperInvariant()} must be homed prior to enabling mode={mode}");
        }
        if (mode == Inactive)
        {
            var activeDcs = DcRails.Where(dc => dc.IsActive() && dc.Axis == dcRail.Axis).ToList();
            if (activeDcs.Count == 1 && activeDcs[0] == dcRail)
                throw gcmd.Error($"Cannot deactivate the only active carriage for axis {"XYZ"[dcRail.Axis]}");
        }
        ActivateDcMode(dcRail, mode);
    }

    private void CmdSaveDualCarriageState(GCodeCommand gcmd)
    {
        string stateName = gcmd.Get("NAME", "default");
        _savedStates[stateName] = SaveDualCarriageState();
    }

    public SavedState SaveDualCarriageState()
    {
        var pos = _printer.LookupObject<ToolHead>("toolhead").GetPosition();
        var modes = new Dictionary<string, string>();
        var positions = new Dictionary<string, double>();
        foreach (var dc in DcRails)
        {
            modes[dc.GetName()] = dc.Mode;
            positions[dc.GetName()] = dc.GetAxisPosition(pos);
        }
        return new SavedState(modes, positions, pos.ToArray());
    }

    private void CmdRestoreDualCarriageState(GCodeCommand gcmd)
    {
        string stateName = gcmd.Get("NAME", "default");
        if (!_savedStates.TryGetValue(stateName, out var savedState))
            throw gcmd.Error($"Unknown DUAL_CARRIAGE state: {stateName}");
        double moveSpeed = gcmd.GetFloat("MOVE_SPEED", 0.0, above: 0.0);
        int move = gcmd.GetInt("MOVE", 1);
        RestoreDualCarriageState(savedState, move != 0, moveSpeed);
    }

    public void RestoreDualCarriageState(SavedState savedState, bool move, double moveSpeed = 0.0)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        var movePos = toolhead.GetPosition();
        var dcs = DcRails.ToList();
        if (move)
        {
            double homingSpeed = 99999999.0;
            var curPos = new List<double[]>();
            var carriagePositions = savedState.CarriagePositions;
            foreach (var dc in dcs)
            {
                ToggleActiveDcRail(dc);
                homingSpeed = Move.PyMin(homingSpeed, dc.Rail.HomingSpeed);
                curPos.Add(toolhead.GetPosition());
            }
            var dl = dcs.Select((dc, i) => carriagePositions[dc.GetName()] - curPos[i][dc.Axis]).ToList();
            foreach (int axis in _axes)
            {
                var dcInd = Enumerable.Range(0, dcs.Count).Where(i => dcs[i].Axis == axis).ToList();
                var absDl = dcInd.Select(i => Math.Abs(dl[i])).ToList();
                double maxAbs = absDl[0];
                foreach (var a in absDl)
                    if (a > maxAbs)
                        maxAbs = a;
                int primaryInd = dcInd[absDl.IndexOf(maxAbs)];
                var primaryDc = dcs[primaryInd];
                ToggleActiveDcRail(primaryDc);
                movePos[axis] = carriagePositions[primaryDc.GetName()];
                foreach (int secondaryInd in dcInd)
                {
                    if (secondaryInd == primaryInd)
                        continue;
                    if (Move.PyMin(Math.Abs(dl[primaryInd]), Math.Abs(dl[secondaryInd])) < .000000001)
                        continue;
                    string dcMode = dl[primaryInd] * dl[secondaryInd] > 0 ? Copy : Mirror;
                    dcs[secondaryInd].Activate(dcMode, curPos[primaryInd]);
                    dcs[secondaryInd].OverrideAxisScaling(Math.Abs(dl[secondaryInd] / dl[primaryInd]), curPos[primaryInd]);
                }
            }
            toolhead.ManualMove(movePos.Select(v => (double?)v).ToArray(), moveSpeed != 0.0 ? moveSpeed : homingSpeed);
            toolhead.FlushStepGeneration();
        }
        // Inactivate all carriages to restore scaling and compute limits correctly
        foreach (var dc in dcs)
            dc.Inactivate(movePos);
        // Restore the toolhead position of axes that may have no primary carriage
        foreach (int axis in _axes)
            movePos[axis] = savedState.ToolheadPosition[axis];
        toolhead.SetPosition(movePos);
        var savedModes = savedState.CarriageModes;
        var savedPrimaryDcs = DcRails.Where(dc => savedModes[dc.GetName()] == Primary).ToList();
        foreach (var dc in savedPrimaryDcs)
            ActivateDcMode(dc, Primary);
        foreach (var dc in DcRails.ToList())
            if (!savedPrimaryDcs.Contains(dc))
                ActivateDcMode(dc, savedModes[dc.GetName()]);
    }
}

/// <summary>One carriage of a dual-carriage axis and its position transform (upstream DualCarriagesRail).</summary>
public sealed class DualCarriagesRail
{
    private static readonly char[] EncAxes = ['x', 'y'];
    private readonly Printer _printer;
    private readonly List<StepperKinematics?> _sks;

    public DualCarriagesRail(Printer printer, GenericPrinterRail rail, GenericPrinterRail? dualRail, int axis,
                             double? safeDist, bool active)
    {
        _printer = printer;
        Rail = rail;
        DualRail = dualRail;
        _sks = rail.GetSteppers().Select(s => s.GetStepperKinematics()).ToList();
        Axis = axis;
        SafeDist = safeDist;
        Mode = active ? DualCarriages.Primary : DualCarriages.Inactive;
        Offset = 0.0;
        Scale = active ? 1.0 : 0.0;
    }

    public GenericPrinterRail Rail { get; }
    public GenericPrinterRail? DualRail { get; }
    public int Axis { get; }
    public double? SafeDist { get; }
    public string Mode { get; private set; }
    public double Offset { get; private set; }
    public double Scale { get; private set; }

    public string GetName() => Rail.GetName();

    public bool IsActive() => Mode != DualCarriages.Inactive;

    public double GetAxisPosition(IReadOnlyList<double> position) => position[Axis] * Scale + Offset;

    public void ApplyTransform()
    {
        foreach (var sk in _sks)
            if (sk is DualCarriageKinematics dck)
                dck.SetTransform(EncAxes[Axis], Scale, Offset);
        _printer.SendEvent("dual_carriage:update_kinematics");
    }

    public void Activate(string mode, IReadOnlyList<double> position, IReadOnlyList<double>? oldPosition = null)
    {
        double oldAxisPosition = GetAxisPosition(oldPosition ?? position);
        Scale = mode == DualCarriages.Mirror ? -1.0 : 1.0;
        Offset = oldAxisPosition - position[Axis] * Scale;
        ApplyTransform();
        Mode = mode;
    }

    public void Inactivate(IReadOnlyList<double> position)
    {
        Offset = GetAxisPosition(position);
        Scale = 0.0;
        ApplyTransform();
        Mode = DualCarriages.Inactive;
    }

    public void OverrideAxisScaling(double newScale, IReadOnlyList<double> position)
    {
        double oldAxisPosition = GetAxisPosition(position);
        Scale = Math.CopySign(newScale, Scale);
        Offset = oldAxisPosition - position[Axis] * Scale;
        ApplyTransform();
    }
}
