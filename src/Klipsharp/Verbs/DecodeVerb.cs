using System.IO.Compression;
using System.Text;
using Klipsharp.Protocol;

namespace Klipsharp.Verbs;

/// <summary>The <c>decode DICT SERIAL</c> verb: prints a binary MCU stream as text, one line per message.</summary>
public static class DecodeVerb
{
    private const string Usage = "usage: klipsharp decode DICT SERIAL   (SERIAL may be gzip-compressed, *.gz)";

    /// <summary>Runs the verb; returns the exit status.</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 1 && args[0] is "-h" or "--help")
        {
            Console.Out.WriteLine(Usage);
            return 0;
        }
        if (args.Length != 2)
        {
            Console.Error.WriteLine("klipsharp decode: expected 2 arguments, got " + args.Length);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        DataDictionary dictionary;
        try
        {
            dictionary = DataDictionary.Load(args[0]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ProtocolError or ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"klipsharp decode: cannot read dictionary '{args[0]}': {e.Message}");
            return 1;
        }
        byte[] data;
        try
        {
            data = ReadSerial(args[1]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"klipsharp decode: cannot read '{args[1]}': {e.Message}");
            return 1;
        }
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { NewLine = "\n" };
        MessageDecoder.Decode(dictionary, data, stdout.WriteLine);
        return 0;
    }

    private static byte[] ReadSerial(string path)
    {
        if (!path.EndsWith(".gz", StringComparison.Ordinal))
            return File.ReadAllBytes(path);
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }
}
