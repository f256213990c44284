using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>
/// Bit-bangs the Duet3D SmartEffector programming protocol on its control pin
/// (upstream smart_effector.ControlPinHelper).
/// </summary>
public sealed class ControlPinHelper
{
    /// <summary>Bit rate of the SmartEffector programming protocol.</summary>
    public const double BitsPerSecond = 1000.0;

    private readonly Mcu.Mcu _mcu;
    private readonly string _pin;
    private readonly int _startValue;
    private readonly int _invert;
    private int _oid;
    private McuCommand? _setCmd;

    public ControlPinHelper(PinParams pinParams)
    {
        _mcu = (Mcu.Mcu)pinParams.Chip;
        _pin = pinParams.Pin;
        _startValue = _invert = pinParams.Invert;
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    private void BuildConfig()
    {
        _mcu.RequestMoveQueueSlot();
        _oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_digital_out oid={_oid} pin={_pin} value={_startValue} default_value={_startValue} max_duration=0");
        var cmdQueue = _mcu.AllocCommandQueue();
        _setCmd = _mcu.LookupCommand("queue_digital_out oid=%c clock=%u on_ticks=%u", cmdQueue);
    }

    /// <summary>The pin levels (before inversion) that encode <paramref name="buf"/>: per byte [0 0 1 0 b7 b6 b5 b4 !b4 b3 b2 b1 b0 !b0].</summary>
    public static List<int> EncodeBits(IEnumerable<int> buf)
    {
        var bits = new List<int>();
        foreach (int raw in buf)
        {
            int b = raw & 0xFF;
            bits.AddRange([0, 0, 1, 0]);
            bits.AddRange([b & 0x80, b & 0x40, b & 0x20, b & 0x10]);
            bits.Add(~b & 0x10);
            bits.AddRange([b & 0x08, b & 0x04, b & 0x02, b & 0x01]);
            bits.Add(~b & 0x01);
        }
        return bits;
    }

    /// <summary>Queues pin changes for <paramref name="bitStream"/> from <paramref name="startTime"/>; returns the time after the last bit.</summary>
    public double WriteBits(double startTime, IReadOnlyList<int> bitStream)
    {
        double bitStep = 1.0 / BitsPerSecond;
        int lastValue = _startValue;
        double bitTime = startTime;
        int value = _startValue;
        foreach (int b in bitStream)
        {
            value = (b != 0 ? 1 : 0) ^ _invert;
            if (value != lastValue)
            {
                long clock = _mcu.PrintTimeToClock(bitTime);
                _setCmd!.Send([_oid, clock, value]);
                lastValue = value;
            }
            bitTime += bitStep;
        }
        // The pin returns to its idle level after the last bit
        if (value != _startValue)
        {
            long clock = _mcu.PrintTimeToClock(bitTime);
            _setCmd!.Send([_oid, clock, _startValue]);
            bitTime += bitStep;
        }
        return bitTime;
    }
}

/// <summary>The SmartEffector probe: an endstop probe with optional probing acceleration and recovery dwell (upstream SmartEffectorProbe).</summary>
public sealed class SmartEffectorProbe : IProbeSession
{
    public const string CmdSetSmartEffectorHelp = "Set SmartEffector parameters";
    public const string CmdResetSmartEffectorHelp = "Reset SmartEffector settings (sensitivity)";

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly ProbeEndstopWrapper _probeWrapper;
    private readonly ControlPinHelper? _controlPin;
    private IProbeSession? _probeSession;
    private double _oldMaxAccel;

    public SmartEffectorProbe(ConfigWrapper config, ProbeOffsetsHelper probeOffsets, ProbeParameterHelper paramHelper)
    {
        _printer = config.GetPrinter();
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        ProbeAccel = config.GetFloat("probe_accel", 0.0, minval: 0.0);
        RecoveryTime = config.GetFloat("recovery_time", 0.4, minval: 0.0);
        _probeWrapper = new ProbeEndstopWrapper(config, probeOffsets, paramHelper);
        string? controlPin = config.GetOrNull("control_pin");
        if (!string.IsNullOrEmpty(controlPin))
        {
            var ppins = _printer.LookupObject<PrinterPins>("pins");
            var pinParams = ppins.LookupPin(controlPin, canInvert: true);
            _controlPin = new ControlPinHelper(pinParams);
            _gcode.RegisterCommand("RESET_SMART_EFFECTOR", CmdResetSmartEffector, desc: CmdResetSmartEffectorHelp);
        }
        _gcode.RegisterCommand("SET_SMART_EFFECTOR", CmdSetSmartEffector, desc: CmdSetSmartEffectorHelp);
    }

    public double ProbeAccel { get; private set; }

    public double RecoveryTime { get; private set; }

    public int QueryEndstop(double printTime) => _probeWrapper.QueryEndstop(printTime);

    private void ProbePrepare()
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        if (ProbeAccel != 0.0)
        {
            double systime = _printer.Reactor.Monotonic();
            _oldMaxAccel = Convert.ToDouble(toolhead.GetStatus(systime)["max_accel"], System.Globalization.CultureInfo.InvariantCulture);
            _gcode.RunScriptFromCommand(PyPercent.Format("M204 S%.3f", ProbeAccel));
        }
        if (RecoveryTime != 0.0)
            toolhead.Dwell(RecoveryTime);
    }

    private void ProbeFinish()
    {
        if (ProbeAccel != 0.0)
            _gcode.RunScriptFromCommand(PyPercent.Format("M204 S%.3f", _oldMaxAccel));
    }

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        _probeSession = _probeWrapper.StartProbeSession(gcmd);
        return this;
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        ProbePrepare();
        try
        {
            _probeSession!.RunProbe(gcmd);
        }
        catch (CommandError)
        {
            ProbeFinish();
            throw;
        }
        ProbeFinish();
    }

    public IReadOnlyList<IProbeResult> PullProbedResults() => _probeSession!.PullProbedResults();

    public void EndProbeSession()
    {
        _probeSession!.EndProbeSession();
        _probeSession = null;
    }

    private void SendCommand(IEnumerable<int> buf)
    {
        var bitStream = ControlPinHelper.EncodeBits(buf);
        // Let earlier moves finish before programming
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.WaitMoves();
        double startTime = toolhead.GetLastMoveTime();
        double endTime = _controlPin!.WriteBits(startTime, bitStream);
        // Keep later moves out of the programming window
        toolhead.Dwell(endTime - startTime);
        toolhead.WaitMoves();
    }

    private void CmdSetSmartEffector(GCodeCommand gcmd)
    {
        int? sensitivity = gcmd.GetIntOrNull("SENSITIVITY", minval: 0, maxval: 255);
        var respondInfo = new List<string>();
        if (sensitivity is int s)
        {
            if (_controlPin is null)
                throw gcmd.Error("control_pin must be set in [smart_effector] for sensitivity programming");
            SendCommand([105, s, 255 - s]);
            respondInfo.Add($"sensitivity: {s}");
        }
        ProbeAccel = gcmd.GetFloat("ACCEL", ProbeAccel, minval: 0.0);
        RecoveryTime = gcmd.GetFloat("RECOVERY_TIME", RecoveryTime, minval: 0.0);
        respondInfo.Add(ProbeAccel != 0.0 ? $"probing accelartion: {PyFmt.F(ProbeAccel, 3)}" : "probing acceleration control disabled");
        respondInfo.Add(RecoveryTime != 0.0 ? $"probe recovery time: {PyFmt.F(RecoveryTime, 3)}" : "probe recovery time disabled");
        gcmd.RespondInfo("SmartEffector:\n" + string.Join("\n", respondInfo));
    }

    private void CmdResetSmartEffector(GCodeCommand gcmd)
    {
        SendCommand([131, 131]);
        gcmd.RespondInfo("SmartEffector sensitivity was reset");
    }
}

/// <summary>[smart_effector]: a Duet3D SmartEffector used as the Z probe (upstream PrinterSmartEffector).</summary>
public sealed class PrinterSmartEffector : IPrinterProbe, IStatusProvider
{
    private readonly ProbeOffsetsHelper _probeOffsets;
    private readonly ProbeParameterHelper _paramHelper;
    private readonly SampleAveragingHelper _probeSession;
    private readonly ProbeCommandHelper _cmdHelper;

    public PrinterSmartEffector(ConfigWrapper config)
    {
        _probeOffsets = new ProbeOffsetsHelper(config);
        _paramHelper = new ProbeParameterHelper(config);
        McuProbe = new SmartEffectorProbe(config, _probeOffsets, _paramHelper);
        _probeSession = new SampleAveragingHelper(config, _paramHelper, McuProbe.StartProbeSession);
        Func<double, int> queryEndstop = McuProbe.QueryEndstop;
        _cmdHelper = new ProbeCommandHelper(config, this, queryEndstop);
        _ = new HomingViaProbeHelper(config, _probeOffsets.GetOffsets().Z, queryEndstop);
    }

    public SmartEffectorProbe McuProbe { get; }

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null) => _paramHelper.GetProbeParams(gcmd);

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null) => _probeOffsets.GetOffsets(gcmd);

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdHelper.GetStatus(eventtime);

    public IProbeSession StartProbeSession(GCodeCommand gcmd) => _probeSession.StartProbeSession(gcmd);

    /// <summary>Upstream load_config: the effector is also the "probe" object.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        var smartEffector = new PrinterSmartEffector(config);
        config.GetPrinter().AddObject("probe", smartEffector);
        return smartEffector;
    }
}
