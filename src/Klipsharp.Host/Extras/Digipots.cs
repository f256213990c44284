using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[ad5206 NAME]: SPI digipot channels set at start (upstream ad5206).</summary>
public sealed class Ad5206
{
    private readonly McuSpi _spi;

    public Ad5206(ConfigWrapper config)
    {
        _spi = McuSpi.FromConfig(config, 0, pinOption: "enable_pin", defaultSpeed: 25000000);
        double scale = config.GetFloat("scale", 1.0, above: 0.0);
        for (int i = 0; i < 6; i++)
        {
            double? val = config.GetFloatOrNull($"channel_{i + 1}", minval: 0.0, maxval: scale);
            if (val is double v)
                SetRegister(i, (int)(v * 256.0 / scale + .5));
        }
    }

    public void SetRegister(int reg, int value) => _spi.SpiSend([(byte)reg, (byte)value]);
}

/// <summary>[mcp4451 NAME]: I2C digipot wipers set at start (upstream mcp4451).</summary>
public sealed class Mcp4451
{
    private static readonly int[] WiperRegisters = [0x00, 0x01, 0x06, 0x07];
    private readonly McuI2c _i2c;

    public Mcp4451(ConfigWrapper config)
    {
        _i2c = McuI2c.FromConfig(config);
        int i2cAddr = _i2c.I2cAddress;
        if (i2cAddr < 44 || i2cAddr > 47)
            throw config.Error("mcp4451 address must be between 44 and 47");
        double scale = config.GetFloat("scale", 1.0, above: 0.0);
        SetRegister(0x04, 0xff);
        SetRegister(0x0a, 0xff);
        for (int i = 0; i < 4; i++)
        {
            double? val = config.GetFloatOrNull($"wiper_{i}", minval: 0.0, maxval: scale);
            if (val is double v)
                SetRegister(WiperRegisters[i], (int)(v * 255.0 / scale + .5));
        }
    }

    public void SetRegister(int reg, int value) =>
        _i2c.I2cWrite([(byte)((reg << 4) | ((value >> 8) & 0x03)), (byte)value]);
}

/// <summary>[mcp4018 NAME]: a single wiper I2C digipot with SET_DIGIPOT (upstream mcp4018).</summary>
public sealed class Mcp4018
{
    public const string CmdSetDigipotHelp = "Set digipot value";
    private readonly McuI2c _i2c;
    private readonly double _scale, _startValue;
    private readonly string _name;

    public Mcp4018(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        _i2c = McuI2c.FromConfig(config, defaultAddr: 0x2f);
        _scale = config.GetFloat("scale", 1.0, above: 0.0);
        _startValue = config.GetFloat("wiper", minval: 0.0, maxval: _scale);
        printer.RegisterEventHandler("klippy:connect", () => SetDac(_startValue));
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_DIGIPOT", "DIGIPOT", _name, CmdSetDigipot, desc: CmdSetDigipotHelp);
    }

    public void SetDac(double value)
    {
        int val = (int)(value * 127.0 / _scale + .5);
        _i2c.I2cWrite([(byte)val]);
    }

    private void CmdSetDigipot(GCodeCommand gcmd)
    {
        double wiper = gcmd.GetFloat("WIPER", minval: 0.0, maxval: _scale);
        SetDac(wiper);
        gcmd.RespondInfo($"New value for DIGIPOT = {_name}, wiper = {PyFmt.F(wiper, 2)}");
    }
}

/// <summary>[dac084S085 NAME]: SPI DAC channels set at start (upstream dac084S085).</summary>
public sealed class Dac084S085
{
    private readonly McuSpi _spi;

    public Dac084S085(ConfigWrapper config)
    {
        _spi = McuSpi.FromConfig(config, 1, pinOption: "enable_pin", defaultSpeed: 10000000);
        double scale = config.GetFloat("scale", 1.0, above: 0.0);
        const string names = "ABCD";
        for (int chan = 0; chan < 4; chan++)
        {
            double? val = config.GetFloatOrNull($"channel_{names[chan]}", minval: 0.0, maxval: scale);
            if (val is double v)
                SetRegister(chan, (int)(v * 255.0 / scale));
        }
    }

    public void SetRegister(int chan, int value)
    {
        int b1 = (chan << 6) | (1 << 4) | ((value >> 4) & 0x0f);
        int b2 = (value << 4) & 0xf0;
        _spi.SpiSend([(byte)b1, (byte)b2]);
    }
}
