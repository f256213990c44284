using Klipsharp.Host.Mcu;
using Klipsharp.Host.Serial;
using Klipsharp.SimMcu;

namespace Klipsharp.Host.Tests.Serial;

/// <summary>The live link against the simulated MCU (real protocol, real dictionary).</summary>
public class SimMcuLinkTests
{
    [Fact]
    public void IdentifyClockSyncAndQueryOverAnInProcessLink()
    {
        using var sim = new SimulatedMcu();
        sim.Start();
        SerialReaderTests.OnReactor(r =>
        {
            var reader = new SerialReader(r, "mcu");
            reader.ConnectTransport(() => new StreamTransport(sim.CreateLink(), "sim"));
            Assert.Equal(sim.Dictionary.Version, reader.MsgParser.Version);
            Assert.Equal(sim.Board.ClockFreq, reader.MsgParser.GetConstantFloat("CLOCK_FREQ"));
            var sync = new LiveClockSync(r);
            sync.Connect(reader);
            Assert.InRange(sync.ClockEst.Freq / sim.Board.ClockFreq, 0.95, 1.05);
            var cfg = reader.SendWithResponse("get_config", "config");
            Assert.Equal(0, cfg["is_config"]);
            Assert.Equal(0, cfg["is_shutdown"]);
            sync.Stop();
            reader.Disconnect();
        });
    }

    [Fact]
    public void ConnectsToTheSimulatorsUnixSocketByPath()
    {
        using var sim = new SimulatedMcu();
        sim.Start();
        string path = Path.Combine(Path.GetTempPath(), ("ks-sim-" + Guid.NewGuid().ToString("N"))[..20]);
        using var server = SimMcuSocketServer.Listen(sim, path);
        try
        {
            SerialReaderTests.OnReactor(r =>
            {
                var reader = new SerialReader(r, "mcu");
                reader.Connect(path, 250000);
                Assert.Equal(sim.Dictionary.Version, reader.MsgParser.Version);
                var cfg = reader.SendWithResponse("get_config", "config");
                Assert.Equal(0, cfg["is_config"]);
                reader.Disconnect();
            });
        }
        finally
        {
            File.Delete(path);
        }
    }
}
