namespace Klipsharp.Protocol.Tests;

public class BlockTests
{
    private static DataDictionary Mega => DataDictionary.Load(Corpus.Dict("atmega2560.dict"));

    [Fact]
    public void Constants()
    {
        Assert.Equal(5, MessageBlock.MESSAGE_MIN);
        Assert.Equal(64, MessageBlock.MESSAGE_MAX);
        Assert.Equal(59, MessageBlock.MESSAGE_PAYLOAD_MAX);
        Assert.Equal(0x7e, MessageBlock.MESSAGE_SYNC);
    }

    [Fact]
    public void EncodeAndCheck()
    {
        // First block of corexy-move.serial (allocate_oids count=19).
        var first = MessageBlock.Encode(1, [0x08, 0x13]);
        Assert.Equal(new byte[] { 0x07, 0x11, 0x08, 0x13, 0x67, 0x93, 0x7e }, first);
        Assert.Equal(0x13, MessageBlock.Encode(0x33, [1])[1]);
        Assert.Equal(7, MessageBlock.Check(first));
        Assert.Equal(0, MessageBlock.Check(first.AsSpan(0, 6)));
        Assert.Equal(0, MessageBlock.Check(first.AsSpan(0, 4)));
        var bad = (byte[])first.Clone();
        bad[3] ^= 1;
        Assert.Equal(-1, MessageBlock.Check(bad));
        bad = (byte[])first.Clone();
        bad[1] = 0x21;
        Assert.Equal(-1, MessageBlock.Check(bad));
        bad = (byte[])first.Clone();
        bad[0] = 4;
        Assert.Equal(-1, MessageBlock.Check(bad));
    }

    [Fact]
    public void WriterReproducesCorpusFraming()
    {
        // Re-pack the messages of a recorded stream with the block boundaries it has: the
        // bytes must come out identical (same seq numbers and crcs).
        var data = Corpus.Gunzip(Path.Combine(Corpus.Golden, "serial", "corexy-move.serial.gz"));
        using var ms = new MemoryStream();
        using (var w = new MessageBlockWriter(ms, leaveOpen: true))
        {
            int pos = 0;
            while (pos < data.Length)
            {
                int n = data[pos];
                w.Add(data.AsSpan(pos + 2, n - 5));
                w.EndBlock();
                pos += n;
            }
        }
        Assert.Equal(data, ms.ToArray());
    }

    [Fact]
    public void WriterPacksGreedilyUpToMessageMax()
    {
        var d = Mega;
        var qs = d.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi");
        var msg = qs.Encode([2, 123456, 300, -7]); // 1 + 1 + 3 + 2 + 1 = 8 bytes
        Assert.Equal(8, msg.Length);
        using var ms = new MemoryStream();
        var w = new MessageBlockWriter(ms, leaveOpen: true);
        for (int i = 0; i < 20; i++)
            w.Add(msg);
        w.Flush();
        var bytes = ms.ToArray();
        var segs = MessageBlockReader.Split(bytes);
        Assert.All(segs, s => Assert.True(s.IsValid));
        // 7 messages (56 bytes) fit in 59 payload bytes: 7 + 7 + 6.
        Assert.Equal([56 + 5, 56 + 5, 48 + 5], segs.Select(s => s.Length));
        Assert.Equal([0x11, 0x12, 0x13], segs.Select(s => (int)bytes[s.Offset + 1]));
        Assert.Equal(4, w.Sequence);
        Assert.Equal(3, w.BlockCount);
        var lines = MessageDecoder.Decode(d, bytes);
        Assert.Equal(20, lines.Count);
        Assert.All(lines, l => Assert.Equal("queue_step oid=2 interval=123456 count=300 add=-7", l));
    }

    [Fact]
    public void SequenceWrapsAfterSixteenBlocks()
    {
        using var ms = new MemoryStream();
        var w = new MessageBlockWriter(ms, leaveOpen: true);
        for (int i = 0; i < 17; i++)
        {
            w.Add([0x08, 0x01]);
            w.EndBlock();
        }
        w.Flush();
        var bytes = ms.ToArray();
        var segs = MessageBlockReader.Split(bytes);
        Assert.Equal(0x1f, bytes[segs[14].Offset + 1]);
        Assert.Equal(0x10, bytes[segs[15].Offset + 1]);
        Assert.Equal(0x11, bytes[segs[16].Offset + 1]);
    }

    [Fact]
    public void OversizedMessageIsRejected()
    {
        var w = new MessageBlockWriter(new MemoryStream());
        Assert.Throws<ProtocolError>(() => w.Add(new byte[60]));
    }

    [Fact]
    public void IncrementalReaderResynchronises()
    {
        var a = MessageBlock.Encode(1, [0x08, 0x03]);
        var b = MessageBlock.Encode(2, [0x08, 0x04]);
        var junk = new byte[] { 0x01, 0x02, 0x7e };
        var all = junk.Concat(a).Concat(b).ToArray();
        var r = new MessageBlockReader();
        var got = new List<byte[]>();
        foreach (var chunk in all.Chunk(3))
        {
            r.Feed(chunk);
            while (r.TryRead(out var blk))
                got.Add(blk.ToArray());
        }
        Assert.Equal([a, b], got);
        Assert.Equal(3, r.DiscardedBytes);
    }
}
