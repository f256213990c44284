using System.Buffers.Binary;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>
/// One batch of sensor measurements (upstream's {'data': samples, 'errors': n, 'overflows': n}
/// message). Each sample row starts with its print time; the meaning of the other columns
/// depends on the sensor. NaN marks an upstream None.
/// </summary>
public sealed class BulkBatch
{
    public BulkBatch(List<double[]> data, long errors, long overflows)
    {
        Data = data;
        Errors = errors;
        Overflows = overflows;
    }

    public List<double[]> Data { get; }

    public long Errors { get; }

    public long Overflows { get; }
}

/// <summary>
/// Collects a sensor's measurements and hands them to clients in periodic batches
/// (upstream bulk_sensor.BatchBulkHelper). The batch callback returns null for an empty
/// batch (upstream's falsy message), which clients do not see.
/// </summary>
public sealed class BatchBulkHelper
{
    public const double BatchInterval = 0.500;

    private readonly Printer _printer;
    private readonly Func<double, BulkBatch?> _batchCb;
    private readonly Action _startCb;
    private readonly Action _stopCb;
    private readonly double _batchInterval;
    private readonly List<Func<BulkBatch, bool>> _clientCbs = new();
    private ReactorTimer? _batchTimer;

    public BatchBulkHelper(Printer printer, Func<double, BulkBatch?> batchCb, Action? startCb = null, Action? stopCb = null,
        double batchInterval = BatchInterval)
    {
        _printer = printer;
        _batchCb = batchCb;
        _startCb = startCb ?? (() => { });
        _stopCb = stopCb ?? (() => { });
        _batchInterval = batchInterval;
    }

    public bool IsStarted { get; private set; }

    private void Start()
    {
        if (IsStarted)
            return;
        IsStarted = true;
        try
        {
            _startCb();
        }
        catch (CommandError)
        {
            _printer.Log?.Invoke("BatchBulkHelper start callback error");
            IsStarted = false;
            _clientCbs.Clear();
            throw;
        }
        var reactor = _printer.Reactor;
        double waketime = reactor.Monotonic() + _batchInterval;
        _batchTimer = reactor.RegisterTimer(ProcBatch, waketime);
    }

    private void Stop()
    {
        _clientCbs.Clear();
        if (_batchTimer is not null)
            _printer.Reactor.UnregisterTimer(_batchTimer);
        _batchTimer = null;
        if (!IsStarted)
            return;
        try
        {
            _stopCb();
        }
        catch (CommandError)
        {
            _printer.Log?.Invoke("BatchBulkHelper stop callback error");
            _clientCbs.Clear();
        }
        IsStarted = false;
        if (_clientCbs.Count > 0)
            Start();
    }

    private double ProcBatch(double eventtime)
    {
        BulkBatch? msg;
        try
        {
            msg = _batchCb(eventtime);
        }
        catch (CommandError)
        {
            _printer.Log?.Invoke("BatchBulkHelper batch callback error");
            Stop();
            return Reactor.Never;
        }
        if (msg is null)
            return eventtime + _batchInterval;
        foreach (var clientCb in _clientCbs.ToList())
        {
            if (clientCb(msg))
                continue;
            // This client is done
            _clientCbs.Remove(clientCb);
            if (_clientCbs.Count == 0)
            {
                Stop();
                return Reactor.Never;
            }
        }
        return eventtime + _batchInterval;
    }

    /// <summary>Adds a client (starting measurements if needed); it is dropped once it returns false.</summary>
    public void AddClient(Func<BulkBatch, bool> clientCb)
    {
        _clientCbs.Add(clientCb);
        Start();
    }
}

/// <summary>Queues a sensor's sensor_bulk_data messages as they arrive (upstream bulk_sensor.BulkDataQueue).</summary>
public sealed class BulkDataQueue
{
    private readonly object _lock = new();
    private List<McuResponse> _rawSamples = new();

    public BulkDataQueue(Mcu.Mcu mcu, string msgFmt = FixedFreqReader.SensorBulkFmt, long? oid = null)
    {
        mcu.RegisterResponse(HandleData, msgFmt, oid);
    }

    private void HandleData(McuResponse p)
    {
        lock (_lock)
            _rawSamples.Add(p);
    }

    public List<McuResponse> PullQueue()
    {
        lock (_lock)
        {
            var raw = _rawSamples;
            _rawSamples = new();
            return raw;
        }
    }

    public void ClearQueue() => PullQueue();
}

/// <summary>Tracks a sensor chip's sample clock against the MCU clock by linear regression (upstream bulk_sensor.ClockSyncRegression).</summary>
public sealed class ClockSyncRegression
{
    private readonly Mcu.Mcu _mcu;
    private readonly double _chipClockSmooth;
    private readonly double _decay;
    private double _lastChipClock, _lastExpMcuClock;
    private double _mcuClockAvg, _mcuClockVariance;
    private double _chipClockAvg, _chipClockCovariance;

    public ClockSyncRegression(Mcu.Mcu mcu, double chipClockSmooth, double decay = 1.0 / 20.0)
    {
        _mcu = mcu;
        _chipClockSmooth = chipClockSmooth;
        _decay = decay;
    }

    public void Reset(double mcuClock, double chipClock)
    {
        _mcuClockAvg = mcuClock;
        _chipClockAvg = chipClock;
        _mcuClockVariance = _chipClockCovariance = 0.0;
        _lastChipClock = _lastExpMcuClock = 0.0;
    }

    public void Update(double mcuClock, double chipClock)
    {
        double decay = _decay;
        double diffMcuClock = mcuClock - _mcuClockAvg;
        _mcuClockAvg += decay * diffMcuClock;
        _mcuClockVariance = (1.0 - decay) * (_mcuClockVariance + diffMcuClock * diffMcuClock * decay);
        double diffChipClock = chipClock - _chipClockAvg;
        _chipClockAvg += decay * diffChipClock;
        _chipClockCovariance = (1.0 - decay) * (_chipClockCovariance + diffMcuClock * diffChipClock * decay);
    }

    public void SetLastChipClock(double chipClock)
    {
        var (baseMcu, baseChip, invCfreq) = GetClockTranslation();
        _lastChipClock = chipClock;
        _lastExpMcuClock = baseMcu + (chipClock - baseChip) * invCfreq;
    }

    public (double BaseMcu, double BaseChip, double InvChipFreq) GetClockTranslation()
    {
        double invChipFreq = _mcuClockVariance / _chipClockCovariance;
        if (_lastChipClock == 0.0)
            return (_mcuClockAvg, _chipClockAvg, invChipFreq);
        // The mcu clock of a future chip clock, and the frequency that converges there
        double sChipClock = _lastChipClock + _chipClockSmooth;
        double scdiff = sChipClock - _chipClockAvg;
        double sMcuClock = _mcuClockAvg + scdiff * invChipFreq;
        double mdiff = sMcuClock - _lastExpMcuClock;
        double sInvChipFreq = mdiff / _chipClockSmooth;
        return (_lastExpMcuClock, _lastChipClock, sInvChipFreq);
    }

    // clock_to_print_time of a fractional clock (the MCU's conversion is linear)
    private double ClockToPrintTime(double clock)
    {
        long whole = (long)Math.Floor(clock);
        double t = _mcu.ClockToPrintTime(whole);
        return t + (clock - whole) * (_mcu.ClockToPrintTime(whole + 1) - t);
    }

    public (double BaseTime, double BaseChip, double InvFreq) GetTimeTranslation()
    {
        var (baseMcu, baseChip, invCfreq) = GetClockTranslation();
        double baseTime = ClockToPrintTime(baseMcu);
        double invFreq = ClockToPrintTime(baseMcu + invCfreq) - baseTime;
        return (baseTime, baseChip, invFreq);
    }
}

/// <summary>
/// Reads sensor_bulk_data from a chip sampling at a fixed frequency and timestamps each
/// sample by clock regression (upstream bulk_sensor.FixedFreqReader).
/// </summary>
public sealed class FixedFreqReader
{
    public const string SensorBulkFmt = "sensor_bulk_data oid=%c sequence=%hu data=%*s";
    public const int MaxBulkMsgSize = 51;

    private readonly Mcu.Mcu _mcu;
    private readonly ClockSyncRegression _clockSync;
    private readonly StructFormat _unpack;
    private long _lastSequence, _maxQueryDuration, _lastOverflows;
    private BulkDataQueue? _bulkQueue;
    private int _oid;

    public FixedFreqReader(Mcu.Mcu mcu, double chipClockSmooth, string unpackFmt)
    {
        _mcu = mcu;
        ChipClockSmooth = chipClockSmooth;
        UnpackFmt = unpackFmt;
        _clockSync = new ClockSyncRegression(mcu, chipClockSmooth);
        _unpack = new StructFormat(unpackFmt);
        BytesPerSample = _unpack.Size;
        SamplesPerBlock = MaxBulkMsgSize / BytesPerSample;
    }

    public double ChipClockSmooth { get; }

    public string UnpackFmt { get; }

    public int BytesPerSample { get; }

    public int SamplesPerBlock { get; }

    public McuQueryCommand? QueryStatusCmd { get; private set; }

    /// <summary>Looks up the status query (answered by sensor_bulk_status) and starts queueing bulk data.</summary>
    public void SetupQueryCommand(string msgformat, int oid, CommandQueue cq)
    {
        _oid = oid;
        QueryStatusCmd = _mcu.LookupQueryCommand(msgformat,
            "sensor_bulk_status oid=%c clock=%u query_ticks=%u next_sequence=%hu buffered=%u possible_overflows=%hu",
            oid: oid, cq: cq);
        _bulkQueue = new BulkDataQueue(_mcu, oid: oid);
    }

    public long GetLastOverflows() => _lastOverflows;

    private void ClearDurationFilter() => _maxQueryDuration = 1L << 31;

    public void NoteStart()
    {
        _lastSequence = 0;
        _lastOverflows = 0;
        // Drop stale samples of an earlier session
        _bulkQueue!.ClearQueue();
        ClearDurationFilter();
        UpdateClock(isReset: true);
        ClearDurationFilter();
    }

    public void NoteEnd() => _bulkQueue!.ClearQueue();

    private void UpdateClock(bool isReset = false)
    {
        var p = QueryStatusCmd!.Send([_oid]);
        long mcuClock = _mcu.Clock32ToClock64(p["clock"]);
        long seqDiff = (p["next_sequence"] - _lastSequence) & 0xffff;
        _lastSequence += seqDiff;
        long buffered = p["buffered"];
        long poDiff = (p["possible_overflows"] - _lastOverflows) & 0xffff;
        _lastOverflows += poDiff;
        long duration = p["query_ticks"];
        if (duration > _maxQueryDuration)
        {
            // A slow query could skew the clock tracking
            _maxQueryDuration = Math.Max(2 * _maxQueryDuration, _mcu.SecondsToClock(.000005));
            return;
        }
        _maxQueryDuration = 2 * duration;
        long msgCount = _lastSequence * SamplesPerBlock + buffered / BytesPerSample;
        // Half a sample for query inaccuracy plus half for hardware processing time
        long chipClock = msgCount + 1;
        long avgMcuClock = mcuClock + duration / 2;
        if (isReset)
            _clockSync.Reset(avgMcuClock, chipClock);
        else
            _clockSync.Update(avgMcuClock, chipClock);
    }

    /// <summary>The queued samples as rows (print time, unpacked values...).</summary>
    public List<double[]> PullSamples()
    {
        UpdateClock();
        var rawSamples = _bulkQueue!.PullQueue();
        if (rawSamples.Count == 0)
            return new List<double[]>();
        long lastSequence = _lastSequence;
        var (timeBase, chipBase, invFreq) = _clockSync.GetTimeTranslation();
        int bytesPerSample = BytesPerSample;
        int samplesPerBlock = SamplesPerBlock;
        var samples = new List<double[]>(rawSamples.Count * samplesPerBlock);
        long seq = 0;
        int i = 0;
        foreach (var p in rawSamples)
        {
            long seqDiff = (p["sequence"] - lastSequence) & 0xffff;
            seqDiff -= (seqDiff & 0x8000) << 1;
            seq = lastSequence + seqDiff;
            double msgCdiff = seq * samplesPerBlock - chipBase;
            var data = p.GetBytes("data");
            for (int j = 0; j < data.Length / bytesPerSample; j++)
            {
                // Python's loop variable keeps the last index
                i = j;
                double ptime = timeBase + (msgCdiff + j) * invFreq;
                var values = _unpack.Unpack(data, j * bytesPerSample);
                var row = new double[values.Length + 1];
                row[0] = ptime;
                values.CopyTo(row, 1);
                samples.Add(row);
            }
        }
        _clockSync.SetLastChipClock(seq * samplesPerBlock + i);
        return samples;
    }
}

/// <summary>A Python struct format of fixed-size integers ("&lt;i", "&gt;I", "&lt;hhh", "BBBBB").</summary>
public sealed class StructFormat
{
    private readonly bool _bigEndian;
    private readonly char[] _codes;

    public StructFormat(string fmt)
    {
        int start = 0;
        if (fmt.Length > 0 && fmt[0] is '<' or '>' or '!' or '=' or '@')
        {
            _bigEndian = fmt[0] is '>' or '!';
            start = 1;
        }
        _codes = fmt[start..].ToCharArray();
        foreach (char c in _codes)
            Size += c switch
            {
                'b' or 'B' => 1,
                'h' or 'H' => 2,
                'i' or 'I' => 4,
                _ => throw new ArgumentException($"Unsupported struct format '{fmt}'"),
            };
    }

    public int Size { get; }

    public double[] Unpack(byte[] data, int offset)
    {
        var res = new double[_codes.Length];
        for (int k = 0; k < _codes.Length; k++)
        {
            var span = data.AsSpan(offset);
            switch (_codes[k])
            {
                case 'b': res[k] = (sbyte)span[0]; offset += 1; break;
                case 'B': res[k] = span[0]; offset += 1; break;
                case 'h':
                    res[k] = _bigEndian ? BinaryPrimitives.ReadInt16BigEndian(span) : BinaryPrimitives.ReadInt16LittleEndian(span);
                    offset += 2;
                    break;
                case 'H':
                    res[k] = _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span) : BinaryPrimitives.ReadUInt16LittleEndian(span);
                    offset += 2;
                    break;
                case 'i':
                    res[k] = _bigEndian ? BinaryPrimitives.ReadInt32BigEndian(span) : BinaryPrimitives.ReadInt32LittleEndian(span);
                    offset += 4;
                    break;
                default:
                    res[k] = _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
                    offset += 4;
                    break;
            }
        }
        return res;
    }
}
