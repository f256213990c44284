namespace Klipsharp.Host.Tests;

/// <summary>
/// The reactor's greenlet semantics (upstream reactor.py): a callback that pauses keeps
/// its own stack, so paused callbacks resume independently of each other.
/// </summary>
public class ReactorTests
{
    [Fact]
    public void EarlierPauseResumesWhileALaterCallbackIsStillPaused()
    {
        var r = new Reactor();
        var order = new List<string>();
        double t0 = r.Monotonic();
        double bResumed = 0.0, aResumed = 0.0;
        r.RegisterCallback(_ =>
        {
            order.Add("B paused");
            r.Pause(t0 + 0.05);
            bResumed = r.Monotonic();
            order.Add("B resumed");
        });
        r.RegisterCallback(_ =>
        {
            order.Add("A paused");
            r.Pause(t0 + 0.5);
            aResumed = r.Monotonic();
            order.Add("A resumed");
            r.End();
        }, t0 + 0.01);
        r.Run();
        r.Close();
        // The old nested loop ran A inside B's pause: B came back only after A's 0.5 s
        Assert.Equal(["B paused", "A paused", "B resumed", "A resumed"], order);
        // (No upper bounds on wall time: a loaded machine may delay both wake-ups.)
        Assert.True(bResumed - t0 >= 0.05, $"B resumed {bResumed - t0} s after the start");
        Assert.True(aResumed - t0 >= 0.5, $"A resumed {aResumed - t0} s after the start");
        Assert.True(bResumed < aResumed);
    }

    [Fact]
    public void PausedCallbacksRunOnNamedBackgroundThreadsOneAtATime()
    {
        var r = new Reactor();
        var names = new List<string?>();
        int active = 0, maxActive = 0, finished = 0;
        for (int i = 0; i < 4; i++)
        {
            r.RegisterCallback(e =>
            {
                for (int j = 0; j < 20; j++)
                {
                    maxActive = Math.Max(maxActive, Interlocked.Increment(ref active));
                    names.Add(Thread.CurrentThread.Name);
                    Assert.True(Thread.CurrentThread.IsBackground);
                    Thread.SpinWait(1000);
                    Interlocked.Decrement(ref active);
                    r.Pause(r.Monotonic() + 0.001);
                }
                // The last one ends the loop (a fixed end time was too short on a busy machine)
                if (++finished == 4)
                    r.End();
            });
        }
        r.RegisterCallback(_ => r.End(), r.Monotonic() + 30.0); // a broken reactor fails, not hangs
        r.Run();
        r.Close();
        Assert.Equal(1, maxActive);
        Assert.Equal(80, names.Count);
        Assert.All(names, n => Assert.StartsWith("reactor-g", n));
    }

    [Fact]
    public void CloseUnwindsParkedGreenlets()
    {
        var r = new Reactor();
        bool finallyRan = false, resumed = false;
        Thread? thread = null;
        r.RegisterCallback(_ =>
        {
            thread = Thread.CurrentThread;
            try
            {
                r.Pause(Reactor.Never);
                resumed = true;
            }
            finally
            {
                finallyRan = true;
            }
        });
        r.RegisterCallback(_ => r.End(), r.Monotonic() + 0.05);
        r.Run();
        Assert.False(finallyRan);
        Assert.True(thread!.IsAlive);
        r.Close();
        Assert.True(finallyRan);
        Assert.False(resumed);
        Assert.True(thread.Join(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void ExceptionInAGreenletCallbackComesOutOfRun()
    {
        var r = new Reactor();
        string? thrower = null;
        r.RegisterCallback(e =>
        {
            r.Pause(e + 0.01);
            thrower = Thread.CurrentThread.Name;
            throw new InvalidOperationException("boom");
        });
        var runner = Thread.CurrentThread;
        var ex = Assert.Throws<InvalidOperationException>(r.Run);
        Assert.Equal("boom", ex.Message);
        Assert.StartsWith("reactor-g", thrower);
        Assert.NotEqual(runner.Name ?? "", thrower);
        // klippy's last resort: the loop runs again (to shut down) after the exception
        bool ranAgain = false;
        r.RegisterCallback(_ =>
        {
            ranAgain = true;
            r.End();
        });
        r.Run();
        r.Close();
        Assert.True(ranAgain);
    }

    [Fact]
    public void CompletionWakesItsWaiterAtOnce()
    {
        var r = new Reactor();
        var c = r.Completion();
        object? got = null;
        double completedAt = 0.0, wokeAt = 0.0;
        r.RegisterCallback(_ =>
        {
            got = c.Wait(r.Monotonic() + 5.0, "timeout");
            wokeAt = r.Monotonic();
            r.End();
        });
        r.RegisterCallback(_ =>
        {
            completedAt = r.Monotonic();
            c.Complete("done");
        }, r.Monotonic() + 0.05);
        r.Run();
        r.Close();
        Assert.Equal("done", got);
        // Far below the 5 s timeout (a loaded machine may delay the wake-up a little)
        Assert.InRange(wokeAt - completedAt, 0.0, 1.0);
        var late = r.Completion();
        Assert.Equal("timeout", late.Wait(r.Monotonic() + 0.01, "timeout"));
    }

    [Fact]
    public void MutexMakesTheSecondCallerWait()
    {
        var r = new Reactor();
        var m = r.Mutex();
        var order = new List<string>();
        r.RegisterCallback(_ =>
        {
            using (m.Lock())
            {
                order.Add("first in");
                r.Pause(r.Monotonic() + 0.05);
                order.Add("first out");
            }
        });
        r.RegisterCallback(_ =>
        {
            using (m.Lock())
                order.Add("second in");
            r.End();
        }, r.Monotonic() + 0.01);
        r.Run();
        r.Close();
        Assert.Equal(["first in", "first out", "second in"], order);
        Assert.False(m.Test());
    }

    [Fact]
    public void AsyncCallbackWakesTheIdleLoop()
    {
        var r = new Reactor();
        double queuedAt = 0.0, ranAt = 0.0;
        // Keep a long pause going so the loop sleeps in its poll
        r.RegisterCallback(e => r.Pause(e + 10.0));
        var other = new Thread(() =>
        {
            Thread.Sleep(100);
            queuedAt = r.Monotonic();
            r.RegisterAsyncCallback(_ =>
            {
                ranAt = r.Monotonic();
                r.End();
            });
        });
        other.Start();
        r.Run();
        r.Close();
        // Far below the 10 s pause (a loaded machine may delay the wake-up a little)
        Assert.InRange(ranAt - queuedAt, 0.0, 1.0);
    }

    [Fact]
    public void PauseOutsideRunSleeps()
    {
        var r = new Reactor();
        double t0 = r.Monotonic();
        double t1 = r.Pause(t0 + 0.02);
        Assert.True(t1 >= t0 + 0.02);
    }
}
