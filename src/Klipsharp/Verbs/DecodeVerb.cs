namespace Klipsharp.Verbs;

/// <summary>The <c>decode DICT SERIAL</c> verb (placeholder until the protocol library lands).</summary>
public static class DecodeVerb
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("klipsharp decode: not implemented yet");
        return 1;
    }
}
