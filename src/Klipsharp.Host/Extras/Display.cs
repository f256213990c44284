using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>The low level interface of an LCD chip driver (upstream's lcd_chip duck type).</summary>
public interface ILcdChip
{
    void Init();
    void Flush();
    void Clear();
    void WriteText(int x, int y, byte[] data);
    int WriteGlyph(int x, int y, string glyphName);
    void WriteGraphics(int x, int y, byte[] data);
    void SetGlyphs(Dictionary<string, DisplayGlyph> glyphs);
    (int Columns, int Rows) GetDimensions();
}

/// <summary>A parsed [display_glyph]: a 16x16 icon (two 16-row byte columns) and/or a 5x8 HD44780 character.</summary>
public sealed class DisplayGlyph
{
    public (byte[] Left, byte[] Right)? Icon16x16 { get; set; }
    public (int Slot, byte[] Bits)? Icon5x8 { get; set; }
}

/// <summary>A [display_template NAME] section (upstream DisplayTemplate).</summary>
public sealed class DisplayTemplate
{
    private readonly Printer _printer;
    private readonly Dictionary<string, object?> _params = new(StringComparer.Ordinal);
    private readonly TemplateWrapper _template;

    public DisplayTemplate(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var nameParts = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (nameParts.Length != 2)
            throw config.Error($"Section name '{config.Name}' is not valid");
        Name = nameParts[1];
        foreach (var option in config.GetPrefixOptions("param_"))
        {
            try
            {
                _params[option] = PyLiteral.Parse(config.Get(option));
            }
            catch (FormatException)
            {
                throw config.Error($"Option '{option}' in section '{config.Name}' is not a valid literal");
            }
        }
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _template = gcodeMacro.LoadTemplate(config, "text");
    }

    public string Name { get; }

    public IReadOnlyDictionary<string, object?> GetParams() => _params;

    public string Render(IReadOnlyDictionary<string, object?> context, IReadOnlyDictionary<string, object?>? kwargs = null)
    {
        var p = new Dictionary<string, object?>(_params, StringComparer.Ordinal);
        if (kwargs is not null)
            foreach (var (k, v) in kwargs)
                p[k] = v;
        if (p.Count != _params.Count)
            throw new CommandError($"Invalid parameter to display_template {Name}");
        var ctx = new Dictionary<string, object?>(context, StringComparer.Ordinal);
        foreach (var (k, v) in p)
            ctx[k] = v;
        return _template.Render(ctx);
    }

    /// <summary>The render(name, **kwargs) function templates call.</summary>
    public static JinjaFunc MakeRenderFunction(IReadOnlyDictionary<string, DisplayTemplate> templates, Dictionary<string, object?> context) =>
        (a, k) =>
        {
            string name = a.Count > 0 ? JinjaValue.Str(a[0]) : throw JinjaError.Type("render() missing 1 required positional argument: 'name'");
            if (!templates.TryGetValue(name, out var t))
                throw new JinjaError("KeyError", PyFormat.Repr(name));
            return t.Render(context, k);
        };
}

/// <summary>A group of [display_data GROUP ITEM] sections shown together (upstream DisplayGroup).</summary>
public sealed class DisplayGroup
{
    private readonly List<(int Row, int Col, TemplateWrapper Template)> _dataItems = new();

    public DisplayGroup(ConfigWrapper config, string name, List<ConfigWrapper> dataConfigs)
    {
        var items = new List<(int Row, int Col, string Name)>();
        foreach (var c in dataConfigs)
        {
            string pos = c.Get("position");
            var parts = pos.Split(',');
            if (parts.Length != 2
                || !PyFormat.TryParseInt(parts[0].Trim(), out long row)
                || !PyFormat.TryParseInt(parts[1].Trim(), out long col))
                throw config.Error($"Unable to parse 'position' in section '{c.Name}'");
            items.Add(((int)row, (int)col, c.Name));
        }
        var configsByName = new Dictionary<string, ConfigWrapper>();
        foreach (var c in dataConfigs)
            configsByName[c.Name] = c;
        var gcodeMacro = config.GetPrinter().LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        foreach (var (row, col, n) in items.OrderBy(i => i.Row).ThenBy(i => i.Col).ThenBy(i => i.Name, StringComparer.Ordinal))
        {
            var c = configsByName[n];
            if (c.Get("text").Length != 0)
                _dataItems.Add((row, col, gcodeMacro.LoadTemplate(c, "text")));
        }
    }

    public void Show(PrinterLCD display, IReadOnlyDictionary<string, DisplayTemplate> templates, double eventtime)
    {
        if (_dataItems.Count == 0)
            return;
        var context = _dataItems[0].Template.CreateTemplateContext(eventtime);
        context["draw_progress_bar"] = (JinjaFunc)((a, _) => display.DrawProgressBar(
            (int)JinjaValue.ToLong(a[0]), (int)JinjaValue.ToLong(a[1]), (int)JinjaValue.ToLong(a[2]), JinjaValue.ToDouble(a[3])));
        context["render"] = DisplayTemplate.MakeRenderFunction(templates, context);
        foreach (var (row, col, template) in _dataItems)
        {
            string text = template.Render(context);
            display.DrawText(row, col, text.Replace("\n", ""), eventtime);
        }
    }
}

/// <summary>Templates, data groups and glyphs from the config and the defaults (upstream PrinterDisplayTemplate).</summary>
public sealed class PrinterDisplayTemplate
{
    private readonly Dictionary<string, DisplayTemplate> _displayTemplates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DisplayGroup> _displayDataGroups = new(StringComparer.Ordinal);
    private Dictionary<string, DisplayGlyph> _displayGlyphs = new(StringComparer.Ordinal);

    public PrinterDisplayTemplate(ConfigWrapper config) => LoadConfig(config);

    /// <summary>The shared instance, created on first use (upstream lookup_display_templates).</summary>
    public static PrinterDisplayTemplate Lookup(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        var dt = printer.TryLookupObject<PrinterDisplayTemplate>("display_template");
        if (dt is null)
        {
            dt = new PrinterDisplayTemplate(config);
            printer.AddObject("display_template", dt);
        }
        return dt;
    }

    public IReadOnlyDictionary<string, DisplayTemplate> GetDisplayTemplates() => _displayTemplates;

    public IReadOnlyDictionary<string, DisplayGroup> GetDisplayDataGroups() => _displayDataGroups;

    public Dictionary<string, DisplayGlyph> GetDisplayGlyphs() => _displayGlyphs;

    private static List<int> ParseGlyph(ConfigWrapper config, string glyphName, string data, int width, int height)
    {
        var glyphData = new List<int>();
        foreach (var rawLine in data.Split('\n'))
        {
            string line = PyFormat.Strip(rawLine).Replace('.', '0').Replace('*', '1');
            if (line.Length == 0)
                continue;
            if (line.Length != width || line.Replace("0", "").Replace("1", "").Length != 0)
                throw config.Error($"Invalid glyph line in {glyphName}");
            glyphData.Add(Convert.ToInt32(line, 2));
        }
        if (glyphData.Count != height)
            throw config.Error($"Glyph {glyphName} incorrect lines");
        return glyphData;
    }

    private static ConfigWrapper DefaultsConfig(ConfigWrapper config)
    {
        var file = ConfigFile.Build(DisplayDefaults.Config, "display.cfg");
        return new ConfigWrapper(file, new ConfigAccessTracking(), "", config.Owner);
    }

    private void LoadConfig(ConfigWrapper config)
    {
        var dconfig = DefaultsConfig(config);
        // display_template sections
        var dtMain = config.GetPrefixSections("display_template ");
        var dtMainNames = dtMain.Select(c => c.Name).ToHashSet();
        var dtDef = dconfig.GetPrefixSections("display_template ").Where(c => !dtMainNames.Contains(c.Name));
        foreach (var c in dtMain.Concat(dtDef))
        {
            var dt = new DisplayTemplate(c);
            _displayTemplates[dt.Name] = dt;
        }
        // display_data sections
        var ddMain = config.GetPrefixSections("display_data ");
        var ddMainNames = ddMain.Select(c => c.Name).ToHashSet();
        var ddDef = dconfig.GetPrefixSections("display_data ").Where(c => !ddMainNames.Contains(c.Name));
        var groups = new List<(string Name, List<ConfigWrapper> Configs)>();
        foreach (var c in ddMain.Concat(ddDef))
        {
            var nameParts = c.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (nameParts.Length != 3)
                throw config.Error($"Section name '{c.Name}' is not valid");
            int gi = groups.FindIndex(g => g.Name == nameParts[1]);
            if (gi < 0)
                groups.Add((nameParts[1], new List<ConfigWrapper> { c }));
            else
                groups[gi].Configs.Add(c);
        }
        foreach (var (groupName, dataConfigs) in groups)
            _displayDataGroups[groupName] = new DisplayGroup(config, groupName, dataConfigs);
        // display_glyph sections
        const string dgPrefix = "display_glyph ";
        var icons = new Dictionary<string, DisplayGlyph>(StringComparer.Ordinal);
        var dgMain = config.GetPrefixSections(dgPrefix);
        var dgMainNames = dgMain.Select(c => c.Name).ToHashSet();
        var dgDef = dconfig.GetPrefixSections(dgPrefix).Where(c => !dgMainNames.Contains(c.Name));
        foreach (var dg in dgMain.Concat(dgDef))
        {
            string glyphName = dg.Name[dgPrefix.Length..];
            string? data = dg.GetOrNull("data");
            if (data is not null)
            {
                var idata = ParseGlyph(config, glyphName, data, 16, 16);
                var icon1 = idata.Select(bits => (byte)((bits >> 8) & 0xff)).ToArray();
                var icon2 = idata.Select(bits => (byte)(bits & 0xff)).ToArray();
                if (!icons.TryGetValue(glyphName, out var g))
                    icons[glyphName] = g = new DisplayGlyph();
                g.Icon16x16 = (icon1, icon2);
            }
            data = dg.GetOrNull("hd44780_data");
            if (data is not null)
            {
                int slot = dg.GetInt("hd44780_slot", minval: 0, maxval: 7);
                var idata = ParseGlyph(config, glyphName, data, 5, 8);
                if (!icons.TryGetValue(glyphName, out var g))
                    icons[glyphName] = g = new DisplayGlyph();
                g.Icon5x8 = (slot, idata.Select(b => (byte)b).ToArray());
            }
        }
        _displayGlyphs = icons;
    }
}

/// <summary>[display] / [display NAME]: an LCD showing templated status screens (upstream PrinterLCD).</summary>
public sealed class PrinterLCD
{
    public const double RedrawTime = 0.500;
    public const double RedrawMinTime = 0.100;
    public const string CmdSetDisplayGroupHelp = "Set the active display group";

    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly ILcdChip _lcdChip;
    private readonly MenuManager? _menu;
    private readonly IReadOnlyDictionary<string, DisplayTemplate> _displayTemplates;
    private readonly IReadOnlyDictionary<string, DisplayGroup> _displayDataGroups;
    private DisplayGroup _showDataGroup;
    private readonly ReactorTimer _screenUpdateTimer;
    private bool _redrawRequestPending;
    private double _redrawTime;

    private static readonly Dictionary<string, Func<ConfigWrapper, ILcdChip>> LcdChips = new()
    {
        ["st7920"] = c => new ST7920(c),
        ["emulated_st7920"] = c => new EmulatedST7920(c),
        ["hd44780"] = c => new HD44780(c),
        ["uc1701"] = c => new UC1701(c),
        ["ssd1306"] = c => new SSD1306(c),
        ["sh1106"] = c => new SH1106(c),
        ["hd44780_spi"] = c => new Hd44780Spi(c),
        ["aip31068_spi"] = c => new Aip31068Spi(c),
    };

    public PrinterLCD(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _lcdChip = config.GetChoice("lcd_type", LcdChips)(config);
        string name = config.Name;
        if (name == "display")
            _menu = new MenuManager(config, this);
        _printer.LoadObject(config, "display_status");
        var templates = PrinterDisplayTemplate.Lookup(config);
        _displayTemplates = templates.GetDisplayTemplates();
        _displayDataGroups = templates.GetDisplayDataGroups();
        _lcdChip.SetGlyphs(templates.GetDisplayGlyphs());
        string dgroup = _lcdChip.GetDimensions().Columns == 20 ? "_default_20x4" : "_default_16x4";
        dgroup = config.Get("display_group", dgroup);
        if (!_displayDataGroups.TryGetValue(dgroup, out var group))
            throw config.Error($"Unknown display_data group '{dgroup}'");
        _showDataGroup = group;
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _screenUpdateTimer = _reactor.RegisterTimer(ScreenUpdateEvent);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_DISPLAY_GROUP", "DISPLAY", name, CmdSetDisplayGroup, desc: CmdSetDisplayGroupHelp);
        if (name == "display")
            gcode.RegisterMuxCommand("SET_DISPLAY_GROUP", "DISPLAY", null, CmdSetDisplayGroup);
    }

    public ILcdChip LcdChip => _lcdChip;

    public (int Columns, int Rows) GetDimensions() => _lcdChip.GetDimensions();

    private void HandleReady()
    {
        _lcdChip.Init();
        _reactor.UpdateTimer(_screenUpdateTimer, Reactor.Now);
    }

    private double ScreenUpdateEvent(double eventtime)
    {
        if (_redrawRequestPending)
        {
            _redrawRequestPending = false;
            _redrawTime = eventtime + RedrawMinTime;
        }
        _lcdChip.Clear();
        if (_menu is not null && _menu.ScreenUpdateEvent(eventtime))
        {
            _lcdChip.Flush();
            return eventtime + RedrawTime;
        }
        try
        {
            _showDataGroup.Show(this, _displayTemplates, eventtime);
        }
        catch (Exception e)
        {
            _printer.Log?.Invoke($"Error during display screen update: {e.Message}");
        }
        _lcdChip.Flush();
        if (_redrawRequestPending)
            return _redrawTime;
        return eventtime + RedrawTime;
    }

    public void RequestRedraw()
    {
        if (_redrawRequestPending)
            return;
        _redrawRequestPending = true;
        _reactor.UpdateTimer(_screenUpdateTimer, _redrawTime);
    }

    public int DrawText(int row, int col, string mixedText, double eventtime)
    {
        int pos = col;
        var parts = mixedText.Split('~');
        for (int i = 0; i < parts.Length; i++)
        {
            string text = parts[i];
            if ((i & 1) == 0)
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                _lcdChip.WriteText(pos, row, bytes);
                pos += text.Length;
            }
            else
            {
                pos += _lcdChip.WriteGlyph(pos, row, text);
            }
        }
        return pos;
    }

    public string DrawProgressBar(int row, int col, int width, double value)
    {
        // Python: -1 << int(width * 8 * (1. - value) + .5), an arbitrary precision int
        int shift = (int)(width * 8 * (1.0 - value) + 0.5);
        System.Numerics.BigInteger pixels = System.Numerics.BigInteger.MinusOne << shift;
        pixels |= (System.Numerics.BigInteger.One << (width * 8 - 1)) | 1;
        for (int i = 0; i < width; i++)
        {
            byte b = (byte)((pixels >> (i * 8)) & 0xff);
            var data = new byte[16];
            data[0] = 0xff;
            for (int k = 1; k < 15; k++)
                data[k] = b;
            data[15] = 0xff;
            _lcdChip.WriteGraphics(col + width - 1 - i, row, data);
        }
        return "";
    }

    private void CmdSetDisplayGroup(GCodeCommand gcmd)
    {
        string group = gcmd.Get("GROUP");
        if (!_displayDataGroups.TryGetValue(group, out var newDg))
            throw gcmd.Error($"Unknown display_data group '{group}'");
        _showDataGroup = newDg;
    }
}

/// <summary>M73/M117/SET_DISPLAY_TEXT status for displays (upstream display_status DisplayStatus).</summary>
public sealed class DisplayStatus : IStatusProvider
{
    public const double M73Timeout = 5.0;
    public const string CmdSetDisplayTextHelp = "Set or clear the display message";
    private readonly Printer _printer;
    private double _expireProgress;
    private double? _progress;
    private string? _message;

    public DisplayStatus(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("M73", CmdM73);
        gcode.RegisterCommand("M117", CmdM117);
        gcode.RegisterCommand("SET_DISPLAY_TEXT", CmdSetDisplayText, desc: CmdSetDisplayTextHelp);
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        double? progress = _progress;
        if (progress is not null && eventtime > _expireProgress)
        {
            var idleTimeout = _printer.LookupObject<IStatusProvider>("idle_timeout");
            if (idleTimeout.GetStatus(eventtime)["state"] as string != "Printing")
                _progress = progress = null;
        }
        if (progress is null)
        {
            progress = 0.0;
            var sdcard = _printer.TryLookupObject<IStatusProvider>("virtual_sdcard");
            if (sdcard is not null)
                progress = Convert.ToDouble(sdcard.GetStatus(eventtime)["progress"], System.Globalization.CultureInfo.InvariantCulture);
        }
        return new Dictionary<string, object?> { ["progress"] = progress, ["message"] = _message };
    }

    private void CmdM73(GCodeCommand gcmd)
    {
        double? progress = gcmd.GetFloatOrNull("P");
        if (progress is not null)
        {
            double p = progress.Value / 100.0;
            _progress = Math.Min(1.0, Math.Max(0.0, p));
            _expireProgress = _printer.Reactor.Monotonic() + M73Timeout;
        }
    }

    private void CmdM117(GCodeCommand gcmd)
    {
        string msg = gcmd.GetRawCommandParameters();
        _message = msg.Length == 0 ? null : msg;
    }

    private void CmdSetDisplayText(GCodeCommand gcmd) => _message = gcmd.GetOrNull("MSG");
}

/// <summary>
/// [display_template], [display_data] and [display_glyph] sections: read by the display
/// template registry (created here if no display or template user did so yet).
/// </summary>
public sealed class DisplayTemplateSection
{
    public DisplayTemplateSection(ConfigWrapper config) => PrinterDisplayTemplate.Lookup(config.GetSection(""));
}
