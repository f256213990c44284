using Klipsharp.Host.Configuration;
using static Klipsharp.Host.Tests.Configuration.ConfigTestUtil;

namespace Klipsharp.Host.Tests.Configuration;

public class IncludeTests
{
    [Fact]
    public void IncludeIsRelativeToTheIncludingFileAndNests()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[printer]\na = 1\n[include sub/a.cfg]\n[s2]\nc=3\n");
        d.Write("sub/a.cfg", "[printer]\na = 10\nz = 1\n[include b.cfg]\n");
        d.Write("sub/b.cfg", "[from_b]\nq = 1\n");
        var c = ConfigFile.Load(main);
        AssertDump([("printer", [("a", "10"), ("z", "1")]), ("from_b", [("q", "1")]), ("s2", [("c", "3")])], c);
    }

    [Fact]
    public void LinesAfterAnIncludeNeedASectionHeader()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\n[include b.cfg]\na = 1\n");
        d.Write("b.cfg", "[b]\n");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(main));
        Assert.Equal($"File contains no section headers.\nfile: '{main}', line: 1\n'a = 1\\n'", e.Message);
    }

    [Fact]
    public void MissingIncludeFile()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\na=1\n[include nothere.cfg]\n");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(main));
        Assert.Equal($"Include file '{d.Path}/nothere.cfg' does not exist", e.Message);
    }

    [Fact]
    public void MissingIncludeWithRelativeMainPath()
    {
        var e = Assert.Throws<ConfigError>(() => ConfigFile.BuildWithIncludes("[include x/nothere.cfg]\n", "printer.cfg"));
        Assert.Equal("Include file 'x/nothere.cfg' does not exist", e.Message);
    }

    [Fact]
    public void GlobWithoutMatchesIsAllowed()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\na=1\n[include nothere*.cfg]\n");
        AssertDump([("s", [("a", "1")])], ConfigFile.Load(main));
    }

    [Fact]
    public void GlobIncludesSortedSkippingHiddenFiles()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\na=1\n[include globdir/*.cfg]\n[t]\nb=1\n");
        d.Write("globdir/b.cfg", "[gb]\nx=2\n[s]\na=2\n");
        d.Write("globdir/a.cfg", "[ga]\nx=1\n[s]\na=1a\n");
        d.Write("globdir/.hidden.cfg", "[hidden]\nx=1\n");
        d.Write("globdir/c.txt", "[ctxt]\nx=1\n");
        var c = ConfigFile.Load(main);
        AssertDump([("s", [("a", "2")]), ("ga", [("x", "1")]), ("gb", [("x", "2")]), ("t", [("b", "1")])], c);
    }

    [Fact]
    public void GlobCharacterClassesAndDirectoryWildcards()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[include glob?ir/[ab].cfg]\n[include */[!a].cfg]\n");
        d.Write("globdir/a.cfg", "[ga]\n");
        d.Write("globdir/b.cfg", "[gb]\n");
        d.Write("other/c.cfg", "[oc]\n");
        Assert.Equal(["ga", "gb", "oc"], ConfigFile.Load(main).Sections());
    }

    [Fact]
    public void RecursiveIncludeIsAnError()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\na=1\n[include second.cfg]\n");
        d.Write("second.cfg", "[t]\n[include printer.cfg]\n");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(main));
        Assert.Equal($"Recursive include of config file '{d.Path}/printer.cfg'", e.Message);
    }

    [Fact]
    public void SameFileMayBeIncludedTwiceSequentially()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[include b.cfg]\n[include b.cfg]\n[include ./sub/../b.cfg]\n");
        d.Write("b.cfg", "[b]\nq = 1\n");
        Directory.CreateDirectory(Path.Combine(d.Path, "sub"));
        AssertDump([("b", [("q", "1")])], ConfigFile.Load(main));
    }

    [Fact]
    public void IncludeHeaderWithCommentAndSpaces()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[include b.cfg] # c\n[include   b.cfg  ]\n");
        d.Write("b.cfg", "[b]\n");
        Assert.Equal(["b"], ConfigFile.Load(main).Sections());
    }

    [Fact]
    public void IndentedIncludeIsNotAnInclude()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\na=1\n  [include b.cfg]\n");
        AssertDump([("s", [("a", "1\n[include b.cfg]")])], ConfigFile.Load(main));
    }

    [Fact]
    public void ParseErrorInIncludedFileNamesThatFile()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[s]\n[include bad.cfg]\n");
        string bad = d.Write("bad.cfg", "[s]\nfoo\n");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(main));
        Assert.Equal($"Source contains parsing errors: '{bad}'\n\t[line  2]: 'foo\\n'", e.Message);
    }

    [Fact]
    public void IncludingADirectoryFailsToOpen()
    {
        using var d = new TempConfigDir();
        string main = d.Write("printer.cfg", "[include sub]\n");
        d.Write("sub/x.cfg", "[x]\n");
        var e = Assert.Throws<ConfigError>(() => ConfigFile.Load(main));
        Assert.Equal($"Unable to open config file {d.Path}/sub", e.Message);
    }
}
