using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.ExtraModules;

public class JinjaTemplateTests
{
    private static string Render(string source, Dictionary<string, object?>? ctx = null) =>
        JinjaTemplate.Parse(source).Render(ctx ?? new Dictionary<string, object?>());

    [Theory]
    [InlineData("{ 1 + 2 }", "3")]
    [InlineData("{ 7 / 2 }", "3.5")]
    [InlineData("{ 7 // 2 }", "3")]
    [InlineData("{ -7 // 2 }", "-4")]
    [InlineData("{ -7 % 3 }", "2")]
    [InlineData("{ 2 ** 10 }", "1024")]
    [InlineData("{ 1.0 }", "1.0")]
    [InlineData("{ 0.1 + 0.2 }", "0.30000000000000004")]
    [InlineData("{ 'a' ~ 1 }", "a1")]
    [InlineData("{ [1, 'b', None, True] }", "[1, 'b', None, True]")]
    [InlineData("{ {'a': 1.5} }", "{'a': 1.5}")]
    [InlineData("{ (1,) }", "(1,)")]
    [InlineData("{ undefined_name }", "")]
    [InlineData("{ 3 if 1 > 2 else 4 }", "4")]
    [InlineData("{ 'x' in 'xyz' and not 2 in [1] }", "True")]
    public void Expressions(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{ \"%3.0f\" % (21.6,) }", " 22")]
    [InlineData("{ \"%02d:%02d\" % (0.0 // 3600, (0.0 // 60) % 60) }", "00:00")]
    [InlineData("{ \"%02d:%02d\" % (-0.01 // 3600, (-0.01 // 60) % 60) }", "-1:59")]
    [InlineData("{ \"X%-4.0fY%-4.0fZ%-5.2f\" % (1, 2, 3) }", "X1   Y2   Z3.00 ")]
    [InlineData("{ \"%6s\" % ('ab',) }", "    ab")]
    [InlineData("{ \"{:>4.0%}\".format(0.5) }", " 50%")]
    [InlineData("{ \"{:^10.0%}\".format(0) }", "    0%    ")]
    [InlineData("{ \"{} {}\".format(1, 'a') }", "1 a")]
    [InlineData("{ '%.1f' % 0.25 }", "0.2")]
    public void PythonFormatting(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{ '3.7'|int }", "3")]
    [InlineData("{ 'x'|int }", "0")]
    [InlineData("{ '2'|float }", "2.0")]
    [InlineData("{ -2|abs }", "2")]
    [InlineData("{ missing|default(5) }", "5")]
    [InlineData("{ [3,1,2]|max }", "3")]
    [InlineData("{ 'a-b'|replace('-', '+') }", "a+b")]
    [InlineData("{ 2.5|round }", "2.0")]
    [InlineData("{ [1,2]|length }", "2")]
    [InlineData("{ x is defined }", "False")]
    public void FiltersAndTests(string source, string expected) => Assert.Equal(expected, Render(source));

    [Fact]
    public void Statements()
    {
        const string src = "{% set total = namespace(v=0) %}{% for i in range(4) if i != 2 %}{% set total.v = total.v + i %}{{ loop.index }}{% endfor %}|{ total.v }";
        // "{{ loop.index }}" is a dict literal inside a Klipper expression block
        Assert.Throws<JinjaError>(() => Render(src));
        const string src2 = "{% set ns = namespace(v=0) %}{% for i in range(4) if i != 2 %}{% set ns.v = ns.v + i %}{ loop.index }{% endfor %}|{ ns.v }";
        Assert.Equal("123|4", Render(src2));
        Assert.Equal("b", Render("{% if 0 %}a{% elif 1 %}b{% else %}c{% endif %}"));
        Assert.Equal("x", Render("  {%- if 1 -%}  x  {%- endif %}"));
    }

    [Fact]
    public void TrailingNewlineIsDropped() => Assert.Equal("a\n", Render("a\n\n"));

    [Fact]
    public void ContextAttributesAndItems()
    {
        var ctx = new Dictionary<string, object?>
        {
            ["printer"] = new Dictionary<string, object?> { ["fan"] = new Dictionary<string, object?> { ["speed"] = 0.25 } },
            ["params"] = new Dictionary<object, object?>(PyKeyComparer.Instance) { ["S"] = "10" },
        };
        Assert.Equal("0.25 10", Render("{ printer.fan.speed } { params.S|int }", ctx));
        Assert.Equal("True", Render("{ 'fan' in printer }", ctx));
    }

    [Fact]
    public void UndefinedAttributeFailsWithUpstreamMessage()
    {
        var e = Assert.Throws<JinjaError>(() => Render("{ a.b.c }", new() { ["a"] = new Dictionary<string, object?>() }));
        Assert.Equal("jinja2.exceptions.UndefinedError: 'dict object' has no attribute 'b'\n", e.FormatExceptionOnly());
    }

    [Fact]
    public void SyntaxErrorsReportTheLine()
    {
        var e = Assert.Throws<JinjaError>(() => JinjaTemplate.Parse("a\n{% if 1 %}\nb"));
        Assert.Equal("jinja2.exceptions.TemplateSyntaxError", e.PyType);
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("-2.5", -2.5)]
    [InlineData("'s'", "s")]
    [InlineData("True", true)]
    public void LiteralEval(string text, object expected) => Assert.Equal(expected, PyLiteral.Parse(text));

    [Fact]
    public void LiteralEvalRejectsNames() => Assert.Throws<FormatException>(() => PyLiteral.Parse("abc"));
}
