using System.Net;
using System.Net.Sockets;
using System.Text;
using Klipsharp.Host.Serial;

namespace Klipsharp.Host.Tests.Serial;

public class TransportTests
{
    private static string ReadWithTimeout(IMcuTransport t, int expected)
    {
        var task = Task.Run(() =>
        {
            var buf = new byte[256];
            var sb = new StringBuilder();
            while (sb.Length < expected)
            {
                int n = t.Read(buf);
                if (n <= 0)
                    break;
                sb.Append(Encoding.ASCII.GetString(buf, 0, n));
            }
            return sb.ToString();
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(10)), "read timed out");
        return task.Result;
    }

    private static T WaitResult<T>(Task<T> task)
    {
        Assert.True(task.Wait(TimeSpan.FromSeconds(5)), "timed out");
        return task.Result;
    }

    private static string TempPath(string name) =>
        Path.Combine(Path.GetTempPath(), ("ks-" + name + "-" + Guid.NewGuid().ToString("N"))[..24]);

    [Fact]
    public void InMemoryPipeCarriesBytesBothWaysAndEndsOnClose()
    {
        var (a, b) = DuplexPipe.CreateTransportPair();
        a.Write("hello"u8);
        Assert.Equal("hello", ReadWithTimeout(b, 5));
        b.Write(new byte[10000]);
        Assert.Equal(10000, ReadWithTimeout(a, 10000).Length);
        a.Dispose();
        Assert.Equal(0, b.Read(new byte[4]));
        Assert.Throws<IOException>(() => b.Write("x"u8));
        b.Dispose();
    }

    [Fact]
    public void DisposeWakesABlockedReader()
    {
        var (a, b) = DuplexPipe.CreateTransportPair();
        var reader = Task.Run(() => a.Read(new byte[16]));
        Thread.Sleep(20);
        a.Dispose();
        Assert.Equal(0, WaitResult(reader));
        b.Dispose();
    }

    [Fact]
    public void PseudoTerminalOpensByPathLikeASerialPort()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string link = TempPath("pty");
        using var master = McuTransports.CreatePty(link);
        using var slave = McuTransports.Open(link, 0);
        Assert.IsType<FdTransport>(slave);
        // Raw mode: bytes such as 0x7e, \r and \n pass unchanged
        slave.Write("ab\r\n~"u8);
        Assert.Equal("ab\r\n~", ReadWithTimeout(master, 5));
        master.Write("xyz"u8);
        Assert.Equal("xyz", ReadWithTimeout(slave, 3));
        slave.DiscardOutput();
        File.Delete(link);
    }

    [Fact]
    public void FdTransportDisposeWakesABlockedReader()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string link = TempPath("ptyw");
        using var master = McuTransports.CreatePty(link);
        var slave = McuTransports.OpenPipe(link);
        var reader = Task.Run(() => slave.Read(new byte[16]));
        Thread.Sleep(20);
        slave.Dispose();
        Assert.Equal(0, WaitResult(reader));
        File.Delete(link);
    }

    [Fact]
    public void SerialPortSetupOnAPtyWithStandardAndCustomBaudAndExclusiveLock()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string link = TempPath("ptyb");
        using var master = McuTransports.CreatePty(link);
        using (var port = McuTransports.OpenUart(link, 115200))
        {
            port.Write("~~"u8);
            Assert.Equal("~~", ReadWithTimeout(master, 2));
        }
        using var custom = McuTransports.OpenUart(link, 250000); // termios2 BOTHER
        var e = Assert.Throws<IOException>(() => McuTransports.OpenUart(link, 250000));
        Assert.StartsWith($"Could not exclusively lock port {link}: [Errno 11]", e.Message);
        custom.SetBaud(2400);
        custom.ClearHupcl();
        File.Delete(link);
    }

    [Fact]
    public void MissingDeviceGivesAnErrnoMessage()
    {
        var e = Assert.Throws<ErrnoIOException>(() => McuTransports.Open("/nonexistent/ttyKS0", 250000));
        Assert.Equal(2, e.Errno);
        Assert.Equal("[Errno 2] No such file or directory: '/nonexistent/ttyKS0'", e.Message);
    }

    [Fact]
    public void UnixSocketByPrefixAndByPath()
    {
        string path = TempPath("sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(2);
        foreach (string name in new[] { "unix:" + path, path })
        {
            using var t = McuTransports.Open(name, 250000);
            using var server = listener.Accept();
            t.Write("ping"u8);
            var buf = new byte[4];
            int n = 0;
            while (n < 4)
                n += server.Receive(buf.AsSpan(n));
            Assert.Equal("ping", Encoding.ASCII.GetString(buf));
            server.Send("pong"u8);
            Assert.Equal("pong", ReadWithTimeout(t, 4));
        }
        File.Delete(path);
    }

    [Fact]
    public void TcpTransport()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var t = McuTransports.Open($"tcp:127.0.0.1:{port}", 0);
        using var server = listener.AcceptSocket();
        server.Send("hi"u8);
        Assert.Equal("hi", ReadWithTimeout(t, 2));
        server.Shutdown(SocketShutdown.Both);
        Assert.Equal(0, t.Read(new byte[4]));
    }
}
