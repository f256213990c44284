using System.Diagnostics.CodeAnalysis;
using Klipsharp.Host.Configuration;

namespace Klipsharp.Host;

/// <summary>
/// Maps a config section's module name (its first word) to the code that loads it
/// (upstream's extras/NAME.py load_config / load_config_prefix). The entries are split
/// by area into PrinterModules.*.cs files; each contributes one array.
/// </summary>
public static partial class PrinterModules
{
    /// <summary>A module entry: <paramref name="Name"/> handles "[Name]" when <paramref name="Load"/> is set and "[Name suffix]" when <paramref name="LoadPrefix"/> is set.</summary>
    public readonly record struct Entry(string Name, Func<ConfigWrapper, object>? Load, Func<ConfigWrapper, object>? LoadPrefix = null);

    private static Dictionary<string, Entry>? _table;

    private static Dictionary<string, Entry> Table => _table ??= Build();

    private static Dictionary<string, Entry> Build()
    {
        var table = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var list in new[] { CoreModules, MotionModules, KinematicsModules, ExtrasModules, LevelingModules })
            foreach (var e in list)
                table[e.Name] = e;
        return table;
    }

    /// <summary>The loader for module <paramref name="name"/>, for a bare section or one with a suffix.</summary>
    public static bool TryGetFactory(string name, bool hasSuffix, [NotNullWhen(true)] out Func<ConfigWrapper, object>? factory)
    {
        factory = null;
        if (!Table.TryGetValue(name, out var e))
            return false;
        factory = hasSuffix ? e.LoadPrefix : e.Load;
        return factory is not null;
    }

    /// <summary>True when some module handles sections named <paramref name="name"/>.</summary>
    public static bool IsKnown(string name) => Table.ContainsKey(name);
}
