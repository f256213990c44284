using Klipsharp.Motion;
using static Klipsharp.Motion.Tests.StepTestHelpers;

namespace Klipsharp.Motion.Tests;

public class IterSolveTests
{
    private const double Freq = 1_000_000.0;

    private static StepCompress MakeStepCompress(uint maxError = 0)
    {
        var sc = new StepCompress();
        sc.Fill(3, maxError, QueueStepTag, SetDirTag);
        sc.SetTime(0.0, Freq);
        return sc;
    }

    private static List<(ulong Clock, int Dir)> Run(StepperKinematics sk, StepCompress sc, double flushTime)
    {
        Assert.Equal(0, sk.GenerateSteps(sc, flushTime));
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        return Expand(Drain(sc.MessageQueue));
    }

    [Fact]
    public void ConstantVelocityStepsAtHalfStepCrossings()
    {
        var tq = new TrapQ();
        // 10 mm at 10 mm/s starting at print time 0.5
        tq.Append(0.5, 0, 1.0, 0, 0, 0, 0, 1, 0, 0, 0, 10.0, 0);
        var sk = new CartesianStepperKinematics('x');
        sk.SetTrapQ(tq, 0.01);
        StepCompress sc = MakeStepCompress();
        tq.CheckSentinels();

        List<(ulong Clock, int Dir)> steps = Run(sk, sc, 2.0);
        Assert.Equal(1000, steps.Count);
        for (int k = 1; k <= 1000; k++)
        {
            // step k when x crosses (k - 0.5) * step_dist: t = 0.5 + (k - 0.5) * 0.001
            ulong expected = (ulong)Math.Round((0.5 + (k - 0.5) * 0.001) * Freq);
            Assert.Equal(expected, steps[k - 1].Clock);
            Assert.Equal(1, steps[k - 1].Dir);
        }
        Assert.Equal(10.0, sk.GetCommandedPos(), 9);
    }

    [Fact]
    public void ConstantVelocityCompressesToTwoQueueSteps()
    {
        var tq = new TrapQ();
        tq.Append(0.5, 0, 1.0, 0, 0, 0, 0, 1, 0, 0, 0, 10.0, 0);
        var sk = new CartesianStepperKinematics('x');
        sk.SetTrapQ(tq, 0.01);
        StepCompress sc = MakeStepCompress(25);
        tq.CheckSentinels();
        Assert.Equal(0, sk.GenerateSteps(sc, 2.0));
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        Assert.Equal(3, msgs.Count);
        Assert.Equal(new uint[] { SetDirTag, 3, 1 }, Words(msgs[0]));
        Assert.Equal(0UL, msgs[0].MinClock);
        Assert.Equal(0UL, msgs[0].ReqClock);
        Assert.Equal(new uint[] { QueueStepTag, 3, 500500, 1, 0 }, Words(msgs[1]));
        Assert.Equal(0UL, msgs[1].MinClock);
        Assert.Equal(0UL, msgs[1].ReqClock);
        Assert.Equal(new uint[] { QueueStepTag, 3, 1000, 999, 0 }, Words(msgs[2]));
        Assert.Equal(500500UL, msgs[2].MinClock);
        Assert.Equal(500500UL, msgs[2].ReqClock);
        Assert.Equal(1000L, sc.LastPosition);
    }

    [Fact]
    public void AcceleratingMoveMatchesAnalyticStepTimes()
    {
        const double accel = 1000.0, stepDist = 0.0125, accelT = 0.2;
        var tq = new TrapQ();
        tq.Append(1.0, accelT, 0, 0, 0, 0, 0, 0, 1, 0, 0, accel * accelT, accel);
        var sk = new CartesianStepperKinematics('y');
        sk.SetTrapQ(tq, stepDist);
        StepCompress sc = MakeStepCompress();
        tq.CheckSentinels();
        List<(ulong Clock, int Dir)> steps = Run(sk, sc, 3.0);

        double dist = .5 * accel * accelT * accelT; // 20 mm
        int n = (int)Math.Floor(dist / stepDist + 0.5);
        Assert.Equal(n, steps.Count);
        for (int k = 1; k <= n; k++)
        {
            double t = 1.0 + Math.Sqrt(2.0 * (k - 0.5) * stepDist / accel);
            double clock = t * Freq;
            Assert.InRange((double)steps[k - 1].Clock, clock - 1.0, clock + 1.0);
        }
    }

    [Fact]
    public void DirectionChangeProducesStepsBothWays()
    {
        var tq = new TrapQ();
        // +1 mm then back -1 mm (cruise moves)
        tq.Append(1.0, 0, 0.1, 0, 0, 0, 0, 1, 0, 0, 0, 10.0, 0);
        tq.Append(1.2, 0, 0.1, 0, 1, 0, 0, -1, 0, 0, 0, 10.0, 0);
        var sk = new CartesianStepperKinematics('x');
        sk.SetTrapQ(tq, 0.1);
        StepCompress sc = MakeStepCompress();
        tq.CheckSentinels();
        Assert.Equal(0, sk.GenerateSteps(sc, 2.0));
        Assert.Equal(0, sc.Flush(ulong.MaxValue));
        List<MoveQueueMessage> msgs = Drain(sc.MessageQueue);
        List<(ulong Clock, int Dir)> steps = Expand(msgs);
        Assert.Equal(20, steps.Count);
        for (int k = 1; k <= 10; k++)
        {
            Assert.Equal((ulong)Math.Round((1.0 + (k - 0.5) * 0.01) * Freq), steps[k - 1].Clock);
            Assert.Equal(1, steps[k - 1].Dir);
            Assert.Equal((ulong)Math.Round((1.2 + (k - 0.5) * 0.01) * Freq), steps[9 + k].Clock);
            Assert.Equal(0, steps[9 + k].Dir);
        }
        int dirMsgs = msgs.Count(m => m.Words[0] == SetDirTag);
        Assert.Equal(2, dirMsgs);
        Assert.Equal(0.0, sk.GetCommandedPos(), 9);
        Assert.Equal(0L, sc.LastPosition);
    }

    [Fact]
    public void CoreXYStepsBothMotorsForXMove()
    {
        var tq = new TrapQ();
        tq.Append(1.0, 0, 0.1, 0, 0, 0, 0, 1, 0, 0, 0, 10.0, 0);
        var plus = new CoreXYStepperKinematics('+');
        var minus = new CoreXYStepperKinematics('-');
        plus.SetTrapQ(tq, 0.1);
        minus.SetTrapQ(tq, 0.1);
        tq.CheckSentinels();
        StepCompress scp = MakeStepCompress(), scm = MakeStepCompress();
        Assert.Equal(10, Run(plus, scp, 2.0).Count);
        Assert.Equal(10, Run(minus, scm, 2.0).Count);

        var tq2 = new TrapQ();
        tq2.Append(1.0, 0, 0.1, 0, 0, 0, 0, 0, 1, 0, 0, 10.0, 0);
        var plus2 = new CoreXYStepperKinematics('+');
        var minus2 = new CoreXYStepperKinematics('-');
        plus2.SetTrapQ(tq2, 0.1);
        minus2.SetTrapQ(tq2, 0.1);
        tq2.CheckSentinels();
        List<(ulong Clock, int Dir)> p = Run(plus2, MakeStepCompress(), 2.0);
        List<(ulong Clock, int Dir)> m = Run(minus2, MakeStepCompress(), 2.0);
        Assert.All(p, s => Assert.Equal(1, s.Dir));
        Assert.All(m, s => Assert.Equal(0, s.Dir));
        Assert.Equal(-1.0, minus2.GetCommandedPos(), 9);
    }

    [Fact]
    public void PositionFunctionsAndActiveAxes()
    {
        var x = new CartesianStepperKinematics('x');
        var z = new CartesianStepperKinematics('z');
        var xy = new CoreXYStepperKinematics('-');
        var xz = new CoreXZStepperKinematics('+');
        Assert.Equal(1.5, x.CalcPositionFromCoord(1.5, 2, 3));
        Assert.Equal(3.0, z.CalcPositionFromCoord(1.5, 2, 3));
        Assert.Equal(-0.5, xy.CalcPositionFromCoord(1.5, 2, 3));
        Assert.Equal(4.5, xz.CalcPositionFromCoord(1.5, 2, 3));
        xz.SetPosition(1, 2, 3);
        Assert.Equal(4.0, xz.GetCommandedPos());

        Assert.True(x.IsActiveAxis('x'));
        Assert.False(x.IsActiveAxis('y'));
        Assert.False(x.IsActiveAxis('e'));
        Assert.True(xy.IsActiveAxis('y'));
        Assert.False(xy.IsActiveAxis('z'));
        Assert.True(xz.IsActiveAxis('z'));
        Assert.Throws<ArgumentException>(() => new CartesianStepperKinematics('e'));
    }

    [Fact]
    public void CheckActiveFindsFirstMoveOnStepperAxes()
    {
        var tq = new TrapQ();
        tq.Append(1.0, 0, 0.5, 0, 0, 0, 0, 0, 1, 0, 0, 10.0, 0); // Y only
        tq.Append(1.5, 0, 0.5, 0, 0, 5, 0, 1, 0, 0, 0, 10.0, 0); // X
        var x = new CartesianStepperKinematics('x');
        Assert.Equal(0.0, x.CheckActive(10.0)); // no trapq
        x.SetTrapQ(tq, 0.01);
        Assert.Equal(0.0, x.CheckActive(1.2));
        Assert.Equal(1.5, x.CheckActive(1.6));
        var y = new CartesianStepperKinematics('y');
        y.SetTrapQ(tq, 0.01);
        Assert.Equal(1.0, y.CheckActive(1.2));
    }

    [Fact]
    public void GenerateStepsWithoutTrapqOnlyRecordsFlushTime()
    {
        var x = new CartesianStepperKinematics('x');
        Assert.Equal(0, x.GenerateSteps(MakeStepCompress(), 3.0));
        Assert.Equal(3.0, x.LastFlushTime);
    }
}
