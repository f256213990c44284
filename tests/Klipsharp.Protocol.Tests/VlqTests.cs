namespace Klipsharp.Protocol.Tests;

public class VlqTests
{
    private static byte[] Hex(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(x => Convert.ToByte(x, 16)).ToArray();

    // Expected bytes and decoded values produced by upstream msgproto.PT_uint32/PT_int32.
    [Theory]
    [InlineData(0L, "00", 0L, 0L)]
    [InlineData(1L, "01", 1L, 1L)]
    [InlineData(-1L, "7f", 4294967295L, -1L)]
    [InlineData(95L, "5f", 95L, 95L)]
    [InlineData(96L, "80 60", 96L, 96L)]
    [InlineData(-32L, "60", 4294967264L, -32L)]
    [InlineData(-33L, "ff 5f", 4294967263L, -33L)]
    [InlineData(12287L, "df 7f", 12287L, 12287L)]
    [InlineData(12288L, "80 e0 00", 12288L, 12288L)]
    [InlineData(-4096L, "e0 00", 4294963200L, -4096L)]
    [InlineData(-4097L, "ff df 7f", 4294963199L, -4097L)]
    [InlineData(1572863L, "df ff 7f", 1572863L, 1572863L)]
    [InlineData(1572864L, "80 e0 80 00", 1572864L, 1572864L)]
    [InlineData(-524288L, "e0 80 00", 4294443008L, -524288L)]
    [InlineData(-524289L, "ff df ff 7f", 4294443007L, -524289L)]
    [InlineData(201326591L, "df ff ff 7f", 201326591L, 201326591L)]
    [InlineData(201326592L, "80 e0 80 80 00", 201326592L, 201326592L)]
    [InlineData(-67108864L, "e0 80 80 00", 4227858432L, -67108864L)]
    [InlineData(-67108865L, "ff df ff ff 7f", 4227858431L, -67108865L)]
    [InlineData(2147483647L, "87 ff ff ff 7f", 2147483647L, 2147483647L)]
    [InlineData(-2147483648L, "f8 80 80 80 00", 2147483648L, -2147483648L)]
    [InlineData(4294967295L, "8f ff ff ff 7f", 4294967295L, 4294967295L)]
    [InlineData(2147483648L, "88 80 80 80 00", 2147483648L, 2147483648L)]
    public void MatchesUpstream(long value, string hex, long asUnsigned, long asSigned)
    {
        var expected = Hex(hex);
        Span<byte> buf = stackalloc byte[8];
        int n = Vlq.Encode(buf, value);
        Assert.Equal(expected, buf[..n].ToArray());
        Assert.Equal(n, Vlq.Length(value));
        int pos = 0;
        Assert.Equal(asUnsigned, Vlq.Decode(expected, ref pos, signed: false));
        Assert.Equal(n, pos);
        pos = 0;
        Assert.Equal(asSigned, Vlq.Decode(expected, ref pos, signed: true));
    }

    // The C helpers read a word as int32, so the top of the uint32 range is short.
    [Theory]
    [InlineData(0xffffffffu, "7f")]
    [InlineData(0xfc000000u, "e0 80 80 00")]
    [InlineData(0x80000000u, "f8 80 80 80 00")]
    [InlineData(0x7fffffffu, "87 ff ff ff 7f")]
    [InlineData(96u, "80 60")]
    public void EncodeUInt32MatchesC(uint value, string hex)
    {
        Span<byte> buf = stackalloc byte[8];
        int n = Vlq.EncodeUInt32(buf, value);
        Assert.Equal(Hex(hex), buf[..n].ToArray());
    }

    [Fact]
    public void RoundTripsAroundEveryBoundary()
    {
        Span<byte> buf = stackalloc byte[8];
        foreach (long b in new long[] { 0x20, 0x60, 0x1000, 0x3000, 0x80000, 0x180000, 0x4000000, 0xc000000, 0x80000000 })
        {
            for (long d = -2; d <= 2; d++)
            {
                foreach (long v in new[] { b + d, -b + d })
                {
                    if (v < int.MinValue || v > uint.MaxValue)
                        continue;
                    int n = Vlq.Encode(buf, v);
                    int pos = 0;
                    Assert.Equal(v & 0xffffffff, Vlq.Decode(buf[..n], ref pos, false));
                    pos = 0;
                    if (v <= int.MaxValue)
                        Assert.Equal(v, Vlq.Decode(buf[..n], ref pos, true));
                }
            }
        }
    }

    [Fact]
    public void WordEncoderMatchesTheGeneralOneAroundEveryBoundary()
    {
        // EncodeUInt32 (and EncodeWords, for step messages) write without bounds checks
        Span<byte> expected = stackalloc byte[8], actual = stackalloc byte[8];
        foreach (long b in new long[] { 0, 0x20, 0x60, 0x1000, 0x3000, 0x80000, 0x180000, 0x4000000, 0xc000000, 0x80000000 })
        {
            for (long d = -2; d <= 2; d++)
            {
                foreach (long v in new[] { b + d, -b + d })
                {
                    if (v < int.MinValue || v > int.MaxValue)
                        continue;
                    int n = Vlq.Encode(expected, v);
                    actual.Fill(0xaa);
                    Assert.Equal(n, Vlq.EncodeUInt32(actual, unchecked((uint)v)));
                    Assert.Equal(expected[..n].ToArray(), actual[..n].ToArray());
                    Assert.Equal(0xaa, actual[n]); // nothing written past the encoding
                    byte[] exact = new byte[n];
                    Assert.Equal(n, Vlq.EncodeUInt32(exact, unchecked((uint)v)));
                    Assert.Throws<ArgumentException>(() => Vlq.EncodeUInt32(new byte[n - 1], unchecked((uint)v)));
                }
            }
        }
    }

    [Fact]
    public void TruncatedInputIsReported()
    {
        int pos = 0;
        Assert.False(Vlq.TryDecode(new byte[] { 0x81, 0x82 }, ref pos, false, out _));
        Assert.Equal(0, pos);
        Assert.Throws<ProtocolError>(() => { int p = 0; Vlq.Decode(ReadOnlySpan<byte>.Empty, ref p, true); });
    }
}

public class Crc16Tests
{
    [Fact]
    public void MatchesUpstreamValues()
    {
        // msgproto.crc16_ccitt(b'123456789') == [111, 145]
        Assert.Equal(0x6f91, Crc16.Compute("123456789"u8));
        // First block of corexy-move.serial: 07 11 08 13 67 93 7e
        Assert.Equal(0x6793, Crc16.Compute([0x07, 0x11, 0x08, 0x13]));
    }

    // Upstream's bit-by-bit update (msgblock.c's crc16_ccitt).
    private static ushort BitwiseCrc(ReadOnlySpan<byte> data)
    {
        ushort crc = 0xffff;
        foreach (byte b in data)
        {
            byte d = (byte)(b ^ (crc & 0xff));
            d ^= (byte)(d << 4);
            crc = (ushort)(((d << 8) | (crc >> 8)) ^ (d >> 4) ^ (d << 3));
        }
        return crc;
    }

    [Fact]
    public void TableMatchesUpstreamsBitwiseUpdate()
    {
        var rnd = new Random(7);
        for (int len = 0; len < 300; len++)
        {
            var data = new byte[len];
            rnd.NextBytes(data);
            Assert.Equal(BitwiseCrc(data), Crc16.Compute(data));
        }
        // Every byte value after every low crc byte
        var pair = new byte[2];
        for (int a = 0; a < 256; a++)
        {
            for (int b = 0; b < 256; b++)
            {
                pair[0] = (byte)a;
                pair[1] = (byte)b;
                Assert.Equal(BitwiseCrc(pair), Crc16.Compute(pair));
            }
        }
    }

    [Fact]
    public void EveryCorpusBlockCarriesItsCrc()
    {
        var data = Corpus.Gunzip(Path.Combine(Corpus.Golden, "serial", "corexy-move.serial.gz"));
        int pos = 0, blocks = 0;
        while (pos < data.Length)
        {
            int n = data[pos];
            ushort crc = Crc16.Compute(data.AsSpan(pos, n - 3));
            Assert.Equal((data[pos + n - 3] << 8) | data[pos + n - 2], crc);
            pos += n;
            blocks++;
        }
        Assert.True(blocks > 100);
    }
}
