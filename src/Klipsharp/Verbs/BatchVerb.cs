using Klipsharp.Host;

namespace Klipsharp.Verbs;

/// <summary>
/// The <c>batch CONFIG -i GCODE -o OUT -d DICT [-d NAME=DICT]...</c> verb: upstream
/// klippy's batch mode. Reads the G-code file, writes each MCU's binary command stream
/// to OUT (OUT-NAME for secondary MCUs); exit status 0 on success, 1 with the error on
/// stderr otherwise.
/// </summary>
public static class BatchVerb
{
    private const string Usage = "usage: klipsharp batch CONFIG -i GCODE -o OUT -d DICT [-d NAME=DICT]... [-l LOG] [-v] [--closed-form-steps]";

    public static int Run(string[] args)
    {
        string? config = null, input = null, output = null, logFile = null;
        bool verbose = false, closedFormSteps = false;
        var dictionaries = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value()
            {
                if (i + 1 >= args.Length)
                    return null;
                return args[++i];
            }
            switch (a)
            {
                case "-i" or "--debuginput":
                    input = Value();
                    break;
                case "-o" or "--debugoutput":
                    output = Value();
                    break;
                case "-l" or "--logfile":
                    logFile = Value();
                    break;
                case "-v":
                    verbose = true;
                    break;
                case "--closed-form-steps":
                    closedFormSteps = true;
                    break;
                case "-d" or "--dictionary":
                    string? d = Value();
                    if (d is null)
                        return Fail($"option {a} requires an argument");
                    int eq = d.IndexOf('=');
                    if (eq < 0)
                        dictionaries["mcu"] = d;
                    else
                        dictionaries[d[..eq].Trim()] = d[(eq + 1)..].Trim();
                    break;
                default:
                    if (a.StartsWith('-') && a.Length > 1)
                        return Fail($"no such option: {a}");
                    if (config is not null)
                        return Fail("Incorrect number of arguments");
                    config = a;
                    break;
            }
        }
        if (config is null)
            return Fail("Incorrect number of arguments");
        if (input is null || output is null)
            return Fail("batch mode needs -i GCODE and -o OUT");
        if (!dictionaries.ContainsKey("mcu"))
            return Fail("batch mode needs -d DICT for the main mcu");
        if (!File.Exists(input))
            return Fail($"Unable to open G-code file '{input}'");

        TextWriter? logWriter = null;
        try
        {
            if (logFile is not null)
                logWriter = new StreamWriter(logFile, append: false) { AutoFlush = true };
            else if (verbose)
                logWriter = Console.Error;
            var startArgs = new StartArgs
            {
                ConfigFile = config,
                DebugInput = input,
                DebugOutput = output,
                Dictionaries = dictionaries,
                LogFile = logFile,
                ClosedFormSteps = closedFormSteps,
            };
            void Log(string msg)
            {
                logWriter?.WriteLine(msg);
            }
            string? stats = Environment.GetEnvironmentVariable("KLIPSHARP_STATS");
            using var allocations = stats == "alloc" ? new AllocationSampler() : null;
            Printer? printer = null;
            string? printedLast = null;
            var options = new HostOptions
            {
                OnPrinterCreated = stats is null ? null : p => printer = p,
                // Each failed command and each error the run survives (a G-code block
                // that is not UTF-8): upstream's batch mode prints them all as they come
                ErrorLog = msg =>
                {
                    msg = msg.TrimEnd();
                    Console.Error.WriteLine(msg);
                    if (logWriter is not null && logWriter != Console.Error)
                        logWriter.WriteLine(msg);
                    printedLast = msg;
                },
            };
            var (result, lastError) = PrinterHost.Run(startArgs, Log, options);
            if (stats is not null)
                PrintStats(printer);
            allocations?.Print();
            if (result == "error_exit")
            {
                // (unless that error was the last one printed as it came)
                string final = (lastError ?? "klipsharp: batch run failed").TrimEnd();
                if (printedLast is null || final != printedLast.Split('\n')[0].Trim())
                    Console.Error.WriteLine(final);
                return 1;
            }
            return 0;
        }
        finally
        {
            if (logWriter is not null && logWriter != Console.Error)
                logWriter.Dispose();
        }
    }

    // Runtime statistics for benchmarking (KLIPSHARP_STATS=1).
    private static void PrintStats(Printer? printer)
    {
        var info = GC.GetGCMemoryInfo();
        Console.Error.WriteLine(
            $"gc: gen0={GC.CollectionCount(0)} gen1={GC.CollectionCount(1)} gen2={GC.CollectionCount(2)} " +
            $"pause={GC.GetTotalPauseDuration().TotalMilliseconds:F0}ms allocated={GC.GetTotalAllocatedBytes() >> 20}MB " +
            $"heap={info.HeapSizeBytes >> 20}MB committed={info.TotalCommittedBytes >> 20}MB " +
            $"jit={System.Runtime.JitInfo.GetCompiledMethodCount()} methods {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0}ms " +
            $"cpu={Environment.CpuUsage.TotalTime.TotalMilliseconds:F0}ms");
        Console.Error.WriteLine(Klipsharp.Motion.SteppersSyncManager.ParallelStatistics);
        if (printer?.TryLookupObject<MotionQueuing>("motion_queuing") is { } motionQueuing)
        {
            var (iterations, steps) = motionQueuing.SolverStatistics();
            Console.Error.WriteLine($"solver: steps={steps} iterations={iterations}");
        }
    }

    // Allocation sampling by type (KLIPSHARP_STATS=alloc): the runtime reports an
    // allocation about every 100 KB with the type of the object that crossed the mark.
    private sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
    {
        private readonly Dictionary<string, long> _bytes = new();

        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)1);
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventName != "GCAllocationTick_V4" || e.Payload is null || e.PayloadNames is null)
                return;
            int ti = e.PayloadNames.IndexOf("TypeName"), ai = e.PayloadNames.IndexOf("AllocationAmount64");
            if (ti < 0 || ai < 0)
                return;
            string type = e.Payload[ti] as string ?? "?";
            long amount = Convert.ToInt64(e.Payload[ai], System.Globalization.CultureInfo.InvariantCulture);
            lock (_bytes)
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }

        public void Print()
        {
            lock (_bytes)
                foreach (var (type, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(25))
                    Console.Error.WriteLine($"{bytes >> 10,9} KB  {type}");
        }
    }

    private static int Fail(string msg)
    {
        Console.Error.WriteLine($"klipsharp batch: {msg}");
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
