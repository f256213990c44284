using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Tests.Kinematics;

public class MathUtilTests
{
    private static double[][] DeltaTowers()
    {
        double radius = 174.75;
        return new[] { 210.0, 330.0, 90.0 }.Select(a => new[]
        {
            Math.Cos(a * (Math.PI / 180.0)) * radius, Math.Sin(a * (Math.PI / 180.0)) * radius,
        }).ToArray();
    }

    [Fact]
    public void TrilaterationMatchesUpstreamBitForBit()
    {
        var towers = DeltaTowers();
        double absEs = 297.05 + Math.Sqrt(333.0 * 333.0 - 174.75 * 174.75);
        double[] arm2 = [333.0 * 333.0, 333.0 * 333.0, 333.0 * 333.0];
        var home = MathUtil.Trilateration(towers.Select(t => new[] { t[0], t[1], absEs }).ToArray(), arm2);
        Assert.Equal([-2.842170943040401e-14, 2.842170943040401e-14, 297.05], home);

        double[] drop = [10.0, 20.0, 35.5];
        var pos = MathUtil.Trilateration(towers.Select((t, i) => new[] { t[0], t[1], absEs - drop[i] }).ToArray(), arm2);
        Assert.Equal([-9.551355694996403, -21.85542471298895, 276.4167935721362], pos);
    }

    [Fact]
    public void PseudoInverseOfCoreXYWithTwoZSteppers()
    {
        double[][] m = [[1, 1, 0], [1, -1, 0], [0, 0, 1], [0, 0, 1]];
        var pinv = MathUtil.PseudoInverse(m)!;
        Assert.Equal(3, pinv.Length);
        Assert.Equal([0.5, 0.5, 0.0, 0.0], pinv[0]);
        Assert.Equal([0.5, -0.5, 0.0, 0.0], pinv[1]);
        Assert.Equal([0.0, 0.0, 0.5, 0.5], pinv[2]);
    }

    [Fact]
    public void GaussianSolveDetectsDependentAxes()
    {
        double[][] ok = [[1, 1, 0], [1, -1, 0], [0, 0, 1]];
        var mtm = MathUtil.MatMatMul(MathUtil.MatTransp(ok), ok)!;
        var res = MathUtil.GaussianSolve(mtm, [[], [], []]);
        Assert.NotNull(res);
        Assert.All(res!, r => Assert.Empty(r));

        double[][] bad = [[1, 1, 0], [2, 2, 0], [0, 0, 1]];
        var mtm2 = MathUtil.MatMatMul(MathUtil.MatTransp(bad), bad)!;
        Assert.Null(MathUtil.GaussianSolve(mtm2, [[], [], []]));
    }

    [Fact]
    public void MatMatMulRejectsMismatchedShapes()
    {
        Assert.Null(MathUtil.MatMatMul([[1, 2]], [[1, 2]]));
    }
}
