using Klipsharp.Host.Configuration;
using Klipsharp.Protocol;

namespace Klipsharp.Host;

/// <summary>
/// Starts a printer from its config and runs it until it exits (upstream klippy.py's
/// Printer._read_config/_connect/run and main()).
/// </summary>
public static class PrinterHost
{
    /// <summary>Creates the printer, runs the reactor until exit, and returns the run result ("exit", "error_exit", ...) and the last error reported.</summary>
    public static (string Result, string? LastError) Run(StartArgs startArgs, Action<string>? log = null)
    {
        var reactor = new Reactor();
        var printer = new Printer(reactor, startArgs) { Log = log };
        GCode.GCodeDispatch.AddEarlyPrinterObjects(printer);
        reactor.RegisterCallback(_ => Connect(printer));
        reactor.Run();
        string result = printer.RunResult ?? "exit";
        try
        {
            if (result == "firmware_restart")
                printer.SendEvent("klippy:firmware_restart");
            printer.SendEvent("klippy:disconnect");
        }
        catch (Exception e)
        {
            log?.Invoke($"Unhandled exception during post run: {e}");
        }
        foreach (var (_, obj) in printer.LookupObjects("mcu"))
            ((Mcu.Mcu)obj).Disconnect();
        return (result, printer.LastError);
    }

    /// <summary>Loads pins, MCUs, every config section's module and the toolhead, then checks for unused options.</summary>
    public static void ReadConfig(Printer printer)
    {
        var pconfig = new PrinterConfig(printer);
        printer.AddObject("configfile", pconfig);
        var config = pconfig.ReadMainConfig(printer.StartArgs.ConfigFile);
        config.Owner = printer;
        printer.AddObject("pins", new PrinterPins());
        Mcu.Mcu.AddPrinterObjects(config);
        foreach (var section in config.GetPrefixSections(""))
            printer.TryLoadObject(config, section.Name);
        ToolHead.AddPrinterObjects(config);
        pconfig.CheckUnusedOptions(config, printer.LookupObjects().Select(o => o.Name).ToList());
    }

    private static void Connect(Printer printer)
    {
        try
        {
            ReadConfig(printer);
            printer.SendEvent("klippy:mcu_identify");
            foreach (var cb in printer.HandlersFor("klippy:connect"))
            {
                if (!printer.ConnectHandlersStillStarting())
                    return;
                ((Action)cb)();
            }
        }
        catch (Exception e) when (e is ConfigError or PinError)
        {
            printer.Log?.Invoke($"Config error: {e.Message}");
            printer.SetState($"{e.Message}\n{Printer.MessageRestart}");
            printer.LastError = e.Message;
            return;
        }
        catch (ProtocolError e)
        {
            printer.Log?.Invoke($"Protocol error: {e.Message}");
            printer.SetState("Protocol error");
            printer.LastErrorDetail = e.Message;
            printer.LastError = $"Protocol error: {e.Message}";
            return;
        }
        catch (McuError e)
        {
            printer.Log?.Invoke($"MCU error during connect: {e.Message}");
            printer.SetState("MCU error during connect");
            printer.LastErrorDetail = e.Message;
            printer.LastError = $"MCU error during connect: {e.Message}";
            return;
        }
        catch (Exception e)
        {
            printer.Log?.Invoke($"Unhandled exception during connect: {e}");
            printer.SetState($"Internal error during connect: {e.Message}\n{Printer.MessageRestart}");
            return;
        }
        try
        {
            printer.SetReady();
        }
        catch (Exception e)
        {
            printer.Log?.Invoke($"Unhandled exception during ready callback: {e}");
            printer.InvokeShutdown($"Internal error during ready callback: {e.Message}");
        }
    }
}
