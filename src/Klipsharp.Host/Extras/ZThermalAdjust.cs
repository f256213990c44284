using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[z_thermal_adjust]: shifts Z with a frame temperature sensor (upstream z_thermal_adjust.ZThermalAdjuster).</summary>
public sealed class ZThermalAdjuster : IMoveTransform, IStatusProvider, IStatsProvider, ITemperatureSource
{
    public const double KelvinToCelsius = -273.15;
    public const string CmdSetZThermalAdjustHelp = "Set/query Z Thermal Adjust parameters.";

    private readonly Printer _printer;
    private readonly GCodeDispatch _gcode;
    private readonly object _lock = new();
    private double _tempCoeff;
    private readonly double _offAboveZ;
    private readonly double _maxZAdjustMm;
    private readonly double _invSmoothTime;
    private double _lastTemp, _measuredMin, _measuredMax, _smoothedTemp, _lastTempTime, _refTemperature;
    private bool _refTempOverride;
    private double _zAdjustMm, _lastZAdjustMm;
    private bool _adjustEnable = true;
    private double[] _lastPosition = [0.0, 0.0, 0.0, 0.0];
    private IMoveTransform? _nextTransform;
    private double _zStepDist;

    public ZThermalAdjuster(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _tempCoeff = config.GetFloat("temp_coeff", 0, minval: -1, maxval: 1);
        _offAboveZ = config.GetFloat("z_adjust_off_above", 99999999.0);
        _maxZAdjustMm = config.GetFloat("max_z_adjustment", 99999999.0);
        _printer.RegisterEventHandler("klippy:connect", HandleConnect);
        _printer.RegisterEventHandler<Homing, List<GenericPrinterRail>>("homing:home_rails_end", HandleHomingMoveEnd);
        double smoothTime = config.GetFloat("smooth_time", 2.0, above: 0.0);
        _invSmoothTime = 1.0 / smoothTime;
        double minTemp = config.GetFloat("min_temp", minval: KelvinToCelsius);
        double maxTemp = config.GetFloat("max_temp", above: minTemp);
        var pheaters = _printer.LoadObject<PrinterHeaters>(config, "heaters");
        var sensor = pheaters.SetupSensor(config);
        sensor.SetupMinMax(minTemp, maxTemp);
        sensor.SetupCallback(TemperatureCallback);
        pheaters.RegisterSensor(config, this);
        _gcode.RegisterCommand("SET_Z_THERMAL_ADJUST", CmdSetZThermalAdjust, desc: CmdSetZThermalAdjustHelp);
    }

    private void HandleConnect()
    {
        var gcodeMove = _printer.LookupObject<GCodeMove>("gcode_move");
        _nextTransform = gcodeMove.SetMoveTransform(this, force: true);
        var kin = _printer.LookupObject<ToolHead>("toolhead").GetKinematics();
        var zStepper = kin.GetSteppers().FirstOrDefault(s => s.GetName() == "stepper_z")
            ?? throw new ConfigError("z_thermal_adjust: no stepper_z");
        _zStepDist = zStepper.GetStepDist();
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["temperature"] = _smoothedTemp,
        ["measured_min_temp"] = PyFmt.Round(_measuredMin, 2),
        ["measured_max_temp"] = PyFmt.Round(_measuredMax, 2),
        ["current_z_adjust"] = _zAdjustMm,
        ["z_adjust_ref_temperature"] = _refTemperature,
        ["enabled"] = _adjustEnable,
    };

    private void HandleHomingMoveEnd(Homing homingState, List<GenericPrinterRail> rails)
    {
        // A Z home sets the reference temperature
        if (homingState.GetAxes().Contains(2))
        {
            _refTemperature = _smoothedTemp;
            _refTempOverride = false;
            _zAdjustMm = 0.0;
        }
    }

    private double[] CalcAdjust(IReadOnlyList<double> pos)
    {
        if (pos[2] < _offAboveZ)
        {
            double deltaT = _smoothedTemp - _refTemperature;
            double adjust = -1 * _tempCoeff * deltaT;
            int sign = adjust <= 0 ? -1 : 1;
            // Skip adjustments below one step
            if (Math.Abs(adjust - _zAdjustMm) > _zStepDist)
            {
                double limit = _maxZAdjustMm * sign;
                _zAdjustMm = Math.Abs(adjust) < Math.Abs(limit) ? adjust : limit;
            }
        }
        var r = pos.ToArray();
        r[2] = pos[2] + _zAdjustMm;
        _lastZAdjustMm = _zAdjustMm;
        return r;
    }

    private double[] CalcUnadjust(IReadOnlyList<double> pos)
    {
        var r = pos.ToArray();
        r[2] = pos[2] - _zAdjustMm;
        return r;
    }

    public double[] GetPosition()
    {
        var position = CalcUnadjust(_nextTransform!.GetPosition());
        _lastPosition = CalcAdjust(position);
        return position;
    }

    public void Move(IReadOnlyList<double> newpos, double speed)
    {
        // Extrude-only moves and a disabled adjuster keep the last adjustment
        if ((newpos[0] == _lastPosition[0] && newpos[1] == _lastPosition[1]) || !_adjustEnable)
        {
            double z = newpos[2] + _lastZAdjustMm;
            _nextTransform!.Move([newpos[0], newpos[1], z, newpos[3]], speed);
        }
        else
        {
            _nextTransform!.Move(CalcAdjust(newpos), speed);
        }
        _lastPosition = newpos.ToArray();
    }

    private void TemperatureCallback(double readTime, double temp)
    {
        lock (_lock)
        {
            double timeDiff = readTime - _lastTempTime;
            _lastTemp = temp;
            _lastTempTime = readTime;
            double tempDiff = temp - _smoothedTemp;
            double adjTime = Math.Min(timeDiff * _invSmoothTime, 1.0);
            _smoothedTemp += tempDiff * adjTime;
            _measuredMin = Math.Min(_measuredMin, _smoothedTemp);
            _measuredMax = Math.Max(_measuredMax, _smoothedTemp);
        }
    }

    public (double Temp, double Target) GetTemp(double eventtime) => (_smoothedTemp, 0.0);

    public (bool IsActive, string Message) Stats(double eventtime) => (false, $"z_thermal_adjust: temp={PyFmt.F(_smoothedTemp, 1)}");

    private void CmdSetZThermalAdjust(GCodeCommand gcmd)
    {
        int? enable = gcmd.GetIntOrNull("ENABLE", minval: 0, maxval: 1);
        double? coeff = gcmd.GetFloatOrNull("TEMP_COEFF", minval: -1, maxval: 1);
        double? refTemp = gcmd.GetFloatOrNull("REF_TEMP", minval: KelvinToCelsius);
        if (refTemp is not null)
        {
            _refTemperature = refTemp.Value;
            _refTempOverride = true;
        }
        if (coeff is not null)
            _tempCoeff = coeff.Value;
        if (enable is not null && (enable.Value != 0) != _adjustEnable)
        {
            _adjustEnable = enable.Value != 0;
            _printer.LookupObject<GCodeMove>("gcode_move").ResetLastPosition();
        }
        string state = _adjustEnable ? "1 (enabled)" : "0 (disabled)";
        string over = _refTempOverride ? " (manual)" : "";
        gcmd.RespondInfo($"enable: {state}\ntemp_coeff: {PyFmt.F(_tempCoeff, 6)} mm/degC\nref_temp: {PyFmt.F(_refTemperature, 2)} degC{over}\n-------------------\nCurrent Z temp: {PyFmt.F(_smoothedTemp, 2)} degC\nApplied Z adjustment: {PyFmt.F(_zAdjustMm, 4)} mm");
    }
}
