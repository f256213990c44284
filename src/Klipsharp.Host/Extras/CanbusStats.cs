using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>[canbus_stats NAME]: polls a CAN MCU's bus error counters (upstream canbus_stats.PrinterCANBusStats).</summary>
public sealed class PrinterCANBusStats : IStatusProvider, IStatsProvider
{
    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly string _name;
    private Mcu.Mcu? _mcu;
    private McuQueryCommand? _getCanbusStatusCmd;
    private Dictionary<string, object?> _status = new()
    {
        ["rx_error"] = null, ["tx_error"] = null, ["tx_retries"] = null, ["bus_state"] = null,
    };

    public PrinterCANBusStats(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _reactor = _printer.Reactor;
        _name = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[^1];
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _printer.RegisterEventHandler("klippy:shutdown", HandleShutdown);
    }

    private void HandleShutdown()
    {
        if (_status["bus_state"] is null)
            return;
        // The values may be stale after a shutdown
        _status = new Dictionary<string, object?>(_status) { ["bus_state"] = "unknown" };
    }

    private void HandleConnect()
    {
        string mcuName = _name == "mcu" ? _name : "mcu " + _name;
        _mcu = _printer.LookupObject<Mcu.Mcu>(mcuName);
        if (_mcu.TryLookupCommand("get_canbus_status") is null)
            return;
        _getCanbusStatusCmd = _mcu.LookupQueryCommand("get_canbus_status",
            "canbus_status rx_error=%u tx_error=%u tx_retries=%u canbus_bus_state=%u");
        if (_mcu.CheckValidResponse("usb_canbus_state discard=%u"))
            _mcu.RegisterResponse(HandleUsbCanbusState, "usb_canbus_state discard=%u");
        // A batch run has no MCU to answer the periodic query
        if (!_mcu.IsFileOutput)
            _reactor.RegisterTimer(QueryEvent, Reactor.Now);
    }

    private void HandleUsbCanbusState(McuResponse p) =>
        _printer.Log?.Invoke(p["discard"] != 0
            ? $"USB CANBUS bridge '{_name}' is discarding!"
            : $"USB CANBUS bridge '{_name}' is no longer discarding.");

    private double QueryEvent(double eventtime)
    {
        long prevRx = (long?)_status["rx_error"] ?? 0;
        long prevTx = (long?)_status["tx_error"] ?? 0;
        long prevRetries = (long?)_status["tx_retries"] ?? 0;
        var p = _getCanbusStatusCmd!.Send();
        long rx = prevRx + ((p["rx_error"] - prevRx) & 0xffffffff);
        long tx = prevTx + ((p["tx_error"] - prevTx) & 0xffffffff);
        long retries = prevRetries + ((p["tx_retries"] - prevRetries) & 0xffffffff);
        _status = new()
        {
            ["rx_error"] = rx, ["tx_error"] = tx, ["tx_retries"] = retries, ["bus_state"] = p["canbus_bus_state"],
        };
        return _reactor.Monotonic() + 1.0;
    }

    public (bool IsActive, string Message) Stats(double eventtime)
    {
        var s = _status;
        if (s["rx_error"] is null)
            return (false, "");
        return (false, $"canstat_{_name}: bus_state={s["bus_state"]} rx_error={s["rx_error"]} tx_error={s["tx_error"]} tx_retries={s["tx_retries"]}");
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _status;
}
