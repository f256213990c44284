namespace Klipsharp.Protocol.Tests;

public class ParseTests
{
    private static DataDictionary Mega => DataDictionary.Load(Corpus.Dict("atmega2560.dict"));

    [Fact]
    public void MessageWriterMixesIntegersAndBuffers()
    {
        var d = Mega;
        var spi = d.LookupCommand("spi_send oid=%c data=%*s");
        Span<byte> buf = stackalloc byte[64];
        var w = new MessageWriter(spi, buf);
        w.Add(1);
        w.Add([0x0a, 0x0b]);
        int n = w.Complete();
        Assert.Equal(d.CreateCommand("spi_send oid=1 data=0a0b"), buf[..n].ToArray());
        Assert.Throws<ProtocolError>(() =>
        {
            var w2 = new MessageWriter(spi, new byte[64]);
            w2.Add(1);
            w2.Complete();
        });
        Assert.Throws<ProtocolError>(() =>
        {
            var w3 = new MessageWriter(spi, new byte[64]);
            w3.Add(1);
            w3.Add(2);
        });
    }

    [Fact]
    public void ParseResponseBlock()
    {
        var d = Mega;
        var clock = d.LookupCommand("clock clock=%u");
        var block = MessageBlock.Encode(2, clock.Encode([0xfffffff0]));
        var p = d.Parse(block);
        Assert.Equal("clock", p["#name"]);
        Assert.Equal(0xfffffff0L, p["clock"]);
        Assert.Equal("clock clock=4294967280", clock.FormatParams(p));

        var ident = d.LookupCommand("identify_response offset=%u data=%.*s");
        var ib = MessageBlock.Encode(3, ident.Encode(new object?[] { 40, new byte[] { 1, 2, 3 } }));
        var ip = d.Parse(ib);
        Assert.Equal(40L, ip["offset"]);
        Assert.Equal(new byte[] { 1, 2, 3 }, ip["data"]);

        var extra = MessageBlock.Encode(2, [.. clock.Encode([5]), 0x01]);
        Assert.Equal("Extra data at end of message", Assert.Throws<ProtocolError>(() => d.Parse(extra)).Message);

        // Ids may be negative (-3 is analog_in_state here); 100 is unused.
        Assert.False(d.MessagesById.ContainsKey(100));
        var unknown = d.Parse(MessageBlock.Encode(1, [0x80, 0x64, 0x00]));
        Assert.Equal("#unknown", unknown["#name"]);
        Assert.Equal(100L, unknown["#msgid"]);
        Assert.Equal("analog_in_state", d.MessagesById[-3].Name);
        Assert.Equal(new byte[] { 0x7d }, d.MessagesById[-3].MsgIdBytes);
    }

    [Fact]
    public void PinParamsParseToNames()
    {
        var d = Mega;
        var cfg = d.LookupCommand("config_stepper oid=%c step_pin=%c dir_pin=%c invert_step=%c step_pulse_ticks=%u");
        var p = d.Parse(MessageBlock.Encode(1, cfg.Encode([2, 40, 41, 0, 32])));
        Assert.Equal("PF0", p["step_pin"]);
        Assert.Equal("PF1", p["dir_pin"]);
        Assert.Equal(32L, p["step_pulse_ticks"]);
    }

    [Theory]
    [InlineData("10", 0, true, 10)]
    [InlineData("0x1F", 0, true, 31)]
    [InlineData("0o17", 0, true, 15)]
    [InlineData("0b101", 0, true, 5)]
    [InlineData("-0x10", 0, true, -16)]
    [InlineData("1_000", 0, true, 1000)]
    [InlineData("0x_ff", 0, true, 255)]
    [InlineData("00", 0, true, 0)]
    [InlineData("010", 0, false, 0)]
    [InlineData("1__0", 0, false, 0)]
    [InlineData("_1", 0, false, 0)]
    [InlineData("1_", 0, false, 0)]
    [InlineData("0x", 0, false, 0)]
    [InlineData("", 0, false, 0)]
    [InlineData("12a", 0, false, 0)]
    [InlineData("010", 10, true, 10)]
    [InlineData("ff", 16, true, 255)]
    [InlineData("0xff", 16, true, 255)]
    [InlineData("0xff", 10, false, 0)]
    public void PythonIntParsing(string text, int numberBase, bool ok, long expected)
    {
        Assert.Equal(ok, PyText.TryParseInt(text, numberBase, out var v));
        if (ok)
            Assert.Equal(expected, (long)v);
    }
}
