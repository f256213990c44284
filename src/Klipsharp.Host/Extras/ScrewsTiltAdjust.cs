using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[screws_tilt_adjust]: SCREWS_TILT_CALCULATE probes each screw and reports the turns needed (upstream screws_tilt_adjust.ScrewsTiltAdjust).</summary>
public sealed class ScrewsTiltAdjust : IStatusProvider
{
    public const string CmdScrewsTiltCalculateHelp = "Tool to help adjust bed leveling screws by calculating the number of turns to level it.";

    private static readonly Dictionary<string, int> Threads = new()
    {
        ["CW-M3"] = 0, ["CCW-M3"] = 1, ["CW-M4"] = 2, ["CCW-M4"] = 3,
        ["CW-M5"] = 4, ["CCW-M5"] = 5, ["CW-M6"] = 6, ["CCW-M6"] = 7,
    };

    private static readonly Dictionary<int, double> ThreadsFactor = new()
    {
        [0] = 0.5, [1] = 0.5, [2] = 0.7, [3] = 0.7, [4] = 0.8, [5] = 0.8, [6] = 1.0, [7] = 1.0,
    };

    private readonly Printer _printer;
    private readonly List<(IReadOnlyList<double> Coord, string Name)> _screws = new();
    private readonly int _thread;
    private readonly ProbePointsHelper _probeHelper;
    private readonly GCodeDispatch _gcode;
    private Dictionary<string, object?> _results = new();
    private double? _maxDiff;
    private bool _maxDiffError;
    private string? _direction;

    public ScrewsTiltAdjust(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        for (int i = 0; i < 99; i++)
        {
            string prefix = $"screw{i + 1}";
            if (config.GetOrNull(prefix) is null)
                break;
            var screwCoord = config.GetFloatList(prefix, count: 2);
            string screwName = $"screw at {PyFmt.F(screwCoord[0], 3)},{PyFmt.F(screwCoord[1], 3)}";
            screwName = config.Get(prefix + "_name", screwName);
            _screws.Add((screwCoord, screwName));
        }
        if (_screws.Count < 3)
            throw config.Error("screws_tilt_adjust: Must have at least three screws");
        _thread = config.GetChoice("screw_thread", Threads, "CW-M3");
        var points = _screws.Select(s => s.Coord).ToList();
        _probeHelper = new ProbePointsHelper(config, ProbeFinalize, points);
        _probeHelper.MinimumPoints(3);
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("SCREWS_TILT_CALCULATE", CmdScrewsTiltCalculate, desc: CmdScrewsTiltCalculateHelp);
    }

    private void CmdScrewsTiltCalculate(GCodeCommand gcmd)
    {
        _maxDiff = gcmd.GetFloatOrNull("MAX_DEVIATION");
        string? direction = gcmd.GetOrNull("DIRECTION");
        if (direction is not null)
        {
            direction = direction.ToUpperInvariant();
            if (direction is not ("CW" or "CCW"))
                throw gcmd.Error($"Error on '{gcmd.GetCommandline()}': DIRECTION must be either CW or CCW");
        }
        _direction = direction;
        _probeHelper.StartProbe(gcmd);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["error"] = _maxDiffError,
        ["max_deviation"] = _maxDiff,
        ["results"] = _results,
    };

    private string? ProbeFinalize(IReadOnlyList<ProbeResult> positions)
    {
        _results = new();
        _maxDiffError = false;
        bool isClockwiseThread = (_thread & 1) == 0;
        var screwDiff = new List<double>();
        int iBase;
        double zBase;
        if (_direction is not null)
        {
            // The lowest or highest screw is the reference
            bool useMax = (isClockwiseThread && _direction == "CW") || (!isClockwiseThread && _direction == "CCW");
            iBase = 0;
            zBase = positions[0].BedZ;
            for (int i = 1; i < positions.Count; i++)
            {
                double z = positions[i].BedZ;
                if (useMax ? z > zBase : z < zBase)
                {
                    iBase = i;
                    zBase = z;
                }
            }
        }
        else
        {
            iBase = 0;
            zBase = positions[0].BedZ;
        }
        _gcode.RespondInfo("01:20 means 1 full turn and 20 minutes, CW=clockwise, CCW=counter-clockwise");
        for (int i = 0; i < _screws.Count; i++)
        {
            double z = positions[i].BedZ;
            var (coord, name) = _screws[i];
            if (i == iBase)
            {
                _gcode.RespondInfo($"{name} (base) : x={PyFmt.F(coord[0], 1)}, y={PyFmt.F(coord[1], 1)}, z={PyFmt.F(z, 5)}");
                string baseSign = isClockwiseThread ? "CW" : "CCW";
                _results[$"screw{i + 1}"] = new Dictionary<string, object?>
                {
                    ["z"] = z, ["sign"] = baseSign, ["adjust"] = "00:00", ["is_base"] = true,
                };
                continue;
            }
            double diff = zBase - z;
            screwDiff.Add(Math.Abs(diff));
            double adjust = Math.Abs(diff) < 0.001 ? 0 : diff / ThreadsFactor.GetValueOrDefault(_thread, 0.5);
            string sign = isClockwiseThread ? (adjust >= 0 ? "CW" : "CCW") : (adjust >= 0 ? "CCW" : "CW");
            adjust = Math.Abs(adjust);
            double fullTurns = Math.Truncate(adjust);
            double decimalPart = adjust - fullTurns;
            double minutes = Math.Round(decimalPart * 60, 0, MidpointRounding.ToEven);
            string adj = $"{(long)fullTurns:00}:{(long)minutes:00}";
            _gcode.RespondInfo($"{name} : x={PyFmt.F(coord[0], 1)}, y={PyFmt.F(coord[1], 1)}, z={PyFmt.F(z, 5)} : adjust {sign} {adj}");
            _results[$"screw{i + 1}"] = new Dictionary<string, object?>
            {
                ["z"] = z, ["sign"] = sign, ["adjust"] = adj, ["is_base"] = false,
            };
        }
        if (_maxDiff is double md && md != 0 && screwDiff.Any(d => d > md))
        {
            _maxDiffError = true;
            throw _gcode.Error($"bed level exceeds configured limits ({PyFmt.S(md)}mm)! Adjust screws and restart print.");
        }
        return null;
    }
}
