using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[fan_generic NAME]: a fan set by SET_FAN_SPEED (upstream PrinterFanGeneric).</summary>
public sealed class PrinterFanGeneric : IStatusProvider
{
    public const string CmdSetFanSpeedHelp = "Sets the speed of a fan";
    private readonly Printer _printer;
    private readonly PrinterTemplateEvaluator _templateEval;

    public PrinterFanGeneric(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        Fan = new Fan(config, defaultShutdownSpeed: 0.0);
        FanName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _templateEval = PrinterTemplateEvaluator.Lookup(config);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_FAN_SPEED", "FAN", FanName, CmdSetFanSpeed, desc: CmdSetFanSpeedHelp);
    }

    public Fan Fan { get; }

    public string FanName { get; }

    public Dictionary<string, object?> GetStatus(double eventtime) => Fan.GetStatus(eventtime);

    private void TemplateUpdate(string text)
    {
        if (!PyFormat.TryParseFloat(text, out double value))
        {
            _printer.Log?.Invoke("fan_generic template render error");
            value = 0.0;
        }
        Fan.SetSpeed(value);
    }

    private void CmdSetFanSpeed(GCodeCommand gcmd)
    {
        double? speed = gcmd.GetFloatOrNull("SPEED", minval: 0.0);
        string? template = gcmd.GetOrNull("TEMPLATE");
        if ((speed is null) == (template is null))
            throw gcmd.Error("SET_FAN_SPEED must specify SPEED or TEMPLATE");
        if (template is not null)
        {
            _templateEval.SetTemplate(gcmd, TemplateUpdate);
            return;
        }
        Fan.SetSpeedFromCommand(speed!.Value);
    }
}
