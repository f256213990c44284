using Klipsharp.Host.Tests.Conformance;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Tests.Motion;

/// <summary>Runs a batch-mode host on config and G-code text and decodes its MCU stream.</summary>
internal static class MotionHarness
{
    public sealed record Run(string Result, string? LastError, List<string> Log, List<string> Messages)
    {
        public string Text => string.Join("\n", Log);

        /// <summary>The messages of one object (by its oid), in order.</summary>
        public List<string> ForOid(int oid) =>
            Messages.Where(m => m.Split(' ').Skip(1).Contains($"oid={oid}")).ToList();

        /// <summary>The oid a config_stepper message gave the stepper on <paramref name="stepPin"/>.</summary>
        public int StepperOid(string stepPin)
        {
            string line = Messages.First(m => m.StartsWith("config_stepper ") && m.Contains($" step_pin={stepPin} "));
            return int.Parse(line.Split(' ').First(a => a.StartsWith("oid="))[4..]);
        }

        /// <summary>A stepper's steps as (direction, absolute clock), expanded from its step messages.</summary>
        public List<(int Dir, long Clock)> Steps(int oid)
        {
            var res = new List<(int, long)>();
            long clock = 0;
            int dir = 0;
            foreach (var m in ForOid(oid))
            {
                var parts = m.Split(' ');
                var args = parts.Skip(1).Select(a => a.Split('=')).ToDictionary(a => a[0], a => long.Parse(a[1]));
                switch (parts[0])
                {
                    case "reset_step_clock":
                        clock = args["clock"];
                        break;
                    case "set_next_step_dir":
                        dir = (int)args["dir"];
                        break;
                    case "queue_step":
                        long interval = args["interval"];
                        for (long i = 0; i < args["count"]; i++)
                        {
                            clock += interval;
                            res.Add((dir, clock));
                            interval += args["add"];
                        }
                        break;
                }
            }
            return res;
        }

        /// <summary>Net step count (forward minus backward) of a stepper.</summary>
        public int NetSteps(int oid) => Steps(oid).Sum(s => s.Dir == 1 ? 1 : -1);
    }

    /// <summary>The [mcu] section of inline test configs.</summary>
    public const string Mcu = "[mcu]\nserial: /dev/ttyACM0\n";

    public static Run Batch(string configText, string gcode)
    {
        var dir = Directory.CreateTempSubdirectory("klipsharp-motion").FullName;
        try
        {
            string cfg = Path.Combine(dir, "printer.cfg");
            File.WriteAllText(cfg, configText);
            string input = Path.Combine(dir, "in.gcode");
            File.WriteAllText(input, gcode);
            string dict = Path.Combine(RepoPaths.Golden, "dict", "atmega2560.dict");
            string output = Path.Combine(dir, "out");
            var log = new List<string>();
            var startArgs = new StartArgs
            {
                ConfigFile = cfg,
                DebugInput = input,
                DebugOutput = output,
                Dictionaries = new Dictionary<string, string> { ["mcu"] = dict },
            };
            var (result, lastError) = PrinterHost.Run(startArgs, m =>
            {
                lock (log)
                    log.Add(m);
            });
            var messages = new List<string>();
            if (File.Exists(output))
                MessageDecoder.Decode(DataDictionary.Load(dict), File.ReadAllBytes(output), messages.Add);
            return new Run(result, lastError, log, messages);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
