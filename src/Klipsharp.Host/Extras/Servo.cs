using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[servo NAME]: a hobby servo on a PWM pin (upstream servo.PrinterServo).</summary>
public sealed class PrinterServo : IStatusProvider
{
    public const double ServoSignalPeriod = 0.020;
    public const double RescheduleSlack = 0.000500;
    public const string CmdSetServoHelp = "Set servo angle";

    private readonly double _minWidth, _maxWidth, _maxAngle, _angleToWidth, _widthToValue;
    private double _lastValue;
    private readonly IPwmPin _mcuServo;
    private readonly GCodeRequestQueue _gcrq;

    public PrinterServo(ConfigWrapper config)
    {
        var printer = config.GetPrinter();
        _minWidth = config.GetFloat("minimum_pulse_width", .001, above: 0.0, below: ServoSignalPeriod);
        _maxWidth = config.GetFloat("maximum_pulse_width", .002, above: _minWidth, below: ServoSignalPeriod);
        _maxAngle = config.GetFloat("maximum_servo_angle", 180.0);
        _angleToWidth = (_maxWidth - _minWidth) / _maxAngle;
        _widthToValue = 1.0 / ServoSignalPeriod;
        double initialPwm;
        double? iangle = config.GetFloatOrNull("initial_angle", minval: 0.0, maxval: 360.0);
        if (iangle is double a)
            initialPwm = GetPwmFromAngle(a);
        else
        {
            double iwidth = config.GetFloat("initial_pulse_width", 0.0, minval: 0.0, maxval: _maxWidth);
            initialPwm = GetPwmFromPulseWidth(iwidth);
        }
        _mcuServo = OutputPins.SetupPwm(printer, config.Get("pin"));
        _mcuServo.SetupMaxDuration(0.0);
        _mcuServo.SetupCycleTime(ServoSignalPeriod);
        _mcuServo.SetupStartValue(initialPwm, 0.0);
        _gcrq = new GCodeRequestQueue(config, _mcuServo.GetMcu(), SetPwm);
        string servoName = config.Name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var gcode = printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterMuxCommand("SET_SERVO", "SERVO", servoName, CmdSetServo, desc: CmdSetServoHelp);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["value"] = _lastValue };

    private (string, double)? SetPwm(double printTime, double value)
    {
        if (value == _lastValue)
            return ("discard", 0.0);
        double alignedPtime = _mcuServo.NextAlignedPrintTime(printTime, RescheduleSlack);
        if (alignedPtime > printTime + RescheduleSlack)
            return ("reschedule", alignedPtime);
        _lastValue = value;
        _mcuServo.SetPwm(alignedPtime, value);
        return null;
    }

    private double GetPwmFromAngle(double angle)
    {
        angle = Math.Max(0.0, Math.Min(_maxAngle, angle));
        double width = _minWidth + angle * _angleToWidth;
        return width * _widthToValue;
    }

    private double GetPwmFromPulseWidth(double width)
    {
        if (width != 0.0)
            width = Math.Max(_minWidth, Math.Min(_maxWidth, width));
        return width * _widthToValue;
    }

    private void CmdSetServo(GCodeCommand gcmd)
    {
        double? width = gcmd.GetFloatOrNull("WIDTH");
        double value = width is double w ? GetPwmFromPulseWidth(w) : GetPwmFromAngle(gcmd.GetFloat("ANGLE"));
        _gcrq.QueueGcodeRequest(value);
    }
}
