namespace Klipsharp.Host.Serial;

/// <summary>
/// A byte link to an MCU (serial port, pseudo-terminal, socket, or in-memory stream).
/// <see cref="Read"/> is called from one reader thread and <see cref="Write"/> from one
/// writer thread; <see cref="IDisposable.Dispose"/> may come from any thread and makes
/// a blocked <see cref="Read"/> return 0.
/// </summary>
public interface IMcuTransport : IDisposable
{
    /// <summary>Description for log messages (the device path or address).</summary>
    string Name { get; }

    /// <summary>Blocks until bytes arrive; returns 0 at end of stream or once disposed. Throws <see cref="IOException"/> on errors.</summary>
    int Read(Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/> (a transport may drop what it cannot send; the serial queue retransmits).</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Discards output not yet sent (tcflush(TCOFLUSH) on a tty), done before a retransmit.</summary>
    void DiscardOutput();
}

/// <summary>Adapts any <see cref="Stream"/> (an in-process simulated MCU, a test pipe) to <see cref="IMcuTransport"/>.</summary>
public sealed class StreamTransport : IMcuTransport
{
    private readonly Stream _stream;
    private volatile bool _closed;

    public StreamTransport(Stream stream, string name = "stream")
    {
        _stream = stream;
        Name = name;
    }

    public string Name { get; }

    public int Read(Span<byte> buffer)
    {
        if (_closed)
            return 0;
        try
        {
            return _stream.Read(buffer);
        }
        catch (ObjectDisposedException) when (_closed)
        {
            return 0;
        }
        catch (IOException) when (_closed)
        {
            return 0;
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_closed)
            throw new IOException("write: transport closed");
        _stream.Write(data);
        _stream.Flush();
    }

    public void DiscardOutput()
    {
    }

    public void Dispose()
    {
        _closed = true;
        _stream.Dispose();
    }
}
