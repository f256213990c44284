using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.Kinematics;

public class GCodeArcsTests
{
    // Expected values come from upstream's planArc run on the same inputs.
    [Fact]
    public void XyArcWithAbsoluteExtrusion()
    {
        var segs = GCodeArcs.PlanArcG1Params([20.0, 20.0, 20.0, 0.0], [125.0, 32.0, 20.0], (10.5, 10.5),
            clockwise: true, 1.0, asE: 1.0, asF: null, absolutExtrude: true, 0, 1, 2);
        Assert.Equal(58, segs.Count);
        Assert.Equal([("X", 19.316352924230642), ("Y", 20.73137481092475), ("Z", 20.0), ("E", 0.017241379310344827)], segs[0]);
        Assert.Equal([("X", 18.68354110043306), ("Y", 21.50715289383583), ("Z", 20.0), ("E", 0.034482758620689655)], segs[1]);
        Assert.Equal([("X", 25.64325185097237), ("Y", 44.5325335352144), ("Z", 20.0), ("E", 0.5172413793103446)], segs[29]);
        Assert.Equal([("X", 125.0), ("Y", 32.0), ("Z", 20.0), ("E", 1.0000000000000007)], segs[57]);
    }

    [Fact]
    public void HelicalFullCircleWithRelativeExtrusion()
    {
        var segs = GCodeArcs.PlanArcG1Params([20.0, 20.0, 20.0, 0.5], [20.0, 20.0, 10.0], (10.5, 10.5),
            clockwise: true, 1.0, asE: 1.0, asF: null, absolutExtrude: false, 0, 1, 2);
        Assert.Equal(93, segs.Count);
        Assert.Equal([("X", 19.315102203846422), ("Y", 20.732806887872094), ("Z", 19.892473118279568), ("E", 0.010752688172043012)], segs[0]);
        Assert.Equal([("X", 41.348638144538455), ("Y", 40.63938116498562), ("Z", 14.946236559139784), ("E", 0.010752688172043012)], segs[46]);
        Assert.Equal([("X", 20.0), ("Y", 20.0), ("Z", 10.0), ("E", 0.010752688172043012)], segs[92]);
    }

    [Fact]
    public void XzArcCounterClockwiseWithFeedrate()
    {
        var segs = GCodeArcs.PlanArcG1Params([20.0, 20.0, 20.0, 0.0], [125.0, 20.0, 32.0], (10.5, 10.5),
            clockwise: false, 1.0, asE: null, asF: 600.0, absolutExtrude: true, 0, 2, 1);
        Assert.Equal(35, segs.Count);
        Assert.Equal([("X", 20.735180396503985), ("Y", 20.0), ("Z", 19.313029985238188), ("F", 600.0)], segs[0]);
        Assert.Equal([("X", 36.75118196074585), ("Y", 20.0), ("Z", 17.030674697905408), ("F", 600.0)], segs[17]);
        Assert.Equal([("X", 125.0), ("Y", 20.0), ("Z", 32.0), ("F", 600.0)], segs[34]);
    }
}
