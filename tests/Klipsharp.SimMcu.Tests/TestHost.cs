using Klipsharp.Protocol;
using Klipsharp.SimMcu;

namespace Klipsharp.SimMcu.Tests;

/// <summary>A minimal host for a manual-mode simulated MCU: frames commands, collects and decodes responses.</summary>
internal sealed class TestHost
{
    private readonly List<byte[]> _out = new();

    public TestHost(SimMachine? machine = null, SimBoard? board = null)
    {
        Mcu = new SimulatedMcu(board, machine, realTime: false) { RecordSteps = true };
        Mcu.Attach(b => _out.Add(b));
        Dict = Mcu.Dictionary;
    }

    public SimulatedMcu Mcu { get; }

    public DataDictionary Dict { get; }

    public long Seq { get; set; }

    public long Freq => Mcu.Board.ClockFreq;

    /// <summary>Sends the commands in one block with the next sequence number and lets the MCU process it.</summary>
    public void Send(params string[] cmds)
    {
        var payload = new List<byte>();
        foreach (var c in cmds)
            payload.AddRange(Dict.CreateCommand(c));
        SendRaw(MessageBlock.Encode(Seq++, payload.ToArray()));
    }

    /// <summary>Sends each command in its own block.</summary>
    public void SendEach(params string[] cmds)
    {
        foreach (var c in cmds)
            Send(c);
    }

    public void SendRaw(byte[] bytes)
    {
        Mcu.Feed(bytes);
        Mcu.Poll();
    }

    /// <summary>All blocks received since the last call.</summary>
    public List<byte[]> TakeBlocks()
    {
        var r = _out.ToList();
        _out.Clear();
        return r;
    }

    /// <summary>Decoded messages received since the last call (acks and naks left out).</summary>
    public List<Dictionary<string, object>> Take()
    {
        var msgs = new List<Dictionary<string, object>>();
        foreach (var b in TakeBlocks())
        {
            Assert.Equal(b.Length, MessageBlock.Check(b));
            if (b.Length > MessageBlock.MESSAGE_MIN)
                msgs.Add(Dict.Parse(b));
        }
        return msgs;
    }

    /// <summary>Decoded messages as text lines.</summary>
    public List<string> TakeText()
    {
        var lines = new List<string>();
        foreach (var b in TakeBlocks())
        {
            if (b.Length > MessageBlock.MESSAGE_MIN)
                lines.AddRange(Dict.Dump(b).Where(l => !l.StartsWith("stats ", StringComparison.Ordinal)));
        }
        return lines;
    }

    /// <summary>Allocates oids, runs the config commands and finalizes.</summary>
    public void Configure(int oidCount, params string[] configCmds)
    {
        Send($"allocate_oids count={oidCount}");
        SendEach(configCmds);
        Send("finalize_config crc=1234");
        Assert.True(Mcu.IsConfigured);
        Assert.False(Mcu.IsShutdown, Mcu.ShutdownReason);
    }

    public string StaticString(long id) =>
        Dict.Enumerations["static_string_id"].First(kv => kv.Value == id).Key;
}
