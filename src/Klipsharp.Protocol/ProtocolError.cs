namespace Klipsharp.Protocol;

/// <summary>An MCU protocol error (upstream <c>msgproto.error</c>): unknown command, bad parameters, bad dictionary.</summary>
public class ProtocolError : Exception
{
    /// <summary>Creates the error with the complete message text.</summary>
    public ProtocolError(string message) : base(message)
    {
    }

    /// <summary>Creates the error with the complete message text and its cause.</summary>
    public ProtocolError(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>A value that is not a member of an enumeration (upstream <c>enumeration_error</c>).</summary>
public sealed class EnumerationError : ProtocolError
{
    /// <summary>Creates the error for <paramref name="value"/> missing from enumeration <paramref name="enumName"/>.</summary>
    public EnumerationError(string enumName, string value)
        : base($"Unknown value '{value}' in enumeration '{enumName}'")
    {
        EnumName = enumName;
        Value = value;
    }

    /// <summary>The enumeration's name (e.g. <c>pin</c>).</summary>
    public string EnumName { get; }

    /// <summary>The value that was not found.</summary>
    public string Value { get; }
}
