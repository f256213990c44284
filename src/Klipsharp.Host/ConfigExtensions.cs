using Klipsharp.Host.Configuration;

namespace Klipsharp.Host;

/// <summary>Host-side helpers on config sections.</summary>
public static class ConfigExtensions
{
    /// <summary>The printer that owns this config (upstream config.get_printer()).</summary>
    public static Printer GetPrinter(this ConfigWrapper config) =>
        config.Owner as Printer ?? throw new InvalidOperationException("config section has no printer");
}
