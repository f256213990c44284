using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Thermocouple/RTD converter chips read by the MCU over SPI (upstream spi_temperature.SensorBase).</summary>
public abstract class SpiTemperatureSensor : ITemperatureSensor
{
    public const double ReportTime = 0.300;
    public const int MaxInvalidCount = 3;

    private readonly Printer _printer;
    private readonly string _chipType;
    private Action<double, double>? _callback;
    private long _minSampleValue, _maxSampleValue, _reportClock;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;

    protected SpiTemperatureSensor(ConfigWrapper config, string chipType, byte[]? configCmd = null, int spiMode = 1)
    {
        _printer = config.GetPrinter();
        _chipType = chipType;
        Spi = McuSpi.FromConfig(config, spiMode, pinOption: "sensor_pin", defaultSpeed: 4000000);
        if (configCmd is not null)
            Spi.SpiSend(configCmd);
        _mcu = Spi.GetMcu();
        _oid = _mcu.CreateOid();
        _mcu.RegisterResponse(HandleSpiResponse, "thermocouple_result oid=%c next_clock=%u value=%u fault=%c", _oid);
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    protected McuSpi Spi { get; }

    public abstract double CalcTemp(long adc);

    public abstract long CalcAdc(double temp);

    protected abstract void HandleFault(long adc, long fault);

    public void SetupMinMax(double minTemp, double maxTemp)
    {
        long a0 = CalcAdc(minTemp), a1 = CalcAdc(maxTemp);
        _minSampleValue = Math.Min(a0, a1);
        _maxSampleValue = Math.Max(a0, a1);
    }

    public void SetupCallback(Action<double, double> temperatureCallback) => _callback = temperatureCallback;

    public double GetReportTimeDelta() => ReportTime;

    private void BuildConfig()
    {
        _mcu.AddConfigCmd($"config_thermocouple oid={_oid} spi_oid={Spi.Oid} thermocouple_type={_chipType}");
        long clock = _mcu.GetQuerySlot(_oid);
        _reportClock = _mcu.SecondsToClock(ReportTime);
        _mcu.AddConfigCmd($"query_thermocouple oid={_oid} clock={clock} rest_ticks={_reportClock} min_value={_minSampleValue} max_value={_maxSampleValue} max_invalid_count={MaxInvalidCount}", isInit: true);
    }

    private void HandleSpiResponse(McuResponse p)
    {
        if (p["fault"] != 0)
        {
            HandleFault(p["value"], p["fault"]);
            return;
        }
        double temp = CalcTemp(p["value"]);
        long nextClock = _mcu.Clock32ToClock64(p["next_clock"]);
        long lastReadClock = nextClock - _reportClock;
        double lastReadTime = _mcu.ClockToPrintTime(lastReadClock);
        _callback?.Invoke(lastReadTime, temp);
    }

    protected void ReportFault(string msg) => _printer.Log?.Invoke(msg);

    /// <summary>[spi_temperature] module load: registers MAX6675, MAX31855, MAX31856 and MAX31865.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        pheaters.AddSensorFactory("MAX6675", c => new Max6675(c));
        pheaters.AddSensorFactory("MAX31855", c => new Max31855(c));
        pheaters.AddSensorFactory("MAX31856", c => new Max31856(c));
        pheaters.AddSensorFactory("MAX31865", c => new Max31865(c));
        return new AdcTemperatureModule();
    }
}

/// <summary>MAX31856 thermocouple converter.</summary>
public sealed class Max31856 : SpiTemperatureSensor
{
    private const int Scale = 5;
    private const double Mult = 0.0078125;

    public Max31856(ConfigWrapper config) : base(config, "MAX31856", BuildSpiInit(config))
    {
    }

    protected override void HandleFault(long adc, long fault)
    {
        if ((fault & 0x80) != 0) ReportFault("Max31856: Cold Junction Range Fault");
        if ((fault & 0x40) != 0) ReportFault("Max31856: Thermocouple Range Fault");
        if ((fault & 0x20) != 0) ReportFault("Max31856: Cold Junction High Fault");
        if ((fault & 0x10) != 0) ReportFault("Max31856: Cold Junction Low Fault");
        if ((fault & 0x08) != 0) ReportFault("Max31856: Thermocouple High Fault");
        if ((fault & 0x04) != 0) ReportFault("Max31856: Thermocouple Low Fault");
        if ((fault & 0x02) != 0) ReportFault("Max31856: Over/Under Voltage Fault");
        if ((fault & 0x01) != 0) ReportFault("Max31856: Thermocouple Open Fault");
    }

    public override double CalcTemp(long adc)
    {
        adc >>= Scale;
        if ((adc & 0x40000) != 0)
            adc = ((adc & 0x3FFFF) + 1) * -1;
        return Mult * adc;
    }

    public override long CalcAdc(double temp)
    {
        long adc = (long)((temp / Mult) + 0.5);
        return Math.Max(0, Math.Min(0x3FFFF, adc)) << Scale;
    }

    private static byte[] BuildSpiInit(ConfigWrapper config)
    {
        var cmds = new List<byte>();
        int value = 0x80;
        if (config.GetBoolean("tc_use_50Hz_filter", false))
            value |= 0x01;
        cmds.Add(0x80 + 0x00);
        cmds.Add((byte)value);
        var types = new Dictionary<string, int>
        {
            ["B"] = 0b0000, ["E"] = 0b0001, ["J"] = 0b0010, ["K"] = 0b0011,
            ["N"] = 0b0100, ["R"] = 0b0101, ["S"] = 0b0110, ["T"] = 0b0111,
        };
        value = config.GetChoice("tc_type", types, "K");
        var averages = new Dictionary<int, int> { [1] = 0x00, [2] = 0x10, [4] = 0x20, [8] = 0x30, [16] = 0x70 };
        value |= config.GetChoice("tc_averaging_count", averages, 1);
        cmds.Add((byte)value);
        cmds.Add(0x02 | 0x01);
        return cmds.ToArray();
    }
}

/// <summary>MAX31855 thermocouple converter.</summary>
public sealed class Max31855 : SpiTemperatureSensor
{
    public Max31855(ConfigWrapper config) : base(config, "MAX31855", spiMode: 0)
    {
    }

    protected override void HandleFault(long adc, long fault)
    {
        if ((fault & 0x1) != 0) ReportFault("MAX31855 : Open Circuit");
        if ((fault & 0x2) != 0) ReportFault("MAX31855 : Short to GND");
        if ((fault & 0x4) != 0) ReportFault("MAX31855 : Short to Vcc");
    }

    public override double CalcTemp(long adc)
    {
        adc >>= 18;
        if ((adc & 0x2000) != 0)
            adc = ((adc & 0x1FFF) + 1) * -1;
        return 0.25 * adc;
    }

    public override long CalcAdc(double temp)
    {
        long adc = (long)((temp / 0.25) + 0.5);
        return Math.Max(0, Math.Min(0x1FFF, adc)) << 18;
    }
}

/// <summary>MAX6675 thermocouple converter.</summary>
public sealed class Max6675 : SpiTemperatureSensor
{
    public Max6675(ConfigWrapper config) : base(config, "MAX6675", spiMode: 0)
    {
    }

    protected override void HandleFault(long adc, long fault)
    {
        if ((fault & 0x02) != 0) ReportFault("Max6675 : Device ID error");
        if ((fault & 0x04) != 0) ReportFault("Max6675 : Thermocouple Open Fault");
    }

    public override double CalcTemp(long adc)
    {
        adc >>= 3;
        if ((adc & 0x2000) != 0)
            adc = ((adc & 0x1FFF) + 1) * -1;
        return 0.25 * adc;
    }

    public override long CalcAdc(double temp)
    {
        long adc = (long)((temp / 0.25) + 0.5);
        return Math.Max(0, Math.Min(0x1FFF, adc)) << 3;
    }
}

/// <summary>MAX31865 RTD converter (Callendar-Van Dusen).</summary>
public sealed class Max31865 : SpiTemperatureSensor
{
    private const long AdcMax = 1 << 15;
    private const double CvdA = 3.9083e-3;
    private const double CvdB = -5.775e-7;
    private readonly double _adcToResistDivNominal;
    private readonly byte[] _configReg;

    public Max31865(ConfigWrapper config) : this(config, Prepare(config))
    {
    }

    private Max31865(ConfigWrapper config, (double AdcToResistDivNominal, byte[] ConfigReg) p)
        : base(config, "MAX31865", p.ConfigReg)
    {
        _adcToResistDivNominal = p.AdcToResistDivNominal;
        _configReg = p.ConfigReg;
    }

    private static (double, byte[]) Prepare(ConfigWrapper config)
    {
        double rtdNominalR = config.GetFloat("rtd_nominal_r", 100.0, above: 0.0);
        double rtdReferenceR = config.GetFloat("rtd_reference_r", 430.0, above: 0.0);
        double adcToResist = rtdReferenceR / (double)AdcMax;
        double adcToResistDivNominal = adcToResist / rtdNominalR;
        int value = 0x80 | 0x40 | 0x02;
        if (config.GetBoolean("rtd_use_50Hz_filter", false))
            value |= 0x01;
        if (config.GetInt("rtd_num_of_wires", 2) == 3)
            value |= 0x10;
        return (adcToResistDivNominal, [0x80 + 0x00, (byte)value]);
    }

    protected override void HandleFault(long adc, long fault)
    {
        if ((fault & 0x80) != 0) ReportFault("Max31865 RTD input is disconnected");
        if ((fault & 0x40) != 0) ReportFault("Max31865 RTD input is shorted");
        if ((fault & 0x20) != 0) ReportFault("Max31865 VREF- is greater than 0.85 * VBIAS, FORCE- open");
        if ((fault & 0x10) != 0) ReportFault("Max31865 VREF- is less than 0.85 * VBIAS, FORCE- open");
        if ((fault & 0x08) != 0) ReportFault("Max31865 VRTD- is less than 0.85 * VBIAS, FORCE- open");
        if ((fault & 0x04) != 0) ReportFault("Max31865 Overvoltage or undervoltage fault");
        if ((fault & 0xfc) == 0) ReportFault("Max31865 Unspecified error");
        Spi.SpiSend(_configReg);
    }

    public override double CalcTemp(long adc)
    {
        adc >>= 1;
        double rDivNominal = adc * _adcToResistDivNominal;
        double discriminant = Math.Sqrt(Math.Pow(CvdA, 2) - 4.0 * CvdB * (1.0 - rDivNominal));
        return (-CvdA + discriminant) / (2.0 * CvdB);
    }

    public override long CalcAdc(double temp)
    {
        temp = Math.Min(temp, 1768.3);
        double rDivNominal = 1.0 + CvdA * temp + CvdB * temp * temp;
        long adc = (long)(rDivNominal / _adcToResistDivNominal + 0.5);
        adc = Math.Max(0, Math.Min(AdcMax - 1, adc));
        return adc << 1;
    }
}
