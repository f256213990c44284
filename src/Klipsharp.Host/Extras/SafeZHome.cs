using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[safe_z_home]: homes Z at a fixed XY position (upstream safe_z_home SafeZHoming).</summary>
public sealed class SafeZHoming
{
    private readonly Printer _printer;
    private readonly double _homeXPos, _homeYPos, _zHop, _zHopSpeed, _maxZ, _speed;
    private readonly bool _moveToPrevious;
    private readonly GCodeDispatch _gcode;
    private readonly Action<GCodeCommand> _prevG28;

    public SafeZHoming(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var xy = config.GetFloatList("home_xy_position", count: 2);
        _homeXPos = xy[0];
        _homeYPos = xy[1];
        _zHop = config.GetFloat("z_hop", 0.0);
        _zHopSpeed = config.GetFloat("z_hop_speed", 15.0, above: 0.0);
        var zconfig = LookupZEndstopConfig(config) ?? throw config.Error("Missing Z endstop config for safe_z_homing");
        _maxZ = zconfig.GetFloat("position_max", noteValid: false);
        _speed = config.GetFloat("speed", 50.0, above: 0.0);
        _moveToPrevious = config.GetBoolean("move_to_previous", false);
        _printer.LoadObject(config, "homing");
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _prevG28 = _gcode.RegisterCommand("G28", null) ?? throw config.Error("G28 command not registered");
        _gcode.RegisterCommand("G28", CmdG28);
        if (config.HasSection("homing_override"))
            throw config.Error("homing_override and safe_z_homing cannot be used simultaneously");
    }

    /// <summary>The config section holding the Z endstop (upstream manual_probe.lookup_z_endstop_config).</summary>
    public static ConfigWrapper? LookupZEndstopConfig(ConfigWrapper config)
    {
        if (config.HasSection("stepper_z"))
            return config.GetSection("stepper_z");
        foreach (var cconfig in config.GetPrefixSections("carriage "))
        {
            string carriageName = PyFormat.Strip(cconfig.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1]);
            string axisName = cconfig.Get("axis", carriageName, noteValid: false);
            if (axisName == "z")
                return cconfig;
        }
        return null;
    }

    private static string HomedAxes(ToolHead toolhead, double curtime) =>
        toolhead.GetKinematics().GetStatus(curtime)["homed_axes"] as string ?? "";

    private void CmdG28(GCodeCommand gcmd)
    {
        var toolhead = _printer.LookupObject<ToolHead>("toolhead");
        if (_zHop != 0.0)
        {
            double curtime = _printer.Reactor.Monotonic();
            string homed = HomedAxes(toolhead, curtime);
            var pos = toolhead.GetPosition();
            if (!homed.Contains('z'))
            {
                pos[2] = 0;
                toolhead.SetPosition(pos, homingAxes: "z");
                toolhead.ManualMove([null, null, _zHop], _zHopSpeed);
                toolhead.GetKinematics().ClearHomingState("z");
            }
            else if (pos[2] < _zHop)
            {
                toolhead.ManualMove([null, null, _zHop], _zHopSpeed);
            }
        }
        bool needX = gcmd.GetOrNull("X") is not null;
        bool needY = gcmd.GetOrNull("Y") is not null;
        bool needZ = gcmd.GetOrNull("Z") is not null;
        if (!needX && !needY && !needZ)
            needX = needY = needZ = true;
        var newParams = new Dictionary<string, string>();
        if (needX)
            newParams["X"] = "0";
        if (needY)
            newParams["Y"] = "0";
        if (newParams.Count > 0)
            _prevG28(_gcode.CreateGCodeCommand("G28", "G28", newParams));
        if (needZ)
        {
            double curtime = _printer.Reactor.Monotonic();
            string homed = HomedAxes(toolhead, curtime);
            if (!homed.Contains('x') || !homed.Contains('y'))
                throw gcmd.Error("Must home X and Y axes first");
            var prevpos = toolhead.GetPosition();
            toolhead.ManualMove([_homeXPos, _homeYPos], _speed);
            _prevG28(_gcode.CreateGCodeCommand("G28", "G28", new Dictionary<string, string> { ["Z"] = "0" }));
            if (_zHop != 0.0)
            {
                var pos = toolhead.GetPosition();
                if (pos[2] < _zHop)
                    toolhead.ManualMove([null, null, _zHop], _zHopSpeed);
            }
            if (_moveToPrevious)
                toolhead.ManualMove([prevpos[0], prevpos[1]], _speed);
        }
    }
}
