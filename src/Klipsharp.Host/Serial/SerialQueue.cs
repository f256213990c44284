using System.Collections.Concurrent;
using System.Globalization;
using Klipsharp.Host.Mcu;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Serial;

/// <summary>
/// The low-level MCU link (upstream chelper serialqueue.c): frames queued commands into
/// message blocks, releases each command once the MCU clock allows it (min_clock) in
/// priority order (req_clock) across command queues, keeps the blocks in flight within
/// the MCU's receive window, and retransmits on timeout (RFC 6298 style RTO) or on a nak
/// (a duplicate ack). A background I/O thread owns the protocol state, so the reactor
/// never blocks; a reader thread only moves bytes from the transport to it. Received
/// messages and ack notifications are handed to the receive callback on the I/O thread,
/// in order, one batch per read.
/// </summary>
public sealed class SerialQueue : IDisposable
{
    public const double MIN_RTO = 0.025;
    public const double MAX_RTO = 5.000;
    public const int MAX_PENDING_BLOCKS = 12;
    public const double MIN_REQTIME_DELTA = 0.100;
    public const double MIN_BACKGROUND_DELTA = 0.005;
    public const double IDLE_QUERY_TIME = 1.0;
    public const ulong MAX_CLOCK = 0x7fffffffffffffffUL;
    /// <summary>req_clock of messages that may wait for idle link time.</summary>
    public const ulong BACKGROUND_PRIORITY_CLOCK = 0x7fffffff00000000UL;
    private const int DEBUG_QUEUE_SENT = 100;
    private const int DEBUG_QUEUE_RECEIVE = 100;

    private const double PR_NOW = 0.0;
    private const double PR_NEVER = 9999999999999999.9;
    private const int SQPT_RETRANSMIT = 0;
    private const int SQPT_COMMAND = 1;

    private sealed class CqState
    {
        public readonly Queue<QueueMessage> Ready = new();
        public readonly Queue<QueueMessage> Upcoming = new();
    }

    private readonly record struct InputChunk(byte[]? Data, double ReadTime, string? Error);

    private readonly IMcuTransport _transport;
    private readonly Func<double> _monotonic;
    private readonly Action<List<PulledMessage>> _receive;
    private readonly Action<string?>? _onExit;

    // Threads and the I/O thread's wake-ups
    private readonly Thread _ioThread;
    private readonly Thread _readerThread;
    private readonly AutoResetEvent _wake = new(false);
    private readonly ConcurrentQueue<InputChunk> _input = new();
    private int _kick;
    private volatile bool _mustExit;
    private string? _exitReason;
    private int _started, _disposed;

    // pollreactor timers (I/O thread only)
    private readonly double[] _timers = [PR_NEVER, PR_NEVER];
    private double _nextTimer = PR_NEVER;

    // Input reading (I/O thread only)
    private readonly byte[] _inputBuf = new byte[4096 + MessageBlock.MESSAGE_MAX];
    private int _inputPos;
    private bool _needSync;

    // Protected by _lock
    private readonly object _lock = new();
    private int _receiveWindow;
    private double _bittimeAdjust, _idleTime;
    private ClockEstimate _ce;
    private double _lastReceiveSentTime;
    private ulong _sendSeq, _receiveSeq;
    private ulong _ignoreNakSeq, _lastAckSeq, _retransmitSeq, _rttSampleSeq;
    private readonly Queue<QueueMessage> _sentQueue = new();
    private double _srtt, _rttvar, _rto;
    private readonly List<CqState> _readyQueues = new();
    private int _readyBytes, _needAckBytes, _lastAckBytes;
    private readonly Queue<QueueMessage> _notifyQueue = new();
    private readonly Queue<QueueMessage> _oldSent = new();
    private uint _bytesWrite, _bytesRead, _bytesRetransmit, _bytesInvalid;
    private readonly byte[] _cmdBuf = new byte[MessageBlock.MESSAGE_MAX * MAX_PENDING_BLOCKS];

    // Low-latency handlers run on the I/O thread (upstream fast readers), copy-on-write
    private FastReader[] _fastReaders = [];

    // Protected by _receiveLock
    private readonly object _receiveLock = new();
    private readonly Queue<PulledMessage> _oldReceive = new();

    // Transmit requests from other threads, protected by _txLock (taken after _lock)
    private readonly object _txLock = new();
    private readonly Dictionary<CommandQueue, CqState> _cqStates = new(ReferenceEqualityComparer.Instance);
    private readonly List<CqState> _upcomingQueues = new();
    private int _upcomingBytes;
    private ulong _needKickClock = MAX_CLOCK, _minReleaseClock = MAX_CLOCK;

    /// <param name="transport">The link; owned (closed on <see cref="Dispose"/>).</param>
    /// <param name="name">Thread name (upstream "serialq NAME").</param>
    /// <param name="monotonic">The host clock (the reactor's), so sent/receive times compare with reactor times.</param>
    /// <param name="receive">Gets received messages and ack notifications, in order, on the I/O thread.</param>
    /// <param name="onExit">Called once when the I/O thread stops: null after <see cref="Exit"/>, else the transport error.</param>
    public SerialQueue(IMcuTransport transport, string name, Func<double> monotonic,
                       Action<List<PulledMessage>> receive, Action<string?>? onExit = null)
    {
        _transport = transport;
        Name = name.Length > 15 ? name[..15] : name;
        _monotonic = monotonic;
        _receive = receive;
        _onExit = onExit;
        _sendSeq = 1;
        _receiveSeq = 1;
        _rto = MIN_RTO;
        _ioThread = new Thread(IoThreadMain) { IsBackground = true, Name = Name };
        _readerThread = new Thread(ReaderThreadMain) { IsBackground = true, Name = Name + " rd" };
    }

    public string Name { get; }

    /// <summary>Where error reports go (upstream report_errno / errorf).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>True once the I/O thread has stopped (exit requested or transport failed).</summary>
    public bool IsExited => _mustExit;

    /// <summary>Starts the background threads.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            return;
        _ioThread.Start();
        _readerThread.Start();
    }

    /// <summary>Stops the I/O thread (upstream serialqueue_exit); the transport stays open.</summary>
    public void Exit()
    {
        _mustExit = true;
        _wake.Set();
        if (_started != 0 && Thread.CurrentThread != _ioThread)
            _ioThread.Join();
    }

    /// <summary>Stops the threads and closes the transport.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Exit();
        _transport.Dispose();
        // A transport whose Dispose does not wake its reader leaves only a background thread behind
        if (_started != 0 && Thread.CurrentThread != _readerThread)
            _readerThread.Join(2000);
        _wake.Dispose();
    }

    private double Monotonic() => _monotonic();

    private void Report(string msg) => Log?.Invoke($"{Name}: {msg}");

    // ---- Background threads

    private void ReaderThreadMain()
    {
        Klipsharp.Protocol.ThreadScheduling.TrySetCurrentThreadNice(Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice);
        var buf = new byte[4096];
        string? error = null;
        try
        {
            while (!_mustExit)
            {
                int n = _transport.Read(buf);
                if (n <= 0)
                {
                    error = "Got EOF when reading from device";
                    break;
                }
                _input.Enqueue(new InputChunk(buf.AsSpan(0, n).ToArray(), Monotonic(), null));
                _wake.Set();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            error = "Got error in read: " + e.Message;
        }
        if (_mustExit)
            return;
        _input.Enqueue(new InputChunk(null, Monotonic(), error));
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    // Equivalent of pollreactor_run with the serial fd, the kick pipe and two timers
    private void IoThreadMain()
    {
        Klipsharp.Protocol.ThreadScheduling.TrySetCurrentThreadNice(Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice);
        double eventtime = Monotonic();
        bool busy = true;
        try
        {
            while (!_mustExit)
            {
                int timeout = CheckTimers(eventtime, busy);
                busy = false;
                _wake.WaitOne(timeout);
                eventtime = Monotonic();
                while (!_mustExit && _input.TryDequeue(out var chunk))
                {
                    busy = true;
                    InputEvent(chunk);
                }
                if (Interlocked.Exchange(ref _kick, 0) != 0)
                {
                    busy = true;
                    UpdateTimer(SQPT_COMMAND, PR_NOW);
                }
            }
        }
        catch (Exception e)
        {
            _exitReason ??= "Internal error in serial queue: " + e;
            _mustExit = true;
        }
        _onExit?.Invoke(_exitReason);
    }

    private int CheckTimers(double eventtime, bool busy)
    {
        if (eventtime >= _nextTimer)
        {
            _nextTimer = PR_NEVER;
            for (int i = 0; i < _timers.Length; i++)
            {
                double t = _timers[i];
                if (eventtime >= t)
                {
                    busy = true;
                    t = i == SQPT_RETRANSMIT ? RetransmitEvent(eventtime) : CommandEvent(eventtime);
                    _timers[i] = t;
                }
                if (t < _nextTimer)
                    _nextTimer = t;
            }
        }
        if (busy)
            return 0;
        double timeout = Math.Ceiling((_nextTimer - eventtime) * 1000.0);
        return timeout < 1.0 ? 1 : timeout > 1000.0 ? 1000 : (int)timeout;
    }

    private void UpdateTimer(int idx, double waketime)
    {
        _timers[idx] = waketime;
        if (waketime < _nextTimer)
            _nextTimer = waketime;
    }

    private void Kick()
    {
        Interlocked.Exchange(ref _kick, 1);
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private double CalculateBittime(int bytes) => _bittimeAdjust * bytes;

    // ---- Receiving

    private void InputEvent(InputChunk chunk)
    {
        if (chunk.Data is null)
        {
            _exitReason = chunk.Error;
            if (chunk.Error is not null)
                Report(chunk.Error);
            _mustExit = true;
            return;
        }
        var received = new List<PulledMessage>();
        var data = chunk.Data.AsSpan();
        while (!data.IsEmpty)
        {
            int n = Math.Min(data.Length, _inputBuf.Length - _inputPos);
            data[..n].CopyTo(_inputBuf.AsSpan(_inputPos));
            data = data[n..];
            _inputPos += n;
            while (true)
            {
                int len = MessageBlock.CheckWithSync(ref _needSync, _inputBuf.AsSpan(0, _inputPos));
                if (len == 0)
                    break;
                if (len > 0)
                {
                    HandleMessage(chunk.ReadTime, len, received);
                }
                else
                {
                    len = -len;
                    lock (_lock)
                        _bytesInvalid += (uint)len;
                }
                _inputPos -= len;
                if (_inputPos != 0)
                    Buffer.BlockCopy(_inputBuf, len, _inputBuf, 0, _inputPos);
            }
        }
        if (received.Count > 0)
            _receive(received);
    }

    private void HandleMessage(double eventtime, int len, List<PulledMessage> received)
    {
        if (HandleMessageLocked(eventtime, len, received))
            CheckFastReaders(eventtime, len);
    }

    // A received block that starts with a fast reader's prefix also goes to that reader, outside the lock
    private void CheckFastReaders(double eventtime, int len)
    {
        var readers = Volatile.Read(ref _fastReaders);
        if (readers.Length == 0)
            return;
        var body = _inputBuf.AsSpan(MessageBlock.MESSAGE_HEADER_SIZE, len - MessageBlock.MESSAGE_HEADER_SIZE);
        foreach (var fr in readers)
        {
            if (len < fr.Prefix.Length + MessageBlock.MESSAGE_MIN || !body.StartsWith(fr.Prefix))
                continue;
            try
            {
                fr.Handler(eventtime, _inputBuf.AsSpan(0, len));
            }
            catch (Exception e)
            {
                Report($"fast reader failed: {e}");
            }
            return;
        }
    }

    /// <summary>Registers a handler that sees matching message blocks on the I/O thread, before the reactor does (upstream serialqueue_add_fastreader).</summary>
    public void AddFastReader(FastReader fr)
    {
        lock (_lock)
            Volatile.Write(ref _fastReaders, [.. _fastReaders, fr]);
    }

    public void RemoveFastReader(FastReader fr)
    {
        lock (_lock)
            Volatile.Write(ref _fastReaders, _fastReaders.Where(f => f != fr).ToArray());
    }

    // Returns true for a data block (one that fast readers may want)
    private bool HandleMessageLocked(double eventtime, int len, List<PulledMessage> received)
    {
        lock (_lock)
        {
            ulong rseqDelta = unchecked(_inputBuf[MessageBlock.MESSAGE_POS_SEQ] - _receiveSeq) & MessageBlock.MESSAGE_SEQ_MASK;
            ulong rseq = _receiveSeq + rseqDelta;
            if (rseq != _receiveSeq)
            {
                if (rseq > _sendSeq && _receiveSeq != 1)
                {
                    // An ack for a block never sent, or an out of order block
                    _bytesInvalid += (uint)len;
                    return false;
                }
                UpdateReceiveSeq(eventtime, rseq);
            }
            _bytesRead += (uint)len;

            // Messages waiting for an ack of their block
            ulong wakeSeq = unchecked(rseq - 1 - (len > MessageBlock.MESSAGE_MIN ? 1UL : 0UL));
            while (_notifyQueue.Count > 0)
            {
                var qm = _notifyQueue.Peek();
                if (qm.ReqClock > wakeSeq)
                    break;
                _notifyQueue.Dequeue();
                received.Add(new PulledMessage([], _lastReceiveSentTime, eventtime, qm.NotifyId));
            }

            if (len == MessageBlock.MESSAGE_MIN)
            {
                // Ack/nak
                if (_lastAckSeq < rseq)
                    _lastAckSeq = rseq;
                else if (rseq > _ignoreNakSeq && _sentQueue.Count > 0)
                    UpdateTimer(SQPT_RETRANSMIT, PR_NOW); // duplicate ack is a nak: retransmit now
            }
            else
            {
                double sentTime = rseq > _retransmitSeq ? _lastReceiveSentTime : 0.0;
                double receiveTime = eventtime - CalculateBittime(len);
                var pm = new PulledMessage(_inputBuf.AsSpan(0, len).ToArray(), sentTime, receiveTime, 0);
                received.Add(pm);
                lock (_receiveLock)
                {
                    _oldReceive.Enqueue(pm);
                    if (_oldReceive.Count > DEBUG_QUEUE_RECEIVE)
                        _oldReceive.Dequeue();
                }
                return true;
            }
            return false;
        }
    }

    private void UpdateReceiveSeq(double eventtime, ulong rseq)
    {
        // Drop acknowledged blocks from the sent queue
        ulong sentSeq = _receiveSeq;
        while (true)
        {
            if (_sentQueue.Count == 0)
            {
                // Ack for a block never sent: connection start
                _sendSeq = rseq;
                _lastReceiveSentTime = 0.0;
                break;
            }
            var sent = _sentQueue.Dequeue();
            _needAckBytes -= sent.Len;
            _oldSent.Enqueue(sent);
            if (_oldSent.Count > DEBUG_QUEUE_SENT)
                _oldSent.Dequeue();
            sentSeq++;
            if (rseq == sentSeq)
            {
                _lastReceiveSentTime = sent.ReceiveTime;
                _lastAckBytes = sent.Len;
                break;
            }
        }
        _receiveSeq = rseq;
        UpdateTimer(SQPT_COMMAND, PR_NOW);

        // Round trip time estimate (RFC 6298)
        if (_rttSampleSeq != 0 && rseq > _rttSampleSeq && _lastReceiveSentTime != 0.0)
        {
            double delta = eventtime - _lastReceiveSentTime;
            if (_srtt == 0.0)
            {
                _rttvar = delta / 2.0;
                _srtt = delta * 10.0; // start high
            }
            else
            {
                _rttvar = (3.0 * _rttvar + Math.Abs(_srtt - delta)) / 4.0;
                _srtt = (7.0 * _srtt + delta) / 8.0;
            }
            double rttvar4 = _rttvar * 4.0;
            if (rttvar4 < 0.001)
                rttvar4 = 0.001;
            _rto = _srtt + rttvar4;
            if (_rto < MIN_RTO)
                _rto = MIN_RTO;
            else if (_rto > MAX_RTO)
                _rto = MAX_RTO;
            _rttSampleSeq = 0;
        }
        if (_sentQueue.Count == 0)
        {
            UpdateTimer(SQPT_RETRANSMIT, PR_NEVER);
        }
        else
        {
            var sent = _sentQueue.Peek();
            UpdateTimer(SQPT_RETRANSMIT, eventtime + _rto + CalculateBittime(sent.Len));
        }
    }

    // ---- Sending

    private void DoWrite(ReadOnlySpan<byte> buf)
    {
        try
        {
            _transport.Write(buf);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            Report("Got error in write: " + e.Message);
        }
    }

    private double RetransmitEvent(double eventtime)
    {
        try
        {
            _transport.DiscardOutput();
        }
        catch (IOException e)
        {
            Report("Got error in tcflush: " + e.Message);
        }
        lock (_lock)
        {
            // Resend every unacknowledged block, behind a sync byte
            int total = 1;
            foreach (var qm in _sentQueue)
                total += qm.Len;
            var buf = new byte[total];
            int buflen = 0, firstBuflen = 0;
            buf[buflen++] = MessageBlock.MESSAGE_SYNC;
            foreach (var qm in _sentQueue)
            {
                qm.Msg.AsSpan(0, qm.Len).CopyTo(buf.AsSpan(buflen));
                buflen += qm.Len;
                if (firstBuflen == 0)
                    firstBuflen = qm.Len + 1;
            }
            DoWrite(buf.AsSpan(0, buflen));
            _bytesRetransmit += (uint)buflen;

            if (_timers[SQPT_RETRANSMIT] == PR_NOW)
            {
                // Retransmit due to a nak
                _ignoreNakSeq = _receiveSeq;
                if (_receiveSeq < _retransmitSeq)
                    _ignoreNakSeq = _retransmitSeq; // second nak for this retransmit: no third
            }
            else
            {
                // Retransmit due to timeout
                _rto *= 2.0;
                if (_rto > MAX_RTO)
                    _rto = MAX_RTO;
                _ignoreNakSeq = _sendSeq;
            }
            _retransmitSeq = _sendSeq;
            _rttSampleSeq = 0;
            _idleTime = eventtime + CalculateBittime(buflen);
            return eventtime + _rto + CalculateBittime(firstBuflen);
        }
    }

    // Builds one block from the ready queues, lowest req_clock first; returns its length
    private int BuildAndSendCommand(Span<byte> buf, int pending, double eventtime)
    {
        int len = MessageBlock.MESSAGE_HEADER_SIZE;
        while (_readyBytes != 0)
        {
            ulong minClock = MAX_CLOCK;
            CqState? cq = null;
            QueueMessage? qm = null;
            foreach (var q in _readyQueues)
            {
                var m = q.Ready.Peek();
                if (m.ReqClock < minClock)
                {
                    minClock = m.ReqClock;
                    cq = q;
                    qm = m;
                }
            }
            if (cq is null)
            {
                cq = _readyQueues[0];
                qm = cq.Ready.Peek();
            }
            if (len + qm!.Len > MessageBlock.MESSAGE_MAX - MessageBlock.MESSAGE_TRAILER_SIZE)
                break;
            cq.Ready.Dequeue();
            if (cq.Ready.Count == 0)
                _readyQueues.Remove(cq);
            qm.Msg.AsSpan(0, qm.Len).CopyTo(buf[len..]);
            len += qm.Len;
            _readyBytes -= qm.Len;
            if (qm.NotifyId != 0)
            {
                // Remember the block's sequence number until it is acknowledged
                qm.ReqClock = _sendSeq;
                _notifyQueue.Enqueue(qm);
            }
        }

        len += MessageBlock.MESSAGE_TRAILER_SIZE;
        buf[MessageBlock.MESSAGE_POS_LEN] = (byte)len;
        buf[MessageBlock.MESSAGE_POS_SEQ] = (byte)(MessageBlock.MESSAGE_DEST | (int)(_sendSeq & MessageBlock.MESSAGE_SEQ_MASK));
        ushort crc = Crc16.Compute(buf[..(len - MessageBlock.MESSAGE_TRAILER_SIZE)]);
        buf[len - MessageBlock.MESSAGE_TRAILER_CRC] = (byte)(crc >> 8);
        buf[len - MessageBlock.MESSAGE_TRAILER_CRC + 1] = (byte)crc;
        buf[len - MessageBlock.MESSAGE_TRAILER_SYNC] = MessageBlock.MESSAGE_SYNC;

        double idletime = eventtime > _idleTime ? eventtime : _idleTime;
        idletime += CalculateBittime(pending + len);
        var sentBlock = new QueueMessage { Len = len, SentTime = eventtime, ReceiveTime = idletime };
        buf[..len].CopyTo(sentBlock.Msg);
        if (_sentQueue.Count == 0)
            UpdateTimer(SQPT_RETRANSMIT, idletime + _rto);
        if (_rttSampleSeq == 0)
            _rttSampleSeq = _sendSeq;
        _sendSeq++;
        _needAckBytes += len;
        _sentQueue.Enqueue(sentBlock);
        return len;
    }

    // Moves messages whose min_clock has been reached to the ready queues
    private ulong CheckUpcomingQueues(ulong ackClock)
    {
        lock (_txLock)
        {
            _needKickClock = 0;
            ulong minReleaseClock = _minReleaseClock;
            if (ackClock < minReleaseClock)
                return minReleaseClock;

            ulong minStalledClock = MAX_CLOCK;
            for (int i = 0; i < _upcomingQueues.Count;)
            {
                var cq = _upcomingQueues[i];
                bool notInReadyQueues = cq.Ready.Count == 0;
                while (cq.Upcoming.Count > 0)
                {
                    var qm = cq.Upcoming.Peek();
                    if (ackClock < qm.MinClock)
                    {
                        if (qm.MinClock < minStalledClock)
                            minStalledClock = qm.MinClock;
                        break;
                    }
                    cq.Upcoming.Dequeue();
                    cq.Ready.Enqueue(qm);
                    _upcomingBytes -= qm.Len;
                    _readyBytes += qm.Len;
                }
                if (cq.Upcoming.Count == 0)
                    _upcomingQueues.RemoveAt(i);
                else
                    i++;
                if (notInReadyQueues && cq.Ready.Count > 0)
                    _readyQueues.Add(cq);
            }
            _minReleaseClock = minStalledClock;
            return minStalledClock;
        }
    }

    // Returns true when a new command raced in and the caller must not sleep
    private bool UpdateNeedKickClock(ulong wantclock)
    {
        lock (_txLock)
        {
            if (wantclock > _minReleaseClock)
                return true;
            _needKickClock = wantclock;
            return false;
        }
    }

    // PR_NOW when a block should be built now, else the time to check again
    private double CheckSendCommand(int pending, double eventtime)
    {
        double idletime = eventtime > _idleTime ? eventtime : _idleTime;
        idletime += CalculateBittime(pending + MessageBlock.MESSAGE_MIN);
        ulong ackClock = _ce.ClockFromTime(idletime);
        ulong minStalledClock = CheckUpcomingQueues(ackClock);

        // Within the limits of blocks and bytes in flight?
        if (_sendSeq - _receiveSeq >= MAX_PENDING_BLOCKS && _receiveSeq != ulong.MaxValue)
            return eventtime + 0.250;
        if (_sendSeq > _receiveSeq && _receiveWindow != 0)
        {
            int needAckBytes = _needAckBytes + MessageBlock.MESSAGE_MAX;
            if (_lastAckSeq < _receiveSeq)
                needAckBytes += _lastAckBytes;
            if (needAckBytes > _receiveWindow)
                return eventtime + 0.250;
        }

        if (_readyBytes >= MessageBlock.MESSAGE_PAYLOAD_MAX)
            return PR_NOW;
        if (_ce.EstFreq == 0.0)
        {
            // Clock not known yet (startup): send whatever is ready
            if (_readyBytes != 0)
                return PR_NOW;
            if (UpdateNeedKickClock(1))
                return eventtime;
            return PR_NEVER;
        }

        ulong minReadyClock = MAX_CLOCK;
        foreach (var cq in _readyQueues)
        {
            var qm = cq.Ready.Peek();
            ulong reqClock = qm.ReqClock;
            double bgtime = pending != 0 ? idletime : _idleTime;
            double bgoffset = MIN_REQTIME_DELTA + MIN_BACKGROUND_DELTA;
            if (reqClock == BACKGROUND_PRIORITY_CLOCK)
                reqClock = _ce.ClockFromTime(bgtime + bgoffset);
            if (reqClock < minReadyClock)
                minReadyClock = reqClock;
        }
        ulong reqclockDelta = (ulong)(MIN_REQTIME_DELTA * _ce.EstFreq);
        if (minReadyClock <= ackClock + reqclockDelta)
            return PR_NOW;

        if (pending != 0)
            return eventtime;
        ulong wantclock = minReadyClock - reqclockDelta;
        if (minStalledClock < wantclock)
            wantclock = minStalledClock;
        if (UpdateNeedKickClock(wantclock))
            return eventtime;
        return idletime + unchecked(wantclock - ackClock) / _ce.EstFreq;
    }

    private double CommandEvent(double eventtime)
    {
        lock (_lock)
        {
            int buflen = 0;
            double waketime;
            while (true)
            {
                waketime = CheckSendCommand(buflen, eventtime);
                if (waketime != PR_NOW)
                    break;
                buflen += BuildAndSendCommand(_cmdBuf.AsSpan(buflen), buflen, eventtime);
                if (buflen + MessageBlock.MESSAGE_MAX > _cmdBuf.Length)
                    break;
            }
            if (buflen != 0)
            {
                DoWrite(_cmdBuf.AsSpan(0, buflen));
                _bytesWrite += (uint)buflen;
                double idletime = eventtime > _idleTime ? eventtime : _idleTime;
                _idleTime = idletime + CalculateBittime(buflen);
                waketime = PR_NOW;
            }
            return waketime;
        }
    }

    // ---- API for other threads

    /// <summary>Queues messages on <paramref name="cq"/> atomically and in order (upstream serialqueue_send_batch).</summary>
    public void SendBatch(CommandQueue cq, ReadOnlySpan<QueueMessage> msgs)
    {
        int len = 0;
        foreach (var qm in msgs)
        {
            // Keep min_clock within 31 bits of req_clock (MCU clock comparisons)
            if (qm.MinClock + (3UL << 29) < qm.ReqClock && qm.ReqClock != BACKGROUND_PRIORITY_CLOCK)
                qm.MinClock = qm.ReqClock - (3UL << 29);
            len += qm.Len;
        }
        if (len == 0)
            return;
        ulong minClock = msgs[0].MinClock;

        bool mustwake = false;
        lock (_txLock)
        {
            if (!_cqStates.TryGetValue(cq, out var state))
                _cqStates[cq] = state = new CqState();
            if (state.Upcoming.Count == 0)
            {
                _upcomingQueues.Add(state);
                if (minClock < _minReleaseClock)
                    _minReleaseClock = minClock;
                if (minClock < _needKickClock)
                {
                    _needKickClock = 0;
                    mustwake = true;
                }
            }
            foreach (var qm in msgs)
                state.Upcoming.Enqueue(qm);
            _upcomingBytes += len;
        }
        if (mustwake)
            Kick();
    }

    /// <summary>Queues one encoded message (upstream serialqueue_send).</summary>
    public void Send(CommandQueue cq, ReadOnlySpan<byte> msg, ulong minClock, ulong reqClock, ulong notifyId = 0)
    {
        var qm = QueueMessage.Fill(msg);
        qm.MinClock = minClock;
        qm.ReqClock = reqClock;
        qm.NotifyId = notifyId;
        SendBatch(cq, new ReadOnlySpan<QueueMessage>(ref qm));
    }

    /// <summary>Bit time of the wire (10 bits per byte on a UART) for transmit time estimates.</summary>
    public void SetWireFrequency(double frequency)
    {
        lock (_lock)
            _bittimeAdjust = 10.0 / frequency;
    }

    /// <summary>Bytes the MCU can buffer; 0 means no limit beyond MAX_PENDING_BLOCKS.</summary>
    public void SetReceiveWindow(int receiveWindow)
    {
        lock (_lock)
            _receiveWindow = receiveWindow;
    }

    /// <summary>Sets the estimated MCU clock used to release messages by min_clock (from clock sync).</summary>
    public void SetClockEst(double estFreq, double convTime, ulong convClock)
    {
        lock (_lock)
            _ce = new ClockEstimate(convClock, convTime, estFreq);
        Kick();
    }

    public ClockEstimate GetClockEst()
    {
        lock (_lock)
            return _ce;
    }

    public SerialQueueStats GetStatsValues()
    {
        lock (_lock)
        lock (_txLock)
            return new SerialQueueStats(_bytesWrite, _bytesRead, _bytesRetransmit, _bytesInvalid,
                                        _sendSeq, _receiveSeq, _retransmitSeq, _srtt, _rttvar, _rto,
                                        _readyBytes, _upcomingBytes);
    }

    /// <summary>The statistics line, as upstream serialqueue_get_stats formats it.</summary>
    public string GetStats()
    {
        var s = GetStatsValues();
        var ci = CultureInfo.InvariantCulture;
        return string.Create(ci,
            $"bytes_write={s.BytesWrite} bytes_read={s.BytesRead} bytes_retransmit={s.BytesRetransmit} bytes_invalid={s.BytesInvalid} " +
            $"send_seq={(uint)s.SendSeq} receive_seq={(uint)s.ReceiveSeq} retransmit_seq={(uint)s.RetransmitSeq} " +
            $"srtt={s.Srtt:F3} rttvar={s.Rttvar:F3} rto={s.Rto:F3} ready_bytes={(uint)s.ReadyBytes} upcoming_bytes={(uint)s.UpcomingBytes}");
    }

    /// <summary>Takes the recent sent blocks (<paramref name="sentQueue"/>) or received messages, oldest first (upstream serialqueue_extract_old).</summary>
    public List<PulledMessage> ExtractOld(bool sentQueue)
    {
        var result = new List<PulledMessage>();
        if (sentQueue)
        {
            lock (_lock)
            {
                foreach (var qm in _oldSent)
                    result.Add(new PulledMessage(qm.Msg.AsSpan(0, qm.Len).ToArray(), qm.SentTime, qm.ReceiveTime, 0));
                _oldSent.Clear();
            }
        }
        else
        {
            lock (_receiveLock)
            {
                result.AddRange(_oldReceive);
                _oldReceive.Clear();
            }
        }
        return result;
    }
}

/// <summary>A low-latency message handler: gets every received block whose first message starts with <see cref="Prefix"/> (upstream struct fastreader).</summary>
public sealed class FastReader(byte[] prefix, Action<double, ReadOnlySpan<byte>> handler)
{
    /// <summary>Encoded start of the message (msgtag and leading fields).</summary>
    public byte[] Prefix { get; } = prefix;

    /// <summary>Called on the I/O thread with the receive time and the whole block (header and trailer included).</summary>
    public Action<double, ReadOnlySpan<byte>> Handler { get; } = handler;
}
