using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>An RGBW color with components 0..1.</summary>
public readonly record struct LedColor(double Red, double Green, double Blue, double White)
{
    public double this[int i] => i switch { 0 => Red, 1 => Green, 2 => Blue, _ => White };

    /// <summary>As a Python tuple (for get_status).</summary>
    public PyTuple ToTuple() => new([Red, Green, Blue, White]);
}

/// <summary>LED color state, SET_LED and SET_LED_TEMPLATE (upstream led.LEDHelper).</summary>
public sealed class LedHelper
{
    public const string CmdSetLedHelp = "Set the color of an LED";
    public const string CmdSetLedTemplateHelp = "Assign a display_template to an LED";

    private readonly Printer _printer;
    private readonly Action<IReadOnlyList<LedColor>, double?> _updateFunc;
    private readonly int _ledCount;
    private bool _needTransmit;
    private readonly PrinterTemplateEvaluator _templateEval;
    private readonly List<Action<string>> _tcallbacks = new();

    public LedHelper(ConfigWrapper config, Action<IReadOnlyList<LedColor>, double?> updateFunc, int ledCount = 1)
    {
        _printer = config.GetPrinter();
        _updateFunc = updateFunc;
        _ledCount = ledCount;
        double red = config.GetFloat("initial_RED", 0.0, minval: 0.0, maxval: 1.0);
        double green = config.GetFloat("initial_GREEN", 0.0, minval: 0.0, maxval: 1.0);
        double blue = config.GetFloat("initial_BLUE", 0.0, minval: 0.0, maxval: 1.0);
        double white = config.GetFloat("initial_WHITE", 0.0, minval: 0.0, maxval: 1.0);
        LedState = Enumerable.Repeat(new LedColor(red, green, blue, white), ledCount).ToList();
        _templateEval = PrinterTemplateEvaluator.Lookup(config);
        for (int i = 0; i < ledCount; i++)
        {
            int index = i + 1;
            _tcallbacks.Add(text => TemplateUpdate(index, text));
        }
        string name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_LED", "LED", name, CmdSetLed, desc: CmdSetLedHelp);
        gcode.RegisterMuxCommand("SET_LED_TEMPLATE", "LED", name, CmdSetLedTemplate, desc: CmdSetLedTemplateHelp);
    }

    public List<LedColor> LedState { get; private set; }

    public Dictionary<string, object?> GetStatus(double eventtime = 0.0) =>
        new() { ["color_data"] = LedState.Select(c => (object?)c.ToTuple()).ToList() };

    private void SetColor(int? index, LedColor color)
    {
        List<LedColor> newLedState;
        if (index is null)
        {
            newLedState = Enumerable.Repeat(color, _ledCount).ToList();
            if (LedState.SequenceEqual(newLedState))
                return;
        }
        else
        {
            if (LedState[index.Value - 1] == color)
                return;
            newLedState = new List<LedColor>(LedState);
            newLedState[index.Value - 1] = color;
        }
        LedState = newLedState;
        _needTransmit = true;
    }

    private void TemplateUpdate(int index, string text)
    {
        var parts = new List<double>();
        foreach (var f in text.Split(',', 5))
        {
            if (!PyFormat.TryParseFloat(f, out double v))
            {
                _printer.Log?.Invoke("led template render error");
                parts.Clear();
                break;
            }
            parts.Add(Math.Max(0.0, Math.Min(1.0, v)));
        }
        while (parts.Count < 4)
            parts.Add(0.0);
        if (parts.Count > 4)
            parts = parts.Take(4).ToList();
        SetColor(index, new LedColor(parts[0], parts[1], parts[2], parts[3]));
    }

    private void CheckTransmit(double? printTime = null)
    {
        if (!_needTransmit)
            return;
        var ledState = LedState;
        _needTransmit = false;
        _printer.Reactor.RegisterCallback(_ =>
        {
            try
            {
                _updateFunc(ledState, printTime);
            }
            catch (CommandError)
            {
                _printer.Log?.Invoke("led update transmit error");
            }
        });
    }

    private void CmdSetLed(GCodeCommand gcmd)
    {
        double red = gcmd.GetFloat("RED", 0.0, minval: 0.0, maxval: 1.0);
        double green = gcmd.GetFloat("GREEN", 0.0, minval: 0.0, maxval: 1.0);
        double blue = gcmd.GetFloat("BLUE", 0.0, minval: 0.0, maxval: 1.0);
        double white = gcmd.GetFloat("WHITE", 0.0, minval: 0.0, maxval: 1.0);
        int? index = gcmd.GetIntOrNull("INDEX", minval: 1, maxval: _ledCount);
        int transmit = gcmd.GetInt("TRANSMIT", 1);
        int sync = gcmd.GetInt("SYNC", 1);
        var color = new LedColor(red, green, blue, white);
        void LookaheadBgfunc(double? printTime)
        {
            SetColor(index, color);
            if (transmit != 0)
                CheckTransmit(printTime);
        }
        if (sync != 0)
            _printer.LookupObject<ToolHead>("toolhead").RegisterLookaheadCallback(pt => LookaheadBgfunc(pt));
        else
            LookaheadBgfunc(null);
    }

    private void CmdSetLedTemplate(GCodeCommand gcmd)
    {
        int? index = gcmd.GetIntOrNull("INDEX", minval: 1, maxval: _ledCount);
        if (index is int i)
            _templateEval.SetTemplate(gcmd, _tcallbacks[i - 1], () => CheckTransmit());
        else
            foreach (var cb in _tcallbacks)
                _templateEval.SetTemplate(gcmd, cb, () => CheckTransmit());
    }
}

/// <summary>[led NAME]: LEDs on PWM pins (upstream led.PrinterPWMLED).</summary>
public sealed class PrinterPwmLed : IStatusProvider
{
    private readonly Printer _printer;
    private readonly List<(int Idx, IPwmPin Pin)> _pins = new();
    private double _lastPrintTime;
    private readonly LedHelper _ledHelper;
    private LedColor _prevColor;

    public PrinterPwmLed(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        double maxDuration = Mcu.Mcu.MaxNominalDuration;
        double cycleTime = config.GetFloat("cycle_time", 0.010, above: 0.0, maxval: maxDuration);
        bool hardwarePwm = config.GetBoolean("hardware_pwm", false);
        string[] names = ["red", "green", "blue", "white"];
        for (int i = 0; i < names.Length; i++)
        {
            string? pinName = config.GetOrNull(names[i] + "_pin");
            if (pinName is null)
                continue;
            var mcuPin = OutputPins.SetupPwm(_printer, pinName);
            mcuPin.SetupMaxDuration(0.0);
            mcuPin.SetupCycleTime(cycleTime, hardwarePwm);
            _pins.Add((i, mcuPin));
        }
        if (_pins.Count == 0)
            throw config.Error($"No LED pin definitions found in '{config.Name}'");
        _ledHelper = new LedHelper(config, UpdateLeds, 1);
        _prevColor = _ledHelper.LedState[0];
        foreach (var (idx, mcuPin) in _pins)
            mcuPin.SetupStartValue(_prevColor[idx], 0.0);
    }

    private void UpdateLeds(IReadOnlyList<LedColor> ledState, double? printTime)
    {
        var mcu = _pins[0].Pin.GetMcu();
        const double minSchedTime = Mcu.Mcu.MinScheduleTime;
        double pt = printTime ?? mcu.EstimatedPrintTime(_printer.Reactor.Monotonic()) + minSchedTime;
        pt = Math.Max(pt, _lastPrintTime + minSchedTime);
        var color = ledState[0];
        foreach (var (idx, mcuPin) in _pins)
        {
            if (_prevColor[idx] != color[idx])
            {
                mcuPin.SetPwm(pt, color[idx]);
                _lastPrintTime = pt;
            }
        }
        _prevColor = color;
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _ledHelper.GetStatus(eventtime);
}

/// <summary>[neopixel NAME]: WS2812 style LED chains (upstream neopixel.PrinterNeoPixel).</summary>
public sealed class PrinterNeoPixel : IStatusProvider
{
    public const double BitMaxTime = .000004;
    public const double ResetMinTime = .000050;
    public const int MaxMcuSize = 500;

    private readonly Printer _printer;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly string _pin;
    private McuRawCommand? _neopixelUpdateCmd;
    private readonly List<(int CdIdx, int LIdx, int CIdx)> _colorMap = new();
    private readonly LedHelper _ledHelper;
    private readonly byte[] _colorData;
    private readonly byte[] _oldColorData;

    public PrinterNeoPixel(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        var pinParams = ppins.LookupPin(config.Get("pin"));
        _mcu = OutputPins.ChipMcu(pinParams);
        _oid = _mcu.CreateOid();
        _pin = pinParams.Pin;
        _mcu.RegisterConfigCallback(BuildConfig);
        int chainCount = config.GetInt("chain_count", 1, minval: 1);
        var colorOrder = config.GetList("color_order", ["GRB"]).ToList();
        if (colorOrder.Count == 1)
            colorOrder = Enumerable.Repeat(colorOrder[0], chainCount).ToList();
        if (colorOrder.Count != chainCount)
            throw config.Error("color_order does not match chain_count");
        var colorIndexes = new List<(int, int)>();
        for (int lidx = 0; lidx < colorOrder.Count; lidx++)
        {
            string co = colorOrder[lidx];
            string sorted = new(co.OrderBy(c => c).ToArray());
            if (sorted != "BGR" && sorted != "BGRW")
                throw config.Error($"Invalid color_order '{co}'");
            foreach (char c in co)
                colorIndexes.Add((lidx, "RGBW".IndexOf(c)));
        }
        for (int i = 0; i < colorIndexes.Count; i++)
            _colorMap.Add((i, colorIndexes[i].Item1, colorIndexes[i].Item2));
        if (_colorMap.Count > MaxMcuSize)
            throw config.Error("neopixel chain too long");
        _ledHelper = new LedHelper(config, UpdateLeds, chainCount);
        _colorData = new byte[_colorMap.Count];
        UpdateColorData(_ledHelper.LedState);
        _oldColorData = _colorData.Select(d => (byte)(d ^ 1)).ToArray();
        _printer.RegisterEventHandler("klippy:connect", () => SendData());
    }

    private void BuildConfig()
    {
        long bmt = _mcu.SecondsToClock(BitMaxTime);
        long rmt = _mcu.SecondsToClock(ResetMinTime);
        _mcu.AddConfigCmd($"config_neopixel oid={_oid} pin={_pin} data_size={_colorData.Length} bit_max_ticks={bmt} reset_min_ticks={rmt}");
        var cmdQueue = _mcu.AllocCommandQueue();
        _neopixelUpdateCmd = new McuRawCommand(_mcu, "neopixel_update oid=%c pos=%hu data=%*s", cmdQueue);
    }

    private void UpdateColorData(IReadOnlyList<LedColor> ledState)
    {
        foreach (var (cdidx, lidx, cidx) in _colorMap)
            _colorData[cdidx] = (byte)(long)(ledState[lidx][cidx] * 255.0 + .5);
    }

    private void SendData(double? printTime = null)
    {
        if (_colorData.AsSpan().SequenceEqual(_oldColorData))
            return;
        foreach (var (pos, count) in LcdFramebuffer.Diffs(_colorData, _oldColorData, 5))
            _neopixelUpdateCmd!.Send([(long)_oid, (long)pos, LcdFramebuffer.Slice(_colorData, pos, count)],
                reqClock: LcdFramebuffer.BackgroundPriorityClock);
        _colorData.CopyTo(_oldColorData, 0);
        if (_printer.IsFileOutput)
            return;
        _printer.Log?.Invoke("Neopixel update did not succeed");
    }

    private void UpdateLeds(IReadOnlyList<LedColor> ledState, double? printTime)
    {
        UpdateColorData(ledState);
        SendData(printTime);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _ledHelper.GetStatus(eventtime);
}

/// <summary>[dotstar NAME]: APA102 LED chains on software SPI (upstream dotstar.PrinterDotstar).</summary>
public sealed class PrinterDotstar : IStatusProvider
{
    private readonly McuSpi _spi;
    private readonly LedHelper _ledHelper;
    private List<LedColor>? _prevData;

    public PrinterDotstar(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        var ppins = printer.LookupObject<PrinterPins>("pins");
        var dataPinParams = ppins.LookupPin(config.Get("data_pin"));
        var clockPinParams = ppins.LookupPin(config.Get("clock_pin"));
        var mcu = OutputPins.ChipMcu(dataPinParams);
        if (clockPinParams.Chip != mcu)
            throw config.Error("Dotstar pins must be on same mcu");
        string[] swSpiPins = [dataPinParams.Pin, dataPinParams.Pin, clockPinParams.Pin];
        _spi = new McuSpi(mcu, null, null, 0, 500000, swSpiPins);
        int chainCount = config.GetInt("chain_count", 1, minval: 1);
        _ledHelper = new LedHelper(config, UpdateLeds, chainCount);
        printer.RegisterEventHandler("klippy:connect", () => UpdateLeds(_ledHelper.LedState, null));
    }

    private void UpdateLeds(IReadOnlyList<LedColor> ledState, double? printTime)
    {
        if (_prevData is not null && _prevData.SequenceEqual(ledState))
            return;
        _prevData = ledState.ToList();
        var data = new byte[(ledState.Count + 2) * 4];
        for (int i = 0; i < ledState.Count; i++)
        {
            var c = ledState[i];
            int idx = (i + 1) * 4;
            data[idx] = 0xff;
            data[idx + 1] = (byte)(long)(c.Blue * 255.0 + .5);
            data[idx + 2] = (byte)(long)(c.Green * 255.0 + .5);
            data[idx + 3] = (byte)(long)(c.Red * 255.0 + .5);
        }
        data[^4] = data[^3] = data[^2] = data[^1] = 0xff;
        ulong minclock = 0;
        if (printTime is double pt)
            minclock = (ulong)_spi.GetMcu().PrintTimeToClock(pt);
        for (int i = 0; i < data.Length; i += 20)
            _spi.SpiSend(LcdFramebuffer.Slice(data, i, 20), minclock, LcdFramebuffer.BackgroundPriorityClock);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _ledHelper.GetStatus(eventtime);
}
