using Klipsharp.Host.Configuration;
using Klipsharp.Host.Kinematics;

namespace Klipsharp.Host.Extras;

/// <summary>[filament_motion_sensor NAME]: an encoder that must pulse while the extruder moves (upstream EncoderSensor).</summary>
public sealed class EncoderSensor : IStatusProvider
{
    private const double CheckRunoutTimeout = .250;

    private readonly Printer _printer;
    private readonly Reactor _reactor;
    private readonly string _extruderName;
    private readonly double _detectionLength;
    private readonly RunoutHelper _runoutHelper;
    private Func<double, double>? _findPastPosition;
    private Mcu.Mcu? _mcu;
    private ReactorTimer? _extruderPosUpdateTimer;
    private double _filamentRunoutPos;

    public EncoderSensor(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        string switchPin = config.Get("switch_pin");
        _extruderName = config.Get("extruder");
        _detectionLength = config.GetFloat("detection_length", 7.0, above: 0.0);
        var buttons = _printer.LoadObject<PrinterButtons>(config, "buttons");
        buttons.RegisterButtons([switchPin], EncoderEvent);
        _reactor = _printer.Reactor;
        _runoutHelper = new RunoutHelper(config);
        _printer.RegisterEventHandler("klippy:ready", HandleReady);
        _printer.RegisterEventHandler<double>("idle_timeout:printing", HandlePrinting);
        _printer.RegisterEventHandler<double>("idle_timeout:ready", HandleNotPrinting);
        _printer.RegisterEventHandler<double>("idle_timeout:idle", HandleNotPrinting);
    }

    private void UpdateFilamentRunoutPos(double? eventtime = null) =>
        _filamentRunoutPos = GetExtruderPos(eventtime ?? _reactor.Monotonic()) + _detectionLength;

    private void HandleReady()
    {
        var extruder = _printer.LookupObject(_extruderName);
        _findPastPosition = extruder switch
        {
            IExtruder e => e.FindPastPosition,
            PrinterExtruderStepper s => s.FindPastPosition,
            _ => throw new ConfigError($"'{_extruderName}' is not an extruder"),
        };
        _mcu = _printer.LookupObject<Mcu.Mcu>("mcu");
        UpdateFilamentRunoutPos();
        _extruderPosUpdateTimer = _reactor.RegisterTimer(ExtruderPosUpdateEvent);
    }

    private void HandlePrinting(double printTime)
    {
        if (_extruderPosUpdateTimer is not null)
            _reactor.UpdateTimer(_extruderPosUpdateTimer, Reactor.Now);
    }

    private void HandleNotPrinting(double printTime)
    {
        if (_extruderPosUpdateTimer is not null)
            _reactor.UpdateTimer(_extruderPosUpdateTimer, Reactor.Never);
    }

    private double GetExtruderPos(double eventtime)
    {
        double printTime = _mcu!.EstimatedPrintTime(eventtime);
        return _findPastPosition!(printTime);
    }

    private double ExtruderPosUpdateEvent(double eventtime)
    {
        double extruderPos = GetExtruderPos(eventtime);
        _runoutHelper.NoteFilamentPresent(eventtime, extruderPos < _filamentRunoutPos);
        return eventtime + CheckRunoutTimeout;
    }

    private void EncoderEvent(double eventtime, int state)
    {
        if (_findPastPosition is null)
            return;
        UpdateFilamentRunoutPos(eventtime);
        // An encoder pulse always means filament is present.
        _runoutHelper.NoteFilamentPresent(eventtime, true);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => _runoutHelper.GetStatus(eventtime);
}
