namespace Klipsharp.Protocol;

/// <summary>
/// Packs encoded messages into message blocks the way the host's serial queue does
/// (serialqueue.c <c>build_and_send_command</c>): messages are appended in order while
/// the block stays within MESSAGE_MAX bytes, and each block takes the next sequence
/// number, starting at 1. Blocks are written to a stream (the batch output file).
/// </summary>
public sealed class MessageBlockWriter : IDisposable
{
    private const int BufferSize = 4096;
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly byte[] _payload = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _payloadLen;
    private int _bufferLen;

    /// <summary>Creates a writer to <paramref name="output"/>; the first block gets sequence <paramref name="firstSeq"/>.</summary>
    public MessageBlockWriter(Stream output, long firstSeq = 1, bool leaveOpen = false)
    {
        _output = output;
        _leaveOpen = leaveOpen;
        Sequence = firstSeq;
    }

    /// <summary>Sequence number the next block will carry (upstream <c>send_seq</c>).</summary>
    public long Sequence { get; private set; }

    /// <summary>Payload bytes waiting in the open block.</summary>
    public int PendingBytes => _payloadLen;

    /// <summary>Blocks completed so far.</summary>
    public long BlockCount { get; private set; }

    /// <summary>Total bytes of completed blocks.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>True when <paramref name="messageLength"/> more bytes fit in the open block.</summary>
    public bool Fits(int messageLength) => _payloadLen + messageLength <= MessageBlock.MESSAGE_PAYLOAD_MAX;

    /// <summary>
    /// Appends one encoded message; the open block is closed first when the message
    /// does not fit in it.
    /// </summary>
    public void Add(ReadOnlySpan<byte> message)
    {
        if (message.Length > MessageBlock.MESSAGE_PAYLOAD_MAX)
            throw new ProtocolError($"Message of {message.Length} bytes does not fit in a message block");
        if (!Fits(message.Length))
            EndBlock();
        message.CopyTo(_payload.AsSpan(_payloadLen));
        _payloadLen += message.Length;
    }

    /// <summary>Closes the open block (if it holds anything) and queues it for writing.</summary>
    public void EndBlock()
    {
        if (_payloadLen == 0)
            return;
        if (_bufferLen + MessageBlock.MESSAGE_MAX > BufferSize)
            FlushBuffer();
        int len = MessageBlock.Encode(_buffer.AsSpan(_bufferLen), Sequence, _payload.AsSpan(0, _payloadLen));
        _bufferLen += len;
        _payloadLen = 0;
        Sequence++;
        BlockCount++;
        BytesWritten += len;
    }

    /// <summary>Closes the open block and writes everything to the stream.</summary>
    public void Flush()
    {
        EndBlock();
        FlushBuffer();
        _output.Flush();
    }

    private void FlushBuffer()
    {
        if (_bufferLen == 0)
            return;
        _output.Write(_buffer, 0, _bufferLen);
        _bufferLen = 0;
    }

    /// <summary>Flushes, and closes the stream unless asked to leave it open.</summary>
    public void Dispose()
    {
        Flush();
        if (!_leaveOpen)
            _output.Dispose();
    }
}
