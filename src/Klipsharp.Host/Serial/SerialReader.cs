using System.Globalization;
using System.Text;
using Klipsharp.Host.Mcu;
using Klipsharp.Motion;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Serial;

/// <summary>
/// The live link to one MCU (upstream serialhdl.SerialReader): opens the transport,
/// fetches the data dictionary through <c>identify</c>, sends commands through a
/// <see cref="SerialQueue"/>, and dispatches received messages to handlers registered
/// by name and oid. Handlers, ack notifications and <see cref="ConnectionLost"/> run on
/// the reactor thread; every public method is meant to be called from the reactor thread.
/// </summary>
public sealed class SerialReader : IMcuSerial, IMoveQueueSink
{
    private const double ConnectTimeout = 90.0;
    private const double ConnectRetryDelay = 5.0;
    private const double IdentifyTimeout = 5.0;

    private readonly Reactor _reactor;
    private readonly string _sqName;
    private readonly object _lock = new();
    private readonly Dictionary<(string Name, long? Oid), Action<McuResponse>> _handlers = new();
    private readonly Dictionary<ulong, ReactorCompletion> _pendingNotifications = new();
    private readonly CommandQueue _moveQueue;
    private ulong _lastNotifyId;
    private int _lastQueueId;
    private int _session;
    private SerialQueue? _serialQueue;

    public SerialReader(Reactor reactor, string mcuName = "", Action<string>? log = null)
    {
        _reactor = reactor;
        McuName = mcuName;
        Log = log;
        WarnPrefix = mcuName != "" ? $"mcu '{mcuName}': " : "";
        string sq = "serialq " + mcuName;
        _sqName = sq.Length > 15 ? sq[..15] : sq;
        MsgParser = new DataDictionary(WarnPrefix);
        DefaultCommandQueue = AllocCommandQueue();
        _moveQueue = AllocCommandQueue();
        RegisterResponse(HandleUnknownInit, "#unknown");
        RegisterResponse(HandleOutput, "#output");
    }

    public string McuName { get; }

    /// <summary>Prefix of log and error messages: <c>mcu 'NAME': </c>.</summary>
    public string WarnPrefix { get; }

    /// <summary>Where log lines go.</summary>
    public Action<string>? Log { get; set; }

    public Reactor Reactor => _reactor;

    public DataDictionary MsgParser { get; private set; }

    public CommandQueue DefaultCommandQueue { get; }

    /// <summary>The running queue, or null when not connected.</summary>
    public SerialQueue? SerialQueue => _serialQueue;

    /// <summary>True after the link failed (see <see cref="Break"/>) until the next connect.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>True once <see cref="ExpectDisconnect"/> announced that the MCU is about to close the link.</summary>
    public bool IsDisconnectExpected { get; private set; }

    /// <summary>Raised once (on the reactor thread) when the link fails; the argument says why.</summary>
    public event Action<string>? ConnectionLost;

    public IMoveQueueSink MoveQueue => this;

    /// <summary>A new command queue on this link (upstream alloc_command_queue).</summary>
    public CommandQueue AllocCommandQueue() => new(-(++_lastQueueId));

    private McuError Error(string msg) => new(WarnPrefix + msg);

    // ---- Connecting

    /// <summary>
    /// Connects by an MCU's <c>serial</c>/<c>baud</c> options: a serial port when
    /// <paramref name="baud"/> is set, else a pty, device or socket (see <see cref="McuTransports.Open"/>).
    /// </summary>
    public void Connect(string serialPort, int baud, bool rts = true)
    {
        bool isSocketAddress = serialPort.StartsWith("tcp:", StringComparison.Ordinal)
                               || serialPort.StartsWith("unix:", StringComparison.Ordinal);
        if (baud != 0 && !isSocketAddress)
            ConnectUart(serialPort, baud, rts);
        else
            ConnectPipe(serialPort);
    }

    /// <summary>Opens a serial port and identifies the MCU, retrying for up to 90 seconds (upstream connect_uart).</summary>
    public void ConnectUart(string serialPort, int baud, bool rts = true)
    {
        Log?.Invoke($"{WarnPrefix}Starting serial connect");
        ConnectLoop(() =>
        {
            var dev = McuTransports.Open(serialPort, baud, rts);
            if (dev is FdTransport fd && fd.IsTty)
                Stk500v2Leave(fd, baud);
            return dev;
        }, "Unable to open serial port");
    }

    /// <summary>Opens a pty, device or socket and identifies the MCU, retrying for up to 90 seconds (upstream connect_pipe).</summary>
    public void ConnectPipe(string filename)
    {
        Log?.Invoke($"{WarnPrefix}Starting connect");
        ConnectLoop(() => McuTransports.Open(filename, 0), "Unable to open port");
    }

    /// <summary>Connects through transports made by <paramref name="open"/> (e.g. an in-process simulated MCU), with the same retries.</summary>
    public void ConnectTransport(Func<IMcuTransport> open)
    {
        Log?.Invoke($"{WarnPrefix}Starting connect");
        ConnectLoop(open, "Unable to open port");
    }

    private void ConnectLoop(Func<IMcuTransport> open, string failText)
    {
        double startTime = _reactor.Monotonic();
        while (true)
        {
            if (_reactor.Monotonic() > startTime + ConnectTimeout)
                throw Error("Unable to connect");
            IMcuTransport dev;
            try
            {
                dev = open();
            }
            catch (IOException e)
            {
                Log?.Invoke($"{WarnPrefix}{failText}: {e.Message}");
                _reactor.Pause(_reactor.Monotonic() + ConnectRetryDelay);
                continue;
            }
            if (StartSession(dev))
                break;
        }
    }

    /// <summary>
    /// Starts the serial queue on <paramref name="transport"/> and loads the MCU's data
    /// dictionary; false (and the transport closed) when it does not answer in 5 seconds.
    /// </summary>
    public bool StartSession(IMcuTransport transport)
    {
        if (_serialQueue is not null)
            Disconnect();
        int session = ++_session;
        IsBroken = false;
        IsDisconnectExpected = false;
        var sq = new SerialQueue(transport, _sqName, _reactor.Monotonic,
                                 batch => _reactor.RegisterAsyncCallback(_ => ProcessReceived(session, batch)),
                                 reason => OnQueueExit(session, reason))
        {
            Log = Log,
        };
        _serialQueue = sq;
        sq.Start();
        byte[]? identifyData = GetIdentifyData(_reactor.Monotonic() + IdentifyTimeout);
        if (identifyData is null)
        {
            Log?.Invoke($"{WarnPrefix}Timeout on connect");
            Disconnect();
            return false;
        }
        var msgparser = DataDictionary.FromZlib(identifyData, WarnPrefix);
        MsgParser = msgparser;
        RegisterResponse(HandleUnknown, "#unknown");
        double? wireFreq = msgparser.GetConstantFloat("SERIAL_BAUD", null);
        if (wireFreq is not null)
            sq.SetWireFrequency(wireFreq.Value);
        long? receiveWindow = msgparser.GetConstantInt("RECEIVE_WINDOW", null);
        if (receiveWindow is not null)
            sq.SetReceiveWindow((int)receiveWindow.Value);
        return true;
    }

    // Fetches the zlib-compressed dictionary in 40 byte pieces
    private byte[]? GetIdentifyData(double deadline)
    {
        var identifyData = new List<byte>();
        while (true)
        {
            if (_reactor.Monotonic() > deadline)
                return null;
            McuResponse p;
            try
            {
                p = SendWithResponse($"identify offset={identifyData.Count} count=40", "identify_response", deadline);
            }
            catch (McuError e)
            {
                Log?.Invoke($"{WarnPrefix}Wait for identify_response: {e.Message}");
                return null;
            }
            if (p["offset"] == identifyData.Count)
            {
                byte[] msgdata = p.GetBytes("data");
                if (msgdata.Length == 0)
                    return identifyData.ToArray();
                identifyData.AddRange(msgdata);
            }
        }
    }

    /// <summary>Sets the MCU clock estimate the queue uses to release timed messages.</summary>
    public void SetClockEst(double freq, double convTime, ulong convClock) =>
        _serialQueue?.SetClockEst(freq, convTime, convClock);

    /// <summary>Stops the link and closes the transport; waiters on acks get "Serial connection closed".</summary>
    public void Disconnect()
    {
        var sq = _serialQueue;
        _serialQueue = null;
        _session++;
        sq?.Dispose();
        CompletePendingNotifications();
    }

    private void CompletePendingNotifications()
    {
        var pending = _pendingNotifications.Values.ToList();
        _pendingNotifications.Clear();
        foreach (var c in pending)
            c.Complete(null);
    }

    // I/O thread: the queue stopped
    private void OnQueueExit(int session, string? reason)
    {
        if (reason is null)
            return;
        _reactor.RegisterAsyncCallback(_ =>
        {
            if (session == _session)
                Break(reason);
        });
    }

    /// <summary>
    /// Announces that the MCU will close the link on its own (a <c>reset</c> or
    /// <c>config_reset</c> was sent: a Linux-process MCU re-executes itself, a USB board
    /// drops off the bus), so the end of the link is not a lost connection.
    /// </summary>
    public void ExpectDisconnect() => IsDisconnectExpected = true;

    /// <summary>
    /// Blocks (the reactor must not be running: this is for the restart handlers after the
    /// loop ended) until the MCU acknowledged everything sent or closed the link, or
    /// <paramref name="timeout"/> seconds passed; the queue keeps retransmitting meanwhile.
    /// False on timeout.
    /// </summary>
    public bool WaitForAcksOrLinkEnd(double timeout)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeout);
        while (true)
        {
            var sq = _serialQueue;
            if (sq is null || sq.IsExited)
                return true;
            var s = sq.GetStatsValues();
            if (s.ReceiveSeq == s.SendSeq && s.ReadyBytes == 0 && s.UpcomingBytes == 0)
                return true;
            if (DateTime.UtcNow >= deadline)
                return false;
            Thread.Sleep(2);
        }
    }

    /// <summary>
    /// The one path for a failed link: logs, fails every waiter, and raises
    /// <see cref="ConnectionLost"/> (the MCU turns that into "Lost communication with MCU").
    /// After <see cref="ExpectDisconnect"/> the link just ends: waiters fail, nothing is raised.
    /// </summary>
    public void Break(string reason)
    {
        if (IsBroken)
            return;
        IsBroken = true;
        if (!IsDisconnectExpected)
            Log?.Invoke($"{WarnPrefix}Lost communication: {reason}");
        _serialQueue?.Exit();
        CompletePendingNotifications();
        if (!IsDisconnectExpected)
            ConnectionLost?.Invoke(reason);
    }

    public string Stats(double eventtime) => _serialQueue?.GetStats() ?? "";

    // ---- Received messages (reactor thread)

    private void ProcessReceived(int session, List<PulledMessage> batch)
    {
        if (session != _session)
            return;
        foreach (var pm in batch)
        {
            if (pm.NotifyId != 0)
            {
                if (_pendingNotifications.Remove(pm.NotifyId, out var completion))
                {
                    var ack = new McuResponse("#ack") { SentTime = pm.SentTime, ReceiveTime = pm.ReceiveTime };
                    completion.Complete(ack);
                }
                continue;
            }
            McuResponse resp;
            long? oid;
            try
            {
                (resp, oid) = ParseResponse(pm);
            }
            catch (ProtocolError e)
            {
                Log?.Invoke($"{WarnPrefix}Unable to parse message: {e.Message}");
                continue;
            }
            Action<McuResponse> hdl;
            lock (_lock)
            {
                if (!_handlers.TryGetValue((resp.Name, oid), out var h))
                    h = HandleDefault;
                hdl = h;
            }
            try
            {
                hdl(resp);
            }
            catch (Exception e)
            {
                Log?.Invoke($"{WarnPrefix}Exception in serial callback: {e}");
            }
        }
    }

    private (McuResponse, long?) ParseResponse(PulledMessage pm)
    {
        var parsed = MsgParser.Parse(pm.Msg);
        var resp = new McuResponse((string)parsed["#name"]) { SentTime = pm.SentTime, ReceiveTime = pm.ReceiveTime };
        long? oid = null;
        foreach (var (key, value) in parsed)
        {
            switch (value)
            {
                case long l:
                    resp.Set(key, l);
                    if (key == "oid")
                        oid = l;
                    break;
                case byte[] b:
                    resp.Set(key, b);
                    break;
                case string s when key != "#name":
                    // Enumeration names and #output text (McuResponse has no string fields yet)
                    resp.Set(key, Encoding.UTF8.GetBytes(s));
                    break;
            }
        }
        return (resp, oid);
    }

    // ---- Handlers

    public void RegisterResponse(Action<McuResponse>? callback, string name, long? oid = null)
    {
        lock (_lock)
        {
            if (callback is null)
                _handlers.Remove((name, oid));
            else
                _handlers[(name, oid)] = callback;
        }
    }

    private void HandleUnknownInit(McuResponse p) =>
        Log?.Invoke($"{WarnPrefix}Unknown message {LongField(p, "#msgid")} (len {BytesField(p, "#msg").Length}) while identifying");

    private void HandleUnknown(McuResponse p) =>
        Log?.Invoke($"{WarnPrefix}Unknown message type {LongField(p, "#msgid")}: {PyBytes(BytesField(p, "#msg"))}");

    private void HandleOutput(McuResponse p) =>
        Log?.Invoke($"{WarnPrefix}{p.Name}: {Encoding.UTF8.GetString(BytesField(p, "#msg"))}");

    private void HandleDefault(McuResponse p) =>
        Log?.Invoke($"{WarnPrefix}got {p.Name} {string.Join(' ', p.IntFields.Select(f => $"{f}={p[f]}"))}");

    private static long LongField(McuResponse p, string name) => p.TryGetInt(name, out long v) ? v : 0;

    private static byte[] BytesField(McuResponse p, string name)
    {
        try
        {
            return p.GetBytes(name);
        }
        catch (KeyNotFoundException)
        {
            return [];
        }
    }

    private static string PyBytes(byte[] b)
    {
        var sb = new StringBuilder("b'");
        foreach (byte c in b)
        {
            if (c == '\\' || c == '\'')
                sb.Append('\\').Append((char)c);
            else if (c >= 0x20 && c < 0x7f)
                sb.Append((char)c);
            else
                sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
        }
        return sb.Append('\'').ToString();
    }

    // ---- Sending

    /// <summary>Queues an encoded command (dropped when not connected or the link is broken).</summary>
    public void RawSend(ReadOnlySpan<byte> cmd, ulong minClock, ulong reqClock, CommandQueue queue)
    {
        if (!IsBroken)
            _serialQueue?.Send(queue, cmd, minClock, reqClock);
    }

    /// <summary>
    /// Queues a command and waits (running the reactor) until the MCU acknowledges the
    /// block that carried it; returns an "#ack" response with its sent and receive times.
    /// Throws "Serial connection closed" when the link goes down or
    /// <paramref name="waketime"/> passes first.
    /// </summary>
    public McuResponse RawSendWaitAck(ReadOnlySpan<byte> cmd, ulong minClock, ulong reqClock, CommandQueue queue,
                                      double waketime = Reactor.Never)
    {
        var sq = _serialQueue;
        if (sq is null || IsBroken)
            throw Error("Serial connection closed");
        ulong nid = ++_lastNotifyId;
        var completion = _reactor.Completion();
        _pendingNotifications[nid] = completion;
        sq.Send(queue, cmd, minClock, reqClock, nid);
        var result = completion.Wait(waketime);
        _pendingNotifications.Remove(nid);
        if (result is not McuResponse ack)
            throw Error("Serial connection closed");
        return ack;
    }

    /// <summary>Encodes a command written as text and queues it on the default queue.</summary>
    public void Send(string msg, ulong minClock = 0, ulong reqClock = 0) =>
        RawSend(MsgParser.CreateCommand(msg), minClock, reqClock, DefaultCommandQueue);

    /// <summary>Sends a command written as text and waits for the named response, with retries (SerialRetryCommand).</summary>
    public McuResponse SendWithResponse(string msg, string response, double waketime = Reactor.Never)
    {
        byte[] cmd = MsgParser.CreateCommand(msg);
        var src = new SerialRetryCommand(this, response);
        return src.GetResponse([cmd], DefaultCommandQueue, waketime: waketime);
    }

    /// <summary>Step compression output: encodes each message's words and queues the batch atomically.</summary>
    public void SendBatch(ReadOnlySpan<MoveQueueMessage> batch)
    {
        var sq = _serialQueue;
        if (sq is null || IsBroken || batch.IsEmpty)
            return;
        var msgs = new QueueMessage[batch.Length];
        for (int i = 0; i < batch.Length; i++)
        {
            ref readonly var m = ref batch[i];
            msgs[i] = QueueMessage.FromWords(m.Data, m.MinClock, m.ReqClock);
        }
        sq.SendBatch(_moveQueue, msgs);
    }

    // ---- Debugging

    /// <summary>Stats and the last sent and received blocks, decoded (upstream dump_debug).</summary>
    public string DumpDebug()
    {
        var sq = _serialQueue;
        var ci = CultureInfo.InvariantCulture;
        var output = new List<string> { $"Dumping serial stats: {Stats(_reactor.Monotonic())}" };
        var sdata = sq?.ExtractOld(true) ?? [];
        var rdata = sq?.ExtractOld(false) ?? [];
        output.Add($"Dumping send queue {sdata.Count} messages");
        for (int i = 0; i < sdata.Count; i++)
        {
            var m = sdata[i];
            output.Add(string.Create(ci, $"Sent {i} {m.ReceiveTime:F6} {m.SentTime:F6} {m.Msg.Length}: {string.Join(", ", SafeDump(m.Msg))}"));
        }
        output.Add($"Dumping receive queue {rdata.Count} messages");
        for (int i = 0; i < rdata.Count; i++)
        {
            var m = rdata[i];
            output.Add(string.Create(ci, $"Receive: {i} {m.ReceiveTime:F6} {m.SentTime:F6} {m.Msg.Length}: {string.Join(", ", SafeDump(m.Msg))}"));
        }
        return string.Join('\n', output);
    }

    private List<string> SafeDump(byte[] block)
    {
        try
        {
            return MsgParser.Dump(block, includeSeq: true);
        }
        catch (ProtocolError e)
        {
            return [e.Message];
        }
    }

    // ---- Board reset helpers

    // Puts an AVR stk500v2 style programmer into normal mode
    private void Stk500v2Leave(FdTransport ser, int origBaud)
    {
        try
        {
            ser.ClearHupcl();
            // A dummy speed first seems to help reset the port
            ser.SetBaud(2400);
            Span<byte> buf = stackalloc byte[4096];
            ser.ReadAvailable(buf[..1]);
            ser.SetBaud(115200);
            _reactor.Pause(_reactor.Monotonic() + 0.100);
            ser.ReadAvailable(buf);
            ser.Write([0x1b, 0x01, 0x00, 0x01, 0x0e, 0x11, 0x04]);
            _reactor.Pause(_reactor.Monotonic() + 0.050);
            int n = ser.ReadAvailable(buf);
            Log?.Invoke($"Got {PyBytes(buf[..n].ToArray())} from stk500v2");
            ser.SetBaud(origBaud);
        }
        catch (IOException e)
        {
            Log?.Invoke($"{WarnPrefix}stk500v2 leave sequence failed: {e.Message}");
        }
    }

    /// <summary>Arduino style reset: open at 2400 baud, pulse DTR (upstream serialhdl.arduino_reset).</summary>
    public static void ArduinoReset(string serialPort, Reactor reactor)
    {
        using var ser = McuTransports.OpenUart(serialPort, 2400);
        Span<byte> b = stackalloc byte[1];
        ser.ReadAvailable(b);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetDtr(true);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetDtr(false);
        reactor.Pause(reactor.Monotonic() + 0.100);
    }

    /// <summary>The DTR/RTS sequence that keeps Fysetc Cheetah v1.2 boards out of their bootloader (upstream cheetah_reset).</summary>
    public static void CheetahReset(string serialPort, Reactor reactor)
    {
        using var ser = McuTransports.OpenUart(serialPort, 2400, rts: true);
        Span<byte> b = stackalloc byte[1];
        ser.ReadAvailable(b);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetDtr(true);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetDtr(false);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetRts(false);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetDtr(true);
        reactor.Pause(reactor.Monotonic() + 0.100);
        ser.SetDtr(false);
        reactor.Pause(reactor.Monotonic() + 0.100);
    }
}
