using System.Globalization;
using Klipsharp.Host.Serial;

namespace Klipsharp.Host.Mcu;

/// <summary>
/// Live clock synchronisation with an MCU (upstream clocksync.ClockSync): polls
/// <c>get_clock</c> every 0.9839 s, fits host send time to MCU clock with an
/// exponentially decaying linear regression, rejects outliers by prediction variance,
/// and feeds the estimate to the serial queue so timed commands are released on time.
/// </summary>
public class LiveClockSync : ClockSync
{
    public const double RTT_AGE = .000010 / (60.0 * 60.0);
    public const double DECAY = 1.0 / 30.0;
    public const double TRANSMIT_EXTRA = .001;

    protected readonly Reactor Reactor;
    private readonly ReactorTimer _getClockTimer;
    private SerialReader? _serial;
    private byte[]? _getClockCmd;
    private CommandQueue? _cmdQueue;
    private int _queriesPending;
    private long _lastClock;
    private double _timeAvg, _timeVariance;
    private double _clockAvg, _clockCovariance;
    private double _predictionVariance;
    private double _lastPredictionTime;
    private double _minHalfRtt = 999999999.9;
    private double _minRttTime;

    public LiveClockSync(Reactor reactor)
    {
        Reactor = reactor;
        _getClockTimer = reactor.RegisterTimer(GetClockEvent);
    }

    /// <summary>Host time, MCU clock and frequency of the current estimate (upstream clock_est).</summary>
    public (double SampleTime, double Clock, double Freq) ClockEst { get; private set; }

    /// <summary>Log sink for outlier and rtt messages (upstream logging.debug/info).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Reads the MCU uptime, takes 8 clock samples, then starts periodic polling.</summary>
    public virtual void Connect(SerialReader serial)
    {
        _serial = serial;
        McuFreq = serial.MsgParser.GetConstantFloat("CLOCK_FREQ");
        ClockAdj = (0.0, McuFreq);
        var p = serial.SendWithResponse("get_uptime", "uptime");
        StartEstimate((p["high"] << 32) | p["clock"], p.SentTime);
        for (int i = 0; i < 8; i++)
        {
            Reactor.Pause(Reactor.Monotonic() + 0.050);
            _lastPredictionTime = -9999.0;
            p = serial.SendWithResponse("get_clock", "clock");
            HandleClock(p);
        }
        _getClockCmd = serial.MsgParser.CreateCommand("get_clock");
        _cmdQueue = serial.AllocCommandQueue();
        serial.RegisterResponse(HandleClock, "clock");
        Reactor.UpdateTimer(_getClockTimer, Reactor.Now);
    }

    /// <summary>Seeds the regression with the first (uptime) sample.</summary>
    public void StartEstimate(long clock, double sentTime, double? mcuFreq = null)
    {
        if (mcuFreq is not null)
        {
            McuFreq = mcuFreq.Value;
            ClockAdj = (0.0, McuFreq);
        }
        _lastClock = clock;
        _clockAvg = clock;
        _timeAvg = sentTime;
        ClockEst = (_timeAvg, _clockAvg, McuFreq);
        _predictionVariance = Math.Pow(.001 * McuFreq, 2);
    }

    public override void ConnectFile(double mcuFreq)
    {
        base.ConnectFile(mcuFreq);
        ClockEst = (0.0, 0.0, mcuFreq);
    }

    // Reactor timer: query the clock in the background
    private double GetClockEvent(double eventtime)
    {
        if (_serial is null || _getClockCmd is null || _cmdQueue is null)
            return Reactor.Never;
        _serial.RawSend(_getClockCmd, 0, 0, _cmdQueue);
        _queriesPending++;
        // An unusual period so clock queries do not resonate with other periodic events
        return eventtime + .9839;
    }

    private bool UpdateRegression(double sentTime, long clock)
    {
        // Expected clock from the current regression
        double oldFreq = ClockEst.Freq;
        double expClock = (sentTime - _timeAvg) * oldFreq + _clockAvg;
        // Track prediction accuracy; filter out extreme outliers
        double clockDiff2 = Math.Pow(clock - expClock, 2);
        if (clockDiff2 > 25.0 * _predictionVariance && clockDiff2 > Math.Pow(.000500 * McuFreq, 2))
        {
            if (clock > expClock && sentTime < _lastPredictionTime + 10.0)
            {
                Log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"Ignoring clock sample {sentTime:F3}: freq={(long)oldFreq} diff={(long)(clock - expClock)} stddev={Math.Sqrt(_predictionVariance):F3}"));
                return false;
            }
            Log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"Resetting prediction variance {sentTime:F3}: freq={(long)oldFreq} diff={(long)(clock - expClock)} stddev={Math.Sqrt(_predictionVariance):F3}"));
            _predictionVariance = Math.Pow(.001 * McuFreq, 2);
        }
        else
        {
            _lastPredictionTime = sentTime;
            _predictionVariance = (1.0 - DECAY) * (_predictionVariance + clockDiff2 * DECAY);
        }
        // Add the sample to the linear regression
        double diffSentTime = sentTime - _timeAvg;
        _timeAvg += DECAY * diffSentTime;
        _timeVariance = (1.0 - DECAY) * (_timeVariance + Math.Pow(diffSentTime, 2) * DECAY);
        double diffClock = clock - _clockAvg;
        _clockAvg += DECAY * diffClock;
        _clockCovariance = (1.0 - DECAY) * (_clockCovariance + diffSentTime * diffClock * DECAY);
        return true;
    }

    private void UpdateBestRtt(double sentTime, double receiveTime)
    {
        double halfRtt = .5 * (receiveTime - sentTime);
        double agedRtt = (sentTime - _minRttTime) * RTT_AGE;
        if (halfRtt < _minHalfRtt + agedRtt)
        {
            _minHalfRtt = halfRtt;
            _minRttTime = sentTime;
            Log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"new minimum rtt {sentTime:F3}: hrtt={halfRtt:F6} freq={(long)ClockEst.Freq}"));
        }
    }

    /// <summary>Handles a <c>clock</c> response (also the 8 startup samples).</summary>
    public void HandleClock(McuResponse p)
    {
        _queriesPending = 0;
        // Extend the 32-bit clock to 64 bits
        long lastClock = _lastClock;
        long clockDelta = (p["clock"] - lastClock) & 0xffffffffL;
        long clock = _lastClock = lastClock + clockDelta;
        double sentTime = p.SentTime;
        double receiveTime = p.ReceiveTime;
        if (sentTime == 0.0)
            return; // unknown: the get_clock block was retransmitted
        if (!UpdateRegression(sentTime, clock))
            return; // outlier
        // Release timing of the serial queue
        double newFreq = _clockCovariance / _timeVariance;
        double predStddev = Math.Sqrt(_predictionVariance);
        _serial?.SetClockEst(newFreq, _timeAvg + TRANSMIT_EXTRA, unchecked((ulong)(long)(_clockAvg - 3.0 * predStddev)));
        // Host time to MCU clock (mainly for multi-MCU sync)
        UpdateBestRtt(sentTime, receiveTime);
        ClockEst = (_timeAvg + _minHalfRtt, _clockAvg, newFreq);
    }

    // ---- Host time conversions

    /// <summary>Estimated MCU clock at host time <paramref name="eventtime"/>.</summary>
    public long GetClock(double eventtime)
    {
        var (sampleTime, clock, freq) = ClockEst;
        return (long)(clock + (eventtime - sampleTime) * freq);
    }

    /// <summary>Host time at which the MCU clock reaches <paramref name="reqclock"/>.</summary>
    public double EstimateClockSystime(long reqclock)
    {
        var (sampleTime, clock, freq) = ClockEst;
        return (reqclock - clock) / freq + sampleTime;
    }

    public override double EstimatedPrintTime(double eventtime) => ClockToPrintTime(GetClock(eventtime));

    public override long Clock32ToClock64(long clock32)
    {
        long lastClock = _lastClock;
        long clockDiff = (clock32 - lastClock) & 0xffffffffL;
        clockDiff -= (clockDiff & 0x80000000L) << 1;
        return lastClock + clockDiff;
    }

    /// <summary>False once more than four clock queries went unanswered (the MCU is unreachable).</summary>
    public override bool IsActive => _queriesPending <= 4;

    /// <summary>Clock queries sent since the last answer.</summary>
    public int QueriesPending => _queriesPending;

    /// <summary>Last known 64-bit MCU clock.</summary>
    public long LastClock => _lastClock;

    public virtual string DumpDebug()
    {
        var (sampleTime, clock, freq) = ClockEst;
        return string.Create(CultureInfo.InvariantCulture,
            $"clocksync state: mcu_freq={(long)McuFreq} last_clock={_lastClock} clock_est=({sampleTime:F3} {(long)clock} {freq:F3}) " +
            $"min_half_rtt={_minHalfRtt:F6} min_rtt_time={_minRttTime:F3} time_avg={_timeAvg:F3}({_timeVariance:F3}) " +
            $"clock_avg={_clockAvg:F3}({_clockCovariance:F3}) pred_variance={_predictionVariance:F3}");
    }

    /// <summary>The stats fragment (upstream stats): <c>freq=N</c>.</summary>
    public virtual string Stats(double eventtime) =>
        string.Create(CultureInfo.InvariantCulture, $"freq={(long)ClockEst.Freq}");

    public override (double Offset, double Freq) CalibrateClock(double printTime, double eventtime) => (0.0, McuFreq);

    /// <summary>Stops polling (at disconnect).</summary>
    public void Stop() => Reactor.UpdateTimer(_getClockTimer, Reactor.Never);
}

/// <summary>
/// Clock sync for a secondary MCU (upstream clocksync.SecondarySync): its print time is
/// mapped onto the main MCU's by an offset and adjusted frequency, recalibrated so both
/// agree a few seconds ahead.
/// </summary>
public sealed class SecondarySync : LiveClockSync
{
    private readonly LiveClockSync _mainSync;
    private double _lastSyncTime;

    public SecondarySync(Reactor reactor, LiveClockSync mainSync) : base(reactor)
    {
        _mainSync = mainSync;
        ClockAdj = (0.0, 1.0);
    }

    /// <summary>Current (offset, adjusted frequency).</summary>
    public (double Offset, double Freq) ClockAdjustment => ClockAdj;

    public override void Connect(SerialReader serial)
    {
        base.Connect(serial);
        ClockAdj = (0.0, McuFreq);
        double curtime = Reactor.Monotonic();
        double mainPrintTime = _mainSync.EstimatedPrintTime(curtime);
        double localPrintTime = EstimatedPrintTime(curtime);
        ClockAdj = (mainPrintTime - localPrintTime, McuFreq);
        CalibrateClock(0.0, curtime);
    }

    /// <summary>Test and offline use: aligns the offset to the main MCU at <paramref name="curtime"/> and calibrates.</summary>
    public void AlignTo(double curtime)
    {
        ClockAdj = (0.0, McuFreq);
        double mainPrintTime = _mainSync.EstimatedPrintTime(curtime);
        double localPrintTime = EstimatedPrintTime(curtime);
        ClockAdj = (mainPrintTime - localPrintTime, McuFreq);
        CalibrateClock(0.0, curtime);
    }

    public override void ConnectFile(double mcuFreq)
    {
        base.ConnectFile(mcuFreq);
        ClockAdj = (0.0, McuFreq);
    }

    public override long PrintTimeToClock(double printTime) => (long)((printTime - ClockAdj.Offset) * ClockAdj.Freq);

    public override double ClockToPrintTime(long clock) => clock / ClockAdj.Freq + ClockAdj.Offset;

    public override string DumpDebug() =>
        string.Create(CultureInfo.InvariantCulture, $"{base.DumpDebug()} clock_adj=({ClockAdj.Offset:F3} {ClockAdj.Freq:F3})");

    public override string Stats(double eventtime) =>
        string.Create(CultureInfo.InvariantCulture, $"{base.Stats(eventtime)} adj={(long)ClockAdj.Freq}");

    public override (double Offset, double Freq) CalibrateClock(double printTime, double eventtime)
    {
        // est_print_time = main_sync.estimated_print_time(eventtime)
        var (serTime, serClock, serFreq) = _mainSync.ClockEst;
        double mainMcuFreq = _mainSync.McuFreq;
        double estMainClock = (eventtime - serTime) * serFreq + serClock;
        double estPrintTime = estMainClock / mainMcuFreq;
        // The two print times at which both MCUs should agree
        double sync1PrintTime = Math.Max(printTime, estPrintTime);
        double sync2PrintTime = Math.Max(Math.Max(sync1PrintTime + 4.0, _lastSyncTime),
                                         printTime + 2.5 * (printTime - estPrintTime));
        // sync2_sys_time: inverse of main_sync.estimated_print_time
        double sync2MainClock = sync2PrintTime * mainMcuFreq;
        double sync2SysTime = serTime + (sync2MainClock - serClock) / serFreq;
        // Frequency that makes the estimated print time match at sync2_print_time
        long sync1Clock = PrintTimeToClock(sync1PrintTime);
        long sync2Clock = GetClock(sync2SysTime);
        double adjustedFreq = (sync2Clock - sync1Clock) / (sync2PrintTime - sync1PrintTime);
        double adjustedOffset = sync1PrintTime - sync1Clock / adjustedFreq;
        ClockAdj = (adjustedOffset, adjustedFreq);
        _lastSyncTime = sync2PrintTime;
        return ClockAdj;
    }
}
