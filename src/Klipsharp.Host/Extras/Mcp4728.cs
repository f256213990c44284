using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[mcp4728 NAME]: a 4 channel I2C DAC set once at start (upstream mcp4728.mcp4728).</summary>
public sealed class Mcp4728
{
    private readonly McuI2c _i2c;

    public Mcp4728(ConfigWrapper config)
    {
        _i2c = McuI2c.FromConfig(config, defaultAddr: 0x60);
        double scale = config.GetFloat("scale", 1.0, above: 0.0);
        const string names = "abcd";
        for (int i = 0; i < names.Length; i++)
        {
            double? val = config.GetFloatOrNull($"channel_{names[i]}", minval: 0.0, maxval: scale);
            if (val is not null)
                SetDac(i, (int)Math.Truncate(val.Value * 4095.0 / scale + .5));
        }
    }

    private void SetDac(int dac, int value) =>
        _i2c.I2cWrite([(byte)(0x40 | (dac << 1)), (byte)(((value >> 8) & 0x0f) | 0x80), (byte)(value & 0xff)]);
}
