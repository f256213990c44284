using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Up to 8 digital buttons polled by one MCU (upstream MCU_buttons).</summary>
public sealed class McuButtons
{
    public const double QueryTime = .002;
    public const int RetransmitCount = 50;

    private readonly Reactor _reactor;
    private readonly Mcu.Mcu _mcu;
    private readonly List<(int Mask, int Shift, Action<double, int> Callback)> _callbacks = new();
    private int _invert, _lastButton;
    private McuCommand? _ackCmd;
    private long _ackCount;
    private int _oid;

    public McuButtons(Printer printer, Mcu.Mcu mcu)
    {
        _reactor = printer.Reactor;
        _mcu = mcu;
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    public List<(string Pin, int Pullup)> PinList { get; } = new();

    public void SetupButtons(IReadOnlyList<PinParams> pins, Action<double, int> callback)
    {
        int mask = 0;
        int shift = PinList.Count;
        foreach (var pp in pins)
        {
            if (pp.Invert != 0)
                _invert |= 1 << PinList.Count;
            mask |= 1 << PinList.Count;
            PinList.Add((pp.Pin, pp.Pullup));
        }
        _callbacks.Add((mask, shift, callback));
    }

    private void BuildConfig()
    {
        if (PinList.Count == 0)
            return;
        _oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_buttons oid={_oid} button_count={PinList.Count}");
        for (int i = 0; i < PinList.Count; i++)
            _mcu.AddConfigCmd($"buttons_add oid={_oid} pos={i} pin={PinList[i].Pin} pull_up={PinList[i].Pullup}", isInit: true);
        var cmdQueue = _mcu.AllocCommandQueue();
        _ackCmd = _mcu.LookupCommand("buttons_ack oid=%c count=%c", cmdQueue);
        long clock = _mcu.GetQuerySlot(_oid);
        long restTicks = _mcu.SecondsToClock(QueryTime);
        _mcu.AddConfigCmd($"buttons_query oid={_oid} clock={clock} rest_ticks={restTicks} retransmit_count={RetransmitCount} invert={_invert}", isInit: true);
        _mcu.RegisterResponse(HandleButtonsState, "buttons_state oid=%c ack_count=%c state=%*s", _oid);
    }

    private void HandleButtonsState(McuResponse p)
    {
        long ackCount = _ackCount;
        long ackDiff = (p["ack_count"] - ackCount) & 0xff;
        ackDiff -= (ackDiff & 0x80) << 1;
        long msgAckCount = ackCount + ackDiff;
        var buttons = p.GetBytes("state");
        long newCount = msgAckCount + buttons.Length - _ackCount;
        if (newCount <= 0)
            return;
        var newButtons = buttons[^(int)Math.Min(newCount, buttons.Length)..];
        _ackCmd!.Send([_oid, newCount]);
        _ackCount += newCount;
        double btime = p.ReceiveTime;
        foreach (byte b in newButtons)
        {
            int button = b ^ _invert;
            int changed = button ^ _lastButton;
            _lastButton = button;
            foreach (var (mask, shift, callback) in _callbacks)
            {
                if ((changed & mask) == 0)
                    continue;
                int state = (button & mask) >> shift;
                _reactor.RegisterAsyncCallback(_ => callback(btime, state));
            }
        }
    }
}

/// <summary>Buttons on a resistor ladder read by an ADC (upstream MCU_ADC_buttons).</summary>
public sealed class McuAdcButtons
{
    public const double AdcReportTime = 0.010;
    public const double AdcDebounceTime = 0.025;
    public const double AdcSampleTime = 0.001;
    public const int AdcSampleCount = 6;
    public const int AdcBatchCount = 5;

    private readonly Reactor _reactor;
    private readonly List<(double Min, double Max, Action<double, int> Callback)> _buttons = new();
    private int? _lastButton, _lastPressed;
    private double _lastDebouncetime;
    private readonly double _pullup;
    private double _minValue = 999999999999.9, _maxValue;

    public McuAdcButtons(Printer printer, string pin, double pullup)
    {
        _reactor = printer.Reactor;
        _pullup = pullup;
        var ppins = printer.LookupObject<PrinterPins>("pins");
        var mcuAdc = AdcPins.AsAdc(ppins.SetupPin("adc", pin));
        mcuAdc.SetupAdcSample(AdcReportTime, AdcSampleTime, AdcSampleCount, batchNum: AdcBatchCount);
        mcuAdc.SetupAdcCallback(AdcCallback);
        printer.LookupObject<QueryAdc>("query_adc").RegisterAdc("adc_button:" + pin.Trim(), mcuAdc);
    }

    public void SetupButton(double minValue, double maxValue, Action<double, int> callback)
    {
        _minValue = Math.Min(_minValue, minValue);
        _maxValue = Math.Max(_maxValue, maxValue);
        _buttons.Add((minValue, maxValue, callback));
    }

    private void AdcCallback(IReadOnlyList<(double Time, double Value)> samples)
    {
        foreach (var (readTime, readValue) in samples)
        {
            double adc = Math.Max(.00001, Math.Min(.99999, readValue));
            double value = _pullup * adc / (1.0 - adc);
            int? btn = null;
            if (_minValue <= value && value <= _maxValue)
            {
                for (int i = 0; i < _buttons.Count; i++)
                {
                    if (_buttons[i].Min < value && value < _buttons[i].Max)
                    {
                        btn = i;
                        break;
                    }
                }
            }
            if (btn != _lastButton)
                _lastDebouncetime = readTime;
            if (readTime - _lastDebouncetime >= AdcDebounceTime && _lastButton == btn && _lastPressed != btn)
            {
                if (_lastPressed is int lp)
                {
                    CallButton(lp, 0);
                    _lastPressed = null;
                }
                if (btn is int b)
                {
                    CallButton(b, 1);
                    _lastPressed = b;
                }
            }
            _lastButton = btn;
        }
    }

    private void CallButton(int button, int state)
    {
        var callback = _buttons[button].Callback;
        _reactor.RegisterAsyncCallback(e => callback(e, state));
    }
}

/// <summary>Rotary encoder state machines (upstream Base/FullStep/HalfStepRotaryEncoder).</summary>
public sealed class RotaryEncoder
{
    private const int RStart = 0x0, RDirCw = 0x10, RDirCcw = 0x20, RDirMsk = 0x30;

    private static readonly int[][] FullStepStates =
    [
        [RStart, 0x2, 0x4, RStart],
        [0x3, RStart, 0x1, RStart | RDirCw],
        [0x3, 0x2, RStart, RStart],
        [0x3, 0x2, 0x1, RStart],
        [0x6, RStart, 0x4, RStart],
        [0x6, 0x5, RStart, RStart | RDirCcw],
        [0x6, 0x5, 0x4, RStart],
    ];

    private static readonly int[][] HalfStepStates =
    [
        [0x3, 0x2, 0x1, RStart],
        [0x3 | RDirCcw, RStart, 0x1, RStart],
        [0x3 | RDirCw, 0x2, RStart, RStart],
        [0x3, 0x5, 0x4, RStart],
        [0x3, 0x3, 0x4, RStart | RDirCw],
        [0x3, 0x5, 0x3, RStart | RDirCcw],
    ];

    private readonly int[][] _states;
    private readonly Action<double> _cwCallback, _ccwCallback;
    private int _encoderState = RStart;

    public RotaryEncoder(bool halfStep, Action<double> cwCallback, Action<double> ccwCallback)
    {
        _states = halfStep ? HalfStepStates : FullStepStates;
        _cwCallback = cwCallback;
        _ccwCallback = ccwCallback;
    }

    public void EncoderCallback(double eventtime, int state)
    {
        int es = _states[_encoderState & 0xf][state & 0x3];
        _encoderState = es;
        if ((es & RDirMsk) == RDirCw)
            _cwCallback(eventtime);
        else if ((es & RDirMsk) == RDirCcw)
            _ccwCallback(eventtime);
    }
}

/// <summary>Debounces a button before acting on it (upstream DebounceButton).</summary>
public sealed class DebounceButton
{
    private readonly Reactor _reactor;
    private readonly Action<double, int> _buttonAction;
    private readonly double _debounceDelay;
    private int? _logicalState, _physicalState;
    private double _latestEventtime;

    public DebounceButton(ConfigWrapper config, Action<double, int> buttonAction)
    {
        _reactor = config.GetPrinter().Reactor;
        _buttonAction = buttonAction;
        _debounceDelay = config.GetFloat("debounce_delay", 0.0, minval: 0.0);
    }

    public void ButtonHandler(double eventtime, int state)
    {
        _physicalState = state;
        _latestEventtime = eventtime;
        if (_logicalState == _physicalState)
            return;
        _reactor.RegisterCallback(DebounceEvent, eventtime + _debounceDelay);
    }

    private void DebounceEvent(double eventtime)
    {
        if (_logicalState == _physicalState)
            return;
        if (eventtime - _debounceDelay < _latestEventtime)
            return;
        _logicalState = _physicalState;
        _buttonAction(_latestEventtime, _logicalState!.Value);
    }
}

/// <summary>The "buttons" object: registers buttons and encoders with their MCUs (upstream PrinterButtons).</summary>
public sealed class PrinterButtons
{
    private readonly Printer _printer;
    private readonly Dictionary<string, McuButtons> _mcuButtons = new();
    private readonly Dictionary<string, McuAdcButtons> _adcButtons = new();

    public PrinterButtons(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.LoadObject(config, "query_adc");
    }

    public void RegisterAdcButton(string pin, double minVal, double maxVal, double pullup, Action<double, int> callback)
    {
        if (!_adcButtons.TryGetValue(pin, out var adcButtons))
            _adcButtons[pin] = adcButtons = new McuAdcButtons(_printer, pin, pullup);
        adcButtons.SetupButton(minVal, maxVal, callback);
    }

    public void RegisterDebounceButton(string pin, Action<double, int> callback, ConfigWrapper config)
    {
        var debounce = new DebounceButton(config, callback);
        RegisterButtons([pin], debounce.ButtonHandler);
    }

    public void RegisterDebounceAdcButton(string pin, double minVal, double maxVal, double pullup, Action<double, int> callback, ConfigWrapper config)
    {
        var debounce = new DebounceButton(config, callback);
        RegisterAdcButton(pin, minVal, maxVal, pullup, debounce.ButtonHandler);
    }

    public void RegisterAdcButtonPush(string pin, double minVal, double maxVal, double pullup, Action<double> callback) =>
        RegisterAdcButton(pin, minVal, maxVal, pullup, (e, state) =>
        {
            if (state != 0)
                callback(e);
        });

    public void RegisterButtons(IReadOnlyList<string> pins, Action<double, int> callback)
    {
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        IPinChip? mcu = null;
        string? mcuName = null;
        var pinParamsList = new List<PinParams>();
        foreach (var pin in pins)
        {
            var pinParams = ppins.LookupPin(pin, canInvert: true, canPullup: true);
            if (mcu is not null && pinParams.Chip != mcu)
                throw new PinError("button pins must be on same mcu");
            mcu = pinParams.Chip;
            mcuName = pinParams.ChipName;
            pinParamsList.Add(pinParams);
        }
        if (!_mcuButtons.TryGetValue(mcuName!, out var mcuButtons) || mcuButtons.PinList.Count + pinParamsList.Count > 8)
            _mcuButtons[mcuName!] = mcuButtons = new McuButtons(_printer, OutputPins.ChipMcu(pinParamsList[0]));
        mcuButtons.SetupButtons(pinParamsList, callback);
    }

    public void RegisterRotaryEncoder(string pin1, string pin2, Action<double> cwCallback, Action<double> ccwCallback, int stepsPerDetent)
    {
        RotaryEncoder re;
        if (stepsPerDetent == 2)
            re = new RotaryEncoder(true, cwCallback, ccwCallback);
        else if (stepsPerDetent == 4)
            re = new RotaryEncoder(false, cwCallback, ccwCallback);
        else
            throw new ConfigError($"{stepsPerDetent} steps per detent not supported");
        RegisterButtons([pin1, pin2], re.EncoderCallback);
    }

    public void RegisterButtonPush(string pin, Action<double> callback) =>
        RegisterButtons([pin], (e, state) =>
        {
            if (state != 0)
                callback(e);
        });
}
