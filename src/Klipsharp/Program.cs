using Klipsharp.Verbs;

namespace Klipsharp;

/// <summary>Command-line entry point: dispatches to the verbs.</summary>
public static class Program
{
    private const string Usage =
        "usage: klipsharp <verb> ...\n" +
        "  batch CONFIG -i GCODE -o OUT -d DICT [-d NAME=DICT]...   write the MCU command stream for a G-code file\n" +
        "  decode DICT SERIAL                                        print a binary MCU stream as text\n" +
        "  run CONFIG [-I PTY] [-l LOG] [--print FILE]               run the printer host live (serial: sim:atmega2560 = built-in simulated MCU)\n" +
        "  sim-mcu [--pty PATH | --socket PATH] [--board NAME] [--machine FILE | --no-machine] [--dict-out FILE]\n" +
        "                                                            run a simulated MCU\n";

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Error.Write(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        string[] rest = args[1..];
        switch (args[0])
        {
            case "decode":
                return DecodeVerb.Run(rest);
            case "batch":
                return BatchVerb.Run(rest);
            case "run":
                return RunVerb.Run(rest);
            case "sim-mcu":
                return SimMcuVerb.Run(rest);
            default:
                Console.Error.WriteLine($"klipsharp: unknown verb '{args[0]}'");
                Console.Error.Write(Usage);
                return 2;
        }
    }
}
