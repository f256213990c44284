namespace Klipsharp.SimMcu;

/// <summary>
/// The host's end of an in-memory connection to a <see cref="SimulatedMcu"/>: bytes
/// written go to the MCU, reads return what the MCU sent (0 once the MCU closed the link).
/// Reads block; <see cref="Stream.ReadTimeout"/> bounds a synchronous read.
/// </summary>
internal sealed class McuLinkStream : Stream
{
    private readonly SimulatedMcu _mcu;
    private readonly object _lock = new();
    private readonly Queue<byte[]> _chunks = new();
    private byte[]? _current;
    private int _currentPos;
    private bool _closedByMcu;
    private bool _disposed;
    private TaskCompletionSource? _waiter;
    private int _readTimeout = Timeout.Infinite;

    public McuLinkStream(SimulatedMcu mcu) => _mcu = mcu;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override bool CanTimeout => true;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int ReadTimeout
    {
        get => _readTimeout;
        set => _readTimeout = value;
    }

    /// <summary>Bytes waiting to be read.</summary>
    public int Available
    {
        get
        {
            lock (_lock)
            {
                int n = _current != null ? _current.Length - _currentPos : 0;
                foreach (var c in _chunks)
                    n += c.Length;
                return n;
            }
        }
    }

    internal void DeliverToHost(byte[] data)
    {
        TaskCompletionSource? w;
        lock (_lock)
        {
            if (_disposed || _closedByMcu)
                return;
            _chunks.Enqueue(data);
            Monitor.PulseAll(_lock);
            w = _waiter;
            _waiter = null;
        }
        w?.TrySetResult();
    }

    internal void CloseFromMcu()
    {
        TaskCompletionSource? w;
        lock (_lock)
        {
            _closedByMcu = true;
            Monitor.PulseAll(_lock);
            w = _waiter;
            _waiter = null;
        }
        w?.TrySetResult();
    }

    // Copies what is buffered; -1 when nothing is and the link is still open.
    private int TakeLocked(Span<byte> buffer)
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(McuLinkStream));
        int n = 0;
        while (n < buffer.Length)
        {
            if (_current == null || _currentPos >= _current.Length)
            {
                if (!_chunks.TryDequeue(out _current))
                    break;
                _currentPos = 0;
            }
            int k = Math.Min(buffer.Length - n, _current.Length - _currentPos);
            _current.AsSpan(_currentPos, k).CopyTo(buffer[n..]);
            _currentPos += k;
            n += k;
        }
        if (n > 0 || _closedByMcu || buffer.Length == 0)
            return n;
        return -1;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        lock (_lock)
        {
            var deadline = _readTimeout == Timeout.Infinite ? (DateTime?)null : DateTime.UtcNow.AddMilliseconds(_readTimeout);
            while (true)
            {
                int n = TakeLocked(buffer);
                if (n >= 0)
                    return n;
                if (deadline is DateTime d)
                {
                    var left = d - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || !Monitor.Wait(_lock, left))
                        throw new TimeoutException("no data from the simulated MCU");
                }
                else
                {
                    Monitor.Wait(_lock);
                }
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                int n = TakeLocked(buffer.Span);
                if (n >= 0)
                    return n;
                _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(McuLinkStream));
        if (_closedByMcu)
            throw new IOException("the simulated MCU closed the link");
        _mcu.Feed(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            TaskCompletionSource? w;
            lock (_lock)
            {
                if (_disposed)
                    return;
                _disposed = true;
                Monitor.PulseAll(_lock);
                w = _waiter;
                _waiter = null;
            }
            w?.TrySetResult();
            _mcu.LinkClosedByHost(this);
        }
        base.Dispose(disposing);
    }
}
