using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>The [heater_generic NAME] section: a heater without dedicated G-Codes.</summary>
public static class HeaterGeneric
{
    public static object LoadConfigPrefix(ConfigWrapper config)
    {
        var pheaters = config.GetPrinter().LoadObject<PrinterHeaters>(config, "heaters");
        return pheaters.SetupHeater(config);
    }
}
