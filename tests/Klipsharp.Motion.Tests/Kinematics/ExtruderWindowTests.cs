using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests.Kinematics;

/// <summary>
/// The pressure advance smoothing window when it reaches back before the first move
/// still queued (after SET_PRESSURE_ADVANCE raises SMOOTH_TIME: the flush before it kept
/// only the old window's history).
/// </summary>
public class ExtruderWindowTests
{
    [Fact]
    public void WindowBeforeTheFirstQueuedMoveHoldsThatMovesStart()
    {
        // Everything earlier was finalized; an extrusion at 30.72 s gets a null move from
        // 29.72 s (upstream's 1 s limit for the first null move) in front of it.
        var tq = new TrapQ();
        tq.Append(30.72, 0.02, 0.0, 0.02, 36.04651, 0, 0, 1.0, 0.5, 0, 0.0, 1.0, 50.0);
        Move nullMove = tq.HeadSentinel.Next!;
        Assert.Equal(29.72, nullMove.PrintTime, 9);
        Assert.Equal(0.0, nullMove.AxesR.X);
        var sk = new ExtruderStepperKinematics();
        sk.SetPressureAdvance(0.0, 0.5, 0.15);
        // 29.76 s: the window [29.685, 29.835] starts 35 ms before the null move. Upstream
        // reads its trapq's list head as a move there and goes on around the list into the
        // last queued moves (motion-fuzz hybrid_corexy-599: 8 steps out and back within
        // 7 ms); here the filament stays where the first queued move starts.
        Assert.Equal(36.04651, sk.CalcPosition(nullMove, 29.76 - nullMove.PrintTime), 12);
        // Once the window is inside the queued moves (30.68 s: [30.605, 30.755]) the
        // extrusion ahead shows as usual
        double ahead = sk.CalcPosition(nullMove, 30.68 - nullMove.PrintTime);
        Assert.True(ahead > 36.04651 + 1e-6, $"position {ahead} before the extrusion");
    }
}
