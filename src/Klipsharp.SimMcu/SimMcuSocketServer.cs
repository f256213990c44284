using System.Net.Sockets;

namespace Klipsharp.SimMcu;

/// <summary>
/// Serves a <see cref="SimulatedMcu"/> on a Unix stream socket, one host connection at a
/// time; a new connection waits until the current one ends.
/// </summary>
public sealed class SimMcuSocketServer : IDisposable
{
    private readonly SimulatedMcu _mcu;
    private readonly Socket _listener;
    private readonly Thread _thread;
    private volatile bool _closing;
    private Socket? _client;

    private SimMcuSocketServer(SimulatedMcu mcu, Socket listener, string path)
    {
        _mcu = mcu;
        _listener = listener;
        Path = path;
        _thread = new Thread(AcceptLoop) { IsBackground = true, Name = "sim-mcu-socket" };
    }

    /// <summary>The socket's path.</summary>
    public string Path { get; }

    /// <summary>Connections served so far.</summary>
    public int Connections { get; private set; }

    /// <summary>Raised when a host connects (true) or disconnects (false).</summary>
    public event Action<bool>? ConnectionChanged;

    /// <summary>Listens on <paramref name="path"/> (an existing socket file is replaced).</summary>
    public static SimMcuSocketServer Listen(SimulatedMcu mcu, string path)
    {
        if (File.Exists(path))
            File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var server = new SimMcuSocketServer(mcu, listener, path);
        server._thread.Start();
        return server;
    }

    private void AcceptLoop()
    {
        Klipsharp.Protocol.ThreadScheduling.TrySetCurrentThreadNice(Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice);
        var buf = new byte[4096];
        while (!_closing)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (SocketException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            _client = client;
            Connections++;
            _mcu.Attach(data =>
            {
                try
                {
                    client.Send(data);
                }
                catch (SocketException)
                {
                }
                catch (ObjectDisposedException)
                {
                }
            });
            ConnectionChanged?.Invoke(true);
            try
            {
                while (!_closing)
                {
                    int n = client.Receive(buf);
                    if (n <= 0)
                        break;
                    _mcu.Feed(buf.AsSpan(0, n));
                }
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            _mcu.Attach(null);
            client.Dispose();
            _client = null;
            ConnectionChanged?.Invoke(false);
        }
    }

    /// <summary>Stops listening, drops the current connection and removes the socket file.</summary>
    public void Dispose()
    {
        if (_closing)
            return;
        _closing = true;
        _listener.Dispose();
        _client?.Dispose();
        _thread.Join();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}
