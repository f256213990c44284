using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[quad_gantry_level]: QUAD_GANTRY_LEVEL conforms a gantry on four Z steppers to the bed (upstream quad_gantry_level.QuadGantryLevel).</summary>
public sealed class QuadGantryLevel : IStatusProvider
{
    public const string CmdQuadGantryLevelHelp = "Conform a moving, twistable gantry to the shape of a stationary bed";

    private readonly Printer _printer;
    private readonly RetryHelper _retryHelper;
    private readonly double _maxAdjust;
    private readonly double _horizontalMoveZ;
    private readonly ProbePointsHelper _probeHelper;
    private readonly ZAdjustStatus _zStatus;
    private readonly ZAdjustHelper _zHelper;
    private readonly IReadOnlyList<IReadOnlyList<double>> _gantryCorners;
    private readonly GCodeDispatch _gcode;

    public QuadGantryLevel(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _retryHelper = new RetryHelper(config, "Possibly Z motor numbering is wrong");
        _maxAdjust = config.GetFloat("max_adjust", 4, above: 0);
        _horizontalMoveZ = config.GetFloat("horizontal_move_z", 5.0);
        _probeHelper = new ProbePointsHelper(config, ProbeFinalize);
        if (_probeHelper.ProbePoints.Count != 4)
            throw config.Error("Need exactly 4 probe points for quad_gantry_level");
        _zStatus = new ZAdjustStatus(_printer);
        _zHelper = new ZAdjustHelper(config, 4);
        _gantryCorners = config.GetFloatLists("gantry_corners", innerSep: ',', outerSep: '\n', count: 2);
        if (_gantryCorners.Count < 2)
            throw config.Error("quad_gantry_level requires at least two gantry_corners");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("QUAD_GANTRY_LEVEL", CmdQuadGantryLevel, desc: CmdQuadGantryLevelHelp);
    }

    private void CmdQuadGantryLevel(GCodeCommand gcmd)
    {
        _zStatus.Reset();
        _retryHelper.Start(gcmd);
        _probeHelper.StartProbe(gcmd);
    }

    /// <summary>The gantry-relative heights of the four steppers for the probed points.</summary>
    public static double[] CalcZHeights(IReadOnlyList<ProbeResult> positions, IReadOnlyList<double> zPositions,
        IReadOnlyList<IReadOnlyList<double>> gantryCorners)
    {
        var slopeXpp03 = Linefit(positions[0].BedX, zPositions[0], positions[3].BedX, zPositions[3]);
        var slopeXpp12 = Linefit(positions[1].BedX, zPositions[1], positions[2].BedX, zPositions[2]);
        var slopeYs01 = Linefit(positions[0].BedY, Plot(slopeXpp03, gantryCorners[0][0]),
            positions[1].BedY, Plot(slopeXpp12, gantryCorners[0][0]));
        var slopeYs23 = Linefit(positions[0].BedY, Plot(slopeXpp03, gantryCorners[1][0]),
            positions[1].BedY, Plot(slopeXpp12, gantryCorners[1][0]));
        return
        [
            Plot(slopeYs01, gantryCorners[0][1]),
            Plot(slopeYs01, gantryCorners[1][1]),
            Plot(slopeYs23, gantryCorners[1][1]),
            Plot(slopeYs23, gantryCorners[0][1]),
        ];
    }

    private string? ProbeFinalize(IReadOnlyList<ProbeResult> positions)
    {
        // Mirror the heights so the adjustments read from the gantry's point of view
        var zPositions = positions.Select(p => _horizontalMoveZ - p.BedZ).ToList();
        _gcode.RespondInfo("Gantry-relative probe points:\n"
            + string.Join(" ", zPositions.Select((z, i) => $"{i}: {PyFmt.F(z, 6)}")) + "\n");
        var zHeight = CalcZHeights(positions, zPositions, _gantryCorners);
        string[] names = ["z", "z1", "z2", "z3"];
        _gcode.RespondInfo("Actuator Positions:\n" + string.Join(" ", names.Select((n, i) => $"{n}: {PyFmt.F(zHeight[i], 6)}")));
        double zSum = 0;
        foreach (double z in zHeight)
            zSum += z;
        double zAve = zSum / zHeight.Length;
        _gcode.RespondInfo($"Average: {PyFmt.F(zAve, 6)}");
        var zAdjust = zHeight.Select(z => zAve - z).ToList();
        double adjustMax = zAdjust.Max();
        if (adjustMax > _maxAdjust)
            throw _gcode.Error($"Aborting quad_gantry_level required adjustment {PyFmt.F(adjustMax, 6)} is greater than max_adjust {PyFmt.F(_maxAdjust, 6)}");
        double speed = _probeHelper.GetLiftSpeed();
        _zHelper.AdjustSteppers(zAdjust, speed);
        return _zStatus.CheckRetryResult(_retryHelper.CheckRetry(zPositions));
    }

    private static (double M, double B) Linefit(double x1, double y1, double x2, double y2)
    {
        if (y1 == y2)
            return (0, y1);
        double m = (y2 - y1) / (x2 - x1);
        double b = y1 - m * x1;
        return (m, b);
    }

    private static double Plot((double M, double B) f, double x) => f.M * x + f.B;

    public Dictionary<string, object?> GetStatus(double eventtime) => _zStatus.GetStatus(eventtime);
}
