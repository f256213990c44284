using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Framebuffers of a 20x4 (or 16x4) character display (shared by the HD44780 style drivers).</summary>
public abstract class CharLcdBase : ILcdChip
{
    private static readonly Dictionary<string, byte[]> TextGlyphs = new() { ["right_arrow"] = [0x7e] };
    protected readonly int LineLength;
    private readonly byte[][] _textFramebuffers;
    private readonly byte[] _glyphFramebuffer = new byte[64];
    protected readonly List<(byte[] New, byte[] Old, int Cmd)> AllFramebuffers = new();
    private readonly Dictionary<string, (int Slot, byte[] Bits)> _icons = new();

    protected CharLcdBase(int lineLength, int textCmd0, int textCmd1, int glyphCmd)
    {
        LineLength = lineLength;
        _textFramebuffers = [LcdFramebuffer.Filled(2 * lineLength, (byte)' '), LcdFramebuffer.Filled(2 * lineLength, (byte)' ')];
        AllFramebuffers.Add((_textFramebuffers[0], LcdFramebuffer.Filled(2 * lineLength, (byte)'~'), textCmd0));
        AllFramebuffers.Add((_textFramebuffers[1], LcdFramebuffer.Filled(2 * lineLength, (byte)'~'), textCmd1));
        AllFramebuffers.Add((_glyphFramebuffer, LcdFramebuffer.Filled(64, (byte)'~'), glyphCmd));
    }

    public abstract void Init();

    public abstract void Flush();

    public void WriteText(int x, int y, byte[] data)
    {
        if (x + data.Length > LineLength)
            data = data[..Math.Max(0, LineLength - Math.Min(x, LineLength))];
        int pos = x + ((y & 0x02) >> 1) * LineLength;
        LcdFramebuffer.Assign(_textFramebuffers[y & 1], pos, data);
    }

    public void SetGlyphs(Dictionary<string, DisplayGlyph> glyphs)
    {
        foreach (var (name, data) in glyphs)
            if (data.Icon5x8 is { } icon)
                _icons[name] = icon;
    }

    public int WriteGlyph(int x, int y, string glyphName)
    {
        if (_icons.TryGetValue(glyphName, out var data))
        {
            WriteText(x, y, [(byte)data.Slot]);
            LcdFramebuffer.Assign(_glyphFramebuffer, data.Slot * 8, data.Bits.AsSpan(0, Math.Min(8, data.Bits.Length)));
            return 1;
        }
        if (TextGlyphs.TryGetValue(glyphName, out var ch))
        {
            WriteText(x, y, ch);
            return 1;
        }
        return 0;
    }

    public void WriteGraphics(int x, int y, byte[] data)
    {
    }

    public void Clear()
    {
        Array.Fill(_textFramebuffers[0], (byte)' ');
        Array.Fill(_textFramebuffers[1], (byte)' ');
    }

    public (int Columns, int Rows) GetDimensions() => (LineLength, 4);

    protected static int ReadLineLength(ConfigWrapper config) =>
        config.GetChoice("line_length", new Dictionary<int, int> { [16] = 16, [20] = 20 }, 20);
}

/// <summary>An HD44780 character LCD on parallel pins (upstream HD44780).</summary>
public sealed class HD44780 : CharLcdBase
{
    public const double Hd44780Delay = .000040;
    private readonly Printer _printer;
    private readonly bool _protocolInit;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly string[] _pins;
    private McuRawCommand? _sendCmdsCmd, _sendDataCmd;

    public HD44780(ConfigWrapper config) : this(config, Setup(config))
    {
    }

    private HD44780(ConfigWrapper config, (List<PinParams> Pins, bool ProtocolInit, int LineLength) s)
        : base(s.LineLength, 0x80, 0xc0, 0x40)
    {
        _printer = config.GetPrinter();
        _protocolInit = s.ProtocolInit;
        IPinChip? mcu = null;
        foreach (var pp in s.Pins)
        {
            if (mcu is not null && pp.Chip != mcu)
                throw new PinError("hd44780 all pins must be on same mcu");
            mcu = pp.Chip;
        }
        _pins = s.Pins.Select(pp => pp.Pin).ToArray();
        _mcu = OutputPins.ChipMcu(s.Pins[0]);
        _oid = _mcu.CreateOid();
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    private static (List<PinParams>, bool, int) Setup(ConfigWrapper config)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        var pins = new[] { "rs", "e", "d4", "d5", "d6", "d7" }.Select(n => ppins.LookupPin(config.Get(n + "_pin"))).ToList();
        bool protocolInit = config.GetBoolean("hd44780_protocol_init", true);
        int lineLength = ReadLineLength(config);
        return (pins, protocolInit, lineLength);
    }

    private void BuildConfig()
    {
        _mcu.AddConfigCmd($"config_hd44780 oid={_oid} rs_pin={_pins[0]} e_pin={_pins[1]} d4_pin={_pins[2]} d5_pin={_pins[3]} d6_pin={_pins[4]} d7_pin={_pins[5]} delay_ticks={_mcu.SecondsToClock(Hd44780Delay)}");
        var cmdQueue = _mcu.AllocCommandQueue();
        _sendCmdsCmd = new McuRawCommand(_mcu, "hd44780_send_cmds oid=%c cmds=%*s", cmdQueue);
        _sendDataCmd = new McuRawCommand(_mcu, "hd44780_send_data oid=%c data=%*s", cmdQueue);
    }

    private void Send(byte[] cmds, bool isData = false) =>
        (isData ? _sendDataCmd! : _sendCmdsCmd!).Send([(long)_oid, cmds], reqClock: LcdFramebuffer.BackgroundPriorityClock);

    public override void Flush()
    {
        foreach (var (newData, oldData, fbId) in AllFramebuffers)
        {
            if (newData.AsSpan().SequenceEqual(oldData))
                continue;
            foreach (var (pos, count) in LcdFramebuffer.Diffs(newData, oldData, 4))
            {
                Send([(byte)(fbId + pos)]);
                Send(LcdFramebuffer.Slice(newData, pos, count), isData: true);
            }
            newData.CopyTo(oldData, 0);
        }
    }

    public override void Init()
    {
        double curtime = _printer.Reactor.Monotonic();
        double printTime = _mcu.EstimatedPrintTime(curtime);
        var init = _protocolInit
            ? new List<byte[]> { new byte[] { 0x33 }, new byte[] { 0x33 }, new byte[] { 0x32 }, new byte[] { 0x28, 0x28, 0x02 } }
            : new List<byte[]> { new byte[] { 0x02 } };
        init.Add([0x06, 0x0c]);
        for (int i = 0; i < init.Count; i++)
        {
            long minclock = _mcu.PrintTimeToClock(printTime + i * .100);
            _sendCmdsCmd!.Send([(long)_oid, init[i]], minClock: (ulong)minclock);
        }
        Flush();
    }
}

/// <summary>An HD44780 behind a shift register on SPI (upstream hd44780_spi).</summary>
public sealed class Hd44780Spi : CharLcdBase
{
    private const int DataMask = 1 << 1, CommandMask = 0, EnableMask = 1 << 3;
    private readonly Printer _printer;
    private readonly bool _protocolInit;
    private readonly McuSpi _spi;
    private readonly Mcu.Mcu _mcu;

    public Hd44780Spi(ConfigWrapper config) : this(config, Setup(config))
    {
    }

    private Hd44780Spi(ConfigWrapper config, (bool ProtocolInit, McuSpi Spi, int LineLength) s) : base(s.LineLength, 0x80, 0xc0, 0x40)
    {
        _printer = config.GetPrinter();
        _protocolInit = s.ProtocolInit;
        _spi = s.Spi;
        _mcu = _spi.GetMcu();
    }

    private static (bool, McuSpi, int) Setup(ConfigWrapper config)
    {
        bool protocolInit = config.GetBoolean("hd44780_protocol_init", true);
        var spi = McuSpi.FromConfig(config, 0x00, pinOption: "latch_pin");
        int lineLength = ReadLineLength(config);
        return (protocolInit, spi, lineLength);
    }

    private void Send4Bits(int cmd, bool isData, ulong minclock)
    {
        int mask = isData ? DataMask : CommandMask;
        _spi.SpiSend([(byte)((cmd & 0xF0) | mask)], minclock);
        _spi.SpiSend([(byte)((cmd & 0xF0) | mask | EnableMask)], minclock);
        _spi.SpiSend([(byte)((cmd & 0xF0) | mask)], minclock);
    }

    private void Send(byte[] cmds, bool isData = false, ulong minclock = 0)
    {
        foreach (byte data in cmds)
        {
            Send4Bits(data, isData, minclock);
            Send4Bits(data << 4, isData, minclock);
        }
    }

    public override void Flush()
    {
        foreach (var (newData, oldData, fbId) in AllFramebuffers)
        {
            if (newData.AsSpan().SequenceEqual(oldData))
                continue;
            foreach (var (pos, count) in LcdFramebuffer.Diffs(newData, oldData, 4))
            {
                Send([(byte)(fbId + pos)]);
                Send(LcdFramebuffer.Slice(newData, pos, count), isData: true);
            }
            newData.CopyTo(oldData, 0);
        }
    }

    public override void Init()
    {
        double curtime = _printer.Reactor.Monotonic();
        double printTime = _mcu.EstimatedPrintTime(curtime);
        var init = _protocolInit
            ? new List<byte[]> { new byte[] { 0x33 }, new byte[] { 0x33 }, new byte[] { 0x32 }, new byte[] { 0x28, 0x28, 0x02 } }
            : new List<byte[]> { new byte[] { 0x02 } };
        init.Add([0x06, 0x0c]);
        for (int i = 0; i < init.Count; i++)
        {
            long minclock = _mcu.PrintTimeToClock(printTime + i * .100);
            Send(init[i], minclock: (ulong)minclock);
        }
        Flush();
    }
}

/// <summary>A YHCB2004 (AiP31068) character display on 9 bit SPI (upstream aip31068_spi).</summary>
public sealed class Aip31068Spi : CharLcdBase
{
    private const int CmdEntryMode = 1 << 2, FlgEntryInc = 1 << 1;
    private const int CmdDdram = 1 << 7, CmdCgram = 1 << 6, CmdWriteRam = 1 << 8;
    private static readonly int[] DisplayInitCmds =
    [
        2,                       // home
        CmdEntryMode | FlgEntryInc,
        (1 << 3) | (1 << 2),     // display on
        (1 << 4) | (1 << 2),     // shift cursor right
        (1 << 5) | (1 << 3),     // 2-line mode
    ];

    private readonly Printer _printer;
    private readonly McuSpi _spi;
    private readonly Mcu.Mcu _mcu;

    public Aip31068Spi(ConfigWrapper config) : this(config, Setup(config))
    {
    }

    private Aip31068Spi(ConfigWrapper config, (McuSpi Spi, int LineLength) s)
        : base(s.LineLength, CmdDdram | (0x7f & 0x00), CmdDdram | (0x7f & 0x40), CmdCgram | (0x3f & 0x00))
    {
        _printer = config.GetPrinter();
        _spi = s.Spi;
        _mcu = _spi.GetMcu();
    }

    private static (McuSpi, int) Setup(ConfigWrapper config)
    {
        var spi = McuSpi.FromConfig(config, 0x00, pinOption: "latch_pin");
        int lineLength = ReadLineLength(config);
        return (spi, lineLength);
    }

    /// <summary>Packs 9 bit words MSB first into bytes, padding the last byte on the right.</summary>
    public static List<byte> Encode(IReadOnlyList<int> data, int width = 9)
    {
        var encoded = new List<byte>();
        long acc = 0;
        int accBits = 0;
        foreach (int num in data)
        {
            if (num >= 1 << width)
                throw new ArgumentException($"Number {num} does not fit in {width} bits");
            acc = (acc << width) | (long)num;
            accBits += width;
            while (accBits >= 8)
            {
                accBits -= 8;
                encoded.Add((byte)((acc >> accBits) & 0xFF));
                acc &= (1L << accBits) - 1;
            }
        }
        if (accBits > 0)
            encoded.Add((byte)(acc << (8 - accBits)));
        return encoded;
    }

    private void Send(List<int> data, ulong minclock = 0)
    {
        const int pad = CmdEntryMode | FlgEntryInc;
        for (int i = 0; i < data.Count; i += 8)
        {
            var group = data.Skip(i).Take(8).ToList();
            while (group.Count < 8)
                group.Add(pad);
            _spi.SpiSend(Encode(group), minclock);
        }
    }

    public override void Flush()
    {
        foreach (var (newData, oldData, fbCmd) in AllFramebuffers)
        {
            if (newData.AsSpan().SequenceEqual(oldData))
                continue;
            foreach (var (pos, count) in LcdFramebuffer.Diffs(newData, oldData, 4))
            {
                Send([fbCmd + pos]);
                Send(LcdFramebuffer.Slice(newData, pos, count).Select(b => CmdWriteRam | b).ToList());
            }
            newData.CopyTo(oldData, 0);
        }
    }

    public override void Init()
    {
        double curtime = _printer.Reactor.Monotonic();
        double printTime = _mcu.EstimatedPrintTime(curtime);
        for (int i = 0; i < DisplayInitCmds.Length; i++)
        {
            long minclock = _mcu.PrintTimeToClock(printTime + i * .100);
            Send([DisplayInitCmds[i]], (ulong)minclock);
        }
        Flush();
    }
}
