using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[board_pins]: pin aliases and reserved pins per MCU (upstream PrinterBoardAliases).</summary>
public sealed class PrinterBoardAliases
{
    public PrinterBoardAliases(ConfigWrapper config)
    {
        var ppins = config.GetPrinter().LookupObject<PrinterPins>("pins");
        var mcuNames = config.GetList("mcu", ["mcu"]);
        var pinResolvers = mcuNames.Select(ppins.GetPinResolver).ToList();
        var options = new List<string> { "aliases" };
        options.AddRange(config.GetPrefixOptions("aliases_"));
        foreach (var opt in options)
        {
            var aliases = GetAliasLists(config, opt);
            foreach (var (name, value) in aliases)
            {
                if (value.StartsWith('<') && value.EndsWith('>'))
                {
                    foreach (var r in pinResolvers)
                        r.ReservePin(name, value);
                }
                else
                {
                    foreach (var r in pinResolvers)
                        r.AliasPin(name, value);
                }
            }
        }
    }

    // getlists(opt, seps=('=', ','), count=2): comma separated "name=value" pairs
    private static List<(string, string)> GetAliasLists(ConfigWrapper config, string option)
    {
        var lists = config.GetLists(option, innerSep: '=', outerSep: ',', count: 2);
        return lists.Select(l => (l[0], l[1])).ToList();
    }
}
