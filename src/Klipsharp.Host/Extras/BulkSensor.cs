using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>
/// The configuration part of upstream bulk_sensor.FixedFreqReader: looks up the chip's
/// status query and registers for its sensor_bulk_data messages. Sample streaming and
/// clock regression are not implemented in this host.
/// </summary>
public sealed class FixedFreqReader
{
    public const string SensorBulkFmt = "sensor_bulk_data oid=%c sequence=%hu data=%*s";

    private readonly Mcu.Mcu _mcu;
    private readonly List<McuResponse> _rawSamples = new();

    public FixedFreqReader(Mcu.Mcu mcu, double chipClockSmooth, string unpackFmt)
    {
        _mcu = mcu;
        ChipClockSmooth = chipClockSmooth;
        UnpackFmt = unpackFmt;
    }

    public double ChipClockSmooth { get; }

    public string UnpackFmt { get; }

    public McuQueryCommand? QueryStatusCmd { get; private set; }

    /// <summary>Looks up the status query (answered by sensor_bulk_status) and starts queueing bulk data.</summary>
    public void SetupQueryCommand(string msgformat, int oid, CommandQueue cq)
    {
        QueryStatusCmd = _mcu.LookupQueryCommand(msgformat,
            "sensor_bulk_status oid=%c clock=%u query_ticks=%u next_sequence=%hu buffered=%u possible_overflows=%hu",
            oid: oid, cq: cq);
        _mcu.RegisterResponse(p =>
        {
            lock (_rawSamples)
                _rawSamples.Add(p);
        }, SensorBulkFmt, oid);
    }
}
