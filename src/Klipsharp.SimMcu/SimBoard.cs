namespace Klipsharp.SimMcu;

/// <summary>A range of pins in the dictionary's <c>pin</c> enumeration: <c>PA0</c> with count 8 is PA0..PA7.</summary>
public readonly record struct PinRange(string FirstName, int FirstValue, int Count);

/// <summary>
/// What the simulated MCU pretends to be: clock, converter resolutions, pin names and
/// the constants it publishes in its data dictionary.
/// </summary>
public sealed class SimBoard
{
    /// <summary>Board name used on the command line (<c>--board</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The <c>MCU</c> constant.</summary>
    public required string Mcu { get; init; }

    /// <summary>Timer frequency (<c>CLOCK_FREQ</c>).</summary>
    public required long ClockFreq { get; init; }

    /// <summary>Largest value of one ADC sample (<c>ADC_MAX</c>).</summary>
    public required int AdcMax { get; init; }

    /// <summary>Full-scale hardware PWM value (<c>PWM_MAX</c>).</summary>
    public required int PwmMax { get; init; }

    /// <summary>Pin name ranges (the <c>pin</c> enumeration).</summary>
    public required IReadOnlyList<PinRange> Pins { get; init; }

    /// <summary>Single named pins (e.g. <c>ADC_TEMPERATURE</c>).</summary>
    public IReadOnlyDictionary<string, int> NamedPins { get; init; } = new Dictionary<string, int>();

    /// <summary>Serial baud rate (<c>SERIAL_BAUD</c>), or null for a USB-like link.</summary>
    public long? SerialBaud { get; init; }

    /// <summary>Host receive window (<c>RECEIVE_WINDOW</c>), or null.</summary>
    public long? ReceiveWindow { get; init; }

    /// <summary>Number of move queue entries reported by <c>config</c> after finalize.</summary>
    public int MoveCount { get; init; } = 1024;

    /// <summary>SPI bus names and numbers (<c>spi_bus</c> enumeration).</summary>
    public IReadOnlyDictionary<string, int> SpiBuses { get; init; } = new Dictionary<string, int>();

    /// <summary>I2C bus names and numbers (<c>i2c_bus</c> enumeration).</summary>
    public IReadOnlyDictionary<string, int> I2cBuses { get; init; } = new Dictionary<string, int>();

    /// <summary>Extra string constants (BUS_PINS_*, RESERVE_PINS_*).</summary>
    public IReadOnlyDictionary<string, string> ExtraConstants { get; init; } = new Dictionary<string, string>();

    /// <summary>True when the board offers the <c>reset</c> command (AVR/ARM style); otherwise <c>config_reset</c> (Linux process style).</summary>
    public bool HasResetCommand { get; init; } = true;

    private Dictionary<string, int>? _pinByName;
    private Dictionary<int, string>? _nameByPin;

    /// <summary>Pin number of a pin name, or -1.</summary>
    public int PinNumber(string name)
    {
        BuildPinMaps();
        return _pinByName!.TryGetValue(name, out int v) ? v : -1;
    }

    /// <summary>Pin name of a pin number (<c>?N</c> when unnamed).</summary>
    public string PinName(int pin)
    {
        BuildPinMaps();
        return _nameByPin!.TryGetValue(pin, out var n) ? n : "?" + pin;
    }

    /// <summary>All pin names in enumeration order.</summary>
    public IEnumerable<string> PinNames
    {
        get
        {
            BuildPinMaps();
            return _pinByName!.Keys;
        }
    }

    private void BuildPinMaps()
    {
        if (_pinByName != null)
            return;
        var byName = new Dictionary<string, int>();
        var byPin = new Dictionary<int, string>();
        foreach (var r in Pins)
        {
            int rootLen = r.FirstName.Length;
            while (rootLen > 0 && char.IsAsciiDigit(r.FirstName[rootLen - 1]))
                rootLen--;
            string root = r.FirstName[..rootLen];
            int start = rootLen < r.FirstName.Length ? int.Parse(r.FirstName[rootLen..], System.Globalization.CultureInfo.InvariantCulture) : 0;
            for (int i = 0; i < r.Count; i++)
            {
                string n = root + (start + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
                byName[n] = r.FirstValue + i;
                byPin[r.FirstValue + i] = n;
            }
        }
        foreach (var kv in NamedPins)
        {
            byName[kv.Key] = kv.Value;
            byPin[kv.Value] = kv.Key;
        }
        _nameByPin = byPin;
        _pinByName = byName;
    }

    /// <summary>An ATmega2560-like board (16 MHz, 10-bit ADC, pins PA0..PL7), the default.</summary>
    public static SimBoard Atmega2560() => new()
    {
        Name = "atmega2560",
        Mcu = "atmega2560",
        ClockFreq = 16000000,
        AdcMax = 1023,
        PwmMax = 255,
        SerialBaud = 250000,
        ReceiveWindow = 192,
        Pins =
        [
            new("PA0", 0, 8), new("PB0", 8, 8), new("PC0", 16, 8), new("PD0", 24, 8),
            new("PE0", 32, 8), new("PF0", 40, 8), new("PG0", 48, 8), new("PH0", 56, 8),
            new("PJ0", 72, 8), new("PK0", 80, 8), new("PL0", 88, 8),
        ],
        SpiBuses = new Dictionary<string, int> { ["spi"] = 0 },
        I2cBuses = new Dictionary<string, int> { ["twi"] = 0 },
        ExtraConstants = new Dictionary<string, string>
        {
            ["BUS_PINS_spi"] = "PB3,PB2,PB1",
            ["BUS_PINS_twi"] = "PD0,PD1",
            ["RESERVE_PINS_serial"] = "PE0,PE1",
        },
    };

    /// <summary>An STM32F407-like board (168 MHz, 12-bit ADC, pins PA0..PI15, USB link).</summary>
    public static SimBoard Stm32f407() => new()
    {
        Name = "stm32f407",
        Mcu = "stm32f407xx",
        ClockFreq = 168000000,
        AdcMax = 4095,
        PwmMax = 32768,
        Pins =
        [
            new("PA0", 0, 16), new("PB0", 16, 16), new("PC0", 32, 16), new("PD0", 48, 16),
            new("PE0", 64, 16), new("PF0", 80, 16), new("PG0", 96, 16), new("PH0", 112, 16),
            new("PI0", 128, 16),
        ],
        NamedPins = new Dictionary<string, int> { ["ADC_TEMPERATURE"] = 254 },
        SpiBuses = new Dictionary<string, int> { ["spi2"] = 0, ["spi1"] = 1, ["spi1a"] = 2, ["spi2a"] = 3, ["spi3"] = 4, ["spi3a"] = 5 },
        I2cBuses = new Dictionary<string, int> { ["i2c1"] = 0, ["i2c1a"] = 1, ["i2c2"] = 2, ["i2c3"] = 3 },
        ExtraConstants = new Dictionary<string, string>
        {
            ["BUS_PINS_i2c1"] = "PB6,PB7",
            ["BUS_PINS_i2c1a"] = "PB8,PB9",
            ["BUS_PINS_i2c2"] = "PB10,PB11",
            ["BUS_PINS_i2c3"] = "PA8,PC9",
            ["BUS_PINS_spi1"] = "PA6,PA7,PA5",
            ["BUS_PINS_spi1a"] = "PB4,PB5,PB3",
            ["BUS_PINS_spi2"] = "PB14,PB15,PB13",
            ["BUS_PINS_spi2a"] = "PC2,PC3,PB10",
            ["BUS_PINS_spi3"] = "PB4,PB5,PB3",
            ["BUS_PINS_spi3a"] = "PC11,PC12,PC10",
            ["RESERVE_PINS_USB"] = "PA11,PA12",
            ["RESERVE_PINS_crystal"] = "PH0,PH1",
        },
    };

    /// <summary>A Linux-process-like MCU (50 MHz, gpio0..gpio287, analog0..analog7, <c>config_reset</c>).</summary>
    public static SimBoard Linux() => new()
    {
        Name = "linux",
        Mcu = "linux",
        ClockFreq = 50000000,
        AdcMax = 4095,
        PwmMax = 32768,
        HasResetCommand = false,
        Pins = [new("gpio0", 0, 288), new("analog0", 4096, 8)],
        SpiBuses = new Dictionary<string, int> { ["spidev0.0"] = 0, ["spidev0.1"] = 1 },
        I2cBuses = new Dictionary<string, int> { ["i2c.0"] = 0, ["i2c.1"] = 1 },
    };

    /// <summary>Names accepted by <see cref="ByName"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["atmega2560", "stm32f407", "linux"];

    /// <summary>A board by name, or null when unknown.</summary>
    public static SimBoard? ByName(string name) => name switch
    {
        "atmega2560" => Atmega2560(),
        "stm32f407" => Stm32f407(),
        "linux" => Linux(),
        _ => null,
    };
}
