using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Tests.Kinematics;

public class PureHelpersTests
{
    private sealed class FakeCarriage(string name, int axis) : ICarriage
    {
        public string GetName() => name;
        public int GetAxis() => axis;
        public GenericPrinterRail GetRail() => throw new NotSupportedException();
        public void AddStepper(KinematicStepper kinStepper) => throw new NotSupportedException();
    }

    private static readonly Dictionary<string, ICarriage> Carriages = new()
    {
        ["carriage_x"] = new FakeCarriage("carriage_x", 0),
        ["carriage_y"] = new FakeCarriage("carriage_y", 1),
        ["carriage_z"] = new FakeCarriage("carriage_z", 2),
        ["carriage_u"] = new FakeCarriage("carriage_u", 0),
    };

    private static (double[] Coeffs, List<ICarriage> Carriages) Parse(string s) =>
        KinematicStepper.ParseCarriagesString(s, Carriages, msg => new ConfigError(msg));

    [Theory]
    [InlineData("carriage_x", 1.0, 0.0, 0.0)]
    [InlineData("carriage_x+carriage_y", 1.0, 1.0, 0.0)]
    [InlineData("carriage_x-carriage_y", 1.0, -1.0, 0.0)]
    [InlineData("-carriage_x", -1.0, 0.0, 0.0)]
    [InlineData("carriage_u+carriage_y", 1.0, 1.0, 0.0)]
    [InlineData("2*carriage_x-0.5*carriage_z", 2.0, 0.0, -0.5)]
    [InlineData(" carriage_y+carriage_z ", 0.0, 1.0, 1.0)]
    public void ParsesCarriageCombinations(string s, double x, double y, double z)
    {
        var (coeffs, refs) = Parse(s);
        Assert.Equal([x, y, z], coeffs);
        Assert.NotEmpty(refs);
    }

    [Theory]
    [InlineData("carriage_x+carriage_u", "Axis 'x' was referenced multiple times by carriages in 'carriage_x+carriage_u'")]
    [InlineData("carriage_q", "Invalid 'carriage_q' carriage referenced in 'carriage_q'")]
    [InlineData("carriage_x - carriage_y", "Invalid ' carriage_y' carriage referenced in 'carriage_x - carriage_y'")]
    [InlineData("carriage_y + carriage_z", "Invalid ' carriage_z' carriage referenced in 'carriage_y + carriage_z'")]
    [InlineData("a*b*carriage_x", "Invalid term 'a*b*carriage_x' in 'a*b*carriage_x'")]
    [InlineData("two*carriage_x", "Invalid float 'two'")]
    [InlineData("", null)]
    public void RejectsBadCarriageStrings(string s, string? message)
    {
        if (message is null)
        {
            var (coeffs, refs) = Parse(s);
            Assert.Equal([0.0, 0.0, 0.0], coeffs);
            Assert.Empty(refs);
            return;
        }
        var e = Assert.Throws<ConfigError>(() => Parse(s));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void CalcMoveTimeTrapezoidAndTriangle()
    {
        Assert.Equal((1.0, 0.0, 0.25, 4.0), ForceMove.CalcMoveTime(1.0, 4.0, 0.0));
        Assert.Equal((-1.0, 0.0, 0.25, 4.0), ForceMove.CalcMoveTime(-1.0, 4.0, 0.0));
        // Long move: reaches cruise speed
        var (r, accelT, cruiseT, cruiseV) = ForceMove.CalcMoveTime(300.0, 10.0, 2000.0);
        Assert.Equal(1.0, r);
        Assert.Equal(10.0 / 2000.0, accelT);
        Assert.Equal((300.0 - accelT * 10.0) / 10.0, cruiseT);
        Assert.Equal(10.0, cruiseV);
        // Short move: speed limited to sqrt(dist * accel)
        var tri = ForceMove.CalcMoveTime(1.0, 100.0, 1.0);
        Assert.Equal(1.0, tri.CruiseV);
        Assert.Equal(1.0, tri.AccelT);
        Assert.Equal(0.0, tri.CruiseT);
    }

    [Fact]
    public void PolarDistanceToCenter()
    {
        Assert.Equal(1.0, PolarKinematics.DistanceToCenter(30, 1, -30, 1));
        Assert.Equal(Math.Sqrt(2.0), PolarKinematics.DistanceToCenter(1, 1, 10, 10));
        Assert.Equal(Math.Sqrt(200.0), PolarKinematics.DistanceToCenter(-20, -20, -10, -10));
        Assert.Equal(0.0, PolarKinematics.DistanceToCenter(30, 0, -30, 0));
    }
}
