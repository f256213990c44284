using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>How a UC1701 style display is reached: 4-wire SPI or I2C.</summary>
public interface ILcdIo
{
    void Send(byte[] cmds, bool isData = false);
}

/// <summary>SPI with a data/command line (upstream uc1701.SPI4wire).</summary>
public sealed class Spi4Wire : ILcdIo
{
    private readonly McuBusDigitalOut _mcuDc;

    public Spi4Wire(ConfigWrapper config, string dataPinName)
    {
        Spi = McuSpi.FromConfig(config, 0, defaultSpeed: 10000000);
        string dcPin = config.Get(dataPinName);
        _mcuDc = new McuBusDigitalOut(Spi.GetMcu(), dcPin, Spi.GetCommandQueue());
    }

    public McuSpi Spi { get; }

    public void Send(byte[] cmds, bool isData = false)
    {
        _mcuDc.UpdateDigitalOut(isData ? 1 : 0, reqclock: LcdFramebuffer.BackgroundPriorityClock);
        Spi.SpiSend(cmds, reqclock: LcdFramebuffer.BackgroundPriorityClock);
    }
}

/// <summary>I2C display link (upstream uc1701.I2C).</summary>
public sealed class LcdI2c : ILcdIo
{
    public LcdI2c(ConfigWrapper config, int defaultAddr) =>
        I2c = McuI2c.FromConfig(config, defaultAddr: defaultAddr, defaultSpeed: 400000, asyncWriteOnly: true);

    public McuI2c I2c { get; }

    public void Send(byte[] cmds, bool isData = false)
    {
        byte hdr = isData ? (byte)0x40 : (byte)0x00;
        I2c.I2cWriteNoack([hdr, .. cmds], reqclock: LcdFramebuffer.BackgroundPriorityClock);
    }
}

/// <summary>Pulses a display reset pin at start (upstream uc1701.ResetHelper).</summary>
public sealed class ResetHelper
{
    private readonly McuBusDigitalOut? _mcuReset;

    public ResetHelper(string? pinDesc, Mcu.Mcu mcu, Mcu.CommandQueue cmdQueue)
    {
        if (pinDesc is null)
            return;
        _mcuReset = new McuBusDigitalOut(mcu, pinDesc, cmdQueue);
    }

    public void Init()
    {
        if (_mcuReset is null)
            return;
        var mcu = _mcuReset.GetMcu();
        double curtime = mcu.Printer.Reactor.Monotonic();
        double printTime = mcu.EstimatedPrintTime(curtime);
        _mcuReset.UpdateDigitalOut(0, (ulong)mcu.PrintTimeToClock(printTime + .100));
        _mcuReset.UpdateDigitalOut(1, (ulong)mcu.PrintTimeToClock(printTime + .200));
        _mcuReset.UpdateDigitalOut(1, (ulong)mcu.PrintTimeToClock(printTime + .300));
    }
}

/// <summary>Page based 128x64 monochrome displays (upstream uc1701.DisplayBase).</summary>
public abstract class PagedDisplayBase : ILcdChip
{
    private static readonly Dictionary<string, byte[]> TextGlyphs = new() { ["right_arrow"] = [0x1a], ["degrees"] = [0xf8] };
    private readonly ILcdIo _io;
    private readonly int _columns;
    private readonly int _xOffset;
    private readonly byte[][] _vram;
    private readonly List<(byte[] New, byte[] Old, int Page)> _allFramebuffers = new();
    private readonly (byte[] Top, byte[] Bot)[] _font;
    private readonly Dictionary<string, (byte[] Top, byte[] Bot)> _icons = new();

    protected PagedDisplayBase(ILcdIo io, int columns = 128, int xOffset = 0)
    {
        _io = io;
        _columns = columns;
        _xOffset = xOffset;
        _vram = Enumerable.Range(0, 8).Select(_ => new byte[columns]).ToArray();
        for (int i = 0; i < 8; i++)
            _allFramebuffers.Add((_vram[i], LcdFramebuffer.Filled(columns, (byte)'~'), i));
        _font = Enumerable.Range(0, 256).Select(c => SwizzleBits(Font8x14.Glyph(c))).ToArray();
    }

    protected void Send(byte[] cmds, bool isData = false) => _io.Send(cmds, isData);

    public abstract void Init();

    public void Flush()
    {
        foreach (var (newData, oldData, page) in _allFramebuffers)
        {
            if (newData.AsSpan().SequenceEqual(oldData))
                continue;
            foreach (var (colPos, count) in LcdFramebuffer.Diffs(newData, oldData, 5))
            {
                byte ra = (byte)(0xb0 | (page & 0x0F));
                byte caMsb = (byte)(0x10 | ((colPos >> 4) & 0x0F));
                byte caLsb = (byte)(colPos & 0x0F);
                Send([ra, caMsb, caLsb]);
                Send(LcdFramebuffer.Slice(newData, colPos, count), isData: true);
            }
            newData.CopyTo(oldData, 0);
        }
    }

    /// <summary>Converts 16 rows of 8 pixels into two 8 byte column sets.</summary>
    private static (byte[] Top, byte[] Bot) SwizzleBits(byte[] data)
    {
        ulong top = 0, bot = 0;
        for (int row = 0; row < 8; row++)
        {
            ulong spaced = (data[row] * 0x8040201008040201UL) & 0x8080808080808080UL;
            top |= spaced >> (7 - row);
            spaced = (data[row + 8] * 0x8040201008040201UL) & 0x8080808080808080UL;
            bot |= spaced >> (7 - row);
        }
        var bitsTop = new byte[8];
        var bitsBot = new byte[8];
        for (int i = 0; i < 8; i++)
        {
            bitsTop[i] = (byte)((top >> (i * 8)) & 0xff);
            bitsBot[i] = (byte)((bot >> (i * 8)) & 0xff);
        }
        return (bitsTop, bitsBot);
    }

    public void SetGlyphs(Dictionary<string, DisplayGlyph> glyphs)
    {
        foreach (var (name, data) in glyphs)
        {
            if (data.Icon16x16 is not { } icon)
                continue;
            var (top1, bot1) = SwizzleBits(icon.Left);
            var (top2, bot2) = SwizzleBits(icon.Right);
            _icons[name] = ([.. top1, .. top2], [.. bot1, .. bot2]);
        }
    }

    public void WriteText(int x, int y, byte[] data)
    {
        if (x + data.Length > 16)
            data = data[..Math.Max(0, 16 - Math.Min(x, 16))];
        int pixX = x * 8 + _xOffset;
        var pageTop = _vram[y * 2];
        var pageBot = _vram[y * 2 + 1];
        foreach (byte c in data)
        {
            var (bitsTop, bitsBot) = _font[c];
            LcdFramebuffer.Assign(pageTop, pixX, bitsTop);
            LcdFramebuffer.Assign(pageBot, pixX, bitsBot);
            pixX += 8;
        }
    }

    public void WriteGraphics(int x, int y, byte[] data)
    {
        if (x >= 16 || y >= 4 || data.Length != 16)
            return;
        var (bitsTop, bitsBot) = SwizzleBits(data);
        int pixX = x * 8 + _xOffset;
        var pageTop = _vram[y * 2];
        var pageBot = _vram[y * 2 + 1];
        for (int i = 0; i < 8; i++)
        {
            pageTop[pixX + i] ^= bitsTop[i];
            pageBot[pixX + i] ^= bitsBot[i];
        }
    }

    public int WriteGlyph(int x, int y, string glyphName)
    {
        if (_icons.TryGetValue(glyphName, out var icon) && x < 15)
        {
            int pixX = x * 8 + _xOffset;
            int pageIdx = y * 2;
            LcdFramebuffer.Assign(_vram[pageIdx], pixX, icon.Top);
            LcdFramebuffer.Assign(_vram[pageIdx + 1], pixX, icon.Bot);
            return 2;
        }
        if (TextGlyphs.TryGetValue(glyphName, out var ch))
        {
            WriteText(x, y, ch);
            return 1;
        }
        return 0;
    }

    public void Clear()
    {
        foreach (var page in _vram)
            Array.Clear(page);
    }

    public (int Columns, int Rows) GetDimensions() => (16, 4);
}

/// <summary>UC1701 on 4-wire SPI (upstream UC1701).</summary>
public sealed class UC1701 : PagedDisplayBase
{
    private readonly int _contrast;
    private readonly ResetHelper _reset;

    public UC1701(ConfigWrapper config) : this(config, new Spi4Wire(config, "a0_pin"))
    {
    }

    private UC1701(ConfigWrapper config, Spi4Wire io) : base(io)
    {
        _contrast = config.GetInt("contrast", 40, minval: 0, maxval: 63);
        _reset = new ResetHelper(config.GetOrNull("rst_pin"), io.Spi.GetMcu(), io.Spi.GetCommandQueue());
    }

    public override void Init()
    {
        _reset.Init();
        byte[] initCmds = [0xE2, 0x40, 0xA0, 0xC8, 0xA2, 0x2C, 0x2E, 0x2F, 0xF8, 0x00, 0x23, 0x81, (byte)_contrast, 0xAC, 0x00, 0xA6, 0xAF];
        Send(initCmds);
        Send([0xA5]);
        Send([0xA4]);
        Flush();
    }
}

/// <summary>SSD1306 on I2C or 4-wire SPI (upstream SSD1306).</summary>
public class SSD1306 : PagedDisplayBase
{
    private readonly ResetHelper _reset;
    private readonly int _contrast, _vcomh;
    private readonly bool _invert;

    public SSD1306(ConfigWrapper config) : this(config, 128, 0)
    {
    }

    protected SSD1306(ConfigWrapper config, int columns, int xOffset) : this(config, MakeIo(config), columns, xOffset)
    {
    }

    private SSD1306(ConfigWrapper config, (ILcdIo Io, Mcu.Mcu Mcu, Mcu.CommandQueue Cq) io, int columns, int xOffset)
        : base(io.Io, columns, xOffset)
    {
        _reset = ResetFor(config, io.Mcu, io.Cq);
        _contrast = config.GetInt("contrast", 239, minval: 0, maxval: 255);
        _vcomh = config.GetInt("vcomh", 0, minval: 0, maxval: 63);
        _invert = config.GetBoolean("invert", false);
    }

    // upstream reads reset_pin before the display base is set up; no config access happens in between
    private static ResetHelper ResetFor(ConfigWrapper config, Mcu.Mcu mcu, Mcu.CommandQueue cq) =>
        new(config.GetOrNull("reset_pin"), mcu, cq);

    private static (ILcdIo, Mcu.Mcu, Mcu.CommandQueue) MakeIo(ConfigWrapper config)
    {
        string? csPin = config.GetOrNull("cs_pin");
        if (csPin is null)
        {
            var io = new LcdI2c(config, 60);
            return (io, io.I2c.GetMcu(), io.I2c.GetCommandQueue());
        }
        var spi = new Spi4Wire(config, "dc_pin");
        return (spi, spi.Spi.GetMcu(), spi.Spi.GetCommandQueue());
    }

    public override void Init()
    {
        _reset.Init();
        byte[] initCmds =
        [
            0xAE, 0xD5, 0x80, 0xA8, 0x3f, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x02, 0xA1, 0xC8, 0xDA, 0x12,
            0x81, (byte)_contrast, 0xD9, 0xA1, 0xDB, (byte)_vcomh, 0x2E, 0xA4, _invert ? (byte)0xA7 : (byte)0xA6, 0xAF,
        ];
        Send(initCmds);
        Flush();
    }
}

/// <summary>SH1106: an SSD1306 compatible display with 132 columns (upstream SH1106).</summary>
public sealed class SH1106 : SSD1306
{
    public SH1106(ConfigWrapper config) : base(config, 132, config.GetInt("x_offset", 0, minval: 0, maxval: 3))
    {
    }
}
