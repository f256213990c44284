using System.Collections.Concurrent;
using Klipsharp.Protocol;

namespace Klipsharp.SimMcu;

/// <summary>Raised inside the simulated firmware to abort the current work and shut down (firmware <c>shutdown()</c>).</summary>
internal sealed class McuShutdownException(string reason) : Exception(reason)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// A simulated micro-controller speaking the upstream Klipper protocol: identify with a
/// generated data dictionary, message blocks with sequence numbers, acks and naks, a
/// timer scheduler on a virtual clock, and the firmware's steppers, endstops, trsync,
/// digital/PWM outputs and ADC inputs, attached to a simulated machine (axes with
/// endstops, heaters with thermistors).
/// </summary>
/// <remarks>
/// Real-time mode: <see cref="Start"/> runs the MCU on its own thread, its clock following
/// the wall clock. Manual mode (<c>realTime: false</c>): nothing runs by itself; call
/// <see cref="Poll"/> to process received bytes and <see cref="Advance"/> to move time.
/// </remarks>
public sealed partial class SimulatedMcu : IDisposable
{
    private const string FirmwareVersion = "v0.13.0-klipsharp-sim";
    private const string FirmwareBuildVersions = "klipsharp simulated mcu";

    private const int MaxDispatchesPerTick = 100000;

    private readonly object _sync = new();
    private readonly CommandTable _table = new();
    private readonly Scheduler _sched = new();
    private readonly ConcurrentQueue<(byte[] Data, long Arrival)> _inbox = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly byte[] _sendBuf = new byte[MessageBlock.MESSAGE_MAX + 64];

    private Action<byte[]>? _output;
    private McuLinkStream? _link;
    private Thread? _thread;
    private volatile bool _running;
    private volatile bool _killed;
    private volatile bool _disposed;

    // Link state (command.c).
    private byte[] _inBuf = new byte[4096];
    private int _inLen;
    private byte _nextSequence = MessageBlock.MESSAGE_DEST;
    private bool _needSync;
    private bool _needValid;

    // Scheduler state (sched.c).
    private readonly SimTimer _periodicTimer = new();
    private int _shutdownStatus;
    private string _shutdownReason = "";
    private bool _tasksWoken;
    private long _simTime;

    // basecmd.c state.
    private object?[] _oids = [];
    private bool _oidsAllocated;
    private uint _configCrc;
    private int _moveCount;
    private int _movesUsed;

    // Stats.
    private uint _statsCount;
    private uint _statsSum;
    private uint _statsSumsq;
    private uint _statsSendTime;
    private uint _statsSendTimeHigh;

    /// <summary>Creates a simulated MCU for <paramref name="board"/> (ATmega2560-like by default) in <paramref name="machine"/>.</summary>
    public SimulatedMcu(SimBoard? board = null, SimMachine? machine = null, bool realTime = true)
    {
        Board = board ?? SimBoard.Atmega2560();
        Machine = machine ?? SimMachine.DefaultFor(Board);
        Clock = new SimClock(Board.ClockFreq, realTime);
        BuildCommandTable();
        _table.AssignIds();
        DictionaryJson = _table.BuildDictionary(Board, FirmwareVersion, FirmwareBuildVersions);
        DictionaryZlib = DataDictionary.Compress(DictionaryJson);
        InitMachine();
        _periodicTimer.Func = PeriodicEvent;
        ResetTimers();
    }

    /// <summary>The board being simulated.</summary>
    public SimBoard Board { get; }

    /// <summary>The machine around the MCU.</summary>
    public SimMachine Machine { get; }

    /// <summary>The MCU's clock.</summary>
    public SimClock Clock { get; }

    /// <summary>The data dictionary as JSON (what <c>--dict-out</c> writes).</summary>
    public byte[] DictionaryJson { get; }

    /// <summary>The zlib-compressed dictionary served through <c>identify</c>.</summary>
    public byte[] DictionaryZlib { get; }

    /// <summary>The dictionary, parsed.</summary>
    public DataDictionary Dictionary => _dictionary ??= DataDictionary.FromJson(DictionaryJson);

    private DataDictionary? _dictionary;

    /// <summary>True while the firmware is shut down.</summary>
    public bool IsShutdown
    {
        get { lock (_sync) return _shutdownStatus != 0; }
    }

    /// <summary>Reason of the current (or last) shutdown.</summary>
    public string ShutdownReason
    {
        get { lock (_sync) return _shutdownReason; }
    }

    /// <summary>True once <c>finalize_config</c> was accepted.</summary>
    public bool IsConfigured
    {
        get { lock (_sync) return _moveCount != 0; }
    }

    /// <summary>The config CRC the host sent with <c>finalize_config</c>.</summary>
    public uint ConfigCrc
    {
        get { lock (_sync) return _configCrc; }
    }

    /// <summary>Message blocks dropped for a bad frame or CRC, or received out of sequence.</summary>
    public long BadBlocks { get; private set; }

    /// <summary>Commands executed so far.</summary>
    public long CommandsExecuted { get; private set; }

    /// <summary>What led to the last "Timer too close" shutdown (for the simulator's log), or null.</summary>
    public string? ShutdownDetail { get; private set; }

    /// <summary>Called (on the MCU thread, under its lock) with each shutdown reason.</summary>
    public event Action<string>? ShutdownOccurred;

    // ------------------------------------------------------------------
    // Transport

    /// <summary>
    /// Opens a new in-memory connection: the returned stream is the host's end (write
    /// commands, read responses). A previous connection is closed.
    /// </summary>
    public Stream CreateLink()
    {
        var link = new McuLinkStream(this);
        McuLinkStream? old;
        lock (_sync)
        {
            old = _link;
            _link = link;
            _output = link.DeliverToHost;
        }
        old?.CloseFromMcu();
        return link;
    }

    /// <summary>Attaches a transport: <paramref name="output"/> receives every block the MCU sends (null detaches).</summary>
    public void Attach(Action<byte[]>? output)
    {
        McuLinkStream? old;
        lock (_sync)
        {
            old = _link;
            _link = null;
            _output = output;
        }
        old?.CloseFromMcu();
    }

    /// <summary>Hands bytes received from the host to the MCU (any thread).</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || _killed || _disposed)
            return;
        // Input is stamped on arrival so that it runs at that MCU time even when the
        // simulation thread falls behind, as a real MCU handles it as it comes.
        long arrival = Clock.RealTime ? Clock.WallTicks() : Clock.Now64;
        _inbox.Enqueue((data.ToArray(), arrival));
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    internal void LinkClosedByHost(McuLinkStream link)
    {
        lock (_sync)
        {
            if (_link == link)
            {
                _link = null;
                _output = null;
            }
        }
    }

    // ------------------------------------------------------------------
    // Running

    /// <summary>Real-time mode: starts the MCU thread (sends <c>starting</c>).</summary>
    public void Start()
    {
        if (!Clock.RealTime)
            throw new InvalidOperationException("Start() needs a real-time MCU; use Poll()/Advance() in manual mode");
        if (_thread != null)
            return;
        _running = true;
        lock (_sync)
            Sendf("starting");
        _thread = new Thread(RunLoop) { IsBackground = true, Name = "sim-mcu" };
        _thread.Start();
    }

    /// <summary>Stops the MCU thread; the state is kept.</summary>
    public void Stop()
    {
        _running = false;
        _wake.Set();
        var t = _thread;
        if (t != null && t != Thread.CurrentThread)
            t.Join();
        _thread = null;
    }

    /// <summary>
    /// Simulates a dead MCU: it stops running and answering, and ignores further input.
    /// With <paramref name="closeLink"/> the host's stream also ends (a lost USB device).
    /// </summary>
    public void Kill(bool closeLink = false)
    {
        _killed = true;
        Stop();
        McuLinkStream? link;
        lock (_sync)
        {
            link = _link;
            _output = null;
            if (closeLink)
                _link = null;
        }
        if (closeLink)
            link?.CloseFromMcu();
    }

    /// <summary>True after <see cref="Kill"/>.</summary>
    public bool IsKilled => _killed;

    /// <summary>Stops and closes the link.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Stop();
        Attach(null);
        _wake.Dispose();
    }

    /// <summary>Real-time mode: passes of the MCU thread's loop so far (each one sleeps at least a millisecond).</summary>
    internal long LoopPasses { get; private set; }

    private void RunLoop()
    {
        // A real MCU has its own CPU; the simulation comes close by asking for priority
        Klipsharp.Protocol.ThreadScheduling.TrySetCurrentThreadNice(Klipsharp.Protocol.ThreadScheduling.TimeCriticalNice);
        while (_running)
        {
            double waitSeconds;
            lock (_sync)
            {
                LoopPasses++;
                Step(Clock.WallTicks());
                long? next = _sched.NextWake;
                waitSeconds = next is long n ? Clock.SecondsUntil(n) : 0.1;
            }
            // Timers run at their exact MCU times however late this thread gets to them, so
            // a wait shorter than the OS's millisecond is not worth a busy loop
            if (_inbox.IsEmpty)
                _wake.WaitOne(Math.Clamp((int)Math.Ceiling(waitSeconds * 1000.0), 1, 100));
        }
    }

    // Runs received input and timers in time order up to now, then the tasks.
    private void Step(long now)
    {
        while (_inbox.TryDequeue(out var chunk))
        {
            RunTimersUntil(chunk.Arrival);
            RunFrozen(Math.Max(chunk.Arrival, _simTime), chunk.Data);
        }
        RunTimersUntil(now);
        RunFrozen(Math.Max(now, _simTime), null);
    }

    // Handles received bytes (if any) and then the tasks, with the clock held at one value
    private void RunFrozen(long at, byte[]? input)
    {
        _simTime = at;
        Clock.Freeze(at);
        try
        {
            if (input != null)
                ProcessInput(input);
            RunTasks();
        }
        finally
        {
            Clock.Unfreeze();
        }
    }

    /// <summary>Manual mode: processes received bytes at the current clock and runs due timers and tasks.</summary>
    public void Poll()
    {
        lock (_sync)
        {
            if (_killed)
                return;
            Step(Clock.Now64);
        }
    }

    /// <summary>Manual mode: moves the clock forward by <paramref name="ticks"/>, running timers at their exact times.</summary>
    public void Advance(long ticks) => AdvanceTo(Clock.Now64 + ticks);

    /// <summary>Manual mode: moves the clock forward by <paramref name="seconds"/>.</summary>
    public void AdvanceSeconds(double seconds) => Advance((long)(seconds * Clock.Frequency));

    /// <summary>Manual mode: moves the clock to <paramref name="clock64"/>, running timers at their exact times.</summary>
    public void AdvanceTo(long clock64)
    {
        if (Clock.RealTime)
            throw new InvalidOperationException("Advance() is for manual-mode MCUs");
        lock (_sync)
        {
            if (_killed)
                return;
            RunTimersUntil(clock64);
            Clock.SetManual(clock64);
            RunFrozen(Math.Max(clock64, _simTime), null);
        }
    }

    private void RunTimersUntil(long until64)
    {
        long lastRan = long.MinValue;
        int sameTime = 0;
        while (true)
        {
            var t = _sched.PopDue(until64);
            if (t == null)
                return;
            long ran64 = t.Wake64;
            uint ran32 = t.WakeTime;
            if (!Clock.RealTime)
                Clock.SetManual(ran64);
            _simTime = Math.Max(_simTime, ran64);
            Clock.Freeze(ran64);
            try
            {
                // Timers that keep rescheduling without time advancing would hang the
                // simulation; the firmware's timer dispatch gives up on them too.
                sameTime = ran64 == lastRan ? sameTime + 1 : 0;
                lastRan = ran64;
                if (sameTime > MaxDispatchesPerTick)
                    Shutdown("Rescheduled timer in the past");
                var res = t.Func(t);
                if (res == TimerResult.Reschedule && !t.Scheduled)
                    _sched.Reinsert(t, ran64, ran32);
                RunTasks();
            }
            catch (McuShutdownException e)
            {
                RunShutdown(e.Reason);
            }
            finally
            {
                Clock.Unfreeze();
            }
        }
    }

    // ------------------------------------------------------------------
    // Link layer (command.c)

    private void ProcessInput(byte[] chunk)
    {
        if (_inLen + chunk.Length > _inBuf.Length)
            Array.Resize(ref _inBuf, Math.Max(_inBuf.Length * 2, _inLen + chunk.Length));
        chunk.CopyTo(_inBuf, _inLen);
        _inLen += chunk.Length;
        int pos = 0;
        while (pos < _inLen)
        {
            int ret = FindBlock(_inBuf.AsSpan(pos, _inLen - pos), out int pop);
            if (ret == 0)
                break;
            if (ret > 0)
            {
                bool completed = DispatchBlock(_inBuf.AsSpan(pos, pop));
                if (completed)
                    SendAckNak();
            }
            pos += pop;
        }
        if (pos > 0)
        {
            Buffer.BlockCopy(_inBuf, pos, _inBuf, 0, _inLen - pos);
            _inLen -= pos;
        }
    }

    // Firmware command_find_block: 1 with a block to dispatch, 0 when more data is
    // needed, -1 after discarding bytes (with a nak where the firmware sends one).
    private int FindBlock(ReadOnlySpan<byte> buf, out int pop)
    {
        pop = 0;
        if (buf.Length > 0 && _needSync)
            return NeedSync(buf, out pop);
        if (buf.Length < MessageBlock.MESSAGE_MIN)
            return 0;
        int msglen = buf[MessageBlock.MESSAGE_POS_LEN];
        if (msglen < MessageBlock.MESSAGE_MIN || msglen > MessageBlock.MESSAGE_MAX)
            return Error(buf, out pop);
        byte msgseq = buf[MessageBlock.MESSAGE_POS_SEQ];
        if ((msgseq & ~MessageBlock.MESSAGE_SEQ_MASK) != MessageBlock.MESSAGE_DEST)
            return Error(buf, out pop);
        if (buf.Length < msglen)
            return 0;
        if (buf[msglen - MessageBlock.MESSAGE_TRAILER_SYNC] != MessageBlock.MESSAGE_SYNC)
            return Error(buf, out pop);
        int msgcrc = (buf[msglen - MessageBlock.MESSAGE_TRAILER_CRC] << 8) | buf[msglen - MessageBlock.MESSAGE_TRAILER_CRC + 1];
        if (Crc16.Compute(buf[..(msglen - MessageBlock.MESSAGE_TRAILER_SIZE)]) != msgcrc)
            return Error(buf, out pop);
        _needValid = false;
        pop = msglen;
        if (msgseq != _nextSequence)
        {
            // A lost block: drop everything until it is retransmitted.
            BadBlocks++;
            SendAckNak();
            return -1;
        }
        _nextSequence = (byte)(((msgseq + 1) & MessageBlock.MESSAGE_SEQ_MASK) | MessageBlock.MESSAGE_DEST);
        return 1;
    }

    private int Error(ReadOnlySpan<byte> buf, out int pop)
    {
        if (buf[0] == MessageBlock.MESSAGE_SYNC)
        {
            // Leading sync bytes are ignored without a nak.
            pop = 1;
            return -1;
        }
        BadBlocks++;
        _needSync = true;
        return NeedSync(buf, out pop);
    }

    private int NeedSync(ReadOnlySpan<byte> buf, out int pop)
    {
        int next = buf.IndexOf(MessageBlock.MESSAGE_SYNC);
        if (next >= 0)
        {
            _needSync = false;
            pop = next + 1;
        }
        else
        {
            pop = buf.Length;
        }
        if (_needValid)
            return -1;
        _needValid = true;
        SendAckNak();
        return -1;
    }

    // Runs every command of a block; false when a shutdown cut it short (no ack then:
    // the firmware re-reads the block, finds the sequence used, and naks).
    private bool DispatchBlock(ReadOnlySpan<byte> block)
    {
        int p = MessageBlock.MESSAGE_HEADER_SIZE;
        int end = block.Length - MessageBlock.MESSAGE_TRAILER_SIZE;
        try
        {
            while (p < end)
            {
                if (!Vlq.TryDecode(block[..end], ref p, true, out long cmdid))
                    Shutdown("Command parser error");
                var cmd = _table.Lookup(cmdid);
                if (cmd == null || cmdid == 0)
                    Shutdown("Invalid command");
                var args = ParseArgs(block[..end], ref p, cmd!);
                if (_shutdownStatus != 0 && !cmd!.InShutdown)
                {
                    Sendf("is_shutdown", _table.StaticStringId(_shutdownReason));
                    continue;
                }
                CommandsExecuted++;
                cmd!.Handler(args);
            }
        }
        catch (McuShutdownException e)
        {
            RunShutdown(e.Reason);
            SendAckNak();
            return false;
        }
        return true;
    }

    private CommandArgs ParseArgs(ReadOnlySpan<byte> data, ref int p, CommandDef cmd)
    {
        var args = new CommandArgs(cmd.Types.Length);
        for (int i = 0; i < cmd.Types.Length; i++)
        {
            if (p > data.Length)
                Shutdown("Command parser error");
            switch (cmd.Types[i])
            {
                case ParamType.Buffer:
                case ParamType.ProgmemBuffer:
                case ParamType.String:
                {
                    if (p >= data.Length)
                        Shutdown("Command parser error");
                    int len = data[p++];
                    if (p + len > data.Length)
                        Shutdown("Command parser error");
                    args.Values[i] = (uint)len;
                    args.Buffers[i] = data.Slice(p, len).ToArray();
                    p += len;
                    break;
                }
                default:
                    if (!Vlq.TryDecode(data, ref p, true, out long v))
                        Shutdown("Command parser error");
                    args.Values[i] = (uint)v;
                    break;
            }
        }
        return args;
    }

    private void SendAckNak() => SendBlock([]);

    private void SendBlock(ReadOnlySpan<byte> payload)
    {
        var output = _output;
        if (output == null || _killed)
            return;
        var block = new byte[payload.Length + MessageBlock.MESSAGE_MIN];
        MessageBlock.Encode(block, _nextSequence, payload);
        output(block);
    }

    // Firmware sendf: one response per block.
    private void Sendf(string name, params object[] args)
    {
        var r = _table.Response(name);
        int n = CommandTable.Encode(_sendBuf, r, args);
        if (n > MessageBlock.MESSAGE_PAYLOAD_MAX)
            return;
        SendBlock(_sendBuf.AsSpan(0, n));
    }

    // ------------------------------------------------------------------
    // Shutdown (sched.c)

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Shutdown(string reason) => throw new McuShutdownException(reason);

    private void TryShutdown(string reason)
    {
        if (_shutdownStatus == 0)
            Shutdown(reason);
    }

    private void RunShutdown(string reason)
    {
        uint cur = Clock.Now32;
        if (_shutdownStatus == 0)
            _shutdownReason = reason;
        _shutdownStatus = 2;
        ResetTimers();
        try
        {
            ShutdownObjects();
        }
        catch (McuShutdownException)
        {
            // A second shutdown while shutting down keeps the first reason.
        }
        _movesUsed = 0;
        _shutdownStatus = 1;
        Sendf("shutdown", cur, _table.StaticStringId(_shutdownReason));
        ShutdownOccurred?.Invoke(_shutdownReason);
    }

    private void ResetTimers()
    {
        _sched.Clear();
        long now = Clock.Now64;
        _periodicTimer.WakeTime = Clock.Now32 + (uint)(Board.ClockFreq / 10);
        _sched.Add(_periodicTimer, now);
    }

    private TimerResult PeriodicEvent(SimTimer t)
    {
        _tasksWoken = true;
        t.WakeTime += (uint)(Board.ClockFreq / 10);
        return TimerResult.Reschedule;
    }

    private void AddTimer(SimTimer t)
    {
        long now = Clock.Now64;
        if (_sched.Add(t, now))
        {
            // Says whether the host sent late or the simulator itself fell behind.
            if (_shutdownStatus == 0)
                ShutdownDetail = $"a timer was added {Clock.ToSeconds(now - t.Wake64) * 1e3:0.000} ms after its wake time (clock {t.Wake64})";
            TryShutdown("Timer too close");
        }
    }

    private void DelTimer(SimTimer t) => _sched.Remove(t);

    // ------------------------------------------------------------------
    // Tasks

    private void RunTasks()
    {
        if (!_tasksWoken)
            return;
        _tasksWoken = false;
        TrsyncTask();
        AnalogInTask();
        StatsUpdate();
    }

    private void StatsUpdate()
    {
        // A nominal 20 µs task loop stands in for the firmware's measured one.
        uint diff = (uint)Math.Max(1, Board.ClockFreq / 50000);
        uint cur = Clock.Now32;
        _statsCount++;
        _statsSum += diff;
        uint nextSumsq = _statsSumsq + (diff * diff + 255) / 256;
        _statsSumsq = nextSumsq < _statsSumsq ? 0xffffffff : nextSumsq;
        if (cur - _statsSendTime < (uint)(Board.ClockFreq * 5))
            return;
        Sendf("stats", _statsCount, _statsSum, _statsSumsq);
        if (cur < _statsSendTime)
            _statsSendTimeHigh++;
        _statsSendTime = cur;
        _statsCount = _statsSum = _statsSumsq = 0;
    }

    // ------------------------------------------------------------------
    // Objects and move queue (basecmd.c)

    private void MoveAlloc()
    {
        if (_movesUsed >= _moveCount)
            Shutdown("Move queue overflow");
        _movesUsed++;
    }

    private void MoveFree() => _movesUsed--;

    private void MoveQueueSetup()
    {
        if (_moveCount != 0)
            Shutdown("Invalid move request size");
    }

    private T OidAlloc<T>(byte oid, T obj) where T : class
    {
        if (oid >= _oids.Length || _oids[oid] != null || _moveCount != 0)
            Shutdown("Can't assign oid");
        _oids[oid] = obj;
        return obj;
    }

    private T OidLookup<T>(byte oid) where T : class
    {
        if (oid < _oids.Length && _oids[oid] is T t)
            return t;
        return Shutdown<T>("Invalid oid type");
    }

    private IEnumerable<(byte Oid, T Obj)> Objects<T>() where T : class
    {
        for (int i = 0; i < _oids.Length; i++)
        {
            if (_oids[i] is T t)
                yield return ((byte)i, t);
        }
    }

    private void BuildBaseCommands()
    {
        _table.AddCommand("identify offset=%u count=%c", a =>
        {
            uint offset = a[0];
            int count = a.Byte(1);
            uint isize = (uint)DictionaryZlib.Length;
            if (offset >= isize)
                count = 0;
            else if (offset + count > isize)
                count = (int)(isize - offset);
            var data = count > 0 ? new ArraySegment<byte>(DictionaryZlib, (int)offset, count) : new ArraySegment<byte>([]);
            Sendf("identify_response", offset, data);
        }, inShutdown: true);
        _table.AddCommand("clear_shutdown", _ =>
        {
            if (_shutdownStatus == 0)
                Shutdown("Shutdown cleared when not shutdown");
            if (_shutdownStatus == 2)
                return;
            _shutdownStatus = 0;
        }, inShutdown: true);
        _table.AddCommand("emergency_stop", _ => Shutdown("Command request"), inShutdown: true);
        _table.AddCommand("get_uptime", _ =>
        {
            uint cur = Clock.Now32;
            uint high = _statsSendTimeHigh + (cur < _statsSendTime ? 1u : 0u);
            Sendf("uptime", high, cur);
        }, inShutdown: true);
        _table.AddCommand("get_clock", _ => Sendf("clock", Clock.Now32), inShutdown: true);
        _table.AddCommand("finalize_config crc=%u", a =>
        {
            if (_moveCount != 0)
                Shutdown("Already finalized");
            _moveCount = Board.MoveCount;
            _movesUsed = 0;
            _configCrc = a[0];
        });
        _table.AddCommand("get_config", _ =>
            Sendf("config", _moveCount != 0 ? 1 : 0, _configCrc, _shutdownStatus != 0 ? 1 : 0, _moveCount), inShutdown: true);
        _table.AddCommand("allocate_oids count=%c", a =>
        {
            if (_oidsAllocated)
                Shutdown("oids already allocated");
            _oids = new object?[a.Byte(0)];
            _oidsAllocated = true;
        });
        if (Board.HasResetCommand)
            _table.AddCommand("reset", _ => ResetMcu(), inShutdown: true);
        else
            _table.AddCommand("config_reset", _ =>
            {
                if (_shutdownStatus == 0)
                    Shutdown("config_reset only available when shutdown");
                ResetMcu();
            }, inShutdown: true);
        _table.AddCommand("debug_nop", _ => { }, inShutdown: true);
        _table.AddCommand("debug_ping data=%*s", a => Sendf("pong", a.Buffer(0)), inShutdown: true);
        _table.AddCommand("debug_write order=%c addr=%u val=%u", _ => { }, inShutdown: true);
        _table.AddCommand("debug_read order=%c addr=%u", _ => Sendf("debug_result", 0u), inShutdown: true);

        _table.AddResponse("identify_response offset=%u data=%.*s");
        _table.AddResponse("starting");
        _table.AddResponse("is_shutdown static_string_id=%hu");
        _table.AddResponse("shutdown clock=%u static_string_id=%hu");
        _table.AddResponse("stats count=%u sum=%u sumsq=%u");
        _table.AddResponse("uptime high=%u clock=%u");
        _table.AddResponse("clock clock=%u");
        _table.AddResponse("config is_config=%c crc=%u is_shutdown=%c move_count=%hu");
        _table.AddResponse("pong data=%*s");
        _table.AddResponse("debug_result val=%u");
    }

    /// <summary>
    /// Restarts the firmware (the <c>reset</c>/<c>config_reset</c> commands): all objects
    /// and the configuration are dropped, shutdown is cleared, the clock keeps running.
    /// </summary>
    public void Restart()
    {
        lock (_sync)
            ResetMcu();
    }

    private void ResetMcu()
    {
        SaveAxisPositions();
        _oids = [];
        _oidsAllocated = false;
        _configCrc = 0;
        _moveCount = 0;
        _movesUsed = 0;
        _shutdownStatus = 0;
        _shutdownReason = "";
        _stepperByOid.Clear();
        ResetTimers();
        ResetOutputs();
        Sendf("starting");
    }

    private void BuildCommandTable()
    {
        BuildBaseCommands();
        BuildStepperCommands();
        BuildGpioCommands();
        BuildBusCommands();
        BuildTmcCommands();
        _table.AddStaticStrings(StaticStrings);
    }

    // Shutdown reasons, numbered from 2 as in the firmware's dictionary.
    private static readonly string[] StaticStrings =
    [
        "Shutdown cleared when not shutdown",
        "Timer too close",
        "sentinel timer called",
        "Invalid command",
        "Message encode error",
        "Command parser error",
        "Command request",
        "config_reset only available when shutdown",
        "oids already allocated",
        "Can't assign oid",
        "Invalid oid type",
        "Already finalized",
        "Invalid move request size",
        "Move queue overflow",
        "alloc_chunks failed",
        "alloc_chunk failed",
        "update_digital_out not valid with active queue",
        "Scheduled digital out event will exceed max_duration",
        "Can not set soft pwm cycle ticks while updates pending",
        "Missed scheduling of next digital out event",
        "Can't reset time when stepper active",
        "Invalid count parameter",
        "Stepper too far in past",
        "Can't add signal that is already active",
        "Invalid analog_in bytes_per_report",
        "ADC out of range",
        "Invalid spi config",
        "I2C Timeout",
        "I2C START READ NACK",
        "I2C START NACK",
        "I2C NACK",
        "Scheduled pwm event will exceed max_duration",
        "Missed scheduling of next hard pwm event",
        "Invalid buttons retransmit count",
        "Set button past maximum button count",
        "Max of 8 buttons",
        "tmcuart data too large",
        "Invalid neopixel update command",
        "Invalid neopixel data_size",
        "Rescheduled timer in the past",
        "Not a valid input pin",
        "Not an output pin",
        "Not a valid ADC pin",
        "Not a valid PWM pin",
    ];

    private void ShutdownObjects()
    {
        StepperShutdown();
        DigitalOutShutdown();
        PwmShutdown();
        AnalogInShutdown();
        TrsyncShutdown();
        TmcUartShutdown();
    }
}
