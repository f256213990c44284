using System.Runtime.InteropServices;

namespace Klipsharp.Host.Serial;

/// <summary>The few libc calls the MCU transports need (Linux constants for x86, ARM, AArch64 and RISC-V).</summary>
internal static unsafe partial class LibC
{
    public const int O_RDWR = 0x2;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    public const int EINTR = 4;
    public const int EAGAIN = 11;

    public const int TCSANOW = 0;
    public const int TCIFLUSH = 0;
    public const int TCOFLUSH = 1;
    public const int TCIOFLUSH = 2;

    // struct termios: c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[32], c_ispeed, c_ospeed
    public const int TermiosSize = 128; // generous: glibc and musl use 60 bytes
    public const int TermiosCflag = 8;
    public const int TermiosLflag = 12;
    // struct termios2 (TCGETS2/TCSETS2): c_cc[19], then c_ispeed at 36, c_ospeed at 40
    public const int Termios2Size = 44;
    public const int Termios2Ispeed = 36;
    public const int Termios2Ospeed = 40;

    public const uint CSTOPB = 0x40;
    public const uint CREAD = 0x80;
    public const uint PARENB = 0x100;
    public const uint HUPCL = 0x400;
    public const uint CLOCAL = 0x800;
    public const uint CBAUD = 0x100f;
    public const uint BOTHER = 0x1000;
    public const uint CIBAUD = 0x100f0000;
    public const uint CRTSCTS = 0x80000000;
    public const uint ECHO = 0x8;

    public const nuint TCGETS2 = 0x802C542A;
    public const nuint TCSETS2 = 0x402C542B;
    public const nuint TIOCEXCL = 0x540C;
    public const nuint TIOCMBIS = 0x5416;
    public const nuint TIOCMBIC = 0x5417;
    public const int TIOCM_DTR = 0x002;
    public const int TIOCM_RTS = 0x004;

    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "isatty")]
    public static partial int IsATty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int TcGetAttr(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int TcSetAttr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    public static partial void CfMakeRaw(byte* termios);

    [LibraryImport("libc", EntryPoint = "cfsetspeed", SetLastError = true)]
    public static partial int CfSetSpeed(byte* termios, uint speed);

    [LibraryImport("libc", EntryPoint = "tcflush", SetLastError = true)]
    public static partial int TcFlush(int fd, int queueSelector);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    public static partial int PosixOpenPt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    public static partial int GrantPt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    public static partial int UnlockPt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    public static partial int PtsNameR(int fd, byte* buf, nuint buflen);

    /// <summary>errno of the last call, as Python's OSError text: <c>[Errno N] message</c>.</summary>
    public static string LastError(out int errno)
    {
        errno = Marshal.GetLastPInvokeError();
        return $"[Errno {errno}] {Marshal.GetPInvokeErrorMessage(errno)}";
    }

    public static IOException Error(string what)
    {
        string msg = LastError(out _);
        return new IOException($"{what}: {msg}");
    }

    /// <summary>The termios B* constant for a standard baud rate, or 0 when the rate needs BOTHER.</summary>
    public static uint BaudConstant(int baud) => baud switch
    {
        50 => 0x1, 75 => 0x2, 110 => 0x3, 134 => 0x4, 150 => 0x5, 200 => 0x6, 300 => 0x7,
        600 => 0x8, 1200 => 0x9, 1800 => 0xa, 2400 => 0xb, 4800 => 0xc, 9600 => 0xd,
        19200 => 0xe, 38400 => 0xf, 57600 => 0x1001, 115200 => 0x1002, 230400 => 0x1003,
        460800 => 0x1004, 500000 => 0x1005, 576000 => 0x1006, 921600 => 0x1007,
        1000000 => 0x1008, 1152000 => 0x1009, 1500000 => 0x100a, 2000000 => 0x100b,
        2500000 => 0x100c, 3000000 => 0x100d, 3500000 => 0x100e, 4000000 => 0x100f,
        _ => 0,
    };
}
