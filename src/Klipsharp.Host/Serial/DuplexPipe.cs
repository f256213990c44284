namespace Klipsharp.Host.Serial;

/// <summary>
/// An in-memory full-duplex byte link: two connected <see cref="Stream"/> ends, what one
/// writes the other reads. Reads block until data arrives or the peer closes (then 0).
/// Used by tests and by an in-process simulated MCU.
/// </summary>
public static class DuplexPipe
{
    /// <summary>Creates two connected ends.</summary>
    public static (Stream A, Stream B) CreatePair()
    {
        var ab = new ByteChannel();
        var ba = new ByteChannel();
        return (new End(ba, ab), new End(ab, ba));
    }

    /// <summary>Creates two connected ends wrapped as transports.</summary>
    public static (IMcuTransport A, IMcuTransport B) CreateTransportPair()
    {
        var (a, b) = CreatePair();
        return (new StreamTransport(a, "memory"), new StreamTransport(b, "memory"));
    }

    // One direction: a growable ring of bytes guarded by a monitor.
    private sealed class ByteChannel
    {
        private byte[] _buf = new byte[4096];
        private int _head, _count;
        private bool _writerClosed, _readerClosed;

        public void Write(ReadOnlySpan<byte> data)
        {
            lock (this)
            {
                if (_readerClosed || _writerClosed)
                    throw new IOException("write: [Errno 32] Broken pipe");
                if (_count + data.Length > _buf.Length)
                {
                    var n = new byte[Math.Max(_buf.Length * 2, _count + data.Length)];
                    CopyOut(n.AsSpan(0, _count));
                    _buf = n;
                    _head = 0;
                }
                int tail = (_head + _count) % _buf.Length;
                int first = Math.Min(data.Length, _buf.Length - tail);
                data[..first].CopyTo(_buf.AsSpan(tail));
                data[first..].CopyTo(_buf);
                _count += data.Length;
                Monitor.PulseAll(this);
            }
        }

        public int Read(Span<byte> dest)
        {
            if (dest.IsEmpty)
                return 0;
            lock (this)
            {
                while (_count == 0)
                {
                    if (_writerClosed || _readerClosed)
                        return 0;
                    Monitor.Wait(this);
                }
                int n = Math.Min(dest.Length, _count);
                CopyOut(dest[..n]);
                _head = (_head + n) % _buf.Length;
                _count -= n;
                return n;
            }
        }

        private void CopyOut(Span<byte> dest)
        {
            int first = Math.Min(dest.Length, _buf.Length - _head);
            _buf.AsSpan(_head, first).CopyTo(dest);
            _buf.AsSpan(0, dest.Length - first).CopyTo(dest[first..]);
        }

        public void CloseWriter()
        {
            lock (this)
            {
                _writerClosed = true;
                Monitor.PulseAll(this);
            }
        }

        public void CloseReader()
        {
            lock (this)
            {
                _readerClosed = true;
                Monitor.PulseAll(this);
            }
        }
    }

    private sealed class End : Stream
    {
        private readonly ByteChannel _in, _out;
        private bool _disposed;

        public End(ByteChannel input, ByteChannel output)
        {
            _in = input;
            _out = output;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer) => _in.Read(buffer);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => _out.Write(buffer);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (!_disposed)
            {
                _disposed = true;
                _out.CloseWriter();
                _in.CloseReader();
            }
            base.Dispose(disposing);
        }
    }
}
