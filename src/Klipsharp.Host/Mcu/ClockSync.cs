namespace Klipsharp.Host.Mcu;

/// <summary>
/// Converts between print time and an MCU's clock (upstream clocksync.py). In batch
/// mode the conversion is exact (clock = print_time * CLOCK_FREQ); live mode refines
/// the estimate from get_clock round trips.
/// </summary>
public class ClockSync
{
    public double McuFreq { get; protected set; } = 1.0;

    /// <summary>Offset and frequency used for this MCU (a secondary MCU is adjusted to the main one).</summary>
    protected (double Offset, double Freq) ClockAdj;

    public bool IsFileOutput { get; private set; }

    public virtual void ConnectFile(double mcuFreq)
    {
        McuFreq = mcuFreq;
        ClockAdj = (0.0, mcuFreq);
        IsFileOutput = true;
    }

    public virtual long PrintTimeToClock(double printTime) => (long)(printTime * McuFreq);

    public virtual double ClockToPrintTime(long clock) => clock / McuFreq;

    public virtual double EstimatedPrintTime(double eventtime) => IsFileOutput ? 0.0 : 0.0;

    public virtual long Clock32ToClock64(long clock32) => clock32;

    public virtual (double Offset, double Freq) CalibrateClock(double printTime, double eventtime) => (0.0, McuFreq);

    public virtual bool IsActive => true;
}

/// <summary>Clock conversion for a secondary MCU, kept in step with the main MCU's print time (upstream SecondarySync).</summary>
public sealed class SecondaryClockSync : ClockSync
{
    private readonly ClockSync _main;

    public SecondaryClockSync(ClockSync main) => _main = main;

    public override long PrintTimeToClock(double printTime) => (long)((printTime - ClockAdj.Offset) * ClockAdj.Freq);

    public override double ClockToPrintTime(long clock) => clock / ClockAdj.Freq + ClockAdj.Offset;
}
