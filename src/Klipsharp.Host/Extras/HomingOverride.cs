using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[homing_override]: replaces G28 with a G-Code template (upstream homing_override HomingOverride).</summary>
public sealed class HomingOverride
{
    private readonly Printer _printer;
    private readonly double?[] _startPos;
    private readonly string _axes;
    private readonly TemplateWrapper _template;
    private bool _inScript;
    private readonly Action<GCodeCommand> _prevG28;

    public HomingOverride(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _startPos = "xyz".Select(a => config.GetFloatOrNull("set_position_" + a)).ToArray();
        _axes = config.Get("axes", "XYZ").ToUpperInvariant();
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _template = gcodeMacro.LoadTemplate(config, "gcode");
        _printer.LoadObject(config, "homing");
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _prevG28 = gcode.RegisterCommand("G28", null) ?? throw config.Error("G28 command not registered");
        gcode.RegisterCommand("G28", CmdG28);
    }

    private void CmdG28(GCodeCommand gcmd)
    {
        if (_inScript)
        {
            // Called recursively - run the real G28
            _prevG28(gcmd);
            return;
        }
        bool noAxis = "XYZ".All(a => gcmd.GetOrNull(a.ToString()) is null);
        bool overrideHoming;
        if (noAxis)
            overrideHoming = true;
        else
            overrideHoming = _axes.Any(a => gcmd.GetOrNull(a.ToString()) is not null);
        if (!overrideHoming)
        {
            _prevG28(gcmd);
            return;
        }
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        var pos = toolhead.GetPosition();
        string homingAxes = "";
        for (int axis = 0; axis < _startPos.Length; axis++)
        {
            if (_startPos[axis] is double loc)
            {
                pos[axis] = loc;
                homingAxes += "xyz"[axis];
            }
        }
        toolhead.SetPosition(pos, homingAxes: homingAxes);
        var context = _template.CreateTemplateContext();
        var p = new Dictionary<object, object?>(PyKeyComparer.Instance);
        foreach (var (k, v) in gcmd.GetCommandParameters())
            p[k] = v;
        context["params"] = p;
        context["rawparams"] = gcmd.GetRawCommandParameters();
        try
        {
            _inScript = true;
            _template.RunGcodeFromCommand(context);
        }
        finally
        {
            _inScript = false;
        }
    }
}
