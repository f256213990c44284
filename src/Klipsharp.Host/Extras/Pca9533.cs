using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[pca9533 NAME]: an I2C LED driver with blink presets (upstream pca9533.PCA9533).</summary>
public sealed class PCA9533 : IStatusProvider
{
    private const int Pwm0 = 0b010, Pwm1 = 0b100, Pls0 = 0b101;
    private readonly McuI2c _i2c;
    private readonly LedHelper _ledHelper;

    public PCA9533(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        _i2c = McuI2c.FromConfig(config, defaultAddr: 98);
        _ledHelper = new LedHelper(config, UpdateLeds, 1);
        printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    private void HandleConnect()
    {
        _i2c.I2cWrite([Pwm0, 85]);
        _i2c.I2cWrite([Pwm1, 170]);
        UpdateLeds(_ledHelper.LedState, null);
    }

    private void UpdateLeds(IReadOnlyList<LedColor> ledState, double? printTime)
    {
        int[] rmap = [0, 2, 3, 1, 1];
        var c = ledState[0];
        int red = rmap[(int)(c.Red * 4.0)], green = rmap[(int)(c.Green * 4.0)];
        int blue = rmap[(int)(c.Blue * 4.0)], white = rmap[(int)(c.White * 4.0)];
        int ls0 = (white << 6) | (blue << 4) | (green << 2) | red;
        ulong minclock = 0;
        if (printTime is double pt)
            minclock = (ulong)_i2c.GetMcu().PrintTimeToClock(pt);
        _i2c.I2cWrite([Pls0, (byte)ls0], minclock, LcdFramebuffer.BackgroundPriorityClock);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _ledHelper.GetStatus(eventtime);
}

/// <summary>[pca9632 NAME]: an I2C RGBW LED driver (upstream pca9632.PCA9632).</summary>
public sealed class PCA9632 : IStatusProvider
{
    private const int Mode1 = 0x00, Mode2 = 0x01, PwmBase = 0x02, LedOut = 0x08, LedPwm = 0x02;
    private readonly McuI2c _i2c;
    private readonly int[] _colorMap;
    private readonly Dictionary<int, int> _prevRegs = new();
    private readonly LedHelper _ledHelper;

    public PCA9632(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        _i2c = McuI2c.FromConfig(config, defaultAddr: 98);
        string colorOrder = config.Get("color_order", "RGBW");
        if (new string(colorOrder.OrderBy(ch => ch).ToArray()) != "BGRW")
            throw config.Error($"Invalid color_order '{colorOrder}'");
        _colorMap = colorOrder.Select(ch => "RGBW".IndexOf(ch)).ToArray();
        _ledHelper = new LedHelper(config, UpdateLeds, 1);
        printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    private void RegWrite(int reg, int val, ulong minclock = 0)
    {
        if (_prevRegs.TryGetValue(reg, out int prev) && prev == val)
            return;
        _prevRegs[reg] = val;
        _i2c.I2cWrite([(byte)reg, (byte)val], minclock, LcdFramebuffer.BackgroundPriorityClock);
    }

    private void HandleConnect()
    {
        RegWrite(Mode1, 0x00);
        RegWrite(Mode2, 0x15);
        UpdateLeds(_ledHelper.LedState, null);
    }

    private void UpdateLeds(IReadOnlyList<LedColor> ledState, double? printTime)
    {
        ulong minclock = 0;
        if (printTime is double pt)
            minclock = (ulong)_i2c.GetMcu().PrintTimeToClock(pt);
        var c = ledState[0];
        int[] color = [(int)(c.Red * 255.0 + .5), (int)(c.Green * 255.0 + .5), (int)(c.Blue * 255.0 + .5), (int)(c.White * 255.0 + .5)];
        int led0 = color[_colorMap[0]], led1 = color[_colorMap[1]], led2 = color[_colorMap[2]], led3 = color[_colorMap[3]];
        RegWrite(PwmBase, led0, minclock);
        RegWrite(PwmBase + 1, led1, minclock);
        RegWrite(PwmBase + 2, led2, minclock);
        RegWrite(PwmBase + 3, led3, minclock);
        int ledout = (led0 != 0 ? LedPwm << 0 : 0) | (led1 != 0 ? LedPwm << 2 : 0) | (led2 != 0 ? LedPwm << 4 : 0) | (led3 != 0 ? LedPwm << 6 : 0);
        RegWrite(LedOut, ledout, minclock);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _ledHelper.GetStatus(eventtime);
}
