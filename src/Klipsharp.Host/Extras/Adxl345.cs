using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>An accelerometer chip (upstream duck type with start_internal_client).</summary>
public interface IAccelerometer
{
    /// <summary>The chip's name (last word of its section).</summary>
    string Name { get; }
}

/// <summary>ACCELEROMETER_* commands for one chip (upstream adxl345.AccelCommandHelper).</summary>
public sealed class AccelCommandHelper
{
    public const string CmdAccelerometerMeasureHelp = "Start/stop accelerometer";
    public const string CmdAccelerometerQueryHelp = "Query accelerometer for the current values";
    public const string CmdAccelerometerDebugReadHelp = "Query register (for debugging)";
    public const string CmdAccelerometerDebugWriteHelp = "Set register (for debugging)";

    private readonly Printer _printer;
    private readonly string _baseName;
    private readonly string _name;

    public AccelCommandHelper(ConfigWrapper config, IAccelerometer chip)
    {
        _printer = config.GetPrinter();
        var nameParts = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        _baseName = nameParts[0];
        _name = nameParts[^1];
        try
        {
            RegisterCommands(_name);
        }
        catch (ConfigError)
        {
            throw config.Error($"Accelerometer with name '{_name}' already defined");
        }
        if (nameParts.Length == 1)
        {
            // The unnamed chip also takes the default mux commands
            try
            {
                RegisterCommands(null);
            }
            catch (ConfigError)
            {
                throw config.Error($"Default accelerometer already defined; section '{_baseName}' must include an additional name, e.g. '{_baseName} second_accelerometer'");
            }
        }
    }

    private void RegisterCommands(string? name)
    {
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("ACCELEROMETER_MEASURE", "CHIP", name, CmdAccelerometerMeasure, desc: CmdAccelerometerMeasureHelp);
        gcode.RegisterMuxCommand("ACCELEROMETER_QUERY", "CHIP", name, CmdAccelerometerQuery, desc: CmdAccelerometerQueryHelp);
        gcode.RegisterMuxCommand("ACCELEROMETER_DEBUG_READ", "CHIP", name, CmdAccelerometerDebugRead, desc: CmdAccelerometerDebugReadHelp);
        gcode.RegisterMuxCommand("ACCELEROMETER_DEBUG_WRITE", "CHIP", name, CmdAccelerometerDebugWrite, desc: CmdAccelerometerDebugWriteHelp);
    }

    private static CommandError Unsupported(GCodeCommand gcmd) =>
        gcmd.Error($"{gcmd.GetCommand()}: accelerometer data streaming is not supported by this host");

    private void CmdAccelerometerMeasure(GCodeCommand gcmd) => throw Unsupported(gcmd);

    private void CmdAccelerometerQuery(GCodeCommand gcmd) => throw Unsupported(gcmd);

    private void CmdAccelerometerDebugRead(GCodeCommand gcmd) => throw Unsupported(gcmd);

    private void CmdAccelerometerDebugWrite(GCodeCommand gcmd) => throw Unsupported(gcmd);

    /// <summary>Reads the axes_map option: (raw axis index, scale) per output axis (upstream read_axes_map).</summary>
    public static (int Pos, double Scale)[] ReadAxesMap(ConfigWrapper config, double scaleX, double scaleY, double scaleZ)
    {
        var am = new Dictionary<string, (int, double)>
        {
            ["x"] = (0, scaleX), ["y"] = (1, scaleY), ["z"] = (2, scaleZ),
            ["-x"] = (0, -scaleX), ["-y"] = (1, -scaleY), ["-z"] = (2, -scaleZ),
        };
        var axesMap = config.GetList("axes_map", ["x", "y", "z"], count: 3);
        if (axesMap.Any(a => !am.ContainsKey(a)))
            throw config.Error("Invalid axes_map parameter");
        return axesMap.Select(a => am[PyFormat.Strip(a)]).ToArray();
    }
}

/// <summary>[adxl345]: an ADXL345 accelerometer on SPI, configuration part (upstream adxl345.ADXL345).</summary>
public sealed class ADXL345 : IAccelerometer
{
    public const double FreefallAccel = 9.80665 * 1000.0;
    public const double ScaleXY = 0.003774 * FreefallAccel;
    public const double ScaleZ = 0.003906 * FreefallAccel;
    public const double BatchUpdates = 0.100;

    private static readonly Dictionary<int, int> QueryRates = new()
    {
        [25] = 0x8, [50] = 0x9, [100] = 0xa, [200] = 0xb, [400] = 0xc, [800] = 0xd, [1600] = 0xe, [3200] = 0xf,
    };

    private readonly McuSpi _spi;
    private readonly Mcu.Mcu _mcu;
    private readonly int _oid;
    private readonly FixedFreqReader _ffreader;

    public ADXL345(ConfigWrapper config)
    {
        _ = new AccelCommandHelper(config, this);
        AxesMap = AccelCommandHelper.ReadAxesMap(config, ScaleXY, ScaleXY, ScaleZ);
        DataRate = config.GetInt("rate", 3200);
        if (!QueryRates.ContainsKey(DataRate))
            throw config.Error($"Invalid rate parameter: {DataRate}");
        _spi = McuSpi.FromConfig(config, 3, defaultSpeed: 5000000);
        _mcu = _spi.GetMcu();
        _oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_adxl345 oid={_oid} spi_oid={_spi.Oid}");
        _mcu.AddConfigCmd($"query_adxl345 oid={_oid} rest_ticks=0", onRestart: true);
        _mcu.RegisterConfigCallback(BuildConfig);
        _ffreader = new FixedFreqReader(_mcu, DataRate * BatchUpdates * 2, "BBBBB");
        Name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
    }

    public string Name { get; }

    public (int Pos, double Scale)[] AxesMap { get; }

    public int DataRate { get; }

    public McuCommand? QueryAdxl345Cmd { get; private set; }

    private void BuildConfig()
    {
        var cmdqueue = _spi.GetCommandQueue();
        QueryAdxl345Cmd = _mcu.LookupCommand("query_adxl345 oid=%c rest_ticks=%u", cmdqueue);
        _ffreader.SetupQueryCommand("query_adxl345_status oid=%c", _oid, cmdqueue);
    }
}
