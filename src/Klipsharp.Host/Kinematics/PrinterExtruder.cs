using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>An extruder stepper with pressure advance (upstream kinematics/extruder.py ExtruderStepper).</summary>
public sealed class ExtruderStepper : IStatusProvider
{
    public const string CmdSetPressureAdvanceHelp = "Set pressure advance parameters";
    public const string CmdSetERotationDistanceHelp = "Set extruder rotation distance";
    public const string CmdSyncExtruderMotionHelp = "Set extruder stepper motion queue";

    private readonly Printer _printer;
    private readonly double _configPa, _configSmoothTime;

    public ExtruderStepper(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        Name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _configPa = config.GetFloat("pressure_advance", 0.0, minval: 0.0);
        _configSmoothTime = config.GetFloat("pressure_advance_smooth_time", 0.040, above: 0.0, maxval: .200);
        Stepper = McuStepper.PrinterStepper(config);
        SkExtruder = new ExtruderStepperKinematics();
        Stepper.SetStepperKinematics(SkExtruder);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        if (Name == "extruder")
            gcode.RegisterMuxCommand("SET_PRESSURE_ADVANCE", "EXTRUDER", null, CmdDefaultSetPressureAdvance,
                CmdSetPressureAdvanceHelp);
        gcode.RegisterMuxCommand("SET_PRESSURE_ADVANCE", "EXTRUDER", Name, CmdSetPressureAdvance, CmdSetPressureAdvanceHelp);
        gcode.RegisterMuxCommand("SET_EXTRUDER_ROTATION_DISTANCE", "EXTRUDER", Name, CmdSetERotationDistance,
            CmdSetERotationDistanceHelp);
        gcode.RegisterMuxCommand("SYNC_EXTRUDER_MOTION", "EXTRUDER", Name, CmdSyncExtruderMotion,
            CmdSyncExtruderMotionHelp);
    }

    public string Name { get; }

    public McuStepper Stepper { get; }

    public ExtruderStepperKinematics SkExtruder { get; }

    public double PressureAdvance { get; private set; }

    public double PressureAdvanceSmoothTime { get; private set; }

    /// <summary>The extruder whose trapq drives this stepper, or null.</summary>
    public string? MotionQueue { get; private set; }

    private void HandleConnect() => SetPressureAdvance(_configPa, _configSmoothTime);

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["pressure_advance"] = PressureAdvance,
        ["smooth_time"] = PressureAdvanceSmoothTime,
        ["motion_queue"] = MotionQueue,
    };

    public double FindPastPosition(double printTime)
    {
        long mcuPos = Stepper.GetPastMcuPosition(printTime);
        return Stepper.McuToCommandedPosition(mcuPos);
    }

    /// <summary>Makes this stepper follow extruder <paramref name="extruderName"/> (null/empty: none).</summary>
    public void SyncToExtruder(string? extruderName)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        toolhead.FlushStepGeneration();
        var motionQueuing = _printer.LookupObject<MotionQueuing>("motion_queuing");
        if (string.IsNullOrEmpty(extruderName))
        {
            Stepper.SetTrapq(null);
            MotionQueue = null;
            motionQueuing.CheckStepGenerationScanWindows();
            return;
        }
        if (_printer.TryLookupObject<object>(extruderName) is not PrinterExtruder extruder)
            throw new CommandError($"'{extruderName}' is not a valid extruder.");
        Stepper.SetPosition([extruder.LastPosition, 0.0, 0.0]);
        Stepper.SetTrapq(extruder.GetTrapq());
        MotionQueue = extruderName;
        motionQueuing.CheckStepGenerationScanWindows();
    }

    private void SetPressureAdvance(double pressureAdvance, double smoothTime)
    {
        double oldSmoothTime = PressureAdvanceSmoothTime;
        if (PressureAdvance == 0.0)
            oldSmoothTime = 0.0;
        double newSmoothTime = smoothTime;
        if (pressureAdvance == 0.0)
            newSmoothTime = 0.0;
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        if (newSmoothTime != oldSmoothTime)
        {
            // A new smooth time needs a full kinematic flush
            toolhead.FlushStepGeneration();
            SkExtruder.SetPressureAdvance(0.0, pressureAdvance, newSmoothTime);
            _printer.LookupObject<MotionQueuing>("motion_queuing").CheckStepGenerationScanWindows();
        }
        else
        {
            toolhead.RegisterLookaheadCallback(printTime =>
                SkExtruder.SetPressureAdvance(printTime, pressureAdvance, newSmoothTime));
        }
        PressureAdvance = pressureAdvance;
        PressureAdvanceSmoothTime = smoothTime;
    }

    private void CmdDefaultSetPressureAdvance(GCodeCommand gcmd)
    {
        var extruder = _printer.LookupObject<ToolHead>("toolhead").GetExtruder();
        if (extruder is not PrinterExtruder pe || pe.ExtruderStepper is null)
            throw gcmd.Error("Active extruder does not have a stepper");
        var strapq = pe.ExtruderStepper.Stepper.GetTrapq();
        if (strapq != pe.GetTrapq())
            throw gcmd.Error("Unable to infer active extruder stepper");
        pe.ExtruderStepper.CmdSetPressureAdvance(gcmd);
    }

    public void CmdSetPressureAdvance(GCodeCommand gcmd)
    {
        double pressureAdvance = gcmd.GetFloat("ADVANCE", PressureAdvance, minval: 0.0);
        double smoothTime = gcmd.GetFloat("SMOOTH_TIME", PressureAdvanceSmoothTime, minval: 0.0, maxval: .200);
        SetPressureAdvance(pressureAdvance, smoothTime);
        string msg = PyPercent.Format("pressure_advance: %.6f\npressure_advance_smooth_time: %.6f",
            pressureAdvance, smoothTime);
        _printer.Log?.Invoke($"{Name}: {msg}");
        gcmd.RespondInfo(msg, log: false);
    }

    private void CmdSetERotationDistance(GCodeCommand gcmd)
    {
        double? rotationDistArg = gcmd.GetFloatOrNull("DISTANCE");
        double rotationDist;
        if (rotationDistArg is double rd)
        {
            rotationDist = rd;
            if (rotationDist == 0.0)
                throw gcmd.Error("Rotation distance can not be zero");
            var (_, origInvertDir) = Stepper.GetDirInverted();
            bool nextInvertDir = origInvertDir;
            if (rotationDist < 0.0)
            {
                nextInvertDir = !origInvertDir;
                rotationDist = -rotationDist;
            }
            var toolhead = _printer.LookupObject<ToolHead>("toolhead");
            toolhead.FlushStepGeneration();
            Stepper.SetRotationDistance(rotationDist);
            Stepper.SetDirInverted(nextInvertDir);
        }
        else
        {
            rotationDist = Stepper.GetRotationDistance().RotationDist;
        }
        var (invertDir, origInvert) = Stepper.GetDirInverted();
        if (invertDir != origInvert)
            rotationDist = -rotationDist;
        gcmd.RespondInfo(PyPercent.Format("Extruder '%s' rotation distance set to %0.6f", Name, rotationDist));
    }

    private void CmdSyncExtruderMotion(GCodeCommand gcmd)
    {
        string ename = gcmd.Get("MOTION_QUEUE");
        SyncToExtruder(ename);
        gcmd.RespondInfo($"Extruder '{Name}' now syncing with '{ename}'");
    }
}

/// <summary>A hotend: heater, extrusion limits and the extruder trapq (upstream kinematics/extruder.py PrinterExtruder).</summary>
public sealed class PrinterExtruder : IExtruder, IStatusProvider, Extras.IStatsProvider
{
    public const string CmdActivateExtruderHelp = "Change the active extruder";

    private readonly Printer _printer;
    private readonly Heater _heater;
    private readonly double _nozzleDiameter, _filamentArea, _maxExtrudeRatio;
    private readonly double _maxEVelocity, _maxEAccel, _maxEDist, _instantCornerV;
    private readonly TrapQ _trapq;

    public PrinterExtruder(ConfigWrapper config, int extruderNum)
    {
        _printer = config.GetPrinter();
        Name = config.Name;
        LastPosition = 0.0;
        var pheaters = _printer.LoadObject<PrinterHeaters>(config, "heaters");
        string gcodeId = $"T{extruderNum}";
        _heater = pheaters.SetupHeater(config, gcodeId);
        _nozzleDiameter = config.GetFloat("nozzle_diameter", above: 0.0);
        double filamentDiameter = config.GetFloat("filament_diameter", minval: _nozzleDiameter);
        _filamentArea = Math.PI * Math.Pow(filamentDiameter * .5, 2);
        double defMaxCrossSection = 4.0 * Math.Pow(_nozzleDiameter, 2);
        double defMaxExtrudeRatio = defMaxCrossSection / _filamentArea;
        double maxCrossSection = config.GetFloat("max_extrude_cross_section", defMaxCrossSection, above: 0.0);
        _maxExtrudeRatio = maxCrossSection / _filamentArea;
        _printer.Log?.Invoke(PyPercent.Format("Extruder max_extrude_ratio=%.6f", _maxExtrudeRatio));
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var (maxVelocity, maxAccel) = toolhead.GetMaxVelocity();
        _maxEVelocity = config.GetFloat("max_extrude_only_velocity", maxVelocity * defMaxExtrudeRatio, above: 0.0);
        _maxEAccel = config.GetFloat("max_extrude_only_accel", maxAccel * defMaxExtrudeRatio, above: 0.0);
        _maxEDist = config.GetFloat("max_extrude_only_distance", 50.0, minval: 0.0);
        _instantCornerV = config.GetFloat("instantaneous_corner_velocity", 1.0, minval: 0.0);
        var motionQueuing = _printer.LoadObject<MotionQueuing>(config, "motion_queuing");
        _trapq = motionQueuing.AllocateTrapq();
        if (config.GetOrNull("step_pin") is not null || config.GetOrNull("dir_pin") is not null
            || config.GetOrNull("rotation_distance") is not null)
        {
            ExtruderStepper = new ExtruderStepper(config);
            ExtruderStepper.Stepper.SetTrapq(_trapq);
        }
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        if (Name == "extruder")
        {
            toolhead.SetExtruder(this, 0.0);
            gcode.RegisterCommand("M104", CmdM104);
            gcode.RegisterCommand("M109", CmdM109);
        }
        gcode.RegisterMuxCommand("ACTIVATE_EXTRUDER", "EXTRUDER", Name, CmdActivateExtruder, CmdActivateExtruderHelp);
    }

    public string Name { get; }

    /// <summary>The extruder position at the end of the last queued move.</summary>
    public double LastPosition { get; private set; }

    public ExtruderStepper? ExtruderStepper { get; }

    public Dictionary<string, object?> GetStatus(double eventtime)
    {
        var sts = _heater.GetStatus(eventtime);
        sts["can_extrude"] = _heater.CanExtrude;
        if (ExtruderStepper is not null)
            foreach (var kv in ExtruderStepper.GetStatus(eventtime))
                sts[kv.Key] = kv.Value;
        return sts;
    }

    public string GetName() => Name;

    public Heater GetHeater() => _heater;

    public TrapQ? GetTrapq() => _trapq;

    public string? GetAxisGcodeId() => "E";

    public (bool IsActive, string Message) Stats(double eventtime) => _heater.Stats(eventtime);

    public void CheckMove(Move move, int eaIndex)
    {
        if (!_heater.CanExtrude)
            throw new CommandError("Extrude below minimum temp\nSee the 'min_extrude_temp' config option for details");
        double axisR = move.AxesR[eaIndex];
        double axisD = move.AxesD[eaIndex];
        if ((move.AxesD[0] == 0.0 && move.AxesD[1] == 0.0) || axisR < 0.0)
        {
            // Extrude-only or retract move: limit accel and velocity
            if (Math.Abs(axisD) > _maxEDist)
                throw new CommandError(PyPercent.Format(
                    "Extrude only move too long (%.3fmm vs %.3fmm)\nSee the 'max_extrude_only_distance' config option for details",
                    axisD, _maxEDist));
            double invExtrudeR = 1.0 / Math.Abs(axisR);
            move.LimitSpeed(_maxEVelocity * invExtrudeR, _maxEAccel * invExtrudeR);
        }
        else if (axisR > _maxExtrudeRatio)
        {
            if (axisD <= _nozzleDiameter * _maxExtrudeRatio)
                return; // tiny extrusions are allowed
            double area = axisR * _filamentArea;
            throw new CommandError(PyPercent.Format(
                "Move exceeds maximum extrusion (%.3fmm^2 vs %.3fmm^2)\nSee the 'max_extrude_cross_section' config option for details",
                area, _maxExtrudeRatio * _filamentArea));
        }
    }

    public double CalcJunction(Move prevMove, Move move, int eaIndex)
    {
        double diffR = move.AxesR[eaIndex] - prevMove.AxesR[eaIndex];
        if (diffR != 0.0)
            return Math.Pow(_instantCornerV / Math.Abs(diffR), 2);
        return move.MaxCruiseV2;
    }

    public void ProcessMove(double printTime, Move move, int eaIndex)
    {
        double axisR = move.AxesR[eaIndex];
        double accel = move.Accel * axisR;
        double startV = move.StartV * axisR;
        double cruiseV = move.CruiseV * axisR;
        bool canPressureAdvance = axisR > 0.0 && (move.AxesD[0] != 0.0 || move.AxesD[1] != 0.0);
        // x is the extruder position, y flags moves that may use pressure advance
        _trapq.Append(printTime, move.AccelT, move.CruiseT, move.DecelT,
            move.StartPos[eaIndex], 0.0, 0.0,
            1.0, canPressureAdvance ? 1.0 : 0.0, 0.0,
            startV, cruiseV, accel);
        LastPosition = move.EndPos[eaIndex];
    }

    public double FindPastPosition(double printTime)
    {
        if (ExtruderStepper is null)
            return 0.0;
        return ExtruderStepper.FindPastPosition(printTime);
    }

    private void CmdM104(GCodeCommand gcmd) => CmdM104(gcmd, false);

    private void CmdM104(GCodeCommand gcmd, bool wait)
    {
        double temp = gcmd.GetFloat("S", 0.0);
        int? index = gcmd.GetIntOrNull("T", minval: 0);
        IExtruder extruder;
        if (index is int idx)
        {
            string section = "extruder";
            if (idx != 0)
                section = $"extruder{idx}";
            var found = _printer.TryLookupObject<IExtruder>(section);
            if (found is null)
            {
                if (temp <= 0.0)
                    return;
                throw gcmd.Error("Extruder not configured");
            }
            extruder = found;
        }
        else
        {
            extruder = _printer.LookupObject<ToolHead>("toolhead").GetExtruder();
        }
        var pheaters = _printer.LookupObject<PrinterHeaters>("heaters");
        pheaters.SetTemperature(extruder.GetHeater(), temp, wait);
    }

    private void CmdM109(GCodeCommand gcmd) => CmdM104(gcmd, true);

    private void CmdActivateExtruder(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        if (toolhead.GetExtruder() == this)
        {
            gcmd.RespondInfo($"Extruder {Name} already active");
            return;
        }
        gcmd.RespondInfo($"Activating extruder {Name}");
        toolhead.FlushStepGeneration();
        toolhead.SetExtruder(this, LastPosition);
        _printer.SendEvent("extruder:activate_extruder");
    }

    /// <summary>Creates [extruder], [extruder1], ... in order until one is missing (upstream add_printer_objects).</summary>
    public static void AddPrinterObjects(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        for (int i = 0; i < 99; i++)
        {
            string section = "extruder";
            if (i != 0)
                section = $"extruder{i}";
            if (!config.HasSection(section))
                break;
            var pe = new PrinterExtruder(config.GetSection(section), i);
            printer.AddObject(section, pe);
        }
    }
}

/// <summary>The extruder of a printer without one: any extrusion is an error (upstream DummyExtruder).</summary>
public sealed class DummyExtruder : IExtruder
{
    private readonly Printer _printer;

    public DummyExtruder(Printer printer) => _printer = printer;

    public void CheckMove(Move move, int eaIndex) => throw move.MoveError("Extrude when no extruder present");

    public double FindPastPosition(double printTime) => 0.0;

    public double CalcJunction(Move prevMove, Move move, int eaIndex) => move.MaxCruiseV2;

    public string GetName() => "";

    public Heater GetHeater() => throw new CommandError("Extruder not configured");

    public TrapQ? GetTrapq() => null;

    public string? GetAxisGcodeId() => "E";

    public void ProcessMove(double printTime, Move move, int eaIndex) =>
        throw new InvalidOperationException("DummyExtruder cannot process moves");
}
