using System.Text.Json;

namespace Klipsharp.SimMcu;

/// <summary>
/// Reads a <see cref="SimMachine"/> from JSON:
/// <c>{"axes": [{"step_pin": "PF0", "endstop_pin": "PE5", "trigger_position": 0,
/// "trigger_direction": -1, "start_position": 8000, "invert_dir": false, "triggered_level": 1}],
/// "heaters": [{"heater_pin": "PB4", "sensor_pin": "PK5", "power": 40, "heat_capacity": 15,
/// "loss": 0.1, "ambient": 25, "pullup": 4700, "inline_resistor": 0,
/// "thermistor": {"t1": 25, "r1": 100000, "beta": 3950}}]}</c>
/// (positions in steps; a thermistor gives <c>beta</c> or three points t1/r1, t2/r2, t3/r3;
/// without one it is the EPCOS 100K curve).
/// </summary>
public static class SimMachineJson
{
    /// <summary>Parses machine JSON; throws <see cref="FormatException"/> naming the bad entry.</summary>
    public static SimMachine Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException("machine description is not valid JSON: " + e.Message);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new FormatException("machine description must be a JSON object");
            var machine = new SimMachine();
            foreach (var p in root.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "axes":
                        int i = 0;
                        foreach (var a in Array(p.Value, "axes"))
                            machine.Axes.Add(ParseAxis(a, $"axes[{i++}]"));
                        break;
                    case "heaters":
                        int j = 0;
                        foreach (var h in Array(p.Value, "heaters"))
                            machine.Heaters.Add(ParseHeater(h, $"heaters[{j++}]"));
                        break;
                    default:
                        throw new FormatException($"unknown machine key '{p.Name}'");
                }
            }
            return machine;
        }
    }

    /// <summary>Reads a machine JSON file.</summary>
    public static SimMachine Load(string path) => Parse(File.ReadAllText(path));

    private static JsonElement.ArrayEnumerator Array(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Array)
            throw new FormatException($"'{where}' must be a list");
        return e.EnumerateArray();
    }

    private static SimAxis ParseAxis(JsonElement e, string where)
    {
        var v = Fields(e, where, "step_pin", "endstop_pin", "trigger_position", "trigger_direction", "start_position", "invert_dir", "triggered_level");
        int dir = (int)Int(v, "trigger_direction", where, -1);
        if (dir != -1 && dir != 1)
            throw new FormatException($"{where}.trigger_direction must be -1 or 1");
        return new SimAxis
        {
            StepPin = Str(v, "step_pin", where) ?? throw new FormatException($"{where}.step_pin is required"),
            EndstopPin = Str(v, "endstop_pin", where),
            TriggerPosition = Int(v, "trigger_position", where, 0),
            TriggerDirection = dir,
            StartPosition = Int(v, "start_position", where, 0),
            InvertDir = Bool(v, "invert_dir", where, false),
            TriggeredLevel = (int)Int(v, "triggered_level", where, 1),
        };
    }

    private static SimHeater ParseHeater(JsonElement e, string where)
    {
        var v = Fields(e, where, "heater_pin", "sensor_pin", "power", "heat_capacity", "loss", "ambient", "pullup", "inline_resistor", "thermistor");
        var th = SimThermistor.Epcos100K();
        if (v.TryGetValue("thermistor", out var t))
        {
            string tw = where + ".thermistor";
            var tv = Fields(t, tw, "t1", "r1", "t2", "r2", "t3", "r3", "beta");
            if (tv.ContainsKey("beta"))
                th = SimThermistor.FromBeta(Num(tv, "t1", tw, 25), Num(tv, "r1", tw, 100000), Num(tv, "beta", tw, 3950));
            else
                th = SimThermistor.FromPoints(Num(tv, "t1", tw, double.NaN), Num(tv, "r1", tw, double.NaN),
                    Num(tv, "t2", tw, double.NaN), Num(tv, "r2", tw, double.NaN), Num(tv, "t3", tw, double.NaN), Num(tv, "r3", tw, double.NaN));
        }
        double capacity = Num(v, "heat_capacity", where, 15);
        if (capacity <= 0)
            throw new FormatException($"{where}.heat_capacity must be above 0");
        return new SimHeater
        {
            HeaterPin = Str(v, "heater_pin", where) ?? throw new FormatException($"{where}.heater_pin is required"),
            SensorPin = Str(v, "sensor_pin", where) ?? throw new FormatException($"{where}.sensor_pin is required"),
            PowerWatts = Num(v, "power", where, 40),
            HeatCapacity = capacity,
            LossCoefficient = Num(v, "loss", where, 0.1),
            AmbientTemp = Num(v, "ambient", where, 25),
            PullupResistor = Num(v, "pullup", where, 4700),
            InlineResistor = Num(v, "inline_resistor", where, 0),
            Thermistor = th,
        };
    }

    private static Dictionary<string, JsonElement> Fields(JsonElement e, string where, params string[] known)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new FormatException($"'{where}' must be an object");
        var d = new Dictionary<string, JsonElement>();
        foreach (var p in e.EnumerateObject())
        {
            if (System.Array.IndexOf(known, p.Name) < 0)
                throw new FormatException($"unknown key '{p.Name}' in {where}");
            d[p.Name] = p.Value.Clone();
        }
        return d;
    }

    private static string? Str(Dictionary<string, JsonElement> v, string key, string where)
    {
        if (!v.TryGetValue(key, out var e) || e.ValueKind == JsonValueKind.Null)
            return null;
        if (e.ValueKind != JsonValueKind.String)
            throw new FormatException($"{where}.{key} must be a string");
        return e.GetString();
    }

    private static long Int(Dictionary<string, JsonElement> v, string key, string where, long def)
    {
        if (!v.TryGetValue(key, out var e))
            return def;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long l))
            throw new FormatException($"{where}.{key} must be an integer");
        return l;
    }

    private static double Num(Dictionary<string, JsonElement> v, string key, string where, double def)
    {
        if (!v.TryGetValue(key, out var e))
        {
            if (double.IsNaN(def))
                throw new FormatException($"{where}.{key} is required");
            return def;
        }
        if (e.ValueKind != JsonValueKind.Number)
            throw new FormatException($"{where}.{key} must be a number");
        return e.GetDouble();
    }

    private static bool Bool(Dictionary<string, JsonElement> v, string key, string where, bool def)
    {
        if (!v.TryGetValue(key, out var e))
            return def;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new FormatException($"{where}.{key} must be true or false"),
        };
    }
}
