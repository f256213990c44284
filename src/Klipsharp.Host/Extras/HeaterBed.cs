using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>The [heater_bed] section: a heater with M140/M190 (upstream PrinterHeaterBed).</summary>
public sealed class PrinterHeaterBed : IStatusProvider, IStatsProvider, ITemperatureSource
{
    private readonly Printer _printer;

    public PrinterHeaterBed(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var pheaters = _printer.LoadObject<PrinterHeaters>(config, "heaters");
        Heater = pheaters.SetupHeater(config, "B");
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("M140", g => CmdM140(g));
        gcode.RegisterCommand("M190", CmdM190);
    }

    public Heater Heater { get; }

    public Dictionary<string, object?> GetStatus(double eventtime) => Heater.GetStatus(eventtime);

    public (bool IsActive, string Message) Stats(double eventtime) => Heater.Stats(eventtime);

    public (double Temp, double Target) GetTemp(double eventtime) => Heater.GetTemp(eventtime);

    public void CmdM140(GCodeCommand gcmd, bool wait = false)
    {
        double temp = gcmd.GetFloat("S", 0.0);
        var pheaters = _printer.LookupObject<PrinterHeaters>("heaters");
        pheaters.SetTemperature(Heater, temp, wait);
    }

    public void CmdM190(GCodeCommand gcmd) => CmdM140(gcmd, wait: true);
}
