namespace Klipsharp.Host.Tests.Conformance;

/// <summary>Locates the repository root and the shared conformance corpus beside it.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static string Golden => Path.Combine(Shared, "golden");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Klipsharp.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Klipsharp.sln not found above " + AppContext.BaseDirectory);
    }
}
