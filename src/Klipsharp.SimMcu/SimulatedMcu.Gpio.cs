namespace Klipsharp.SimMcu;

public sealed partial class SimulatedMcu
{
    // Digital out flags (gpiocmds.c).
    private const byte DF_ON = 1 << 0;
    private const byte DF_TOGGLING = 1 << 1;
    private const byte DF_CHECK_END = 1 << 2;
    private const byte DF_DEFAULT_ON = 1 << 4;

    private sealed class DigitalOut
    {
        public readonly SimTimer Timer = new();
        public uint OnDuration;
        public uint OffDuration;
        public uint EndTime;
        public int Pin;
        public int Level;
        public uint MaxDuration;
        public uint CycleTime;
        public readonly Queue<(uint WakeTime, uint OnDuration)> Mq = new();
        public byte Flags;
        public Func<SimTimer, TimerResult> LoadEvent = null!;
        public Func<SimTimer, TimerResult> ToggleEvent = null!;
    }

    private sealed class PwmOut
    {
        public readonly SimTimer Timer = new();
        public int Pin;
        public uint MaxDuration;
        public ushort DefaultValue;
        public readonly Queue<(uint WakeTime, ushort Value)> Mq = new();
        public Func<SimTimer, TimerResult> Event = null!;
        public Func<SimTimer, TimerResult> EndEvent = null!;
    }

    private sealed class AnalogIn
    {
        public readonly SimTimer Timer = new();
        public uint RestTime;
        public uint SampleTime;
        public uint NextBeginTime;
        public ushort Value;
        public ushort MinValue;
        public ushort MaxValue;
        public int Pin;
        public byte InvalidCount;
        public byte RangeCheckCount;
        public byte State;
        public byte SampleCount;
        public byte BytesPerReport;
        public byte DataCount;
        public readonly byte[] Data = new byte[48];
    }

    private void BuildGpioCommands()
    {
        _table.AddCommand("set_digital_out pin=%u value=%c", a => SetOutputLevel((int)a[0], a.Byte(1) != 0 ? 1 : 0));
        _table.AddCommand("update_digital_out oid=%c value=%c", a =>
        {
            var d = OidLookup<DigitalOut>(a.Byte(0));
            DelTimer(d.Timer);
            if (d.Mq.Count != 0)
                Shutdown("update_digital_out not valid with active queue");
            byte flags = d.Flags, onFlag = a.Byte(1) != 0 ? DF_ON : (byte)0;
            WriteDigital(d, onFlag);
            if ((onFlag == 0) != ((flags & DF_DEFAULT_ON) == 0) && d.MaxDuration != 0)
            {
                d.Timer.WakeTime = d.EndTime = Clock.Now32 + d.MaxDuration;
                d.Timer.Func = d.LoadEvent;
                d.Flags = (byte)((flags & DF_DEFAULT_ON) | onFlag | DF_CHECK_END);
                AddTimer(d.Timer);
            }
            else
            {
                d.Flags = (byte)((flags & DF_DEFAULT_ON) | onFlag);
            }
        });
        _table.AddCommand("queue_digital_out oid=%c clock=%u on_ticks=%u", a =>
        {
            var d = OidLookup<DigitalOut>(a.Byte(0));
            MoveAlloc();
            uint time = a[1];
            d.Mq.Enqueue((time, a[2]));
            if (d.Mq.Count != 1)
                return;
            byte flags = d.Flags;
            if ((flags & DF_CHECK_END) != 0 && TimerIsBefore(d.EndTime, time))
                Shutdown("Scheduled digital out event will exceed max_duration");
            d.EndTime = time;
            d.Flags = (byte)(flags | DF_CHECK_END);
            if ((flags & DF_TOGGLING) != 0 && TimerIsBefore(d.Timer.WakeTime, time))
            {
                // The toggle timer reaches the end time and then loads the move.
            }
            else
            {
                DelTimer(d.Timer);
                d.Timer.WakeTime = time;
                d.Timer.Func = d.LoadEvent;
                AddTimer(d.Timer);
            }
        });
        _table.AddCommand("set_digital_out_pwm_cycle oid=%c cycle_ticks=%u", a =>
        {
            var d = OidLookup<DigitalOut>(a.Byte(0));
            if (d.Mq.Count != 0)
                Shutdown("Can not set soft pwm cycle ticks while updates pending");
            d.CycleTime = a[1];
        });
        _table.AddCommand("config_digital_out oid=%c pin=%u value=%c default_value=%c max_duration=%u", a =>
        {
            var d = OidAlloc(a.Byte(0), new DigitalOut());
            d.Pin = (int)a[1];
            WriteDigital(d, a.Byte(2) != 0 ? 1 : 0);
            d.Flags = (byte)((a.Byte(2) != 0 ? DF_ON : 0) | (a.Byte(3) != 0 ? DF_DEFAULT_ON : 0));
            d.MaxDuration = a[4];
            d.LoadEvent = _ => DigitalLoadEvent(d);
            d.ToggleEvent = _ => DigitalToggleEvent(d);
            d.Timer.Func = d.LoadEvent;
            MoveQueueSetup();
        });

        _table.AddCommand("set_pwm_out pin=%u cycle_ticks=%u value=%hu", a => WritePwm((int)a[0], (ushort)a[2]));
        _table.AddCommand("queue_pwm_out oid=%c clock=%u value=%hu", a =>
        {
            var p = OidLookup<PwmOut>(a.Byte(0));
            MoveAlloc();
            uint wake = a[1];
            p.Mq.Enqueue((wake, (ushort)a[2]));
            if (p.Mq.Count != 1)
                return;
            DelTimer(p.Timer);
            if (p.Timer.Func == p.EndEvent && TimerIsBefore(p.Timer.WakeTime, wake))
                Shutdown("Scheduled pwm event will exceed max_duration");
            p.Timer.Func = p.Event;
            p.Timer.WakeTime = wake;
            AddTimer(p.Timer);
        });
        _table.AddCommand("config_pwm_out oid=%c pin=%u cycle_ticks=%u value=%hu default_value=%hu max_duration=%u", a =>
        {
            int pin = (int)a[1];
            WritePwm(pin, (ushort)a[3]);
            var p = OidAlloc(a.Byte(0), new PwmOut());
            p.Pin = pin;
            p.DefaultValue = (ushort)a[4];
            p.MaxDuration = a[5];
            p.Event = _ => PwmEvent(p);
            p.EndEvent = _ => Shutdown<TimerResult>("Missed scheduling of next hard pwm event");
            p.Timer.Func = p.Event;
            MoveQueueSetup();
        });

        _table.AddCommand("query_analog_in oid=%c clock=%u sample_ticks=%u sample_count=%c rest_ticks=%u bytes_per_report=%c min_value=%hu max_value=%hu range_check_count=%c", a =>
        {
            var ai = OidLookup<AnalogIn>(a.Byte(0));
            DelTimer(ai.Timer);
            ai.NextBeginTime = a[1];
            ai.Timer.WakeTime = ai.NextBeginTime;
            ai.SampleTime = a[2];
            ai.SampleCount = a.Byte(3);
            ai.State = (byte)(ai.SampleCount + 1);
            ai.RestTime = a[4];
            ai.BytesPerReport = a.Byte(5);
            ai.DataCount = 0;
            ai.MinValue = (ushort)a[6];
            ai.MaxValue = (ushort)a[7];
            ai.RangeCheckCount = a.Byte(8);
            if (ai.SampleCount == 0)
                return;
            if (ai.BytesPerReport > ai.Data.Length)
                Shutdown("Invalid analog_in bytes_per_report");
            AddTimer(ai.Timer);
        });
        _table.AddCommand("config_analog_in oid=%c pin=%u", a =>
        {
            var ai = OidAlloc(a.Byte(0), new AnalogIn { Pin = (int)a[1], State = 1 });
            ai.Timer.Func = _ => AnalogInEvent(ai);
        });

        _table.AddResponse("analog_in_state oid=%c next_clock=%u values=%*s");
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static T Shutdown<T>(string reason) => throw new McuShutdownException(reason);

    private void WriteDigital(DigitalOut d, int level)
    {
        d.Level = level != 0 ? 1 : 0;
        SetOutputLevel(d.Pin, d.Level);
    }

    private void WritePwm(int pin, ushort value) =>
        SetOutputLevel(pin, Math.Min(1.0, (double)value / Board.PwmMax));

    // ------------------------------------------------------------------
    // Digital out (gpiocmds.c)

    private TimerResult DigitalToggleEvent(DigitalOut d)
    {
        WriteDigital(d, d.Level ^ 1);
        d.Flags ^= DF_ON;
        uint waketime = d.Timer.WakeTime;
        if ((d.Flags & DF_ON) != 0)
            waketime += d.OnDuration;
        else
            waketime += d.OffDuration;
        if ((d.Flags & DF_CHECK_END) != 0 && !TimerIsBefore(waketime, d.EndTime))
        {
            d.Timer.Func = d.LoadEvent;
            waketime = d.EndTime;
        }
        d.Timer.WakeTime = waketime;
        return TimerResult.Reschedule;
    }

    private TimerResult DigitalLoadEvent(DigitalOut d)
    {
        if (d.Mq.Count == 0)
            Shutdown("Missed scheduling of next digital out event");
        var m = d.Mq.Dequeue();
        uint onDuration = m.OnDuration;
        byte flags = onDuration != 0 ? DF_ON : (byte)0;
        WriteDigital(d, flags);
        MoveFree();

        uint endTime = 0;
        if (flags == 0 || onDuration >= d.CycleTime)
        {
            if ((flags == 0) != ((d.Flags & DF_DEFAULT_ON) == 0) && d.MaxDuration != 0)
            {
                endTime = d.Timer.WakeTime + d.MaxDuration;
                flags |= DF_CHECK_END;
            }
        }
        else
        {
            flags |= DF_TOGGLING;
            if (d.MaxDuration != 0)
            {
                endTime = d.Timer.WakeTime + d.MaxDuration;
                flags |= DF_CHECK_END;
            }
        }
        if (d.Mq.Count != 0)
        {
            uint wake = d.Mq.Peek().WakeTime;
            if ((flags & DF_CHECK_END) != 0 && TimerIsBefore(endTime, wake))
                Shutdown("Scheduled digital out event will exceed max_duration");
            endTime = wake;
            flags |= DF_CHECK_END;
        }
        d.EndTime = endTime;
        d.Flags = (byte)(flags | (d.Flags & DF_DEFAULT_ON));

        if ((flags & DF_TOGGLING) == 0)
        {
            if ((flags & DF_CHECK_END) == 0)
                return TimerResult.Done;
            d.Timer.WakeTime = endTime;
            return TimerResult.Reschedule;
        }
        uint waketime = d.Timer.WakeTime + onDuration;
        if ((flags & DF_CHECK_END) != 0 && !TimerIsBefore(waketime, endTime))
        {
            d.Timer.WakeTime = endTime;
            return TimerResult.Reschedule;
        }
        d.Timer.Func = d.ToggleEvent;
        d.Timer.WakeTime = waketime;
        d.OnDuration = onDuration;
        d.OffDuration = d.CycleTime - onDuration;
        return TimerResult.Reschedule;
    }

    private void DigitalOutShutdown()
    {
        foreach (var (_, d) in Objects<DigitalOut>())
        {
            WriteDigital(d, d.Flags & DF_DEFAULT_ON);
            d.Flags = (d.Flags & DF_DEFAULT_ON) != 0 ? (byte)(DF_ON | DF_DEFAULT_ON) : (byte)0;
            d.Mq.Clear();
        }
    }

    // ------------------------------------------------------------------
    // Hardware PWM (pwmcmds.c)

    private TimerResult PwmEvent(PwmOut p)
    {
        var m = p.Mq.Dequeue();
        ushort value = m.Value;
        WritePwm(p.Pin, value);
        MoveFree();
        if (p.Mq.Count == 0)
        {
            if (value == p.DefaultValue || p.MaxDuration == 0)
                return TimerResult.Done;
            p.Timer.WakeTime += p.MaxDuration;
            p.Timer.Func = p.EndEvent;
            return TimerResult.Reschedule;
        }
        uint wake = p.Mq.Peek().WakeTime;
        if (value != p.DefaultValue && p.MaxDuration != 0 && TimerIsBefore(p.Timer.WakeTime + p.MaxDuration, wake))
            Shutdown("Scheduled pwm event will exceed max_duration");
        p.Timer.WakeTime = wake;
        return TimerResult.Reschedule;
    }

    private void PwmShutdown()
    {
        foreach (var (_, p) in Objects<PwmOut>())
        {
            WritePwm(p.Pin, p.DefaultValue);
            p.Timer.Func = p.Event;
            p.Mq.Clear();
        }
    }

    // ------------------------------------------------------------------
    // Analog in (adccmds.c)

    private TimerResult AnalogInEvent(AnalogIn a)
    {
        ushort value = ReadAdc(a.Pin);
        byte state = a.State;
        if (state >= a.SampleCount)
            state = 0;
        else
            value += a.Value;
        a.Value = value;
        a.State = (byte)(state + 1);
        if (a.State < a.SampleCount)
        {
            a.Timer.WakeTime += a.SampleTime;
            return TimerResult.Reschedule;
        }
        if (a.Value >= a.MinValue && a.Value <= a.MaxValue)
        {
            a.InvalidCount = 0;
        }
        else
        {
            a.InvalidCount++;
            if (a.InvalidCount >= a.RangeCheckCount)
            {
                TryShutdown("ADC out of range");
                a.InvalidCount = 0;
            }
        }
        _tasksWoken = true;
        a.NextBeginTime += a.RestTime;
        a.Timer.WakeTime = a.NextBeginTime;
        return TimerResult.Reschedule;
    }

    private void AnalogInTask()
    {
        foreach (var (oid, a) in Objects<AnalogIn>())
        {
            if (a.State != a.SampleCount)
                continue;
            ushort value = a.Value;
            uint nextBeginTime = a.NextBeginTime;
            a.State++;
            a.Data[a.DataCount] = (byte)value;
            a.Data[a.DataCount + 1] = (byte)(value >> 8);
            a.DataCount += 2;
            if (a.DataCount + 2 > a.BytesPerReport)
            {
                Sendf("analog_in_state", oid, nextBeginTime, a.Data.AsSpan(0, a.DataCount).ToArray());
                a.DataCount = 0;
            }
        }
    }

    private void AnalogInShutdown()
    {
        foreach (var (_, a) in Objects<AnalogIn>())
        {
            if (a.SampleCount == 0)
                continue;
            a.State = (byte)(a.SampleCount + 1);
            a.NextBeginTime += a.RestTime;
            a.Timer.WakeTime = a.NextBeginTime;
            AddTimer(a.Timer);
        }
    }
}
