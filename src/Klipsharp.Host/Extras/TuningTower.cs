using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>TUNING_TOWER: changes a parameter with the print's Z height (upstream tuning_tower.TuningTower).</summary>
public sealed class TuningTower : IMoveTransform
{
    public const string CmdTuningTowerHelp = "Tool to adjust a parameter at each Z height";
    private const double CancelZDelta = 2.0;

    private readonly Printer _printer;
    private readonly GCodeMove _gcodeMove;
    private readonly GCodeDispatch _gcode;
    private IMoveTransform? _normalTransform;
    private double[] _lastPosition = [0.0, 0.0, 0.0, 0.0];
    private double _lastZ, _start, _factor, _band, _stepDelta, _stepHeight, _skip;
    private double? _lastCommandValue;
    private string _commandFmt = "";

    public TuningTower(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("TUNING_TOWER", CmdTuningTower, desc: CmdTuningTowerHelp);
    }

    private void CmdTuningTower(GCodeCommand gcmd)
    {
        if (_normalTransform is not null)
            EndTest();
        string command = gcmd.Get("COMMAND");
        string parameter = gcmd.Get("PARAMETER");
        _start = gcmd.GetFloat("START", 0.0);
        _factor = gcmd.GetFloat("FACTOR", 0.0);
        _band = gcmd.GetFloat("BAND", 0.0, minval: 0.0);
        _stepDelta = gcmd.GetFloat("STEP_DELTA", 0.0);
        _stepHeight = gcmd.GetFloat("STEP_HEIGHT", 0.0, minval: 0.0);
        _skip = gcmd.GetFloat("SKIP", 0.0, minval: 0.0);
        if (_factor != 0 && (_stepHeight != 0 || _stepDelta != 0))
            throw gcmd.Error("Cannot specify both FACTOR and STEP_DELTA/STEP_HEIGHT");
        if ((_stepDelta != 0.0) != (_stepHeight != 0.0))
            throw gcmd.Error("Must specify both STEP_DELTA and STEP_HEIGHT");
        _commandFmt = GCodeDispatch.IsTraditionalGcode(command)
            ? $"{command} {parameter}" : $"{command} {parameter}=";
        _normalTransform = _gcodeMove.SetMoveTransform(this, force: true);
        _lastZ = -99999999.9;
        _lastCommandValue = null;
        GetPosition();
        var parts = new List<string> { $"start={PyFmt.F(_start, 6)}" };
        if (_factor != 0)
        {
            parts.Add($"factor={PyFmt.F(_factor, 6)}");
            if (_band != 0)
                parts.Add($"band={PyFmt.F(_band, 6)}");
        }
        else
        {
            parts.Add($"step_delta={PyFmt.F(_stepDelta, 6)}");
            parts.Add($"step_height={PyFmt.F(_stepHeight, 6)}");
        }
        if (_skip != 0)
            parts.Add($"skip={PyFmt.F(_skip, 6)}");
        gcmd.RespondInfo("Starting tuning test (" + string.Join(" ", parts) + ")");
    }

    public double[] GetPosition()
    {
        var pos = _normalTransform!.GetPosition();
        _lastPosition = (double[])pos.Clone();
        return pos;
    }

    /// <summary>The parameter value for a g-code z height.</summary>
    public double CalcValue(double z)
    {
        if (_skip != 0)
            z = BedMeshUtil.PyMax(0.0, z - _skip);
        if (_stepHeight != 0)
            return _start + _stepDelta * Math.Floor(z / _stepHeight);
        if (_band != 0)
            z = (Math.Floor(z / _band) + .5) * _band;
        return _start + z * _factor;
    }

    public void Move(IReadOnlyList<double> newpos, double speed)
    {
        var normalTransform = _normalTransform!;
        if (newpos[3] > _lastPosition[3] && newpos[2] != _lastZ
            && (newpos[0] != _lastPosition[0] || newpos[1] != _lastPosition[1] || newpos[2] != _lastPosition[2]))
        {
            // Extrusion move at a new z height
            double z = newpos[2];
            if (z < _lastZ - CancelZDelta)
            {
                // Extruding lower: probably a new print
                EndTest();
            }
            else
            {
                var gcodeZ = ((Coord)_gcodeMove.GetStatus()["gcode_position"]!).Z;
                double newval = CalcValue(gcodeZ);
                _lastZ = z;
                if (newval != _lastCommandValue)
                {
                    _lastCommandValue = newval;
                    _gcode.RunScriptFromCommand(_commandFmt + PyFmt.F(newval, 9));
                }
            }
        }
        _lastPosition = newpos.ToArray();
        normalTransform.Move(newpos, speed);
    }

    private void EndTest()
    {
        _gcode.RespondInfo("Ending tuning test mode");
        _gcodeMove.SetMoveTransform(_normalTransform!, force: true);
        _normalTransform = null;
    }

    public bool IsActive() => _normalTransform is not null;
}
