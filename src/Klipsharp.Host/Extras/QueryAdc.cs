using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>QUERY_ADC: reports the last reading of a registered analog input (upstream query_adc).</summary>
public sealed class QueryAdc
{
    public const string CmdQueryAdcHelp = "Report the last value of an analog pin";
    private readonly Dictionary<string, IAdcPin> _adc = new();

    public QueryAdc(ConfigWrapper config)
    {
        var gcode = config.GetPrinter().LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("QUERY_ADC", CmdQueryAdc, desc: CmdQueryAdcHelp);
    }

    public void RegisterAdc(string name, IAdcPin mcuAdc) => _adc[name] = mcuAdc;

    private void CmdQueryAdc(GCodeCommand gcmd)
    {
        string? name = gcmd.GetOrNull("NAME");
        if (name is null || !_adc.TryGetValue(name, out var adc))
        {
            var objs = _adc.Keys.OrderBy(k => k, StringComparer.Ordinal).Select(n => $"\"{n}\"");
            gcmd.RespondInfo("Available ADC objects: " + string.Join(", ", objs));
            return;
        }
        var (timestamp, value) = adc.GetLastValue();
        string msg = $"ADC object \"{name}\" has value {PyFmt.F(value, 6)} (timestamp {PyFmt.F(timestamp, 3)})";
        double? pullup = gcmd.GetFloatOrNull("PULLUP", above: 0.0);
        if (pullup is double pu)
        {
            double v = Math.Max(0.00001, Math.Min(0.99999, value));
            double r = pu * v / (1.0 - v);
            msg += $"\n resistance {PyFmt.F(r, 3)} (with {PyFmt.F(pu, 0)} pullup)";
        }
        gcmd.RespondInfo(msg);
    }
}
