using System.Diagnostics;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>Host load, CPU time and memory for the statistics log (upstream statistics PrinterSysStats).</summary>
public sealed class PrinterSysStats : IStatusProvider, IStatsProvider
{
    private double _lastProcessTime, _totalProcessTime, _lastLoadAvg;
    private long _lastMemAvail;

    public PrinterSysStats(ConfigWrapper config)
    {
    }

    public (bool IsActive, string Message) Stats(double eventtime)
    {
        double ptime = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        double pdiff = ptime - _lastProcessTime;
        _lastProcessTime = ptime;
        if (pdiff > 0.0)
            _totalProcessTime += pdiff;
        _lastLoadAvg = ReadLoadAvg();
        string msg = $"sysload={PyFmt.F(_lastLoadAvg, 2)} cputime={PyFmt.F(_totalProcessTime, 3)}";
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    _lastMemAvail = long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                    msg = $"{msg} memavail={_lastMemAvail}";
                    break;
                }
            }
        }
        catch (Exception)
        {
        }
        return (false, msg);
    }

    private static double ReadLoadAvg()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception)
        {
            return 0.0;
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["sysload"] = _lastLoadAvg,
        ["cputime"] = _totalProcessTime,
        ["memavail"] = _lastMemAvail,
    };
}

/// <summary>Logs a line of statistics every second while the printer is active (upstream statistics PrinterStats).</summary>
public sealed class PrinterStats
{
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly ReactorTimer _statsTimer;
    private List<Func<double, (bool, string)>> _statsCb = new();

    public PrinterStats(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _statsTimer = _reactor.RegisterTimer(GenerateStats);
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
    }

    /// <summary>[statistics]: also creates the "system_stats" object.</summary>
    public static object LoadConfig(ConfigWrapper config)
    {
        config.GetPrinter().AddObject("system_stats", new PrinterSysStats(config));
        return new PrinterStats(config);
    }

    private void HandleReady()
    {
        _statsCb = new();
        foreach (var (_, o) in _printer.LookupObjects())
        {
            switch (o)
            {
                case IStatsProvider sp:
                    _statsCb.Add(et => sp.Stats(et));
                    break;
                case MotionQueuing mq:
                    _statsCb.Add(mq.Stats);
                    break;
            }
        }
        if (!_printer.IsFileOutput)
            _reactor.UpdateTimer(_statsTimer, Reactor.Now);
    }

    private double GenerateStats(double eventtime)
    {
        var stats = _statsCb.Select(cb => cb(eventtime)).ToList();
        if (stats.Any(s => s.Item1))
        {
            string statsStr = string.Join(" ", stats.Where(s => s.Item2.Length != 0).Select(s => s.Item2));
            _printer.Log?.Invoke($"Stats {PyFmt.F(eventtime, 1)}: {statsStr}");
        }
        return eventtime + 1.0;
    }
}
