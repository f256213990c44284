using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>Expands MCU shutdown and connect errors into user-facing explanations (upstream error_mcu PrinterMCUError).</summary>
public sealed class PrinterMcuError
{
    public const string MessageShutdown = "\nOnce the underlying issue is corrected, use the\n\"FIRMWARE_RESTART\" command to reset the firmware, reload the\nconfig, and restart the host software.\nPrinter is shutdown\n";
    public const string MessageProtocolError1 = "\nThis is frequently caused by running an older version of the\nfirmware on the MCU(s). Fix by recompiling and flashing the\nfirmware.\n";
    public const string MessageProtocolError2 = "\nOnce the underlying issue is corrected, use the \"RESTART\"\ncommand to reload the config and restart the host software.\n";
    public const string MessageMcuConnectError = "\nOnce the underlying issue is corrected, use the\n\"FIRMWARE_RESTART\" command to reset the firmware, reload the\nconfig, and restart the host software.\nError configuring printer\n";

    private static readonly (string[] Prefixes, string Help)[] CommonMcuErrors =
    [
        (["Timer too close"], "\nThis often indicates the host computer is overloaded. Check\nfor other processes consuming excessive CPU time, high swap\nusage, disk errors, overheating, unstable voltage, or\nsimilar system problems on the host computer."),
        (["Missed scheduling of next "], "\nThis is generally indicative of an intermittent\ncommunication failure between micro-controller and host."),
        (["ADC out of range"], "\nThis generally occurs when a heater temperature exceeds\nits configured min_temp or max_temp."),
        (["Rescheduled timer in the past", "Stepper too far in past"], "\nThis generally occurs when the micro-controller has been\nrequested to step at a rate higher than it is capable of\nobtaining."),
        (["Command request"], "\nThis generally occurs in response to an M112 G-Code command\nor in response to an internal error in the host software."),
    ];

    private readonly Printer _printer;
    private readonly Dictionary<string, List<Func<string, IReadOnlyDictionary<string, object?>, string?>>> _clarifyCallbacks = new();

    public PrinterMcuError(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _printer.RegisterEventHandler<string, IReadOnlyDictionary<string, object?>>("klippy:analyze_shutdown", HandleAnalyzeShutdown);
        _printer.RegisterEventHandler<string, IReadOnlyDictionary<string, object?>>("klippy:notify_mcu_error", HandleNotifyMcuError);
    }

    public static string ErrorHint(string msg)
    {
        foreach (var (prefixes, help) in CommonMcuErrors)
            foreach (var prefix in prefixes)
                if (msg.StartsWith(prefix, StringComparison.Ordinal))
                    return help;
        return "";
    }

    public void AddClarify(string msg, Func<string, IReadOnlyDictionary<string, object?>, string?> callback)
    {
        if (!_clarifyCallbacks.TryGetValue(msg, out var list))
            _clarifyCallbacks[msg] = list = new();
        list.Add(callback);
    }

    private static string Str(IReadOnlyDictionary<string, object?> d, string key) =>
        d.TryGetValue(key, out var v) ? PyFormat.Str(v) : "";

    private void CheckMcuShutdown(string msg, IReadOnlyDictionary<string, object?> details)
    {
        string mcuName = Str(details, "mcu");
        string mcuMsg = Str(details, "reason");
        string eventType = Str(details, "event_type");
        string prefix = $"MCU '{mcuName}' shutdown: ";
        if (eventType == "is_shutdown")
            prefix = $"Previous MCU '{mcuName}' shutdown: ";
        string hint = ErrorHint(mcuMsg);
        var clarify = new List<string>();
        if (_clarifyCallbacks.TryGetValue(mcuMsg, out var cbs))
            foreach (var cb in cbs)
                if (cb(msg, details) is string cm)
                    clarify.Add(cm);
        string clarifyMsg = "";
        if (clarify.Count > 0)
            clarifyMsg = string.Join("\n", new[] { "", "" }.Concat(clarify).Append(""));
        _printer.UpdateErrorMessage(msg, $"{prefix}{mcuMsg}{clarifyMsg}{hint}{MessageShutdown}");
    }

    private void HandleAnalyzeShutdown(string msg, IReadOnlyDictionary<string, object?> details)
    {
        if (msg == "MCU shutdown")
            CheckMcuShutdown(msg, details);
        else
            _printer.UpdateErrorMessage(msg, msg + MessageShutdown);
    }

    private void CheckProtocolError(string msg, IReadOnlyDictionary<string, object?> details)
    {
        string hostVersion = GCodeDispatch.SoftwareVersion;
        var msgUpdate = new List<string>();
        var msgUpdated = new List<string>();
        foreach (var (mcuName, obj) in _printer.LookupObjects("mcu"))
        {
            if (obj is not IStatusProvider sp)
                continue;
            string mcuVersion = PyFormat.Str(sp.GetStatus(0.0).GetValueOrDefault("mcu_version"));
            string shortName = mcuName.Split(' ')[^1];
            if (mcuVersion != hostVersion)
                msgUpdate.Add($"{shortName}: Current version {mcuVersion}");
            else
                msgUpdated.Add($"{shortName}: Current version {mcuVersion}");
        }
        if (msgUpdate.Count == 0)
            msgUpdate.Add("<none>");
        if (msgUpdated.Count == 0)
            msgUpdated.Add("<none>");
        var newmsg = new List<string> { "MCU Protocol error", MessageProtocolError1,
            $"Your Klipper version is: {hostVersion}", "MCU(s) which should be updated:" };
        newmsg.AddRange(msgUpdate);
        newmsg.Add("Up-to-date MCU(s):");
        newmsg.AddRange(msgUpdated);
        newmsg.Add(MessageProtocolError2);
        newmsg.Add(Str(details, "error"));
        _printer.UpdateErrorMessage(msg, string.Join("\n", newmsg));
    }

    private void HandleNotifyMcuError(string msg, IReadOnlyDictionary<string, object?> details)
    {
        if (msg == "Protocol error")
            CheckProtocolError(msg, details);
        else if (msg == "MCU error during connect")
            _printer.UpdateErrorMessage(msg, Str(details, "error") + MessageMcuConnectError);
    }
}
