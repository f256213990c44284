using System.Runtime.InteropServices;
using Klipsharp.Protocol;

namespace Klipsharp.SimMcu;

public sealed partial class SimulatedMcu
{
    // ------------------------------------------------------------------
    // Trinamic stepper drivers. The firmware side is tmcuart.c (a bit-banged single
    // wire UART) and spicmds.c; the chips behind them are modelled here: a TMC2209 on
    // every UART address 0..3, and a TMC2130/5160/2240 (40-bit) or TMC2660 (20-bit)
    // behind an SPI device whose traffic has that shape. Chips keep their registers
    // across firmware restarts, as real drivers powered by the motor supply do.

    private const int TmcUartDataMax = 10;
    private const int TmcUartMaxAddress = 3;

    /// <summary>One <c>config_tmcuart</c> object (firmware struct tmcuart_s).</summary>
    private sealed class TmcUartLine
    {
        public readonly SimTimer Timer = new();
        public int RxPin, TxPin;
        public bool PullUp;
        public uint BitTime;
        public bool Active;
        public byte[] Write = [];
        public int ReadLen;
        public byte[] Read = [];
    }

    /// <summary>The register file of one simulated Trinamic driver.</summary>
    internal sealed class TmcChip
    {
        public readonly Dictionary<int, uint> Regs = new();
        public readonly HashSet<int> Written = new();
        // 40-bit SPI: the data shifted out with the next datagram.
        public uint Latched;

        public uint Get(int reg) => Regs.GetValueOrDefault(reg);
    }

    private readonly Dictionary<(int Rx, int Tx, int Addr), TmcChip> _tmcUartChips = new();
    private readonly Dictionary<(int Cs, int ChainPos), TmcChip> _tmcSpiChips = new();

    // TMC2209 register numbers used by the model.
    private const int TmcGconf = 0x00, TmcGstat = 0x01, TmcIfcnt = 0x02, TmcSlaveconf = 0x03, TmcIoin2209 = 0x06,
        TmcFactoryConf = 0x07, TmcIholdIrun = 0x10, TmcTstep = 0x12, TmcMscnt = 0x6a, TmcMscuract = 0x6b,
        TmcChopconf = 0x6c, TmcDrvStatus = 0x6f, TmcPwmconf = 0x70;

    private void BuildTmcCommands()
    {
        _table.AddCommand("config_tmcuart oid=%c rx_pin=%u pull_up=%c tx_pin=%u bit_time=%u", a =>
            OidAlloc(a.Byte(0), new TmcUartLine
            {
                RxPin = (int)a[1], PullUp = a.Byte(2) != 0, TxPin = (int)a[3], BitTime = a[4],
            }));
        _table.AddCommand("tmcuart_send oid=%c write=%*s read=%c", a => TmcUartSend(a.Byte(0), a.Buffer(1), a.Byte(2)));
        _table.AddResponse("tmcuart_response oid=%c read=%*s");
    }

    private void TmcUartSend(byte oid, byte[] write, int readLen)
    {
        var t = OidLookup<TmcUartLine>(oid);
        if (t.Active)
            return; // busy: dropped, the host retransmits
        if (write.Length > TmcUartDataMax || readLen > TmcUartDataMax)
            Shutdown("tmcuart data too large");
        t.Active = true;
        t.Write = write;
        t.ReadLen = readLen;
        uint bit = t.BitTime;
        uint start = Clock.Now32 + (uint)(Board.ClockFreq * 200 / 1_000_000);
        uint writeEnd = start + (uint)(write.Length * 8) * bit;
        byte[]? reply = TmcUartExchange(t, write);
        int sendDelay = TmcSendDelayBits(t, write);
        if (sendDelay > 4 + 64)
            reply = null; // answers after the firmware stopped looking
        if (readLen == 0)
        {
            t.Read = [];
            t.Timer.WakeTime = writeEnd;
        }
        else if (reply != null && reply.Length > 0)
        {
            // The reply begins after the chip's SENDDELAY; the firmware looks for its
            // start bit for 64 bit times after a 4 bit pause.
            t.Read = TmcUartSample(reply, readLen);
            t.Timer.WakeTime = writeEnd + (uint)(sendDelay + readLen * 8) * bit;
        }
        else
        {
            t.Read = [];
            t.Timer.WakeTime = writeEnd + (4 + 65) * bit;
        }
        t.Timer.Func = _ => TmcUartFinish(oid, t);
        AddTimer(t.Timer);
    }

    private TimerResult TmcUartFinish(byte oid, TmcUartLine t)
    {
        t.Active = false;
        Sendf("tmcuart_response", oid, t.Read);
        return TimerResult.Done;
    }

    private void TmcUartShutdown()
    {
        foreach (var (_, t) in Objects<TmcUartLine>())
            t.Active = false;
    }

    // Bits the addressed chip waits before answering (SLAVECONF.SENDDELAY: 8, 24, 40, ... bit times).
    private int TmcSendDelayBits(TmcUartLine t, byte[] write)
    {
        var bytes = TmcUartFrame.RemoveSerialBits(write);
        if (bytes == null || bytes.Count < 2 || !_tmcUartChips.TryGetValue((t.RxPin, t.TxPin, bytes[1]), out var chip))
            return 8;
        int sd = (int)(chip.Get(TmcSlaveconf) >> 8) & 0x0f;
        return 8 * (sd | 1);
    }

    // The line as the firmware samples it from the reply's first start bit: readLen
    // bytes of bits, idle (high) after the reply.
    private static byte[] TmcUartSample(byte[] replyBits, int readLen)
    {
        var r = new byte[readLen];
        for (int i = 0; i < readLen; i++)
            r[i] = i < replyBits.Length ? replyBits[i] : (byte)0xff;
        return r;
    }

    /// <summary>
    /// Delivers a bit-encoded datagram to the chips on a UART line; returns the
    /// bit-encoded reply (null when no chip answers).
    /// </summary>
    private byte[]? TmcUartExchange(TmcUartLine t, byte[] write)
    {
        var bytes = TmcUartFrame.RemoveSerialBits(write);
        if (bytes == null || bytes.Count < 4 || (bytes[0] & 0x0f) != 0x05)
            return null;
        int addr = bytes[1];
        if (addr > TmcUartMaxAddress)
            return null;
        int reg = bytes[2];
        bool isWrite = (reg & 0x80) != 0;
        int len = isWrite ? 8 : 4;
        if (bytes.Count < len || TmcUartFrame.Crc8(CollectionsMarshal.AsSpan(bytes)[..(len - 1)]) != bytes[len - 1])
            return null;
        var chip = TmcUartChip(t.RxPin, t.TxPin, addr);
        reg &= 0x7f;
        if (isWrite)
        {
            uint val = (uint)(bytes[3] << 24 | bytes[4] << 16 | bytes[5] << 8 | bytes[6]);
            TmcUartWrite(chip, reg, val);
            chip.Regs[TmcIfcnt] = (chip.Get(TmcIfcnt) + 1) & 0xff;
            return null;
        }
        uint data = TmcUartRead(chip, reg);
        return TmcUartFrame.EncodeDatagram([0x05, 0xff, (byte)reg, (byte)(data >> 24), (byte)(data >> 16), (byte)(data >> 8), (byte)data]);
    }

    private TmcChip TmcUartChip(int rx, int tx, int addr)
    {
        if (!_tmcUartChips.TryGetValue((rx, tx, addr), out var chip))
        {
            chip = new TmcChip();
            // TMC2209 power-on values
            chip.Regs[TmcGconf] = 0x00000101;
            chip.Regs[TmcGstat] = 0x1; // reset
            chip.Regs[TmcFactoryConf] = 0x0000000f;
            chip.Regs[TmcIholdIrun] = 0x00011f10;
            chip.Regs[0x11] = 20; // TPOWERDOWN
            chip.Regs[TmcChopconf] = 0x10000053;
            chip.Regs[TmcPwmconf] = 0xc10d0024;
            _tmcUartChips[(rx, tx, addr)] = chip;
        }
        return chip;
    }

    private static void TmcUartWrite(TmcChip chip, int reg, uint val)
    {
        chip.Written.Add(reg);
        switch (reg)
        {
            case TmcGstat:
                chip.Regs[reg] = chip.Get(reg) & ~(val & 0x7); // write 1 to clear
                break;
            case TmcIfcnt: case TmcIoin2209: case TmcTstep: case 0x41: case TmcMscnt: case TmcMscuract:
            case TmcDrvStatus: case 0x71: case 0x72:
                break; // read-only
            default:
                chip.Regs[reg] = val;
                break;
        }
    }

    private static uint TmcUartRead(TmcChip chip, int reg)
    {
        uint iholdIrun = chip.Get(TmcIholdIrun);
        return reg switch
        {
            // VERSION 0x21 (TMC2209); PDN_UART high, ENN high (no pin model)
            TmcIoin2209 => 0x21000041,
            TmcTstep => 0x000fffff, // standstill
            TmcMscuract => 0x00f70000, // MSCNT 0: CUR_B 247, CUR_A 0
            // standstill, stealthChop unless en_spreadcycle, CS_ACTUAL at the hold current
            TmcDrvStatus => 0x80000000u | ((chip.Get(TmcGconf) & 0x4) == 0 ? 0x40000000u : 0u) | ((iholdIrun & 0x1f) << 16),
            _ => chip.Get(reg),
        };
    }

    // ------------------------------------------------------------------
    // SPI drivers

    /// <summary>
    /// Runs an SPI transfer through the chips behind a device and returns what they
    /// shift out: 40-bit Trinamic datagrams (SPI mode 3, multiples of 5 bytes, one chip
    /// per 5 bytes of a daisy chain), 20-bit TMC2660 datagrams (mode 0, 3 bytes), and
    /// zeros for anything else.
    /// </summary>
    private byte[] SpiExchange(SpiDevice dev, byte[] data)
    {
        var resp = new byte[data.Length];
        if (dev.Mode == 3 && data.Length > 0 && data.Length % 5 == 0)
        {
            int n = data.Length / 5;
            for (int i = 0; i < n; i++)
                Tmc40Exchange(TmcSpiChip(dev.CsKey, n - i), data.AsSpan(i * 5, 5), resp.AsSpan(i * 5, 5));
        }
        else if (dev.Mode == 0 && data.Length == 3 && (data[0] & 0xf0) == 0)
        {
            Tmc2660Exchange(TmcSpiChip(dev.CsKey, 1), data, resp);
        }
        return resp;
    }

    private TmcChip TmcSpiChip(int cs, int chainPos)
    {
        if (!_tmcSpiChips.TryGetValue((cs, chainPos), out var chip))
        {
            chip = new TmcChip();
            chip.Regs[TmcGstat] = 0x1; // reset
            _tmcSpiChips[(cs, chainPos)] = chip;
        }
        return chip;
    }

    private static void Tmc40Exchange(TmcChip chip, ReadOnlySpan<byte> dgram, Span<byte> resp)
    {
        // SPI_STATUS: reset_flag, driver_error (GSTAT bits 0, 1), sg2 0, standstill 1
        uint gstat = chip.Get(TmcGstat);
        resp[0] = (byte)((gstat & 0x3) | 0x8);
        uint prev = chip.Latched;
        resp[1] = (byte)(prev >> 24);
        resp[2] = (byte)(prev >> 16);
        resp[3] = (byte)(prev >> 8);
        resp[4] = (byte)prev;
        int reg = dgram[0] & 0x7f;
        uint val = (uint)(dgram[1] << 24 | dgram[2] << 16 | dgram[3] << 8 | dgram[4]);
        if ((dgram[0] & 0x80) != 0)
        {
            chip.Written.Add(reg);
            if (reg == TmcGstat)
                chip.Regs[reg] = gstat & ~(val & 0x7);
            else
                chip.Regs[reg] = val;
            chip.Latched = val;
            return;
        }
        chip.Latched = Tmc40Read(chip, reg);
        if (reg == TmcGstat)
            chip.Regs[reg] = 0; // cleared by the read
    }

    private static uint Tmc40Read(TmcChip chip, int reg)
    {
        uint iholdIrun = chip.Get(TmcIholdIrun);
        // The host's init tells the variants apart: GLOBALSCALER (TMC5160/2240), ADC registers (TMC2240)
        uint version = chip.Written.Contains(0x52) || chip.Written.Contains(0x50) ? 0x40u
            : chip.Written.Contains(0x0b) ? 0x30u : 0x11u;
        return reg switch
        {
            0x04 => version << 24, // IOIN
            TmcTstep => 0x000fffff,
            TmcMscuract => 0x00f70000,
            TmcDrvStatus => 0x80000000u | ((iholdIrun & 0x1f) << 16), // standstill, CS_ACTUAL at hold current
            0x51 when !chip.Regs.ContainsKey(0x51) => 2231, // ADC_TEMP: 25 C
            _ => chip.Get(reg),
        };
    }

    private static void Tmc2660Exchange(TmcChip chip, byte[] dgram, Span<byte> resp)
    {
        uint v = (uint)(dgram[0] << 16 | dgram[1] << 8 | dgram[2]);
        // The reply is shifted out as the datagram comes in, selected by the RDSEL set before
        int rdsel = (int)(chip.Get(0xe) >> 4) & 0x3;
        uint r = 1u << 7; // STST
        if (rdsel == 2)
            r |= (chip.Get(0xc) & 0x1f) << 10; // SE: coolStep current = CS
        uint word = r << 4;
        resp[0] = (byte)(word >> 16);
        resp[1] = (byte)(word >> 8);
        resp[2] = (byte)word;
        int reg = (v & 0x80000) == 0 ? 0x0 : (int)(v >> 16) & 0xe;
        chip.Written.Add(reg);
        chip.Regs[reg] = v & 0xfffff;
    }

    /// <summary>Registers of the simulated UART driver at (rx pin, tx pin, address), or null before it was addressed.</summary>
    internal IReadOnlyDictionary<int, uint>? TmcUartRegisters(int rxPin, int txPin, int addr)
    {
        lock (_sync)
            return _tmcUartChips.TryGetValue((rxPin, txPin, addr), out var c) ? new Dictionary<int, uint>(c.Regs) : null;
    }

    /// <summary>Registers of the simulated SPI driver behind chip select <paramref name="csPin"/>, or null.</summary>
    internal IReadOnlyDictionary<int, uint>? TmcSpiRegisters(int csPin, int chainPos = 1)
    {
        lock (_sync)
            return _tmcSpiChips.TryGetValue((csPin, chainPos), out var c) ? new Dictionary<int, uint>(c.Regs) : null;
    }
}
