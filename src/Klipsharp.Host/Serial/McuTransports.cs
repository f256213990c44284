using System.Net.Sockets;
using System.Text;

namespace Klipsharp.Host.Serial;

/// <summary>Opens the transports an MCU can be reached through (serial port, pty, Unix or TCP socket).</summary>
public static class McuTransports
{
    /// <summary>
    /// Opens a serial port at <paramref name="baud"/> in raw mode with exclusive access
    /// (pyserial's Serial(baudrate, exclusive=True) with the given RTS state).
    /// </summary>
    public static FdTransport OpenUart(string path, int baud, bool rts = true)
    {
        int fd = FdTransport.OpenFd(path);
        FdTransport? t = null;
        try
        {
            t = new FdTransport(fd, path);
            if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) < 0)
                throw new IOException($"Could not exclusively lock port {path}: {LibC.LastError(out _)}");
            if (t.IsTty)
            {
                t.MakeRaw();
                t.SetBaud(baud);
                try
                {
                    t.SetRts(rts);
                    t.SetDtr(true);
                }
                catch (IOException)
                {
                    // ptys and some USB adapters have no modem lines
                }
            }
            return t;
        }
        catch
        {
            if (t is not null)
                t.Dispose();
            else
                LibC.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Opens an existing pseudo-terminal or other character device by path (upstream
    /// connect_pipe); a tty is switched to raw mode so no byte is translated.
    /// </summary>
    public static FdTransport OpenPipe(string path, bool makeRaw = true)
    {
        int fd = FdTransport.OpenFd(path);
        var t = new FdTransport(fd, path);
        try
        {
            if (makeRaw && t.IsTty)
                t.MakeRaw();
        }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }

    /// <summary>
    /// Creates a new pseudo-terminal, links <paramref name="linkPath"/> to its slave side
    /// and returns the master (upstream util.create_pty): echo off, the slave kept open.
    /// </summary>
    public static unsafe FdTransport CreatePty(string linkPath)
    {
        int mfd = LibC.PosixOpenPt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC);
        if (mfd < 0)
            throw LibC.Error("posix_openpt");
        FdTransport? t = null;
        try
        {
            if (LibC.GrantPt(mfd) < 0)
                throw LibC.Error("grantpt");
            if (LibC.UnlockPt(mfd) < 0)
                throw LibC.Error("unlockpt");
            byte* name = stackalloc byte[256];
            if (LibC.PtsNameR(mfd, name, 256) != 0)
                throw LibC.Error("ptsname");
            string slave = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(name, 256).TrimEnd((byte)0));
            int sfd = FdTransport.OpenFd(slave);
            SetNonBlocking(mfd);
            t = new FdTransport(mfd, linkPath) { ExtraFd = sfd };
            try
            {
                File.Delete(linkPath);
            }
            catch (IOException)
            {
            }
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(slave, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            File.CreateSymbolicLink(linkPath, slave);
            t.ClearEcho();
            return t;
        }
        catch
        {
            if (t is not null)
                t.Dispose();
            else
                LibC.Close(mfd);
            throw;
        }
    }

    private static unsafe void SetNonBlocking(int fd)
    {
        // posix_openpt has no O_NONBLOCK flag on every libc; reopen flags through fcntl is
        // not bound, so use ioctl FIONBIO instead.
        int on = 1;
        const nuint FIONBIO = 0x5421;
        if (LibC.Ioctl(fd, FIONBIO, &on) < 0)
            throw LibC.Error("ioctl(FIONBIO)");
    }

    /// <summary>Connects to a Unix domain stream socket.</summary>
    public static SocketTransport ConnectUnix(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new IOException($"{e.Message}: '{path}'", e);
        }
        return new SocketTransport(s, path);
    }

    /// <summary>Connects to a TCP port (no Nagle delay: blocks are small and latency matters).</summary>
    public static SocketTransport ConnectTcp(string host, int port)
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            s.Connect(host, port);
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new IOException($"{e.Message}: '{host}:{port}'", e);
        }
        return new SocketTransport(s, $"{host}:{port}");
    }

    /// <summary>
    /// Opens the transport named by an MCU's <c>serial</c> option: <c>tcp:HOST:PORT</c>,
    /// <c>unix:PATH</c> or a path to a Unix socket, a serial port when
    /// <paramref name="baud"/> is non-zero, otherwise a pty or device (connect_pipe).
    /// </summary>
    public static IMcuTransport Open(string serialPort, int baud, bool rts = true)
    {
        if (serialPort.StartsWith("tcp:", StringComparison.Ordinal))
        {
            string rest = serialPort[4..];
            int colon = rest.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(rest[(colon + 1)..], out int port))
                throw new IOException($"Invalid TCP address '{serialPort}' (expected tcp:HOST:PORT)");
            return ConnectTcp(rest[..colon], port);
        }
        if (serialPort.StartsWith("unix:", StringComparison.Ordinal))
            return ConnectUnix(serialPort[5..]);
        try
        {
            if (baud != 0)
                return OpenUart(serialPort, baud, rts);
            return OpenPipe(serialPort);
        }
        catch (ErrnoIOException e) when (e.Errno == ENXIO)
        {
            // open() of a Unix socket path fails with ENXIO: connect to it instead
            return ConnectUnix(serialPort);
        }
    }

    private const int ENXIO = 6;
}

/// <summary>An <see cref="IOException"/> that keeps the errno of the failed call.</summary>
public sealed class ErrnoIOException : IOException
{
    public ErrnoIOException(string message, int errno) : base(message) => Errno = errno;

    public int Errno { get; }
}

/// <summary>A transport on a connected stream socket (Unix or TCP), e.g. to a simulated MCU.</summary>
public sealed class SocketTransport : IMcuTransport
{
    private readonly Socket _socket;
    private volatile bool _closed;

    public SocketTransport(Socket socket, string name)
    {
        _socket = socket;
        Name = name;
    }

    public string Name { get; }

    public int Read(Span<byte> buffer)
    {
        if (_closed)
            return 0;
        try
        {
            return _socket.Receive(buffer);
        }
        catch (Exception e) when (_closed && e is SocketException or ObjectDisposedException)
        {
            return 0;
        }
        catch (SocketException e)
        {
            throw new IOException("read: " + e.Message, e);
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        try
        {
            while (!data.IsEmpty)
            {
                int n = _socket.Send(data);
                data = data[n..];
            }
        }
        catch (SocketException e)
        {
            throw new IOException("write: " + e.Message, e);
        }
        catch (ObjectDisposedException e)
        {
            throw new IOException("write: transport closed", e);
        }
    }

    public void DiscardOutput()
    {
    }

    public void Dispose()
    {
        _closed = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        _socket.Dispose();
    }
}
