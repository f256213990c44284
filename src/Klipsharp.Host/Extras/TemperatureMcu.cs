using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>The MCU's internal temperature sensor (upstream temperature_mcu PrinterTemperatureMCU).</summary>
public sealed class PrinterTemperatureMcu : ITemperatureSensor
{
    public const double SampleTime = 0.001;
    public const int SampleCount = 8;
    public const double ReportTime = 0.300;
    public const int RangeCheckCount = 4;

    private readonly Printer _printer;
    private double _baseTemperature, _slope;
    private readonly double? _temp1, _adc1, _temp2, _adc2;
    private double _minTemp, _maxTemp;
    private readonly IAdcPin _mcuAdc;
    private readonly HelperTemperatureDiagnostics _diagHelper;
    private McuQueryCommand? _debugReadCmd;
    private string _mcuType = "";
    private Action<double, double>? _temperatureCallback;

    public PrinterTemperatureMcu(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        string mcuName = config.Get("sensor_mcu", "mcu");
        _temp1 = config.GetFloatOrNull("sensor_temperature1");
        if (_temp1 is not null)
        {
            _adc1 = config.GetFloat("sensor_adc1", minval: 0.0, maxval: 1.0);
            _temp2 = config.GetFloatOrNull("sensor_temperature2");
            if (_temp2 is not null)
                _adc2 = config.GetFloat("sensor_adc2", minval: 0.0, maxval: 1.0);
        }
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        _mcuAdc = AdcPins.AsAdc(ppins.SetupPin("adc", $"{mcuName}:ADC_TEMPERATURE"));
        _mcuAdc.SetupAdcCallback(AdcCallback);
        _diagHelper = new HelperTemperatureDiagnostics(config, _mcuAdc, CalcTemp);
        if (_printer.IsFileOutput)
        {
            _mcuAdc.SetupAdcSample(ReportTime, SampleTime, SampleCount);
            return;
        }
        _printer.RegisterEventHandler("klippy:mcu_identify", HandleMcuIdentify);
    }

    public void SetupCallback(Action<double, double> temperatureCallback) => _temperatureCallback = temperatureCallback;

    public double GetReportTimeDelta() => ReportTime;

    public void SetupMinMax(double minTemp, double maxTemp)
    {
        _minTemp = minTemp;
        _maxTemp = maxTemp;
    }

    private void AdcCallback(IReadOnlyList<(double Time, double Value)> samples)
    {
        var (readTime, readValue) = samples[^1];
        double temp = _baseTemperature + readValue * _slope;
        _temperatureCallback?.Invoke(readTime + SampleCount * SampleTime, temp);
    }

    private double CalcTemp(double adc) => _baseTemperature + adc * _slope;

    private double CalcAdc(double temp) => (temp - _baseTemperature) / _slope;

    private double CalcBase(double temp, double adc) => temp - adc * _slope;

    private void HandleMcuIdentify()
    {
        var mcu = _mcuAdc.GetMcu();
        _debugReadCmd = mcu.LookupQueryCommand("debug_read order=%c addr=%u", "debug_result val=%u");
        _mcuType = mcu.GetConstants().TryGetValue("MCU", out var t) ? t?.ToString() ?? "" : "";
        var cfgFuncs = new (string, Action)[]
        {
            ("rp2", () => { _slope = 3.3 / -0.001721; _baseTemperature = CalcBase(27.0, 0.706 / 3.3); }),
            ("sam3", () => { _slope = 3.3 / .002650; _baseTemperature = CalcBase(27.0, 0.8 / 3.3); }),
            ("sam4", () => { _slope = 3.3 / .004700; _baseTemperature = CalcBase(27.0, 1.44 / 3.3); }),
            ("same70", () => { _slope = 3.3 / .002330; _baseTemperature = CalcBase(25.0, 0.72 / 3.3); }),
            ("samd21", () => ConfigSamd21(0x00806030)),
            ("samd51", () => ConfigSamd21(0x00800100)),
            ("same5", () => ConfigSamd21(0x00800100)),
            ("stm32f1", () => { _slope = 3.3 / -.004300; _baseTemperature = CalcBase(25.0, 1.43 / 3.3); }),
            ("stm32f2", () => { _slope = 3.3 / .002500; _baseTemperature = CalcBase(25.0, .76 / 3.3); }),
            ("stm32f4", () => ConfigStm32f4(0x1FFF7A2C, 0x1FFF7A2E)),
            ("stm32f042", () => ConfigStm32f4(0x1FFFF7B8, 0x1FFFF7C2)),
            ("stm32f070", () =>
            {
                _slope = 3.3 / -.004300;
                double calAdc30 = Read16(0x1FFFF7B8) / 4095.0;
                _baseTemperature = CalcBase(30.0, calAdc30);
            }),
            ("stm32f072", () => ConfigStm32f4(0x1FFFF7B8, 0x1FFFF7C2)),
            ("stm32g0", ConfigStm32g0),
            ("stm32g4", ConfigStm32g0),
            ("stm32l4", ConfigStm32g0),
            ("stm32h723", () =>
            {
                double calAdc30 = Read16(0x1FF1E820) / 4095.0;
                double calAdc130 = Read16(0x1FF1E840) / 4095.0;
                _slope = (130.0 - 30.0) / (calAdc130 - calAdc30);
                _baseTemperature = CalcBase(30.0, calAdc30);
            }),
            ("stm32h7", () =>
            {
                double calAdc30 = Read16(0x1FF1E820) / 65535.0;
                double calAdc110 = Read16(0x1FF1E840) / 65535.0;
                _slope = (110.0 - 30.0) / (calAdc110 - calAdc30);
                _baseTemperature = CalcBase(30.0, calAdc30);
            }),
            ("", () => throw new ConfigError($"MCU temperature not supported on {_mcuType}")),
        };
        foreach (var (name, func) in cfgFuncs)
        {
            if (_mcuType.StartsWith(name, StringComparison.Ordinal))
            {
                func();
                break;
            }
        }
        _printer.Log?.Invoke($"mcu_temperature '{mcu.Name}' nominal base={PyFmt.F(_baseTemperature, 6)} slope={PyFmt.F(_slope, 6)}");
        if (_temp1 is double t1)
        {
            if (_temp2 is double t2)
                _slope = (t2 - t1) / (_adc2!.Value - _adc1!.Value);
            _baseTemperature = CalcBase(t1, _adc1!.Value);
        }
        double a0 = CalcAdc(_minTemp), a1 = CalcAdc(_maxTemp);
        double minAdc = Math.Min(a0, a1), maxAdc = Math.Max(a0, a1);
        _mcuAdc.SetupAdcSample(ReportTime, SampleTime, SampleCount, minval: minAdc, maxval: maxAdc, rangeCheckCount: RangeCheckCount);
        _diagHelper.SetupDiagMinMax(_minTemp, _maxTemp, minAdc, maxAdc);
    }

    private void ConfigSamd21(long addr)
    {
        static double Get1v(long val)
        {
            if ((val & 0x80) != 0)
                val = 0x100 - val;
            return 1.0 - val / 1000.0;
        }
        long cal1 = Read32(addr);
        long cal2 = Read32(addr + 4);
        double roomTemp = ((cal1 >> 0) & 0xff) + ((cal1 >> 8) & 0xf) / 10.0;
        double hotTemp = ((cal1 >> 12) & 0xff) + ((cal1 >> 20) & 0xf) / 10.0;
        double room1v = Get1v((cal1 >> 24) & 0xff);
        double hot1v = Get1v((cal2 >> 0) & 0xff);
        double roomAdc = ((cal2 >> 8) & 0xfff) * room1v / (3.3 * 4095.0);
        double hotAdc = ((cal2 >> 20) & 0xfff) * hot1v / (3.3 * 4095.0);
        _slope = (hotTemp - roomTemp) / (hotAdc - roomAdc);
        _baseTemperature = CalcBase(roomTemp, roomAdc);
    }

    private void ConfigStm32f4(long addr1, long addr2)
    {
        double calAdc30 = Read16(addr1) / 4095.0;
        double calAdc110 = Read16(addr2) / 4095.0;
        _slope = (110.0 - 30.0) / (calAdc110 - calAdc30);
        _baseTemperature = CalcBase(30.0, calAdc30);
    }

    private void ConfigStm32g0()
    {
        double calAdc30 = Read16(0x1FFF75A8) * 3.0 / (3.3 * 4095.0);
        double calAdc130 = Read16(0x1FFF75CA) * 3.0 / (3.3 * 4095.0);
        _slope = (130.0 - 30.0) / (calAdc130 - calAdc30);
        _baseTemperature = CalcBase(30.0, calAdc30);
    }

    private long Read16(long addr) => _debugReadCmd!.Send([1, addr])["val"];

    private long Read32(long addr) => _debugReadCmd!.Send([2, addr])["val"];

    /// <summary>[temperature_mcu] module load: registers the sensor type.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        pheaters.AddSensorFactory("temperature_mcu", c => new PrinterTemperatureMcu(c));
        return new AdcTemperatureModule();
    }
}
