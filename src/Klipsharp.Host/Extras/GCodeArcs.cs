using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>
/// G2/G3 arc moves (upstream extras/gcode_arcs.py, whose planner follows Marlin's
/// plan_arc): an arc in the plane chosen by G17/G18/G19, with optional helical travel on
/// the remaining axis, is split into short G1 segments of about <c>resolution</c> mm.
/// </summary>
public sealed class GCodeArcs
{
    /// <summary>The arc planes selected by G17, G18 and G19.</summary>
    public enum ArcPlane { XY = 0, XZ = 1, YZ = 2 }

    private const int XAxis = 0, YAxis = 1, ZAxis = 2, EAxis = 3;

    private readonly Printer _printer;
    private readonly double _mmPerArcSegment;
    private readonly GCodeMove _gcodeMove;
    private readonly GCodeDispatch _gcode;

    public GCodeArcs(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _mmPerArcSegment = config.GetFloat("resolution", 1.0, above: 0.0);
        _gcodeMove = _printer.LoadObject<GCodeMove>(config, "gcode_move");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        // Arcs are split into moves: step generation may go on
        _gcode.RegisterCommand("G2", CmdG2, barrierFree: true);
        _gcode.RegisterCommand("G3", CmdG3, barrierFree: true);
        _gcode.RegisterCommand("G17", CmdG17);
        _gcode.RegisterCommand("G18", CmdG18);
        _gcode.RegisterCommand("G19", CmdG19);
    }

    /// <summary>The current arc plane (XY by default, as before G17-G19 existed).</summary>
    public ArcPlane Plane { get; private set; } = ArcPlane.XY;

    public void CmdG2(GCodeCommand gcmd) => CmdInner(gcmd, true);

    public void CmdG3(GCodeCommand gcmd) => CmdInner(gcmd, false);

    public void CmdG17(GCodeCommand gcmd) => Plane = ArcPlane.XY;

    public void CmdG18(GCodeCommand gcmd) => Plane = ArcPlane.XZ;

    public void CmdG19(GCodeCommand gcmd) => Plane = ArcPlane.YZ;

    private void CmdInner(GCodeCommand gcmd, bool clockwise)
    {
        var gcodestatus = _gcodeMove.GetStatus();
        if (!(bool)gcodestatus["absolute_coordinates"]!)
            throw gcmd.Error("G2/G3 does not support relative move mode");
        var currentPos = (IReadOnlyList<double>)gcodestatus["gcode_position"]!;
        bool absolutExtrude = (bool)gcodestatus["absolute_extrude"]!;

        double[] asTarget =
        [
            gcmd.GetFloat("X", currentPos[0]),
            gcmd.GetFloat("Y", currentPos[1]),
            gcmd.GetFloat("Z", currentPos[2]),
        ];
        if (gcmd.GetFloatOrNull("R") is not null)
            throw gcmd.Error("G2/G3 does not support R moves");

        // The plane's two coordinates of the center offset, and the helical axis
        double i = gcmd.GetFloat("I", 0.0);
        double j = gcmd.GetFloat("J", 0.0);
        (double P, double Q) asPlanar = (i, j);
        (int Alpha, int Beta, int Helical) axes = (XAxis, YAxis, ZAxis);
        if (Plane == ArcPlane.XZ)
        {
            double k = gcmd.GetFloat("K", 0.0);
            asPlanar = (i, k);
            axes = (XAxis, ZAxis, YAxis);
        }
        else if (Plane == ArcPlane.YZ)
        {
            double k = gcmd.GetFloat("K", 0.0);
            asPlanar = (j, k);
            axes = (YAxis, ZAxis, XAxis);
        }
        if (asPlanar.P == 0 && asPlanar.Q == 0)
            throw gcmd.Error("G2/G3 requires IJ, IK or JK parameters");

        PlanArc(currentPos, asTarget, asPlanar, clockwise, gcmd, absolutExtrude, axes.Alpha, axes.Beta, axes.Helical);
    }

    /// <summary>
    /// The segment end points of an arc (upstream planArc without the G1 dispatch):
    /// each entry is the X, Y, Z target of one segment; the last is exactly
    /// <paramref name="targetPos"/>. <paramref name="segments"/> is the segment count.
    /// </summary>
    public static List<double[]> PlanArcCoords(IReadOnlyList<double> currentPos, double[] targetPos,
        (double P, double Q) offset, bool clockwise, double mmPerArcSegment,
        int alphaAxis, int betaAxis, int helicalAxis, out double segments)
    {
        // Radius vector from the center to the current position
        double rP = -offset.P;
        double rQ = -offset.Q;

        // Angular travel
        double centerP = currentPos[alphaAxis] - rP;
        double centerQ = currentPos[betaAxis] - rQ;
        double rtAlpha = targetPos[alphaAxis] - centerP;
        double rtBeta = targetPos[betaAxis] - centerQ;
        double angularTravel = Math.Atan2(rP * rtBeta - rQ * rtAlpha, rP * rtAlpha + rQ * rtBeta);
        if (angularTravel < 0.0)
            angularTravel += 2.0 * Math.PI;
        if (clockwise)
            angularTravel -= 2.0 * Math.PI;

        if (angularTravel == 0.0
            && currentPos[alphaAxis] == targetPos[alphaAxis]
            && currentPos[betaAxis] == targetPos[betaAxis])
        {
            // Zero rotation back to the start point means a full circle
            angularTravel = 2.0 * Math.PI;
        }

        // Number of segments
        double linearTravel = targetPos[helicalAxis] - currentPos[helicalAxis];
        double radius = Hypot(rP, rQ);
        double flatMm = radius * angularTravel;
        double mmOfTravel = linearTravel != 0 ? Hypot(flatMm, linearTravel) : Math.Abs(flatMm);
        segments = Math.Max(1.0, Math.Floor(mmOfTravel / mmPerArcSegment));

        double thetaPerSegment = angularTravel / segments;
        double linearPerSegment = linearTravel / segments;

        var res = new List<double[]>();
        for (int i = 1; i < (int)segments + 1; i++)
        {
            double distHelical = i * linearPerSegment;
            double cTheta = i * thetaPerSegment;
            double cosTi = Math.Cos(cTheta);
            double sinTi = Math.Sin(cTheta);
            rP = -offset.P * cosTi + offset.Q * sinTi;
            rQ = -offset.P * sinTi - offset.Q * cosTi;

            var c = new double[3];
            c[alphaAxis] = centerP + rP;
            c[betaAxis] = centerQ + rQ;
            c[helicalAxis] = currentPos[helicalAxis] + distHelical;
            if (i == segments)
                c = targetPos;
            res.Add(c);
        }
        return res;
    }

    // Only feeds the segment count (a floor), so ULP-level differences from CPython's
    // own hypot algorithm do not matter in practice.
    private static double Hypot(double x, double y) => double.Hypot(x, y);

    /// <summary>
    /// The G1 parameters of each arc segment (upstream planArc): X, Y, Z, then E when
    /// the arc extrudes and F when given, in that order.
    /// </summary>
    public static List<List<(string Name, double Value)>> PlanArcG1Params(IReadOnlyList<double> currentPos,
        double[] targetPos, (double P, double Q) offset, bool clockwise, double mmPerArcSegment,
        double? asE, double? asF, bool absolutExtrude, int alphaAxis, int betaAxis, int helicalAxis)
    {
        var coords = PlanArcCoords(currentPos, targetPos, offset, clockwise, mmPerArcSegment,
            alphaAxis, betaAxis, helicalAxis, out double segments);
        double ePerMove = 0.0, eBase = 0.0;
        if (asE is { } e)
        {
            if (absolutExtrude)
                eBase = currentPos[EAxis];
            ePerMove = (e - eBase) / segments;
        }
        var res = new List<List<(string, double)>>();
        foreach (var c in coords)
        {
            var g1Params = new List<(string, double)> { ("X", c[0]), ("Y", c[1]), ("Z", c[2]) };
            if (ePerMove != 0)
            {
                g1Params.Add(("E", eBase + ePerMove));
                if (absolutExtrude)
                    eBase += ePerMove;
            }
            if (asF is { } f)
                g1Params.Add(("F", f));
            res.Add(g1Params);
        }
        return res;
    }

    private void PlanArc(IReadOnlyList<double> currentPos, double[] targetPos, (double P, double Q) offset,
        bool clockwise, GCodeCommand gcmd, bool absolutExtrude, int alphaAxis, int betaAxis, int helicalAxis)
    {
        double? asE = gcmd.GetFloatOrNull("E");
        double? asF = gcmd.GetFloatOrNull("F");
        var segments = PlanArcG1Params(currentPos, targetPos, offset, clockwise, _mmPerArcSegment,
            asE, asF, absolutExtrude, alphaAxis, betaAxis, helicalAxis);
        foreach (var segment in segments)
        {
            // Each segment runs as a G1 command; floats round-trip through repr().
            var g1Params = new Dictionary<string, string>();
            foreach (var (name, value) in segment)
                g1Params[name] = PyFormat.Repr(value);
            var g1Gcmd = _gcode.CreateGCodeCommand("G1", "G1", g1Params);
            _gcodeMove.CmdG1(g1Gcmd);
        }
    }
}
