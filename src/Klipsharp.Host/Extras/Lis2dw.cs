using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>[lis2dw] / [lis3dh]: an LIS2DW or LIS3DH accelerometer on SPI or I2C, configuration part (upstream lis2dw.LIS2DW).</summary>
public sealed class LIS2DW : IAccelerometer
{
    public const string Lis2dwType = "LIS2DW";
    public const string Lis3dhType = "LIS3DH";
    public const int LisI2cAddr = 0x19;
    public const double FreefallAccel = 9.80665;
    public const double Lis2dwScale = FreefallAccel * 1.952 / 4;
    public const double Lis3dhScale = FreefallAccel * 11.718 / 16;
    public const double BatchUpdates = 0.100;

    private readonly McuSpi? _spi;
    private readonly McuI2c? _i2c;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly FixedFreqReader _ffreader;

    public LIS2DW(ConfigWrapper config, string lisType)
    {
        _ = new AccelCommandHelper(config, this);
        LisType = lisType;
        if (lisType == Lis2dwType)
        {
            AxesMap = AccelCommandHelper.ReadAxesMap(config, Lis2dwScale, Lis2dwScale, Lis2dwScale);
            DataRate = 1600;
        }
        else
        {
            AxesMap = AccelCommandHelper.ReadAxesMap(config, Lis3dhScale, Lis3dhScale, Lis3dhScale);
            DataRate = 1344;
        }
        BusType = config.GetOrNull("cs_pin") is not null ? "spi" : "i2c";
        int busOid;
        if (BusType == "spi")
        {
            _spi = McuSpi.FromConfig(config, 3, defaultSpeed: 5000000);
            _mcu = _spi.GetMcu();
            busOid = _spi.Oid;
        }
        else
        {
            _i2c = McuI2c.FromConfig(config, defaultAddr: LisI2cAddr, defaultSpeed: 400000);
            _mcu = _i2c.GetMcu();
            busOid = _i2c.Oid;
        }
        _oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_lis2dw oid={_oid} bus_oid={busOid} bus_oid_type={BusType} lis_chip_type={LisType}");
        _mcu.AddConfigCmd($"query_lis2dw oid={_oid} rest_ticks=0", onRestart: true);
        _mcu.RegisterConfigCallback(BuildConfig);
        _ffreader = new FixedFreqReader(_mcu, DataRate * BatchUpdates * 2, "<hhh");
        Name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
    }

    public string Name { get; }

    public string LisType { get; }

    public string BusType { get; }

    public (int Pos, double Scale)[] AxesMap { get; }

    public int DataRate { get; }

    public McuCommand? QueryLis2dwCmd { get; private set; }

    private void BuildConfig()
    {
        var cmdqueue = _spi?.GetCommandQueue() ?? _i2c!.GetCommandQueue();
        QueryLis2dwCmd = _mcu.LookupCommand("query_lis2dw oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_lis2dw_status oid=%c", _oid, cmdqueue);
    }
}
