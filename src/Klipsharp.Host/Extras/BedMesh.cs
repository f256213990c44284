using System.Globalization;
using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>An error in mesh generation or interpolation (upstream BedMeshError).</summary>
public sealed class BedMeshError(string message) : Exception(message);

/// <summary>Small numeric helpers shared by the bed mesh classes (upstream bed_mesh module functions).</summary>
public static class BedMeshUtil
{
    /// <summary>PEP 485 isclose().</summary>
    public static bool IsClose(double a, double b, double relTol = 1e-09, double absTol = 0.0) =>
        Math.Abs(a - b) <= Math.Max(relTol * Math.Max(Math.Abs(a), Math.Abs(b)), absTol);

    /// <summary>True when (x, y) lies inside the rectangle min..max widened by tol.</summary>
    public static bool Within(IReadOnlyList<double> coord, IReadOnlyList<double> minC, IReadOnlyList<double> maxC, double tol = 0.0) =>
        (maxC[0] + tol) >= coord[0] && coord[0] >= (minC[0] - tol)
        && (maxC[1] + tol) >= coord[1] && coord[1] >= (minC[1] - tol);

    /// <summary>Python min(max_val, max(min_val, val)).</summary>
    public static double Constrain(double val, double minVal, double maxVal) => PyMin(maxVal, PyMax(minVal, val));

    /// <summary>Linear interpolation as upstream computes it.</summary>
    public static double Lerp(double t, double v0, double v1) => (1.0 - t) * v0 + t * v1;

    // Python's min/max keep the first argument on ties and NaN comparisons.
    internal static double PyMin(double a, double b) => b < a ? b : a;

    internal static double PyMax(double a, double b) => b > a ? b : a;

    /// <summary>A comma separated integer pair option; one value is used for both (upstream parse_config_pair).</summary>
    public static (int, int) ParseConfigPair(ConfigWrapper config, string option, int @default, int? minval = null, int? maxval = null)
    {
        var pair = config.GetIntList(option, [@default, @default]);
        if (pair.Count != 2)
        {
            if (pair.Count != 1)
                throw config.Error($"bed_mesh: malformed '{option}' value: {config.Get(option)}");
            pair = [pair[0], pair[0]];
        }
        if (minval is int mn && (pair[0] < mn || pair[1] < mn))
            throw config.Error($"Option '{option}' in section bed_mesh must have a minimum of {mn}");
        if (maxval is int mx && (pair[0] > mx || pair[1] > mx))
            throw config.Error($"Option '{option}' in section bed_mesh must have a maximum of {mx}");
        return (pair[0], pair[1]);
    }

    /// <summary>A comma separated integer pair G-code parameter (upstream parse_gcmd_pair).</summary>
    public static (int, int) ParseGcmdPair(GCodeCommand gcmd, string name, int? minval = null, int? maxval = null)
    {
        var pair = new List<int>();
        try
        {
            foreach (var v in gcmd.Get(name).Split(','))
                pair.Add(ParsePyInt(v));
        }
        catch (Exception)
        {
            throw gcmd.Error($"Unable to parse parameter '{name}'");
        }
        if (pair.Count != 2)
        {
            if (pair.Count != 1)
                throw gcmd.Error($"Unable to parse parameter '{name}'");
            pair = [pair[0], pair[0]];
        }
        if (minval is int mn && (pair[0] < mn || pair[1] < mn))
            throw gcmd.Error($"Parameter '{name}' must have a minimum of {mn}");
        if (maxval is int mx && (pair[0] > mx || pair[1] > mx))
            throw gcmd.Error($"Parameter '{name}' must have a maximum of {mx}");
        return (pair[0], pair[1]);
    }

    /// <summary>A comma separated float pair G-code parameter (upstream parse_gcmd_coord).</summary>
    public static (double, double) ParseGcmdCoord(GCodeCommand gcmd, string name)
    {
        try
        {
            var parts = gcmd.Get(name).Split(',');
            if (parts.Length != 2)
                throw new FormatException();
            return (ParsePyFloat(parts[0]), ParsePyFloat(parts[1]));
        }
        catch (Exception)
        {
            throw gcmd.Error($"Unable to parse parameter '{name}'");
        }
    }

    private static int ParsePyInt(string s)
    {
        s = s.Trim().Replace("_", "", StringComparison.Ordinal);
        return int.Parse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
    }

    private static double ParsePyFloat(string s)
    {
        s = s.Trim();
        string l = s.ToLowerInvariant();
        string body = l.TrimStart('+', '-');
        double sign = l.StartsWith('-') ? -1.0 : 1.0;
        if (body is "inf" or "infinity")
            return sign * double.PositiveInfinity;
        if (body == "nan")
            return double.NaN;
        return double.Parse(s.Replace("_", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>Python repr of a 2-tuple of floats.</summary>
    internal static string Tuple(double a, double b) => $"({PyFmt.S(a)}, {PyFmt.S(b)})";

    /// <summary>Python repr of a list of floats.</summary>
    internal static string List(IEnumerable<double> v) => "[" + string.Join(", ", v.Select(PyFmt.S)) + "]";

    /// <summary>Python str() of a mesh parameter value.</summary>
    internal static string Str(object? v) => v switch
    {
        double d => PyFmt.S(d),
        int i => i.ToString(CultureInfo.InvariantCulture),
        string s => s,
        null => "None",
        _ => v.ToString() ?? "",
    };
}

/// <summary>Where the zero reference position lies (upstream ZrefMode).</summary>
public enum ZrefMode
{
    Disabled = 0,
    InMesh = 1,
    Probe = 2,
}

/// <summary>[bed_mesh]: a probed height map applied to every move (upstream bed_mesh.BedMesh).</summary>
public sealed class BedMesh : IMoveTransform, IStatusProvider
{
    public const int FadeDisable = 0x7FFFFFFF;
    public const string CmdBedMeshOutputHelp = "Retrieve interpolated grid of probed z-points";
    public const string CmdBedMeshMapHelp = "Serialize mesh and output to terminal";
    public const string CmdBedMeshClearHelp = "Clear the Mesh so no z-adjustment is made";
    public const string CmdBedMeshOffsetHelp = "Add X/Y offsets to the mesh lookup";

    private readonly Printer _printer;
    private readonly double[] _lastPosition = [0.0, 0.0, 0.0, 0.0];
    private double[] _lastPos;
    private ZMesh? _zMesh;
    private ToolHead? _toolhead;
    private readonly double _horizontalMoveZ;
    private readonly double _fadeStart, _fadeEnd, _fadeDist;
    private bool _logFadeComplete;
    private readonly double? _baseFadeTarget;
    private double _fadeTarget;
    private double _toolOffset;
    private readonly GCodeDispatch _gcode;
    private readonly MoveSplitter _splitter;
    private Dictionary<string, object?> _status = new();

    public BedMesh(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _lastPos = _lastPosition;
        Bmc = new BedMeshCalibrate(config, this);
        _horizontalMoveZ = config.GetFloat("horizontal_move_z", 5.0);
        _fadeStart = config.GetFloat("fade_start", 1.0);
        _fadeEnd = config.GetFloat("fade_end", 0.0);
        _fadeDist = _fadeEnd - _fadeStart;
        if (_fadeDist <= 0.0)
            _fadeStart = _fadeEnd = FadeDisable;
        _baseFadeTarget = config.GetFloatOrNull("fade_target");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _splitter = new MoveSplitter(config, _gcode);
        Pmgr = new ProfileManager(config, this);
        _gcode.RegisterCommand("BED_MESH_OUTPUT", CmdBedMeshOutput, desc: CmdBedMeshOutputHelp);
        _gcode.RegisterCommand("BED_MESH_MAP", CmdBedMeshMap, desc: CmdBedMeshMapHelp);
        _gcode.RegisterCommand("BED_MESH_CLEAR", CmdBedMeshClear, desc: CmdBedMeshClearHelp);
        _gcode.RegisterCommand("BED_MESH_OFFSET", CmdBedMeshOffset, desc: CmdBedMeshOffsetHelp);
        var gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        gcodeMove.SetMoveTransform(this);
        UpdateStatus();
    }

    /// <summary>The calibration helper (BED_MESH_CALIBRATE).</summary>
    public BedMeshCalibrate Bmc { get; }

    /// <summary>The stored profiles (BED_MESH_PROFILE).</summary>
    public ProfileManager Pmgr { get; }

    private void HandleConnect()
    {
        _toolhead = _printer.LookupObject<ToolHead>("toolhead");
        Bmc.PrintGeneratedPoints(m => _printer.Log?.Invoke(m), truncate: true);
    }

    /// <summary>Activates a mesh (or none), checking it against the fade settings.</summary>
    public void SetMesh(ZMesh? mesh)
    {
        if (mesh is not null && _fadeEnd != FadeDisable)
        {
            _logFadeComplete = true;
            if (_baseFadeTarget is null)
            {
                _fadeTarget = mesh.GetZAverage();
            }
            else
            {
                _fadeTarget = _baseFadeTarget.Value;
                var (minZ0, maxZ0) = mesh.GetZRange();
                if (!(minZ0 <= _fadeTarget && _fadeTarget <= maxZ0) && _fadeTarget != 0.0)
                {
                    double errTarget = _fadeTarget;
                    _zMesh = null;
                    _fadeTarget = 0.0;
                    throw _gcode.Error($"bed_mesh: ERROR, fade_target lies outside of mesh z range\nmin: {PyFmt.F(minZ0, 4)}, max: {PyFmt.F(maxZ0, 4)}, fade_target: {PyFmt.F(errTarget, 4)}");
                }
            }
            var (minZ, maxZ) = mesh.GetZRange();
            if (_fadeDist <= BedMeshUtil.PyMax(Math.Abs(minZ), Math.Abs(maxZ)))
            {
                _zMesh = null;
                _fadeTarget = 0.0;
                throw _gcode.Error($"bed_mesh:  Mesh extends outside of the fade range, please see the fade_start and fade_end options inexample-extras.cfg. fade distance: {PyFmt.F(_fadeDist, 2)} mesh min: {PyFmt.F(minZ, 4)}mesh max: {PyFmt.F(maxZ, 4)}");
            }
        }
        else
        {
            _fadeTarget = 0.0;
        }
        _toolOffset = 0.0;
        _zMesh = mesh;
        _splitter.Initialize(mesh, _fadeTarget);
        _printer.LookupObject<GCodeMove>("gcode_move").ResetLastPosition();
        UpdateStatus();
    }

    private double GetZFactor(double zPos)
    {
        zPos += _toolOffset;
        if (zPos >= _fadeEnd)
            return 0.0;
        if (zPos >= _fadeStart)
            return (_fadeEnd - zPos) / _fadeDist;
        return 1.0;
    }

    /// <summary>The untransformed (G-code) position of the toolhead.</summary>
    public double[] GetPosition()
    {
        var curPos = _toolhead!.GetPosition();
        if (_zMesh is null)
        {
            _lastPos = curPos;
            _lastPos[2] -= _fadeTarget;
        }
        else
        {
            double x = curPos[0], y = curPos[1], z = curPos[2];
            double maxAdj = _zMesh.CalcZ(x, y);
            double factor = 1.0;
            double zAdj = maxAdj - _fadeTarget;
            double fadeZPos = z + _toolOffset;
            if (BedMeshUtil.PyMin(fadeZPos, fadeZPos - maxAdj) >= _fadeEnd)
            {
                factor = 0.0;
            }
            else if (BedMeshUtil.PyMax(fadeZPos, fadeZPos - maxAdj) >= _fadeStart)
            {
                // Part way through the fade: recover the factor from the toolhead z
                factor = (_fadeEnd + _fadeTarget - fadeZPos) / (_fadeDist - zAdj);
                factor = BedMeshUtil.Constrain(factor, 0.0, 1.0);
            }
            double finalZAdj = factor * zAdj + _fadeTarget;
            curPos[2] = z - finalZAdj;
            _lastPos = curPos;
        }
        return (double[])_lastPos.Clone();
    }

    public void Move(IReadOnlyList<double> newpos, double speed)
    {
        double factor = GetZFactor(newpos[2]);
        if (_zMesh is null || factor == 0.0)
        {
            double z = newpos[2];
            if (_logFadeComplete)
            {
                _logFadeComplete = false;
                _printer.Log?.Invoke($"bed_mesh fade complete: Current Z: {PyFmt.F(z, 4)} fade_target: {PyFmt.F(_fadeTarget, 4)} ");
            }
            var pos = newpos.ToArray();
            pos[2] = z + _fadeTarget;
            _toolhead!.Move(pos, speed);
        }
        else
        {
            _splitter.BuildMove(_lastPos, newpos, factor);
            while (!_splitter.TraverseComplete)
            {
                var splitMove = _splitter.Split();
                if (splitMove is null || splitMove.Length == 0)
                    throw _gcode.Error("Mesh Leveling: Error splitting move ");
                _toolhead!.Move(splitMove, speed);
            }
        }
        _lastPos = newpos.ToArray();
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _status;

    /// <summary>Rebuilds the status dictionary.</summary>
    public void UpdateStatus()
    {
        _status = new()
        {
            ["profile_name"] = "",
            ["mesh_min"] = new[] { 0.0, 0.0 },
            ["mesh_max"] = new[] { 0.0, 0.0 },
            ["probed_matrix"] = new List<List<double>> { new() },
            ["mesh_matrix"] = new List<List<double>> { new() },
            ["profiles"] = Pmgr.GetProfiles(),
        };
        if (_zMesh is not null)
        {
            var p = _zMesh.MeshParams;
            _status["profile_name"] = _zMesh.ProfileName;
            _status["mesh_min"] = new[] { p.GetDouble("min_x"), p.GetDouble("min_y") };
            _status["mesh_max"] = new[] { p.GetDouble("max_x"), p.GetDouble("max_y") };
            _status["probed_matrix"] = _zMesh.GetProbedMatrix();
            _status["mesh_matrix"] = _zMesh.GetMeshMatrix();
        }
    }

    /// <summary>The active mesh, or null.</summary>
    public ZMesh? GetMesh() => _zMesh;

    /// <summary>Saves the active mesh as a profile.</summary>
    public void SaveProfile(string name) => Pmgr.SaveProfile(name);

    private void CmdBedMeshOutput(GCodeCommand gcmd)
    {
        if (gcmd.GetInt("PGP", 0) != 0)
            Bmc.PrintGeneratedPoints(m => gcmd.RespondInfo(m));
        else if (_zMesh is null)
            gcmd.RespondInfo("Bed has not been probed");
        else
        {
            _zMesh.PrintProbedMatrix(m => gcmd.RespondInfo(m));
            _zMesh.PrintMesh(gcmd.RespondRaw, _horizontalMoveZ);
        }
    }

    private void CmdBedMeshMap(GCodeCommand gcmd)
    {
        if (_zMesh is null)
        {
            gcmd.RespondInfo("Bed has not been probed");
            return;
        }
        var p = _zMesh.MeshParams;
        static string Json(IEnumerable<double> v) => "[" + string.Join(", ", v.Select(PyFmt.S)) + "]";
        string zpos = "[" + string.Join(", ", _zMesh.GetProbedMatrix().Select(Json)) + "]";
        gcmd.RespondRaw("mesh_map_output {\"mesh_min\": " + Json([p.GetDouble("min_x"), p.GetDouble("min_y")])
            + ", \"mesh_max\": " + Json([p.GetDouble("max_x"), p.GetDouble("max_y")])
            + ", \"z_positions\": " + zpos + "}");
    }

    private void CmdBedMeshClear(GCodeCommand gcmd) => SetMesh(null);

    private void CmdBedMeshOffset(GCodeCommand gcmd)
    {
        if (_zMesh is null)
        {
            gcmd.RespondInfo("No mesh loaded to offset");
            return;
        }
        double?[] offsets = [gcmd.GetFloatOrNull("X"), gcmd.GetFloatOrNull("Y")];
        _zMesh.SetMeshOffsets(offsets);
        double? toolOffset = gcmd.GetFloatOrNull("ZFADE");
        if (toolOffset is not null)
            _toolOffset = toolOffset.Value;
        _printer.LookupObject<GCodeMove>("gcode_move").ResetLastPosition();
    }
}

/// <summary>Mesh parameters in upstream's insertion order (x_count, ..., min_x, ...).</summary>
public sealed class MeshParams
{
    private readonly OrderedDictionary<string, object> _values = new();

    public object this[string key]
    {
        get => _values[key];
        set => _values[key] = value;
    }

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public IEnumerable<KeyValuePair<string, object>> Items => _values;

    public double GetDouble(string key) => _values[key] switch
    {
        double d => d,
        int i => i,
        var o => Convert.ToDouble(o, CultureInfo.InvariantCulture),
    };

    public int GetInt(string key) => _values[key] switch
    {
        int i => i,
        var o => Convert.ToInt32(o, CultureInfo.InvariantCulture),
    };

    public string GetString(string key) => (string)_values[key];

    public MeshParams Copy()
    {
        var c = new MeshParams();
        foreach (var kv in _values)
            c[kv.Key] = kv.Value;
        return c;
    }

    /// <summary>A status/JSON friendly copy.</summary>
    public Dictionary<string, object?> ToDictionary() => _values.ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
}

/// <summary>BED_MESH_CALIBRATE: generates probe points and builds a mesh from the results (upstream BedMeshCalibrate).</summary>
public sealed class BedMeshCalibrate
{
    public const string CmdBedMeshCalibrateHelp = "Perform Mesh Bed Leveling";
    private static readonly string[] Algos = ["lagrange", "bicubic"];

    private readonly Printer _printer;
    private readonly Dictionary<string, object?> _origConfig = new() { ["radius"] = null, ["origin"] = null };
    private double? _radius;
    private (double X, double Y)? _origin;
    private (double X, double Y) _meshMin, _meshMax;
    private readonly double _adaptiveMargin;
    private readonly BedMesh _bedmesh;
    private readonly MeshParams _meshConfig = new();
    private readonly ProbeManager _probeMgr;
    private string? _profileName;
    private readonly GCodeDispatch _gcode;

    public BedMeshCalibrate(ConfigWrapper config, BedMesh bedmesh)
    {
        _printer = config.GetPrinter();
        _adaptiveMargin = config.GetFloat("adaptive_margin", 0.0);
        _bedmesh = bedmesh;
        InitMeshConfig(config);
        _probeMgr = new ProbeManager(config, _origConfig, ProbeFinalize);
        try
        {
            _probeMgr.GeneratePoints(_meshConfig, _meshMin, _meshMax, _radius, _origin);
        }
        catch (BedMeshError e)
        {
            throw config.Error(e.Message);
        }
        _profileName = "default";
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("BED_MESH_CALIBRATE", CmdBedMeshCalibrate, desc: CmdBedMeshCalibrateHelp);
    }

    /// <summary>The generated probe points and mesh settings (for tests and tools).</summary>
    public ProbeManager ProbeMgr => _probeMgr;

    /// <summary>Prints the generated points table (BED_MESH_OUTPUT PGP=1).</summary>
    public void PrintGeneratedPoints(Action<string> printFunc, bool truncate = false)
    {
        double xOffset = 0.0, yOffset = 0.0;
        var probe = _printer.TryLookupObject<IPrinterProbe>("probe");
        if (probe is not null)
            (xOffset, yOffset, _) = probe.GetOffsets();
        printFunc("bed_mesh: generated points\nIndex |  Tool Adjusted  |   Probe");
        var points = _probeMgr.GetBasePoints();
        for (int i = 0; i < points.Count; i++)
        {
            var (x, y) = points[i];
            if (i >= 50 && truncate)
            {
                printFunc($"...points {i} through {points.Count - 1} truncated");
                break;
            }
            string adjPt = $"({PyFmt.F(x - xOffset, 1)}, {PyFmt.F(y - yOffset, 1)})";
            string meshPt = $"({PyFmt.F(x, 1)}, {PyFmt.F(y, 1)})";
            printFunc($"  {i.ToString(CultureInfo.InvariantCulture),-4}| {adjPt,-16}| {meshPt}");
        }
        var zeroRef = _probeMgr.GetZeroRefPos();
        if (zeroRef is not null)
            printFunc($"bed_mesh: zero_reference_position is ({PyFmt.F(zeroRef[0], 2)}, {PyFmt.F(zeroRef[1], 2)})");
        var substitutes = _probeMgr.GetSubstitutes();
        if (substitutes.Count > 0)
        {
            printFunc("bed_mesh: faulty region points");
            foreach (var (i, v) in substitutes)
            {
                var pt = points[i];
                string subs = "[" + string.Join(", ", v.Select(c => BedMeshUtil.Tuple(c.X, c.Y))) + "]";
                printFunc($"{i} ({PyFmt.F(pt.X, 2)}, {PyFmt.F(pt.Y, 2)}), substituted points: {subs}");
            }
        }
    }

    private void InitMeshConfig(ConfigWrapper config)
    {
        int xCnt, yCnt;
        double minX, minY, maxX, maxY;
        _radius = config.GetFloatOrNull("mesh_radius", above: 0.0);
        if (_radius is not null)
        {
            var origin = config.GetFloatList("mesh_origin", [0.0, 0.0], count: 2);
            _origin = (origin[0], origin[1]);
            xCnt = yCnt = config.GetInt("round_probe_count", 5, minval: 3);
            if ((xCnt & 1) == 0)
                throw config.Error("bed_mesh: probe_count must be odd for round beds");
            // The radius keeps 0.1mm precision
            _radius = Math.Floor(_radius.Value * 10) / 10;
            _origConfig["radius"] = _radius;
            _origConfig["origin"] = _origin;
            minX = minY = -_radius.Value;
            maxX = maxY = _radius.Value;
        }
        else
        {
            (xCnt, yCnt) = BedMeshUtil.ParseConfigPair(config, "probe_count", 3, minval: 3);
            var mn = config.GetFloatList("mesh_min", count: 2);
            var mx = config.GetFloatList("mesh_max", count: 2);
            (minX, minY, maxX, maxY) = (mn[0], mn[1], mx[0], mx[1]);
            if (maxX <= minX || maxY <= minY)
                throw config.Error("bed_mesh: invalid min/max points");
        }
        _origConfig["x_count"] = xCnt;
        _meshConfig["x_count"] = xCnt;
        _origConfig["y_count"] = yCnt;
        _meshConfig["y_count"] = yCnt;
        _origConfig["mesh_min"] = _meshMin = (minX, minY);
        _origConfig["mesh_max"] = _meshMax = (maxX, maxY);
        var pps = BedMeshUtil.ParseConfigPair(config, "mesh_pps", 2, minval: 0);
        _origConfig["mesh_x_pps"] = pps.Item1;
        _meshConfig["mesh_x_pps"] = pps.Item1;
        _origConfig["mesh_y_pps"] = pps.Item2;
        _meshConfig["mesh_y_pps"] = pps.Item2;
        string algo = PyFormat.Strip(config.Get("algorithm", "lagrange")).ToLowerInvariant();
        _origConfig["algo"] = algo;
        _meshConfig["algo"] = algo;
        double tension = config.GetFloat("bicubic_tension", .2, minval: 0.0, maxval: 2.0);
        _origConfig["tension"] = tension;
        _meshConfig["tension"] = tension;
        VerifyAlgorithm(m => config.Error(m));
    }

    private void VerifyAlgorithm(Func<string, Exception> error)
    {
        var p = _meshConfig;
        int xPps = p.GetInt("mesh_x_pps"), yPps = p.GetInt("mesh_y_pps");
        string algo = p.GetString("algo");
        if (!Algos.Contains(algo))
            throw error($"bed_mesh: Unknown algorithm <{algo}>");
        int xCount = p.GetInt("x_count"), yCount = p.GetInt("y_count");
        int maxProbeCnt = Math.Max(xCount, yCount);
        int minProbeCnt = Math.Min(xCount, yCount);
        if (Math.Max(xPps, yPps) == 0)
        {
            p["algo"] = "direct";
        }
        else if (algo == "lagrange" && maxProbeCnt > 6)
        {
            throw error($"bed_mesh: cannot exceed a probe_count of 6 when using lagrange interpolation. Configured Probe Count: {xCount}, {yCount}");
        }
        else if (algo == "bicubic" && minProbeCnt < 4)
        {
            if (maxProbeCnt > 6)
                throw error($"bed_mesh: invalid probe_count option when using bicubic interpolation.  Combination of 3 points on one axis with more than 6 on another is not permitted. Configured Probe Count: {xCount}, {yCount}");
            _printer.Log?.Invoke($"bed_mesh: bicubic interpolation with a probe_count of less than 4 points detected.  Forcing lagrange interpolation. Configured Probe Count: {xCount}, {yCount}");
            p["algo"] = "lagrange";
        }
    }

    private bool SetAdaptiveMesh(GCodeCommand gcmd)
    {
        if (gcmd.GetInt("ADAPTIVE", 0) == 0)
            return false;
        var excludeObjects = _printer.TryLookupObject<ExcludeObject>("exclude_object");
        if (excludeObjects is null)
        {
            gcmd.RespondInfo("Exclude objects not enabled. Using full mesh...");
            return false;
        }
        var objects = excludeObjects.GetObjects();
        if (objects.Count == 0)
            return false;
        double margin = gcmd.GetFloat("ADAPTIVE_MARGIN", _adaptiveMargin);
        var xs = new List<double>();
        var ys = new List<double>();
        gcmd.RespondInfo($"Found {objects.Count} objects");
        foreach (var obj in objects)
        {
            foreach (var point in obj.Polygon)
            {
                xs.Add(point[0]);
                ys.Add(point[1]);
            }
        }
        var origMin = ((double X, double Y))_origConfig["mesh_min"]!;
        var origMax = ((double X, double Y))_origConfig["mesh_max"]!;
        double[] adjMin = [PyMinOf(xs) - margin, PyMinOf(ys) - margin];
        double[] adjMax = [PyMaxOf(xs) + margin, PyMaxOf(ys) + margin];
        adjMin[0] = BedMeshUtil.PyMax(adjMin[0], origMin.X);
        adjMin[1] = BedMeshUtil.PyMax(adjMin[1], origMin.Y);
        adjMax[0] = BedMeshUtil.PyMin(adjMax[0], origMax.X);
        adjMax[1] = BedMeshUtil.PyMin(adjMax[1], origMax.Y);
        double sizeX = adjMax[0] - adjMin[0], sizeY = adjMax[1] - adjMin[1];
        double ratioX = sizeX / (origMax.X - origMin.X);
        double ratioY = sizeY / (origMax.Y - origMin.Y);
        gcmd.RespondInfo($"Original mesh bounds: ({BedMeshUtil.Tuple(origMin.X, origMin.Y)},{BedMeshUtil.Tuple(origMax.X, origMax.Y)})");
        gcmd.RespondInfo($"Original probe count: ({_meshConfig.GetInt("x_count")},{_meshConfig.GetInt("y_count")})");
        gcmd.RespondInfo($"Adapted mesh bounds: ({BedMeshUtil.List(adjMin)},{BedMeshUtil.List(adjMax)})");
        gcmd.RespondInfo($"Ratio: ({PyFmt.S(ratioX)}, {PyFmt.S(ratioY)})");
        int newX = (int)Math.Ceiling(_meshConfig.GetInt("x_count") * ratioX);
        int newY = (int)Math.Ceiling(_meshConfig.GetInt("y_count") * ratioY);
        // Avoid 3 points on one axis with more than 6 on the other (see VerifyAlgorithm)
        int minNumOfProbes = 3;
        if (Math.Max(newX, newY) > 6 && Math.Min(newX, newY) < 4)
            minNumOfProbes = 4;
        newX = Math.Max(minNumOfProbes, newX);
        newY = Math.Max(minNumOfProbes, newY);
        gcmd.RespondInfo($"Adapted probe count: ({newX},{newY})");
        sizeX = BedMeshUtil.PyMax(sizeX, newX);
        sizeY = BedMeshUtil.PyMax(sizeY, newY);
        if (_radius is not null)
        {
            double adaptedRadius = Math.Sqrt(sizeX * sizeX + sizeY * sizeY) / 2;
            (double X, double Y) adaptedOrigin = (adjMin[0] + sizeX / 2, adjMin[1] + sizeY / 2);
            double toAdaptedOrigin = Math.Sqrt(adaptedOrigin.X * adaptedOrigin.X + adaptedOrigin.Y * adaptedOrigin.Y);
            if (adaptedRadius + toAdaptedOrigin < _radius)
            {
                _radius = adaptedRadius;
                _origin = adaptedOrigin;
                _meshMin = (-adaptedRadius, -adaptedRadius);
                _meshMax = (adaptedRadius, adaptedRadius);
                int newProbeCount = Math.Max(newX, newY);
                // Round meshes need an odd count
                newProbeCount += 1 - (newProbeCount % 2);
                _meshConfig["x_count"] = newProbeCount;
                _meshConfig["y_count"] = newProbeCount;
            }
        }
        else
        {
            _meshMin = (adjMin[0], adjMin[1]);
            _meshMax = (adjMax[0], adjMax[1]);
            _meshConfig["x_count"] = newX;
            _meshConfig["y_count"] = newY;
        }
        _profileName = null;
        return true;
    }

    private static double PyMinOf(List<double> v)
    {
        double r = v[0];
        for (int i = 1; i < v.Count; i++)
            r = BedMeshUtil.PyMin(r, v[i]);
        return r;
    }

    private static double PyMaxOf(List<double> v)
    {
        double r = v[0];
        for (int i = 1; i < v.Count; i++)
            r = BedMeshUtil.PyMax(r, v[i]);
        return r;
    }

    private void UpdateConfig(GCodeCommand gcmd)
    {
        _radius = (double?)_origConfig["radius"];
        _origin = ((double X, double Y)?)_origConfig["origin"];
        _meshMin = ((double X, double Y))_origConfig["mesh_min"]!;
        _meshMax = ((double X, double Y))_origConfig["mesh_max"]!;
        foreach (var key in _meshConfig.Items.Select(kv => kv.Key).ToList())
            _meshConfig[key] = _origConfig[key]!;
        var prms = gcmd.GetCommandParameters();
        bool needCfgUpdate = false;
        if (_radius is not null)
        {
            if (prms.ContainsKey("MESH_RADIUS"))
            {
                _radius = Math.Floor(gcmd.GetFloat("MESH_RADIUS") * 10) / 10;
                _meshMin = (-_radius.Value, -_radius.Value);
                _meshMax = (_radius.Value, _radius.Value);
                needCfgUpdate = true;
            }
            if (prms.ContainsKey("MESH_ORIGIN"))
            {
                _origin = BedMeshUtil.ParseGcmdCoord(gcmd, "MESH_ORIGIN");
                needCfgUpdate = true;
            }
            if (prms.ContainsKey("ROUND_PROBE_COUNT"))
            {
                int cnt = gcmd.GetInt("ROUND_PROBE_COUNT", minval: 3);
                _meshConfig["x_count"] = cnt;
                _meshConfig["y_count"] = cnt;
                needCfgUpdate = true;
            }
        }
        else
        {
            if (prms.ContainsKey("MESH_MIN"))
            {
                _meshMin = BedMeshUtil.ParseGcmdCoord(gcmd, "MESH_MIN");
                needCfgUpdate = true;
            }
            if (prms.ContainsKey("MESH_MAX"))
            {
                _meshMax = BedMeshUtil.ParseGcmdCoord(gcmd, "MESH_MAX");
                needCfgUpdate = true;
            }
            if (prms.ContainsKey("PROBE_COUNT"))
            {
                var (xCnt, yCnt) = BedMeshUtil.ParseGcmdPair(gcmd, "PROBE_COUNT", minval: 3);
                _meshConfig["x_count"] = xCnt;
                _meshConfig["y_count"] = yCnt;
                needCfgUpdate = true;
            }
        }
        if (prms.ContainsKey("MESH_PPS"))
        {
            var (xpps, ypps) = BedMeshUtil.ParseGcmdPair(gcmd, "MESH_PPS", minval: 0);
            _meshConfig["mesh_x_pps"] = xpps;
            _meshConfig["mesh_y_pps"] = ypps;
            needCfgUpdate = true;
        }
        if (prms.ContainsKey("ALGORITHM"))
        {
            _meshConfig["algo"] = PyFormat.Strip(gcmd.Get("ALGORITHM")).ToLowerInvariant();
            needCfgUpdate = true;
        }
        needCfgUpdate |= SetAdaptiveMesh(gcmd);
        string probeMethod = gcmd.Get("METHOD", "automatic");
        if (needCfgUpdate)
        {
            VerifyAlgorithm(m => gcmd.Error(m));
            _probeMgr.GeneratePoints(_meshConfig, _meshMin, _meshMax, _radius, _origin, probeMethod);
            _printer.Log?.Invoke("Updated Mesh Configuration:\n"
                + string.Join("\n", _meshConfig.Items.Select(kv => $"{kv.Key}: {BedMeshUtil.Str(kv.Value)}")));
        }
        else
        {
            _probeMgr.GeneratePoints(_meshConfig, _meshMin, _meshMax, _radius, _origin, probeMethod);
        }
    }

    private void CmdBedMeshCalibrate(GCodeCommand gcmd)
    {
        _profileName = gcmd.Get("PROFILE", "default");
        if (PyFormat.Strip(_profileName).Length == 0)
            throw gcmd.Error("Value for parameter 'PROFILE' must be specified");
        _bedmesh.SetMesh(null);
        try
        {
            UpdateConfig(gcmd);
        }
        catch (BedMeshError e)
        {
            throw gcmd.Error(e.Message);
        }
        _probeMgr.StartProbe(gcmd);
    }

    /// <summary>Builds a mesh from probe results (upstream probe_finalize).</summary>
    public string? ProbeFinalize(IReadOnlyList<ProbeResult> results)
    {
        double zOffset = 0.0;
        var positions = results.Select(p => new[] { PyFmt.Round(p.BedX, 2), PyFmt.Round(p.BedY, 2), p.BedZ }).ToList();
        if (_probeMgr.GetZeroRefMode() == ZrefMode.Probe)
        {
            var refPos = positions[^1];
            positions.RemoveAt(positions.Count - 1);
            _printer.Log?.Invoke($"bed_mesh: z-offset replaced with probed z value at position ({PyFmt.F(refPos[0], 2)}, {PyFmt.F(refPos[1], 2)}, {PyFmt.F(refPos[2], 6)})");
            zOffset = refPos[2];
        }
        var basePoints = _probeMgr.GetBasePoints();
        var prms = _meshConfig.Copy();
        prms["min_x"] = MinBy(basePoints, p => p.X).X;
        prms["max_x"] = MaxBy(basePoints, p => p.X).X;
        prms["min_y"] = MinBy(basePoints, p => p.Y).Y;
        prms["max_y"] = MaxBy(basePoints, p => p.Y).Y;
        int xCnt = prms.GetInt("x_count");
        int yCnt = prms.GetInt("y_count");
        var substitutes = _probeMgr.GetSubstitutes();
        if (substitutes.Count > 0)
        {
            // Each faulty point takes the average z of its substitute samples
            var corrected = new List<double[]>();
            int idxOffset = 0, startIdx = 0;
            foreach (var (i, pts) in substitutes)
            {
                var fpt = new double[3];
                fpt[0] = basePoints[i].X;
                fpt[1] = basePoints[i].Y;
                int idx = i + idxOffset;
                corrected.AddRange(positions.Skip(startIdx).Take(Math.Max(0, idx - startIdx)));
                double sum = 0;
                foreach (var p in positions.Skip(idx).Take(pts.Count))
                    sum += p[2];
                double avgZ = sum / pts.Count;
                idxOffset += pts.Count - 1;
                startIdx = idx + pts.Count;
                fpt[2] = avgZ;
                _printer.Log?.Invoke($"bed_mesh: Replacing value at faulty index {i} ({PyFmt.F(fpt[0], 4)}, {PyFmt.F(fpt[1], 4)}): avg value = {PyFmt.F(avgZ, 6)}, avg w/ z_offset = {PyFmt.F(avgZ - zOffset, 6)}");
                corrected.Add(fpt);
            }
            corrected.AddRange(positions.Skip(startIdx));
            positions = corrected;
        }
        if (basePoints.Count != positions.Count)
            throw _gcode.Error($"bed_mesh: invalid position list size, generated count: {basePoints.Count}, probed count: {positions.Count}");
        var probedMatrix = new List<List<double>>();
        var row = new List<double>();
        var prevPos = basePoints[0];
        for (int k = 0; k < basePoints.Count; k++)
        {
            var pos = basePoints[k];
            var result = positions[k];
            if (!BedMeshUtil.IsClose(pos.X, result[0], absTol: .5) || !BedMeshUtil.IsClose(pos.Y, result[1], absTol: .5))
                _printer.Log?.Invoke($"bed_mesh: point deviation > .5mm: orig pt = ({PyFmt.F(pos.X, 2)}, {PyFmt.F(pos.Y, 2)}), probed pt = ({PyFmt.F(result[0], 2)}, {PyFmt.F(result[1], 2)})");
            double zPos = result[2] - zOffset;
            if (!BedMeshUtil.IsClose(pos.Y, prevPos.Y, absTol: .1))
            {
                probedMatrix.Add(row);
                row = new List<double>();
            }
            if (pos.X > prevPos.X)
                row.Add(zPos);
            else
                row.Insert(0, zPos);
            prevPos = pos;
        }
        probedMatrix.Add(row);
        if (probedMatrix.Count != yCnt)
            throw _gcode.Error($"bed_mesh: Invalid y-axis table length\nProbed table length: {probedMatrix.Count} Probed Table:\n{MatrixRepr(probedMatrix)}");
        if (_radius is not null)
        {
            // Round bed: pad each row with its end values to make a square mesh
            foreach (var r in probedMatrix)
            {
                int rowSize = r.Count;
                if ((rowSize & 1) == 0)
                    throw _gcode.Error("bed_mesh: incorrect number of points sampled on X\nProbed Table:\n" + MatrixRepr(probedMatrix));
                int bufCnt = (xCnt - rowSize) / 2;
                if (bufCnt == 0)
                    continue;
                double left = r[0], right = r[rowSize - 1];
                r.InsertRange(0, Enumerable.Repeat(left, bufCnt));
                r.AddRange(Enumerable.Repeat(right, bufCnt));
            }
        }
        foreach (var r in probedMatrix)
        {
            if (r.Count != xCnt)
                throw _gcode.Error($"bed_mesh: invalid x-axis table length\nProbed table length: {probedMatrix.Count} Probed Table:\n{MatrixRepr(probedMatrix)}");
        }
        var zMesh = new ZMesh(prms, _profileName);
        try
        {
            zMesh.BuildMesh(probedMatrix);
        }
        catch (BedMeshError e)
        {
            throw _gcode.Error(e.Message);
        }
        if (_probeMgr.GetZeroRefMode() == ZrefMode.InMesh)
        {
            var zr = _probeMgr.GetZeroRefPos()!;
            zMesh.SetZeroReference(zr[0], zr[1]);
        }
        _bedmesh.SetMesh(zMesh);
        _gcode.RespondInfo("Mesh Bed Leveling Complete");
        if (_profileName is not null)
            _bedmesh.SaveProfile(_profileName);
        return null;
    }

    private static (double X, double Y) MinBy(IReadOnlyList<(double X, double Y)> pts, Func<(double X, double Y), double> key)
    {
        var best = pts[0];
        foreach (var p in pts)
            if (key(p) < key(best))
                best = p;
        return best;
    }

    private static (double X, double Y) MaxBy(IReadOnlyList<(double X, double Y)> pts, Func<(double X, double Y), double> key)
    {
        var best = pts[0];
        foreach (var p in pts)
            if (key(p) > key(best))
                best = p;
        return best;
    }

    internal static string MatrixRepr(IEnumerable<IEnumerable<double>> m) =>
        "[" + string.Join(", ", m.Select(BedMeshUtil.List)) + "]";
}

/// <summary>Generates the probe points and runs the probing (upstream bed_mesh.ProbeManager).</summary>
public sealed class ProbeManager
{
    private readonly Printer _printer;
    private readonly double _cfgOvershoot;
    private readonly Dictionary<string, object?> _origConfig;
    private readonly List<(double[] Min, double[] Max)> _faultyRegions = new();
    private double _overshoot;
    private readonly IReadOnlyList<double>? _zeroRefPos;
    private ZrefMode _zrefMode = ZrefMode.Disabled;
    private List<(double X, double Y)> _basePoints = new();
    private readonly SortedDictionary<int, List<(double X, double Y)>> _substitutes = new();
    private readonly ProbePointsHelper _probeHelper;
    private readonly RapidScanHelper _rapidScanHelper;

    public ProbeManager(ConfigWrapper config, Dictionary<string, object?> origConfig, Func<IReadOnlyList<ProbeResult>, string?> finalizeCb)
    {
        _printer = config.GetPrinter();
        _cfgOvershoot = config.GetFloat("scan_overshoot", 0, minval: 1.0);
        _origConfig = origConfig;
        _overshoot = _cfgOvershoot;
        _zeroRefPos = config.GetFloatListOrNull("zero_reference_position", count: 2);
        IsRound = origConfig["radius"] is not null;
        _probeHelper = new ProbePointsHelper(config, finalizeCb, []);
        _probeHelper.UseXyOffsets(true);
        _rapidScanHelper = new RapidScanHelper(config, this, finalizeCb);
        InitFaultyRegions(config);
    }

    /// <summary>True for a round bed (mesh_radius).</summary>
    public bool IsRound { get; }

    /// <summary>The extra travel beyond the mesh used by rapid scans.</summary>
    public double Overshoot => _overshoot;

    private void InitFaultyRegions(ConfigWrapper config)
    {
        for (int i = 1; i < 100; i++)
        {
            var start = config.GetFloatListOrNull($"faulty_region_{i}_min", count: 2);
            if (start is null)
                break;
            var end = config.GetFloatList($"faulty_region_{i}_max", count: 2);
            // c1 = min corner, c3 = max corner
            double[] c1 = [BedMeshUtil.PyMin(start[0], end[0]), BedMeshUtil.PyMin(start[1], end[1])];
            double[] c3 = [BedMeshUtil.PyMax(start[0], end[0]), BedMeshUtil.PyMax(start[1], end[1])];
            double[] c2 = [c1[0], c3[1]];
            double[] c4 = [c3[0], c1[1]];
            for (int j = 0; j < _faultyRegions.Count; j++)
            {
                var (prevC1, prevC3) = _faultyRegions[j];
                double[] prevC2 = [prevC1[0], prevC3[1]];
                double[] prevC4 = [prevC3[0], prevC1[1]];
                foreach (var coord in new[] { prevC1, prevC2, prevC3, prevC4 })
                {
                    if (BedMeshUtil.Within(coord, c1, c3))
                        throw config.Error($"bed_mesh: Existing faulty_region_{j + 1} {Region(prevC1, prevC3)} overlaps added faulty_region_{i} {Region(c1, c3)}");
                }
                foreach (var coord in new[] { c1, c2, c3, c4 })
                {
                    if (BedMeshUtil.Within(coord, prevC1, prevC3))
                        throw config.Error($"bed_mesh: Added faulty_region_{i} {Region(c1, c3)} overlaps existing faulty_region_{j + 1} {Region(prevC1, prevC3)}");
                }
            }
            _faultyRegions.Add((c1, c3));
        }
    }

    private static string Region(double[] a, double[] b) => $"[{BedMeshUtil.List(a)}, {BedMeshUtil.List(b)}]";

    /// <summary>Probes the generated points, or scans them in one pass with an eddy current probe (METHOD=rapid_scan).</summary>
    public void StartProbe(GCodeCommand gcmd)
    {
        string method = gcmd.Get("METHOD", "automatic").ToLowerInvariant();
        bool canScan = false;
        var pprobe = _printer.TryLookupObject<IPrinterProbe>("probe");
        if (pprobe is IStatusProvider sp && sp.GetStatus(0.0).TryGetValue("name", out var n) && n is string probeName)
            canScan = probeName.StartsWith("probe_eddy_current", StringComparison.Ordinal);
        if (method == "rapid_scan" && canScan)
            _rapidScanHelper.PerformRapidScan(gcmd);
        else
            _probeHelper.StartProbe(gcmd);
    }

    public IReadOnlyList<double>? GetZeroRefPos() => _zeroRefPos;

    public ZrefMode GetZeroRefMode() => _zrefMode;

    public SortedDictionary<int, List<(double X, double Y)>> GetSubstitutes() => _substitutes;

    /// <summary>Generates the zig-zag probe points for a mesh (upstream generate_points).</summary>
    public void GeneratePoints(MeshParams meshConfig, (double X, double Y) meshMin, (double X, double Y) meshMax,
        double? radius, (double X, double Y)? origin, string probeMethod = "automatic")
    {
        int xCnt = meshConfig.GetInt("x_count");
        int yCnt = meshConfig.GetInt("y_count");
        var (minX, minY) = meshMin;
        var (maxX, maxY) = meshMax;
        double xDist = (maxX - minX) / (xCnt - 1);
        double yDist = (maxY - minY) / (yCnt - 1);
        // Floor distances to the next hundredth
        xDist = Math.Floor(xDist * 100) / 100;
        yDist = Math.Floor(yDist * 100) / 100;
        if (xDist < 1.0 || yDist < 1.0)
            throw new BedMeshError("bed_mesh: min/max points too close together");
        if (radius is not null)
        {
            // Round bed: recompute min/max from the spacing
            yDist = xDist;
            double newR = (xCnt / 2) * xDist;
            minX = minY = -newR;
            maxX = maxY = newR;
        }
        else
        {
            maxX = minX + xDist * (xCnt - 1);
        }
        double posY = minY;
        var points = new List<(double X, double Y)>();
        for (int i = 0; i < yCnt; i++)
        {
            for (int j = 0; j < xCnt; j++)
            {
                double posX = (i % 2) == 0 ? minX + j * xDist : maxX - j * xDist;
                if (radius is null)
                {
                    points.Add((posX, posY));
                }
                else
                {
                    double distFromOrigin = Math.Sqrt(posX * posX + posY * posY);
                    if (distFromOrigin <= radius.Value)
                        points.Add((origin!.Value.X + posX, origin.Value.Y + posY));
                }
            }
            posY += yDist;
        }
        double[] mMin = [meshMin.X, meshMin.Y], mMax = [meshMax.X, meshMax.Y];
        if (_zeroRefPos is null || probeMethod == "manual")
            _zrefMode = ZrefMode.Disabled;
        else if (BedMeshUtil.Within(_zeroRefPos, mMin, mMax))
            _zrefMode = ZrefMode.InMesh;
        else
            _zrefMode = ZrefMode.Probe;
        _basePoints = points;
        _substitutes.Clear();
        var ogMin = ((double X, double Y))_origConfig["mesh_min"]!;
        var ogMax = ((double X, double Y))_origConfig["mesh_max"]!;
        double addOvs = BedMeshUtil.PyMin(BedMeshUtil.PyMax(0, minX - ogMin.X), BedMeshUtil.PyMax(0, ogMax.X - maxX));
        _overshoot = _cfgOvershoot + Math.Floor(addOvs);
        ProcessFaultyRegions([minX, minY], [maxX, maxY], radius);
        _probeHelper.UpdateProbePoints(GetStdPath(), 3);
    }

    private void ProcessFaultyRegions(double[] minPt, double[] maxPt, double? radius)
    {
        if (_faultyRegions.Count == 0)
            return;
        if (_zrefMode == ZrefMode.Probe)
        {
            foreach (var (minC, maxC) in _faultyRegions)
            {
                if (BedMeshUtil.Within(_zeroRefPos!, minC, maxC))
                    throw new BedMeshError($"bed_mesh: Cannot probe zero reference position at ({PyFmt.F(_zeroRefPos![0], 2)}, {PyFmt.F(_zeroRefPos[1], 2)}) as it is located within a faulty region. Check the value for option 'zero_reference_position'");
            }
        }
        double lastY = _basePoints[0].Y;
        bool isReversed = false;
        for (int i = 0; i < _basePoints.Count; i++)
        {
            var coord = _basePoints[i];
            if (!BedMeshUtil.IsClose(coord.Y, lastY))
                isReversed = !isReversed;
            lastY = coord.Y;
            List<(double X, double Y)>? adjCoords = null;
            double[] c = [coord.X, coord.Y];
            foreach (var (minC, maxC) in _faultyRegions)
            {
                if (BedMeshUtil.Within(c, minC, maxC, tol: .00001))
                {
                    adjCoords = [(minC[0], coord.Y), (coord.X, minC[1]), (coord.X, maxC[1]), (maxC[0], coord.Y)];
                    if (isReversed)
                        (adjCoords[0], adjCoords[^1]) = (adjCoords[^1], adjCoords[0]);
                    break;
                }
            }
            if (adjCoords is null)
                continue;
            var validCoords = new List<(double X, double Y)>();
            foreach (var ac in adjCoords)
            {
                if (radius is null)
                {
                    if (BedMeshUtil.Within([ac.X, ac.Y], minPt, maxPt, .000001))
                        validCoords.Add(ac);
                }
                else
                {
                    double distFromOrigin = Math.Sqrt(ac.X * ac.X + ac.Y * ac.Y);
                    if (distFromOrigin <= radius.Value)
                        validCoords.Add(ac);
                }
            }
            if (validCoords.Count == 0)
                throw new BedMeshError($"bed_mesh: Unable to generate coordinates for faulty region at index: {i}");
            _substitutes[i] = validCoords;
        }
    }

    public IReadOnlyList<(double X, double Y)> GetBasePoints() => _basePoints;

    /// <summary>The points to probe in order, with faulty points replaced by their substitutes.</summary>
    public List<IReadOnlyList<double>> GetStdPath()
    {
        var path = new List<IReadOnlyList<double>>();
        for (int idx = 0; idx < _basePoints.Count; idx++)
        {
            if (_substitutes.TryGetValue(idx, out var subs))
            {
                foreach (var s in subs)
                    path.Add(new[] { s.X, s.Y });
            }
            else
            {
                path.Add(new[] { _basePoints[idx].X, _basePoints[idx].Y });
            }
        }
        if (_zrefMode == ZrefMode.Probe)
            path.Add(_zeroRefPos!.ToArray());
        return path;
    }
    /// <summary>The travel path of a rapid scan: (point, is a sample point) pairs (upstream iter_rapid_path).</summary>
    public IEnumerable<((double X, double Y) Pt, bool IsSample)> IterRapidPath()
    {
        bool ascndX = true;
        var lastBasePt = _basePoints[0];
        var lastMvPt = lastBasePt;
        if (_overshoot != 0)
        {
            double overshoot = BedMeshUtil.PyMin(8, _overshoot);
            lastMvPt = (lastBasePt.X - overshoot, lastBasePt.Y);
            yield return (lastMvPt, false);
        }
        for (int idx = 0; idx < _basePoints.Count; idx++)
        {
            var pt = _basePoints[idx];
            // A change in Y reverses the X direction
            bool dirChange = !BedMeshUtil.IsClose(pt.Y, lastBasePt.Y, absTol: 1e-6);
            if (_substitutes.ContainsKey(idx))
            {
                foreach (var (subPt, isSmp) in GenFaultyPath(lastMvPt, idx, ascndX, dirChange))
                {
                    yield return (subPt, isSmp);
                    lastMvPt = subPt;
                }
            }
            else
            {
                if (dirChange)
                    foreach (var dpt in GenDirChange(lastMvPt, pt, ascndX))
                        yield return (dpt, false);
                yield return (pt, true);
                lastMvPt = pt;
            }
            lastBasePt = pt;
            ascndX ^= dirChange;
        }
        if (_zrefMode == ZrefMode.Probe)
        {
            if (_overshoot != 0)
            {
                double ovs = BedMeshUtil.PyMin(4, _overshoot);
                ovs = ascndX ? ovs : -ovs;
                yield return ((lastMvPt.X + ovs, lastMvPt.Y), false);
            }
            yield return ((_zeroRefPos![0], _zeroRefPos[1]), true);
        }
    }

    private IEnumerable<((double X, double Y) Pt, bool IsSample)> GenFaultyPath((double X, double Y) lastPt, int idx, bool ascndX, bool dirChange)
    {
        var subs = _substitutes[idx];
        int subCnt = subs.Count;
        if (dirChange)
            foreach (var dpt in GenDirChange(lastPt, subs[0], ascndX))
                yield return (dpt, false);
        if (IsRound)
        {
            // Round beds get no faulty region path handling
            foreach (var p in subs)
                yield return (p, true);
            yield break;
        }
        bool firstCorner = false;
        var sortedSubIdx = _substitutes.Keys.ToList();
        if (subCnt == 2 && idx < sortedSubIdx.Count)
            firstCorner = sortedSubIdx[idx] == idx;
        yield return (subs[0], true);
        if (subCnt == 1)
            yield break;
        lastPt = subs[0];
        var nextPt = subs[1];
        if (subCnt == 2)
        {
            if (firstCorner || dirChange)
                yield return ((nextPt.X, lastPt.Y), false);
            else
                yield return ((lastPt.X, nextPt.Y), false);
            yield return (nextPt, true);
            yield break;
        }
        if (dirChange)
        {
            // Switch up: another direction change when there is overshoot, else 2 mm inward then up
            if (_overshoot != 0)
            {
                foreach (var dpt in GenDirChange(lastPt, nextPt, ascndX))
                    yield return (dpt, false);
            }
            else
            {
                double shift = ascndX ? -2 : 2;
                yield return ((lastPt.X + shift, lastPt.Y), false);
                yield return ((lastPt.X + shift, nextPt.Y), false);
            }
            yield return (nextPt, true);
            (lastPt, nextPt) = (subs[1], subs[2]);
        }
        else
        {
            yield return ((lastPt.X, nextPt.Y), false);
            yield return (nextPt, true);
            (lastPt, nextPt) = (subs[1], subs[2]);
            if (subCnt == 4)
            {
                double shift = ascndX ? 2 : -2;
                yield return ((lastPt.X + shift, lastPt.Y), false);
                yield return ((nextPt.X - shift, nextPt.Y), false);
                yield return (nextPt, true);
                (lastPt, nextPt) = (subs[2], subs[3]);
            }
        }
        yield return ((nextPt.X, lastPt.Y), false);
        yield return (nextPt, true);
    }

    private IEnumerable<(double X, double Y)> GenDirChange((double X, double Y) lastPt, (double X, double Y) nextPt, bool ascndX)
    {
        if (_overshoot == 0)
            yield break;
        int xdir = ascndX ? 1 : -1;
        double overshoot = _overshoot >= 3.0 ? 2.0 : _overshoot;
        (double X, double Y) ovrPt = (lastPt.X + overshoot * xdir, lastPt.Y);
        yield return ovrPt;
        if (_overshoot < 3.0)
        {
            // No room for an arc: move straight to the next row
            yield return (nextPt.X + overshoot * xdir, nextPt.Y);
            yield break;
        }
        const int stepAngle = 3;
        const int startAngle = 270;
        double ydiff = Math.Abs(nextPt.Y - lastPt.Y);
        double xdiff = Math.Abs(nextPt.X - lastPt.X);
        double maxRadius = BedMeshUtil.PyMin(_overshoot - 2, 8);
        double radius = BedMeshUtil.PyMin(ydiff / 2, maxRadius);
        (double X, double Y) origin = (ovrPt.X, lastPt.Y + radius);
        double nextOriginY = nextPt.Y - radius;
        int angle;
        if (xdiff < .01)
        {
            // Aligned on the x axis: a single arc may complete the move
            angle = 90;
            if (nextOriginY - origin.Y < .05)
                angle = 180;
        }
        else
        {
            angle = (int)(Math.Atan(ydiff / xdiff) * (180.0 / Math.PI));
            if ((ascndX && nextPt.X < lastPt.X) || (!ascndX && nextPt.X > lastPt.X))
                angle = 180 - angle;
        }
        int count = angle / stepAngle;
        int step = stepAngle * xdir;
        int start = startAngle + step;
        foreach (var arcPt in GenArc(origin, radius, start, step, count))
            yield return arcPt;
        if (angle == 180)
            yield break;
        origin = (nextPt.X + overshoot * xdir, nextOriginY);
        start = startAngle + count * step;
        // A full 180 degrees plus the repeated connecting angle
        count = 61 - count;
        foreach (var arcPt in GenArc(origin, radius, start, step, count))
            yield return arcPt;
    }

    private static IEnumerable<(double X, double Y)> GenArc((double X, double Y) origin, double radius, int start, int step, int count)
    {
        int end = start + step * count;
        // One segment per 3 degrees of travel (Python range semantics)
        for (int angle = start; step > 0 ? angle < end : angle > end; angle += step)
        {
            double rad = PyMod(angle, 360) * (Math.PI / 180.0);
            double opp = Math.Sin(rad) * radius;
            double adj = Math.Cos(rad) * radius;
            yield return (origin.X + adj, origin.Y + opp);
        }
    }

    private static int PyMod(int a, int m) => ((a % m) + m) % m;
}

/// <summary>Scans the mesh in one continuous pass with a probe that samples while moving (upstream bed_mesh.RapidScanHelper).</summary>
public sealed class RapidScanHelper
{
    private const double MaxHitDist = 2.0;
    private const double MmWinSpeed = 125;

    private readonly Printer _printer;
    private readonly ProbeManager _probeManager;
    private readonly double _speed;
    private readonly double _scanHeight;
    private readonly Func<IReadOnlyList<ProbeResult>, string?> _finalizeCallback;

    public RapidScanHelper(ConfigWrapper config, ProbeManager probeMgr, Func<IReadOnlyList<ProbeResult>, string?> finalizeCb)
    {
        _printer = config.GetPrinter();
        _probeManager = probeMgr;
        _speed = config.GetFloat("speed", 50.0, above: 0.0);
        _scanHeight = config.GetFloat("horizontal_move_z", 5.0);
        _finalizeCallback = finalizeCb;
    }

    public void PerformRapidScan(GCodeCommand gcmd)
    {
        double speed = gcmd.GetFloat("SCAN_SPEED", _speed);
        double scanHeight = gcmd.GetFloat("HORIZONTAL_MOVE_Z", _scanHeight);
        gcmd.RespondInfo($"Beginning rapid surface scan at height {PyFmt.F(scanHeight, 2)}...");
        var pprobe = _printer.LookupObject<IPrinterProbe>("probe");
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        // Samples within hit_dist of a point count; the window shrinks less at low speeds
        double scale = BedMeshUtil.PyMax(0, 1 - speed / MmWinSpeed) + 1;
        double hitDist = BedMeshUtil.PyMin(MaxHitDist, scale * speed / MmWinSpeed);
        double halfWindow = hitDist / speed;
        gcmd.RespondInfo($"Sample hit distance +/- {PyFmt.F(hitDist, 4)}mm, time window +/- ms {PyFmt.F(halfWindow * 1000, 4)}");
        gcmd.GetCommandParameters()["SAMPLE_TIME"] = PyFmt.S(halfWindow * 2);
        RaiseTool(gcmd, scanHeight);
        var probeSession = pprobe.StartProbeSession(gcmd);
        var offsets = pprobe.GetOffsets(gcmd);
        bool initialMove = true;
        foreach (var (pos, isProbePt) in _probeManager.IterRapidPath())
        {
            toolhead.ManualMove([pos.X - offsets.X, pos.Y - offsets.Y], speed);
            if (initialMove)
            {
                initialMove = false;
                MoveToScanHeight(gcmd, scanHeight);
            }
            if (isProbePt)
                probeSession.RunProbe(gcmd);
        }
        var results = probeSession.PullProbedResults().Cast<ProbeResult>().ToList();
        toolhead.GetLastMoveTime();
        _finalizeCallback(results);
        probeSession.EndProbeSession();
    }

    private void RaiseTool(GCodeCommand gcmd, double scanHeight)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pprobe = _printer.LookupObject<IPrinterProbe>("probe");
        var curPos = toolhead.GetPosition();
        if (curPos[2] >= scanHeight)
            return;
        double liftSpeed = pprobe.GetProbeParams(gcmd).LiftSpeed;
        curPos[2] = _scanHeight + .5;
        toolhead.ManualMove(curPos.Select(v => (double?)v).ToList(), liftSpeed);
    }

    private void MoveToScanHeight(GCodeCommand gcmd, double scanHeight)
    {
        double timeWindow = gcmd.GetFloat("SAMPLE_TIME");
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pprobe = _printer.LookupObject<IPrinterProbe>("probe");
        var curPos = toolhead.GetPosition();
        var pparams = pprobe.GetProbeParams(gcmd);
        curPos[2] = scanHeight + .5;
        toolhead.ManualMove(curPos.Select(v => (double?)v).ToList(), pparams.LiftSpeed);
        curPos[2] = scanHeight;
        toolhead.ManualMove(curPos.Select(v => (double?)v).ToList(), pparams.ProbeSpeed);
        toolhead.Dwell(timeWindow / 2 + .01);
    }
}

/// <summary>Splits a move into pieces so the mesh z correction follows the surface (upstream bed_mesh.MoveSplitter).</summary>
public sealed class MoveSplitter
{
    private readonly double _splitDeltaZ;
    private readonly double _moveCheckDistance;
    private readonly GCodeDispatch _gcode;
    private ZMesh? _zMesh;
    private double _fadeOffset;
    private double[] _prevPos = [];
    private double[] _nextPos = [];
    private double[] _currentPos = [];
    private double _zFactor;
    private double _zOffset;
    private double _distanceChecked;
    private double _totalMoveLength;
    private bool[] _axisMove = [];

    public MoveSplitter(ConfigWrapper config, GCodeDispatch gcode)
    {
        _splitDeltaZ = config.GetFloat("split_delta_z", .025, minval: 0.01);
        _moveCheckDistance = config.GetFloat("move_check_distance", 5.0, minval: 3.0);
        _gcode = gcode;
    }

    /// <summary>True once the last piece of the current move was returned.</summary>
    public bool TraverseComplete { get; private set; }

    public void Initialize(ZMesh? mesh, double fadeOffset)
    {
        _zMesh = mesh;
        _fadeOffset = fadeOffset;
    }

    public void BuildMove(IReadOnlyList<double> prevPos, IReadOnlyList<double> nextPos, double factor)
    {
        _prevPos = prevPos.ToArray();
        _nextPos = nextPos.ToArray();
        _currentPos = prevPos.ToArray();
        _zFactor = factor;
        _zOffset = CalcZOffset(_prevPos);
        TraverseComplete = false;
        _distanceChecked = 0.0;
        int n = Math.Min(_nextPos.Length, _prevPos.Length);
        var axesD = new double[n];
        for (int i = 0; i < n; i++)
            axesD[i] = _nextPos[i] - _prevPos[i];
        double sq = 0;
        for (int i = 0; i < Math.Min(3, n); i++)
            sq += axesD[i] * axesD[i];
        _totalMoveLength = Math.Sqrt(sq);
        _axisMove = axesD.Select(d => !BedMeshUtil.IsClose(d, 0.0, absTol: 1e-10)).ToArray();
    }

    private double CalcZOffset(double[] pos)
    {
        double z = _zMesh!.CalcZ(pos[0], pos[1]);
        double offset = _fadeOffset;
        return _zFactor * (z - offset) + offset;
    }

    private void SetNextMove(double distanceFromPrev)
    {
        double t = distanceFromPrev / _totalMoveLength;
        if (t > 1.0 || t < 0.0)
            throw _gcode.Error("bed_mesh: Slice distance is negative or greater than entire move length");
        for (int i = 0; i < _nextPos.Length; i++)
        {
            if (_axisMove[i])
                _currentPos[i] = BedMeshUtil.Lerp(t, _prevPos[i], _nextPos[i]);
        }
    }

    /// <summary>The next piece of the move, or null when the move is complete.</summary>
    public double[]? Split()
    {
        if (TraverseComplete)
            return null;
        if (_axisMove[0] || _axisMove[1])
        {
            // X/Y move: look ahead along it for z changes
            while (_distanceChecked + _moveCheckDistance < _totalMoveLength)
            {
                _distanceChecked += _moveCheckDistance;
                SetNextMove(_distanceChecked);
                double nextZ = CalcZOffset(_currentPos);
                if (Math.Abs(nextZ - _zOffset) >= _splitDeltaZ)
                {
                    _zOffset = nextZ;
                    var newpos = (double[])_currentPos.Clone();
                    newpos[2] += _zOffset;
                    return newpos;
                }
            }
        }
        // End of the move
        _currentPos = (double[])_nextPos.Clone();
        _zOffset = CalcZOffset(_currentPos);
        _currentPos[2] += _zOffset;
        TraverseComplete = true;
        return (double[])_currentPos.Clone();
    }
}

/// <summary>An interpolated height map (upstream bed_mesh.ZMesh).</summary>
public sealed class ZMesh
{
    private static int _nextId = 0x7f0000;

    private List<List<double>>? _probedMatrix;
    private List<List<double>>? _meshMatrix;
    private readonly double[] _meshOffsets = [0.0, 0.0];
    private readonly double _meshXMin, _meshXMax, _meshYMin, _meshYMax;
    private readonly int _meshXCount, _meshYCount;
    private readonly int _xMult, _yMult;
    private readonly double _meshXDist, _meshYDist;

    public ZMesh(MeshParams prms, string? name)
    {
        ProfileName = name ?? $"adaptive-{Interlocked.Increment(ref _nextId):X}";
        MeshParams = prms;
        _meshXMin = prms.GetDouble("min_x");
        _meshXMax = prms.GetDouble("max_x");
        _meshYMin = prms.GetDouble("min_y");
        _meshYMax = prms.GetDouble("max_y");
        int xPps = prms.GetInt("mesh_x_pps");
        int yPps = prms.GetInt("mesh_y_pps");
        int pxCnt = prms.GetInt("x_count");
        int pyCnt = prms.GetInt("y_count");
        _meshXCount = (pxCnt - 1) * xPps + pxCnt;
        _meshYCount = (pyCnt - 1) * yPps + pyCnt;
        _xMult = xPps + 1;
        _yMult = yPps + 1;
        _meshXDist = (_meshXMax - _meshXMin) / (_meshXCount - 1);
        _meshYDist = (_meshYMax - _meshYMin) / (_meshYCount - 1);
    }

    public string ProfileName { get; }

    public MeshParams MeshParams { get; }

    public int MeshXCount => _meshXCount;

    public int MeshYCount => _meshYCount;

    private static List<List<double>> Rounded(List<List<double>>? m) =>
        m is null ? [new()] : m.Select(line => line.Select(z => PyFmt.Round(z, 6)).ToList()).ToList();

    /// <summary>The interpolated matrix, rounded to 6 places.</summary>
    public List<List<double>> GetMeshMatrix() => Rounded(_meshMatrix);

    /// <summary>The probed matrix, rounded to 6 places.</summary>
    public List<List<double>> GetProbedMatrix() => Rounded(_probedMatrix);

    /// <summary>The unrounded interpolated matrix (null before BuildMesh).</summary>
    public IReadOnlyList<IReadOnlyList<double>>? RawMeshMatrix => _meshMatrix;

    public void PrintProbedMatrix(Action<string> printFunc)
    {
        if (_probedMatrix is null)
        {
            printFunc("bed_mesh: bed has not been probed");
            return;
        }
        var sb = new StringBuilder("Mesh Leveling Probed Z positions:\n");
        foreach (var line in _probedMatrix)
        {
            foreach (var x in line)
                sb.Append(' ').Append(PyFmt.F(x, 6));
            sb.Append('\n');
        }
        printFunc(sb.ToString());
    }

    public void PrintMesh(Action<string> printFunc, double? moveZ = null)
    {
        var matrix = GetMeshMatrix();
        var sb = new StringBuilder();
        sb.Append($"Mesh X,Y: {_meshXCount},{_meshYCount}\n");
        if (moveZ is not null)
            sb.Append($"Search Height: {(long)Math.Truncate(moveZ.Value)}\n");
        sb.Append($"Mesh Offsets: X={PyFmt.F(_meshOffsets[0], 4)}, Y={PyFmt.F(_meshOffsets[1], 4)}\n");
        sb.Append($"Mesh Average: {PyFmt.F(GetZAverage(), 2)}\n");
        var rng = GetZRange();
        sb.Append($"Mesh Range: min={PyFmt.F(rng.Min, 4)} max={PyFmt.F(rng.Max, 4)}\n");
        sb.Append($"Interpolation Algorithm: {MeshParams.GetString("algo")}\n");
        sb.Append("Measured points:\n");
        for (int yLine = _meshYCount - 1; yLine >= 0; yLine--)
        {
            foreach (var z in matrix[yLine])
                sb.Append("  ").Append(PyFmt.F(z, 6));
            sb.Append('\n');
        }
        printFunc(sb.ToString());
    }

    /// <summary>Stores the probed matrix and interpolates the full mesh.</summary>
    public void BuildMesh(List<List<double>> zMatrix)
    {
        _probedMatrix = zMatrix;
        switch (MeshParams.GetString("algo"))
        {
            case "lagrange":
                SampleLagrange(zMatrix);
                break;
            case "bicubic":
                SampleBicubic(zMatrix);
                break;
            case "direct":
                _meshMatrix = zMatrix;
                break;
            default:
                throw new InvalidOperationException("bed_mesh: unknown interpolation algorithm");
        }
    }

    /// <summary>Shifts both matrices so the mesh is zero at (xpos, ypos).</summary>
    public void SetZeroReference(double xpos, double ypos)
    {
        double offset = CalcZ(xpos, ypos);
        foreach (var matrix in new[] { _probedMatrix!, _meshMatrix! })
        {
            // The matrices may be the same object (direct sampling), as upstream
            foreach (var row in matrix)
                for (int x = 0; x < row.Count; x++)
                    row[x] -= offset;
        }
    }

    public void SetMeshOffsets(IReadOnlyList<double?> offsets)
    {
        for (int i = 0; i < offsets.Count; i++)
            if (offsets[i] is double o)
                _meshOffsets[i] = o;
    }

    private double GetXCoordinate(int index) => _meshXMin + _meshXDist * index;

    private double GetYCoordinate(int index) => _meshYMin + _meshYDist * index;

    /// <summary>The interpolated z correction at (x, y).</summary>
    public double CalcZ(double x, double y)
    {
        if (_meshMatrix is null)
            return 0.0;
        var tbl = _meshMatrix;
        var (tx, xidx) = GetLinearIndex(x + _meshOffsets[0], 0);
        var (ty, yidx) = GetLinearIndex(y + _meshOffsets[1], 1);
        double z0 = BedMeshUtil.Lerp(tx, tbl[yidx][xidx], tbl[yidx][xidx + 1]);
        double z1 = BedMeshUtil.Lerp(tx, tbl[yidx + 1][xidx], tbl[yidx + 1][xidx + 1]);
        return BedMeshUtil.Lerp(ty, z0, z1);
    }

    public (double Min, double Max) GetZRange()
    {
        if (_meshMatrix is null)
            return (0.0, 0.0);
        double mn = double.NaN, mx = double.NaN;
        bool first = true;
        foreach (var row in _meshMatrix)
        {
            double rmn = row[0], rmx = row[0];
            for (int i = 1; i < row.Count; i++)
            {
                rmn = BedMeshUtil.PyMin(rmn, row[i]);
                rmx = BedMeshUtil.PyMax(rmx, row[i]);
            }
            if (first)
            {
                (mn, mx, first) = (rmn, rmx, false);
                continue;
            }
            mn = BedMeshUtil.PyMin(mn, rmn);
            mx = BedMeshUtil.PyMax(mx, rmx);
        }
        return (mn, mx);
    }

    /// <summary>The mesh average rounded to 0.01 (so it suits common z step distances).</summary>
    public double GetZAverage()
    {
        if (_meshMatrix is null)
            return 0.0;
        double total = 0;
        int count = 0;
        foreach (var row in _meshMatrix)
        {
            double s = 0;
            foreach (var v in row)
                s += v;
            total += s;
            count += row.Count;
        }
        return PyFmt.Round(total / count, 2);
    }

    private (double T, int Idx) GetLinearIndex(double coord, int axis)
    {
        double meshMin, meshDist;
        int meshCnt;
        if (axis == 0)
            (meshMin, meshCnt, meshDist) = (_meshXMin, _meshXCount, _meshXDist);
        else
            (meshMin, meshCnt, meshDist) = (_meshYMin, _meshYCount, _meshYDist);
        double fl = Math.Floor((coord - meshMin) / meshDist);
        long idx = fl >= long.MaxValue ? long.MaxValue : fl <= long.MinValue ? long.MinValue : (long)fl;
        idx = Math.Min(meshCnt - 2, Math.Max(0, idx));
        int i = (int)idx;
        double t = (coord - (axis == 0 ? GetXCoordinate(i) : GetYCoordinate(i))) / meshDist;
        return (BedMeshUtil.Constrain(t, 0.0, 1.0), i);
    }

    private List<List<double>> InitialMatrix(List<List<double>> zMatrix)
    {
        var m = new List<List<double>>(_meshYCount);
        for (int j = 0; j < _meshYCount; j++)
        {
            var row = new List<double>(_meshXCount);
            for (int i = 0; i < _meshXCount; i++)
                row.Add((i % _xMult) != 0 || (j % _yMult) != 0 ? 0.0 : zMatrix[j / _yMult][i / _xMult]);
            m.Add(row);
        }
        return m;
    }

    private void SampleLagrange(List<List<double>> zMatrix)
    {
        _meshMatrix = InitialMatrix(zMatrix);
        var xpts = new double[MeshParams.GetInt("x_count")];
        for (int i = 0; i < xpts.Length; i++)
            xpts[i] = GetXCoordinate(i * _xMult);
        var ypts = new double[MeshParams.GetInt("y_count")];
        for (int j = 0; j < ypts.Length; j++)
            ypts[j] = GetYCoordinate(j * _yMult);
        // Rows with probed points first, along X
        for (int i = 0; i < _meshYCount; i++)
        {
            if (i % _yMult != 0)
                continue;
            for (int j = 0; j < _meshXCount; j++)
            {
                if (j % _xMult == 0)
                    continue;
                _meshMatrix[i][j] = CalcLagrange(xpts, GetXCoordinate(j), i, 0);
            }
        }
        // Then every column along Y
        for (int i = 0; i < _meshXCount; i++)
        {
            for (int j = 0; j < _meshYCount; j++)
            {
                if (j % _yMult == 0)
                    continue;
                _meshMatrix[j][i] = CalcLagrange(ypts, GetYCoordinate(j), i, 1);
            }
        }
    }

    private double CalcLagrange(double[] lpts, double c, int vec, int axis)
    {
        int ptCnt = lpts.Length;
        double total = 0.0;
        for (int i = 0; i < ptCnt; i++)
        {
            double n = 1.0, d = 1.0;
            for (int j = 0; j < ptCnt; j++)
            {
                if (j == i)
                    continue;
                n *= c - lpts[j];
                d *= lpts[i] - lpts[j];
            }
            double z = axis == 0 ? _meshMatrix![vec][i * _xMult] : _meshMatrix![i * _yMult][vec];
            total += z * n / d;
        }
        return total;
    }

    private void SampleBicubic(List<List<double>> zMatrix)
    {
        double c = MeshParams.GetDouble("tension");
        _meshMatrix = InitialMatrix(zMatrix);
        for (int y = 0; y < _meshYCount; y++)
        {
            if (y % _yMult != 0)
                continue;
            for (int x = 0; x < _meshXCount; x++)
            {
                if (x % _xMult == 0)
                    continue;
                _meshMatrix[y][x] = CardinalSpline(GetXCtlPts(x, y), c);
            }
        }
        for (int x = 0; x < _meshXCount; x++)
        {
            for (int y = 0; y < _meshYCount; y++)
            {
                if (y % _yMult == 0)
                    continue;
                _meshMatrix[y][x] = CardinalSpline(GetYCtlPts(x, y), c);
            }
        }
    }

    private (double P0, double P1, double P2, double P3, double T) GetXCtlPts(int x, int y)
    {
        int xMult = _xMult;
        var xRow = _meshMatrix![y];
        int lastPt = _meshXCount - 1 - xMult;
        if (x < xMult)
            return (xRow[0], xRow[0], xRow[xMult], xRow[2 * xMult], x / (double)xMult);
        if (x > lastPt)
            return (xRow[lastPt - xMult], xRow[lastPt], xRow[lastPt + xMult], xRow[lastPt + xMult], (x - lastPt) / (double)xMult);
        for (int i = xMult; i < lastPt; i += xMult)
        {
            if (x > i && x < i + xMult)
                return (xRow[i - xMult], xRow[i], xRow[i + xMult], xRow[i + 2 * xMult], (x - i) / (double)xMult);
        }
        throw new BedMeshError("bed_mesh: Error finding x control points");
    }

    private (double P0, double P1, double P2, double P3, double T) GetYCtlPts(int x, int y)
    {
        int yMult = _yMult;
        int lastPt = _meshYCount - 1 - yMult;
        var yCol = _meshMatrix!;
        if (y < yMult)
            return (yCol[0][x], yCol[0][x], yCol[yMult][x], yCol[2 * yMult][x], y / (double)yMult);
        if (y > lastPt)
            return (yCol[lastPt - yMult][x], yCol[lastPt][x], yCol[lastPt + yMult][x], yCol[lastPt + yMult][x], (y - lastPt) / (double)yMult);
        for (int i = yMult; i < lastPt; i += yMult)
        {
            if (y > i && y < i + yMult)
                return (yCol[i - yMult][x], yCol[i][x], yCol[i + yMult][x], yCol[i + 2 * yMult][x], (y - i) / (double)yMult);
        }
        throw new BedMeshError("bed_mesh: Error finding y control points");
    }

    private static double CardinalSpline((double P0, double P1, double P2, double P3, double T) p, double tension)
    {
        double t = p.T;
        double t2 = t * t;
        double t3 = t2 * t;
        double m1 = tension * (p.P2 - p.P0);
        double m2 = tension * (p.P3 - p.P1);
        double a = p.P1 * (2 * t3 - 3 * t2 + 1);
        double b = p.P2 * (-2 * t3 + 3 * t2);
        double c = m1 * (t3 - 2 * t2 + t);
        double d = m2 * (t3 - t2);
        return a + b + c + d;
    }
}

/// <summary>Stored mesh profiles and BED_MESH_PROFILE (upstream bed_mesh.ProfileManager).</summary>
public sealed class ProfileManager
{
    public const int ProfileVersion = 1;
    public const string CmdBedMeshProfileHelp = "Bed Mesh Persistent Storage management";

    private static readonly (string Key, char Type)[] ProfileOptions =
    [
        ("min_x", 'f'), ("max_x", 'f'), ("min_y", 'f'), ("max_y", 'f'),
        ("x_count", 'i'), ("y_count", 'i'), ("mesh_x_pps", 'i'), ("mesh_y_pps", 'i'),
        ("algo", 's'), ("tension", 'f'),
    ];

    private readonly string _name;
    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly BedMesh _bedmesh;
    private Dictionary<string, (List<List<double>> Points, MeshParams Params)> _profiles = new();
    private readonly List<string> _incompatibleProfiles = new();

    public ProfileManager(ConfigWrapper config, BedMesh bedmesh)
    {
        _name = config.Name;
        _printer = config.GetPrinter();
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _bedmesh = bedmesh;
        foreach (var profile in config.GetPrefixSections(_name))
        {
            if (profile.Name == _name)
                continue;
            int sp = profile.Name.IndexOf(' ');
            string name = sp < 0 ? "" : profile.Name[(sp + 1)..];
            int version = profile.GetInt("version", 0);
            if (version != ProfileVersion)
            {
                _printer.Log?.Invoke($"bed_mesh: Profile [{name}] not compatible with this version\nof bed_mesh.  Profile Version: {version} Current Version: {ProfileVersion} ");
                _incompatibleProfiles.Add(name);
                continue;
            }
            var zvals = profile.GetFloatLists("points", innerSep: ',', outerSep: '\n')
                .Select(r => r.ToList()).ToList();
            var prms = new MeshParams();
            foreach (var (key, t) in ProfileOptions)
            {
                prms[key] = t switch
                {
                    'i' => profile.GetInt(key),
                    'f' => profile.GetFloat(key),
                    _ => profile.Get(key),
                };
            }
            _profiles[name] = (zvals, prms);
        }
        _gcode.RegisterCommand("BED_MESH_PROFILE", CmdBedMeshProfile, desc: CmdBedMeshProfileHelp);
    }

    /// <summary>The profiles as status data: name -> {points, mesh_params}.</summary>
    public Dictionary<string, object?> GetProfiles() => _profiles.ToDictionary(
        kv => kv.Key,
        kv => (object?)new Dictionary<string, object?>
        {
            ["points"] = kv.Value.Points,
            ["mesh_params"] = kv.Value.Params.ToDictionary(),
        });

    /// <summary>Names of profiles whose version does not match.</summary>
    public IReadOnlyList<string> IncompatibleProfiles => _incompatibleProfiles;

    public void SaveProfile(string profName)
    {
        var zMesh = _bedmesh.GetMesh();
        if (zMesh is null)
        {
            _gcode.RespondInfo($"Unable to save to profile [{profName}], the bed has not been probed");
            return;
        }
        var probedMatrix = zMesh.GetProbedMatrix();
        var meshParams = zMesh.MeshParams;
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        string cfgName = _name + " " + profName;
        var zValues = new StringBuilder();
        foreach (var line in probedMatrix)
        {
            zValues.Append("\n  ");
            zValues.Append(string.Join(", ", line.Select(p => PyFmt.F(p, 6))));
        }
        configfile.Set(cfgName, "version", ProfileVersion);
        configfile.Set(cfgName, "points", zValues.ToString());
        foreach (var kv in meshParams.Items)
            configfile.Set(cfgName, kv.Key, kv.Value);
        var profiles = new Dictionary<string, (List<List<double>>, MeshParams)>(_profiles)
        {
            [profName] = (probedMatrix, meshParams.Copy()),
        };
        _profiles = profiles;
        _bedmesh.UpdateStatus();
        _gcode.RespondInfo($"Bed Mesh state has been saved to profile [{profName}]\nfor the current session.  The SAVE_CONFIG command will\nupdate the printer config file and restart the printer.");
    }

    public void LoadProfile(string profName)
    {
        if (!_profiles.TryGetValue(profName, out var profile))
            throw _gcode.Error($"bed_mesh: Unknown profile [{profName}]");
        var zMesh = new ZMesh(profile.Params, profName);
        try
        {
            zMesh.BuildMesh(profile.Points.Select(r => r.ToList()).ToList());
        }
        catch (BedMeshError e)
        {
            throw _gcode.Error(e.Message);
        }
        _bedmesh.SetMesh(zMesh);
    }

    public void RemoveProfile(string profName)
    {
        if (_profiles.ContainsKey(profName))
        {
            _printer.LookupObject<PrinterConfig>("configfile").RemoveSection("bed_mesh " + profName);
            var profiles = new Dictionary<string, (List<List<double>>, MeshParams)>(_profiles);
            profiles.Remove(profName);
            _profiles = profiles;
            _bedmesh.UpdateStatus();
            _gcode.RespondInfo($"Profile [{profName}] removed from storage for this session.\nThe SAVE_CONFIG command will update the printer\nconfiguration and restart the printer");
        }
        else
        {
            _gcode.RespondInfo($"No profile named [{profName}] to remove");
        }
    }

    private void CmdBedMeshProfile(GCodeCommand gcmd)
    {
        var options = new (string Key, Action<string> Func)[]
        {
            ("LOAD", LoadProfile), ("SAVE", SaveProfile), ("REMOVE", RemoveProfile),
        };
        foreach (var (key, func) in options)
        {
            string? name = gcmd.GetOrNull(key);
            if (name is null)
                continue;
            if (PyFormat.Strip(name).Length == 0)
                throw gcmd.Error($"Value for parameter '{key}' must be specified");
            if (name == "default" && key == "SAVE")
                gcmd.RespondInfo("Profile 'default' is reserved, please choose another profile name.");
            else
                func(name);
            return;
        }
        gcmd.RespondInfo($"Invalid syntax '{gcmd.GetCommandline()}'");
    }
}
