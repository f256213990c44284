namespace Klipsharp.Verbs;

/// <summary>The <c>batch CONFIG -i GCODE -o OUT -d DICT</c> verb (placeholder until the host lands).</summary>
public static class BatchVerb
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("klipsharp batch: not implemented yet");
        return 1;
    }
}
