using System.Globalization;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>PID_CALIBRATE: relay autotune of a heater (upstream pid_calibrate).</summary>
public sealed class PIDCalibrate
{
    public const string CmdPidCalibrateHelp = "Run PID calibration test";
    private readonly Printer _printer;

    public PIDCalibrate(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        var gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        gcode.RegisterCommand("PID_CALIBRATE", CmdPidCalibrate, desc: CmdPidCalibrateHelp);
    }

    private void CmdPidCalibrate(GCodeCommand gcmd)
    {
        string heaterName = gcmd.Get("HEATER");
        double target = gcmd.GetFloat("TARGET");
        int writeFile = gcmd.GetInt("WRITE_FILE", 0);
        var pheaters = _printer.LookupObject<PrinterHeaters>("heaters");
        Heater heater;
        try
        {
            heater = pheaters.LookupHeater(heaterName);
        }
        catch (ConfigError e)
        {
            throw gcmd.Error(e.Message);
        }
        _printer.LookupObject<ToolHead>("toolhead").GetLastMoveTime();
        var calibrate = new ControlAutoTune(heater, target);
        var oldControl = heater.SetControl(calibrate);
        try
        {
            pheaters.SetTemperature(heater, target, true);
        }
        catch (CommandError)
        {
            heater.SetControl(oldControl);
            throw;
        }
        heater.SetControl(oldControl);
        if (writeFile != 0)
            calibrate.WriteFile("/tmp/heattest.txt");
        if (calibrate.CheckBusy(0.0, 0.0, 0.0))
            throw gcmd.Error("pid_calibrate interrupted");
        var (kp, ki, kd) = calibrate.CalcFinalPid();
        _printer.Log?.Invoke($"Autotune: final: Kp={PyFmt.F(kp, 6)} Ki={PyFmt.F(ki, 6)} Kd={PyFmt.F(kd, 6)}");
        gcmd.RespondInfo(
            $"PID parameters: pid_Kp={PyFmt.F(kp, 3)} pid_Ki={PyFmt.F(ki, 3)} pid_Kd={PyFmt.F(kd, 3)}\n" +
            "The SAVE_CONFIG command will update the printer config file\n" +
            "with these parameters and restart the printer.");
        string cfgname = heater.GetName();
        var configfile = _printer.LookupObject<PrinterConfig>("configfile");
        configfile.Set(cfgname, "control", "pid");
        configfile.Set(cfgname, "pid_Kp", PyFmt.F(kp, 3));
        configfile.Set(cfgname, "pid_Ki", PyFmt.F(ki, 3));
        configfile.Set(cfgname, "pid_Kd", PyFmt.F(kd, 3));
    }
}

/// <summary>The relay oscillation used by PID_CALIBRATE (upstream ControlAutoTune).</summary>
public sealed class ControlAutoTune : IHeaterControl
{
    public const double TunePidDelta = 5.0;
    private readonly Heater _heater;
    private readonly double _heaterMaxPower;
    private readonly double _calibrateTemp;
    private bool _heating;
    private double _peak, _peakTime;
    private readonly List<(double Temp, double Time)> _peaks = new();
    private double _lastPwm;
    private readonly List<(double, double)> _pwmSamples = new();
    private readonly List<(double, double)> _tempSamples = new();

    public ControlAutoTune(Heater heater, double target)
    {
        _heater = heater;
        _heaterMaxPower = heater.GetMaxPower();
        _calibrateTemp = target;
    }

    private void SetPwm(double readTime, double value)
    {
        if (value != _lastPwm)
        {
            _pwmSamples.Add((readTime + _heater.GetPwmDelay(), value));
            _lastPwm = value;
        }
        _heater.SetPwm(readTime, value);
    }

    public void TemperatureUpdate(double readTime, double temp, double targetTemp)
    {
        _tempSamples.Add((readTime, temp));
        if (_heating && temp >= targetTemp)
        {
            _heating = false;
            CheckPeaks();
            _heater.AlterTarget(_calibrateTemp - TunePidDelta);
        }
        else if (!_heating && temp <= targetTemp)
        {
            _heating = true;
            CheckPeaks();
            _heater.AlterTarget(_calibrateTemp);
        }
        if (_heating)
        {
            SetPwm(readTime, _heaterMaxPower);
            if (temp < _peak)
            {
                _peak = temp;
                _peakTime = readTime;
            }
        }
        else
        {
            SetPwm(readTime, 0.0);
            if (temp > _peak)
            {
                _peak = temp;
                _peakTime = readTime;
            }
        }
    }

    public bool CheckBusy(double eventtime, double smoothedTemp, double targetTemp) =>
        _heating || _peaks.Count < 12;

    private void CheckPeaks()
    {
        _peaks.Add((_peak, _peakTime));
        _peak = _heating ? 9999999.0 : -9999999.0;
        if (_peaks.Count < 4)
            return;
        CalcPid(_peaks.Count - 1);
    }

    private (double Kp, double Ki, double Kd) CalcPid(int pos)
    {
        double tempDiff = _peaks[pos].Temp - _peaks[pos - 1].Temp;
        double timeDiff = _peaks[pos].Time - _peaks[pos - 2].Time;
        double amplitude = 0.5 * Math.Abs(tempDiff);
        double ku = 4.0 * _heaterMaxPower / (Math.PI * amplitude);
        double tu = timeDiff;
        double ti = 0.5 * tu;
        double td = 0.125 * tu;
        double kp = 0.6 * ku * Heater.PidParamBase;
        double ki = kp / ti;
        double kd = kp * td;
        return (kp, ki, kd);
    }

    public (double Kp, double Ki, double Kd) CalcFinalPid()
    {
        var cycleTimes = new List<(double, int)>();
        for (int pos = 4; pos < _peaks.Count; pos++)
            cycleTimes.Add((_peaks[pos].Time - _peaks[pos - 2].Time, pos));
        var sorted = cycleTimes.OrderBy(c => c.Item1).ThenBy(c => c.Item2).ToList();
        int midpointPos = sorted[sorted.Count / 2].Item2;
        return CalcPid(midpointPos);
    }

    public void WriteFile(string filename)
    {
        var lines = _pwmSamples.Select(s => $"pwm: {PyFmt.F(s.Item1, 3)} {PyFmt.F(s.Item2, 3)}")
            .Concat(_tempSamples.Select(s => $"{PyFmt.F(s.Item1, 3)} {PyFmt.F(s.Item2, 3)}"));
        File.WriteAllText(filename, string.Join("\n", lines), System.Text.Encoding.UTF8);
    }

    internal static string Inv(double v) => v.ToString(CultureInfo.InvariantCulture);
}
