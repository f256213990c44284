using System.Numerics;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Register access to one TMC driver over SPI or UART (upstream's mcu_tmc duck type).</summary>
public interface IMcuTmc
{
    TmcFieldHelper GetFields();
    IReadOnlyDictionary<string, int> NameToReg { get; }
    (long? Data, double ReceiveTime) GetRegisterRaw(string regName);
    long GetRegister(string regName);
    void SetRegister(string regName, long val, double? printTime = null);
    double? GetTmcFrequency();
    Mcu.Mcu GetMcu();
}

/// <summary>Reads and writes named bit fields of TMC registers, remembering written values (upstream tmc.FieldHelper).</summary>
public sealed class TmcFieldHelper
{
    private readonly HashSet<string> _signedFields;
    private readonly Dictionary<string, string> _fieldToRegister = new(StringComparer.Ordinal);
    private readonly Func<string, long, string?> _fieldFormatter;

    public TmcFieldHelper(OrderedDictionary<string, OrderedDictionary<string, long>> allFields, IEnumerable<string> signedFields,
        Func<string, long, string?> fieldFormatter)
    {
        AllFields = allFields;
        _signedFields = signedFields.ToHashSet(StringComparer.Ordinal);
        _fieldFormatter = fieldFormatter;
        foreach (var (reg, fields) in allFields)
            foreach (var f in fields.Keys)
                _fieldToRegister[f] = reg;
    }

    public OrderedDictionary<string, OrderedDictionary<string, long>> AllFields { get; }

    /// <summary>Registers with a known value, in the order they were first set.</summary>
    public OrderedDictionary<string, long> Registers { get; } = new(StringComparer.Ordinal);

    /// <summary>Position of the lowest set bit (upstream ffs).</summary>
    public static int Ffs(long mask) => BitOperations.TrailingZeroCount(mask);

    public string? LookupRegister(string fieldName) => _fieldToRegister.GetValueOrDefault(fieldName);

    public long GetField(string fieldName, long? regValue = null, string? regName = null)
    {
        regName ??= _fieldToRegister[fieldName];
        long rv = regValue ?? Registers.GetValueOrDefault(regName, 0);
        long mask = AllFields[regName][fieldName];
        long fieldValue = (rv & mask) >> Ffs(mask);
        if (_signedFields.Contains(fieldName) && ((rv & mask) << 1) > mask)
            fieldValue -= 1L << (64 - BitOperations.LeadingZeroCount((ulong)fieldValue));
        return fieldValue;
    }

    public long SetField(string fieldName, long fieldValue, long? regValue = null, string? regName = null)
    {
        regName ??= _fieldToRegister[fieldName];
        long rv = regValue ?? Registers.GetValueOrDefault(regName, 0);
        long mask = AllFields[regName][fieldName];
        long newValue = (rv & ~mask) | ((fieldValue << Ffs(mask)) & mask);
        Registers[regName] = newValue;
        return newValue;
    }

    public long SetField(string fieldName, bool fieldValue) => SetField(fieldName, fieldValue ? 1 : 0);

    /// <summary>Sets a field from the driver_FIELD config option (upstream set_config_field).</summary>
    public long SetConfigField(ConfigWrapper config, string fieldName, long @default)
    {
        string configName = "driver_" + fieldName.ToUpperInvariant();
        string regName = _fieldToRegister[fieldName];
        long mask = AllFields[regName][fieldName];
        long maxval = mask >> Ffs(mask);
        long val;
        if (maxval == 1)
            val = config.GetBoolean(configName, @default != 0) ? 1 : 0;
        else if (_signedFields.Contains(fieldName))
            val = config.GetInt(configName, (int)@default, minval: (int)-(maxval / 2 + 1), maxval: (int)(maxval / 2));
        else
            val = GetUnsigned(config, configName, @default, maxval);
        return SetField(fieldName, val);
    }

    public long SetConfigField(ConfigWrapper config, string fieldName, bool @default) =>
        SetConfigField(config, fieldName, @default ? 1L : 0L);

    // Fields up to 32 bits wide (mslut) exceed int; parse as Python int would
    private static long GetUnsigned(ConfigWrapper config, string option, long @default, long maxval)
    {
        if (maxval <= int.MaxValue)
            return config.GetInt(option, (int)@default, minval: 0, maxval: (int)maxval);
        string? raw = config.GetOrNull(option);
        if (raw is null)
            return @default;
        if (!PyFormat.TryParseInt(raw, out long v))
            throw config.Error($"Unable to parse option '{option}' in section '{config.Name}'");
        if (v < 0)
            throw config.Error($"Option '{option}' in section '{config.Name}' must have minimum of 0");
        if (v > maxval)
            throw config.Error($"Option '{option}' in section '{config.Name}' must have maximum of {maxval}");
        return v;
    }

    /// <summary>A one line description of a register value (upstream pretty_format).</summary>
    public string PrettyFormat(string regName, long regValue)
    {
        var fields = new List<string>();
        if (AllFields.TryGetValue(regName, out var regFields))
        {
            foreach (var (mask, fieldName) in regFields.Select(kv => (kv.Value, kv.Key)).OrderBy(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal))
            {
                long fieldValue = GetField(fieldName, regValue, regName);
                string sval = _fieldFormatter(fieldName, fieldValue) ?? fieldValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (sval.Length != 0 && sval != "0")
                    fields.Add($" {fieldName}={sval}");
            }
        }
        return $"{(regName + ":").PadRight(11)} {regValue & 0xffffffffL:x8}{string.Concat(fields)}";
    }

    public Dictionary<string, object?> GetRegFields(string regName, long regValue)
    {
        var res = new Dictionary<string, object?>();
        if (AllFields.TryGetValue(regName, out var regFields))
            foreach (var fieldName in regFields.Keys)
                res[fieldName] = GetField(fieldName, regValue, regName);
        return res;
    }
}

/// <summary>Human readable decoding of TMC register fields (upstream FieldFormatters).</summary>
public static class TmcFormatters
{
    /// <summary>Formatter for drivers with the listed formatter fields; null means "use str()".</summary>
    public static Func<string, long, string?> For(IReadOnlyCollection<string> fields) =>
        (name, v) => fields.Contains(name) ? Format(name, v) : null;

    private static string Flag(long v, string text) => v != 0 ? text : "";

    public static string? Format(string name, long v) => name switch
    {
        "i_scale_analog" => Flag(v, "1(ExtVREF)"),
        "shaft" => Flag(v, "1(Reverse)"),
        "reset" => Flag(v, "1(Reset)"),
        "drv_err" => Flag(v, "1(ErrorShutdown!)"),
        "uv_cp" => Flag(v, "1(Undervoltage!)"),
        "version" => "0x" + v.ToString("x", System.Globalization.CultureInfo.InvariantCulture),
        "mres" => $"{v}({0x100 >> (int)v}usteps)",
        "otpw" => Flag(v, "1(OvertempWarning!)"),
        "ot" => Flag(v, "1(OvertempError!)"),
        "s2ga" => Flag(v, "1(ShortToGND_A!)"),
        "s2gb" => Flag(v, "1(ShortToGND_B!)"),
        "ola" => Flag(v, "1(OpenLoad_A!)"),
        "olb" => Flag(v, "1(OpenLoad_B!)"),
        "cs_actual" or "se" => v != 0 ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0(Reset?)",
        "sel_a" => $"{v}({(v != 0 ? "TMC220x" : "TMC222x")})",
        "s2vsa" => Flag(v, "1(ShortToSupply_A!)"),
        "s2vsb" => Flag(v, "1(ShortToSupply_B!)"),
        "chm" => v != 0 ? "1(constant toff)" : "0(spreadCycle)",
        "vsense" => v != 0 ? "1(165mV)" : "0(305mV)",
        "sdoff" => Flag(v, "1(Step/Dir disabled!)"),
        "diss2g" => Flag(v, "1(Short to GND disabled!)"),
        "adc_temp" or "overtempprewarning_vth" => $"0x{v:x4}({PyFmt.F((v - 2038) / 7.7, 1)}C)",
        "adc_vsupply" or "overvoltage_vth" => $"0x{v:x4}({PyFmt.F(v * 0.009732, 3)}V)",
        "adc_ain" => $"0x{v:x4}({PyFmt.F(v * 0.3052, 3)}mV)",
        _ => null,
    };
}

/// <summary>Periodic driver status and error checks (upstream tmc.TMCErrorCheck).</summary>
public sealed class TmcErrorCheck
{
    private readonly Printer _printer;
    private readonly string _stepperName;
    private readonly IMcuTmc _mcuTmc;
    private readonly TmcFieldHelper _fields;
    private ReactorTimer? _checkTimer;
    private long? _lastDrvStatus;
    private Dictionary<string, object?>? _lastDrvFields;
    private readonly RegInfo? _gstatRegInfo;
    private readonly bool _clearGstat = true;
    private readonly string _irunField = "irun";
    private readonly RegInfo _drvStatusRegInfo;
    private long? _adcTemp;
    private readonly string? _adcTempReg;

    private sealed class RegInfo(long lastValue, string regName, long mask, long errMask, long csActualMask)
    {
        public long LastValue = lastValue;
        public readonly string RegName = regName;
        public readonly long Mask = mask, ErrMask = errMask, CsActualMask = csActualMask;
    }

    public TmcErrorCheck(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        _printer = config.GetPrinter();
        var nameParts = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        _stepperName = string.Join(" ", nameParts.Skip(1));
        _mcuTmc = mcuTmc;
        _fields = mcuTmc.GetFields();
        string? gstatReg = _fields.LookupRegister("drv_err");
        if (gstatReg is not null)
            _gstatRegInfo = new RegInfo(0, gstatReg, 0xffffffff, 0xffffffff, 0);
        string regName = "DRV_STATUS";
        long mask = 0, errMask = 0, csActualMask = 0;
        if (nameParts[0] == "tmc2130")
        {
            _clearGstat = false;
            csActualMask = _fields.AllFields[regName]["cs_actual"];
        }
        else if (nameParts[0] == "tmc2660")
        {
            _irunField = "cs";
            regName = "READRSP@RDSEL2";
            csActualMask = _fields.AllFields[regName]["se"];
        }
        string[] errFields = ["ot", "s2ga", "s2gb", "s2vsa", "s2vsb"];
        string[] warnFields = ["otpw", "t120", "t143", "t150", "t157"];
        foreach (var f in errFields.Concat(warnFields))
        {
            if (_fields.AllFields[regName].TryGetValue(f, out long m))
            {
                mask |= m;
                if (errFields.Contains(f))
                    errMask |= m;
            }
        }
        _drvStatusRegInfo = new RegInfo(0, regName, mask, errMask, csActualMask);
        _adcTempReg = _fields.LookupRegister("adc_temp");
        if (_adcTempReg is not null)
        {
            var pheaters = _printer.LoadObject<PrinterHeaters>(config, "heaters");
            pheaters.RegisterMonitor(config);
        }
    }

    private long QueryRegister(RegInfo regInfo, bool tryClear = false)
    {
        long lastValue = regInfo.LastValue;
        long clearedFlags = 0;
        int count = 0;
        while (true)
        {
            long val;
            try
            {
                val = _mcuTmc.GetRegister(regInfo.RegName);
            }
            catch (CommandError e)
            {
                count++;
                if (count < 3 && e.Message.StartsWith("Unable to read tmc uart", StringComparison.Ordinal))
                {
                    _printer.Reactor.Pause(_printer.Reactor.Monotonic() + 0.050);
                    continue;
                }
                throw;
            }
            if ((val & regInfo.Mask) != (lastValue & regInfo.Mask))
                _printer.Log?.Invoke($"TMC '{_stepperName}' reports {_fields.PrettyFormat(regInfo.RegName, val)}");
            regInfo.LastValue = lastValue = val;
            if ((val & regInfo.ErrMask) == 0)
            {
                if (regInfo.CsActualMask == 0 || (val & regInfo.CsActualMask) != 0)
                    break;
                long irun = _fields.GetField(_irunField);
                if (_checkTimer is null || irun < 4)
                    break;
                if (_irunField == "irun" && _fields.GetField("ihold") == 0)
                    break;
                // CS_ACTUAL of zero indicates a driver reset
            }
            count++;
            if (count >= 3)
                throw new CommandError($"TMC '{_stepperName}' reports error: {_fields.PrettyFormat(regInfo.RegName, val)}");
            if (tryClear && (val & regInfo.ErrMask) != 0)
            {
                tryClear = false;
                clearedFlags |= val & regInfo.ErrMask;
                _mcuTmc.SetRegister(regInfo.RegName, val & regInfo.ErrMask);
            }
        }
        return clearedFlags;
    }

    private void QueryTemperature()
    {
        try
        {
            _adcTemp = _mcuTmc.GetRegister(_adcTempReg!);
        }
        catch (CommandError)
        {
            _adcTemp = null;
        }
    }

    private double DoPeriodicCheck(double eventtime)
    {
        try
        {
            QueryRegister(_drvStatusRegInfo);
            if (_gstatRegInfo is not null)
                QueryRegister(_gstatRegInfo);
            if (_adcTempReg is not null)
                QueryTemperature();
        }
        catch (CommandError e)
        {
            _printer.InvokeShutdown(e.Message);
            return Reactor.Never;
        }
        return eventtime + 1.0;
    }

    public void StopChecks()
    {
        if (_checkTimer is null)
            return;
        _printer.Reactor.UnregisterTimer(_checkTimer);
        _checkTimer = null;
    }

    public bool StartChecks()
    {
        if (_checkTimer is not null)
            StopChecks();
        long clearedFlags = 0;
        QueryRegister(_drvStatusRegInfo);
        if (_gstatRegInfo is not null)
            clearedFlags = QueryRegister(_gstatRegInfo, tryClear: _clearGstat);
        var reactor = _printer.Reactor;
        double curtime = reactor.Monotonic();
        _checkTimer = reactor.RegisterTimer(DoPeriodicCheck, curtime + 1.0);
        if (clearedFlags != 0)
        {
            long resetMask = _fields.AllFields["GSTAT"]["reset"];
            if ((clearedFlags & resetMask) != 0)
                return true;
        }
        return false;
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        if (_checkTimer is null)
            return new Dictionary<string, object?> { ["drv_status"] = null, ["temperature"] = null };
        double? temp = null;
        if (_adcTemp is long at)
            temp = PyFmt.Round((at - 2038) / 7.7, 2);
        long lastValue = _drvStatusRegInfo.LastValue;
        if (lastValue != _lastDrvStatus)
        {
            _lastDrvStatus = lastValue;
            var fields = _fields.GetRegFields(_drvStatusRegInfo.RegName, lastValue);
            _lastDrvFields = fields.Where(kv => kv.Value is long l && l != 0).ToDictionary(kv => kv.Key, kv => kv.Value);
        }
        return new Dictionary<string, object?> { ["drv_status"] = _lastDrvFields, ["temperature"] = temp };
    }
}

/// <summary>The run/hold current of a driver (the per-driver current helpers).</summary>
public interface ITmcCurrentHelper
{
    (double RunCurrent, double? HoldCurrent, double ReqHoldCurrent, double MaxCurrent) GetCurrent();
    void SetCurrent(double runCurrent, double holdCurrent, double printTime);
}

/// <summary>Common TMC G-Code commands, init and enable handling (upstream tmc.TMCCommandHelper).</summary>
public sealed class TmcCommandHelper : IStatusProvider
{
    public const string CmdInitTmcHelp = "Initialize TMC stepper driver registers";
    public const string CmdSetTmcFieldHelp = "Set a register field of a TMC driver";
    public const string CmdSetTmcCurrentHelp = "Set the current of a TMC driver";
    public const string CmdDumpTmcHelp = "Read and display TMC stepper driver registers";

    private readonly Printer _printer;
    private readonly string _stepperName;
    private readonly string _name;
    private readonly IMcuTmc _mcuTmc;
    private readonly ITmcCurrentHelper _currentHelper;
    private readonly TmcFieldHelper _fields;
    private McuStepper? _stepper;
    private long? _mcuPhaseOffset;
    private long? _toff;
    private readonly PrinterStepperEnable _stepperEnable;
    private readonly TmcErrorCheck _echeckHelper;
    // One enable or disable at a time per driver (their UART/SPI traffic pauses)
    private readonly ReactorMutex _enableMutex;
    private IReadOnlyList<string> _readRegisters = [];
    private Func<string, long, (string, long)>? _readTranslate;

    public TmcCommandHelper(ConfigWrapper config, IMcuTmc mcuTmc, ITmcCurrentHelper currentHelper)
    {
        _printer = config.GetPrinter();
        var nameParts = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        _stepperName = string.Join(" ", nameParts.Skip(1));
        _name = nameParts[^1];
        _mcuTmc = mcuTmc;
        _currentHelper = currentHelper;
        _fields = mcuTmc.GetFields();
        _stepperEnable = _printer.LoadObject<PrinterStepperEnable>(config, "stepper_enable");
        _enableMutex = _printer.Reactor.Mutex();
        _echeckHelper = new TmcErrorCheck(config, mcuTmc);
        TmcHelpers.MicrostepHelper(config, mcuTmc);
        _printer.RegisterEventHandler<McuStepper>("stepper:sync_mcu_position", HandleSyncMcuPos);
        _printer.RegisterEventHandler<McuStepper>("stepper:set_dir_inverted", HandleSyncMcuPos);
        _printer.RegisterEventHandler("klippy:mcu_identify", HandleMcuIdentify);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_TMC_FIELD", "STEPPER", _name, CmdSetTmcField, desc: CmdSetTmcFieldHelp);
        gcode.RegisterMuxCommand("INIT_TMC", "STEPPER", _name, CmdInitTmc, desc: CmdInitTmcHelp);
        gcode.RegisterMuxCommand("SET_TMC_CURRENT", "STEPPER", _name, CmdSetTmcCurrent, desc: CmdSetTmcCurrentHelp);
    }

    private void InitRegisters(double? printTime = null)
    {
        foreach (var regName in _fields.Registers.Keys.ToList())
        {
            long val = _fields.Registers[regName];
            _mcuTmc.SetRegister(regName, val, printTime);
        }
    }

    private void CmdInitTmc(GCodeCommand gcmd)
    {
        _printer.Log?.Invoke($"INIT_TMC {_name}");
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        InitRegisters(printTime);
    }

    private void CmdSetTmcField(GCodeCommand gcmd)
    {
        string fieldName = gcmd.Get("FIELD").ToLowerInvariant();
        string? regName = _fields.LookupRegister(fieldName);
        if (regName is null)
            throw gcmd.Error($"Unknown field name '{fieldName}'");
        int? value = gcmd.GetIntOrNull("VALUE");
        double? velocity = gcmd.GetFloatOrNull("VELOCITY", minval: 0.0);
        if ((value is null) == (velocity is null))
            throw gcmd.Error("Specify either VALUE or VELOCITY");
        long v;
        if (velocity is double vel)
        {
            if (_mcuTmc.GetTmcFrequency() is null)
                throw gcmd.Error("VELOCITY parameter not supported by this driver");
            v = TmcHelpers.TstepHelper(_mcuTmc, vel, pstepper: _stepper);
        }
        else
            v = value!.Value;
        long regVal = _fields.SetField(fieldName, v);
        double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        _mcuTmc.SetRegister(regName, regVal, printTime);
    }

    private void CmdSetTmcCurrent(GCodeCommand gcmd)
    {
        var ch = _currentHelper;
        var (prevCur, prevHoldCur, reqHoldCur, maxCur) = ch.GetCurrent();
        double? runCurrent = gcmd.GetFloatOrNull("CURRENT", minval: 0.0, maxval: maxCur);
        double? holdCurrent = gcmd.GetFloatOrNull("HOLDCURRENT", above: 0.0, maxval: maxCur);
        if (runCurrent is not null || holdCurrent is not null)
        {
            runCurrent ??= prevCur;
            holdCurrent ??= reqHoldCur;
            double printTime = _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
            ch.SetCurrent(runCurrent.Value, holdCurrent.Value, printTime);
            (prevCur, prevHoldCur, reqHoldCur, maxCur) = ch.GetCurrent();
        }
        if (prevHoldCur is null)
            gcmd.RespondInfo($"Run Current: {PyFmt.F(prevCur, 2)}A");
        else
            gcmd.RespondInfo($"Run Current: {PyFmt.F(prevCur, 2)}A Hold Current: {PyFmt.F(prevHoldCur.Value, 2)}A");
    }

    private long GetPhases() => (256L >> (int)_fields.GetField("mres")) * 4;

    public (long? McuPhaseOffset, long Phases) GetPhaseOffset() => (_mcuPhaseOffset, GetPhases());

    private long QueryPhase()
    {
        string fieldName = "mscnt";
        if (_fields.LookupRegister(fieldName) is null)
            fieldName = "mstep";
        long reg = _mcuTmc.GetRegister(_fields.LookupRegister(fieldName)!);
        return _fields.GetField(fieldName, reg);
    }

    private void HandleSyncMcuPos(McuStepper stepper)
    {
        if (stepper.GetName() != _stepperName)
            return;
        long driverPhase;
        try
        {
            driverPhase = QueryPhase();
        }
        catch (CommandError)
        {
            _printer.Log?.Invoke($"Unable to obtain tmc {_stepperName} phase");
            _mcuPhaseOffset = null;
            var enableLine = _stepperEnable.LookupEnable(_stepperName);
            if (enableLine.IsMotorEnabled())
                throw;
            return;
        }
        if (!stepper.GetDirInverted().InvertDir)
            driverPhase = 1023 - driverPhase;
        long phases = GetPhases();
        long phase = PyMod((long)((double)driverPhase / 1024 * phases + .5), phases);
        long moff = PyMod(phase - stepper.GetMcuPosition(), phases);
        if (_mcuPhaseOffset is not null && _mcuPhaseOffset != moff)
            _printer.Log?.Invoke($"Stepper {_stepperName} phase change (was {_mcuPhaseOffset} now {moff})");
        _mcuPhaseOffset = moff;
    }

    private static long PyMod(long a, long b)
    {
        long m = a % b;
        return m != 0 && (m < 0) != (b < 0) ? m + b : m;
    }

    private void DoEnable(double printTime)
    {
        if (_toff is long toff)
            _fields.SetField("toff", toff);
        InitRegisters();
        bool didReset = _echeckHelper.StartChecks();
        if (didReset)
            _mcuPhaseOffset = null;
        if (_mcuPhaseOffset is not null)
            return;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        using (gcode.GetMutex().Lock())
        {
            if (_mcuPhaseOffset is not null)
                return;
            _printer.Log?.Invoke($"Pausing toolhead to calculate {_stepperName} phase offset");
            _printer.LookupObject<ToolHead>("toolhead").WaitMoves();
            HandleSyncMcuPos(_stepper!);
        }
    }

    private void DoDisable(double printTime)
    {
        if (_toff is not null)
        {
            long val = _fields.SetField("toff", 0);
            string regName = _fields.LookupRegister("toff")!;
            _mcuTmc.SetRegister(regName, val, printTime);
        }
        _echeckHelper.StopChecks();
    }

    private void HandleStepperEnable(double printTime, bool isEnable)
    {
        _printer.Reactor.RegisterCallback(_ =>
        {
            try
            {
                using var held = _enableMutex.Lock();
                if (isEnable)
                    DoEnable(printTime);
                else
                    DoDisable(printTime);
            }
            catch (CommandError e)
            {
                _printer.InvokeShutdown(e.Message);
            }
        });
    }

    private void HandleMcuIdentify()
    {
        var forceMove = _printer.LookupObject<ForceMove>("force_move");
        _stepper = forceMove.LookupStepper(_stepperName);
        _stepper.SetupDefaultPulseDuration(.000000100, true);
    }

    private void HandleConnect()
    {
        var (_, stepBothEdge) = _stepper!.GetPulseDuration();
        if (stepBothEdge)
            _fields.SetField("dedge", 1);
        var enableLine = _stepperEnable.LookupEnable(_stepperName);
        enableLine.RegisterStateCallback(HandleStepperEnable);
        if (!enableLine.HasDedicatedEnable())
        {
            _toff = _fields.GetField("toff");
            _fields.SetField("toff", 0);
            _printer.Log?.Invoke($"Enabling TMC virtual enable for '{_stepperName}'");
        }
        try
        {
            InitRegisters();
        }
        catch (CommandError e)
        {
            _printer.Log?.Invoke($"TMC {_name} failed to init: {e.Message}");
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        double? cpos = null;
        if (_stepper is not null && _mcuPhaseOffset is long off)
            cpos = _stepper.McuToCommandedPosition(off);
        var (runCurrent, holdCurrent, _, _) = _currentHelper.GetCurrent();
        var res = new Dictionary<string, object?>
        {
            ["mcu_phase_offset"] = _mcuPhaseOffset,
            ["phase_offset_position"] = cpos,
            ["run_current"] = runCurrent,
            ["hold_current"] = holdCurrent,
        };
        foreach (var (k, v) in _echeckHelper.GetStatus(eventtime))
            res[k] = v;
        return res;
    }

    public void SetupRegisterDump(IReadOnlyList<string> readRegisters, Func<string, long, (string, long)>? readTranslate = null)
    {
        _readRegisters = readRegisters;
        _readTranslate = readTranslate;
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("DUMP_TMC", "STEPPER", _name, CmdDumpTmc, desc: CmdDumpTmcHelp);
    }

    private void CmdDumpTmc(GCodeCommand gcmd)
    {
        _printer.Log?.Invoke($"DUMP_TMC {_name}");
        string? regName = gcmd.GetOrNull("REGISTER");
        if (regName is not null)
        {
            regName = regName.ToUpperInvariant();
            bool known = _fields.Registers.TryGetValue(regName, out long val);
            if (known && !_readRegisters.Contains(regName))
            {
                gcmd.RespondInfo(_fields.PrettyFormat(regName, val));
            }
            else if (_readRegisters.Contains(regName))
            {
                val = _mcuTmc.GetRegister(regName);
                if (_readTranslate is not null)
                    (regName, val) = _readTranslate(regName, val);
                gcmd.RespondInfo(_fields.PrettyFormat(regName, val));
            }
            else
                throw gcmd.Error($"Unknown register name '{regName}'");
            return;
        }
        gcmd.RespondInfo("========== Write-only registers ==========");
        foreach (var (rn, v) in _fields.Registers.ToList())
            if (!_readRegisters.Contains(rn))
                gcmd.RespondInfo(_fields.PrettyFormat(rn, v));
        gcmd.RespondInfo("========== Queried registers ==========");
        foreach (var rn0 in _readRegisters)
        {
            string rn = rn0;
            long v = _mcuTmc.GetRegister(rn);
            if (_readTranslate is not null)
                (rn, v) = _readTranslate(rn, v);
            gcmd.RespondInfo(_fields.PrettyFormat(rn, v));
        }
    }
}

/// <summary>Sensorless homing: the tmcXXXX_NAME:virtual_endstop pin (upstream tmc.TMCVirtualPinHelper).</summary>
public sealed class TmcVirtualPinHelper : IPinChip
{
    private readonly Printer _printer;
    private readonly IMcuTmc _mcuTmc;
    private readonly TmcFieldHelper _fields;
    private readonly string? _diagPin;
    private readonly string? _diagPinField;
    private McuEndstop? _mcuEndstop;
    private readonly OrderedDictionary<string, long> _dirtyRegs = new(StringComparer.Ordinal);
    private readonly OrderedDictionary<string, long> _prevState = new(StringComparer.Ordinal);

    public TmcVirtualPinHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        _printer = config.GetPrinter();
        _mcuTmc = mcuTmc;
        _fields = mcuTmc.GetFields();
        if (_fields.LookupRegister("diag0_stall") is not null)
        {
            if (config.GetOrNull("diag0_pin") is not null)
            {
                _diagPin = config.Get("diag0_pin");
                _diagPinField = "diag0_stall";
            }
            else
            {
                _diagPin = config.GetOrNull("diag1_pin");
                _diagPinField = "diag1_stall";
            }
        }
        else
        {
            _diagPin = config.GetOrNull("diag_pin");
            _diagPinField = null;
        }
        var nameParts = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        ppins.RegisterChip($"{nameParts[0]}_{nameParts[^1]}", this);
    }

    public object SetupPin(string pinType, PinParams pinParams)
    {
        var ppins = _printer.LookupObject<PrinterPins>("pins");
        if (pinType != "endstop" || pinParams.Pin != "virtual_endstop")
            throw new PinError("tmc virtual endstop only useful as endstop");
        if (pinParams.Invert != 0 || pinParams.Pullup != 0)
            throw new PinError("Can not pullup/invert tmc virtual pin");
        if (_diagPin is null)
            throw new PinError("tmc virtual endstop requires diag pin config");
        _printer.RegisterEventHandler<HomingMove>("homing:homing_move_begin", HandleHomingMoveBegin);
        _printer.RegisterEventHandler<HomingMove>("homing:homing_move_end", HandleHomingMoveEnd);
        _mcuEndstop = ppins.SetupPin<McuEndstop>("endstop", _diagPin);
        return _mcuEndstop;
    }

    private void SetField(string fieldName, long value)
    {
        _prevState[fieldName] = _fields.GetField(fieldName);
        string regName = _fields.LookupRegister(fieldName)!;
        _dirtyRegs[regName] = _fields.SetField(fieldName, value);
    }

    private void SendFields()
    {
        foreach (var (reg, val) in _dirtyRegs)
            _mcuTmc.SetRegister(reg, val);
        _dirtyRegs.Clear();
    }

    private bool Uses(HomingMove hmove) =>
        hmove.GetMcuEndstops().Any(e => e is McuEndstopAdapter a && a.Endstop == _mcuEndstop);

    private void HandleHomingMoveBegin(HomingMove hmove)
    {
        if (!Uses(hmove))
            return;
        long sg4Thrs = 0;
        if (_fields.LookupRegister("sg4_thrs") is not null)
            sg4Thrs = _fields.GetField("sg4_thrs");
        if (_fields.LookupRegister("en_pwm_mode") is null)
        {
            // "stallguard4" drivers need stealthchop enabled
            SetField("tpwmthrs", 0);
            SetField("en_spreadcycle", 0);
        }
        else if (sg4Thrs != 0)
        {
            SetField("en_pwm_mode", 1);
            SetField("tpwmthrs", 0);
            SetField(_diagPinField!, 1);
        }
        else
        {
            SetField("en_pwm_mode", 0);
            SetField(_diagPinField!, 1);
        }
        if (_fields.GetField("tcoolthrs") == 0)
            SetField("tcoolthrs", 0xfffff);
        if (_fields.LookupRegister("thigh") is not null)
            SetField("thigh", 0);
        SendFields();
    }

    private void HandleHomingMoveEnd(HomingMove hmove)
    {
        if (!Uses(hmove))
            return;
        foreach (var (field, val) in _prevState.ToList())
            SetField(field, val);
        SendFields();
        _prevState.Clear();
    }
}

/// <summary>Config helpers shared by the TMC drivers (upstream tmc.py module functions).</summary>
public static class TmcHelpers
{
    public static void WaveTableHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        var f = mcuTmc.GetFields();
        f.SetConfigField(config, "mslut0", 0xAAAAB554);
        f.SetConfigField(config, "mslut1", 0x4A9554AA);
        f.SetConfigField(config, "mslut2", 0x24492929);
        f.SetConfigField(config, "mslut3", 0x10104222);
        f.SetConfigField(config, "mslut4", 0xFBFFFFFF);
        f.SetConfigField(config, "mslut5", 0xB5BB777D);
        f.SetConfigField(config, "mslut6", 0x49295556);
        f.SetConfigField(config, "mslut7", 0x00404222);
        f.SetConfigField(config, "w0", 2);
        f.SetConfigField(config, "w1", 1);
        f.SetConfigField(config, "w2", 1);
        f.SetConfigField(config, "w3", 1);
        f.SetConfigField(config, "x1", 128);
        f.SetConfigField(config, "x2", 255);
        f.SetConfigField(config, "x3", 255);
        f.SetConfigField(config, "start_sin", 0);
        f.SetConfigField(config, "start_sin90", 247);
    }

    public static void MicrostepHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        var fields = mcuTmc.GetFields();
        string stepperName = string.Join(" ", config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Skip(1));
        if (!config.HasSection(stepperName))
            throw config.Error($"Could not find config section '[{stepperName}]' required by tmc driver");
        var sconfig = config.GetSection(stepperName);
        var steps = new Dictionary<int, int> { [256] = 0, [128] = 1, [64] = 2, [32] = 3, [16] = 4, [8] = 5, [4] = 6, [2] = 7, [1] = 8 };
        int mres = sconfig.GetChoice("microsteps", steps);
        fields.SetField("mres", mres);
        fields.SetField("intpol", config.GetBoolean("interpolate", true));
    }

    /// <summary>TSTEP threshold for a velocity (upstream TMCtstepHelper).</summary>
    public static long TstepHelper(IMcuTmc mcuTmc, double velocity, McuStepper? pstepper = null, ConfigWrapper? config = null)
    {
        if (velocity <= 0.0)
            return 0xfffff;
        double stepDist;
        if (pstepper is not null)
            stepDist = pstepper.GetStepDist();
        else
        {
            string stepperName = string.Join(" ", config!.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Skip(1));
            var sconfig = config.GetSection(stepperName);
            var (rotationDist, stepsPerRotation) = StepperRails.ParseStepDistance(sconfig);
            stepDist = rotationDist / stepsPerRotation;
        }
        long mres = mcuTmc.GetFields().GetField("mres");
        double stepDist256 = stepDist / (1L << (int)mres);
        double tmcFreq = mcuTmc.GetTmcFrequency() ?? 0.0;
        long threshold = (long)(tmcFreq * stepDist256 / velocity + .5);
        return Math.Max(0, Math.Min(0xfffff, threshold));
    }

    public static void StealthchopHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        var fields = mcuTmc.GetFields();
        bool enPwmMode = false;
        double? velocity = config.GetFloatOrNull("stealthchop_threshold", minval: 0.0);
        long tpwmthrs = 0xfffff;
        if (velocity is double v)
        {
            enPwmMode = true;
            tpwmthrs = TstepHelper(mcuTmc, v, config: config);
        }
        fields.SetField("tpwmthrs", tpwmthrs);
        if (fields.LookupRegister("en_pwm_mode") is not null)
            fields.SetField("en_pwm_mode", enPwmMode);
        else
            fields.SetField("en_spreadcycle", !enPwmMode);
    }

    public static void VcoolthrsHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        var fields = mcuTmc.GetFields();
        double? velocity = config.GetFloatOrNull("coolstep_threshold", minval: 0.0);
        long tcoolthrs = 0;
        if (velocity is double v)
            tcoolthrs = TstepHelper(mcuTmc, v, config: config);
        fields.SetField("tcoolthrs", tcoolthrs);
    }

    public static void VhighHelper(ConfigWrapper config, IMcuTmc mcuTmc)
    {
        var fields = mcuTmc.GetFields();
        double? velocity = config.GetFloatOrNull("high_velocity_threshold", minval: 0.0);
        long thigh = 0;
        if (velocity is double v)
            thigh = TstepHelper(mcuTmc, v, config: config);
        fields.SetField("thigh", thigh);
    }
}

/// <summary>A TMC driver printer object (tmcXXXX STEPPER), as endstop_phase uses it.</summary>
public interface ITmcDriver
{
    (long? McuPhaseOffset, long Phases) GetPhaseOffset();
}
