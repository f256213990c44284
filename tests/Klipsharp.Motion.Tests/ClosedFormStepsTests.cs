using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests;

/// <summary>
/// The closed-form step solver (StepperKinematics.ClosedFormSteps) against upstream's
/// secant search: the same steps in the same directions, each within a clock or two.
/// </summary>
public class ClosedFormStepsTests
{
    private const double Freq = 16_000_000.0;

    private static StepCompress MakeStepCompress()
    {
        var sc = new StepCompress();
        sc.Fill(3, 0, QueueStepTag, SetDirTag);
        sc.SetTime(0.0, Freq);
        return sc;
    }

    // Steps of one stepper solved both ways over the same flush times.
    private static (List<(ulong Clock, int Dir)> Secant, List<(ulong Clock, int Dir)> ClosedForm, double SecantPos, double ClosedFormPos)
        Solve(Func<StepperKinematics> create, TrapQ tq, double stepDist, IReadOnlyList<double> flushTimes, Coord? position = null) =>
        Solve(create, tq, stepDist, flushTimes, out _, position);

    // (iterations: the secant evaluations each way)
    private static (List<(ulong Clock, int Dir)> Secant, List<(ulong Clock, int Dir)> ClosedForm, double SecantPos, double ClosedFormPos)
        Solve(Func<StepperKinematics> create, TrapQ tq, double stepDist, IReadOnlyList<double> flushTimes,
            out (long Secant, long ClosedForm) iterations, Coord? position = null)
    {
        var results = new List<(ulong, int)>[2];
        var positions = new double[2];
        var evaluations = new long[2];
        for (int i = 0; i < 2; i++)
        {
            StepperKinematics sk = create();
            sk.ClosedFormSteps = i == 1;
            sk.SetTrapQ(tq, stepDist);
            // (At the first move's start unless given)
            Coord at = position ?? tq.HeadSentinel.Next!.StartPos;
            sk.SetPosition(at.X, at.Y, at.Z);
            StepCompress sc = MakeStepCompress();
            foreach (double flushTime in flushTimes)
                Assert.True(sk.GenerateSteps(sc, flushTime) == 0, $"{(i == 1 ? "closed form" : "secant")} at flush {flushTime}: {sc.LastError?.Message}");
            Assert.Equal(0, sc.Flush(ulong.MaxValue));
            results[i] = Expand(Drain(sc.MessageQueue));
            positions[i] = sk.GetCommandedPos();
            evaluations[i] = sk.SolverIterations;
        }
        iterations = (evaluations[0], evaluations[1]);
        return (results[0], results[1], positions[0], positions[1]);
    }

    private static void AssertSameSteps(List<(ulong Clock, int Dir)> secant, List<(ulong Clock, int Dir)> closedForm, int maxClocks)
    {
        Assert.NotEmpty(secant);
        Assert.Equal(secant.Count, closedForm.Count);
        for (int i = 0; i < secant.Count; i++)
        {
            Assert.True(secant[i].Dir == closedForm[i].Dir,
                $"step {i + 1} of {secant.Count}: direction {closedForm[i].Dir}, secant {secant[i].Dir}");
            long diff = (long)(closedForm[i].Clock - secant[i].Clock);
            Assert.True(Math.Abs(diff) <= maxClocks,
                $"step {i + 1} of {secant.Count}: clock {closedForm[i].Clock}, secant {secant[i].Clock}");
        }
    }

    // Toolhead-like moves: trapezoids between random points, some ending at rest, some
    // joined at speed, with the flush times cutting through them.
    internal static (TrapQ Toolhead, TrapQ Extruder, List<double> FlushTimes) RandomMoves(int seed, int moves)
    {
        var rng = new Random(seed);
        var toolhead = new TrapQ();
        var extruder = new TrapQ();
        double printTime = 0.25, x = 20, y = 20, z = 5, e = 0, v = 0;
        for (int i = 0; i < moves; i++)
        {
            double nx = rng.NextDouble() * 50, ny = rng.NextDouble() * 50;
            double nz = rng.Next(4) == 0 ? z + (rng.NextDouble() - 0.5) * 2 : z;
            double dx = nx - x, dy = ny - y, dz = nz - z;
            double dist = Math.Sqrt(dx * dx + dy * dy + dz * dz);
            if (dist < 1e-6)
                continue;
            double accel = 500 + rng.NextDouble() * 4500;
            double cruiseV = 5 + rng.NextDouble() * 200;
            double endV = rng.Next(3) == 0 ? 0 : rng.NextDouble() * cruiseV;
            double startV = v;
            // A trapezoid that fits the distance: the end speed reachable from the start
            // speed, the cruise speed at most the peak of a triangle
            double endV2 = Math.Clamp(endV * endV, Math.Max(0, startV * startV - 2 * accel * dist),
                startV * startV + 2 * accel * dist);
            endV = Math.Sqrt(endV2);
            double peakV = Math.Sqrt((startV * startV + endV2 + 2 * accel * dist) / 2);
            cruiseV = Math.Min(Math.Max(cruiseV, Math.Max(startV, endV)), peakV);
            double accelD = (cruiseV * cruiseV - startV * startV) / (2 * accel);
            double decelD = (cruiseV * cruiseV - endV2) / (2 * accel);
            double accelT = (cruiseV - startV) / accel, decelT = (cruiseV - endV) / accel;
            double cruiseT = Math.Max(0, (dist - accelD - decelD) / cruiseV);
            toolhead.Append(printTime, accelT, cruiseT, decelT, x, y, z, dx / dist, dy / dist, dz / dist,
                startV, cruiseV, accel);
            // The extruder pushes on most moves and retracts on some (negative velocities)
            double extrudeR = rng.Next(5) == 0 ? -0.05 : rng.Next(4) == 0 ? 0 : 0.04;
            if (extrudeR != 0)
                extruder.Append(printTime, accelT, cruiseT, decelT, e, 0, 0, 1, 0, 0,
                    startV * extrudeR, cruiseV * extrudeR, accel * extrudeR);
            e += dist * extrudeR;
            printTime += accelT + cruiseT + decelT;
            if (rng.Next(6) == 0)
                printTime += rng.NextDouble() * 0.5; // a pause
            x = nx; y = ny; z = nz; v = endV;
        }
        toolhead.CheckSentinels();
        extruder.CheckSentinels();
        var flushTimes = new List<double>();
        for (double t = 0.3; t < printTime + 0.1; t += 0.005 + rng.NextDouble() * 0.2)
            flushTimes.Add(t);
        flushTimes.Add(printTime + 1.0);
        return (toolhead, extruder, flushTimes);
    }

    public static TheoryData<int> Seeds => new() { 1, 2, 3, 4 };

    [Theory]
    [MemberData(nameof(Seeds))]
    public void LinearKinematicsGiveTheSecantSearchSteps(int seed)
    {
        var (toolhead, extruder, flushTimes) = RandomMoves(seed, 150);
        var kinematics = new (string Name, Func<StepperKinematics> Create, TrapQ Trapq)[]
        {
            ("cartesian x", () => new CartesianStepperKinematics('x'), toolhead),
            ("cartesian y", () => new CartesianStepperKinematics('y'), toolhead),
            ("cartesian z", () => new CartesianStepperKinematics('z'), toolhead),
            ("corexy +", () => new CoreXYStepperKinematics('+'), toolhead),
            ("corexy -", () => new CoreXYStepperKinematics('-'), toolhead),
            ("corexz -", () => new CoreXZStepperKinematics('-'), toolhead),
            ("generic", () => new GenericCartesianStepperKinematics(0.5, -1.25, 2), toolhead),
            ("extruder", () => new ExtruderStepperKinematics(), extruder),
            ("dual carriage mirrored", () =>
            {
                var dc = new DualCarriageKinematics();
                dc.SetSk(new CoreXYStepperKinematics('-'));
                dc.SetTransform('x', -1, 60);
                dc.SetTransform('y', 0.5, 3);
                return dc;
            }, toolhead),
        };
        foreach (var (name, create, trapq) in kinematics)
        {
            var (secant, closedForm, secantPos, closedFormPos) = Solve(create, trapq, 0.0125, flushTimes, out var iterations);
            try
            {
                AssertSameSteps(secant, closedForm, 2);
                Assert.Equal(secantPos, closedFormPos, 9);
                // The closed form did the work: few ranges went to the secant search
                Assert.InRange(iterations.ClosedForm, 0, iterations.Secant / 20);
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"{name}: {ex.Message}");
            }
        }
    }

    [Fact]
    public void MoveEndingOnAHalfStepTakesThatStep()
    {
        // 1.00625 mm is exactly 80.5 steps of 0.0125 mm: the secant search takes that
        // step, and so must the closed form; then back to 0
        var tq = new TrapQ();
        tq.Append(1.0, 0.1, 0, 0.1, 0, 0, 0, 1, 0, 0, 0, 1.00625 / 0.1, 1.00625 / 0.1 / 0.1);
        tq.Append(2.0, 0.1, 0, 0.1, 1.00625, 0, 0, -1, 0, 0, 0, 1.00625 / 0.1, 1.00625 / 0.1 / 0.1);
        tq.CheckSentinels();
        var (secant, closedForm, secantPos, closedFormPos) =
            Solve(() => new CartesianStepperKinematics('x'), tq, 0.0125, [1.5, 3.0]);
        Assert.Equal(81 + 81, secant.Count);
        // Step 81 is crossed at rest, at the end of the move, and the return move starts
        // on it: the closed form leaves both ranges to the secant search, whose step
        // there is any time within 1e-9 mm of the target (here up to 4.5 us early)
        AssertSameSteps(secant, closedForm, 0);
        Assert.Equal(0.0, secantPos, 12);
        Assert.Equal(secantPos, closedFormPos);
    }

    [Fact]
    public void SlowCrossingFromRestStaysWithTheSecantSearch()
    {
        // From rest at 0.5 mm/s^2, 5e-7 mm short of the first half step: the stepper
        // crosses it at 0.0007 mm/s, where the secant search takes its first guess within
        // 1e-9 mm, microseconds from the crossing; the closed form leaves the range to it
        var tq = new TrapQ();
        tq.Append(1.0, 2.0, 0, 0, 0, 0.00625 - 5e-7, 0, 0, 1, 0, 0, 1.0, 0.5);
        tq.CheckSentinels();
        var (secant, closedForm, _, _) = Solve(() => new CartesianStepperKinematics('y'), tq, 0.0125, [1.5, 4.0],
            new Coord(0, 0, 0));
        AssertSameSteps(secant, closedForm, 0);
    }

    [Fact]
    public void StepperAwayFromTheMoveCatchesUpAsTheSecantSearchDoes()
    {
        // A new rotation distance or SET_KINEMATIC_POSITION can leave the stepper's
        // commanded position more than half a step from where the next move starts:
        // the secant search then steps back to the move at its start
        var tq = new TrapQ();
        tq.Append(1.0, 0.1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 10, 100);
        tq.CheckSentinels();
        // (The stepper more than a step ahead of the move's start)
        var (secant, closedForm, _, _) = Solve(() => new CartesianStepperKinematics('x'), tq, 0.0125, [2.0],
            new Coord(0.015, 0, 0));
        Assert.Equal(0, secant[0].Dir);
        Assert.Equal(secant, closedForm);
    }

    [Fact]
    public void PressureAdvanceSmoothingStaysWithTheSecantSearch()
    {
        // The smoothed position is not linear in the move distance: the closed-form
        // setting must leave such a stepper to the secant search, step for step
        var (_, extruder, flushTimes) = RandomMoves(7, 60);
        var (secant, closedForm, _, _) = Solve(() =>
        {
            var sk = new ExtruderStepperKinematics();
            sk.SetPressureAdvance(0.0, 0.05, 0.04);
            return sk;
        }, extruder, 0.0125, flushTimes);
        AssertSameSteps(secant, closedForm, 0);
    }
}
