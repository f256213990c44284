using System.Runtime.ExceptionServices;
using Klipsharp.Host.Mcu;
using Klipsharp.Host.Serial;
using Klipsharp.Motion;

namespace Klipsharp.Host.Tests.Serial;

public class SerialReaderTests
{
    /// <summary>Runs <paramref name="body"/> as a reactor callback and the reactor until it returns.</summary>
    internal static void OnReactor(Action<Reactor> body)
    {
        var reactor = new Reactor();
        Exception? error = null;
        reactor.RegisterCallback(_ =>
        {
            try
            {
                body(reactor);
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                reactor.End();
            }
        });
        reactor.Run();
        if (error is not null)
            ExceptionDispatchInfo.Throw(error);
    }

    private static SerialReader ConnectFake(Reactor r, List<FakeMcu> mcus, double corruptRate = 0.0, List<string>? log = null)
    {
        var reader = new SerialReader(r, "test", msg => { lock (mcus) log?.Add(msg); });
        int seed = 3;
        reader.ConnectTransport(() =>
        {
            var (mcu, host) = FakeMcu.Create(corruptRate, seed++);
            mcus.Add(mcu);
            return host;
        });
        return reader;
    }

    private static void PauseUntil(Reactor r, Func<bool> done, double timeout)
    {
        double end = r.Monotonic() + timeout;
        while (!done() && r.Monotonic() < end)
            r.Pause(r.Monotonic() + 0.010);
    }

    [Fact]
    public void IdentifyLoadsTheDictionaryAndQueriesAnswer()
    {
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var reader = ConnectFake(r, mcus);
                Assert.Equal("fake-1", reader.MsgParser.Version);
                Assert.Equal(16000000.0, reader.MsgParser.GetConstantFloat("CLOCK_FREQ"));
                Assert.Equal("mcu 'test': ", reader.MsgParser.WarnPrefix);
                var resp = reader.SendWithResponse("test_query value=7", "test_response");
                Assert.Equal("test_response", resp.Name);
                Assert.Equal(7, resp["value"]);
                Assert.True(resp.ReceiveTime > 0);
                Assert.Matches(@"^bytes_write=\d+ ", reader.Stats(r.Monotonic()));
                reader.Disconnect();
                Assert.Null(reader.SerialQueue);
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }

    [Fact]
    public void IdentifyAndQueriesSurviveCorruptedBytes()
    {
        // A block from the MCU that is lost while nothing else is in flight leaves the
        // waiter for its ack until the next block is acknowledged (as upstream); a live
        // host always has the periodic get_clock traffic, emulated here after connect.
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var reader = new SerialReader(r, "test");
                int seed = 11;
                reader.ConnectTransport(() =>
                {
                    var (mcu, host) = FakeMcu.Create(0.01, seed++);
                    mcu.CorruptOut = 0.0;
                    mcus.Add(mcu);
                    return host;
                });
                Assert.Equal("fake-1", reader.MsgParser.Version);
                Assert.Equal(192, reader.MsgParser.GetConstantInt("RECEIVE_WINDOW"));
                mcus[^1].CorruptOut = 0.01;
                var traffic = reader.AllocCommandQueue();
                byte[] ping = reader.MsgParser.CreateCommand("test_cmd value=1");
                var timer = r.RegisterTimer(t =>
                {
                    reader.RawSend(ping, 0, 0, traffic);
                    return t + 0.1;
                }, Reactor.Now);
                for (int i = 0; i < 20; i++)
                    Assert.Equal(i, reader.SendWithResponse($"test_query value={i}", "test_response")["value"]);
                r.UnregisterTimer(timer);
                Assert.True(mcus[^1].CorruptedBytes > 0);
                reader.Disconnect();
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }

    [Fact]
    public void ResponsesGoToHandlersByNameAndOid()
    {
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var reader = ConnectFake(r, mcus);
                var got = new List<long>();
                reader.RegisterResponse(p => got.Add(p["value"]), "test_response");
                reader.Send("test_query value=41");
                reader.Send("test_query value=42");
                PauseUntil(r, () => got.Count == 2, 10);
                Assert.Equal([41L, 42], got);
                reader.RegisterResponse(null, "test_response");
                reader.Disconnect();
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }

    [Fact]
    public void MoveQueueBatchesAreEncodedFromWords()
    {
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var reader = ConnectFake(r, mcus);
                var mcu = mcus[^1];
                mcu.ClearReceived();
                uint tag = reader.MsgParser.LookupCommand("test_cmd value=%u").MsgTag;
                var batch = new MoveQueueMessage[]
                {
                    new([tag, 10u], 0, 0),
                    new([tag, 0xfffffff0u], 0, 0),
                    new([tag, 30u], 0, 0),
                };
                reader.MoveQueue.SendBatch(batch);
                PauseUntil(r, () => mcu.Received.Count == 3, 10);
                Assert.Equal([10L, 0xfffffff0L, 30L], mcu.Received);
                reader.Disconnect();
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }

    [Fact]
    public void EndOfStreamBreaksTheLinkOnce()
    {
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var reader = ConnectFake(r, mcus);
                var reasons = new List<string>();
                reader.ConnectionLost += reasons.Add;
                mcus[^1].Close();
                PauseUntil(r, () => reasons.Count > 0, 10);
                Assert.Equal(["Got EOF when reading from device"], reasons);
                Assert.True(reader.IsBroken);
                var e = Assert.Throws<McuError>(() => reader.RawSendWaitAck([1, 2], 0, 0, reader.DefaultCommandQueue));
                Assert.Equal("mcu 'test': Serial connection closed", e.Message);
                reader.Break("again");
                Assert.Single(reasons);
                reader.Disconnect();
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }

    [Fact]
    public void AnAnnouncedDisconnectEndsTheLinkWithoutLostCommunication()
    {
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var log = new List<string>();
                var reader = ConnectFake(r, mcus, log: log);
                var reasons = new List<string>();
                reader.ConnectionLost += reasons.Add;
                // A reset command was sent: the MCU closes the link by itself
                reader.ExpectDisconnect();
                Assert.True(reader.IsDisconnectExpected);
                mcus[^1].Close();
                PauseUntil(r, () => reader.IsBroken, 10);
                Assert.True(reader.IsBroken);
                Assert.Empty(reasons);
                lock (mcus)
                {
                    Assert.Contains("serialq test: Got EOF when reading from device", log);
                    Assert.DoesNotContain(log, l => l.Contains("Lost communication", StringComparison.Ordinal));
                }
                var e = Assert.Throws<McuError>(() => reader.RawSendWaitAck([1, 2], 0, 0, reader.DefaultCommandQueue));
                Assert.Equal("mcu 'test': Serial connection closed", e.Message);
                reader.Disconnect();
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }

    [Fact]
    public void ConnectGivesUpWhenNothingAnswers()
    {
        OnReactor(r =>
        {
            var log = new List<string>();
            var reader = new SerialReader(r, "mute", log.Add);
            var (silent, _) = DuplexPipe.CreatePair();
            // A silent link: identify times out after 5 s and the session is closed
            Assert.False(reader.StartSession(new StreamTransport(silent, "silent")));
            Assert.Null(reader.SerialQueue);
            Assert.Contains("mcu 'mute': Timeout on connect", log);
        });
    }

    [Fact]
    public void LiveClockSyncTracksTheMcuClock()
    {
        var mcus = new List<FakeMcu>();
        try
        {
            OnReactor(r =>
            {
                var reader = ConnectFake(r, mcus);
                var mcu = mcus[^1];
                var sync = new LiveClockSync(r);
                sync.Connect(reader);
                Assert.Equal(FakeMcu.ClockFreq, sync.McuFreq);
                Assert.True(sync.IsActive);
                double freq = sync.ClockEst.Freq;
                Assert.InRange(freq / FakeMcu.ClockFreq, 0.95, 1.05);
                // The estimate maps host time to the MCU clock (within 10 ms of ticks)
                long est = sync.GetClock(r.Monotonic());
                long actual = mcu.Clock;
                Assert.InRange(est - actual, -160000L, 160000L);
                Assert.Equal(actual, sync.Clock32ToClock64(actual & 0xffffffff), 160000.0);
                Assert.StartsWith("freq=", sync.Stats(r.Monotonic()));
                Assert.StartsWith("clocksync state: mcu_freq=16000000 ", sync.DumpDebug());
                // The serial queue now has a clock estimate for timed messages
                Assert.NotEqual(0.0, reader.SerialQueue!.GetClockEst().EstFreq);
                sync.Stop();
                reader.Disconnect();
            });
        }
        finally
        {
            foreach (var m in mcus)
                m.Dispose();
        }
    }
}
