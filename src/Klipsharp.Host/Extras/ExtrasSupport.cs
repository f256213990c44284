using System.Globalization;
using System.Runtime.CompilerServices;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;
using CommandQueue = Klipsharp.Host.Mcu.CommandQueue;

namespace Klipsharp.Host.Extras;

/// <summary>An object that reports a status dictionary (upstream's get_status(eventtime) duck type).</summary>
public interface IStatusProvider
{
    Dictionary<string, object?> GetStatus(double eventtime);
}

/// <summary>An object that contributes to the periodic statistics log (upstream's stats(eventtime) duck type).</summary>
public interface IStatsProvider
{
    (bool IsActive, string Message) Stats(double eventtime);
}

/// <summary>A PWM output: an MCU pin, or a virtual pin that fans out to several (upstream MCU_pwm duck type).</summary>
public interface IPwmPin
{
    Mcu.Mcu GetMcu();
    void SetupMaxDuration(double maxDuration);
    void SetupCycleTime(double cycleTime, bool hardwarePwm = false);
    void SetupStartValue(double startValue, double shutdownValue);
    void SetPwm(double printTime, double value);
    double NextAlignedPrintTime(double printTime, double allowEarly = 0.0);
}

/// <summary>A digital output: an MCU pin or a virtual pin (upstream MCU_digital_out duck type).</summary>
public interface IDigitalOutPin
{
    Mcu.Mcu GetMcu();
    void SetupMaxDuration(double maxDuration);
    void SetupStartValue(double startValue, double shutdownValue);
    void SetDigital(double printTime, double value);
}

/// <summary>Helpers that create output pins through the "pins" object and wrap MCU pin classes in <see cref="IPwmPin"/>/<see cref="IDigitalOutPin"/>.</summary>
public static class OutputPins
{
    private sealed class PwmAdapter(McuPwm pin) : IPwmPin
    {
        public Mcu.Mcu GetMcu() => pin.Mcu;
        public void SetupMaxDuration(double maxDuration) => pin.SetupMaxDuration(maxDuration);
        public void SetupCycleTime(double cycleTime, bool hardwarePwm = false) => pin.SetupCycleTime(cycleTime, hardwarePwm);
        public void SetupStartValue(double startValue, double shutdownValue) => pin.SetupStartValue(startValue, shutdownValue);
        public void SetPwm(double printTime, double value) => pin.SetPwm(printTime, value);
        public double NextAlignedPrintTime(double printTime, double allowEarly = 0.0) => pin.NextAlignedPrintTime(printTime, allowEarly);
    }

    private sealed class DigitalAdapter(McuDigitalOut pin) : IDigitalOutPin
    {
        public Mcu.Mcu GetMcu() => pin.Mcu;
        public void SetupMaxDuration(double maxDuration) => pin.SetupMaxDuration(maxDuration);
        public void SetupStartValue(double startValue, double shutdownValue) => pin.SetupStartValue(startValue, shutdownValue);
        public void SetDigital(double printTime, double value) => pin.SetDigital(printTime, value);
    }

    /// <summary>Wraps a pin object returned by a chip's setup_pin("pwm").</summary>
    public static IPwmPin AsPwm(object pin) => pin switch
    {
        IPwmPin p => p,
        McuPwm m => new PwmAdapter(m),
        _ => throw new PinError($"pin object {pin.GetType().Name} is not a pwm pin"),
    };

    /// <summary>Wraps a pin object returned by a chip's setup_pin("digital_out").</summary>
    public static IDigitalOutPin AsDigital(object pin) => pin switch
    {
        IDigitalOutPin p => p,
        McuDigitalOut m => new DigitalAdapter(m),
        _ => throw new PinError($"pin object {pin.GetType().Name} is not a digital output pin"),
    };

    public static IPwmPin SetupPwm(Printer printer, string pinDesc) =>
        AsPwm(printer.LookupObject<PrinterPins>("pins").SetupPin("pwm", pinDesc));

    public static IDigitalOutPin SetupDigitalOut(Printer printer, string pinDesc) =>
        AsDigital(printer.LookupObject<PrinterPins>("pins").SetupPin("digital_out", pinDesc));

    /// <summary>The chip of parsed pin params as an MCU (upstream pin_params['chip'] used as an mcu).</summary>
    public static Mcu.Mcu ChipMcu(PinParams pinParams) =>
        pinParams.Chip as Mcu.Mcu ?? throw new PinError($"Pin '{pinParams.Pin}' must be on an mcu");
}

/// <summary>Per-pin attachments (upstream stores shared helpers in pin_params['class']).</summary>
public static class PinClassStore
{
    private static readonly ConditionalWeakTable<PinParams, object> Store = new();

    public static T? Get<T>(PinParams pinParams) where T : class =>
        Store.TryGetValue(pinParams, out var v) ? v as T : null;

    public static void Set(PinParams pinParams, object value) => Store.AddOrUpdate(pinParams, value);
}

/// <summary>Python-compatible number formatting used by response texts.</summary>
public static class PyFmt
{
    /// <summary>Python "%.Nf" (round half to even on the exact binary value).</summary>
    public static string F(double v, int prec)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsInfinity(v)) return v > 0 ? "inf" : "-inf";
        string wide = v.ToString("F" + (prec + 25).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int dot = wide.IndexOf('.');
        string tail = wide[(dot + 1 + prec)..];
        if (tail[0] == '5' && tail.AsSpan(1).TrimEnd('0').Length == 0)
        {
            // Exact tie: round to even digit
            string head = wide[..(dot + 1 + prec)];
            if (prec == 0) head = head.TrimEnd('.');
            char last = head[^1] == '.' ? head[^2] : head[^1];
            bool odd = ((last - '0') & 1) == 1;
            decimal d = decimal.Parse(head, CultureInfo.InvariantCulture);
            if (odd)
            {
                decimal step = 1m;
                for (int i = 0; i < prec; i++) step /= 10m;
                d += v < 0 ? -step : step;
            }
            string res = d.ToString("F" + prec.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            return v < 0 && !res.StartsWith('-') ? "-" + res : res;
        }
        return v.ToString("F" + prec.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>Python "%d" of an integer value.</summary>
    public static string D(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Python round(v, ndigits) for a float.</summary>
    public static double Round(double v, int ndigits)
    {
        if (double.IsNaN(v) || double.IsInfinity(v)) return v;
        return double.Parse(F(v, ndigits), CultureInfo.InvariantCulture);
    }

    /// <summary>Python str() of a float.</summary>
    public static string S(double v) => PyFormat.Repr(v);
}

/// <summary>A command whose arguments may include byte strings (upstream CommandWrapper with %*s fields).</summary>
public sealed class McuRawCommand
{
    private readonly Mcu.Mcu _mcu;
    private readonly Klipsharp.Protocol.MessageFormat _format;
    private readonly CommandQueue _queue;

    public McuRawCommand(Mcu.Mcu mcu, string msgformat, CommandQueue? cq = null)
    {
        _mcu = mcu;
        _format = mcu.Serial.MsgParser.LookupCommand(msgformat);
        _queue = cq ?? mcu.DefaultCommandQueue;
    }

    /// <summary>Sends with integer and byte[] arguments in parameter order.</summary>
    public void Send(IReadOnlyList<object?> args, ulong minClock = 0, ulong reqClock = 0)
    {
        var data = _format.Encode(args);
        _mcu.Serial.RawSend(data, minClock, reqClock, _queue);
    }
}

/// <summary>Python repr() helpers for messages that embed Python values.</summary>
public static class PyRepr
{
    /// <summary>repr() of a list of strings, e.g. ['a', 'b'].</summary>
    public static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(PyFormat.Repr)) + "]";

    /// <summary>repr() of a bytes object, e.g. b'\x00ab'.</summary>
    public static string Bytes(ReadOnlySpan<byte> data)
    {
        var sb = new System.Text.StringBuilder("b'");
        foreach (byte b in data)
        {
            if (b == '\'' || b == '\\') sb.Append('\\').Append((char)b);
            else if (b == '\n') sb.Append("\\n");
            else if (b == '\r') sb.Append("\\r");
            else if (b == '\t') sb.Append("\\t");
            else if (b < 0x20 || b >= 0x7f) sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
            else sb.Append((char)b);
        }
        return sb.Append('\'').ToString();
    }
}

/// <summary>An analog input: an MCU ADC pin or a derived one such as adc_scaled (upstream MCU_adc duck type).</summary>
public interface IAdcPin
{
    Mcu.Mcu GetMcu();
    void SetupAdcSample(double reportTime, double sampleTime = 0.0, int sampleCount = 1, int batchNum = 1,
        double minval = 0.0, double maxval = 1.0, int rangeCheckCount = 0);
    void SetupAdcCallback(Action<IReadOnlyList<(double Time, double Value)>> callback);
    (double Time, double Value) GetLastValue();
}

/// <summary>Creates analog inputs through the "pins" object.</summary>
public static class AdcPins
{
    private sealed class AdcAdapter(McuAdc adc) : IAdcPin
    {
        public Mcu.Mcu GetMcu() => adc.Mcu;
        public void SetupAdcSample(double reportTime, double sampleTime = 0.0, int sampleCount = 1, int batchNum = 1,
            double minval = 0.0, double maxval = 1.0, int rangeCheckCount = 0) =>
            adc.SetupAdcSample(reportTime, sampleTime, sampleCount, batchNum, minval, maxval, rangeCheckCount);
        public void SetupAdcCallback(Action<IReadOnlyList<(double Time, double Value)>> callback) => adc.SetupAdcCallback(callback);
        public (double Time, double Value) GetLastValue() => adc.LastValue;
    }

    public static IAdcPin AsAdc(object pin) => pin switch
    {
        IAdcPin p => p,
        McuAdc m => new AdcAdapter(m),
        _ => throw new PinError($"pin object {pin.GetType().Name} is not an adc pin"),
    };

    public static IAdcPin SetupAdc(Printer printer, string pinDesc) =>
        AsAdc(printer.LookupObject<PrinterPins>("pins").SetupPin("adc", pinDesc));
}
