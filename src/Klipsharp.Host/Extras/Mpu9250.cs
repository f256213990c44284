using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>[mpu9250]: an MPU-9250 family accelerometer on I2C, configuration part (upstream mpu9250.MPU9250).</summary>
public sealed class MPU9250 : IAccelerometer
{
    public const int Mpu9250Addr = 0x68;
    public const double FreefallAccel = 9.80665 * 1000.0;
    public const double Scale = 0.000244140625 * FreefallAccel;
    public const double BatchUpdates = 0.100;

    private static readonly Dictionary<int, int> SampleRateDivs = new() { [4000] = 0x00 };

    private readonly McuI2c _i2c;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly FixedFreqReader _ffreader;

    public MPU9250(ConfigWrapper config)
    {
        _ = new AccelCommandHelper(config, this);
        AxesMap = AccelCommandHelper.ReadAxesMap(config, Scale, Scale, Scale);
        DataRate = config.GetInt("rate", 4000);
        if (!SampleRateDivs.ContainsKey(DataRate))
            throw config.Error($"Invalid rate parameter: {DataRate}");
        _i2c = McuI2c.FromConfig(config, defaultAddr: Mpu9250Addr, defaultSpeed: 400000);
        _mcu = _i2c.GetMcu();
        _oid = _mcu.CreateOid();
        _mcu.RegisterConfigCallback(BuildConfig);
        _ffreader = new FixedFreqReader(_mcu, DataRate * BatchUpdates * 2, ">hhh");
        Name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
    }

    public string Name { get; }

    public (int Pos, double Scale)[] AxesMap { get; }

    public int DataRate { get; }

    public McuCommand? QueryMpu9250Cmd { get; private set; }

    private void BuildConfig()
    {
        var cmdqueue = _i2c.GetCommandQueue();
        _mcu.AddConfigCmd($"config_mpu9250 oid={_oid} i2c_oid={_i2c.Oid}");
        _mcu.AddConfigCmd($"query_mpu9250 oid={_oid} rest_ticks=0", onRestart: true);
        QueryMpu9250Cmd = _mcu.LookupCommand("query_mpu9250 oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_mpu9250_status oid=%c", _oid, cmdqueue);
    }
}
