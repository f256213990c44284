using System.IO.Compression;

namespace Klipsharp.Protocol.Tests;

/// <summary>Finds the shared conformance corpus beside the repository.</summary>
internal static class Corpus
{
    private static readonly Lazy<string> RepoDir = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Klipsharp.sln")))
            dir = dir.Parent;
        if (dir == null)
            throw new InvalidOperationException("Klipsharp.sln not found above " + AppContext.BaseDirectory);
        return dir.FullName;
    });

    public static string Golden => Path.GetFullPath(Path.Combine(RepoDir.Value, "..", "shared", "golden"));

    /// <summary>This project's own fixtures (streams decoded by upstream parsedump.py).</summary>
    public static string TestData(string name) => Path.Combine(RepoDir.Value, "tests", "Klipsharp.Protocol.Tests", "Data", name);

    public static string Dict(string name) => Path.Combine(Golden, "dict", name);

    public static byte[] Gunzip(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }
}
