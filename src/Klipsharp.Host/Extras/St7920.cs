using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Framebuffer handling shared by ST7920 style displays (upstream st7920.DisplayBase).</summary>
public abstract class St7920DisplayBase : ILcdChip
{
    private static readonly Dictionary<string, byte[]> TextGlyphs = new() { ["right_arrow"] = [0x1a] };
    private static readonly Dictionary<string, byte[]> CharGlyphs = new() { ["degrees"] = Font8x14.Glyph(0xf8) };

    private readonly byte[] _textFramebuffer = LcdFramebuffer.Filled(64, (byte)' ');
    private readonly byte[] _glyphFramebuffer = new byte[128];
    private readonly byte[][] _graphicsFramebuffers = Enumerable.Range(0, 32).Select(_ => new byte[32]).ToArray();
    private readonly List<(byte[] New, byte[] Old, int Id)> _allFramebuffers = new();
    private readonly Dictionary<string, (string Base, byte[] Text)> _cachedGlyphs = new();
    private readonly Dictionary<string, (byte[] Left, byte[] Right)> _icons = new();

    protected St7920DisplayBase()
    {
        _allFramebuffers.Add((_textFramebuffer, LcdFramebuffer.Filled(64, (byte)'~'), 0x80));
        _allFramebuffers.Add((_glyphFramebuffer, LcdFramebuffer.Filled(128, (byte)'~'), 0x40));
        for (int i = 0; i < 32; i++)
            _allFramebuffers.Add((_graphicsFramebuffers[i], LcdFramebuffer.Filled(32, (byte)'~'), i));
    }

    protected abstract void Send(byte[] cmds, bool isData = false, bool isExtended = false);

    public void Flush()
    {
        foreach (var (newData, oldData, fbId) in _allFramebuffers)
        {
            if (newData.AsSpan().SequenceEqual(oldData))
                continue;
            foreach (var (pos0, count0) in LcdFramebuffer.Diffs(newData, oldData, 5))
            {
                int count = count0 + (pos0 & 0x01);
                count += count & 0x01;
                int pos = pos0 & ~0x01;
                int chipPos = pos >> 1;
                if (fbId < 0x40)
                    Send([(byte)(0x80 + fbId), (byte)(0x80 + chipPos)], isExtended: true);
                else
                    Send([(byte)(fbId + chipPos)]);
                Send(LcdFramebuffer.Slice(newData, pos, count), isData: true);
            }
            newData.CopyTo(oldData, 0);
        }
    }

    public virtual void Init()
    {
        byte[] cmds = [0x24, 0x40, 0x02, 0x26, 0x22, 0x02, 0x06, 0x0c];
        Send(cmds);
        Flush();
    }

    private void CacheGlyph(string glyphName, string baseGlyphName, int glyphId)
    {
        if (!_icons.TryGetValue(glyphName, out var icon) || !_icons.TryGetValue(baseGlyphName, out var baseIcon))
            return;
        int n = Math.Min(Math.Min(icon.Left.Length, icon.Right.Length), Math.Min(baseIcon.Left.Length, baseIcon.Right.Length));
        var oldGlyph = _allFramebuffers[1].Old;
        for (int i = 0; i < n; i++)
        {
            byte x1 = (byte)(icon.Left[i] ^ baseIcon.Left[i]), x2 = (byte)(icon.Right[i] ^ baseIcon.Right[i]);
            int pos = glyphId * 32 + i * 2;
            _glyphFramebuffer[pos] = x1;
            _glyphFramebuffer[pos + 1] = x2;
            oldGlyph[pos] = (byte)(x1 ^ 1);
            oldGlyph[pos + 1] = (byte)(x2 ^ 1);
        }
        _cachedGlyphs[glyphName] = (baseGlyphName, [0, (byte)(glyphId * 2)]);
    }

    public void SetGlyphs(Dictionary<string, DisplayGlyph> glyphs)
    {
        foreach (var (name, data) in glyphs)
            if (data.Icon16x16 is { } icon)
                _icons[name] = icon;
        CacheGlyph("fan2", "fan1", 0);
        CacheGlyph("bed_heat2", "bed_heat1", 1);
    }

    public void WriteText(int x, int y, byte[] data)
    {
        if (x + data.Length > 16)
            data = data[..Math.Max(0, 16 - Math.Min(x, 16))];
        int pos = new[] { 0, 32, 16, 48 }[y] + x;
        LcdFramebuffer.Assign(_textFramebuffer, pos, data);
    }

    public void WriteGraphics(int x, int y, byte[] data)
    {
        if (x >= 16 || y >= 4 || data.Length != 16)
            return;
        int gfxFb = y * 16;
        if (gfxFb >= 32)
        {
            gfxFb -= 32;
            x += 16;
        }
        for (int i = 0; i < data.Length; i++)
            _graphicsFramebuffers[gfxFb + i][x] = data[i];
    }

    public int WriteGlyph(int x, int y, string glyphName)
    {
        if (_cachedGlyphs.TryGetValue(glyphName, out var glyphId) && (x & 1) == 0)
        {
            glyphName = glyphId.Base;
            WriteText(x, y, glyphId.Text);
        }
        if (_icons.TryGetValue(glyphName, out var icon))
        {
            WriteGraphics(x, y, icon.Left);
            WriteGraphics(x + 1, y, icon.Right);
            return 2;
        }
        if (TextGlyphs.TryGetValue(glyphName, out var ch))
        {
            WriteText(x, y, ch);
            return 1;
        }
        if (CharGlyphs.TryGetValue(glyphName, out var font))
        {
            WriteGraphics(x, y, font);
            return 1;
        }
        return 0;
    }

    public void Clear()
    {
        Array.Fill(_textFramebuffer, (byte)' ');
        foreach (var g in _graphicsFramebuffers)
            Array.Clear(g);
    }

    public (int Columns, int Rows) GetDimensions() => (16, 4);
}

/// <summary>A stock ST7920 128x64 display driven by the MCU's st7920 commands (upstream ST7920).</summary>
public sealed class ST7920 : St7920DisplayBase
{
    public const double CmdDelay = .000020;
    public const double SyncDelay = .000045;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly string[] _pins;
    private McuRawCommand? _sendCmdsCmd, _sendDataCmd;
    private bool _isExtended;

    public ST7920(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        var ppins = printer.LookupObject<PrinterPins>("pins");
        var pins = new[] { "cs", "sclk", "sid" }.Select(n => ppins.LookupPin(config.Get(n + "_pin"))).ToList();
        IPinChip? mcu = null;
        foreach (var pp in pins)
        {
            if (mcu is not null && pp.Chip != mcu)
                throw new PinError("st7920 all pins must be on same mcu");
            mcu = pp.Chip;
        }
        _pins = pins.Select(pp => pp.Pin).ToArray();
        _mcu = OutputPins.ChipMcu(pins[0]);
        _oid = _mcu.CreateOid();
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    private void BuildConfig()
    {
        _mcu.AddConfigCmd($"config_st7920 oid={_oid} cs_pin={_pins[0]} sclk_pin={_pins[1]} sid_pin={_pins[2]} sync_delay_ticks={_mcu.SecondsToClock(SyncDelay)} cmd_delay_ticks={_mcu.SecondsToClock(CmdDelay)}");
        var cmdQueue = _mcu.AllocCommandQueue();
        _sendCmdsCmd = new McuRawCommand(_mcu, "st7920_send_cmds oid=%c cmds=%*s", cmdQueue);
        _sendDataCmd = new McuRawCommand(_mcu, "st7920_send_data oid=%c data=%*s", cmdQueue);
    }

    protected override void Send(byte[] cmds, bool isData = false, bool isExtended = false)
    {
        var cmdType = _sendCmdsCmd!;
        if (isData)
            cmdType = _sendDataCmd!;
        else if (_isExtended != isExtended)
        {
            byte addCmd = isExtended ? (byte)0x26 : (byte)0x22;
            cmds = [addCmd, .. cmds];
            _isExtended = isExtended;
        }
        cmdType.Send([(long)_oid, cmds], reqClock: LcdFramebuffer.BackgroundPriorityClock);
    }
}

/// <summary>Toggles a display enable pin at start (upstream st7920.EnableHelper).</summary>
public sealed class EnableHelper
{
    private readonly McuBusDigitalOut _enPin;

    public EnableHelper(string pinDesc, McuSpi spi) => _enPin = new McuBusDigitalOut(spi.GetMcu(), pinDesc, spi.GetCommandQueue());

    public void Init()
    {
        var mcu = _enPin.GetMcu();
        double curtime = mcu.Printer.Reactor.Monotonic();
        double printTime = mcu.EstimatedPrintTime(curtime);
        _enPin.UpdateDigitalOut(0, (ulong)mcu.PrintTimeToClock(printTime + .100));
        _enPin.UpdateDigitalOut(1, (ulong)mcu.PrintTimeToClock(printTime + .200));
        _enPin.UpdateDigitalOut(1, (ulong)mcu.PrintTimeToClock(printTime + .300));
    }
}

/// <summary>Displays emulating an ST7920 over software SPI (upstream EmulatedST7920).</summary>
public sealed class EmulatedST7920 : St7920DisplayBase
{
    private readonly McuSpi _spi;
    private readonly EnableHelper _enHelper;
    private bool _enSet;
    private bool _isExtended;

    public EmulatedST7920(ConfigWrapper config)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        var swPinNames = new[] { "miso", "mosi", "sclk" }.Select(n => $"spi_software_{n}_pin").ToList();
        var swPinParams = swPinNames.Select(n => ppins.LookupPin(config.Get(n), shareType: n)).ToList();
        IPinChip? mcu = null;
        foreach (var pp in swPinParams)
        {
            if (mcu is not null && pp.Chip != mcu)
                throw new PinError($"{config.Name}: spi pins must be on same mcu");
            mcu = pp.Chip;
        }
        var swPins = swPinParams.Select(pp => pp.Pin).ToArray();
        int speed = config.GetInt("spi_speed", 1000000, minval: 100000);
        _spi = new McuSpi(OutputPins.ChipMcu(swPinParams[0]), null, null, 0, speed, swPins);
        _enHelper = new EnableHelper(config.Get("en_pin"), _spi);
    }

    protected override void Send(byte[] cmds, bool isData = false, bool isExtended = false)
    {
        byte syncByte = 0xfa;
        if (!isData)
        {
            syncByte = 0xf8;
            if (_isExtended != isExtended)
            {
                byte addCmd = isExtended ? (byte)0x26 : (byte)0x22;
                cmds = [addCmd, .. cmds];
                _isExtended = isExtended;
            }
        }
        var spiData = new byte[2 * cmds.Length + 1];
        spiData[0] = syncByte;
        int i = 1;
        foreach (byte b in cmds)
        {
            spiData[i] = (byte)(b & 0xF0);
            spiData[i + 1] = (byte)((b & 0x0F) << 4);
            i += 2;
        }
        if (!_enSet)
        {
            _enHelper.Init();
            _enSet = true;
        }
        _spi.SpiSend(spiData, reqclock: LcdFramebuffer.BackgroundPriorityClock);
    }
}
