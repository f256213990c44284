using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Serial;

/// <summary>
/// Sends a query and returns the response that arrived by the time the MCU acknowledged
/// it, resending up to five times with doubling delays (upstream serialhdl.SerialRetryCommand).
/// </summary>
public sealed class SerialRetryCommand
{
    private readonly SerialReader _serial;
    private readonly string _name;
    private readonly long? _oid;
    private McuResponse? _lastParams;

    public SerialRetryCommand(SerialReader serial, string name, long? oid = null)
    {
        _serial = serial;
        _name = name;
        _oid = oid;
        _serial.RegisterResponse(HandleCallback, name, oid);
    }

    private void HandleCallback(McuResponse p) => _lastParams = p;

    /// <summary>
    /// Sends <paramref name="cmds"/> (waiting for the ack of the last) until the response
    /// is seen. <paramref name="waketime"/> bounds each ack wait (identify during connect).
    /// </summary>
    public McuResponse GetResponse(IReadOnlyList<byte[]> cmds, CommandQueue cmdQueue, ulong minclock = 0, ulong reqclock = 0,
                                   bool retry = true, double waketime = Reactor.Never)
    {
        int retries = retry ? 5 : 0;
        double retryDelay = .010;
        var reactor = _serial.Reactor;
        try
        {
            while (true)
            {
                for (int i = 0; i < cmds.Count - 1; i++)
                    _serial.RawSend(cmds[i], minclock, reqclock, cmdQueue);
                _serial.RawSendWaitAck(cmds[^1], minclock, reqclock, cmdQueue, waketime);
                var p = _lastParams;
                if (p is not null)
                    return p;
                if (retries <= 0)
                    throw new McuError($"Unable to obtain '{_name}' response");
                reactor.Pause(reactor.Monotonic() + retryDelay);
                retries--;
                retryDelay *= 2.0;
            }
        }
        finally
        {
            _serial.RegisterResponse(null, _name, _oid);
        }
    }
}

/// <summary>
/// Sends a query whose response may come later than the ack, resending every 0.5 s and
/// failing after 5 s (upstream mcu.RetryAsyncCommand, used for is_async queries).
/// </summary>
public sealed class RetryAsyncCommand
{
    public const double TIMEOUT_TIME = 5.0;
    public const double RETRY_TIME = 0.500;

    private readonly SerialReader _serial;
    private readonly string _name;
    private readonly long? _oid;
    private readonly Reactor _reactor;
    private readonly ReactorCompletion _completion;
    private double _minQueryTime;
    private bool _needResponse = true;

    public RetryAsyncCommand(SerialReader serial, string name, long? oid = null)
    {
        _serial = serial;
        _name = name;
        _oid = oid;
        _reactor = serial.Reactor;
        _completion = _reactor.Completion();
        _minQueryTime = _reactor.Monotonic();
        _serial.RegisterResponse(HandleCallback, name, oid);
    }

    private void HandleCallback(McuResponse p)
    {
        if (_needResponse && p.SentTime >= _minQueryTime)
        {
            _needResponse = false;
            _completion.Complete(p);
        }
    }

    public McuResponse GetResponse(IReadOnlyList<byte[]> cmds, CommandQueue cmdQueue, ulong minclock = 0, ulong reqclock = 0,
                                   bool retry = true)
    {
        if (cmds.Count != 1)
            throw new ArgumentException("RetryAsyncCommand sends exactly one command", nameof(cmds));
        byte[] cmd = cmds[0];
        try
        {
            _serial.RawSendWaitAck(cmd, minclock, reqclock, cmdQueue);
            _minQueryTime = 0.0;
            double queryTime = _reactor.Monotonic();
            double timeoutTime = queryTime;
            if (retry)
                timeoutTime += TIMEOUT_TIME;
            while (true)
            {
                if (_completion.Wait(queryTime + RETRY_TIME) is McuResponse p)
                    return p;
                queryTime = _reactor.Monotonic();
                if (queryTime > timeoutTime)
                    throw new McuError($"Timeout on wait for '{_name}' response");
                _serial.RawSend(cmd, minclock, minclock, cmdQueue);
            }
        }
        finally
        {
            _serial.RegisterResponse(null, _name, _oid);
        }
    }
}
