using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.Leveling;

/// <summary>Mesh interpolation checked against values worked out by hand.</summary>
public sealed class ZMeshTests
{
    private static MeshParams Params(int xCount, int yCount, int pps, string algo, double minX, double maxX, double minY, double maxY, double tension = 0.2)
    {
        var p = new MeshParams();
        p["x_count"] = xCount;
        p["y_count"] = yCount;
        p["mesh_x_pps"] = pps;
        p["mesh_y_pps"] = pps;
        p["algo"] = algo;
        p["tension"] = tension;
        p["min_x"] = minX;
        p["max_x"] = maxX;
        p["min_y"] = minY;
        p["max_y"] = maxY;
        return p;
    }

    private static double Quadratic(double x, double y) => 0.001 * x * x + 0.002 * y;

    [Fact]
    public void LagrangeReproducesAQuadraticSurface()
    {
        var probed = new List<List<double>>();
        foreach (double y in new[] { 0.0, 10.0, 20.0 })
            probed.Add(new[] { 0.0, 10.0, 20.0 }.Select(x => Quadratic(x, y)).ToList());
        var mesh = new ZMesh(Params(3, 3, 2, "lagrange", 0, 20, 0, 20), "test");
        mesh.BuildMesh(probed);
        Assert.Equal(7, mesh.MeshXCount);
        Assert.Equal(7, mesh.MeshYCount);
        var m = mesh.RawMeshMatrix!;
        for (int j = 0; j < 7; j++)
            for (int i = 0; i < 7; i++)
                Assert.Equal(Quadratic(i * 20.0 / 6, j * 20.0 / 6), m[j][i], 12);
        // (5, 5) lies halfway between nodes 1 and 2 on both axes: the average of four node values
        double expected = 0.001 * (100.0 / 9 + 400.0 / 9) / 2 + 0.002 * 5;
        Assert.Equal(expected, mesh.CalcZ(5, 5), 12);
        // Outside the mesh the lookup clamps to the border
        Assert.Equal(Quadratic(0, 0), mesh.CalcZ(-50, -50), 12);
        Assert.Equal(Quadratic(20, 20), mesh.CalcZ(99, 99), 12);
    }

    [Fact]
    public void BicubicCardinalSplineValues()
    {
        // z depends on x only: rows of 0, 1, 4, 9 at x = 0, 10, 20, 30
        double[] row = [0, 1, 4, 9];
        var probed = Enumerable.Range(0, 4).Select(_ => row.ToList()).ToList();
        var mesh = new ZMesh(Params(4, 4, 1, "bicubic", 0, 30, 0, 30), "test");
        mesh.BuildMesh(probed);
        // t = 0.5 spline: p1/2 + p2/2 + m1/8 - m2/8 with m = 0.2 * (difference of neighbours)
        double[] expected = [0, 0.425, 1, 2.4, 4, 6.575, 9];
        foreach (var line in mesh.RawMeshMatrix!)
            for (int i = 0; i < 7; i++)
                Assert.Equal(expected[i], line[i], 12);
        Assert.Equal(0.7125, mesh.CalcZ(7.5, 12), 12);
    }

    [Fact]
    public void DirectMeshIsTheProbedMatrix()
    {
        var probed = new List<List<double>> { new() { 0.1, 0.2, 0.3 }, new() { 0.4, 0.5, 0.6 }, new() { 0.7, 0.8, 0.9 } };
        var mesh = new ZMesh(Params(3, 3, 0, "direct", 0, 100, 0, 100), "test");
        mesh.BuildMesh(probed);
        Assert.Equal(3, mesh.MeshXCount);
        Assert.Equal(0.5, mesh.CalcZ(50, 50), 12);
        // 0.25 of the way along x between 0.1 and 0.2, on the first row
        Assert.Equal(0.125, mesh.CalcZ(12.5, 0), 12);
        Assert.Equal((0.1, 0.9), mesh.GetZRange());
        Assert.Equal(0.5, mesh.GetZAverage());
    }

    [Fact]
    public void ZeroReferenceShiftsTheMesh()
    {
        var probed = new List<List<double>> { new() { 0.1, 0.2, 0.3 }, new() { 0.4, 0.5, 0.6 }, new() { 0.7, 0.8, 0.9 } };
        var mesh = new ZMesh(Params(3, 3, 2, "lagrange", 0, 100, 0, 100), "test");
        mesh.BuildMesh(probed);
        mesh.SetZeroReference(50, 50);
        Assert.Equal(0.0, mesh.CalcZ(50, 50), 12);
        Assert.Equal(-0.4, mesh.GetProbedMatrix()[0][0], 12);
    }

    [Fact]
    public void ZeroReferenceOnADirectMeshShiftsTwice()
    {
        // As upstream: the direct mesh shares its list with the probed matrix, so both loops shift it
        var probed = new List<List<double>> { new() { 0.1, 0.2, 0.3 }, new() { 0.4, 0.5, 0.6 }, new() { 0.7, 0.8, 0.9 } };
        var mesh = new ZMesh(Params(3, 3, 0, "direct", 0, 100, 0, 100), "test");
        mesh.BuildMesh(probed);
        mesh.SetZeroReference(50, 50);
        Assert.Equal(-0.5, mesh.CalcZ(50, 50), 12);
    }

    [Fact]
    public void AverageIsRoundedToHundredths()
    {
        var probed = new List<List<double>> { new() { 0.011, 0.012, 0.013 }, new() { 0.011, 0.012, 0.013 }, new() { 0.011, 0.012, 0.013 } };
        var mesh = new ZMesh(Params(3, 3, 0, "direct", 0, 100, 0, 100), "test");
        mesh.BuildMesh(probed);
        Assert.Equal(0.01, mesh.GetZAverage());
    }

    [Fact]
    public void MeshOutputText()
    {
        var probed = new List<List<double>> { new() { 0.1, 0.2, 0.3 }, new() { 0.4, 0.5, 0.6 }, new() { 0.7, 0.8, 0.9 } };
        var mesh = new ZMesh(Params(3, 3, 0, "direct", 0, 100, 0, 100), "test");
        mesh.BuildMesh(probed);
        string? text = null;
        mesh.PrintMesh(s => text = s, 5.0);
        Assert.Equal("Mesh X,Y: 3,3\nSearch Height: 5\nMesh Offsets: X=0.0000, Y=0.0000\nMesh Average: 0.50\n"
            + "Mesh Range: min=0.1000 max=0.9000\nInterpolation Algorithm: direct\nMeasured points:\n"
            + "  0.700000  0.800000  0.900000\n  0.400000  0.500000  0.600000\n  0.100000  0.200000  0.300000\n", text);
    }
}
