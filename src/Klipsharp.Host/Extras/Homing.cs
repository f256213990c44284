using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>An endstop usable in a homing or probing move (upstream's MCU_endstop duck type).</summary>
public interface IEndstop
{
    IReadOnlyList<IMcuStepper> GetSteppers();

    /// <summary>Arms the endstop at <paramref name="printTime"/>; the completion fires on trigger (result truthy on failure).</summary>
    ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime, bool triggered = true);

    /// <summary>Waits for the end of homing; returns the trigger time, or 0 if it never triggered.</summary>
    double HomeWait(double homeEndTime);
}

/// <summary>A probe acting as a Z endstop ("probe:z_virtual_endstop"); homing via it runs a probe session.</summary>
public interface IProbeEndstop : IEndstop
{
    double GetPositionEndstop();
}

/// <summary>One probe result (upstream's ProbeResult namedtuple, the fields homing needs).</summary>
public interface IProbeResult
{
    double BedZ { get; }
}

/// <summary>A running probe session (upstream probe session duck type).</summary>
public interface IProbeSession
{
    void RunProbe(GCodeCommand gcmd);
    IReadOnlyList<IProbeResult> PullProbedResults();
    void EndProbeSession();
}

/// <summary>The "probe" printer object as homing uses it.</summary>
public interface IHomingProbe
{
    IProbeSession StartProbeSession(GCodeCommand gcmd);
}

/// <summary>The "stepper_enable" object as homing uses it (motors off after a failed G28).</summary>
public interface IMotorOff
{
    void MotorOff();
}

/// <summary>The kinematics side of a homing move (the toolhead's kinematics, or a manual stepper).</summary>
public interface IHomingKinematics
{
    List<McuStepper> GetSteppers();

    /// <summary>Cartesian position from stepper positions; NaN marks an axis that cannot be determined (upstream None).</summary>
    double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions);
}

/// <summary>What a homing move drives: the toolhead, or a manual stepper acting as one (upstream duck type).</summary>
public interface IHomingToolhead
{
    void FlushStepGeneration();
    double[] GetPosition();
    void SetPosition(double[] newpos, string homingAxes = "");
    double GetLastMoveTime();
    void Dwell(double delay);
    void DripMove(double[] newpos, double speed, MotionQueuing.IDripCompletion dripCompletion);
    IHomingKinematics GetKinematics();
}

/// <summary>Wraps an <see cref="McuEndstop"/> as an <see cref="IEndstop"/>.</summary>
public sealed class McuEndstopAdapter : IEndstop
{
    public McuEndstopAdapter(IMcuEndstop endstop) => Endstop = endstop;

    public IMcuEndstop Endstop { get; }

    public IReadOnlyList<IMcuStepper> GetSteppers() => Endstop.GetSteppers();

    public ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime,
                                       bool triggered = true) =>
        Endstop.HomeStart(printTime, sampleTime, sampleCount, restTime, triggered);

    public double HomeWait(double homeEndTime) => Endstop.HomeWait(homeEndTime);

    /// <summary>The rail's endstops as <see cref="IEndstop"/>s.</summary>
    public static List<(IEndstop Endstop, string Name)> FromRail(GenericPrinterRail rail) =>
        rail.GetEndstops().Select(e => ((IEndstop)new McuEndstopAdapter(e.Endstop), e.Name)).ToList();
}

/// <summary>A completion that fires when every endstop has triggered, or any reports failure (upstream multi_complete).</summary>
public sealed class MultiCompletion : MotionQueuing.IDripCompletion
{
    private readonly Reactor _reactor;
    private readonly List<ReactorCompletion> _completions;

    public MultiCompletion(Reactor reactor, IEnumerable<ReactorCompletion> completions)
    {
        _reactor = reactor;
        _completions = completions.ToList();
    }

    public bool Test()
    {
        if (_completions.Count == 1)
            return _completions[0].IsComplete;
        bool all = true;
        foreach (var c in _completions)
        {
            if (!c.IsComplete)
            {
                all = false;
                continue;
            }
            if (IsTruthy(c.Wait()))
                return true;
        }
        return all;
    }

    public void Wait(double waketime)
    {
        if (_completions.Count == 1)
        {
            _completions[0].Wait(waketime);
            return;
        }
        while (!Test())
        {
            double now = _reactor.Monotonic();
            if (now >= waketime)
                return;
            _reactor.Pause(Math.Min(waketime, now + 0.001));
        }
    }

    private static bool IsTruthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        int i => i != 0,
        long l => l != 0,
        double d => d != 0.0,
        _ => true,
    };
}

/// <summary>Tracks one stepper's positions during a homing/probing move (upstream StepperPosition).</summary>
public sealed class StepperPosition
{
    public StepperPosition(McuStepper stepper, string endstopName)
    {
        Stepper = stepper;
        EndstopName = endstopName;
        StepperName = stepper.GetName();
        StartPos = stepper.GetMcuPosition();
        StartCmdPos = stepper.McuToCommandedPosition(StartPos);
    }

    public McuStepper Stepper { get; }
    public string EndstopName { get; }
    public string StepperName { get; }
    public long StartPos { get; }
    public double StartCmdPos { get; }
    public long HaltPos { get; private set; }
    public long TrigPos { get; private set; }

    public void NoteHomeEnd(double triggerTime)
    {
        HaltPos = Stepper.GetMcuPosition();
        TrigPos = Stepper.GetPastMcuPosition(triggerTime);
    }

    public void VerifyNoProbeSkew(IReadOnlyList<double> haltpos, Action<string>? log)
    {
        long newStartPos = Stepper.GetMcuPosition(StartCmdPos);
        if (newStartPos != StartPos)
            log?.Invoke($"Stepper '{Stepper.GetName()}' position skew after probe: pos {StartPos} now {newStartPos}");
    }
}

/// <summary>One homing or probing move (upstream HomingMove).</summary>
public sealed class HomingMove
{
    public const double HomingStartDelay = 0.001;
    public const double EndstopSampleTime = .000015;
    public const int EndstopSampleCount = 4;

    private readonly Printer _printer;
    private readonly List<(IEndstop Endstop, string Name)> _endstops;
    private readonly IHomingToolhead _toolhead;

    public HomingMove(Printer printer, IEnumerable<(IEndstop Endstop, string Name)> endstops, IHomingToolhead? toolhead = null)
    {
        _printer = printer;
        _endstops = endstops.Where(es => es.Endstop.GetSteppers().Count > 0).ToList();
        _toolhead = toolhead ?? printer.LookupObject<ToolHead>("toolhead");
    }

    public List<StepperPosition> StepperPositions { get; private set; } = new();

    public List<IEndstop> GetMcuEndstops() => _endstops.Select(e => e.Endstop).ToList();

    private double CalcEndstopRate(IEndstop mcuEndstop, IReadOnlyList<double> movepos, double speed)
    {
        var startpos = _toolhead.GetPosition();
        int n = Math.Min(movepos.Count, startpos.Length);
        var axesD = new double[n];
        for (int i = 0; i < n; i++)
            axesD[i] = movepos[i] - startpos[i];
        double moveD = Math.Sqrt(0.0 + axesD[0] * axesD[0] + axesD[1] * axesD[1] + axesD[2] * axesD[2]);
        double moveT = moveD / speed;
        var mp = movepos.ToArray();
        double maxSteps = double.NaN;
        foreach (var s in mcuEndstop.GetSteppers().Cast<McuStepper>())
        {
            double steps = Math.Abs(s.CalcPositionFromCoord(startpos) - s.CalcPositionFromCoord(mp)) / s.GetStepDist();
            if (double.IsNaN(maxSteps) || steps > maxSteps)
                maxSteps = steps;
        }
        if (maxSteps <= 0.0)
            return .001;
        return moveT / maxSteps;
    }

    /// <summary>The toolhead position given stepper positions plus step offsets (upstream calc_toolhead_pos).</summary>
    public double[] CalcToolheadPos(IReadOnlyDictionary<string, double> kinSpos, IReadOnlyDictionary<string, long> offsets)
    {
        var spos = new Dictionary<string, double>(kinSpos);
        var kin = _toolhead.GetKinematics();
        foreach (var stepper in kin.GetSteppers())
        {
            string sname = stepper.GetName();
            spos[sname] += offsets.GetValueOrDefault(sname, 0) * stepper.GetStepDist();
        }
        var thpos = _toolhead.GetPosition();
        var cpos = kin.CalcPosition(spos);
        var res = thpos.ToArray();
        for (int i = 0; i < Math.Min(3, cpos.Length); i++)
            res[i] = double.IsNaN(cpos[i]) ? thpos[i] : cpos[i];
        return res;
    }

    /// <summary>Moves toward <paramref name="movepos"/> until the endstops trigger; returns the trigger position.</summary>
    public double[] DoHomingMove(IReadOnlyList<double> movepos, double speed, bool probePos = false,
                                 bool triggered = true, bool checkTriggered = true)
    {
        _printer.SendEvent("homing:homing_move_begin", this);
        // Note the start location
        _toolhead.FlushStepGeneration();
        var kin = _toolhead.GetKinematics();
        var kinSpos = new Dictionary<string, double>();
        foreach (var s in kin.GetSteppers())
            kinSpos[s.GetName()] = s.GetCommandedPosition();
        StepperPositions = _endstops
            .SelectMany(es => es.Endstop.GetSteppers().Select(s => new StepperPosition((McuStepper)s, es.Name)))
            .ToList();
        // Arm the endstops
        double printTime = _toolhead.GetLastMoveTime();
        var endstopTriggers = new List<ReactorCompletion>();
        foreach (var (mcuEndstop, _) in _endstops)
        {
            double restTime = CalcEndstopRate(mcuEndstop, movepos, speed);
            var wait = mcuEndstop.HomeStart(printTime, EndstopSampleTime, EndstopSampleCount, restTime, triggered);
            endstopTriggers.Add(wait);
        }
        var allEndstopTrigger = new MultiCompletion(_printer.Reactor, endstopTriggers);
        _toolhead.Dwell(HomingStartDelay);
        // Issue the move
        string? error = null;
        try
        {
            _toolhead.DripMove(movepos.ToArray(), speed, allEndstopTrigger);
        }
        catch (CommandError e) when (e is not McuError)
        {
            error = $"Error during homing move: {e.Message}";
        }
        // Wait for the endstops
        var triggerTimes = new Dictionary<string, double>();
        double moveEndPrintTime = _toolhead.GetLastMoveTime();
        foreach (var (mcuEndstop, name) in _endstops)
        {
            double triggerTime;
            try
            {
                triggerTime = mcuEndstop.HomeWait(moveEndPrintTime);
            }
            catch (CommandError e) when (e is not McuError)
            {
                error ??= $"Error during homing {name}: {e.Message}";
                continue;
            }
            if (triggerTime > 0.0)
                triggerTimes[name] = triggerTime;
            else if (checkTriggered && error is null)
                error = $"No trigger on {name} after full movement";
        }
        // Stepper halt positions
        _toolhead.FlushStepGeneration();
        foreach (var sp in StepperPositions)
        {
            double tt = triggerTimes.GetValueOrDefault(sp.EndstopName, moveEndPrintTime);
            sp.NoteHomeEnd(tt);
        }
        double[] haltpos, trigpos;
        if (probePos)
        {
            var haltSteps = new Dictionary<string, long>();
            var trigSteps = new Dictionary<string, long>();
            foreach (var sp in StepperPositions)
            {
                haltSteps[sp.StepperName] = sp.HaltPos - sp.StartPos;
                trigSteps[sp.StepperName] = sp.TrigPos - sp.StartPos;
            }
            haltpos = trigpos = CalcToolheadPos(kinSpos, trigSteps);
            if (!DictEqual(trigSteps, haltSteps))
                haltpos = CalcToolheadPos(kinSpos, haltSteps);
            _toolhead.SetPosition(haltpos);
            foreach (var sp in StepperPositions)
                sp.VerifyNoProbeSkew(haltpos, _printer.Log);
        }
        else
        {
            haltpos = trigpos = movepos.ToArray();
            var overSteps = new Dictionary<string, long>();
            foreach (var sp in StepperPositions)
                overSteps[sp.StepperName] = sp.HaltPos - sp.TrigPos;
            if (overSteps.Values.Any(v => v != 0))
            {
                _toolhead.SetPosition(movepos.ToArray());
                var haltKinSpos = new Dictionary<string, double>();
                foreach (var s in kin.GetSteppers())
                    haltKinSpos[s.GetName()] = s.GetCommandedPosition();
                haltpos = CalcToolheadPos(haltKinSpos, overSteps);
            }
            _toolhead.SetPosition(haltpos);
        }
        // Homing/probing move done
        try
        {
            _printer.SendEvent("homing:homing_move_end", this);
        }
        catch (CommandError e) when (e is not McuError)
        {
            error ??= e.Message;
        }
        if (error is not null)
            throw new CommandError(error);
        return trigpos;
    }

    private static bool DictEqual(Dictionary<string, long> a, Dictionary<string, long> b)
    {
        if (a.Count != b.Count)
            return false;
        foreach (var kv in a)
            if (!b.TryGetValue(kv.Key, out var v) || v != kv.Value)
                return false;
        return true;
    }

    /// <summary>The endstop whose steppers did not move (never in batch mode), or null.</summary>
    public string? CheckNoMovement()
    {
        if (_printer.StartArgs.DebugInput is not null)
            return null;
        foreach (var sp in StepperPositions)
            if (sp.StartPos == sp.TrigPos)
                return sp.EndstopName;
        return null;
    }
}

/// <summary>The state of one G28 request (upstream Homing), passed to the kinematics' Home().</summary>
public sealed class Homing
{
    private readonly Printer _printer;
    private readonly ToolHead _toolhead;
    private List<int> _changedAxes = new();
    private Dictionary<string, long> _triggerMcuPos = new();
    private Dictionary<string, double> _adjustPos = new();

    public Homing(Printer printer)
    {
        _printer = printer;
        _toolhead = printer.LookupObject<ToolHead>("toolhead");
    }

    public void SetAxes(IEnumerable<int> axes) => _changedAxes = axes.ToList();

    public List<int> GetAxes() => _changedAxes;

    public long GetTriggerPosition(string stepperName) => _triggerMcuPos[stepperName];

    public void SetStepperAdjustment(string stepperName, double adjustment) => _adjustPos[stepperName] = adjustment;

    // Fills null entries with the current toolhead position
    private double[] FillCoord(IReadOnlyList<double?> coord)
    {
        var thcoord = _toolhead.GetPosition();
        for (int i = 0; i < coord.Count; i++)
            if (coord[i] is double v)
                thcoord[i] = v;
        return thcoord;
    }

    public void SetHomedPosition(IReadOnlyList<double?> pos) => _toolhead.SetPosition(FillCoord(pos));

    private void SetStartPosition(IReadOnlyList<double?> forcepos)
    {
        string homingAxes = string.Concat(Enumerable.Range(0, 3).Where(a => forcepos[a] is not null).Select(a => "xyz"[a]));
        var startpos = FillCoord(forcepos);
        _toolhead.SetPosition(startpos, homingAxes);
    }

    private double[] RetractMove(HomingInfo homingInfo, IReadOnlyList<double?> forcepos, IReadOnlyList<double?> movepos)
    {
        var startpos = FillCoord(forcepos);
        var homepos = FillCoord(movepos);
        int n = Math.Min(homepos.Length, startpos.Length);
        var axesD = new double[n];
        for (int i = 0; i < n; i++)
            axesD[i] = homepos[i] - startpos[i];
        double moveD = Math.Sqrt(0.0 + axesD[0] * axesD[0] + axesD[1] * axesD[1] + axesD[2] * axesD[2]);
        double retractR = Move.PyMin(1.0, homingInfo.RetractDist / moveD);
        var retractpos = new double[n];
        for (int i = 0; i < n; i++)
            retractpos[i] = homepos[i] - axesD[i] * retractR;
        _toolhead.Move(retractpos, homingInfo.RetractSpeed);
        // Force a new kinematic position
        var newStart = new double[n];
        for (int i = 0; i < n; i++)
            newStart[i] = retractpos[i] - axesD[i] * retractR;
        _toolhead.SetPosition(newStart);
        return homepos;
    }

    private void DoHomeRails(List<GenericPrinterRail> rails, IReadOnlyList<double?> forcepos, IReadOnlyList<double?> movepos)
    {
        _printer.SendEvent("homing:home_rails_begin", this, rails);
        // Make the kinematics believe the toolhead is at forcepos
        var homepos = FillCoord(movepos);
        SetStartPosition(forcepos);
        // First home
        var endstops = rails.SelectMany(McuEndstopAdapter.FromRail).ToList();
        var homingInfo = rails[0].GetHomingInfo();
        var hmove = new HomingMove(_printer, endstops);
        hmove.DoHomingMove(homepos, homingInfo.Speed);
        // Second home
        if (homingInfo.RetractDist != 0.0)
        {
            homepos = RetractMove(homingInfo, forcepos, movepos);
            hmove = new HomingMove(_printer, endstops);
            hmove.DoHomingMove(homepos, homingInfo.SecondHomingSpeed);
            if (hmove.CheckNoMovement() is not null)
                throw new CommandError($"Endstop {hmove.CheckNoMovement()} still triggered after retract");
        }
        // Homing done
        _toolhead.FlushStepGeneration();
        _triggerMcuPos = new Dictionary<string, long>();
        foreach (var sp in hmove.StepperPositions)
            _triggerMcuPos[sp.StepperName] = sp.TrigPos;
        _adjustPos = new Dictionary<string, double>();
        _printer.SendEvent("homing:home_rails_end", this, rails);
        if (_adjustPos.Values.Any(v => v != 0.0))
        {
            // Apply homing offsets
            var kin = _toolhead.GetKinematics();
            var hp = _toolhead.GetPosition();
            var kinSpos = new Dictionary<string, double>();
            foreach (var s in kin.GetSteppers())
                kinSpos[s.GetName()] = s.GetCommandedPosition() + _adjustPos.GetValueOrDefault(s.GetName(), 0.0);
            var newpos = kin.CalcPosition(kinSpos);
            for (int axis = 0; axis < 3; axis++)
            {
                if (forcepos[axis] is null)
                    continue;
                if (axis >= newpos.Length || double.IsNaN(newpos[axis]))
                    throw new CommandError($"Cannot determine position of toolhead on axis {"xyz"[axis]} after homing");
                hp[axis] = newpos[axis];
            }
            _toolhead.SetPosition(hp);
        }
    }

    private GCodeCommand CreateProbeGcmd(int attemptNum, double probeSpeed)
    {
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        var parameters = new Dictionary<string, string>
        {
            ["HOME_ATTEMPT_NUM"] = attemptNum.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SAMPLES"] = "1",
            ["PROBE_SPEED"] = PyFormat.Str(probeSpeed),
        };
        return gcode.CreateGCodeCommand("G28", "", parameters);
    }

    private void ProbingHome(IProbeSession probeSession, int attemptNum, double probeSpeed)
    {
        var gcmd = CreateProbeGcmd(attemptNum, probeSpeed);
        probeSession.RunProbe(gcmd);
        var ppos = probeSession.PullProbedResults()[0];
        var curpos = _toolhead.GetPosition();
        curpos[2] -= ppos.BedZ;
        _toolhead.SetPosition(curpos);
    }

    private void DoHomeZViaProbe(List<GenericPrinterRail> rails, IReadOnlyList<double?> forcepos, IReadOnlyList<double?> movepos)
    {
        if (movepos[0] is not null || movepos[1] is not null)
            throw new CommandError("Can only home Z with probe:z_virtual_endstop");
        var homingInfo = rails[0].GetHomingInfo();
        var probe = _printer.LookupObject<IHomingProbe>("probe");
        var gcmd = CreateProbeGcmd(1, homingInfo.Speed);
        var probeSession = probe.StartProbeSession(gcmd);
        SetStartPosition(forcepos);
        ProbingHome(probeSession, 1, homingInfo.Speed);
        if (homingInfo.RetractDist != 0.0)
        {
            RetractMove(homingInfo, forcepos, movepos);
            ProbingHome(probeSession, 2, homingInfo.SecondHomingSpeed);
        }
        probeSession.EndProbeSession();
    }

    /// <summary>
    /// Homes <paramref name="rails"/>: the toolhead is assumed at <paramref name="forcepos"/>
    /// and moves toward <paramref name="movepos"/> (null entries keep the current position).
    /// </summary>
    public void HomeRails(IEnumerable<GenericPrinterRail> rails, IReadOnlyList<double?> forcepos, IReadOnlyList<double?> movepos)
    {
        var railList = rails.ToList();
        // Z homing through a probe?
        var endstops = railList.SelectMany(r => r.GetEndstops()).ToList();
        var probeEndstops = endstops.Select(e => e.Endstop is IPositionEndstop or IProbeEndstop).ToList();
        if (probeEndstops.Count == 1 && probeEndstops[0])
        {
            DoHomeZViaProbe(railList, forcepos, movepos);
            return;
        }
        if (probeEndstops.Any(p => p))
            throw new CommandError("Can't home to mix of probe:z_virtual_endstop rails");
        DoHomeRails(railList, forcepos, movepos);
    }
}

/// <summary>The G28 command and homing/probing entry points (upstream PrinterHoming, printer object "homing").</summary>
public sealed class PrinterHoming
{
    private readonly Printer _printer;

    public PrinterHoming(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("G28", CmdG28);
    }

    public double[] ManualHome(IHomingToolhead toolhead, IEnumerable<(IEndstop Endstop, string Name)> endstops,
                               IReadOnlyList<double> pos, double speed, bool probePos, bool triggered, bool checkTriggered)
    {
        var hmove = new HomingMove(_printer, endstops, toolhead);
        try
        {
            return hmove.DoHomingMove(pos, speed, probePos, triggered, checkTriggered);
        }
        catch (CommandError e) when (e is not McuError)
        {
            if (_printer.IsShutdown)
                throw new CommandError("Homing failed due to printer shutdown");
            throw;
        }
    }

    public bool CheckProbeFirstHome(GCodeCommand gcmd) =>
        gcmd.GetCommand() == "G28" && gcmd.GetOrNull("HOME_ATTEMPT_NUM") == "1";

    public double[] ProbingMove(IEndstop mcuProbe, IReadOnlyList<double> pos, double speed, bool checkMovement = true)
    {
        var hmove = new HomingMove(_printer, [(mcuProbe, "probe")]);
        double[] epos;
        try
        {
            epos = hmove.DoHomingMove(pos, speed, probePos: true);
        }
        catch (CommandError e) when (e is not McuError)
        {
            if (_printer.IsShutdown)
                throw new CommandError("Probing failed due to printer shutdown");
            throw;
        }
        if (checkMovement && hmove.CheckNoMovement() is not null)
            throw new CommandError("Probe triggered prior to movement");
        return epos;
    }

    private void CmdG28(GCodeCommand gcmd)
    {
        var axes = new List<int>();
        for (int pos = 0; pos < 3; pos++)
            if (gcmd.GetOrNull("XYZ"[pos].ToString()) is not null)
                axes.Add(pos);
        if (axes.Count == 0)
            axes = [0, 1, 2];
        var homingState = new Homing(_printer);
        homingState.SetAxes(axes);
        var kin = _printer.LookupObject<ToolHead>("toolhead").GetKinematics();
        try
        {
            kin.Home(homingState);
        }
        catch (CommandError e) when (e is not McuError)
        {
            if (_printer.IsShutdown)
                throw new CommandError("Homing failed due to printer shutdown");
            _printer.TryLookupObject<IMotorOff>("stepper_enable")?.MotorOff();
            throw;
        }
    }
}
