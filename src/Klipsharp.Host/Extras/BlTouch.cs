using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>The BLTouch endstop: servo-like control pulses plus a sensor pin (upstream bltouch.BLTouchProbe).</summary>
public sealed class BLTouchProbe : IMcuEndstop, IProbeSession
{
    public const double SignalPeriod = 0.020;
    public const double MinCmdTime = 5 * SignalPeriod;
    public const double TestTime = 5 * 60.0;
    public const double RetryResetTime = 1.0;
    public const double EndstopRestTime = .001;
    public const double EndstopSampleTime = .000015;
    public const int EndstopSampleCount = 4;
    public const string CmdBltouchDebugHelp = "Send a command to the bltouch for debugging";
    public const string CmdBltouchStoreHelp = "Store an output mode in the BLTouch EEPROM";

    public static readonly Dictionary<string, double> Commands = new()
    {
        ["pin_down"] = 0.000650, ["touch_mode"] = 0.001165,
        ["pin_up"] = 0.001475, ["self_test"] = 0.001780, ["reset"] = 0.002190,
        ["set_5V_output_mode"] = 0.001988, ["set_OD_output_mode"] = 0.002091,
        ["output_mode_store"] = 0.001884,
    };

    private readonly Printer _printer;
    private readonly bool _stowOnEachSample, _probeTouchMode;
    private readonly IPwmPin _mcuPwm;
    private double _nextCmdTime, _actionEndTime;
    private ReactorCompletion? _finishHomeComplete, _waitTriggerComplete;
    private readonly IMcuEndstop _mcuEndstop;
    private readonly string? _outputMode;
    private double _nextTestTime;
    private readonly bool _pinUpNotTriggered, _pinUpTouchTriggered;
    private readonly double _pinMoveTime;
    private readonly DescendToEndstopHelper _homingHelper;
    private string _multi = "OFF";
    private readonly GCodeDispatch _gcode;

    public BLTouchProbe(ConfigWrapper config, ProbeOffsetsHelper probeOffsets, ProbeParameterHelper paramHelper)
    {
        _printer = config.GetPrinter();
        _stowOnEachSample = config.GetBoolean("stow_on_each_sample", true);
        _probeTouchMode = config.GetBoolean("probe_with_touch_mode", false);
        _mcuPwm = OutputPins.SetupPwm(_printer, config.Get("control_pin"));
        _mcuPwm.SetupMaxDuration(0.0);
        _mcuPwm.SetupCycleTime(SignalPeriod);
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        _mcuEndstop = (IMcuEndstop)ppins.SetupPin("endstop", config.Get("sensor_pin"));
        string mode = config.GetChoice("set_output_mode", new[] { "5V", "OD", "None" }, "None");
        _outputMode = mode == "None" ? null : mode;
        _pinUpNotTriggered = config.GetBoolean("pin_up_reports_not_triggered", true);
        _pinUpTouchTriggered = config.GetBoolean("pin_up_touch_mode_reports_triggered", true);
        _pinMoveTime = config.GetFloat("pin_move_time", 0.680, above: 0.0);
        _homingHelper = new DescendToEndstopHelper(config, this, () => probeOffsets.GetOffsets(), g => paramHelper.GetProbeParams(g),
            alwaysCheckMovement: true);
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("BLTOUCH_DEBUG", CmdBltouchDebug, desc: CmdBltouchDebugHelp);
        _gcode.RegisterCommand("BLTOUCH_STORE", CmdBltouchStore, desc: CmdBltouchStoreHelp);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
    }

    public Mcu.Mcu Mcu => _mcuEndstop.Mcu;

    public void AddStepper(IMcuStepper stepper) => _mcuEndstop.AddStepper(stepper);

    public IReadOnlyList<IMcuStepper> GetSteppers() => _mcuEndstop.GetSteppers();

    public double HomeWait(double homeEndTime) => _mcuEndstop.HomeWait(homeEndTime);

    public int QueryEndstop(double printTime) => _mcuEndstop.QueryEndstop(printTime);

    private void HandleConnect()
    {
        SyncMcuPrintTime();
        _nextCmdTime += 0.200;
        SetOutputMode(_outputMode);
        try
        {
            RaiseProbe();
            VerifyRaiseProbe();
        }
        catch (CommandError e)
        {
            _printer.Log?.Invoke($"BLTouch raise probe error: {e.Message}");
        }
    }

    private void SyncMcuPrintTime()
    {
        double curtime = _printer.Reactor.Monotonic();
        double estTime = _mcuPwm.GetMcu().EstimatedPrintTime(curtime);
        _nextCmdTime = Math.Max(_nextCmdTime, estTime + MinCmdTime);
    }

    private void SyncPrintTime()
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        double printTime = toolhead.GetLastMoveTime();
        if (_nextCmdTime > printTime)
            toolhead.Dwell(_nextCmdTime - printTime);
        else
            _nextCmdTime = printTime;
    }

    private void SendCmd(string cmd, double duration = MinCmdTime)
    {
        var mcu = _mcuPwm.GetMcu();
        long cmdClock = mcu.PrintTimeToClock(_nextCmdTime);
        double pulse = (long)((duration - MinCmdTime) / SignalPeriod) * SignalPeriod;
        cmdClock += mcu.SecondsToClock(Math.Max(MinCmdTime, pulse));
        double endTime = mcu.ClockToPrintTime(cmdClock);
        _mcuPwm.SetPwm(_nextCmdTime, Commands[cmd] / SignalPeriod);
        _mcuPwm.SetPwm(endTime, 0.0);
        _actionEndTime = _nextCmdTime + duration;
        _nextCmdTime = Math.Max(_actionEndTime, endTime + MinCmdTime);
    }

    private bool VerifyState(bool triggered)
    {
        _mcuEndstop.HomeStart(_actionEndTime, EndstopSampleTime, EndstopSampleCount, EndstopRestTime, triggered);
        double triggerTime;
        try
        {
            triggerTime = _mcuEndstop.HomeWait(_actionEndTime + 0.100);
        }
        catch (CommandError)
        {
            return false;
        }
        return triggerTime > 0.0;
    }

    private void RaiseProbe()
    {
        SyncMcuPrintTime();
        if (!_pinUpNotTriggered)
            SendCmd("reset");
        SendCmd("pin_up", _pinMoveTime);
    }

    private void VerifyRaiseProbe()
    {
        if (!_pinUpNotTriggered)
            return;
        for (int retry = 0; retry < 3; retry++)
        {
            if (VerifyState(false))
                break;
            if (retry >= 2)
                throw new CommandError("BLTouch failed to raise probe");
            _gcode.RespondInfo("Failed to verify BLTouch probe is raised; retrying.");
            SyncMcuPrintTime();
            SendCmd("reset", RetryResetTime);
            SendCmd("pin_up", _pinMoveTime);
        }
    }

    private void LowerProbe()
    {
        TestSensor();
        SyncPrintTime();
        SendCmd("pin_down", _pinMoveTime);
        if (_probeTouchMode)
            SendCmd("touch_mode");
    }

    private void TestSensor()
    {
        if (!_pinUpTouchTriggered)
            return;
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        double printTime = toolhead.GetLastMoveTime();
        if (printTime < _nextTestTime)
        {
            _nextTestTime = printTime + TestTime;
            return;
        }
        SyncPrintTime();
        for (int retry = 0; retry < 3; retry++)
        {
            SendCmd("pin_up", _pinMoveTime);
            SendCmd("touch_mode");
            bool success = VerifyState(true);
            SyncPrintTime();
            if (success)
            {
                _nextTestTime = printTime + TestTime;
                return;
            }
            const string msg = "BLTouch failed to verify sensor state";
            if (retry >= 2)
                throw new CommandError(msg);
            _gcode.RespondInfo(msg + "; retrying.");
            SendCmd("reset", RetryResetTime);
        }
    }

    public IProbeSession StartProbeSession(GCodeCommand gcmd)
    {
        _homingHelper.ClearTriggerPositions();
        if (!_stowOnEachSample)
            _multi = "FIRST";
        return this;
    }

    private void ProbePrepare()
    {
        if (_multi is "OFF" or "FIRST")
        {
            LowerProbe();
            if (_multi == "FIRST")
                _multi = "ON";
        }
        SyncPrintTime();
    }

    public ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime, bool triggered = true)
    {
        restTime = Math.Min(restTime, EndstopRestTime);
        _finishHomeComplete = _mcuEndstop.HomeStart(printTime, sampleTime, sampleCount, restTime, triggered);
        var reactor = _printer.Reactor;
        var done = reactor.Completion();
        _waitTriggerComplete = done;
        reactor.RegisterCallback(_ =>
        {
            _finishHomeComplete.Wait();
            if (_multi == "OFF")
                RaiseProbe();
            done.Complete(null);
        });
        return _finishHomeComplete;
    }

    private void ProbeFinish()
    {
        _waitTriggerComplete?.Wait();
        if (_multi == "OFF")
            VerifyRaiseProbe();
        SyncPrintTime();
    }

    public void RunProbe(GCodeCommand gcmd)
    {
        ProbePrepare();
        try
        {
            _homingHelper.DescendUntilTrigger(gcmd);
        }
        catch (CommandError)
        {
            ProbeFinish();
            throw;
        }
        ProbeFinish();
    }

    public IReadOnlyList<IProbeResult> PullProbedResults() => _homingHelper.PullTriggerPositions();

    public void EndProbeSession()
    {
        _homingHelper.ClearTriggerPositions();
        if (!_stowOnEachSample)
        {
            SyncPrintTime();
            RaiseProbe();
            VerifyRaiseProbe();
            SyncPrintTime();
            _multi = "OFF";
        }
    }

    private void SetOutputMode(string? mode)
    {
        if (mode is null)
            return;
        _printer.Log?.Invoke($"BLTouch set output mode: {mode}");
        SyncMcuPrintTime();
        if (mode == "5V")
            SendCmd("set_5V_output_mode");
        if (mode == "OD")
            SendCmd("set_OD_output_mode");
    }

    private void StoreOutputMode(string mode)
    {
        _printer.Log?.Invoke($"BLTouch store output mode: {mode}");
        SyncPrintTime();
        SendCmd("pin_down");
        SendCmd(mode == "5V" ? "set_5V_output_mode" : "set_OD_output_mode");
        SendCmd("output_mode_store");
        SendCmd(mode == "5V" ? "set_5V_output_mode" : "set_OD_output_mode");
        SendCmd("pin_up");
    }

    private void CmdBltouchDebug(GCodeCommand gcmd)
    {
        string? cmd = gcmd.GetOrNull("COMMAND");
        if (cmd is null || !Commands.ContainsKey(cmd))
        {
            gcmd.RespondInfo("BLTouch commands: " + string.Join(", ", Commands.Keys.OrderBy(c => c, StringComparer.Ordinal)));
            return;
        }
        gcmd.RespondInfo($"Sending BLTOUCH_DEBUG COMMAND={cmd}");
        SyncPrintTime();
        SendCmd(cmd, _pinMoveTime);
        SyncPrintTime();
    }

    private void CmdBltouchStore(GCodeCommand gcmd)
    {
        string? cmd = gcmd.GetOrNull("MODE");
        if (cmd is null || (cmd != "5V" && cmd != "OD"))
        {
            gcmd.RespondInfo("BLTouch output modes: 5V, OD");
            return;
        }
        gcmd.RespondInfo($"Storing BLTouch output mode: {cmd}");
        SyncPrintTime();
        StoreOutputMode(cmd);
        SyncPrintTime();
    }
}

/// <summary>[bltouch]: registers itself as the "probe" object (upstream PrinterBLTouch).</summary>
public sealed class PrinterBLTouch : IPrinterProbe, IStatusProvider
{
    private readonly ProbeOffsetsHelper _probeOffsets;
    private readonly ProbeParameterHelper _paramHelper;
    private readonly SampleAveragingHelper _probeSession;
    private readonly ProbeCommandHelper _cmdHelper;

    public PrinterBLTouch(ConfigWrapper config)
    {
        _probeOffsets = new ProbeOffsetsHelper(config);
        _paramHelper = new ProbeParameterHelper(config);
        McuProbe = new BLTouchProbe(config, _probeOffsets, _paramHelper);
        _probeSession = new SampleAveragingHelper(config, _paramHelper, McuProbe.StartProbeSession);
        Func<double, int> queryEndstop = McuProbe.QueryEndstop;
        _cmdHelper = new ProbeCommandHelper(config, this, queryEndstop);
        _ = new HomingViaProbeHelper(config, _probeOffsets.GetOffsets().Z, queryEndstop);
    }

    public BLTouchProbe McuProbe { get; }

    public static object LoadConfig(ConfigWrapper config)
    {
        var blt = new PrinterBLTouch(config);
        config.GetPrinter().AddObject("probe", blt);
        return blt;
    }

    public ProbeParams GetProbeParams(GCodeCommand? gcmd = null) => _paramHelper.GetProbeParams(gcmd);

    public (double X, double Y, double Z) GetOffsets(GCodeCommand? gcmd = null) => _probeOffsets.GetOffsets(gcmd);

    public Dictionary<string, object?> GetStatus(double eventtime) => _cmdHelper.GetStatus(eventtime);

    public IProbeSession StartProbeSession(GCodeCommand gcmd) => _probeSession.StartProbeSession(gcmd);
}
