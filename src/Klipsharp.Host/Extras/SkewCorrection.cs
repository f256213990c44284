using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[skew_correction]: corrects XY/XZ/YZ frame skew in every move (upstream skew_correction.PrinterSkew).</summary>
public sealed class PrinterSkew : IMoveTransform, IStatusProvider
{
    public const string CmdGetCurrentSkewHelp = "Report current printer skew";
    public const string CmdCalcMeasuredSkewHelp = "Calculate skew from measured print";
    public const string CmdSetSkewHelp = "Set skew based on lengths of measured object";
    public const string CmdSkewProfileHelp = "Profile management for skew_correction";

    private readonly Printer _printer;
    private readonly string _name;
    private string _currentProfileName = "";
    private double _xyFactor, _xzFactor, _yzFactor;
    private readonly Dictionary<string, (double Xy, double Xz, double Yz)> _skewProfiles = new();
    private IMoveTransform? _nextTransform;

    public PrinterSkew(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _name = config.Name;
        LoadStorage(config);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("GET_CURRENT_SKEW", CmdGetCurrentSkew, desc: CmdGetCurrentSkewHelp);
        gcode.RegisterCommand("CALC_MEASURED_SKEW", CmdCalcMeasuredSkew, desc: CmdCalcMeasuredSkewHelp);
        gcode.RegisterCommand("SET_SKEW", CmdSetSkew, desc: CmdSetSkewHelp);
        gcode.RegisterCommand("SKEW_PROFILE", CmdSkewProfile, desc: CmdSkewProfileHelp);
    }

    /// <summary>The skew angle factor for a measured parallelogram (upstream calc_skew_factor).</summary>
    public static double CalcSkewFactor(double ac, double bd, double ad)
    {
        double side = Math.Sqrt(2 * ac * ac + 2 * bd * bd - 4 * ad * ad) / 2.0;
        return Math.Tan(Math.PI / 2 - Math.Acos((ac * ac - side * side - ad * ad) / (2 * side * ad)));
    }

    private static double Degrees(double rad) => rad * (180.0 / Math.PI);

    private void HandleConnect()
    {
        var gcodeMove = _printer.LookupObject<GCodeMove>("gcode_move");
        _nextTransform = gcodeMove.SetMoveTransform(this, force: true);
    }

    private void LoadStorage(ConfigWrapper config)
    {
        foreach (var profile in config.GetPrefixSections(_name))
        {
            if (profile.Name == _name)
                continue;
            int sp = profile.Name.IndexOf(' ');
            string name = sp < 0 ? "" : profile.Name[(sp + 1)..];
            _skewProfiles[name] = (profile.GetFloat("xy_skew"), profile.GetFloat("xz_skew"), profile.GetFloat("yz_skew"));
        }
    }

    /// <summary>Machine position for a requested position.</summary>
    public double[] CalcSkew(IReadOnlyList<double> pos)
    {
        var r = pos.ToArray();
        r[0] = pos[0] - pos[1] * _xyFactor - pos[2] * (_xzFactor - (_xyFactor * _yzFactor));
        r[1] = pos[1] - pos[2] * _yzFactor;
        return r;
    }

    /// <summary>Requested position for a machine position.</summary>
    public double[] CalcUnskew(IReadOnlyList<double> pos)
    {
        var r = pos.ToArray();
        r[0] = pos[0] + pos[1] * _xyFactor + pos[2] * _xzFactor;
        r[1] = pos[1] + pos[2] * _yzFactor;
        return r;
    }

    public double[] GetPosition() => CalcUnskew(_nextTransform!.GetPosition());

    public void Move(IReadOnlyList<double> newpos, double speed) => _nextTransform!.Move(CalcSkew(newpos), speed);

    private void UpdateSkew(double xy, double xz, double yz)
    {
        _xyFactor = xy;
        _xzFactor = xz;
        _yzFactor = yz;
        _printer.LookupObject<GCodeMove>("gcode_move").ResetLastPosition();
    }

    private void CmdGetCurrentSkew(GCodeCommand gcmd)
    {
        string output = "Current Printer Skew:";
        foreach (var (plane, fac) in new[] { ("XY", _xyFactor), ("XZ", _xzFactor), ("YZ", _yzFactor) })
            output += "\n" + plane + $" Skew: {PyFmt.F(fac, 6)} radians, {PyFmt.F(Degrees(fac), 2)} degrees";
        gcmd.RespondInfo(output);
    }

    private void CmdCalcMeasuredSkew(GCodeCommand gcmd)
    {
        double ac = gcmd.GetFloat("AC", above: 0.0);
        double bd = gcmd.GetFloat("BD", above: 0.0);
        double ad = gcmd.GetFloat("AD", above: 0.0);
        double factor = CalcSkewFactor(ac, bd, ad);
        gcmd.RespondInfo($"Calculated Skew: {PyFmt.F(factor, 6)} radians, {PyFmt.F(Degrees(factor), 2)} degrees");
    }

    private void CmdSetSkew(GCodeCommand gcmd)
    {
        if (gcmd.GetInt("CLEAR", 0) != 0)
        {
            UpdateSkew(0.0, 0.0, 0.0);
            return;
        }
        foreach (string plane in new[] { "XY", "XZ", "YZ" })
        {
            string? lengths = gcmd.GetOrNull(plane);
            if (lengths is null)
                continue;
            double[] l;
            try
            {
                var parts = PyFormat.Strip(lengths).Split(',', 3);
                l = parts.Select(p => double.Parse(PyFormat.Strip(p), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                if (l.Length != 3)
                    throw new FormatException();
            }
            catch (Exception)
            {
                throw gcmd.Error($"skew_correction: improperly formatted entry for plane [{plane}]\n{gcmd.GetCommandline()}");
            }
            double factor = CalcSkewFactor(l[0], l[1], l[2]);
            switch (plane)
            {
                case "XY": _xyFactor = factor; break;
                case "XZ": _xzFactor = factor; break;
                default: _yzFactor = factor; break;
            }
        }
    }

    private void CmdSkewProfile(GCodeCommand gcmd)
    {
        if (gcmd.GetOrNull("LOAD") is string load)
        {
            _currentProfileName = load;
            if (!_skewProfiles.TryGetValue(load, out var prof))
            {
                gcmd.RespondInfo($"skew_correction:  Load failed, unknown profile [{load}]");
                return;
            }
            UpdateSkew(prof.Xy, prof.Xz, prof.Yz);
        }
        else if (gcmd.GetOrNull("SAVE") is string save)
        {
            var configfile = _printer.LookupObject<PrinterConfig>("configfile");
            string cfgName = _name + " " + save;
            configfile.Set(cfgName, "xy_skew", _xyFactor);
            configfile.Set(cfgName, "xz_skew", _xzFactor);
            configfile.Set(cfgName, "yz_skew", _yzFactor);
            _skewProfiles[save] = (_xyFactor, _xzFactor, _yzFactor);
            gcmd.RespondInfo($"Skew Correction state has been saved to profile [{save}]\nfor the current session.  The SAVE_CONFIG command will\nupdate the printer config file and restart the printer.");
        }
        else if (gcmd.GetOrNull("REMOVE") is string remove)
        {
            if (_skewProfiles.Remove(remove))
            {
                _printer.LookupObject<PrinterConfig>("configfile").RemoveSection("skew_correction " + remove);
                gcmd.RespondInfo($"Profile [{remove}] removed from storage for this session.\nThe SAVE_CONFIG command will update the printer\nconfiguration and restart the printer");
            }
            else
            {
                gcmd.RespondInfo($"skew_correction: No profile named [{remove}] to remove");
            }
        }
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["current_profile_name"] = _currentProfileName };
}
