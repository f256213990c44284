namespace Klipsharp.Protocol;

/// <summary>
/// Message block framing: <c>len seq payload... crc_hi crc_lo 0x7e</c>, where len counts
/// the whole block and seq is <c>0x10 | (sequence &amp; 0x0f)</c>.
/// </summary>
public static class MessageBlock
{
    /// <summary>Smallest block (no payload).</summary>
    public const int MESSAGE_MIN = 5;
    /// <summary>Largest block.</summary>
    public const int MESSAGE_MAX = 64;
    /// <summary>Bytes before the payload (length, sequence).</summary>
    public const int MESSAGE_HEADER_SIZE = 2;
    /// <summary>Bytes after the payload (crc16, sync).</summary>
    public const int MESSAGE_TRAILER_SIZE = 3;
    /// <summary>Offset of the length byte.</summary>
    public const int MESSAGE_POS_LEN = 0;
    /// <summary>Offset of the sequence byte.</summary>
    public const int MESSAGE_POS_SEQ = 1;
    /// <summary>Offset of the crc from the end of the block.</summary>
    public const int MESSAGE_TRAILER_CRC = 3;
    /// <summary>Offset of the sync byte from the end of the block.</summary>
    public const int MESSAGE_TRAILER_SYNC = 1;
    /// <summary>Largest payload of one block.</summary>
    public const int MESSAGE_PAYLOAD_MAX = MESSAGE_MAX - MESSAGE_MIN;
    /// <summary>Bits of the sequence number carried in the sequence byte.</summary>
    public const int MESSAGE_SEQ_MASK = 0x0f;
    /// <summary>Fixed high bits of the sequence byte.</summary>
    public const int MESSAGE_DEST = 0x10;
    /// <summary>Block terminator.</summary>
    public const byte MESSAGE_SYNC = 0x7e;

    /// <summary>
    /// Checks whether <paramref name="buf"/> starts with a valid block (upstream
    /// <c>check_packet</c>): returns its length, 0 when more data is needed to tell,
    /// or -1 when the first byte cannot start a valid block.
    /// </summary>
    public static int Check(ReadOnlySpan<byte> buf)
    {
        if (buf.Length < MESSAGE_MIN)
            return 0;
        int msglen = buf[MESSAGE_POS_LEN];
        if (msglen < MESSAGE_MIN || msglen > MESSAGE_MAX)
            return -1;
        if ((buf[MESSAGE_POS_SEQ] & ~MESSAGE_SEQ_MASK) != MESSAGE_DEST)
            return -1;
        if (buf.Length < msglen)
            return 0;
        if (buf[msglen - MESSAGE_TRAILER_SYNC] != MESSAGE_SYNC)
            return -1;
        int msgcrc = (buf[msglen - MESSAGE_TRAILER_CRC] << 8) | buf[msglen - MESSAGE_TRAILER_CRC + 1];
        if (Crc16.Compute(buf[..(msglen - MESSAGE_TRAILER_SIZE)]) != msgcrc)
            return -1;
        return msglen;
    }

    /// <summary>
    /// Resynchronising check used on a live link (msgblock.c <c>msgblock_check</c>):
    /// returns the block length, 0 when more data is needed, or minus the number of
    /// bytes to discard (up to and including the next sync byte).
    /// </summary>
    public static int CheckWithSync(ref bool needSync, ReadOnlySpan<byte> buf)
    {
        if (buf.Length < MESSAGE_MIN)
            return 0;
        if (!needSync)
        {
            int r = Check(buf);
            if (r >= 0)
                return r;
        }
        int next = buf.IndexOf(MESSAGE_SYNC);
        if (next >= 0)
        {
            needSync = false;
            return -(next + 1);
        }
        needSync = true;
        return -buf.Length;
    }

    /// <summary>
    /// Frames <paramref name="payload"/> as one block with sequence number
    /// <paramref name="seq"/> into <paramref name="dest"/>; returns the block length.
    /// </summary>
    public static int Encode(Span<byte> dest, long seq, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MESSAGE_PAYLOAD_MAX)
            throw new ProtocolError($"Message block payload of {payload.Length} bytes exceeds {MESSAGE_PAYLOAD_MAX}");
        int len = payload.Length + MESSAGE_MIN;
        dest[MESSAGE_POS_LEN] = (byte)len;
        dest[MESSAGE_POS_SEQ] = (byte)(MESSAGE_DEST | (int)(seq & MESSAGE_SEQ_MASK));
        payload.CopyTo(dest[MESSAGE_HEADER_SIZE..]);
        ushort crc = Crc16.Compute(dest[..(len - MESSAGE_TRAILER_SIZE)]);
        dest[len - MESSAGE_TRAILER_CRC] = (byte)(crc >> 8);
        dest[len - MESSAGE_TRAILER_CRC + 1] = (byte)crc;
        dest[len - MESSAGE_TRAILER_SYNC] = MESSAGE_SYNC;
        return len;
    }

    /// <summary>Frames <paramref name="payload"/> as one block (upstream <c>encode_msgblock</c>).</summary>
    public static byte[] Encode(long seq, ReadOnlySpan<byte> payload)
    {
        var buf = new byte[payload.Length + MESSAGE_MIN];
        Encode(buf, seq, payload);
        return buf;
    }
}
