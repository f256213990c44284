using System.IO.Compression;

namespace Klipsharp.Protocol.Tests;

/// <summary>Finds the shared conformance corpus beside the repository.</summary>
internal static class Corpus
{
    private static readonly Lazy<string> RootDir = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Klipsharp.sln")))
            dir = dir.Parent;
        if (dir == null)
            throw new InvalidOperationException("Klipsharp.sln not found above " + AppContext.BaseDirectory);
        return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "golden"));
    });

    public static string Golden => RootDir.Value;

    public static string Dict(string name) => Path.Combine(Golden, "dict", name);

    public static byte[] Gunzip(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }
}
