using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[multi_pin NAME]: a virtual output pin that drives several real pins (upstream PrinterMultiPin).</summary>
public sealed class PrinterMultiPin : IPinChip, IPwmPin, IDigitalOutPin
{
    private readonly Printer _printer;
    private readonly IReadOnlyList<string> _pinList;
    private string? _pinType;
    private List<object> _mcuPins = new();

    public PrinterMultiPin(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        try
        {
            ppins.RegisterChip("multi_pin", this);
        }
        catch (PinError)
        {
        }
        _pinList = config.GetList("pins");
    }

    public object SetupPin(string pinType, PinParams pinParams)
    {
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        string pinName = pinParams.Pin;
        var pin = _printer.TryLookupObject<PrinterMultiPin>("multi_pin " + pinName);
        if (pin != this)
        {
            if (pin is null)
                throw new PinError($"multi_pin {pinName} not configured");
            return pin.SetupPin(pinType, pinParams);
        }
        if (_pinType is not null)
            throw new PinError($"Can't setup multi_pin {pinName} twice");
        _pinType = pinType;
        string invert = pinParams.Invert != 0 ? "!" : "";
        _mcuPins = _pinList.Select(desc => ppins.SetupPin(pinType, invert + desc)).ToList();
        return this;
    }

    private IEnumerable<IPwmPin> Pwms => _mcuPins.Select(OutputPins.AsPwm);

    private IEnumerable<IDigitalOutPin> Digitals => _mcuPins.Select(OutputPins.AsDigital);

    public Mcu.Mcu GetMcu() => _pinType == "pwm" ? Pwms.First().GetMcu() : Digitals.First().GetMcu();

    public void SetupMaxDuration(double maxDuration)
    {
        if (_pinType == "pwm")
            foreach (var p in Pwms) p.SetupMaxDuration(maxDuration);
        else
            foreach (var p in Digitals) p.SetupMaxDuration(maxDuration);
    }

    public void SetupStartValue(double startValue, double shutdownValue)
    {
        if (_pinType == "pwm")
            foreach (var p in Pwms) p.SetupStartValue(startValue, shutdownValue);
        else
            foreach (var p in Digitals) p.SetupStartValue(startValue, shutdownValue);
    }

    public void SetupCycleTime(double cycleTime, bool hardwarePwm = false)
    {
        foreach (var p in Pwms)
            p.SetupCycleTime(cycleTime, hardwarePwm);
    }

    public void SetDigital(double printTime, double value)
    {
        foreach (var p in Digitals)
            p.SetDigital(printTime, value);
    }

    public double NextAlignedPrintTime(double printTime, double allowEarly = 0.0) => printTime;

    public void SetPwm(double printTime, double value)
    {
        foreach (var p in Pwms)
            p.SetPwm(printTime, value);
    }
}
