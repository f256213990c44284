using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>The "printer" object in templates: printer objects' get_status() results, cached per render (upstream GetStatusWrapper).</summary>
public sealed class GetStatusWrapper : IJinjaMapping
{
    private readonly Printer _printer;
    private double? _eventtime;
    private readonly Dictionary<string, object?> _cache = new(StringComparer.Ordinal);

    public GetStatusWrapper(Printer printer, double? eventtime = null)
    {
        _printer = printer;
        _eventtime = eventtime;
    }

    public string TypeName => "klippy.extras.gcode_macro.GetStatusWrapper";

    public bool TryGetItem(object? key, out object? value)
    {
        string sval = PyFormat.Strip(JinjaValue.Str(key));
        if (_cache.TryGetValue(sval, out value))
            return true;
        if (_printer.TryLookupObject<IStatusProvider>(sval) is not { } po)
        {
            value = null;
            return false;
        }
        _eventtime ??= _printer.Reactor.Monotonic();
        var sts = po.GetStatus(_eventtime.Value);
        value = JinjaValue.DeepCopy(sts);
        _cache[sval] = value;
        return true;
    }

    public IEnumerable<object?> Keys()
    {
        foreach (var (name, _) in _printer.LookupObjects())
            if (TryGetItem(name, out _))
                yield return name;
    }
}

/// <summary>A compiled G-Code template from a config option (upstream TemplateWrapper).</summary>
public sealed class TemplateWrapper
{
    private readonly Printer _printer;
    private readonly JinjaTemplate _template;
    private readonly PrinterGCodeMacro _gcodeMacro;

    public TemplateWrapper(Printer printer, PrinterGCodeMacro gcodeMacro, string name, string script)
    {
        _printer = printer;
        _gcodeMacro = gcodeMacro;
        Name = name;
        try
        {
            _template = JinjaTemplate.Parse(script);
        }
        catch (JinjaError e) when (e.PyType == "jinja2.exceptions.TemplateSyntaxError")
        {
            var lines = script.Split('\n');
            string line = e.Lineno >= 1 && e.Lineno <= lines.Length ? lines[e.Lineno - 1] : "";
            string msg = $"Error loading template '{name}'\nline {e.Lineno}: {line} # {e.Message}";
            _printer.Log?.Invoke(msg);
            throw new CommandError(msg);
        }
        catch (JinjaError e)
        {
            string msg = $"Error loading template '{name}': {e.FormatExceptionOnly()}";
            _printer.Log?.Invoke(msg);
            throw new ConfigError(msg);
        }
    }

    public string Name { get; }

    public Dictionary<string, object?> CreateTemplateContext(double? eventtime = null) =>
        _gcodeMacro.CreateTemplateContext(eventtime);

    public string Render(IReadOnlyDictionary<string, object?>? context = null)
    {
        context ??= CreateTemplateContext();
        try
        {
            return _template.Render(context);
        }
        catch (JinjaError e)
        {
            string msg = $"Error evaluating '{Name}': {e.FormatExceptionOnly()}";
            _printer.Log?.Invoke(msg);
            throw new CommandError(msg);
        }
        catch (CommandError e)
        {
            // action_raise_error() and friends surface as the exception text
            string msg = $"Error evaluating '{Name}': {CommandErrorTypeName(e)}: {e.Message}\n";
            _printer.Log?.Invoke(msg);
            throw new CommandError(msg);
        }
    }

    private static string CommandErrorTypeName(CommandError e) =>
        e is McuError ? "mcu.error" : "gcode.CommandError";

    public void RunGcodeFromCommand(IReadOnlyDictionary<string, object?>? context = null)
    {
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RunScriptFromCommand(Render(context));
    }
}

/// <summary>The "gcode_macro" object: template loading and the standard template context (upstream PrinterGCodeMacro).</summary>
public sealed class PrinterGCodeMacro
{
    private readonly Printer _printer;

    public PrinterGCodeMacro(ConfigWrapper config) => _printer = config.GetPrinter();

    public TemplateWrapper LoadTemplate(ConfigWrapper config, string option, string? @default = null)
    {
        string name = $"{config.Name}:{option}";
        string script = @default is null ? config.Get(option) : config.Get(option, @default);
        return new TemplateWrapper(_printer, this, name, script);
    }

    private object? ActionEmergencyStop(List<object?> a, Dictionary<string, object?> k)
    {
        string msg = a.Count > 0 ? JinjaValue.Str(a[0]) : k.TryGetValue("msg", out var m) ? JinjaValue.Str(m) : "action_emergency_stop";
        _printer.InvokeShutdown($"Shutdown due to {msg}");
        return "";
    }

    private object? ActionRespondInfo(List<object?> a, Dictionary<string, object?> k)
    {
        string msg = a.Count > 0 ? JinjaValue.Str(a[0]) : JinjaValue.Str(k.GetValueOrDefault("msg"));
        _printer.LookupObject<GCodeDispatch>("gcode").RespondInfo(msg);
        return "";
    }

    private object? ActionRaiseError(List<object?> a, Dictionary<string, object?> k)
    {
        string msg = a.Count > 0 ? JinjaValue.Str(a[0]) : JinjaValue.Str(k.GetValueOrDefault("msg"));
        throw new CommandError(msg);
    }

    private object? ActionCallRemoteMethod(List<object?> a, Dictionary<string, object?> k)
    {
        // No remote method transport in this host: upstream logs failed calls and continues
        _printer.Log?.Invoke($"Remote Call Error: {(a.Count > 0 ? JinjaValue.Str(a[0]) : "")}");
        return "";
    }

    public Dictionary<string, object?> CreateTemplateContext(double? eventtime = null) => new(StringComparer.Ordinal)
    {
        ["printer"] = new GetStatusWrapper(_printer, eventtime),
        ["action_emergency_stop"] = (JinjaFunc)ActionEmergencyStop,
        ["action_respond_info"] = (JinjaFunc)ActionRespondInfo,
        ["action_raise_error"] = (JinjaFunc)ActionRaiseError,
        ["action_call_remote_method"] = (JinjaFunc)ActionCallRemoteMethod,
    };
}

/// <summary>[gcode_macro NAME]: a G-Code command defined by a template (upstream GCodeMacro).</summary>
public sealed class GCodeMacro : IStatusProvider
{
    public const string CmdSetGcodeVariableHelp = "Set the value of a G-Code macro variable";
    private readonly Printer _printer;
    private readonly string _alias;
    private readonly TemplateWrapper _template;
    private readonly GCodeDispatch _gcode;
    private readonly string? _renameExisting;
    private readonly string _cmdDesc;
    private bool _inScript;
    private Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public GCodeMacro(ConfigWrapper config)
    {
        var parts = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > 2)
            throw config.Error($"Name of section '{config.Name}' contains illegal whitespace");
        string name = parts[1];
        _alias = name.ToUpperInvariant();
        _printer = config.GetPrinter();
        var gcodeMacro = _printer.LoadObject<PrinterGCodeMacro>(config, "gcode_macro");
        _template = gcodeMacro.LoadTemplate(config, "gcode");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _renameExisting = config.GetOrNull("rename_existing");
        _cmdDesc = config.Get("description", "G-Code macro");
        if (_renameExisting is not null)
        {
            if (GCodeDispatch.IsTraditionalGcode(_alias) != GCodeDispatch.IsTraditionalGcode(_renameExisting))
                throw config.Error($"G-Code macro rename of different types ('{_alias}' vs '{_renameExisting}')");
            _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        }
        else
        {
            _gcode.RegisterCommand(_alias, Cmd, desc: _cmdDesc);
        }
        _gcode.RegisterMuxCommand("SET_GCODE_VARIABLE", "MACRO", name, CmdSetGcodeVariable, desc: CmdSetGcodeVariableHelp);
        const string prefix = "variable_";
        foreach (var option in config.GetPrefixOptions(prefix))
        {
            try
            {
                var literal = PyLiteral.Parse(config.Get(option));
                _variables[option[prefix.Length..]] = literal;
            }
            catch (FormatException e)
            {
                throw config.Error($"Option '{option}' in section '{config.Name}' is not a valid literal: {e.Message}");
            }
        }
    }

    private void HandleConnect()
    {
        var prevCmd = _gcode.RegisterCommand(_alias, null);
        if (prevCmd is null)
            throw new ConfigError($"Existing command '{_alias}' not found in gcode_macro rename");
        string pdesc = $"Renamed builtin of '{_alias}'";
        _gcode.RegisterCommand(_renameExisting!, prevCmd, desc: pdesc);
        _gcode.RegisterCommand(_alias, Cmd, desc: _cmdDesc);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _variables;

    private void CmdSetGcodeVariable(GCodeCommand gcmd)
    {
        string variable = gcmd.Get("VARIABLE");
        string value = gcmd.Get("VALUE");
        if (!_variables.ContainsKey(variable))
            throw gcmd.Error($"Unknown gcode_macro variable '{variable}'");
        object? literal;
        try
        {
            literal = PyLiteral.Parse(value);
        }
        catch (FormatException e)
        {
            throw gcmd.Error($"Unable to parse '{value}' as a literal: {e.Message} in '{gcmd.GetCommandline()}'");
        }
        var v = new Dictionary<string, object?>(_variables, StringComparer.Ordinal) { [variable] = literal };
        _variables = v;
    }

    private void Cmd(GCodeCommand gcmd)
    {
        if (_inScript)
            throw gcmd.Error($"Macro {_alias} called recursively");
        var kwparams = new Dictionary<string, object?>(_variables, StringComparer.Ordinal);
        foreach (var (k, v) in _template.CreateTemplateContext())
            kwparams[k] = v;
        var p = new Dictionary<object, object?>(PyKeyComparer.Instance);
        foreach (var (k, v) in gcmd.GetCommandParameters())
            p[k] = v;
        kwparams["params"] = p;
        kwparams["rawparams"] = gcmd.GetRawCommandParameters();
        _inScript = true;
        try
        {
            _template.RunGcodeFromCommand(kwparams);
        }
        finally
        {
            _inScript = false;
        }
    }
}
