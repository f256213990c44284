using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[duplicate_pin_override]: allows listed pins to be used by several sections (upstream PrinterDupPinOverride).</summary>
public sealed class PrinterDupPinOverride
{
    public PrinterDupPinOverride(ConfigWrapper config)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        foreach (var pinDesc in config.GetList("pins"))
            ppins.AllowMultiUsePin(pinDesc);
    }
}
