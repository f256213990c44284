using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Extras;

/// <summary>[canbus_ids]: assigns CAN node ids to canbus_uuid values (upstream canbus_ids.PrinterCANBus).</summary>
public sealed class PrinterCANBus
{
    public const int NodeidFirst = 4;

    private readonly Dictionary<string, int> _ids = new();

    public PrinterCANBus(ConfigWrapper config)
    {
    }

    /// <summary>Registers a uuid and returns its node id.</summary>
    public int AddUuid(ConfigWrapper config, string canbusUuid, string canbusIface)
    {
        if (_ids.ContainsKey(canbusUuid))
            throw config.Error("Duplicate canbus_uuid");
        int newId = _ids.Count + NodeidFirst;
        _ids[canbusUuid] = newId;
        return newId;
    }

    public int GetNodeid(string canbusUuid) =>
        _ids.TryGetValue(canbusUuid, out int id) ? id : throw new ConfigError($"Unknown canbus_uuid {canbusUuid}");
}
