using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[sx1509 NAME]: an I2C GPIO expander providing digital and PWM pins (upstream sx1509.SX1509).</summary>
public sealed class SX1509 : IPinChip
{
    public const int RegReset = 0x7D, RegClock = 0x1E, RegMisc = 0x1F, RegDir = 0x0E, RegData = 0x10;
    public const int RegPullup = 0x06, RegPulldown = 0x08, RegInputDisable = 0x00, RegAnalogDriverEnable = 0x20;
    public static readonly int[] RegIOn = [0x2A, 0x2D, 0x30, 0x33, 0x36, 0x3B, 0x40, 0x45, 0x4A, 0x4D, 0x50, 0x53, 0x56, 0x5B, 0x5F, 0x65];

    private readonly McuI2c _i2c;
    private long _lastClock;
    private readonly OrderedDictionary<int, int> _regDict = new();
    private readonly OrderedDictionary<int, int> _regIOnDict = new();

    public SX1509(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        string name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        _i2c = McuI2c.FromConfig(config, defaultSpeed: 400000, asyncWriteOnly: true);
        printer.LookupObject<PrinterPins>("pins").RegisterChip("sx1509_" + name, this);
        Mcu = _i2c.GetMcu();
        _regDict[RegDir] = 0xFFFF;
        _regDict[RegData] = 0;
        _regDict[RegPullup] = 0;
        _regDict[RegPulldown] = 0;
        _regDict[RegInputDisable] = 0;
        _regDict[RegAnalogDriverEnable] = 0;
        foreach (var reg in RegIOn)
            _regIOnDict[reg] = 0;
        printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    public Mcu.Mcu Mcu { get; }

    private void HandleConnect()
    {
        _i2c.I2cWrite([RegReset, 0x12]);
        _i2c.I2cWrite([RegReset, 0x34]);
        _i2c.I2cWrite([RegClock, 1 << 6]);
        _i2c.I2cWrite([RegMisc, 1 << 4]);
        var reactor = Mcu.Printer.Reactor;
        foreach (var reg in _regDict.Keys.ToList())
            SendRegister(reg, Mcu.EstimatedPrintTime(reactor.Monotonic()));
        foreach (var reg in _regIOnDict.Keys.ToList())
            SendRegister(reg, Mcu.EstimatedPrintTime(reactor.Monotonic()));
    }

    public object SetupPin(string pinType, PinParams pinParams)
    {
        string prefix = pinParams.Pin.Length >= 4 ? pinParams.Pin[..4] : pinParams.Pin;
        if (pinType == "digital_out" && prefix == "PIN_")
            return new SX1509DigitalOut(this, pinParams);
        if (pinType == "pwm" && prefix == "PIN_")
            return new SX1509Pwm(this, pinParams);
        throw new PinError($"Wrong pin or incompatible type: {prefix} with type {pinType}! ");
    }

    public void ClearBitsInRegister(int reg, int bitmask)
    {
        if (_regDict.ContainsKey(reg))
            _regDict[reg] &= ~bitmask;
        else if (_regIOnDict.ContainsKey(reg))
            _regIOnDict[reg] &= ~bitmask;
    }

    public void SetBitsInRegister(int reg, int bitmask)
    {
        if (_regDict.ContainsKey(reg))
            _regDict[reg] |= bitmask;
        else if (_regIOnDict.ContainsKey(reg))
            _regIOnDict[reg] |= bitmask;
    }

    public void SetRegister(int reg, int value)
    {
        if (_regDict.ContainsKey(reg))
            _regDict[reg] = value;
        else if (_regIOnDict.ContainsKey(reg))
            _regIOnDict[reg] = value;
    }

    public void SendRegister(int reg, double printTime)
    {
        var data = new List<byte> { (byte)(reg & 0xFF) };
        if (_regDict.TryGetValue(reg, out int word))
        {
            data.Add((byte)((word >> 8) & 0xFF));
            data.Add((byte)(word & 0xFF));
        }
        else if (_regIOnDict.TryGetValue(reg, out int b))
            data.Add((byte)(b & 0xFF));
        long clock = Mcu.PrintTimeToClock(printTime);
        _i2c.I2cWriteNoack(data, (ulong)_lastClock, (ulong)clock);
        _lastClock = clock;
    }
}

/// <summary>A digital output on an SX1509 (upstream SX1509_digital_out).</summary>
public sealed class SX1509DigitalOut : IDigitalOutPin, IPwmPin
{
    private readonly SX1509 _sx1509;
    private readonly int _bitmask;
    private readonly int _invert;
    private double _maxDuration = 2.0;

    public SX1509DigitalOut(SX1509 sx1509, PinParams pinParams)
    {
        _sx1509 = sx1509;
        int sxpin = int.Parse(pinParams.Pin.Split('_')[1], System.Globalization.CultureInfo.InvariantCulture);
        _bitmask = 1 << sxpin;
        _invert = pinParams.Invert;
        sx1509.Mcu.RegisterConfigCallback(BuildConfig);
        _sx1509.ClearBitsInRegister(SX1509.RegDir, _bitmask);
    }

    private void BuildConfig()
    {
        if (_maxDuration != 0.0)
            throw new PinError("SX1509 pins are not suitable for heaters");
    }

    public Mcu.Mcu GetMcu() => _sx1509.Mcu;

    public void SetupMaxDuration(double maxDuration) => _maxDuration = maxDuration;

    public void SetupCycleTime(double cycleTime, bool hardwarePwm = false)
    {
    }

    public void SetupStartValue(double startValue, double shutdownValue)
    {
        int sv = (startValue != 0 ? 1 : 0) ^ _invert;
        if (sv != 0)
            _sx1509.SetBitsInRegister(SX1509.RegData, _bitmask);
        else
            _sx1509.ClearBitsInRegister(SX1509.RegData, _bitmask);
    }

    public void SetDigital(double printTime, double value)
    {
        if (((int)value ^ _invert) != 0)
            _sx1509.SetBitsInRegister(SX1509.RegData, _bitmask);
        else
            _sx1509.ClearBitsInRegister(SX1509.RegData, _bitmask);
        _sx1509.SendRegister(SX1509.RegData, printTime);
    }

    public void SetPwm(double printTime, double value) => SetDigital(printTime, value >= 0.5 ? 1 : 0);

    public double NextAlignedPrintTime(double printTime, double allowEarly = 0.0) => printTime;
}

/// <summary>A PWM output on an SX1509 (upstream SX1509_pwm).</summary>
public sealed class SX1509Pwm : IPwmPin
{
    private readonly SX1509 _sx1509;
    private readonly int _iOnReg;
    private readonly int _invert;
    private double _maxDuration = 2.0;
    private bool _hardwarePwm;

    public SX1509Pwm(SX1509 sx1509, PinParams pinParams)
    {
        _sx1509 = sx1509;
        int sxpin = int.Parse(pinParams.Pin.Split('_')[1], System.Globalization.CultureInfo.InvariantCulture);
        int bitmask = 1 << sxpin;
        _iOnReg = SX1509.RegIOn[sxpin];
        _invert = pinParams.Invert;
        sx1509.Mcu.RegisterConfigCallback(BuildConfig);
        _sx1509.SetBitsInRegister(SX1509.RegInputDisable, bitmask);
        _sx1509.ClearBitsInRegister(SX1509.RegPullup, bitmask);
        _sx1509.ClearBitsInRegister(SX1509.RegDir, bitmask);
        _sx1509.SetBitsInRegister(SX1509.RegAnalogDriverEnable, bitmask);
        _sx1509.ClearBitsInRegister(SX1509.RegData, bitmask);
    }

    private void BuildConfig()
    {
        if (!_hardwarePwm)
            throw new PinError("SX1509_pwm must have hardware_pwm enabled");
        if (_maxDuration != 0.0)
            throw new PinError("SX1509 pins are not suitable for heaters");
    }

    public Mcu.Mcu GetMcu() => _sx1509.Mcu;

    public void SetupMaxDuration(double maxDuration) => _maxDuration = maxDuration;

    public void SetupCycleTime(double cycleTime, bool hardwarePwm = false) => _hardwarePwm = hardwarePwm;

    public void SetupStartValue(double startValue, double shutdownValue)
    {
        if (_invert != 0)
            startValue = 1.0 - startValue;
        startValue = Math.Max(0.0, Math.Min(1.0, startValue));
        _sx1509.SetRegister(_iOnReg, ~(int)(255 * startValue) & 0xFF);
    }

    public double NextAlignedPrintTime(double printTime, double allowEarly = 0.0) => printTime;

    public void SetPwm(double printTime, double value)
    {
        _sx1509.SetRegister(_iOnReg, _invert == 0 ? ~(int)(255 * value) : (int)(255 * value) & 0xFF);
        _sx1509.SendRegister(_iOnReg, printTime);
    }
}
