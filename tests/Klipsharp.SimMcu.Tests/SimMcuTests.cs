using Klipsharp.Protocol;
using Klipsharp.SimMcu;

namespace Klipsharp.SimMcu.Tests;

public class IdentifyTests
{
    [Fact]
    public void DictionaryIsFetchedInChunksAndParses()
    {
        var mcu = new SimulatedMcu(realTime: false);
        var received = new List<byte[]>();
        mcu.Attach(received.Add);
        // Before identify the host knows only the two built-in messages.
        var boot = new DataDictionary();
        var data = new List<byte>();
        long seq = 0;
        int requests = 0;
        while (true)
        {
            var cmd = boot.CreateCommand($"identify offset={data.Count} count=40");
            mcu.Feed(MessageBlock.Encode(seq++, cmd));
            mcu.Poll();
            requests++;
            var blocks = received.ToList();
            received.Clear();
            // One response block, then the ack.
            Assert.Equal(2, blocks.Count);
            Assert.Equal(MessageBlock.MESSAGE_MIN, blocks[1].Length);
            Assert.Equal(0x10 | (int)(seq & 0xf), blocks[1][MessageBlock.MESSAGE_POS_SEQ]);
            var p = boot.Parse(blocks[0]);
            Assert.Equal("identify_response", p["#name"]);
            Assert.Equal((long)data.Count, p["offset"]);
            var chunk = (byte[])p["data"];
            if (chunk.Length == 0)
                break;
            Assert.True(chunk.Length <= 40);
            data.AddRange(chunk);
        }
        Assert.Equal(mcu.DictionaryZlib, data.ToArray());
        Assert.Equal((mcu.DictionaryZlib.Length + 39) / 40 + 1, requests);

        var dict = DataDictionary.FromZlib(data.ToArray());
        Assert.Equal(mcu.DictionaryJson, dict.RawData);
        Assert.Equal(16000000L, dict.GetConstantInt("CLOCK_FREQ"));
        Assert.Equal("atmega2560", dict.GetConstant("MCU"));
        Assert.Equal(1023L, dict.GetConstantInt("ADC_MAX"));
        Assert.Equal(255L, dict.GetConstantInt("PWM_MAX"));
        Assert.Equal(256L, dict.GetConstantInt("STATS_SUMSQ_BASE"));
        Assert.Equal(1L, dict.GetConstantInt("STEPPER_STEP_BOTH_EDGE"));
        Assert.Equal(192L, dict.GetConstantInt("RECEIVE_WINDOW"));
        Assert.Equal(250000L, dict.GetConstantInt("SERIAL_BAUD"));
        Assert.Equal("PE0,PE1", dict.GetConstant("RESERVE_PINS_serial"));

        Assert.Equal(1, dict.Commands["identify offset=%u count=%c"]);
        Assert.Equal(0, dict.Responses["identify_response offset=%u data=%.*s"]);
        Assert.Contains("queue_step oid=%c interval=%u count=%hu add=%hi", dict.Commands.Keys);
        Assert.Contains("config_stepper oid=%c step_pin=%c dir_pin=%c invert_step=%c step_pulse_ticks=%u", dict.Commands.Keys);
        Assert.Contains("reset", dict.Commands.Keys);
        Assert.Contains("analog_in_state oid=%c next_clock=%u values=%*s", dict.Responses.Keys);
        Assert.Equal(dict.Commands.Count + dict.Responses.Count,
            dict.Commands.Values.Concat(dict.Responses.Values).Distinct().Count());

        var pins = dict.Enumerations["pin"];
        Assert.Equal(0L, pins["PA0"]);
        Assert.Equal(40L, pins["PF0"]);
        Assert.Equal(72L, pins["PJ0"]);
        Assert.Equal(95L, pins["PL7"]);
        Assert.False(pins.ContainsKey("PI0"));
        var strings = dict.Enumerations["static_string_id"];
        Assert.Equal(3L, strings["Timer too close"]);
        Assert.Equal(27L, strings["ADC out of range"]);
        Assert.Contains("Missed scheduling of next digital out event", strings.Keys);
    }

    [Fact]
    public void OtherBoardsPublishTheirConstants()
    {
        var linux = new SimulatedMcu(SimBoard.Linux(), realTime: false).Dictionary;
        Assert.Equal(50000000L, linux.GetConstantInt("CLOCK_FREQ"));
        Assert.Null(linux.GetConstant("SERIAL_BAUD", null));
        Assert.Contains("config_reset", linux.Commands.Keys);
        Assert.DoesNotContain("reset", linux.Commands.Keys);
        Assert.Equal(4096L + 7, linux.Enumerations["pin"]["analog7"]);
        var stm = new SimulatedMcu(SimBoard.Stm32f407(), realTime: false).Dictionary;
        Assert.Equal(143L, stm.Enumerations["pin"]["PI15"]);
        Assert.Equal(254L, stm.Enumerations["pin"]["ADC_TEMPERATURE"]);
    }

    [Fact]
    public void InMemoryLinkCarriesBlocksBothWays()
    {
        using var mcu = new SimulatedMcu(realTime: false);
        using var link = mcu.CreateLink();
        link.ReadTimeout = 2000;
        link.Write(MessageBlock.Encode(0, mcu.Dictionary.CreateCommand("get_clock")));
        mcu.AdvanceSeconds(0.5);
        mcu.Poll();
        var reader = new MessageBlockReader();
        var buf = new byte[256];
        var blocks = new List<byte[]>();
        while (blocks.Count < 2)
        {
            int n = link.Read(buf, 0, buf.Length);
            Assert.True(n > 0);
            reader.Feed(buf.AsSpan(0, n));
            while (reader.TryRead(out var b))
                blocks.Add(b.ToArray());
        }
        var p = mcu.Dictionary.Parse(blocks[0]);
        Assert.Equal("clock", p["#name"]);
        Assert.Equal(8000000L, p["clock"]);
        Assert.Equal(MessageBlock.MESSAGE_MIN, blocks[1].Length);
    }
}

public class LinkTests
{
    [Fact]
    public void BadCrcGetsANakAndRunsNothing()
    {
        var h = new TestHost();
        var block = MessageBlock.Encode(0, h.Dict.CreateCommand("emergency_stop"));
        block[^2] ^= 0x55;
        h.SendRaw(block);
        var blocks = h.TakeBlocks();
        Assert.Single(blocks);
        // The nak is an empty block carrying the sequence the MCU still expects.
        Assert.Equal(MessageBlock.MESSAGE_MIN, blocks[0].Length);
        Assert.Equal(0x10, blocks[0][MessageBlock.MESSAGE_POS_SEQ]);
        Assert.False(h.Mcu.IsShutdown);
        Assert.Equal(0, h.Mcu.CommandsExecuted);
        Assert.Equal(1, h.Mcu.BadBlocks);

        // The retransmission with a good CRC is executed and acked.
        h.Send("get_clock");
        var text = h.TakeText();
        Assert.Equal(["clock clock=0"], text);
        Assert.Equal(1, h.Mcu.CommandsExecuted);
    }

    [Fact]
    public void OutOfSequenceBlockIsNakedAndDropped()
    {
        var h = new TestHost();
        h.Seq = 3;
        h.Send("get_clock");
        var blocks = h.TakeBlocks();
        Assert.Single(blocks);
        Assert.Equal(MessageBlock.MESSAGE_MIN, blocks[0].Length);
        Assert.Equal(0x10, blocks[0][MessageBlock.MESSAGE_POS_SEQ]);
        Assert.Equal(0, h.Mcu.CommandsExecuted);
        h.Seq = 0;
        h.Send("get_clock");
        blocks = h.TakeBlocks();
        Assert.Equal(2, blocks.Count);
        Assert.Equal(0x11, blocks[1][MessageBlock.MESSAGE_POS_SEQ]);
    }

    [Fact]
    public void GarbageIsNakedOnceUntilAValidBlock()
    {
        var h = new TestHost();
        h.SendRaw([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x7e, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7e]);
        Assert.Single(h.TakeBlocks());
        h.Send("get_uptime");
        Assert.Equal(["uptime high=0 clock=0"], h.TakeText());
    }

    [Fact]
    public void SeveralCommandsInOneBlockRunInOrder()
    {
        var h = new TestHost();
        h.Send("get_clock", "debug_ping data=0102", "get_config");
        Assert.Equal(["clock clock=0", "pong data=b'\\x01\\x02'", "config is_config=0 crc=0 is_shutdown=0 move_count=0"], h.TakeText());
    }

    [Fact]
    public void UnknownCommandIdShutsDown()
    {
        var h = new TestHost();
        h.SendRaw(MessageBlock.Encode(0, [0x5f]));
        var text = h.TakeText();
        Assert.Equal(["shutdown clock=0 static_string_id=Invalid command"], text);
        Assert.True(h.Mcu.IsShutdown);
    }
}

public class ShutdownTests
{
    [Fact]
    public void EmergencyStopShutsDownAndOtherCommandsReportIt()
    {
        var h = new TestHost();
        h.Mcu.AdvanceSeconds(1);
        h.Send("emergency_stop");
        Assert.Equal(["shutdown clock=16000000 static_string_id=Command request"], h.TakeText());
        h.Send("allocate_oids count=3");
        Assert.Equal(["is_shutdown static_string_id=Command request"], h.TakeText());
        h.Send("get_config");
        Assert.Equal(["config is_config=0 crc=0 is_shutdown=1 move_count=0"], h.TakeText());
        h.Send("clear_shutdown");
        Assert.False(h.Mcu.IsShutdown);
        h.Send("clear_shutdown");
        Assert.Equal(["shutdown clock=16000000 static_string_id=Shutdown cleared when not shutdown"], h.TakeText());
    }

    [Fact]
    public void ConfigRulesAreEnforced()
    {
        var h = new TestHost();
        h.Configure(2, "config_trsync oid=0");
        h.Send("get_config");
        Assert.Equal(["config is_config=1 crc=1234 is_shutdown=0 move_count=1024"], h.TakeText());
        h.Send("config_trsync oid=1");
        Assert.Equal(["shutdown clock=0 static_string_id=Can't assign oid"], h.TakeText());
    }

    [Fact]
    public void WrongOidTypeShutsDown()
    {
        var h = new TestHost();
        h.Configure(1, "config_trsync oid=0");
        h.Send("stepper_get_position oid=0");
        Assert.Equal(["shutdown clock=0 static_string_id=Invalid oid type"], h.TakeText());
    }

    [Fact]
    public void TimerInThePastIsTooClose()
    {
        var h = new TestHost();
        h.Configure(1, "config_stepper oid=0 step_pin=PF0 dir_pin=PF1 invert_step=0 step_pulse_ticks=32");
        h.Mcu.AdvanceSeconds(1);
        h.Send("reset_step_clock oid=0 clock=1000", "queue_step oid=0 interval=100 count=1 add=0");
        Assert.Equal(["shutdown clock=16000000 static_string_id=Timer too close"], h.TakeText());
        // The step was due at clock 1100, 15998900 ticks before "now"
        Assert.Equal("a timer was added 999.931 ms after its wake time (clock 1100)", h.Mcu.ShutdownDetail);
    }

    [Fact]
    public void ResetDropsConfiguration()
    {
        var h = new TestHost();
        h.Configure(1, "config_trsync oid=0");
        h.Send("reset");
        Assert.Equal(["starting"], h.TakeText());
        Assert.False(h.Mcu.IsConfigured);
        h.Send("get_config");
        Assert.Equal(["config is_config=0 crc=0 is_shutdown=0 move_count=0"], h.TakeText());
    }
}

public class StepperTests
{
    private static List<long> ExpectedSteps(long start, params (uint Interval, int Count, int Add)[] moves)
    {
        var times = new List<long>();
        long t = start;
        foreach (var (interval, count, add) in moves)
        {
            long iv = interval;
            for (int i = 0; i < count; i++)
            {
                t += iv;
                times.Add(t);
                iv += add;
            }
        }
        return times;
    }

    [Fact]
    public void QueueStepRunsExactTimesAndCountsPosition()
    {
        var h = new TestHost();
        h.Configure(1, "config_stepper oid=0 step_pin=PF0 dir_pin=PF1 invert_step=0 step_pulse_ticks=32");
        long start = h.Freq / 10;
        h.SendEach(
            $"reset_step_clock oid=0 clock={start}",
            "set_next_step_dir oid=0 dir=1",
            "queue_step oid=0 interval=4000 count=10 add=-150",
            "queue_step oid=0 interval=2650 count=20 add=0",
            "set_next_step_dir oid=0 dir=0",
            "queue_step oid=0 interval=5000 count=7 add=300");
        Assert.Empty(h.TakeText());
        h.Mcu.AdvanceSeconds(1);
        var log = h.Mcu.GetStepLog(0);
        var expected = ExpectedSteps(start, (4000, 10, -150), (2650, 20, 0), (5000, 7, 300));
        Assert.Equal(expected, log.Select(s => s.Clock).ToList());
        Assert.All(log.Take(30), s => Assert.Equal(1, s.Dir));
        Assert.All(log.Skip(30), s => Assert.Equal(0, s.Dir));
        Assert.Equal(10 + 20 - 7, h.Mcu.GetStepperPosition(0));
        h.Send("stepper_get_position oid=0");
        Assert.Equal(["stepper_position oid=0 pos=23"], h.TakeText());
        // The X axis (PF0) of the default machine started at 8000 steps.
        Assert.Equal(8023L, h.Mcu.GetAxisPosition("PF0"));
    }

    [Fact]
    public void PositionIsCountedMidMove()
    {
        var h = new TestHost();
        h.Configure(1, "config_stepper oid=0 step_pin=PF0 dir_pin=PF1 invert_step=-1 step_pulse_ticks=0");
        long start = h.Freq / 10;
        h.SendEach($"reset_step_clock oid=0 clock={start}", "queue_step oid=0 interval=1000 count=100 add=0");
        h.Mcu.AdvanceTo(start + 1000 * 40);
        Assert.Equal(-40, h.Mcu.GetStepperPosition(0));
        h.Mcu.AdvanceTo(start + 1000 * 100);
        Assert.Equal(-100, h.Mcu.GetStepperPosition(0));
        Assert.Equal(100, h.Mcu.GetStepLog(0).Count);
    }

    [Fact]
    public void HomingStopsTheStepperAtTheEndstop()
    {
        var h = new TestHost(new SimMachine
        {
            Axes = [new SimAxis { StepPin = "PF0", EndstopPin = "PE5", TriggerPosition = 0, StartPosition = 500 }],
        });
        h.Configure(3,
            "config_stepper oid=0 step_pin=PF0 dir_pin=PF1 invert_step=0 step_pulse_ticks=32",
            "config_endstop oid=1 pin=PE5 pull_up=1",
            "config_trsync oid=2");
        long start = h.Freq / 10;
        h.SendEach(
            "trsync_start oid=2 report_clock=" + start + " report_ticks=1600000 expire_reason=4",
            "stepper_stop_on_trigger oid=0 trsync_oid=2",
            "trsync_set_timeout oid=2 clock=" + (start + h.Freq * 5),
            "endstop_home oid=1 clock=" + start + " sample_ticks=240 sample_count=4 rest_ticks=160 pin_value=1 trsync_oid=2 trigger_reason=1",
            "reset_step_clock oid=0 clock=" + start,
            "set_next_step_dir oid=0 dir=0",
            "queue_step oid=0 interval=1600 count=1000 add=0");
        h.Mcu.AdvanceSeconds(2);
        var msgs = h.Take();
        var states = msgs.Where(m => (string)m["#name"] == "trsync_state").ToList();
        var trig = states.First(m => (long)m["can_trigger"] == 0);
        Assert.Equal(1L, trig["trigger_reason"]);
        // The switch closes at step 500 (physical 0); the endstop confirms it with 4
        // samples 240 ticks apart, well before the next step is due.
        long closeTime = start + 1600L * 500;
        Assert.Equal(closeTime + 3 * 240, (long)trig["clock"]);
        Assert.Equal(-500, h.Mcu.GetStepperPosition(0));
        Assert.Equal(0L, h.Mcu.GetAxisPosition("PF0"));
        h.Send("endstop_query_state oid=1");
        var st = h.Take().Single();
        Assert.Equal(1L, st["pin_value"]);
        Assert.Equal(1L, st["homing"]);
        Assert.False(h.Mcu.IsShutdown);
    }
}

public class DigitalOutTests
{
    [Fact]
    public void UnrefreshedHeaterShutsDownAtMaxDuration()
    {
        var h = new TestHost();
        long maxDuration = h.Freq * 2;
        h.Configure(1, $"config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration={maxDuration}");
        long t0 = h.Freq / 10;
        h.Send($"queue_digital_out oid=0 clock={t0} on_ticks=1");
        h.Mcu.AdvanceTo(t0);
        Assert.Equal(1.0, h.Mcu.GetOutputLevel("PB4"));
        h.Mcu.AdvanceTo(t0 + maxDuration - 1);
        Assert.Empty(h.TakeText());
        h.Mcu.AdvanceTo(t0 + maxDuration + 10);
        Assert.Equal([$"shutdown clock={t0 + maxDuration} static_string_id=Missed scheduling of next digital out event"], h.TakeText());
        Assert.Equal(0.0, h.Mcu.GetOutputLevel("PB4"));
    }

    [Fact]
    public void RefreshedHeaterStaysOn()
    {
        var h = new TestHost();
        long maxDuration = h.Freq * 2;
        h.Configure(1, $"config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration={maxDuration}");
        for (int i = 1; i <= 10; i++)
        {
            long t = h.Freq * i;
            h.Send($"queue_digital_out oid=0 clock={t} on_ticks=1");
            h.Mcu.AdvanceTo(t);
        }
        h.Mcu.AdvanceTo(h.Freq * 11);
        Assert.Empty(h.TakeText());
        Assert.Equal(1.0, h.Mcu.GetOutputLevel("PB4"));
    }

    [Fact]
    public void SoftPwmTogglesWithinTheCycle()
    {
        var h = new TestHost();
        h.Configure(1,
            "config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration=0",
            "set_digital_out_pwm_cycle oid=0 cycle_ticks=16000");
        long t0 = 1600000;
        h.Send($"queue_digital_out oid=0 clock={t0} on_ticks=4000");
        h.Mcu.AdvanceTo(t0 + 3999);
        Assert.Equal(1.0, h.Mcu.GetOutputLevel("PB4"));
        h.Mcu.AdvanceTo(t0 + 4000);
        Assert.Equal(0.0, h.Mcu.GetOutputLevel("PB4"));
        h.Mcu.AdvanceTo(t0 + 16000);
        Assert.Equal(1.0, h.Mcu.GetOutputLevel("PB4"));
    }

    [Fact]
    public void EventBeyondMaxDurationShutsDown()
    {
        var h = new TestHost();
        h.Configure(1, "config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration=16000000");
        h.Send("queue_digital_out oid=0 clock=1600000 on_ticks=1");
        h.Send("queue_digital_out oid=0 clock=40000000 on_ticks=0");
        h.Mcu.AdvanceSeconds(1);
        Assert.Equal(["shutdown clock=1600000 static_string_id=Scheduled digital out event will exceed max_duration"], h.TakeText());
    }

    [Fact]
    public void HardPwmSetsTheDuty()
    {
        var h = new TestHost();
        h.Configure(1, "config_pwm_out oid=0 pin=PH5 cycle_ticks=16000 value=0 default_value=0 max_duration=0");
        h.Send("queue_pwm_out oid=0 clock=1600000 value=51");
        h.Mcu.AdvanceSeconds(0.2);
        Assert.Equal(51.0 / 255, h.Mcu.GetOutputLevel("PH5"));
    }
}

public class AnalogTests
{
    private const string Query = "query_analog_in oid=0 clock=1600000 sample_ticks=16000 sample_count=8 rest_ticks=4800000 bytes_per_report=2 min_value={0} max_value={1} range_check_count=4";

    [Fact]
    public void ThermistorAtAmbientReportsExpectedAdc()
    {
        var h = new TestHost();
        h.Configure(1, "config_analog_in oid=0 pin=PK5");
        h.Send(string.Format(Query, 0, 65535));
        h.Mcu.AdvanceSeconds(1.5);
        var msgs = h.Take().Where(m => (string)m["#name"] == "analog_in_state").ToList();
        Assert.Equal(5, msgs.Count);
        // 100k thermistor at 25 C below a 4.7k pullup: 100000/104700 of 1023, 8 samples.
        int one = (int)Math.Round(100000.0 / 104700.0 * 1023);
        Assert.Equal(977, one);
        var values = (byte[])msgs[0]["values"];
        Assert.Equal(8 * one, values[0] | values[1] << 8);
        Assert.Equal(1600000L + 4800000, msgs[0]["next_clock"]);
        Assert.Equal(1600000L + 2 * 4800000, msgs[1]["next_clock"]);
    }

    [Fact]
    public void OutOfRangeAdcShutsDownAfterRangeCheckCount()
    {
        var h = new TestHost();
        h.Configure(1, "config_analog_in oid=0 pin=PK5");
        // Range allowing 0..250 C only; then the heater is forced to 300 C.
        var th = SimThermistor.Epcos100K();
        int minValue = (int)(8 * 1023 * th.AdcFraction(250, 4700));
        h.Send(string.Format(Query, minValue, 8 * 1023));
        h.Mcu.AdvanceSeconds(1);
        Assert.False(h.Mcu.IsShutdown);
        h.Mcu.SetHeaterTemperature("PB4", 300);
        h.Mcu.AdvanceSeconds(0.3 * 3 + 0.05);
        Assert.False(h.Mcu.IsShutdown);
        h.Mcu.AdvanceSeconds(0.3);
        Assert.True(h.Mcu.IsShutdown);
        Assert.Equal("ADC out of range", h.Mcu.ShutdownReason);
        var lines = h.TakeText();
        Assert.Contains(lines, l => l.StartsWith("shutdown clock=", StringComparison.Ordinal) && l.EndsWith("static_string_id=ADC out of range", StringComparison.Ordinal));
        // Readings continue after the shutdown.
        h.Mcu.AdvanceSeconds(1);
        Assert.Contains(h.TakeText(), l => l.StartsWith("analog_in_state oid=0", StringComparison.Ordinal));
    }
}

public class ThermalTests
{
    [Fact]
    public void HeaterPowerHeatsAndLossCools()
    {
        var cfg = new SimHeater { HeaterPin = "PB4", SensorPin = "PK5", PowerWatts = 40, HeatCapacity = 15, LossCoefficient = 0.1, AmbientTemp = 25 };
        var m = new ThermalModel(cfg);
        Assert.Equal(25.0, m.TemperatureAt(10));
        m.SetDuty(10, 1.0);
        double hot = m.TemperatureAt(40);
        Assert.Equal(425.0 - 400.0 * Math.Exp(-0.1 * 30 / 15), hot, 9);
        m.SetDuty(40, 0.0);
        double cooled = m.TemperatureAt(100);
        Assert.Equal(25.0 + (hot - 25.0) * Math.Exp(-0.1 * 60 / 15), cooled, 9);
        Assert.True(cooled < hot);
        m.SetDuty(100, 0.5);
        Assert.True(m.TemperatureAt(101) > cooled);
    }

    [Fact]
    public void HeaterPinDrivesTheThermalModelThroughTheMcu()
    {
        var h = new TestHost();
        h.Configure(2,
            "config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration=0",
            "config_analog_in oid=1 pin=PK5");
        h.Send($"queue_digital_out oid=0 clock={h.Freq} on_ticks=1");
        h.Mcu.AdvanceSeconds(11);
        double t = h.Mcu.GetHeaterTemperature("PB4")!.Value;
        Assert.Equal(425.0 - 400.0 * Math.Exp(-0.1 * 10 / 15), t, 6);
        h.Send($"queue_digital_out oid=0 clock={h.Freq * 12} on_ticks=0");
        h.Mcu.AdvanceSeconds(1);
        double peak = h.Mcu.GetHeaterTemperature("PB4")!.Value;
        Assert.True(peak > t);
        h.Mcu.AdvanceSeconds(10);
        double cooled = h.Mcu.GetHeaterTemperature("PB4")!.Value;
        Assert.Equal(25.0 + (peak - 25.0) * Math.Exp(-0.1 * 10 / 15), cooled, 6);
        // The sensor follows the model: one sample at 22.5 s.
        long sampleClock = h.Freq * 45 / 2;
        h.Send($"query_analog_in oid=1 clock={sampleClock} sample_ticks=0 sample_count=1 rest_ticks={h.Freq} bytes_per_report=2 min_value=0 max_value=1023 range_check_count=0");
        h.Mcu.AdvanceTo(sampleClock);
        var report = h.Take().Single(m => (string)m["#name"] == "analog_in_state");
        var values = (byte[])report["values"];
        double tempAtSample = 25.0 + (peak - 25.0) * Math.Exp(-0.1 * 10.5 / 15);
        int expected = (int)Math.Round(SimThermistor.Epcos100K().AdcFraction(tempAtSample, 4700) * 1023);
        Assert.Equal(expected, values[0] | values[1] << 8);
    }

    [Fact]
    public void EpcosCurveMatchesItsDefiningPoints()
    {
        var th = SimThermistor.Epcos100K();
        Assert.Equal(100000.0, th.Resistance(25), 3);
        Assert.Equal(1641.9, th.Resistance(150), 3);
        Assert.Equal(226.15, th.Resistance(250), 3);
        Assert.Equal(150.0, th.Temperature(th.Resistance(150)), 9);
    }
}

public class RealTimeTests
{
    [Fact]
    public void RealTimeMcuShutsDownAnAbandonedHeater()
    {
        using var mcu = new SimulatedMcu(realTime: true);
        using var link = mcu.CreateLink();
        link.ReadTimeout = 5000;
        var dict = mcu.Dictionary;
        long seq = 0;
        void Send(string cmd) => link.Write(MessageBlock.Encode(seq++, dict.CreateCommand(cmd)));
        var shut = new ManualResetEventSlim();
        mcu.ShutdownOccurred += _ => shut.Set();
        mcu.Start();
        Send("allocate_oids count=1");
        Send("config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration=4800000");
        Send("set_digital_out_pwm_cycle oid=0 cycle_ticks=1600000");
        Send("finalize_config crc=0");
        Send("get_clock");
        var reader = new MessageBlockReader();
        var buf = new byte[256];
        long clock = -1;
        while (clock < 0)
        {
            int n = link.Read(buf, 0, buf.Length);
            reader.Feed(buf.AsSpan(0, n));
            while (reader.TryRead(out var b))
            {
                if (b.Length > MessageBlock.MESSAGE_MIN && (string)dict.Parse(b)["#name"] == "clock")
                    clock = (long)dict.Parse(b)["clock"];
            }
        }
        Send($"queue_digital_out oid=0 clock={(clock + 1600000) & 0xffffffff} on_ticks=800000");
        Assert.True(shut.Wait(TimeSpan.FromSeconds(5)));
        Assert.Equal("Missed scheduling of next digital out event", mcu.ShutdownReason);
        Assert.Equal(0.0, mcu.GetOutputLevel("PB4"));
    }
}

public class RealTimeLoopTests
{
    [Fact]
    public void RealTimeMcuSleepsBetweenTimersLessThanAMillisecondApart()
    {
        // A 0.1 ms software PWM keeps a timer due every 50 us; the MCU thread must still
        // sleep between passes (it once polled in a busy loop and took a whole CPU)
        using var mcu = new SimulatedMcu(realTime: true);
        using var link = mcu.CreateLink();
        var dict = mcu.Dictionary;
        long seq = 0;
        void Send(string cmd) => link.Write(MessageBlock.Encode(seq++, dict.CreateCommand(cmd)));
        mcu.Start();
        Send("allocate_oids count=1");
        Send("config_digital_out oid=0 pin=PB4 value=0 default_value=0 max_duration=0");
        Send("set_digital_out_pwm_cycle oid=0 cycle_ticks=1600");
        Send("finalize_config crc=0");
        Send($"queue_digital_out oid=0 clock={(mcu.Clock.Now64 + 160000) & 0xffffffff} on_ticks=800");
        Thread.Sleep(600);
        mcu.Stop();
        Assert.False(mcu.IsShutdown);
        Assert.NotNull(mcu.GetOutputLevel("PB4"));
        Assert.InRange(mcu.LoopPasses, 10, 700);
    }
}

public class TransportTests
{
    private static string ReadConfigResponse(SimulatedMcu mcu, Func<byte[], int> read)
    {
        var reader = new MessageBlockReader();
        var buf = new byte[256];
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            int n = read(buf);
            if (n <= 0)
                continue;
            reader.Feed(buf.AsSpan(0, n));
            while (reader.TryRead(out var b))
            {
                if (b.Length > MessageBlock.MESSAGE_MIN)
                {
                    var p = mcu.Dictionary.Parse(b);
                    if ((string)p["#name"] == "config")
                        return mcu.Dictionary.MessagesByName["config"].FormatParams(p);
                }
            }
        }
        return "";
    }

    [Fact]
    public void UnixSocketServesOneHost()
    {
        string path = Path.Combine(Path.GetTempPath(), $"simmcu-test-{Environment.ProcessId}.sock");
        using var mcu = new SimulatedMcu(realTime: true);
        using var server = SimMcuSocketServer.Listen(mcu, path);
        mcu.Start();
        using var sock = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        sock.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        sock.ReceiveTimeout = 5000;
        sock.Send(MessageBlock.Encode(0, mcu.Dictionary.CreateCommand("get_config")));
        Assert.Equal("config is_config=0 crc=0 is_shutdown=0 move_count=0", ReadConfigResponse(mcu, b => sock.Receive(b)));
    }

    [Fact]
    public void PseudoTerminalServesAHost()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string link = Path.Combine(Path.GetTempPath(), $"simmcu-test-{Environment.ProcessId}.tty");
        using var mcu = new SimulatedMcu(realTime: true);
        using (var pty = SimMcuPty.Open(mcu, link))
        {
            Assert.StartsWith("/dev/pts/", pty.SlaveName);
            Assert.Equal(pty.SlaveName, new FileInfo(link).LinkTarget);
            mcu.Start();
            using var tty = new FileStream(link, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
            tty.Write(MessageBlock.Encode(0, mcu.Dictionary.CreateCommand("get_config")));
            tty.Flush();
            Assert.Equal("config is_config=0 crc=0 is_shutdown=0 move_count=0", ReadConfigResponse(mcu, b => tty.Read(b, 0, b.Length)));
        }
        Assert.False(File.Exists(link) || new FileInfo(link).LinkTarget != null);
    }
}

public class MachineJsonTests
{
    [Fact]
    public void ParsesAxesAndHeaters()
    {
        var m = SimMachineJson.Parse("""
            {"axes": [{"step_pin": "PF0", "endstop_pin": "PE5", "trigger_position": 5, "trigger_direction": 1,
                       "start_position": 100, "invert_dir": true, "triggered_level": 0}],
             "heaters": [{"heater_pin": "PB4", "sensor_pin": "PK5", "power": 30, "heat_capacity": 10,
                          "loss": 0.2, "ambient": 20, "pullup": 4700, "thermistor": {"t1": 25, "r1": 100000, "beta": 3950}}]}
            """);
        var a = Assert.Single(m.Axes);
        Assert.Equal(("PF0", "PE5", 5L, 1, 100L, true, 0), (a.StepPin, a.EndstopPin, a.TriggerPosition, a.TriggerDirection, a.StartPosition, a.InvertDir, a.TriggeredLevel));
        var h = Assert.Single(m.Heaters);
        Assert.Equal(30.0, h.PowerWatts);
        Assert.Equal(0.0, h.Thermistor.C3);
        Assert.Equal(100000.0, h.Thermistor.Resistance(25), 6);
    }

    [Theory]
    [InlineData("""{"axes": [{"stp_pin": "PF0"}]}""", "unknown key 'stp_pin' in axes[0]")]
    [InlineData("""{"axes": [{"endstop_pin": "PE5"}]}""", "axes[0].step_pin is required")]
    [InlineData("""{"heaters": [{"heater_pin": "PB4", "sensor_pin": "PK5", "power": "x"}]}""", "heaters[0].power must be a number")]
    [InlineData("""{"printer": 1}""", "unknown machine key 'printer'")]
    public void BadDescriptionsNameTheProblem(string json, string message)
    {
        var e = Assert.Throws<FormatException>(() => SimMachineJson.Parse(json));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void UnknownPinIsRejectedByTheMcu()
    {
        var m = SimMachineJson.Parse("""{"axes": [{"step_pin": "PZ0"}]}""");
        var e = Assert.Throws<ArgumentException>(() => new SimulatedMcu(machine: m, realTime: false));
        Assert.Equal("step pin 'PZ0' is not a pin of board 'atmega2560'", e.Message);
    }
}

public class SchedulerGuardTests
{
    [Fact]
    public void TimerThatNeverAdvancesShutsDown()
    {
        var h = new TestHost(new SimMachine());
        h.Configure(2, "config_endstop oid=0 pin=PE5 pull_up=0", "config_trsync oid=1");
        h.Send("trsync_start oid=1 report_clock=0 report_ticks=0 expire_reason=4",
            "endstop_home oid=0 clock=1600000 sample_ticks=0 sample_count=1 rest_ticks=0 pin_value=1 trsync_oid=1 trigger_reason=1");
        h.Mcu.AdvanceSeconds(0.2);
        Assert.Equal(["shutdown clock=1600000 static_string_id=Rescheduled timer in the past"], h.TakeText());
    }
}

public class KillTests
{
    [Fact]
    public void KilledMcuGoesSilentAndCanEndTheLink()
    {
        using var mcu = new SimulatedMcu(realTime: false);
        using var link = mcu.CreateLink();
        mcu.Kill(closeLink: true);
        Assert.True(mcu.IsKilled);
        mcu.Feed(MessageBlock.Encode(0, mcu.Dictionary.CreateCommand("get_clock")));
        mcu.Poll();
        Assert.Equal(0, mcu.CommandsExecuted);
        Assert.Equal(0, link.Read(new byte[16], 0, 16));
    }
}
