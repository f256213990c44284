using System.Text;
using System.Text.RegularExpressions;

namespace Klipsharp.Host.Configuration;

/// <summary>POSIX path helpers that behave like Python's glob.glob (non-recursive) and os.path.</summary>
internal static class PyGlob
{
    public static bool HasMagic(string s) => s.AsSpan().IndexOfAny("*?[") >= 0;

    /// <summary>os.path.dirname.</summary>
    public static string DirName(string p) => Split(p).Head;

    /// <summary>os.path.join for two components.</summary>
    public static string Join(string a, string b)
    {
        if (b.StartsWith('/')) return b;
        if (a.Length == 0 || a.EndsWith('/')) return a + b;
        return a + "/" + b;
    }

    /// <summary>os.path.split.</summary>
    public static (string Head, string Tail) Split(string p)
    {
        int i = p.LastIndexOf('/') + 1;
        string head = p[..i], tail = p[i..];
        if (head.Length > 0 && head.Trim('/').Length > 0) head = head.TrimEnd('/');
        return (head, tail);
    }

    /// <summary>glob.glob(pattern): matching paths (unsorted), spelled as Python would.</summary>
    public static List<string> Glob(string pattern) => Iglob(pattern, dirOnly: false).ToList();

    private static IEnumerable<string> Iglob(string pathname, bool dirOnly)
    {
        var (dirname, basename) = Split(pathname);
        if (!HasMagic(pathname))
        {
            if (basename.Length > 0)
            {
                if (LExists(pathname)) yield return pathname;
            }
            else if (Directory.Exists(dirname.Length == 0 ? "." : dirname))
            {
                yield return pathname;
            }
            yield break;
        }
        if (dirname.Length == 0)
        {
            foreach (var n in Glob1("", basename, dirOnly)) yield return n;
            yield break;
        }
        IEnumerable<string> dirs = dirname != pathname && HasMagic(dirname)
            ? Iglob(dirname, dirOnly: true)
            : [dirname];
        foreach (var d in dirs)
        {
            var names = HasMagic(basename) ? Glob1(d, basename, dirOnly) : Glob0(d, basename);
            foreach (var n in names) yield return Join(d, n);
        }
    }

    private static List<string> Glob1(string dirname, string pattern, bool dirOnly)
    {
        var names = ListDir(dirname, dirOnly);
        if (!pattern.StartsWith('.')) names = names.Where(n => !n.StartsWith('.')).ToList();
        var rx = new Regex(Translate(pattern), RegexOptions.Singleline | RegexOptions.CultureInvariant);
        return names.Where(n => rx.IsMatch(n)).ToList();
    }

    private static List<string> Glob0(string dirname, string basename)
    {
        if (basename.Length > 0)
            return LExists(Join(dirname, basename)) ? [basename] : [];
        return Directory.Exists(dirname.Length == 0 ? "." : dirname) ? [basename] : [];
    }

    private static List<string> ListDir(string dirname, bool dirOnly)
    {
        try
        {
            string d = dirname.Length == 0 ? "." : dirname;
            var entries = dirOnly ? Directory.EnumerateDirectories(d) : Directory.EnumerateFileSystemEntries(d);
            return entries.Select(e => Path.GetFileName(e)).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return [];
        }
    }

    /// <summary>True if the path exists without following a final symlink (os.path.lexists).</summary>
    public static bool LExists(string path)
    {
        try
        {
            if (File.Exists(path) || Directory.Exists(path)) return true;
            return new FileInfo(path).LinkTarget != null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>fnmatch.translate: a shell pattern as an anchored regular expression.</summary>
    public static string Translate(string pat)
    {
        var sb = new StringBuilder(@"\A(?:");
        int i = 0, n = pat.Length;
        while (i < n)
        {
            char c = pat[i++];
            if (c == '*')
            {
                while (i < n && pat[i] == '*') i++;
                sb.Append(".*");
            }
            else if (c == '?')
            {
                sb.Append('.');
            }
            else if (c == '[')
            {
                int j = i;
                if (j < n && pat[j] == '!') j++;
                if (j < n && pat[j] == ']') j++;
                while (j < n && pat[j] != ']') j++;
                if (j >= n)
                {
                    sb.Append(@"\[");
                    continue;
                }
                string stuff = pat[i..j];
                i = j + 1;
                bool negate = stuff.StartsWith('!');
                if (negate) stuff = stuff[1..];
                var set = new StringBuilder();
                for (int k = 0; k < stuff.Length; k++)
                {
                    if (k + 2 < stuff.Length && stuff[k + 1] == '-')
                    {
                        // Ranges whose ends are reversed match nothing, as in Python.
                        if (stuff[k] <= stuff[k + 2])
                            set.Append(EscapeSetChar(stuff[k])).Append('-').Append(EscapeSetChar(stuff[k + 2]));
                        k += 2;
                    }
                    else
                    {
                        set.Append(EscapeSetChar(stuff[k]));
                    }
                }
                if (set.Length == 0)
                    sb.Append(negate ? "." : "(?!)");
                else
                    sb.Append(negate ? "[^" : "[").Append(set).Append(']');
            }
            else
            {
                sb.Append(Regex.Escape(c.ToString()));
            }
        }
        sb.Append(@")\z");
        return sb.ToString();
    }

    private static string EscapeSetChar(char c) =>
        c is '\\' or ']' or '[' or '^' or '-' ? "\\" + c : c.ToString();
}
