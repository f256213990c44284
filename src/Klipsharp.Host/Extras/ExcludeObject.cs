using System.Globalization;
using System.Text;
using System.Text.Json;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[exclude_object]: skips the moves of cancelled objects (upstream exclude_object.ExcludeObject).</summary>
public sealed class ExcludeObject : IMoveTransform, IStatusProvider
{
    public const string CmdExcludeObjectStartHelp = "Marks the beginning the current object as labeled";
    public const string CmdExcludeObjectEndHelp = "Marks the end the current object";
    public const string CmdExcludeObjectHelp = "Cancel moves inside a specified objects";
    public const string CmdExcludeObjectDefineHelp = "Provides a summary of an object";

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly GCodeMove _gcodeMove;
    private ToolHead? _toolhead;
    private IMoveTransform? _nextTransform;
    private readonly double[] _lastPositionExtruded = [0.0, 0.0, 0.0, 0.0];
    private readonly double[] _lastPositionExcluded = [0.0, 0.0, 0.0, 0.0];
    private double[] _lastPosition = [0.0, 0.0, 0.0, 0.0];
    private Dictionary<string, List<double>> _extrusionOffsets = new();
    private double _maxPositionExtruded, _maxPositionExcluded, _extruderAdj;
    private int _initialExtrusionMoves;
    private List<Dictionary<string, object?>> _objects = new();
    private List<string> _excludedObjects = new();
    private string? _currentObject;
    private bool _inExcludedRegion;

    public ExcludeObject(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _printer.RegisterEventHandler("virtual_sdcard:reset_file", ResetFile);
        ResetState();
        _gcode.RegisterCommand("EXCLUDE_OBJECT_START", CmdExcludeObjectStart, desc: CmdExcludeObjectStartHelp);
        _gcode.RegisterCommand("EXCLUDE_OBJECT_END", CmdExcludeObjectEnd, desc: CmdExcludeObjectEndHelp);
        _gcode.RegisterCommand("EXCLUDE_OBJECT", CmdExcludeObject, desc: CmdExcludeObjectHelp);
        _gcode.RegisterCommand("EXCLUDE_OBJECT_DEFINE", CmdExcludeObjectDefine, desc: CmdExcludeObjectDefineHelp);
    }

    /// <summary>An object definition as bed_mesh's adaptive mode reads it.</summary>
    public sealed record ObjectInfo(string Name, IReadOnlyList<IReadOnlyList<double>> Polygon);

    /// <summary>The known objects with their polygons (empty polygon when none was given).</summary>
    public List<ObjectInfo> GetObjects() => _objects.Select(o => new ObjectInfo((string)o["name"]!,
        o.TryGetValue("polygon", out var p) && p is List<object?> pl
            ? pl.Select(pt => (IReadOnlyList<double>)((List<object?>)pt!).Select(ToDouble).ToList()).ToList()
            : [])).ToList();

    private static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        _ => throw new CommandError("Invalid polygon point"),
    };

    private void RegisterTransform()
    {
        if (_nextTransform is not null)
            return;
        var tuningTower = _printer.LookupObject<TuningTower>("tuning_tower");
        if (tuningTower.IsActive())
        {
            _printer.Log?.Invoke("The ExcludeObject move transform is not being loaded due to Tuning tower being Active");
            return;
        }
        _nextTransform = _gcodeMove.SetMoveTransform(this, force: true);
        _extrusionOffsets = new();
        _maxPositionExtruded = 0;
        _maxPositionExcluded = 0;
        _extruderAdj = 0;
        _initialExtrusionMoves = 5;
        _lastPosition = [0.0, 0.0, 0.0, 0.0];
        GetPosition();
        CopyInto(_lastPositionExtruded, _lastPosition);
        CopyInto(_lastPositionExcluded, _lastPosition);
    }

    private static void CopyInto(double[] dst, double[] src)
    {
        for (int i = 0; i < Math.Min(dst.Length, src.Length); i++)
            dst[i] = src[i];
    }

    private void HandleConnect() => _toolhead = _printer.LookupObject<ToolHead>("toolhead");

    private void UnregisterTransform()
    {
        if (_nextTransform is null)
            return;
        var tuningTower = _printer.LookupObject<TuningTower>("tuning_tower");
        if (tuningTower.IsActive())
        {
            _printer.Log?.Invoke("The Exclude Object move transform was not unregistered because it is not at the head of the transform chain.");
            return;
        }
        _gcodeMove.SetMoveTransform(_nextTransform, force: true);
        _nextTransform = null;
        _gcodeMove.ResetLastPosition();
    }

    private void ResetState()
    {
        _objects = new();
        _excludedObjects = new();
        _currentObject = null;
        _inExcludedRegion = false;
    }

    private void ResetFile()
    {
        ResetState();
        UnregisterTransform();
    }

    private List<double> GetExtrusionOffsets(int numCoord)
    {
        string ename = _toolhead!.GetExtruder().GetName();
        if (!_extrusionOffsets.TryGetValue(ename, out var offset))
        {
            offset = Enumerable.Repeat(0.0, numCoord).ToList();
            _extrusionOffsets[ename] = offset;
        }
        while (offset.Count < numCoord)
            offset.Add(0.0);
        return offset;
    }

    public double[] GetPosition()
    {
        var pos = _nextTransform!.GetPosition();
        var offset = GetExtrusionOffsets(pos.Length);
        if (_lastPosition.Length < pos.Length)
            Array.Resize(ref _lastPosition, pos.Length);
        for (int i = 0; i < pos.Length; i++)
            _lastPosition[i] = pos[i] + offset[i];
        return (double[])_lastPosition.Clone();
    }

    private void NormalMove(IReadOnlyList<double> newpos, double speed)
    {
        var offset = GetExtrusionOffsets(newpos.Count);
        // The transform tracks a few extrusions to learn the extruder state
        if (_initialExtrusionMoves > 0 && _lastPosition[3] != newpos[3])
            _initialExtrusionMoves--;
        _lastPosition = newpos.ToArray();
        CopyInto(_lastPositionExtruded, _lastPosition);
        _maxPositionExtruded = BedMeshUtil.PyMax(_maxPositionExtruded, newpos[3]);
        // Moves right after an excluded object: toolhead and g-code positions differ
        if ((offset[0] != 0 || offset[1] != 0)
            && (newpos[0] != _lastPositionExcluded[0] || newpos[1] != _lastPositionExcluded[1]))
        {
            for (int i = 0; i < newpos.Count; i++)
                if (i != 3)
                    offset[i] = 0;
            offset[3] += _extruderAdj;
            _extruderAdj = 0;
        }
        if (offset[2] != 0 && newpos[2] != _lastPositionExcluded[2])
            offset[2] = 0;
        if (_extruderAdj != 0 && newpos[3] != _lastPositionExcluded[3])
        {
            offset[3] += _extruderAdj;
            _extruderAdj = 0;
        }
        var txPos = new double[newpos.Count];
        for (int i = 0; i < newpos.Count; i++)
            txPos[i] = newpos[i] - offset[i];
        _nextTransform!.Move(txPos, speed);
    }

    private void IgnoreMove(IReadOnlyList<double> newpos, double speed)
    {
        var offset = GetExtrusionOffsets(newpos.Count);
        for (int i = 0; i < newpos.Count; i++)
            if (i != 3)
                offset[i] = newpos[i] - _lastPositionExtruded[i];
        offset[3] = offset[3] + newpos[3] - _lastPosition[3];
        _lastPosition = newpos.ToArray();
        CopyInto(_lastPositionExcluded, _lastPosition);
        _maxPositionExcluded = BedMeshUtil.PyMax(_maxPositionExcluded, newpos[3]);
    }

    private void MoveIntoExcludedRegion(IReadOnlyList<double> newpos, double speed)
    {
        _inExcludedRegion = true;
        IgnoreMove(newpos, speed);
    }

    private void MoveFromExcludedRegion(IReadOnlyList<double> newpos, double speed)
    {
        _inExcludedRegion = false;
        // Compensates for retraction differences between the last printed and excluded objects
        _extruderAdj = _maxPositionExcluded - _lastPositionExcluded[3]
            - (_maxPositionExtruded - _lastPositionExtruded[3]);
        NormalMove(newpos, speed);
    }

    private bool TestInExcludedRegion() =>
        _currentObject is not null && _excludedObjects.Contains(_currentObject) && _initialExtrusionMoves == 0;

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["objects"] = _objects,
        ["excluded_objects"] = _excludedObjects,
        ["current_object"] = _currentObject,
    };

    public void Move(IReadOnlyList<double> newpos, double speed)
    {
        bool moveInExcludedRegion = TestInExcludedRegion();
        if (moveInExcludedRegion)
        {
            if (_inExcludedRegion)
                IgnoreMove(newpos, speed);
            else
                MoveIntoExcludedRegion(newpos, speed);
        }
        else if (_inExcludedRegion)
        {
            MoveFromExcludedRegion(newpos, speed);
        }
        else
        {
            NormalMove(newpos, speed);
        }
    }

    private static string Upper(string s) => s.ToUpperInvariant();

    private void CmdExcludeObjectStart(GCodeCommand gcmd)
    {
        string name = Upper(gcmd.Get("NAME"));
        if (!_objects.Any(o => (string)o["name"]! == name))
            AddObjectDefinition(new Dictionary<string, object?> { ["name"] = name });
        _currentObject = name;
    }

    private void CmdExcludeObjectEnd(GCodeCommand gcmd)
    {
        if (_currentObject is null && _nextTransform is not null)
        {
            gcmd.RespondInfo("EXCLUDE_OBJECT_END called, but no object is currently active");
            return;
        }
        string? name = gcmd.GetOrNull("NAME");
        if (name is not null && Upper(name) != _currentObject)
            gcmd.RespondInfo($"EXCLUDE_OBJECT_END NAME={Upper(name)} does not match the current object NAME={_currentObject ?? "None"}");
        _currentObject = null;
    }

    private void CmdExcludeObject(GCodeCommand gcmd)
    {
        string? reset = gcmd.GetOrNull("RESET");
        string? current = gcmd.GetOrNull("CURRENT");
        string name = Upper(gcmd.Get("NAME", ""));
        if (!string.IsNullOrEmpty(reset))
        {
            if (name.Length > 0)
                UnexcludeObject(name);
            else
                _excludedObjects = new();
        }
        else if (name.Length > 0)
        {
            if (!_excludedObjects.Contains(name))
                ExcludeObjectByName(name);
        }
        else if (!string.IsNullOrEmpty(current))
        {
            if (string.IsNullOrEmpty(_currentObject))
                throw _gcode.Error("There is no current object to cancel");
            ExcludeObjectByName(_currentObject);
        }
        else
        {
            ListExcludedObjects(gcmd);
        }
    }

    private void CmdExcludeObjectDefine(GCodeCommand gcmd)
    {
        string? reset = gcmd.GetOrNull("RESET");
        string name = Upper(gcmd.Get("NAME", ""));
        if (!string.IsNullOrEmpty(reset))
        {
            ResetFile();
        }
        else if (name.Length > 0)
        {
            var parameters = new Dictionary<string, string>(gcmd.GetCommandParameters());
            parameters.Remove("NAME");
            parameters.Remove("CENTER", out var center);
            parameters.Remove("POLYGON", out var polygon);
            var obj = new Dictionary<string, object?> { ["name"] = name };
            foreach (var kv in parameters)
                obj[kv.Key] = kv.Value;
            if (center is not null)
                obj["center"] = ParseJson("[" + center + "]");
            if (polygon is not null)
                obj["polygon"] = ParseJson(polygon);
            AddObjectDefinition(obj);
        }
        else
        {
            ListObjects(gcmd);
        }
    }

    private object? ParseJson(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return Convert(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw _gcode.Error(e.Message);
        }
    }

    private static object? Convert(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => e.EnumerateArray().Select(Convert).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Convert(p.Value)),
        JsonValueKind.Number => e.TryGetInt64(out long l) && !e.GetRawText().Contains('.') && !e.GetRawText().Contains('e') && !e.GetRawText().Contains('E')
            ? l : e.GetDouble(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private void AddObjectDefinition(Dictionary<string, object?> definition)
    {
        var list = new List<Dictionary<string, object?>>(_objects) { definition };
        // Stable ordinal sort by name, as Python's sorted()
        _objects = list.OrderBy(o => (string)o["name"]!, StringComparer.Ordinal).ToList();
    }

    private void ExcludeObjectByName(string name)
    {
        RegisterTransform();
        _gcode.RespondInfo($"Excluding object {Upper(name)}");
        if (!_excludedObjects.Contains(name))
            _excludedObjects = _excludedObjects.Append(name).OrderBy(s => s, StringComparer.Ordinal).ToList();
    }

    private void UnexcludeObject(string name)
    {
        _gcode.RespondInfo($"Unexcluding object {Upper(name)}");
        if (_excludedObjects.Contains(name))
        {
            var list = new List<string>(_excludedObjects);
            list.Remove(name);
            _excludedObjects = list.OrderBy(s => s, StringComparer.Ordinal).ToList();
        }
    }

    private void ListObjects(GCodeCommand gcmd)
    {
        string objectList = gcmd.GetOrNull("JSON") is not null
            ? ToJson(_objects)
            : string.Join(" ", _objects.Select(o => (string)o["name"]!));
        gcmd.RespondInfo($"Known objects: {objectList}");
    }

    private void ListExcludedObjects(GCodeCommand gcmd) =>
        gcmd.RespondInfo($"Excluded objects: {string.Join(" ", _excludedObjects)}");

    /// <summary>Python json.dumps of the object values used here.</summary>
    internal static string ToJson(object? v)
    {
        switch (v)
        {
            case null: return "null";
            case bool b: return b ? "true" : "false";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case int i: return i.ToString(CultureInfo.InvariantCulture);
            case double d: return double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyFmt.S(d);
            case string s:
            {
                var sb = new StringBuilder("\"");
                foreach (char c in s)
                {
                    switch (c)
                    {
                        case '"': sb.Append("\\\""); break;
                        case '\\': sb.Append("\\\\"); break;
                        case '\n': sb.Append("\\n"); break;
                        case '\r': sb.Append("\\r"); break;
                        case '\t': sb.Append("\\t"); break;
                        case '\b': sb.Append("\\b"); break;
                        case '\f': sb.Append("\\f"); break;
                        default:
                            if (c < 0x20 || c > 0x7e)
                                sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                            else
                                sb.Append(c);
                            break;
                    }
                }
                return sb.Append('"').ToString();
            }
            case IDictionary<string, object?> d:
                return "{" + string.Join(", ", d.Select(kv => ToJson(kv.Key) + ": " + ToJson(kv.Value))) + "}";
            case System.Collections.IEnumerable e:
                return "[" + string.Join(", ", e.Cast<object?>().Select(ToJson)) + "]";
            default:
                return ToJson(v.ToString());
        }
    }
}
