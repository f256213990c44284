using System.Runtime.InteropServices;

namespace Klipsharp.SimMcu;

/// <summary>
/// Serves a <see cref="SimulatedMcu"/> on a pseudo-terminal in raw mode, with a symlink to
/// the terminal's slave side (like upstream's Linux MCU process), so any host can open it
/// as a serial port. The slave side is held open so that hosts may come and go.
/// </summary>
public sealed partial class SimMcuPty : IDisposable
{
    private const int O_RDWR = 2;
    private const int O_NOCTTY = 0x100;
    private const int O_NONBLOCK = 0x800;
    private const int F_GETFL = 3;
    private const int F_SETFL = 4;
    private const int TCSANOW = 0;
    private const short POLLIN = 1;
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    private readonly SimulatedMcu _mcu;
    private readonly int _master;
    private readonly int _slave;
    private readonly Thread _reader;
    private readonly object _writeLock = new();
    private volatile bool _closing;

    private SimMcuPty(SimulatedMcu mcu, int master, int slave, string slaveName, string? link)
    {
        _mcu = mcu;
        _master = master;
        _slave = slave;
        SlaveName = slaveName;
        LinkPath = link;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "sim-mcu-pty" };
    }

    /// <summary>Path of the terminal's slave side (e.g. <c>/dev/pts/3</c>).</summary>
    public string SlaveName { get; }

    /// <summary>The symlink created to the slave side, or null.</summary>
    public string? LinkPath { get; }

    /// <summary>Bytes the MCU could not write because nobody was reading.</summary>
    public long DroppedBytes { get; private set; }

    /// <summary>
    /// Creates the pseudo-terminal, links <paramref name="linkPath"/> to it (replacing an
    /// existing file) and attaches it to <paramref name="mcu"/>.
    /// </summary>
    public static SimMcuPty Open(SimulatedMcu mcu, string? linkPath)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("pseudo-terminals are supported on Linux only");
        int master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0)
            throw Fail("posix_openpt");
        try
        {
            if (grantpt(master) != 0)
                throw Fail("grantpt");
            if (unlockpt(master) != 0)
                throw Fail("unlockpt");
            string slaveName = PtsName(master);
            int slave = open(slaveName, O_RDWR | O_NOCTTY);
            if (slave < 0)
                throw Fail("open " + slaveName);
            MakeRaw(slave);
            MakeRaw(master);
            int flags = fcntl(master, F_GETFL, 0);
            if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
                throw Fail("fcntl");
            if (linkPath != null)
            {
                if (File.Exists(linkPath) || new FileInfo(linkPath).LinkTarget != null)
                    File.Delete(linkPath);
                File.CreateSymbolicLink(linkPath, slaveName);
            }
            var pty = new SimMcuPty(mcu, master, slave, slaveName, linkPath);
            mcu.Attach(pty.Write);
            pty._reader.Start();
            return pty;
        }
        catch
        {
            close(master);
            throw;
        }
    }

    private static IOException Fail(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    private static unsafe string PtsName(int fd)
    {
        byte* buf = stackalloc byte[256];
        if (ptsname_r(fd, buf, 256) != 0)
            throw Fail("ptsname_r");
        return Marshal.PtrToStringUTF8((IntPtr)buf)!;
    }

    private static unsafe void MakeRaw(int fd)
    {
        // struct termios is 60 bytes on glibc; leave room for other layouts.
        byte* tio = stackalloc byte[256];
        if (tcgetattr(fd, tio) != 0)
            throw Fail("tcgetattr");
        cfmakeraw(tio);
        if (tcsetattr(fd, TCSANOW, tio) != 0)
            throw Fail("tcsetattr");
    }

    private unsafe void Write(byte[] data)
    {
        lock (_writeLock)
        {
            if (_closing)
                return;
            fixed (byte* p = data)
            {
                int off = 0;
                while (off < data.Length)
                {
                    nint n = write(_master, p + off, (nuint)(data.Length - off));
                    if (n > 0)
                    {
                        off += (int)n;
                        continue;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (n < 0 && errno == EINTR)
                        continue;
                    // The terminal buffer is full (no host reading): drop like a serial line would.
                    DroppedBytes += data.Length - off;
                    return;
                }
            }
        }
    }

    private unsafe void ReadLoop()
    {
        Klipsharp.Protocol.ThreadScheduling.TrySetCurrentThreadNice(Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice);
        var buf = new byte[4096];
        var pfd = new PollFd { Fd = _master, Events = POLLIN };
        while (!_closing)
        {
            int r = poll(&pfd, 1, 200);
            if (r <= 0)
                continue;
            fixed (byte* p = buf)
            {
                nint n = read(_master, p, (nuint)buf.Length);
                if (n > 0)
                {
                    _mcu.Feed(buf.AsSpan(0, (int)n));
                    continue;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                // EIO while no slave is open cannot happen (we hold one); back off anyway.
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Detaches from the MCU, closes the terminal and removes the symlink.</summary>
    public void Dispose()
    {
        if (_closing)
            return;
        _closing = true;
        _mcu.Attach(null);
        _reader.Join();
        lock (_writeLock)
        {
            close(_master);
            close(_slave);
        }
        if (LinkPath != null)
        {
            try
            {
                if (new FileInfo(LinkPath).LinkTarget == SlaveName)
                    File.Delete(LinkPath);
            }
            catch (IOException)
            {
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_openpt(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int grantpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int unlockpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ptsname_r(int fd, byte* buf, nuint len);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcsetattr(int fd, int actions, byte* termios);

    [LibraryImport("libc")]
    private static unsafe partial void cfmakeraw(byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);
}
