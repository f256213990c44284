namespace Klipsharp.Host.Configuration;

/// <summary>A config file or config option error (upstream configparser.Error); the message is shown to the user as-is.</summary>
public class ConfigError : Exception
{
    /// <summary>Creates an error with the given user-visible message.</summary>
    public ConfigError(string message) : base(message) { }

    /// <summary>Creates an error with the given user-visible message and its cause.</summary>
    public ConfigError(string message, Exception inner) : base(message, inner) { }
}
