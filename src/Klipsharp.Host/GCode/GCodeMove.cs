using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;

namespace Klipsharp.Host.GCode;

/// <summary>Something that takes toolhead moves in place of the toolhead (bed_mesh, skew correction, ...).</summary>
public interface IMoveTransform
{
    double[] GetPosition();

    void Move(IReadOnlyList<double> newpos, double speed);
}

/// <summary>G0/G1 and the G-code coordinate state: offsets, absolute/relative modes, speed and extrude factors (upstream extras/gcode_move.py, object "gcode_move").</summary>
public sealed class GCodeMove : IStatusProvider
{
    public const string CmdSetGcodeOffsetHelp = "Set a virtual offset to g-code positions";
    public const string CmdSaveGcodeStateHelp = "Save G-Code coordinate state";
    public const string CmdRestoreGcodeStateHelp = "Restore a previously saved G-Code state";
    public const string CmdGetPositionHelp = "Return information on the current location of the toolhead";

    private readonly Printer _printer;
    private bool _isPrinterReady;
    private bool _absoluteCoord = true, _absoluteExtrude = true;
    private List<double> _basePosition = [0.0, 0.0, 0.0, 0.0];
    private List<double> _lastPosition = [0.0, 0.0, 0.0, 0.0];
    private List<double> _homingPosition = [0.0, 0.0, 0.0, 0.0];
    private Dictionary<string, int> _axisMap = new() { ["X"] = 0, ["Y"] = 1, ["Z"] = 2, ["E"] = 3 };
    private double _speed = 25.0;
    private double _speedFactor = 1.0 / 60.0;
    private double _extrudeFactor = 1.0;
    private readonly Dictionary<string, SavedState> _savedStates = new();
    private IMoveTransform? _moveTransform;
    private Action<IReadOnlyList<double>, double>? _moveWithTransform;
    private Func<double[]> _positionWithTransform = () => [0.0, 0.0, 0.0, 0.0];

    private sealed record SavedState(bool AbsoluteCoord, bool AbsoluteExtrude, List<double> BasePosition,
        List<double> LastPosition, List<double> HomingPosition, double Speed, double SpeedFactor, double ExtrudeFactor);

    public GCodeMove(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        // barrierFree: these only change G-code state and queue moves (step generation may go on)
        gcode.RegisterCommand("G1", CmdG1, false, barrierFree: true);
        gcode.RegisterCommand("G20", CmdG20, false);
        gcode.RegisterCommand("G21", CmdG21, false);
        gcode.RegisterCommand("M82", CmdM82, false, barrierFree: true);
        gcode.RegisterCommand("M83", CmdM83, false, barrierFree: true);
        gcode.RegisterCommand("G90", CmdG90, false, barrierFree: true);
        gcode.RegisterCommand("G91", CmdG91, false, barrierFree: true);
        gcode.RegisterCommand("G92", CmdG92, false, barrierFree: true);
        gcode.RegisterCommand("M220", CmdM220, false);
        gcode.RegisterCommand("M221", CmdM221, false);
        gcode.RegisterCommand("SET_GCODE_OFFSET", CmdSetGcodeOffset, false, CmdSetGcodeOffsetHelp);
        gcode.RegisterCommand("SAVE_GCODE_STATE", CmdSaveGcodeState, false, CmdSaveGcodeStateHelp);
        gcode.RegisterCommand("RESTORE_GCODE_STATE", CmdRestoreGcodeState, false, CmdRestoreGcodeStateHelp);
        gcode.RegisterCommand("G0", CmdG1, barrierFree: true);
        gcode.RegisterCommand("M114", CmdM114, true);
        gcode.RegisterCommand("GET_POSITION", CmdGetPosition, true, CmdGetPositionHelp);
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
        _printer.RegisterEventHandler<string, Dictionary<string, object?>>("klippy:analyze_shutdown", HandleAnalyzeShutdown);
        _printer.RegisterEventHandler("toolhead:set_position", ResetLastPosition);
        _printer.RegisterEventHandler("toolhead:manual_move", ResetLastPosition);
        _printer.RegisterEventHandler("toolhead:update_extra_axes", UpdateExtraAxes);
        _printer.RegisterEventHandler("gcode:command_error", ResetLastPosition);
        _printer.RegisterEventHandler("extruder:activate_extruder", HandleActivateExtruder);
        _printer.RegisterEventHandler<Homing, List<GenericPrinterRail>>("homing:home_rails_end", HandleHomeRailsEnd);
    }

    private void HandleReady()
    {
        _isPrinterReady = true;
        if (_moveTransform is null)
        {
            var toolhead = _printer.LookupObject<ToolHead>("toolhead");
            _moveWithTransform = toolhead.Move;
            _positionWithTransform = toolhead.GetPosition;
        }
        ResetLastPosition();
    }

    private void HandleShutdown() => _isPrinterReady = false;

    private void HandleAnalyzeShutdown(string msg, Dictionary<string, object?> details)
    {
        _printer.Log?.Invoke(
            $"gcode state: absolute_coord={PyFormat.Str(_absoluteCoord)} absolute_extrude={PyFormat.Str(_absoluteExtrude)}"
            + $" base_position={ListStr(_basePosition)} last_position={ListStr(_lastPosition)}"
            + $" homing_position={ListStr(_homingPosition)} speed_factor={PyFormat.Str(_speedFactor)}"
            + $" extrude_factor={PyFormat.Str(_extrudeFactor)} speed={PyFormat.Str(_speed)}");
    }

    private static string ListStr(IEnumerable<double> values) => "[" + string.Join(", ", values.Select(PyFormat.Repr)) + "]";

    private void HandleActivateExtruder()
    {
        ResetLastPosition();
        _extrudeFactor = 1.0;
        _basePosition[3] = _lastPosition[3];
    }

    private void HandleHomeRailsEnd(Homing homingState, List<GenericPrinterRail> rails)
    {
        ResetLastPosition();
        foreach (int axis in homingState.GetAxes())
            _basePosition[axis] = _homingPosition[axis];
    }

    /// <summary>Routes G-code moves through <paramref name="transform"/>; returns the previous transform (the toolhead at first).</summary>
    public IMoveTransform? SetMoveTransform(IMoveTransform transform, bool force = false)
    {
        if (_moveTransform is not null && !force)
            throw new ConfigError("G-Code move transform already specified");
        var oldTransform = _moveTransform ?? _printer.TryLookupObject<ToolHead>("toolhead");
        _moveTransform = transform;
        _moveWithTransform = transform.Move;
        _positionWithTransform = transform.GetPosition;
        return oldTransform;
    }

    private List<double> GetGcodePosition()
    {
        var p = new List<double>();
        int n = Math.Min(_lastPosition.Count, _basePosition.Count);
        for (int i = 0; i < n; i++)
            p.Add(_lastPosition[i] - _basePosition[i]);
        p[3] /= _extrudeFactor;
        return p;
    }

    private double GetGcodeSpeed() => _speed / _speedFactor;

    private double GetGcodeSpeedOverride() => _speedFactor * 60.0;

    public Dictionary<string, object?> GetStatus(double eventtime = 0.0)
    {
        var movePosition = GetGcodePosition();
        return new Dictionary<string, object?>
        {
            ["speed_factor"] = GetGcodeSpeedOverride(),
            ["speed"] = GetGcodeSpeed(),
            ["extrude_factor"] = _extrudeFactor,
            ["absolute_coordinates"] = _absoluteCoord,
            ["absolute_extrude"] = _absoluteExtrude,
            ["homing_origin"] = new Coord(_homingPosition),
            ["position"] = new Coord(_lastPosition),
            ["gcode_position"] = new Coord(movePosition),
            ["axis_map"] = new Dictionary<string, int>(_axisMap),
        };
    }

    public void ResetLastPosition()
    {
        if (_isPrinterReady)
            _lastPosition = _positionWithTransform().ToList();
    }

    private void UpdateExtraAxes()
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var axisMap = new Dictionary<string, int> { ["X"] = 0, ["Y"] = 1, ["Z"] = 2, ["E"] = 3 };
        var extraAxes = toolhead.GetExtraAxes();
        for (int index = 0; index < extraAxes.Count; index++)
        {
            var ea = extraAxes[index];
            if (ea is null)
                continue;
            string? gcodeId = ea.GetAxisGcodeId();
            if (gcodeId is null || gcodeId.Length != 1 || !char.IsUpper(gcodeId[0])
                || axisMap.ContainsKey(gcodeId) || "FN".Contains(gcodeId[0]))
                continue;
            axisMap[gcodeId] = index;
        }
        _axisMap = axisMap;
        var bp = _basePosition.Take(4).ToList();
        for (int i = 4; i < extraAxes.Count; i++)
            bp.Add(0.0);
        _basePosition = bp;
        ResetLastPosition();
    }

    // ---- movement commands

    public void CmdG1(GCodeCommand gcmd)
    {
        var parameters = gcmd.GetCommandParameters();
        foreach (var (axis, pos) in _axisMap)
        {
            if (!parameters.TryGetValue(axis, out var text))
                continue;
            if (!PyFormat.TryParseFloat(text, out double v))
                throw gcmd.Error($"Unable to parse move '{gcmd.GetCommandline()}'");
            bool absoluteCoord = _absoluteCoord;
            if (axis == "E")
            {
                v *= _extrudeFactor;
                if (!_absoluteExtrude)
                    absoluteCoord = false;
            }
            if (!absoluteCoord)
                _lastPosition[pos] += v; // relative to the last move
            else
                _lastPosition[pos] = v + _basePosition[pos]; // relative to the base position
        }
        if (parameters.TryGetValue("F", out var ftext))
        {
            if (!PyFormat.TryParseFloat(ftext, out double gcodeSpeed))
                throw gcmd.Error($"Unable to parse move '{gcmd.GetCommandline()}'");
            if (gcodeSpeed <= 0.0)
                throw gcmd.Error($"Invalid speed in '{gcmd.GetCommandline()}'");
            _speed = gcodeSpeed * _speedFactor;
        }
        _moveWithTransform!(_lastPosition, _speed);
    }

    private void CmdG20(GCodeCommand gcmd) => throw gcmd.Error("Machine does not support G20 (inches) command");

    private void CmdG21(GCodeCommand gcmd)
    {
        // Millimeters are the only unit
    }

    private void CmdM82(GCodeCommand gcmd) => _absoluteExtrude = true;

    private void CmdM83(GCodeCommand gcmd) => _absoluteExtrude = false;

    private void CmdG90(GCodeCommand gcmd) => _absoluteCoord = true;

    private void CmdG91(GCodeCommand gcmd) => _absoluteCoord = false;

    private void CmdG92(GCodeCommand gcmd)
    {
        var offsets = "XYZE".Select(a => gcmd.GetFloatOrNull(a.ToString())).ToArray();
        for (int i = 0; i < offsets.Length; i++)
        {
            if (offsets[i] is not double offset)
                continue;
            if (i == 3)
                offset *= _extrudeFactor;
            _basePosition[i] = _lastPosition[i] - offset;
        }
        if (offsets.All(o => o is null))
            for (int i = 0; i < 4; i++)
                _basePosition[i] = _lastPosition[i];
    }

    private void CmdM114(GCodeCommand gcmd)
    {
        var p = GetGcodePosition();
        gcmd.RespondRaw(PyPercent.Format("X:%.3f Y:%.3f Z:%.3f E:%.3f", p[0], p[1], p[2], p[3]));
    }

    private void CmdM220(GCodeCommand gcmd)
    {
        double value = gcmd.GetFloat("S", 100.0, above: 0.0) / (60.0 * 100.0);
        _speed = GetGcodeSpeed() * value;
        _speedFactor = value;
    }

    private void CmdM221(GCodeCommand gcmd)
    {
        double newExtrudeFactor = gcmd.GetFloat("S", 100.0, above: 0.0) / 100.0;
        double lastEPos = _lastPosition[3];
        double eValue = (lastEPos - _basePosition[3]) / _extrudeFactor;
        _basePosition[3] = lastEPos - eValue * newExtrudeFactor;
        _extrudeFactor = newExtrudeFactor;
    }

    private void CmdSetGcodeOffset(GCodeCommand gcmd)
    {
        var moveDelta = new double[] { 0.0, 0.0, 0.0, 0.0 };
        for (int pos = 0; pos < 4; pos++)
        {
            string axis = "XYZE"[pos].ToString();
            double? offsetArg = gcmd.GetFloatOrNull(axis);
            double offset;
            if (offsetArg is double o)
            {
                offset = o;
            }
            else
            {
                double? adjust = gcmd.GetFloatOrNull(axis + "_ADJUST");
                if (adjust is not double a)
                    continue;
                offset = a + _homingPosition[pos];
            }
            double delta = offset - _homingPosition[pos];
            moveDelta[pos] = delta;
            _basePosition[pos] += delta;
            _homingPosition[pos] = offset;
        }
        // Move the toolhead by the offset if requested
        if (gcmd.GetInt("MOVE", 0) != 0)
        {
            double speed = gcmd.GetFloat("MOVE_SPEED", _speed, above: 0.0);
            for (int pos = 0; pos < 4; pos++)
                _lastPosition[pos] += moveDelta[pos];
            _moveWithTransform!(_lastPosition, speed);
        }
    }

    private void CmdSaveGcodeState(GCodeCommand gcmd)
    {
        string stateName = gcmd.Get("NAME", "default");
        _savedStates[stateName] = new SavedState(_absoluteCoord, _absoluteExtrude, _basePosition.ToList(),
            _lastPosition.ToList(), _homingPosition.ToList(), _speed, _speedFactor, _extrudeFactor);
    }

    private void CmdRestoreGcodeState(GCodeCommand gcmd)
    {
        string stateName = gcmd.Get("NAME", "default");
        if (!_savedStates.TryGetValue(stateName, out var state))
            throw gcmd.Error($"Unknown g-code state: {stateName}");
        _absoluteCoord = state.AbsoluteCoord;
        _absoluteExtrude = state.AbsoluteExtrude;
        for (int i = 0; i < 4; i++)
            _basePosition[i] = state.BasePosition[i];
        _homingPosition = state.HomingPosition.ToList();
        _speed = state.Speed;
        _speedFactor = state.SpeedFactor;
        _extrudeFactor = state.ExtrudeFactor;
        // Keep the relative E position
        double eDiff = _lastPosition[3] - state.LastPosition[3];
        _basePosition[3] += eDiff;
        // Move back if requested
        if (gcmd.GetInt("MOVE", 0) != 0)
        {
            double speed = gcmd.GetFloat("MOVE_SPEED", _speed, above: 0.0);
            for (int i = 0; i < 3; i++)
                _lastPosition[i] = state.LastPosition[i];
            _moveWithTransform!(_lastPosition, speed);
        }
    }

    private void CmdGetPosition(GCodeCommand gcmd)
    {
        var toolhead = _printer.TryLookupObject<ToolHead>("toolhead") ?? throw gcmd.Error("Printer not ready");
        var kin = toolhead.GetKinematics();
        var steppers = kin.GetSteppers();
        string mcuPos = string.Join(" ", steppers.Select(s => $"{s.GetName()}:{s.GetMcuPosition()}"));
        var cinfo = steppers.Select(s => (Name: s.GetName(), Pos: s.GetCommandedPosition())).ToList();
        string stepperPos = string.Join(" ", cinfo.Select(c => PyPercent.Format("%s:%.6f", c.Name, c.Pos)));
        var cdict = new Dictionary<string, double>();
        foreach (var (name, pos) in cinfo)
            cdict[name] = pos;
        var kinfo = kin.CalcPosition(cdict);
        string kinPos = Zip("XYZ", kinfo);
        string toolheadPos = Zip("XYZE", toolhead.GetPosition().Take(4).ToList());
        string gcodePos = Zip("XYZE", _lastPosition);
        string basePos = Zip("XYZE", _basePosition);
        string homingPos = Zip("XYZ", _homingPosition);
        gcmd.RespondInfo($"mcu: {mcuPos}\nstepper: {stepperPos}\nkinematic: {kinPos}\ntoolhead: {toolheadPos}\n"
                         + $"gcode: {gcodePos}\ngcode base: {basePos}\ngcode homing: {homingPos}");
    }

    private static string Zip(string axes, IReadOnlyList<double> values)
    {
        int n = Math.Min(axes.Length, values.Count);
        return string.Join(" ", Enumerable.Range(0, n).Select(i => PyPercent.Format("%s:%.6f", axes[i].ToString(), values[i])));
    }
}
