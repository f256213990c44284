using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.Leveling;

/// <summary>z_tilt plane fit and quad_gantry_level stepper heights.</summary>
public sealed class LevelingMathTests
{
    private static ProbeResult At(double x, double y, double z) => new(x, y, z, x, y, z);

    [Fact]
    public void PlaneFitRecoversAnExactPlane()
    {
        static double Z(double x, double y) => 0.1 + 0.01 * x - 0.02 * y;
        var pts = new[] { At(50, 50, Z(50, 50)), At(50, 195, Z(50, 195)), At(195, 195, Z(195, 195)), At(195, 50, Z(195, 50)) };
        var (z, x, y) = ZTilt.FitPlane(pts);
        Assert.Equal(0.1, z, 10);
        Assert.Equal(0.01, x, 12);
        Assert.Equal(-0.02, y, 12);
    }

    [Fact]
    public void PlaneFitIsLeastSquares()
    {
        // Three points on z=0 and one at z=1 over a unit square: the fit passes 0.25 above and below
        var pts = new[] { At(0, 0, 0), At(1, 0, 0), At(0, 1, 0), At(1, 1, 1) };
        var (z, x, y) = ZTilt.FitPlane(pts);
        Assert.Equal(-0.25, z, 12);
        Assert.Equal(0.5, x, 12);
        Assert.Equal(0.5, y, 12);
    }

    [Fact]
    public void QuadGantryHeightsOfATiltedGantry()
    {
        // Probe points at the gantry corners and z = 0.001*x + 0.002*y: the heights are the plane's values
        IReadOnlyList<IReadOnlyList<double>> corners = [[0.0, 0.0], [300.0, 300.0]];
        var positions = new[] { At(0, 0, 0), At(0, 300, 0), At(300, 300, 0), At(300, 0, 0) };
        double[] zPositions = [0.0, 0.6, 0.9, 0.3];
        var h = QuadGantryLevel.CalcZHeights(positions, zPositions, corners);
        Assert.Equal(0.0, h[0], 12);
        Assert.Equal(0.6, h[1], 12);
        Assert.Equal(0.9, h[2], 12);
        Assert.Equal(0.3, h[3], 12);
    }

    [Fact]
    public void QuadGantryExtrapolatesToTheCorners()
    {
        // Probes 50 mm inside the corners of a flat, level-in-x gantry raised 1 mm along y
        IReadOnlyList<IReadOnlyList<double>> corners = [[-50.0, -50.0], [350.0, 350.0]];
        var positions = new[] { At(0, 0, 0), At(0, 300, 0), At(300, 300, 0), At(300, 0, 0) };
        double[] zPositions = [0.0, 1.0, 1.0, 0.0];
        var h = QuadGantryLevel.CalcZHeights(positions, zPositions, corners);
        Assert.Equal(-1.0 / 6, h[0], 12);
        Assert.Equal(7.0 / 6, h[1], 12);
        Assert.Equal(7.0 / 6, h[2], 12);
        Assert.Equal(-1.0 / 6, h[3], 12);
    }
}
