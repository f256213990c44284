using Klipsharp.Motion;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Mcu;

/// <summary>
/// Batch-mode MCU link (upstream serialqueue in file mode): every command is framed
/// into message blocks and written to the output file; nothing is ever received.
/// </summary>
public sealed class FileMcuSerial : IMcuSerial, IMoveQueueSink
{
    private readonly FileStream _file;
    private readonly MessageBlockWriter _writer;
    private readonly byte[] _encodeBuffer = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];

    public FileMcuSerial(string outputPath, DataDictionary dictionary)
    {
        MsgParser = dictionary;
        _file = new FileStream(outputPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        _writer = new MessageBlockWriter(_file, firstSeq: 1, leaveOpen: true);
    }

    public DataDictionary MsgParser { get; }

    public IMoveQueueSink MoveQueue => this;

    /// <summary>
    /// Runs before each command written outside the move queue, so that step messages
    /// still being generated in the background are written first, in the order a host
    /// without background generation writes them.
    /// </summary>
    public Action? BeforeRawSend { get; set; }

    public void RawSend(ReadOnlySpan<byte> cmd, ulong minClock, ulong reqClock, CommandQueue queue)
    {
        BeforeRawSend?.Invoke();
        _writer.Add(cmd);
    }

    public void RegisterResponse(Action<McuResponse>? callback, string name, long? oid = null)
    {
        // A file never answers.
    }

    public void SendBatch(ReadOnlySpan<MoveQueueMessage> batch)
    {
        foreach (ref readonly var msg in batch)
        {
            int len = MessageFormat.EncodeWords(_encodeBuffer, msg.Data);
            _writer.Add(_encodeBuffer.AsSpan(0, len));
        }
    }

    public void Disconnect()
    {
        _writer.EndBlock();
        _writer.Dispose();
        _file.Dispose();
    }
}
