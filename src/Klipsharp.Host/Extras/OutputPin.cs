using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>
/// Queues output changes requested by G-Code (at the toolhead's print time) or by timers
/// (as soon as possible) and applies them from the motion flush (upstream GCodeRequestQueue).
/// The callback returns null for a normal update, or ("discard"|"reschedule"|"repeat", min next time).
/// </summary>
public sealed class GCodeRequestQueue
{
    private readonly Printer _printer;
    private readonly Mcu.Mcu _mcu;
    private readonly Func<double, double, (string Action, double Time)?> _callback;
    private readonly List<(double PrintTime, double Value)> _rqueue = new();
    private readonly MotionQueuing _motionQueuing;
    private double _nextMinFlushTime;
    private ToolHead? _toolhead;

    public GCodeRequestQueue(ConfigWrapper config, Mcu.Mcu mcu, Func<double, double, (string Action, double Time)?> callback)
    {
        _printer = config.GetPrinter();
        _mcu = mcu;
        _callback = callback;
        _motionQueuing = _printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _motionQueuing.RegisterFlushCallback(FlushNotification);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    private void HandleConnect() => _toolhead = _printer.LookupObject<ToolHead>("toolhead");

    private void FlushNotification(double mustFlushTime, double maxStepGenTime)
    {
        const double minSchedTime = Mcu.Mcu.MinScheduleTime;
        var rqueue = _rqueue;
        while (rqueue.Count > 0)
        {
            double nextTime = Math.Max(rqueue[0].PrintTime, _nextMinFlushTime);
            if (nextTime > mustFlushTime)
                return;
            // Skip requests that a later request overrides
            int pos = 0;
            while (pos + 1 < rqueue.Count && rqueue[pos + 1].PrintTime <= nextTime)
                pos++;
            double reqVal = rqueue[pos].Value;
            var ret = _callback(nextTime, reqVal);
            if (ret is { } r)
            {
                _nextMinFlushTime = Math.Max(_nextMinFlushTime, r.Time);
                if (r.Action == "discard")
                {
                    rqueue.RemoveRange(0, pos + 1);
                    continue;
                }
                if (r.Action == "reschedule")
                {
                    rqueue.RemoveRange(0, pos);
                    continue;
                }
                if (r.Action == "repeat")
                    pos--;
            }
            rqueue.RemoveRange(0, pos + 1);
            _nextMinFlushTime = Math.Max(_nextMinFlushTime, nextTime + minSchedTime);
            // Make sure following requests get flushed
            _motionQueuing.NoteMcuMovequeueActivity(_nextMinFlushTime, isStepGen: false);
        }
    }

    private void QueueRequest(double printTime, double value)
    {
        _rqueue.Add((printTime, value));
        _motionQueuing.NoteMcuMovequeueActivity(printTime, isStepGen: false);
    }

    public void QueueGcodeRequest(double value) =>
        _toolhead!.RegisterLookaheadCallback(pt => QueueRequest(pt, value));

    public void SendAsyncRequest(double value, double? printTime = null)
    {
        const double minSchedTime = Mcu.Mcu.MinScheduleTime;
        if (printTime is null)
        {
            double systime = _printer.Reactor.Monotonic();
            printTime = _mcu.EstimatedPrintTime(systime + minSchedTime);
        }
        while (true)
        {
            double nextTime = Math.Max(printTime.Value, _nextMinFlushTime);
            string action = "normal";
            var ret = _callback(nextTime, value);
            if (ret is { } r)
            {
                action = r.Action;
                _nextMinFlushTime = Math.Max(_nextMinFlushTime, r.Time);
                if (action == "discard")
                    break;
                if (action == "reschedule")
                    continue;
            }
            _nextMinFlushTime = Math.Max(_nextMinFlushTime, nextTime + minSchedTime);
            if (action != "repeat")
                break;
        }
    }
}

/// <summary>Renders display_template based output values periodically (upstream PrinterTemplateEvaluator).</summary>
public sealed class PrinterTemplateEvaluator
{
    public const double RenderTime = 0.500;
    private readonly Printer _printer;
    private readonly Dictionary<Action<string>, (DisplayTemplate Template, Dictionary<string, object?> LParams, Action? FlushCallback, string? Uid)> _activeTemplates = new();
    private ReactorTimer? _renderTimer;
    private readonly IReadOnlyDictionary<string, DisplayTemplate> _templates;
    private readonly PrinterGCodeMacro _gcodeMacro;

    public PrinterTemplateEvaluator(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var dtemplates = PrinterDisplayTemplate.Lookup(config);
        _templates = dtemplates.GetDisplayTemplates();
        _gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
    }

    /// <summary>The shared evaluator, created on first use (upstream lookup_template_eval).</summary>
    public static PrinterTemplateEvaluator Lookup(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        var te = printer.TryLookupObject<PrinterTemplateEvaluator>("template_evaluator");
        if (te is null)
        {
            te = new PrinterTemplateEvaluator(config);
            printer.AddObject("template_evaluator", te);
        }
        return te;
    }

    private void ActivateTimer()
    {
        if (_renderTimer is not null || _activeTemplates.Count == 0)
            return;
        _renderTimer = _printer.Reactor.RegisterTimer(Render, Reactor.Now);
    }

    private void ActivateTemplate(Action<string> callback, DisplayTemplate? template, Dictionary<string, object?> lparams, Action? flushCallback)
    {
        if (template is not null)
        {
            string uid = template.Name + "\0" + string.Join("\0",
                lparams.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + JinjaValue.Repr(kv.Value)));
            _activeTemplates[callback] = (template, lparams, flushCallback, uid);
            return;
        }
        _activeTemplates.Remove(callback);
    }

    private double Render(double eventtime)
    {
        if (_activeTemplates.Count == 0)
        {
            _printer.Reactor.UnregisterTimer(_renderTimer!);
            _renderTimer = null;
            return Reactor.Never;
        }
        var context = _gcodeMacro.CreateTemplateContext(eventtime);
        context["render"] = DisplayTemplate.MakeRenderFunction(_templates, context);
        var flushCallbacks = new List<Action>();
        var renderCache = new Dictionary<string, string>();
        foreach (var (callback, (template, lparams, flushCallback, uid)) in _activeTemplates.ToList())
        {
            if (uid is null || !renderCache.TryGetValue(uid, out var text))
            {
                try
                {
                    text = template.Render(context, lparams);
                }
                catch (Exception e)
                {
                    _printer.Log?.Invoke($"display template render error: {e.Message}");
                    text = "";
                }
                if (uid is not null)
                    renderCache[uid] = text;
            }
            if (flushCallback is not null && !flushCallbacks.Contains(flushCallback))
                flushCallbacks.Add(flushCallback);
            callback(text);
        }
        foreach (var fcb in flushCallbacks)
            fcb();
        return eventtime + RenderTime;
    }

    public void SetTemplate(GCodeCommand gcmd, Action<string> callback, Action? flushCallback = null)
    {
        DisplayTemplate? template = null;
        var lparams = new Dictionary<string, object?>();
        string tplName = gcmd.Get("TEMPLATE");
        if (tplName.Length != 0)
        {
            if (!_templates.TryGetValue(tplName, out template))
                throw gcmd.Error($"Unknown display_template '{tplName}'");
            var tparams = template.GetParams();
            foreach (var (p0, v) in gcmd.GetCommandParameters())
            {
                if (!p0.StartsWith("PARAM_", StringComparison.Ordinal))
                    continue;
                string p = p0.ToLowerInvariant();
                if (!tparams.ContainsKey(p))
                    throw gcmd.Error($"Invalid display_template parameter: {p}");
                try
                {
                    lparams[p] = PyLiteral.Parse(v);
                }
                catch (FormatException)
                {
                    throw gcmd.Error($"Unable to parse '{v}' as a literal");
                }
            }
        }
        ActivateTemplate(callback, template, lparams, flushCallback);
        ActivateTimer();
    }
}

/// <summary>[output_pin NAME]: a digital or PWM pin set by SET_PIN (upstream PrinterOutputPin).</summary>
public sealed class PrinterOutputPin : IStatusProvider
{
    public const string CmdSetPinHelp = "Set the value of an output pin";
    private readonly Printer _printer;
    private readonly bool _isPwm;
    private readonly IPwmPin? _pwmPin;
    private readonly IDigitalOutPin? _digitalPin;
    private readonly double _scale;
    private double _lastValue;
    private readonly GCodeRequestQueue _gcrq;
    private readonly PrinterTemplateEvaluator _templateEval;

    public PrinterOutputPin(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _isPwm = config.GetBoolean("pwm", false);
        Mcu.Mcu mcu;
        if (_isPwm)
        {
            _pwmPin = OutputPins.SetupPwm(_printer, config.Get("pin"));
            mcu = _pwmPin.GetMcu();
            double maxDuration = Mcu.Mcu.MaxNominalDuration;
            double cycleTime = config.GetFloat("cycle_time", 0.100, above: 0.0, maxval: maxDuration);
            bool hardwarePwm = config.GetBoolean("hardware_pwm", false);
            _pwmPin.SetupCycleTime(cycleTime, hardwarePwm);
            _scale = config.GetFloat("scale", 1.0, above: 0.0);
            _pwmPin.SetupMaxDuration(0.0);
        }
        else
        {
            _digitalPin = OutputPins.SetupDigitalOut(_printer, config.Get("pin"));
            mcu = _digitalPin.GetMcu();
            _scale = 1.0;
            _digitalPin.SetupMaxDuration(0.0);
        }
        _lastValue = config.GetFloat("value", 0.0, minval: 0.0, maxval: _scale) / _scale;
        double shutdownValue = config.GetFloat("shutdown_value", 0.0, minval: 0.0, maxval: _scale) / _scale;
        if (_isPwm)
            _pwmPin!.SetupStartValue(_lastValue, shutdownValue);
        else
            _digitalPin!.SetupStartValue(_lastValue, shutdownValue);
        _gcrq = new GCodeRequestQueue(config, mcu, SetPin);
        _templateEval = PrinterTemplateEvaluator.Lookup(config);
        string pinName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_PIN", "PIN", pinName, CmdSetPin, desc: CmdSetPinHelp);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["value"] = _lastValue };

    private (string, double)? SetPin(double printTime, double value)
    {
        if (value == _lastValue)
            return ("discard", 0.0);
        _lastValue = value;
        if (_isPwm)
            _pwmPin!.SetPwm(printTime, value);
        else
            _digitalPin!.SetDigital(printTime, value);
        return null;
    }

    private void TemplateUpdate(string text)
    {
        if (!PyFormat.TryParseFloat(text, out double value))
        {
            _printer.Log?.Invoke("output_pin template render error");
            value = 0.0;
        }
        _gcrq.SendAsyncRequest(value);
    }

    private void CmdSetPin(GCodeCommand gcmd)
    {
        double? value = gcmd.GetFloatOrNull("VALUE", minval: 0.0, maxval: _scale);
        string? template = gcmd.GetOrNull("TEMPLATE");
        if ((value is null) == (template is null))
            throw gcmd.Error("SET_PIN command must specify VALUE or TEMPLATE");
        if (template is not null)
        {
            _templateEval.SetTemplate(gcmd, TemplateUpdate);
            return;
        }
        double v = value!.Value / _scale;
        if (!_isPwm && v != 0.0 && v != 1.0)
            throw gcmd.Error("Invalid pin value");
        _gcrq.QueueGcodeRequest(v);
    }
}
