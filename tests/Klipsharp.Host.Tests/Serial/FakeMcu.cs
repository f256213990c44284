using System.Diagnostics;
using System.Text;
using Klipsharp.Host.Serial;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Tests.Serial;

/// <summary>
/// A tiny MCU for link tests: the firmware's block acceptance rules (sequence check,
/// nak on a bad or out of order block, resync on the next sync byte), a few commands,
/// responses then an ack per accepted block. It can corrupt bytes in both directions
/// and drop chosen blocks as if lost on the wire.
/// </summary>
internal sealed class FakeMcu : IDisposable
{
    public const double ClockFreq = 16000000.0;

    public static readonly string DictionaryJson = """
        {
          "version": "fake-1", "build_versions": "test",
          "commands": {
            "identify offset=%u count=%c": 1,
            "get_uptime": 2,
            "get_clock": 3,
            "test_cmd value=%u": 4,
            "test_query value=%u": 5
          },
          "responses": {
            "identify_response offset=%u data=%.*s": 0,
            "uptime high=%u clock=%u": 6,
            "clock clock=%u": 7,
            "test_response value=%u": 8
          },
          "config": { "CLOCK_FREQ": 16000000, "RECEIVE_WINDOW": 192, "SERIAL_BAUD": 250000 }
        }
        """;

    private const int CF_NEED_SYNC = 1, CF_NEED_VALID = 2;

    private readonly Stream _stream;
    private readonly Thread _thread;
    private readonly DataDictionary _dict;
    private readonly byte[] _identifyData;
    private readonly Random _rng;
    private readonly object _writeLock = new();
    private readonly long _startTicks = Stopwatch.GetTimestamp();
    private readonly List<long> _received = new();
    private int _nextSequence = MessageBlock.MESSAGE_DEST;
    private int _syncState;
    private int _validBlocks;
    private int _corruptedBytes;
    private volatile bool _closed;

    private readonly Func<string, Dictionary<string, object>, bool>? _commandHandler;

    /// <param name="dictionaryJson">The data dictionary served by identify (default <see cref="DictionaryJson"/>).</param>
    /// <param name="commandHandler">Runs a received command first (name, arguments); true when it handled it.</param>
    public FakeMcu(Stream stream, double corruptRate = 0.0, int seed = 1, ISet<int>? dropBlocks = null,
                   double clockFreq = ClockFreq, long clockOffset = 123456789, string? dictionaryJson = null,
                   Func<string, Dictionary<string, object>, bool>? commandHandler = null)
    {
        _commandHandler = commandHandler;
        dictionaryJson ??= DictionaryJson;
        _stream = stream;
        CorruptIn = CorruptOut = corruptRate;
        _rng = new Random(seed);
        DropBlocks = dropBlocks ?? new HashSet<int>();
        ActualFreq = clockFreq;
        ClockOffset = clockOffset;
        _dict = DataDictionary.FromJson(dictionaryJson);
        _identifyData = DataDictionary.Compress(Encoding.UTF8.GetBytes(dictionaryJson));
        _thread = new Thread(Run) { IsBackground = true, Name = "fake mcu" };
        _thread.Start();
    }

    /// <summary>Creates a fake MCU on one end of an in-memory pipe; returns the host's transport.</summary>
    public static (FakeMcu Mcu, IMcuTransport HostSide) Create(double corruptRate = 0.0, int seed = 1, ISet<int>? dropBlocks = null)
    {
        var (a, b) = DuplexPipe.CreatePair();
        return (new FakeMcu(b, corruptRate, seed, dropBlocks), new StreamTransport(a, "fake"));
    }

    /// <summary>
    /// Asked for every read: true drops the bytes just read, as a firmware loses the rest
    /// of a read when a shutdown unwinds its command loop.
    /// </summary>
    public Func<bool>? DiscardInput { get; set; }

    /// <summary>Probability that a byte from the host gets a bit flipped.</summary>
    public double CorruptIn { get; set; }

    /// <summary>Probability that a byte to the host gets a bit flipped.</summary>
    public double CorruptOut { get; set; }

    /// <summary>Indexes (0-based, counting valid in-sequence blocks) of blocks to ignore as if lost.</summary>
    public ISet<int> DropBlocks { get; }

    public double ActualFreq { get; }

    public long ClockOffset { get; }

    public int NakCount { get; private set; }

    /// <summary>In-sequence blocks accepted (or dropped on purpose) so far.</summary>
    public int ValidBlocks => _validBlocks;

    public int CorruptedBytes => _corruptedBytes;

    /// <summary>Values of test_cmd (and test_query) received, in order.</summary>
    public List<long> Received
    {
        get
        {
            lock (_received)
                return new List<long>(_received);
        }
    }

    public void ClearReceived()
    {
        lock (_received)
            _received.Clear();
    }

    public bool WaitForCount(int count, double timeoutSeconds)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < timeoutSeconds)
        {
            lock (_received)
                if (_received.Count >= count)
                    return true;
            Thread.Sleep(5);
        }
        return false;
    }

    /// <summary>The MCU's clock now (64 bits).</summary>
    public long Clock => ClockOffset + (long)(Stopwatch.GetElapsedTime(_startTicks).TotalSeconds * ActualFreq);

    /// <summary>Closes the MCU side (the host sees end of stream).</summary>
    public void Close()
    {
        _closed = true;
        _stream.Dispose();
    }

    public void Dispose()
    {
        Close();
        _thread.Join(2000);
    }

    private void Run()
    {
        var buf = new byte[8192];
        int len = 0;
        var tmp = new byte[1024];
        try
        {
            while (!_closed)
            {
                int n = _stream.Read(tmp);
                if (n <= 0)
                    return;
                if (DiscardInput?.Invoke() == true)
                    continue;
                for (int i = 0; i < n; i++)
                    tmp[i] = Corrupt(tmp[i], CorruptIn);
                if (len + n > buf.Length)
                    len = 0; // overflow: drop everything (never expected)
                tmp.AsSpan(0, n).CopyTo(buf.AsSpan(len));
                len += n;
                while (true)
                {
                    int r = FindBlock(buf.AsSpan(0, len), out int pop);
                    if (pop == 0)
                        break;
                    if (r > 0)
                        Dispatch(buf.AsSpan(0, pop));
                    len -= pop;
                    Buffer.BlockCopy(buf, pop, buf, 0, len);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private byte Corrupt(byte b, double rate)
    {
        if (rate <= 0)
            return b;
        bool flip;
        lock (_rng)
            flip = _rng.NextDouble() < rate;
        if (flip)
        {
            Interlocked.Increment(ref _corruptedBytes);
            lock (_rng)
                return (byte)(b ^ (1 << _rng.Next(8)));
        }
        return b;
    }

    // The firmware's command_find_block: 1 for a block to run, -1 for data to drop, 0 for more data
    private int FindBlock(ReadOnlySpan<byte> buf, out int pop)
    {
        if ((_syncState & CF_NEED_SYNC) != 0)
            return NeedSync(buf, out pop);
        pop = 0;
        if (buf.Length < MessageBlock.MESSAGE_MIN)
            return 0;
        int msglen = buf[MessageBlock.MESSAGE_POS_LEN];
        if (msglen < MessageBlock.MESSAGE_MIN || msglen > MessageBlock.MESSAGE_MAX)
            return Error(buf, out pop);
        int msgseq = buf[MessageBlock.MESSAGE_POS_SEQ];
        if ((msgseq & ~MessageBlock.MESSAGE_SEQ_MASK) != MessageBlock.MESSAGE_DEST)
            return Error(buf, out pop);
        if (buf.Length < msglen)
            return 0;
        if (buf[msglen - MessageBlock.MESSAGE_TRAILER_SYNC] != MessageBlock.MESSAGE_SYNC)
            return Error(buf, out pop);
        int msgcrc = (buf[msglen - MessageBlock.MESSAGE_TRAILER_CRC] << 8) | buf[msglen - MessageBlock.MESSAGE_TRAILER_CRC + 1];
        if (Crc16.Compute(buf[..(msglen - MessageBlock.MESSAGE_TRAILER_SIZE)]) != msgcrc)
            return Error(buf, out pop);
        _syncState &= ~CF_NEED_VALID;
        pop = msglen;
        if (msgseq != _nextSequence)
        {
            SendAckNak(nak: true);
            return -1;
        }
        if (DropBlocks.Contains(_validBlocks++))
            return -1; // lost on the wire: the next block will be out of sequence
        _nextSequence = ((msgseq + 1) & MessageBlock.MESSAGE_SEQ_MASK) | MessageBlock.MESSAGE_DEST;
        return 1;
    }

    private int Error(ReadOnlySpan<byte> buf, out int pop)
    {
        if (buf[0] == MessageBlock.MESSAGE_SYNC)
        {
            pop = 1;
            return -1;
        }
        _syncState |= CF_NEED_SYNC;
        return NeedSync(buf, out pop);
    }

    private int NeedSync(ReadOnlySpan<byte> buf, out int pop)
    {
        int next = buf.IndexOf(MessageBlock.MESSAGE_SYNC);
        if (next >= 0)
        {
            _syncState &= ~CF_NEED_SYNC;
            pop = next + 1;
        }
        else
        {
            pop = buf.Length;
        }
        if ((_syncState & CF_NEED_VALID) != 0)
            return -1;
        _syncState |= CF_NEED_VALID;
        SendAckNak(nak: true);
        return -1;
    }

    private void Dispatch(ReadOnlySpan<byte> block)
    {
        int pos = MessageBlock.MESSAGE_HEADER_SIZE;
        int end = block.Length - MessageBlock.MESSAGE_TRAILER_SIZE;
        while (pos < end)
        {
            int idPos = pos;
            Vlq.TryDecode(block, ref idPos, true, out long msgid);
            var fmt = (MessageFormat)_dict.MessagesById[msgid];
            var args = fmt.Parse(block, ref pos);
            if (_commandHandler is not null && _commandHandler(fmt.Name, args))
                continue;
            switch (fmt.Name)
            {
                case "identify":
                {
                    long offset = (long)args["offset"];
                    int count = (int)(long)args["count"];
                    int start = (int)Math.Min(offset, _identifyData.Length);
                    int n = Math.Min(count, _identifyData.Length - start);
                    SendResponse("identify_response", offset, _identifyData.AsSpan(start, n).ToArray());
                    break;
                }
                case "get_uptime":
                {
                    long clock = Clock;
                    SendResponse("uptime", clock >> 32, clock & 0xffffffff);
                    break;
                }
                case "get_clock":
                    SendResponse("clock", Clock & 0xffffffff);
                    break;
                case "test_cmd":
                    lock (_received)
                        _received.Add((long)args["value"]);
                    break;
                case "test_query":
                    lock (_received)
                        _received.Add((long)args["value"]);
                    SendResponse("test_response", (long)args["value"]);
                    break;
            }
        }
        SendAckNak(nak: false);
    }

    /// <summary>Sends a response (or unsolicited message) in its own block, as the firmware does.</summary>
    public void SendResponse(string name, params object[] args)
    {
        var fmt = _dict.MessagesByName[name];
        SendBlock(fmt.Encode(args));
    }

    private void SendAckNak(bool nak)
    {
        if (nak)
            NakCount++;
        SendBlock([]);
    }

    private void SendBlock(byte[] payload)
    {
        var block = MessageBlock.Encode(_nextSequence, payload);
        for (int i = 0; i < block.Length; i++)
            block[i] = Corrupt(block[i], CorruptOut);
        lock (_writeLock)
        {
            try
            {
                _stream.Write(block);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
            }
        }
    }
}
