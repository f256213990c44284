namespace Klipsharp.Host.Serial;

/// <summary>
/// A transport on a non-blocking file descriptor (serial port, pseudo-terminal). Reads
/// poll the descriptor together with a wake pipe so that <see cref="Dispose"/> can stop
/// a blocked reader before the descriptor is closed.
/// </summary>
public unsafe class FdTransport : IMcuTransport
{
    private readonly object _readLock = new();
    private readonly object _writeLock = new();
    private readonly int _wakeRead, _wakeWrite;
    private int _extraFd = -1;
    private volatile bool _closed;

    /// <summary>Takes ownership of <paramref name="fd"/> (already non-blocking).</summary>
    public FdTransport(int fd, string name)
    {
        Fd = fd;
        Name = name;
        int* fds = stackalloc int[2];
        if (LibC.Pipe2(fds, LibC.O_NONBLOCK | LibC.O_CLOEXEC) < 0)
        {
            var e = LibC.Error("pipe");
            LibC.Close(fd);
            throw e;
        }
        _wakeRead = fds[0];
        _wakeWrite = fds[1];
        IsTty = LibC.IsATty(fd) == 1;
    }

    public int Fd { get; }

    public string Name { get; }

    /// <summary>True for serial ports and pseudo-terminals (termios applies).</summary>
    public bool IsTty { get; }

    /// <summary>A second descriptor closed together with this one (the slave side of a created pty).</summary>
    internal int ExtraFd
    {
        set => _extraFd = value;
    }

    public int Read(Span<byte> buffer)
    {
        lock (_readLock)
        {
            LibC.PollFd* pfd = stackalloc LibC.PollFd[2];
            while (!_closed)
            {
                pfd[0] = new LibC.PollFd { Fd = Fd, Events = LibC.POLLIN };
                pfd[1] = new LibC.PollFd { Fd = _wakeRead, Events = LibC.POLLIN };
                int r = LibC.Poll(pfd, 2, -1);
                if (r < 0)
                {
                    string msg = LibC.LastError(out int errno);
                    if (errno == LibC.EINTR)
                        continue;
                    throw new IOException("poll: " + msg);
                }
                if (_closed || pfd[1].REvents != 0)
                    return 0;
                if (pfd[0].REvents == 0)
                    continue;
                fixed (byte* p = buffer)
                {
                    nint n = LibC.Read(Fd, p, buffer.Length);
                    if (n >= 0)
                        return (int)n;
                    string msg = LibC.LastError(out int errno);
                    if (errno == LibC.EAGAIN || errno == LibC.EINTR)
                        continue;
                    throw new IOException("read: " + msg);
                }
            }
            return 0;
        }
    }

    /// <summary>Reads whatever is available now without waiting (for reset sequences); 0 when nothing.</summary>
    public int ReadAvailable(Span<byte> buffer)
    {
        lock (_readLock)
        {
            if (_closed)
                return 0;
            fixed (byte* p = buffer)
            {
                nint n = LibC.Read(Fd, p, buffer.Length);
                return n > 0 ? (int)n : 0;
            }
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        lock (_writeLock)
        {
            if (_closed)
                throw new IOException("write: transport closed");
            int waits = 0;
            fixed (byte* p = data)
            {
                int pos = 0;
                while (pos < data.Length)
                {
                    nint n = LibC.Write(Fd, p + pos, data.Length - pos);
                    if (n >= 0)
                    {
                        pos += (int)n;
                        continue;
                    }
                    string msg = LibC.LastError(out int errno);
                    if (errno == LibC.EINTR)
                        continue;
                    if (errno != LibC.EAGAIN)
                        throw new IOException("write: " + msg);
                    // Output buffer full: wait a little, then give up (a retransmit recovers)
                    if (++waits > 10)
                        throw new IOException($"write: {data.Length - pos} bytes dropped (output buffer full)");
                    var pfd = new LibC.PollFd { Fd = Fd, Events = LibC.POLLOUT };
                    LibC.Poll(&pfd, 1, 100);
                }
            }
        }
    }

    public void DiscardOutput()
    {
        if (!IsTty || _closed)
            return;
        if (LibC.TcFlush(Fd, LibC.TCOFLUSH) < 0)
            throw LibC.Error("tcflush");
    }

    public void Dispose()
    {
        if (_closed)
            return;
        _closed = true;
        byte b = (byte)'.';
        LibC.Write(_wakeWrite, &b, 1);
        lock (_readLock)
        lock (_writeLock)
        {
            LibC.Close(Fd);
            if (_extraFd >= 0)
                LibC.Close(_extraFd);
            LibC.Close(_wakeRead);
            LibC.Close(_wakeWrite);
        }
        GC.SuppressFinalize(this);
    }

    // ---- termios helpers (serial ports and ptys)

    /// <summary>Puts the tty in raw mode (cfmakeraw, receiver on, modem lines ignored, no flow control).</summary>
    public void MakeRaw()
    {
        byte* t = stackalloc byte[LibC.TermiosSize];
        if (LibC.TcGetAttr(Fd, t) < 0)
            throw LibC.Error("tcgetattr");
        LibC.CfMakeRaw(t);
        ref uint cflag = ref *(uint*)(t + LibC.TermiosCflag);
        cflag |= LibC.CLOCAL | LibC.CREAD;
        cflag &= ~(LibC.CSTOPB | LibC.PARENB | LibC.CRTSCTS);
        if (LibC.TcSetAttr(Fd, LibC.TCSANOW, t) < 0)
            throw LibC.Error("tcsetattr");
    }

    /// <summary>Sets the line speed: a standard B* rate through cfsetspeed, any other rate through termios2 BOTHER.</summary>
    public void SetBaud(int baud)
    {
        uint constant = LibC.BaudConstant(baud);
        if (constant != 0)
        {
            byte* t = stackalloc byte[LibC.TermiosSize];
            if (LibC.TcGetAttr(Fd, t) < 0)
                throw LibC.Error("tcgetattr");
            if (LibC.CfSetSpeed(t, constant) < 0)
                throw LibC.Error("cfsetspeed");
            if (LibC.TcSetAttr(Fd, LibC.TCSANOW, t) < 0)
                throw LibC.Error("tcsetattr");
            return;
        }
        byte* t2 = stackalloc byte[LibC.Termios2Size + 16];
        if (LibC.Ioctl(Fd, LibC.TCGETS2, t2) < 0)
            throw LibC.Error("TCGETS2");
        ref uint c = ref *(uint*)(t2 + LibC.TermiosCflag);
        c &= ~(LibC.CBAUD | LibC.CIBAUD);
        c |= LibC.BOTHER | (LibC.BOTHER << 16);
        *(uint*)(t2 + LibC.Termios2Ispeed) = (uint)baud;
        *(uint*)(t2 + LibC.Termios2Ospeed) = (uint)baud;
        if (LibC.Ioctl(Fd, LibC.TCSETS2, t2) < 0)
            throw LibC.Error("TCSETS2");
    }

    /// <summary>Clears HUPCL so closing the port does not drop DTR (upstream util.clear_hupcl).</summary>
    public void ClearHupcl()
    {
        byte* t = stackalloc byte[LibC.TermiosSize];
        if (LibC.TcGetAttr(Fd, t) < 0)
            return;
        *(uint*)(t + LibC.TermiosCflag) &= ~LibC.HUPCL;
        LibC.TcSetAttr(Fd, LibC.TCSANOW, t);
    }

    /// <summary>Turns off local echo (upstream create_pty does this on the master).</summary>
    public void ClearEcho()
    {
        byte* t = stackalloc byte[LibC.TermiosSize];
        if (LibC.TcGetAttr(Fd, t) < 0)
            throw LibC.Error("tcgetattr");
        *(uint*)(t + LibC.TermiosLflag) &= ~LibC.ECHO;
        if (LibC.TcSetAttr(Fd, LibC.TCSANOW, t) < 0)
            throw LibC.Error("tcsetattr");
    }

    /// <summary>Asserts (true) or clears the DTR modem line.</summary>
    public void SetDtr(bool on) => SetModemLine(LibC.TIOCM_DTR, on);

    /// <summary>Asserts (true) or clears the RTS modem line.</summary>
    public void SetRts(bool on) => SetModemLine(LibC.TIOCM_RTS, on);

    private void SetModemLine(int bit, bool on)
    {
        int arg = bit;
        if (LibC.Ioctl(Fd, on ? LibC.TIOCMBIS : LibC.TIOCMBIC, &arg) < 0)
            throw LibC.Error("ioctl(TIOCM)");
    }

    /// <summary>Discards pending input and output.</summary>
    public void FlushBoth()
    {
        if (IsTty)
            LibC.TcFlush(Fd, LibC.TCIOFLUSH);
    }

    /// <summary>Opens a path read-write, non-blocking, without becoming its controlling terminal.</summary>
    public static int OpenFd(string path)
    {
        int fd = LibC.Open(path, LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            string msg = LibC.LastError(out int errno);
            throw new ErrnoIOException($"{msg}: '{path}'", errno);
        }
        return fd;
    }
}
