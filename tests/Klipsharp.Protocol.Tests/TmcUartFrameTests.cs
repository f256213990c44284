namespace Klipsharp.Protocol.Tests;

/// <summary>Trinamic UART framing against vectors printed by upstream tmc_uart.py's own functions.</summary>
public class TmcUartFrameTests
{
    [Fact]
    public void Crc8MatchesUpstream() => Assert.Equal(0xc8, TmcUartFrame.Crc8([0xf5, 0x00, 0x02]));

    [Fact]
    public void ReadRequestLineBitsMatchUpstream()
    {
        // _encode_read(0xf5, 0x00, 0x02)
        byte[] line = TmcUartFrame.AddSerialBits([0xf5, 0x00, 0x02, 0xc8]);
        Assert.Equal("ea034820e4", Convert.ToHexStringLower(line));
    }

    [Fact]
    public void WriteRequestRoundTrips()
    {
        // _encode_write(0xf5, 0x01, 0x80, 0x12345678)
        byte[] msg = [0xf5, 0x01, 0x80, 0x12, 0x34, 0x56, 0x78, 0];
        msg[^1] = TmcUartFrame.Crc8(msg.AsSpan(0, 7));
        byte[] line = TmcUartFrame.AddSerialBits(msg);
        Assert.Equal("ea0b08308968b20aaff1", Convert.ToHexStringLower(line));
        Assert.Equal(msg, TmcUartFrame.RemoveSerialBits(line));
    }

    [Fact]
    public void AMissingStopBitIsAFramingError()
    {
        byte[] line = TmcUartFrame.AddSerialBits([0x05]);
        line[1] &= 0xfd; // bit 9: the stop bit
        Assert.Null(TmcUartFrame.RemoveSerialBits(line));
    }
}
