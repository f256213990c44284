using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>[icm20948]: an ICM-20948 accelerometer on I2C, configuration part (upstream icm20948.ICM20948).</summary>
public sealed class ICM20948 : IAccelerometer
{
    public const int Icm20948Addr = 0x68;
    public const double FreefallAccel = 9.80665 * 1000.0;
    public const double Scale = 0.00048828125 * FreefallAccel;
    public const double BatchUpdates = 0.100;

    private static readonly Dictionary<int, int> SampleRateDivs = new() { [4500] = 0x00 };

    private readonly McuI2c _i2c;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly FixedFreqReader _ffreader;

    public ICM20948(ConfigWrapper config)
    {
        _ = new AccelCommandHelper(config, this);
        AxesMap = AccelCommandHelper.ReadAxesMap(config, Scale, Scale, Scale);
        DataRate = config.GetInt("rate", 4500);
        if (!SampleRateDivs.ContainsKey(DataRate))
            throw config.Error($"Invalid rate parameter: {DataRate}");
        _i2c = McuI2c.FromConfig(config, defaultAddr: Icm20948Addr, defaultSpeed: 400000);
        _mcu = _i2c.GetMcu();
        _oid = _mcu.CreateOid();
        _mcu.RegisterConfigCallback(BuildConfig);
        _ffreader = new FixedFreqReader(_mcu, DataRate * BatchUpdates * 2, ">hhh");
        Name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
    }

    public string Name { get; }

    public (int Pos, double Scale)[] AxesMap { get; }

    public int DataRate { get; }

    public McuCommand? QueryIcm20948Cmd { get; private set; }

    private void BuildConfig()
    {
        var cmdqueue = _i2c.GetCommandQueue();
        _mcu.AddConfigCmd($"config_icm20948 oid={_oid} i2c_oid={_i2c.Oid}");
        _mcu.AddConfigCmd($"query_icm20948 oid={_oid} rest_ticks=0", onRestart: true);
        QueryIcm20948Cmd = _mcu.LookupCommand("query_icm20948 oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_icm20948_status oid=%c", _oid, cmdqueue);
    }
}
