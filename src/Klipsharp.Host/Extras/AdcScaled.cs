using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>An ADC pin rescaled by measured vref/vssa readings (upstream adc_scaled.MCU_scaled_adc).</summary>
public sealed class McuScaledAdc : IAdcPin
{
    private readonly PrinterAdcScaled _main;
    private readonly IAdcPin _mcuAdc;
    private (double, double) _lastState;
    private Action<IReadOnlyList<(double Time, double Value)>>? _callback;

    public McuScaledAdc(PrinterAdcScaled main, PinParams pinParams)
    {
        _main = main;
        _mcuAdc = AdcPins.AsAdc(main.Mcu.SetupPin("adc", pinParams));
        var queryAdc = main.Printer.LookupObject<QueryAdc>("query_adc");
        queryAdc.RegisterAdc(main.Name + ":" + pinParams.Pin, _mcuAdc);
    }

    public Mcu.Mcu GetMcu() => _mcuAdc.GetMcu();

    public void SetupAdcSample(double reportTime, double sampleTime = 0.0, int sampleCount = 1, int batchNum = 1,
        double minval = 0.0, double maxval = 1.0, int rangeCheckCount = 0) =>
        _mcuAdc.SetupAdcSample(reportTime, sampleTime, sampleCount, batchNum, minval, maxval, rangeCheckCount);

    private void HandleCallback(IReadOnlyList<(double Time, double Value)> samples)
    {
        double maxAdc = _main.LastVref.Value;
        double minAdc = _main.LastVssa.Value;
        var adjsamples = samples.Select(s => (s.Time, (s.Value - minAdc) / (maxAdc - minAdc))).ToList();
        _lastState = adjsamples[^1];
        _callback?.Invoke(adjsamples);
    }

    public void SetupAdcCallback(Action<IReadOnlyList<(double Time, double Value)>> callback)
    {
        _callback = callback;
        _mcuAdc.SetupAdcCallback(HandleCallback);
    }

    public (double Time, double Value) GetLastValue() => _lastState;
}

/// <summary>[adc_scaled NAME]: a pin chip whose ADC readings are corrected by vref/vssa (upstream adc_scaled.PrinterADCScaled).</summary>
public sealed class PrinterAdcScaled : IPinChip
{
    public const double SampleTime = 0.001;
    public const int SampleCount = 8;
    public const double ReportTime = 0.300;
    private readonly double _invSmoothTime;

    public PrinterAdcScaled(ConfigWrapper config)
    {
        Printer = config.GetPrinter();
        Name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var mcuVref = ConfigPin(config, "vref", s => LastVref = CalcSmooth(s[^1], LastVref));
        var mcuVssa = ConfigPin(config, "vssa", s => LastVssa = CalcSmooth(s[^1], LastVssa));
        double smoothTime = config.GetFloat("smooth_time", 2.0, above: 0.0);
        _invSmoothTime = 1.0 / smoothTime;
        Mcu = mcuVref.GetMcu();
        if (Mcu != mcuVssa.GetMcu())
            throw config.Error("vref and vssa must be on same mcu");
        Printer.LookupObject<PrinterPins>("pins").RegisterChip(Name, this);
    }

    public Printer Printer { get; }

    public string Name { get; }

    public Mcu.Mcu Mcu { get; }

    public (double Time, double Value) LastVref { get; private set; }

    public (double Time, double Value) LastVssa { get; private set; }

    private IAdcPin ConfigPin(ConfigWrapper config, string name, Action<IReadOnlyList<(double Time, double Value)>> callback)
    {
        string pinName = config.Get(name + "_pin");
        var mcuAdc = AdcPins.SetupAdc(Printer, pinName);
        mcuAdc.SetupAdcCallback(callback);
        mcuAdc.SetupAdcSample(ReportTime, SampleTime, SampleCount);
        var queryAdc = Printer.LoadObject<QueryAdc>(config, "query_adc");
        queryAdc.RegisterAdc(Name + ":" + name, mcuAdc);
        return mcuAdc;
    }

    public object SetupPin(string pinType, PinParams pinParams)
    {
        if (pinType != "adc")
            throw new ConfigError("adc_scaled only supports adc pins");
        return new McuScaledAdc(this, pinParams);
    }

    private (double, double) CalcSmooth((double Time, double Value) read, (double Time, double Value) last)
    {
        double timeDiff = read.Time - last.Time;
        double valueDiff = read.Value - last.Value;
        double adjTime = Math.Min(timeDiff * _invSmoothTime, 1.0);
        return (read.Time, last.Value + valueDiff * adjTime);
    }
}
