using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Kinematics;

/// <summary>The toolhead's kinematics (upstream's duck-typed kinematics classes in kinematics/*.py).</summary>
public interface IKinematics : IHomingKinematics
{

    /// <summary>Sets the position; <paramref name="homingAxes"/> ("xyz" letters) become homed.</summary>
    void SetPosition(double[] newpos, string homingAxes);

    /// <summary>Forgets the homed state of the axes named in <paramref name="clearAxes"/>.</summary>
    void ClearHomingState(string clearAxes);

    void Home(Homing homingState);

    /// <summary>Validates (throw move.MoveError) and speed-limits a kinematic move.</summary>
    void CheckMove(Move move);

    Dictionary<string, object?> GetStatus(double eventtime);
}

/// <summary>An axis beyond x/y/z driven by the toolhead (upstream "extra axes": extruders, manual steppers).</summary>
public interface IExtraAxis
{
    /// <summary>Printer object name ("" for none); keys the toolhead's extra_axes status.</summary>
    string GetName();

    /// <summary>The G-code letter of this axis (upstream get_axis_gcode_id).</summary>
    string? GetAxisGcodeId();

    void CheckMove(Move move, int eaIndex);

    /// <summary>The maximum junction velocity squared this axis allows between two moves.</summary>
    double CalcJunction(Move prevMove, Move move, int eaIndex);

    void ProcessMove(double printTime, Move move, int eaIndex);
}

/// <summary>An extruder as seen by the toolhead: an extra axis with a heater and a trapq (PrinterExtruder or DummyExtruder).</summary>
public interface IExtruder : IExtraAxis
{
    double FindPastPosition(double printTime);

    /// <summary>The extruder's heater; throws "Extruder not configured" on the dummy extruder.</summary>
    Heater GetHeater();

    Klipsharp.Motion.TrapQ? GetTrapq();
}

/// <summary>Creates the kinematics named by the [printer] "kinematics" option (upstream load_kinematics modules).</summary>
public static partial class KinematicsFactory
{
    private static Dictionary<string, Func<ToolHead, ConfigWrapper, IKinematics>>? _table;

    private static Dictionary<string, Func<ToolHead, ConfigWrapper, IKinematics>> Table
    {
        get
        {
            if (_table is null)
            {
                var t = new Dictionary<string, Func<ToolHead, ConfigWrapper, IKinematics>>(StringComparer.Ordinal)
                {
                    ["cartesian"] = (th, c) => new CartKinematics(th, c),
                    ["corexy"] = (th, c) => new CoreXYKinematics(th, c),
                    ["corexz"] = (th, c) => new CoreXZKinematics(th, c),
                    ["hybrid_corexy"] = (th, c) => new HybridCoreKinematics(th, c, coupledAxis: 1),
                    ["hybrid_corexz"] = (th, c) => new HybridCoreKinematics(th, c, coupledAxis: 2),
                    ["none"] = (th, c) => new NoneKinematics(th, c),
                };
                RegisterOtherKinematics(t);
                _table = t;
            }
            return _table;
        }
    }

    /// <summary>Adds the kinematics implemented in other files (delta, polar, winch, ...).</summary>
    static partial void RegisterOtherKinematics(Dictionary<string, Func<ToolHead, ConfigWrapper, IKinematics>> table);

    /// <summary>Loads kinematics <paramref name="name"/>; unknown names and unexpected failures become "Error loading kinematics".</summary>
    public static IKinematics Load(string name, ToolHead toolhead, ConfigWrapper config)
    {
        try
        {
            if (!Table.TryGetValue(name, out var factory))
                throw new InvalidOperationException($"No module named 'kinematics.{name}'");
            return factory(toolhead, config);
        }
        catch (ConfigError)
        {
            throw;
        }
        catch (PinError)
        {
            throw;
        }
        catch (Exception e)
        {
            string msg = $"Error loading kinematics '{name}'";
            toolhead.Printer.Log?.Invoke($"{msg}\n{e}");
            throw new ConfigError(msg);
        }
    }
}
