using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[static_digital_output NAME]: pins set once at MCU configuration (upstream PrinterStaticDigitalOut).</summary>
public sealed class PrinterStaticDigitalOut
{
    public PrinterStaticDigitalOut(ConfigWrapper config)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        foreach (var pinDesc in config.GetList("pins"))
        {
            var pinParams = ppins.LookupPin(pinDesc, canInvert: true);
            var mcu = OutputPins.ChipMcu(pinParams);
            mcu.AddConfigCmd($"set_digital_out pin={pinParams.Pin} value={(pinParams.Invert == 0 ? 1 : 0)}");
        }
    }
}
