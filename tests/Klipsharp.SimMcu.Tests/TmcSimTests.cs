using Klipsharp.Protocol;
using System.Numerics;

namespace Klipsharp.SimMcu.Tests;

/// <summary>Trinamic drivers behind the simulated MCU: TMC UART (tmcuart.c) and SPI datagrams.</summary>
public class TmcSimTests
{
    // ---- datagrams as upstream tmc_uart.py builds them ----

    // The framing itself is checked against upstream's own vectors in Klipsharp.Protocol.Tests
    private static byte Crc8(IEnumerable<byte> data) => TmcUartFrame.Crc8(data.ToArray());

    private static byte[] AddSerialBits(IReadOnlyList<byte> data) => TmcUartFrame.AddSerialBits(data.ToArray());

    private static byte[] EncodeRead(byte sync, byte addr, byte reg)
    {
        var msg = new List<byte> { sync, addr, reg };
        msg.Add(Crc8(msg));
        return AddSerialBits(msg);
    }

    private static byte[] EncodeWrite(byte sync, byte addr, byte reg, uint val)
    {
        var msg = new List<byte> { sync, addr, reg, (byte)(val >> 24), (byte)(val >> 16), (byte)(val >> 8), (byte)val };
        msg.Add(Crc8(msg));
        return AddSerialBits(msg);
    }

    private static uint? DecodeRead(byte reg, byte[] data)
    {
        if (data.Length != 10)
            return null;
        BigInteger mval = 0;
        int pos = 0;
        foreach (byte d in data)
        {
            mval |= (BigInteger)d << pos;
            pos += 8;
        }
        uint val = (uint)((((mval >> 31) & 0xff) << 24) | (((mval >> 41) & 0xff) << 16)
            | (((mval >> 51) & 0xff) << 8) | ((mval >> 61) & 0xff));
        if (!data.SequenceEqual(EncodeWrite(0x05, 0xff, reg, val)))
            return null;
        return val;
    }

    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    // ---- helpers ----

    private const int BitTime = 1778; // 16 MHz / 9000 baud, as the host computes it for AVR

    private static TestHost UartHost()
    {
        var h = new TestHost();
        h.Configure(1, $"config_tmcuart oid=0 rx_pin=PA0 pull_up=0 tx_pin=PA0 bit_time={BitTime}");
        return h;
    }

    // Sends one tmcuart_send and returns the read bytes of its response (after moving time on).
    private static byte[] Transfer(TestHost h, byte[] write, int read)
    {
        h.Send($"tmcuart_send oid=0 write={Hex(write)} read={read}");
        Assert.Empty(h.Take());
        h.Mcu.AdvanceSeconds(0.1);
        var msgs = h.Take().Where(m => (string)m["#name"] != "stats").ToList();
        var m = Assert.Single(msgs);
        Assert.Equal("tmcuart_response", m["#name"]);
        Assert.Equal(0L, Convert.ToInt64(m["oid"]));
        return (byte[])m["read"];
    }

    private static uint ReadReg(TestHost h, byte addr, byte reg)
    {
        var r = Transfer(h, EncodeRead(0xf5, addr, reg), 10);
        return DecodeRead(reg, r) ?? throw new Xunit.Sdk.XunitException($"undecodable reply {Hex(r)}");
    }

    private static void WriteReg(TestHost h, byte addr, byte reg, uint val) =>
        Assert.Empty(Transfer(h, EncodeWrite(0xf5, addr, (byte)(reg | 0x80), val), 0));

    // ---- UART ----

    [Fact]
    public void DictionaryHasUpstreamFormats()
    {
        var h = new TestHost();
        var json = System.Text.Encoding.UTF8.GetString(h.Mcu.DictionaryJson);
        Assert.Contains("\"config_tmcuart oid=%c rx_pin=%u pull_up=%c tx_pin=%u bit_time=%u\"", json);
        Assert.Contains("\"tmcuart_send oid=%c write=%*s read=%c\"", json);
        Assert.Contains("\"tmcuart_response oid=%c read=%*s\"", json);
    }

    [Fact]
    public void ReadReplyIsBitExactTmcDatagram()
    {
        var h = UartHost();
        var r = Transfer(h, EncodeRead(0xf5, 0, 0x06), 10);
        // sync 0x05, master address 0xff, register, IOIN of a TMC2209 (VERSION 0x21), CRC
        Assert.Equal(Hex(EncodeWrite(0x05, 0xff, 0x06, 0x21000041)), Hex(r));
        Assert.Equal(0x21000041u, DecodeRead(0x06, r));
    }

    [Fact]
    public void PowerOnValues()
    {
        var h = UartHost();
        Assert.Equal(0x00000101u, ReadReg(h, 0, 0x00)); // GCONF
        Assert.Equal(0x1u, ReadReg(h, 0, 0x01)); // GSTAT reset
        Assert.Equal(0u, ReadReg(h, 0, 0x02)); // IFCNT
        Assert.Equal(0x10000053u, ReadReg(h, 0, 0x6c)); // CHOPCONF
        Assert.Equal(0xc0100000u, ReadReg(h, 0, 0x6f)); // DRV_STATUS: stst, stealth, CS_ACTUAL=IHOLD 16
        Assert.Equal(0x000fffffu, ReadReg(h, 0, 0x12)); // TSTEP
    }

    [Fact]
    public void WritesCountInIfcntAndAreReadBack()
    {
        var h = UartHost();
        Assert.Equal(0u, ReadReg(h, 0, 0x02));
        WriteReg(h, 0, 0x00, 0x000001c0);
        Assert.Equal(1u, ReadReg(h, 0, 0x02));
        Assert.Equal(0x000001c0u, ReadReg(h, 0, 0x00));
        WriteReg(h, 0, 0x10, 0x00081f0a); // IHOLD_IRUN: ihold 10, irun 31
        Assert.Equal(2u, ReadReg(h, 0, 0x02));
        Assert.Equal(0xc00a0000u, ReadReg(h, 0, 0x6f)); // stst, stealth (en_spreadcycle 0), CS_ACTUAL = IHOLD 10
        // GSTAT: write 1 to clear
        Assert.Equal(1u, ReadReg(h, 0, 0x01));
        WriteReg(h, 0, 0x01, 0x7);
        Assert.Equal(0u, ReadReg(h, 0, 0x01));
        Assert.Equal(3u, ReadReg(h, 0, 0x02));
        // IFCNT wraps at 8 bits
        for (int i = 0; i < 253; i++)
            WriteReg(h, 0, 0x13, (uint)i);
        Assert.Equal(0u, ReadReg(h, 0, 0x02));
    }

    [Fact]
    public void AddressesAreSeparateChips()
    {
        var h = UartHost();
        WriteReg(h, 2, 0x00, 0x1c4);
        Assert.Equal(1u, ReadReg(h, 2, 0x02));
        Assert.Equal(0u, ReadReg(h, 0, 0x02));
        Assert.Equal(0x101u, ReadReg(h, 0, 0x00));
        Assert.Equal(0x1c4u, ReadReg(h, 2, 0x00));
    }

    [Fact]
    public void BadCrcOrAddressGetsNoReply()
    {
        var h = UartHost();
        // Read with a wrong CRC: the firmware times out and reports an empty read
        var bad = EncodeRead(0xf5, 0, 0x02);
        var msg = new List<byte> { 0xf5, 0, 0x02, (byte)(Crc8([0xf5, 0, 0x02]) ^ 1) };
        bad = AddSerialBits(msg);
        Assert.Empty(Transfer(h, bad, 10));
        // Address 4: no TMC2209 answers
        Assert.Empty(Transfer(h, EncodeRead(0xf5, 4, 0x02), 10));
        // Write with a wrong CRC is ignored: IFCNT unchanged
        var wmsg = new List<byte> { 0xf5, 0, 0x80, 0, 0, 0, 5 };
        wmsg.Add((byte)(Crc8(wmsg) + 1));
        Assert.Empty(Transfer(h, AddSerialBits(wmsg), 0));
        Assert.Equal(0u, ReadReg(h, 0, 0x02));
        Assert.Equal(0x101u, ReadReg(h, 0, 0x00));
        // A broken stop bit is a framing error
        var framing = EncodeRead(0xf5, 0, 0x02);
        framing[1] &= 0xfd; // bit 9: the first stop bit
        Assert.Empty(Transfer(h, framing, 10));
    }

    [Fact]
    public void ResponseTimingFollowsTheBitTime()
    {
        var h = UartHost();
        h.Send($"tmcuart_send oid=0 write={Hex(EncodeRead(0xf5, 0, 0x02))} read=10");
        // 200 us start delay + 40 bits out + 8 bits SENDDELAY + 80 bits in
        long due = 3200 + (40 + 8 + 80) * BitTime;
        h.Mcu.AdvanceTo(due - 1);
        Assert.Empty(h.Take());
        h.Mcu.AdvanceTo(due);
        Assert.Equal([$"tmcuart_response oid=0 read=b'{Esc(EncodeWrite(0x05, 0xff, 2, 0))}'"], h.TakeText());
        // A write reports at the end of its 80 bits
        h.Send($"tmcuart_send oid=0 write={Hex(EncodeWrite(0xf5, 0, 0x80, 0))} read=0");
        long wdue = due + 3200 + 80 * BitTime;
        h.Mcu.AdvanceTo(wdue - 1);
        Assert.Empty(h.Take());
        h.Mcu.AdvanceTo(wdue);
        Assert.Equal(["tmcuart_response oid=0 read=b''"], h.TakeText());
    }

    private static string Esc(byte[] b) => string.Concat(b.Select(x => x switch
    {
        (byte)'\\' => "\\\\",
        (byte)'\'' => "\\'",
        (byte)'\t' => "\\t",
        (byte)'\n' => "\\n",
        (byte)'\r' => "\\r",
        >= 0x20 and < 0x7f => ((char)x).ToString(),
        _ => $"\\x{x:x2}",
    }));

    [Fact]
    public void BusyUartDropsTheRequest()
    {
        var h = UartHost();
        h.Send($"tmcuart_send oid=0 write={Hex(EncodeRead(0xf5, 0, 0x02))} read=10",
            $"tmcuart_send oid=0 write={Hex(EncodeWrite(0xf5, 0, 0x80, 0))} read=0");
        h.Mcu.AdvanceSeconds(0.1);
        var msgs = h.Take().Where(m => (string)m["#name"] == "tmcuart_response").ToList();
        Assert.Single(msgs);
        Assert.Equal(0u, ReadReg(h, 0, 0x02)); // the write never happened
    }

    [Fact]
    public void LongSendDelayIsNotSeen()
    {
        var h = UartHost();
        WriteReg(h, 0, 0x03, 15 << 8); // SENDDELAY 15: 120 bit times
        Assert.Empty(Transfer(h, EncodeRead(0xf5, 0, 0x02), 10));
        WriteReg(h, 0, 0x03, 2 << 8); // what upstream's tmc2209 sets: 24 bit times
        Assert.Equal(2u, ReadReg(h, 0, 0x02));
    }

    [Fact]
    public void OversizedDataShutsDown()
    {
        var h = UartHost();
        h.Send("tmcuart_send oid=0 write=0102030405060708090a0b read=0");
        Assert.Equal(["shutdown clock=0 static_string_id=tmcuart data too large"], h.TakeText());
    }

    [Fact]
    public void ShutdownReleasesABusyUart()
    {
        var h = UartHost();
        h.Send($"tmcuart_send oid=0 write={Hex(EncodeRead(0xf5, 0, 0x02))} read=10", "emergency_stop");
        h.Mcu.AdvanceSeconds(0.1);
        Assert.DoesNotContain(h.Take(), m => (string)m["#name"] == "tmcuart_response");
        h.Send("clear_shutdown");
        Assert.Equal(0u, ReadReg(h, 0, 0x02));
    }

    // ---- SPI ----

    private static TestHost SpiHost(int mode)
    {
        var h = new TestHost();
        h.Configure(1, "config_spi oid=0 pin=PB0 cs_active_high=0", $"spi_set_bus oid=0 spi_bus=spi mode={mode} rate=4000000");
        return h;
    }

    private static byte[] SpiTransfer(TestHost h, string hex)
    {
        h.Send($"spi_transfer oid=0 data={hex}");
        var m = Assert.Single(h.Take());
        Assert.Equal("spi_transfer_response", m["#name"]);
        return (byte[])m["response"];
    }

    [Fact]
    public void Spi40BitRepliesCarryThePreviousRead()
    {
        var h = SpiHost(3);
        // First datagram: status (reset flag, standstill) and nothing latched yet
        Assert.Equal("0900000000", Hex(SpiTransfer(h, "0100000000")));
        // Reply to the GSTAT read: reset was set; the read cleared it (status too)
        Assert.Equal("0800000001", Hex(SpiTransfer(h, "0100000000")));
        Assert.Equal("0800000000", Hex(SpiTransfer(h, "0400000000")));
        Assert.Equal("0811000000", Hex(SpiTransfer(h, "6f00000000"))); // IOIN: TMC2130 VERSION 0x11
        // Write (as upstream: spi_send of the write, then a dummy read that echoes the data)
        h.Send("spi_send oid=0 data=9000081f0a");
        Assert.Empty(h.Take());
        Assert.Equal("0800081f0a", Hex(SpiTransfer(h, "0000000000")));
        Assert.Equal("0800000000", Hex(SpiTransfer(h, "6f00000000"))); // GCONF
        Assert.Equal("08800a0000", Hex(SpiTransfer(h, "0000000000"))); // DRV_STATUS: stst, CS_ACTUAL 10
        Assert.Equal(0x00081f0au, h.Mcu.TmcSpiRegisters(8)![0x10]);
    }

    [Fact]
    public void SpiDaisyChainHasOneChipPer5Bytes()
    {
        var h = SpiHost(3);
        // chain of 2: position 2 first on the wire, position 1 last
        h.Send("spi_send oid=0 data=" + "0000000000" + "8000000004");
        Assert.Equal("09000000000900000004", Hex(SpiTransfer(h, "00000000000000000000")));
        Assert.Equal(4u, h.Mcu.TmcSpiRegisters(8, 1)![0]);
        Assert.False(h.Mcu.TmcSpiRegisters(8, 2)!.ContainsKey(0));
    }

    [Fact]
    public void OtherSpiTrafficGetsZeros()
    {
        var h = SpiHost(1);
        Assert.Equal("0000000000", Hex(SpiTransfer(h, "8100000000")));
        Assert.Equal("0000", Hex(SpiTransfer(h, "8000")));
        Assert.Null(h.Mcu.TmcSpiRegisters(8));
    }

    [Fact]
    public void Tmc2660RepliesPerRdsel()
    {
        var h = SpiHost(0);
        h.Send("spi_send oid=0 data=0c0010"); // SGCSCONF: CS 16
        // DRVCONF with RDSEL 2, sent twice as upstream's get_register does
        h.Send("spi_send oid=0 data=0e0020");
        Assert.Empty(h.Take());
        var r = SpiTransfer(h, "0e0020");
        uint v = (uint)(r[0] << 16 | r[1] << 8 | r[2]);
        Assert.Equal(1u, (v >> 11) & 1); // stst
        Assert.Equal(16u, (v >> 14) & 0x1f); // se
        h.Send("spi_send oid=0 data=0e0000"); // RDSEL 0
        Assert.Equal("000800", Hex(SpiTransfer(h, "0e0000")));
    }
}
