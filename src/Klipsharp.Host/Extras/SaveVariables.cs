using System.Collections;
using System.Text;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>SAVE_VARIABLE: persists Python literals in an ini style file (upstream save_variables SaveVariables).</summary>
public sealed class SaveVariables : IStatusProvider
{
    public const string CmdSaveVariableHelp = "Save arbitrary variables to disk";
    private readonly string _filename;
    private Dictionary<string, object?> _allVariables = new();

    public SaveVariables(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        string fn = config.Get("filename");
        if (fn == "~" || fn.StartsWith("~/", StringComparison.Ordinal))
            fn = (Environment.GetEnvironmentVariable("HOME") ?? "") + fn[1..];
        _filename = fn;
        try
        {
            if (!File.Exists(_filename))
                File.WriteAllText(_filename, "");
            LoadVariables();
        }
        catch (CommandError e)
        {
            throw config.Error(e.Message);
        }
        catch (IOException)
        {
            throw config.Error("Unable to parse existing variable file");
        }
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("SAVE_VARIABLE", CmdSaveVariable, desc: CmdSaveVariableHelp);
    }

    private void LoadVariables()
    {
        var allvars = new Dictionary<string, object?>();
        try
        {
            var file = ConfigFile.Build(File.ReadAllText(_filename), _filename);
            if (file.HasSection("Variables"))
                foreach (var name in file.Options("Variables"))
                    allvars[name] = PyLiteral.Parse(file.Get("Variables", name));
        }
        catch (Exception)
        {
            throw new CommandError("Unable to parse existing variable file");
        }
        _allVariables = allvars;
    }

    private void CmdSaveVariable(GCodeCommand gcmd)
    {
        string varname = gcmd.Get("VARIABLE");
        if (varname.ToLowerInvariant() != varname)
            throw gcmd.Error("VARIABLE must not contain upper case");
        string value = gcmd.Get("VALUE");
        object? literal;
        try
        {
            literal = PyLiteral.Parse(value);
        }
        catch (FormatException)
        {
            throw gcmd.Error($"Unable to parse '{value}' as a literal");
        }
        var newvars = new Dictionary<string, object?>(_allVariables) { [varname] = literal };
        var sb = new StringBuilder("[Variables]\n");
        foreach (var (name, val) in newvars.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append(name).Append(" = ").Append(JinjaValue.Repr(val).Replace("\n", "\n\t")).Append('\n');
        sb.Append('\n');
        try
        {
            File.WriteAllText(_filename, sb.ToString());
        }
        catch (IOException)
        {
            throw gcmd.Error("Unable to save variable");
        }
        LoadVariables();
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["variables"] = _allVariables };
}
