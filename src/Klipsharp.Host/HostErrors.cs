namespace Klipsharp.Host;

/// <summary>An error in a G-code command; reported to the user, the printer keeps running (upstream gcode.CommandError).</summary>
public class CommandError : Exception
{
    public CommandError(string message) : base(message) { }
}

/// <summary>A pin description or pin sharing error (upstream pins.error); fatal at startup like a config error.</summary>
public sealed class PinError : Exception
{
    public PinError(string message) : base(message) { }
}

/// <summary>A micro-controller communication or configuration error (upstream mcu.error).</summary>
public sealed class McuError : CommandError
{
    public McuError(string message) : base(message) { }
}
