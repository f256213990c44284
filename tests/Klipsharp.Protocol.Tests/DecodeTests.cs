using System.Text;

namespace Klipsharp.Protocol.Tests;

public class DecodeTests
{
    public static TheoryData<string> SerialFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(Corpus.Golden, "serial"), "*.serial.gz").OrderBy(x => x, StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    // Which dictionary each recorded stream was made with.
    private static string DictFor(string serial) => serial switch
    {
        var s when s.StartsWith("octopus", StringComparison.Ordinal) => "stm32f429.dict",
        _ => "atmega2560.dict",
    };

    [Theory]
    [MemberData(nameof(SerialFiles))]
    public void ReproducesParsedump(string serial)
    {
        string dir = Path.Combine(Corpus.Golden, "serial");
        var dict = DataDictionary.Load(Corpus.Dict(DictFor(serial)));
        var data = Corpus.Gunzip(Path.Combine(dir, serial));
        var expected = Encoding.UTF8.GetString(Corpus.Gunzip(Path.Combine(dir, serial.Replace(".serial.gz", ".txt.gz", StringComparison.Ordinal))))
            .Split('\n');
        var got = MessageDecoder.Decode(dict, data);
        Assert.Equal("", expected[^1]);
        Assert.Equal(expected[..^1], got);
    }

    // Random messages of every kind (output formats, strings, negative and two-byte ids,
    // unknown ids), decoded by upstream parsedump.py when the fixture was made.
    [Theory]
    [InlineData("output-test.dict", false, "output-test")]
    [InlineData("linuxprocess.dict", true, "linuxprocess-random")]
    public void ReproducesParsedumpOnRandomMessages(string dict, bool fromCorpus, string stem)
    {
        var d = DataDictionary.Load(fromCorpus ? Corpus.Dict(dict) : Corpus.TestData(dict));
        var expected = File.ReadAllText(Corpus.TestData(stem + ".txt")).Split('\n');
        var got = MessageDecoder.Decode(d, File.ReadAllBytes(Corpus.TestData(stem + ".serial")));
        Assert.Equal(expected[..^1], got);
        Assert.Contains(got, l => l.StartsWith("#unknown b", StringComparison.Ordinal));
    }

    [Fact]
    public void SerialFilesExist() => Assert.NotEmpty(SerialFiles());

    private static DataDictionary Mega => DataDictionary.Load(Corpus.Dict("atmega2560.dict"));

    private static byte[] Stream(params byte[][] blocks) => blocks.SelectMany(b => b).ToArray();

    private static byte[] Block(int seq, params byte[][] msgs) => MessageBlock.Encode(seq, msgs.SelectMany(m => m).ToArray());

    [Fact]
    public void FlippedByteIsReportedAndNeighboursStillDecode()
    {
        var d = Mega;
        var a = Block(1, d.CreateCommand("allocate_oids count=3"));
        var b = Block(2, d.CreateCommand("config_trsync oid=1"), d.CreateCommand("get_uptime"));
        var c = Block(3, d.CreateCommand("finalize_config crc=1234"));
        var data = Stream(a, b, c);
        data[a.Length + 3] ^= 0x40;
        var lines = MessageDecoder.Decode(d, data);
        Assert.Equal("allocate_oids count=3", lines[0]);
        Assert.Equal("finalize_config crc=1234", lines[^1]);
        var middle = lines.Skip(1).Take(lines.Count - 2).ToList();
        Assert.NotEmpty(middle);
        Assert.All(middle, l => Assert.StartsWith("#invalid block at byte ", l));
        Assert.Equal("#invalid block at byte " + a.Length, middle[0]);
        Assert.Equal(b.Length, middle.Count);
    }

    [Fact]
    public void TruncatedBlockIsReportedAndNeighboursStillDecode()
    {
        var d = Mega;
        var a = Block(1, d.CreateCommand("allocate_oids count=3"));
        var b = Block(2, d.CreateCommand("config_stepper oid=2 step_pin=PF0 dir_pin=PF1 invert_step=0 step_pulse_ticks=32"));
        var c = Block(3, d.CreateCommand("get_uptime"));
        var data = Stream(a, b[..6], c, b[..7]);
        var lines = MessageDecoder.Decode(d, data);
        Assert.Equal("allocate_oids count=3", lines[0]);
        Assert.Contains("get_uptime", lines);
        Assert.Equal("#invalid block at byte " + a.Length, lines[1]);
        // Six bytes of the cut block are skipped one by one, then the cut block at the
        // end is reported until fewer than MESSAGE_MIN bytes remain.
        Assert.Equal(7, lines.IndexOf("get_uptime"));
        Assert.Equal(2, lines.Count(l => !l.StartsWith('#')));
        Assert.Equal(1 + 6 + 1 + 3, lines.Count);
        Assert.Equal("#invalid block at byte " + (a.Length + 6 + c.Length + 2), lines[^1]);
    }

    [Fact]
    public void GarbageNeverThrows()
    {
        var d = Mega;
        var rnd = new Random(1234);
        var good = Corpus.Gunzip(Path.Combine(Corpus.Golden, "serial", "corexy-move.serial.gz"));
        for (int i = 0; i < 200; i++)
        {
            var data = good.AsSpan(rnd.Next(good.Length / 2), 300).ToArray();
            for (int k = 0; k < 3; k++)
                data[rnd.Next(data.Length)] = (byte)rnd.Next(256);
            MessageDecoder.Decode(d, data);
            var noise = new byte[200];
            rnd.NextBytes(noise);
            MessageDecoder.Decode(d, noise);
        }
    }

    [Fact]
    public void UnknownIdPrintsTheWholeBlockLikeUpstream()
    {
        var d = Mega;
        // id 120 is not in the dictionary
        Assert.False(d.MessagesById.ContainsKey(120));
        var block = MessageBlock.Encode(5, [0x80 | (120 >> 7), 120 & 0x7f, 0x05]);
        var lines = MessageDecoder.Decode(d, block);
        Assert.Equal(["#unknown " + PyText.BytesRepr(block)], lines);
    }

    [Fact]
    public void MessageRunningPastTheBlockIsReported()
    {
        var d = Mega;
        var cmd = d.CreateCommand("spi_send oid=1 data=414243");
        // Length byte claims 40 bytes of data: past the block's end.
        cmd[2] = 40;
        var block = MessageBlock.Encode(1, cmd);
        var lines = MessageDecoder.Decode(d, block);
        Assert.Single(lines);
        // Strings are sliced like Python: the trailer bytes are part of the value.
        Assert.StartsWith("spi_send oid=1 data=b'ABC", lines[0]);

        var vlq = MessageBlock.Encode(1, [.. d.LookupCommand("allocate_oids count=%c").MsgIdBytes, 0x81, 0x81]);
        // The VLQ continues through crc bytes of 0x8x? Only reports when it runs off the block.
        var stream = MessageDecoder.Decode(d, vlq);
        Assert.Single(stream);
    }

    [Fact]
    public void EmptyBlockPrintsNothing()
    {
        Assert.Empty(MessageDecoder.Decode(Mega, MessageBlock.Encode(1, [])));
    }

    [Theory]
    [InlineData(new byte[0], "b''")]
    [InlineData(new byte[] { 0, (byte)'a', (byte)'b' }, "b'\\x00ab'")]
    [InlineData(new byte[] { (byte)'\'' }, "b\"'\"")]
    [InlineData(new byte[] { (byte)'\'', (byte)'"' }, "b'\\'\"'")]
    [InlineData(new byte[] { (byte)'\\' }, "b'\\\\'")]
    [InlineData(new byte[] { 9, 10, 13, 0x7f, 0x80, 0xff, 32, (byte)'~' }, "b'\\t\\n\\r\\x7f\\x80\\xff ~'")]
    public void BytesReprMatchesPython(byte[] data, string expected) =>
        Assert.Equal(expected, PyText.BytesRepr(data));

    [Fact]
    public void StringParamsAreShownAsPythonBytes()
    {
        var d = Mega;
        var block = MessageBlock.Encode(3, d.CreateCommand("spi_send oid=1 data=27225c0a7f"));
        Assert.Equal(["spi_send oid=1 data=b'\\'\"\\\\\\n\\x7f'"], d.Dump(block));
        Assert.Equal(["seq: 13", "spi_send oid=1 data=b'\\'\"\\\\\\n\\x7f'"], d.Dump(block, includeSeq: true));
    }

    [Fact]
    public void EnumerationsAreShownByNameOrAsQuestionMark()
    {
        var d = Mega;
        var fmt = d.LookupCommand("config_analog_in oid=%c pin=%u");
        var known = MessageBlock.Encode(1, fmt.Encode([10, d.Enumerations["pin"]["PK6"]]));
        Assert.Equal(["config_analog_in oid=10 pin=PK6"], MessageDecoder.Decode(d, known));
        var unknown = MessageBlock.Encode(1, fmt.Encode([10, 999]));
        Assert.Equal(["config_analog_in oid=10 pin=?999"], MessageDecoder.Decode(d, unknown));
    }

    [Fact]
    public void OutputMessagesAreFormatted()
    {
        string json = """
        {"commands": {"get_uptime": 5}, "responses": {"uptime high=%u clock=%u": 6},
         "output": {"Hello %u and %i, %s!": 7},
         "config": {}, "version": "v1", "build_versions": ""}
        """;
        var d = DataDictionary.FromJson(json);
        byte[] msg = [7, 0x80, 0x60, 0x7f, 2, (byte)'h', (byte)'i'];
        Assert.Equal(["#output Hello 96 and -1, b'hi'!"], MessageDecoder.Decode(d, MessageBlock.Encode(1, msg)));
        var parsed = d.Parse(MessageBlock.Encode(1, msg));
        Assert.Equal("#output", parsed["#name"]);
        Assert.Equal("Hello 96 and -1, b'hi'!", parsed["#msg"]);
    }
}
