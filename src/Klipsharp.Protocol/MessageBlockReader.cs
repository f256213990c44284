namespace Klipsharp.Protocol;

/// <summary>One piece of a byte stream: a valid block, or one byte that starts no valid block.</summary>
public readonly record struct BlockSegment(int Offset, int Length, bool IsValid);

/// <summary>
/// Splits bytes into message blocks. <see cref="Split"/> handles a complete stream (a
/// batch output file) the way parsedump does, skipping one byte at a time past data that
/// is not a valid block; an instance reassembles blocks from a live link, resynchronising
/// on the next sync byte like the host's serial queue.
/// </summary>
public sealed class MessageBlockReader
{
    private byte[] _buf = new byte[4 * MessageBlock.MESSAGE_MAX];
    private int _start;
    private int _end;
    private bool _needSync;

    /// <summary>Bytes thrown away while looking for a valid block.</summary>
    public long DiscardedBytes { get; private set; }

    /// <summary>
    /// Splits a complete stream into valid blocks and single invalid bytes. A block cut
    /// short by the end of the data counts as invalid; fewer than MESSAGE_MIN trailing
    /// bytes are not reported.
    /// </summary>
    public static List<BlockSegment> Split(ReadOnlySpan<byte> data)
    {
        var segments = new List<BlockSegment>(data.Length / 16 + 1);
        int pos = 0;
        while (data.Length - pos >= MessageBlock.MESSAGE_MIN)
        {
            int n = MessageBlock.Check(data[pos..]);
            if (n > 0)
            {
                segments.Add(new BlockSegment(pos, n, true));
                pos += n;
            }
            else
            {
                segments.Add(new BlockSegment(pos, 1, false));
                pos++;
            }
        }
        return segments;
    }

    /// <summary>Adds received bytes.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (_end + data.Length > _buf.Length)
        {
            int live = _end - _start;
            if (live + data.Length > _buf.Length)
                Array.Resize(ref _buf, Math.Max(_buf.Length * 2, live + data.Length));
            Buffer.BlockCopy(_buf, _start, _buf, 0, live);
            _start = 0;
            _end = live;
        }
        data.CopyTo(_buf.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>
    /// Returns the next complete valid block, discarding invalid data before it; false
    /// when more data is needed. The block stays valid until the next call.
    /// </summary>
    public bool TryRead(out ReadOnlySpan<byte> block)
    {
        while (true)
        {
            var avail = _buf.AsSpan(_start, _end - _start);
            int r = MessageBlock.CheckWithSync(ref _needSync, avail);
            if (r == 0)
            {
                block = default;
                if (_start == _end)
                    _start = _end = 0;
                return false;
            }
            if (r < 0)
            {
                _start += -r;
                DiscardedBytes += -r;
                continue;
            }
            block = avail[..r];
            _start += r;
            return true;
        }
    }
}
