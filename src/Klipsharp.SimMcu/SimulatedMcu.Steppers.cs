namespace Klipsharp.SimMcu;

/// <summary>One step taken by a simulated stepper: its clock and the direction pin level.</summary>
public readonly record struct StepEvent(long Clock, int Dir);

public sealed partial class SimulatedMcu
{
    private const uint PositionBias = 0x40000000;

    // Stepper flags (stepper.c).
    private const byte SF_LAST_DIR = 1 << 0;
    private const byte SF_NEXT_DIR = 1 << 1;
    private const byte SF_INVERT_STEP = 1 << 2;
    private const byte SF_NEED_RESET = 1 << 3;
    private const byte SF_SINGLE_SCHED = 1 << 4;

    // Endstop flags (endstop.c).
    private const byte ESF_PIN_HIGH = 1 << 0;
    private const byte ESF_HOMING = 1 << 1;

    // Trsync flags (trsync.c).
    private const byte TSF_CAN_TRIGGER = 1 << 0;
    private const byte TSF_REPORT = 1 << 2;

    private readonly Dictionary<byte, Stepper> _stepperByOid = new();

    private sealed class TrsyncSignal
    {
        public Action<byte>? Func;
    }

    private readonly record struct StepperMove(uint Interval, short Add, ushort Count, bool DirChange);

    private sealed class Stepper
    {
        public byte Oid;
        public readonly SimTimer Time = new();
        public uint Interval;
        public short Add;
        public uint Count;
        public uint NextStepTime;
        public uint StepPulseTicks;
        public int StepPin;
        public int DirPin;
        public int StepLevel;
        public int DirLevel;
        public uint Position;
        public readonly Queue<StepperMove> Mq = new();
        public readonly TrsyncSignal StopSignal = new();
        public byte Flags;
        public AxisState? Axis;
        public List<StepEvent>? Log;
        public long StepCount;
    }

    private sealed class Endstop
    {
        public readonly SimTimer Time = new();
        public int Pin;
        public bool PullUp;
        public uint RestTime;
        public uint SampleTime;
        public uint NextWake;
        public Trsync? Ts;
        public byte Flags;
        public byte SampleCount;
        public byte TriggerCount;
        public byte TriggerReason;
    }

    private sealed class Trsync
    {
        public readonly SimTimer ReportTime = new();
        public readonly SimTimer ExpireTime = new();
        public uint ReportTicks;
        public readonly List<TrsyncSignal> Signals = new();
        public byte Flags;
        public byte TriggerReason;
        public byte ExpireReason;
    }

    private static bool TimerIsBefore(uint a, uint b) => (int)(a - b) < 0;

    private uint TimerFromUs(uint us) => (uint)(Board.ClockFreq / 1000000 * us);

    private void BuildStepperCommands()
    {
        _table.AddCommand("config_stepper oid=%c step_pin=%c dir_pin=%c invert_step=%c step_pulse_ticks=%u", a =>
        {
            var s = OidAlloc(a.Byte(0), new Stepper { Oid = a.Byte(0) });
            sbyte invertStep = (sbyte)a.Byte(3);
            if (invertStep > 0)
                s.Flags = SF_INVERT_STEP;
            else if (invertStep < 0)
                s.Flags = SF_SINGLE_SCHED;
            s.StepPin = a.Byte(1);
            s.DirPin = a.Byte(2);
            s.StepLevel = (s.Flags & SF_INVERT_STEP) != 0 ? 1 : 0;
            s.DirLevel = 0;
            SetOutputLevel(s.StepPin, s.StepLevel);
            SetOutputLevel(s.DirPin, 0);
            s.Position = unchecked(0u - PositionBias);
            s.StepPulseTicks = a[4];
            MoveQueueSetup();
            s.Time.Func = _ => StepperEvent(s);
            s.Log = RecordSteps ? new List<StepEvent>() : null;
            _stepperByOid[s.Oid] = s;
            AttachStepperToAxis(s);
        });
        _table.AddCommand("queue_step oid=%c interval=%u count=%hu add=%hi", a =>
        {
            var s = OidLookup<Stepper>(a.Byte(0));
            MoveAlloc();
            ushort count = (ushort)a[2];
            if (count == 0)
                Shutdown("Invalid count parameter");
            var flags = s.Flags;
            bool dirChange = false;
            if (((flags & SF_LAST_DIR) != 0) != ((flags & SF_NEXT_DIR) != 0))
            {
                flags ^= SF_LAST_DIR;
                dirChange = true;
            }
            var m = new StepperMove(a[1], (short)a[3], count, dirChange);
            if (s.Count != 0)
            {
                s.Flags = flags;
                s.Mq.Enqueue(m);
            }
            else if ((flags & SF_NEED_RESET) != 0)
            {
                MoveFree();
            }
            else
            {
                s.Flags = flags;
                s.Mq.Enqueue(m);
                StepperLoadNext(s);
                AddTimer(s.Time);
            }
        });
        _table.AddCommand("set_next_step_dir oid=%c dir=%c", a =>
        {
            var s = OidLookup<Stepper>(a.Byte(0));
            byte nextDir = a.Byte(1) != 0 ? SF_NEXT_DIR : (byte)0;
            s.Flags = (byte)((s.Flags & ~SF_NEXT_DIR) | nextDir);
        });
        _table.AddCommand("reset_step_clock oid=%c clock=%u", a =>
        {
            var s = OidLookup<Stepper>(a.Byte(0));
            if (s.Count != 0)
                Shutdown("Can't reset time when stepper active");
            s.NextStepTime = s.Time.WakeTime = a[1];
            s.Flags = (byte)(s.Flags & ~SF_NEED_RESET);
        });
        _table.AddCommand("stepper_get_position oid=%c", a =>
        {
            byte oid = a.Byte(0);
            var s = OidLookup<Stepper>(oid);
            Sendf("stepper_position", oid, (int)(StepperGetPosition(s) - PositionBias));
        });
        _table.AddCommand("stepper_stop_on_trigger oid=%c trsync_oid=%c", a =>
        {
            var s = OidLookup<Stepper>(a.Byte(0));
            var ts = OidLookup<Trsync>(a.Byte(1));
            TrsyncAddSignal(ts, s.StopSignal, reason => StepperStop(s));
        });

        _table.AddCommand("endstop_home oid=%c clock=%u sample_ticks=%u sample_count=%c rest_ticks=%u pin_value=%c trsync_oid=%c trigger_reason=%c", a =>
        {
            var e = OidLookup<Endstop>(a.Byte(0));
            DelTimer(e.Time);
            e.Time.WakeTime = a[1];
            e.SampleTime = a[2];
            e.SampleCount = a.Byte(3);
            if (e.SampleCount == 0)
            {
                e.Ts = null;
                e.Flags = 0;
                return;
            }
            e.RestTime = a[4];
            e.Time.Func = _ => EndstopEvent(e);
            e.TriggerCount = e.SampleCount;
            e.Flags = (byte)(ESF_HOMING | (a.Byte(5) != 0 ? ESF_PIN_HIGH : 0));
            e.Ts = OidLookup<Trsync>(a.Byte(6));
            e.TriggerReason = a.Byte(7);
            AddTimer(e.Time);
        });
        _table.AddCommand("endstop_query_state oid=%c", a =>
        {
            byte oid = a.Byte(0);
            var e = OidLookup<Endstop>(oid);
            Sendf("endstop_state", oid, (e.Flags & ESF_HOMING) != 0 ? 1 : 0, e.NextWake, ReadInputPin(e.Pin, e.PullUp));
        });
        _table.AddCommand("config_endstop oid=%c pin=%c pull_up=%c", a =>
        {
            var e = OidAlloc(a.Byte(0), new Endstop());
            e.Pin = a.Byte(1);
            e.PullUp = a.Byte(2) != 0;
        });

        _table.AddCommand("trsync_trigger oid=%c reason=%c", a =>
        {
            byte oid = a.Byte(0);
            var ts = OidLookup<Trsync>(oid);
            TrsyncDoTrigger(ts, a.Byte(1));
            DelTimer(ts.ReportTime);
            DelTimer(ts.ExpireTime);
            ts.Flags = 0;
            Sendf("trsync_state", oid, 0, ts.TriggerReason, 0u);
        });
        _table.AddCommand("trsync_set_timeout oid=%c clock=%u", a =>
        {
            var ts = OidLookup<Trsync>(a.Byte(0));
            if ((ts.Flags & TSF_CAN_TRIGGER) != 0)
            {
                DelTimer(ts.ExpireTime);
                ts.ExpireTime.WakeTime = a[1];
                AddTimer(ts.ExpireTime);
            }
        });
        _table.AddCommand("trsync_start oid=%c report_clock=%u report_ticks=%u expire_reason=%c", a =>
        {
            var ts = OidLookup<Trsync>(a.Byte(0));
            TrsyncClear(ts);
            ts.Flags = TSF_CAN_TRIGGER;
            ts.ReportTime.WakeTime = a[1];
            ts.ReportTicks = a[2];
            if (ts.ReportTicks != 0)
                AddTimer(ts.ReportTime);
            ts.ExpireReason = a.Byte(3);
        });
        _table.AddCommand("config_trsync oid=%c", a =>
        {
            var ts = OidAlloc(a.Byte(0), new Trsync());
            ts.ReportTime.Func = t =>
            {
                ts.Flags |= TSF_REPORT;
                _tasksWoken = true;
                t.WakeTime += ts.ReportTicks;
                return TimerResult.Reschedule;
            };
            ts.ExpireTime.Func = _ =>
            {
                TrsyncDoTrigger(ts, ts.ExpireReason);
                return TimerResult.Done;
            };
        });

        _table.AddResponse("stepper_position oid=%c pos=%i");
        _table.AddResponse("endstop_state oid=%c homing=%c next_clock=%u pin_value=%c");
        _table.AddResponse("trsync_state oid=%c can_trigger=%c trigger_reason=%c clock=%u");
    }

    // ------------------------------------------------------------------
    // Stepper (stepper.c, the generic "full" event path)

    private TimerResult StepperLoadNext(Stepper s)
    {
        if (s.Mq.Count == 0)
        {
            s.Count = 0;
            return TimerResult.Done;
        }
        var m = s.Mq.Dequeue();
        MoveFree();
        s.Position = (m.DirChange ? 0u - s.Position : s.Position) + m.Count;
        s.Add = m.Add;
        s.Interval = m.Interval + (uint)m.Add;
        bool wasActive = s.Count != 0;
        uint minNextTime = s.Time.WakeTime;
        s.NextStepTime += m.Interval;
        s.Time.WakeTime = s.NextStepTime;
        s.Count = (s.Flags & SF_SINGLE_SCHED) != 0 ? m.Count : (uint)m.Count * 2;
        if (wasActive && TimerIsBefore(s.NextStepTime, minNextTime))
        {
            int diff = (int)(s.NextStepTime - minNextTime);
            if (diff < -(int)TimerFromUs(1000))
                Shutdown("Stepper too far in past");
            s.Time.WakeTime = minNextTime;
        }
        if (wasActive && m.DirChange)
        {
            ToggleDir(s);
            uint curtime = Clock.Now32;
            minNextTime = curtime + s.StepPulseTicks;
            if (TimerIsBefore(s.Time.WakeTime, minNextTime))
                s.Time.WakeTime = minNextTime;
            return TimerResult.Reschedule;
        }
        if (m.DirChange)
            ToggleDir(s);
        return TimerResult.Reschedule;
    }

    private void ToggleDir(Stepper s)
    {
        s.DirLevel ^= 1;
        SetOutputLevel(s.DirPin, s.DirLevel);
    }

    private void ToggleStep(Stepper s)
    {
        s.StepLevel ^= 1;
        int idle = (s.Flags & SF_INVERT_STEP) != 0 ? 1 : 0;
        if ((s.Flags & SF_SINGLE_SCHED) != 0 || s.StepLevel != idle)
        {
            s.StepCount++;
            s.Log?.Add(new StepEvent(Clock.Now64, s.DirLevel));
        }
    }

    private TimerResult StepperEvent(Stepper s)
    {
        ToggleStep(s);
        uint curtime = Clock.Now32;
        uint minNextTime = curtime + s.StepPulseTicks;
        uint count = s.Count - 1;
        if ((count & 1) != 0 && (s.Flags & SF_SINGLE_SCHED) == 0)
        {
            s.Count = count;
            s.Time.WakeTime = minNextTime;
            return TimerResult.Reschedule;
        }
        if (count != 0)
        {
            s.NextStepTime += s.Interval;
            s.Interval += (uint)s.Add;
            if (TimerIsBefore(s.NextStepTime, minNextTime))
            {
                s.Count = count;
                s.Time.WakeTime = minNextTime;
                return TimerResult.Reschedule;
            }
            s.Count = count;
            s.Time.WakeTime = s.NextStepTime;
            return TimerResult.Reschedule;
        }
        s.Time.WakeTime = minNextTime;
        return StepperLoadNext(s);
    }

    private static uint StepperGetPosition(Stepper s)
    {
        uint position = s.Position;
        if ((s.Flags & SF_SINGLE_SCHED) != 0)
            position -= s.Count;
        else
            position -= s.Count / 2;
        if ((position & 0x80000000) != 0)
            return 0u - position;
        return position;
    }

    private void StepperStop(Stepper s)
    {
        DelTimer(s.Time);
        s.NextStepTime = s.Time.WakeTime = 0;
        s.Position = 0u - StepperGetPosition(s);
        s.Count = 0;
        s.Flags = (byte)((s.Flags & (SF_INVERT_STEP | SF_SINGLE_SCHED)) | SF_NEED_RESET);
        s.DirLevel = 0;
        SetOutputLevel(s.DirPin, 0);
        if ((s.Flags & SF_SINGLE_SCHED) == 0)
        {
            s.StepLevel = (s.Flags & SF_INVERT_STEP) != 0 ? 1 : 0;
            SetOutputLevel(s.StepPin, s.StepLevel);
        }
        while (s.Mq.Count > 0)
        {
            s.Mq.Dequeue();
            MoveFree();
        }
    }

    private void StepperShutdown()
    {
        foreach (var (_, s) in Objects<Stepper>())
        {
            // The move pool is reset as a whole after the shutdown handlers.
            s.Mq.Clear();
            StepperStop(s);
        }
    }

    // ------------------------------------------------------------------
    // Endstop (endstop.c)

    private TimerResult EndstopEvent(Endstop e)
    {
        int val = ReadInputPin(e.Pin, e.PullUp);
        uint nextwake = e.Time.WakeTime + e.RestTime;
        if (((val != 0 ? ~e.Flags : e.Flags) & ESF_PIN_HIGH) != 0)
        {
            e.Time.WakeTime = nextwake;
            return TimerResult.Reschedule;
        }
        e.NextWake = nextwake;
        e.Time.Func = _ => EndstopOversampleEvent(e);
        return EndstopOversampleEvent(e);
    }

    private TimerResult EndstopOversampleEvent(Endstop e)
    {
        int val = ReadInputPin(e.Pin, e.PullUp);
        if (((val != 0 ? ~e.Flags : e.Flags) & ESF_PIN_HIGH) != 0)
        {
            e.Time.Func = _ => EndstopEvent(e);
            e.Time.WakeTime = e.NextWake;
            e.TriggerCount = e.SampleCount;
            return TimerResult.Reschedule;
        }
        byte count = (byte)(e.TriggerCount - 1);
        if (count == 0)
        {
            TrsyncDoTrigger(e.Ts!, e.TriggerReason);
            return TimerResult.Done;
        }
        e.TriggerCount = count;
        e.Time.WakeTime += e.SampleTime;
        return TimerResult.Reschedule;
    }

    // ------------------------------------------------------------------
    // Trsync (trsync.c)

    private void TrsyncDoTrigger(Trsync ts, byte reason)
    {
        if ((ts.Flags & TSF_CAN_TRIGGER) == 0)
            return;
        ts.TriggerReason = reason;
        ts.Flags = (byte)((ts.Flags & ~TSF_CAN_TRIGGER) | TSF_REPORT);
        while (ts.Signals.Count > 0)
        {
            var tss = ts.Signals[0];
            ts.Signals.RemoveAt(0);
            var func = tss.Func!;
            tss.Func = null;
            func(reason);
        }
        _tasksWoken = true;
    }

    private static void TrsyncAddSignal(Trsync ts, TrsyncSignal tss, Action<byte> func)
    {
        if (tss.Func != null)
            Shutdown("Can't add signal that is already active");
        tss.Func = func;
        ts.Signals.Insert(0, tss);
    }

    private void TrsyncClear(Trsync ts)
    {
        DelTimer(ts.ReportTime);
        DelTimer(ts.ExpireTime);
        foreach (var tss in ts.Signals)
            tss.Func = null;
        ts.Signals.Clear();
        ts.Flags = ts.TriggerReason = ts.ExpireReason = 0;
    }

    private void TrsyncTask()
    {
        foreach (var (oid, ts) in Objects<Trsync>())
        {
            if ((ts.Flags & TSF_REPORT) == 0)
                continue;
            uint time = Clock.Now32;
            byte triggerReason = ts.TriggerReason, flags = ts.Flags;
            ts.Flags = (byte)(flags & ~TSF_REPORT);
            Sendf("trsync_state", oid, (flags & TSF_CAN_TRIGGER) != 0 ? 1 : 0, triggerReason, time);
        }
    }

    private void TrsyncShutdown()
    {
        foreach (var (_, ts) in Objects<Trsync>())
            TrsyncClear(ts);
    }

    // ------------------------------------------------------------------
    // Readouts

    /// <summary>Keep a log of every step (<see cref="GetStepLog"/>) for steppers configured from now on.</summary>
    public bool RecordSteps { get; set; }

    /// <summary>Position of stepper <paramref name="oid"/> as <c>stepper_get_position</c> reports it, or null when no such stepper.</summary>
    public int? GetStepperPosition(int oid)
    {
        lock (_sync)
        {
            if (!_stepperByOid.TryGetValue((byte)oid, out var s))
                return null;
            return (int)(StepperGetPosition(s) - PositionBias);
        }
    }

    /// <summary>Position of the stepper whose step pin is <paramref name="stepPin"/>, or null.</summary>
    public int? GetStepperPositionByPin(string stepPin)
    {
        int pin = Board.PinNumber(stepPin);
        lock (_sync)
        {
            foreach (var s in _stepperByOid.Values)
            {
                if (s.StepPin == pin)
                    return (int)(StepperGetPosition(s) - PositionBias);
            }
            return null;
        }
    }

    /// <summary>Oids of the configured steppers with their step pin names.</summary>
    public IReadOnlyList<(int Oid, string StepPin)> Steppers
    {
        get
        {
            lock (_sync)
                return _stepperByOid.Values.OrderBy(s => s.Oid).Select(s => ((int)s.Oid, Board.PinName(s.StepPin))).ToList();
        }
    }

    /// <summary>Steps taken by stepper <paramref name="oid"/> (when <see cref="RecordSteps"/> was set before it was configured).</summary>
    public IReadOnlyList<StepEvent> GetStepLog(int oid)
    {
        lock (_sync)
            return _stepperByOid.TryGetValue((byte)oid, out var s) && s.Log != null ? s.Log.ToList() : [];
    }

    /// <summary>Total steps taken by stepper <paramref name="oid"/>.</summary>
    public long GetStepCount(int oid)
    {
        lock (_sync)
            return _stepperByOid.TryGetValue((byte)oid, out var s) ? s.StepCount : 0;
    }
}
