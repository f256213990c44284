using System.Numerics;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Extras;

/// <summary>Fixed point helpers for MCU filter coefficients (upstream trigger_analog module functions).</summary>
public static class FixedPoint
{
    public const long MaxInt32 = (1L << 31) - 1;
    public const long MinInt32 = -(1L << 31);

    private static long AssertIsInt32(double value, int fracBits)
    {
        if (value > MaxInt32 || value < MinInt32)
            throw new OverflowException($"Fixed point Q{31 - fracBits}.{fracBits} overflow");
        return (long)value;
    }

    /// <summary>A value as a 32 bit fixed point integer with <paramref name="fracBits"/> fraction bits (upstream to_fixed_32).</summary>
    public static long ToFixed32(double value, int fracBits = 0) =>
        AssertIsInt32(Math.Round(value * Math.Pow(2, fracBits), MidpointRounding.ToEven), fracBits);

    private static int BitLength(long v)
    {
        v = Math.Abs(v);
        int n = 0;
        while (v != 0)
        {
            n++;
            v >>= 1;
        }
        return n;
    }

    /// <summary>The most fraction bits that keep every value within 32 bits (upstream calc_frac_bits).</summary>
    public static int CalcFracBits(IReadOnlyList<double> values)
    {
        if (values.All(v => v == Math.Truncate(v)))
            return 0;
        double mv = values.Max(Math.Abs);
        int fracBits = 31 - BitLength((long)mv);
        if (fracBits <= 0)
            return 0;
        try
        {
            foreach (var v in values)
                ToFixed32(v, fracBits);
        }
        catch (OverflowException)
        {
            // Rounding can overflow in rare cases
            return fracBits - 1;
        }
        return fracBits;
    }
}

/// <summary>
/// Second order section filter design (the parts of SciPy's signal module that upstream
/// uses: butter(output='sos') and iirnotch).
/// </summary>
public static class SosDesign
{
    /// <summary>A Butterworth filter of <paramref name="order"/> at <paramref name="frequency"/> Hz as second order sections (scipy.signal.butter, output='sos').</summary>
    public static List<double[]> Butter(int order, double frequency, string btype, double fs)
    {
        double wn = 2 * frequency / fs;
        if (wn <= 0 || wn >= 1)
            throw new ArgumentException($"Digital filter critical frequencies must be 0 < Wn < fs/2 (fs={PyFormat.Str(fs)} -> fs/2={PyFormat.Str(fs / 2)})");
        // Analog prototype (buttap)
        var p = new List<Complex>();
        for (int m = -order + 1; m < order; m += 2)
            p.Add(-Complex.Exp(new Complex(0.0, Math.PI * m / (2 * order))));
        var z = new List<Complex>();
        double k = 1.0;
        // Pre-warp for the bilinear transform
        const double nfs = 2.0;
        double warped = 2 * nfs * Math.Tan(Math.PI * wn / nfs);
        int degree = p.Count - z.Count;
        if (btype == "lowpass")
        {
            p = p.Select(x => warped * x).ToList();
            k *= Math.Pow(warped, degree);
        }
        else if (btype == "highpass")
        {
            Complex prodP = Complex.One;
            foreach (var x in p)
                prodP *= -x;
            k *= (Complex.One / prodP).Real;
            p = p.Select(x => warped / x).ToList();
            z.AddRange(Enumerable.Repeat(Complex.Zero, degree));
        }
        else
        {
            throw new ArgumentException($"'{btype}' is an invalid bandtype for filter.");
        }
        // Bilinear transform (bilinear_zpk)
        const double fs2 = 2.0 * nfs;
        degree = p.Count - z.Count;
        Complex num = Complex.One, den = Complex.One;
        foreach (var x in z)
            num *= fs2 - x;
        foreach (var x in p)
            den *= fs2 - x;
        var zz = z.Select(x => (fs2 + x) / (fs2 - x)).ToList();
        var pz = p.Select(x => (fs2 + x) / (fs2 - x)).ToList();
        zz.AddRange(Enumerable.Repeat(new Complex(-1.0, 0.0), degree));
        double kz = k * (num / den).Real;
        return Zpk2Sos(zz, pz, kz);
    }

    /// <summary>A notch filter as one second order section (scipy.signal.iirnotch followed by tf2sos).</summary>
    public static double[] IirNotch(double w0, double q, double fs)
    {
        if (w0 <= 0 || w0 >= fs / 2)
            throw new ArgumentException("w0 should be such that 0 < w0 < fs/2");
        w0 = 2 * w0 / fs;
        double bw = w0 / q;
        bw *= Math.PI;
        w0 *= Math.PI;
        double gb = 1 / Math.Sqrt(2);
        double beta = (Math.Sqrt(1.0 - Math.Pow(gb, 2.0)) / gb) * Math.Tan(bw / 2.0);
        double gain = 1.0 / (1.0 + beta);
        return [gain * 1.0, gain * (-2.0 * Math.Cos(w0)), gain * 1.0, 1.0, -2.0 * gain * Math.Cos(w0), 2.0 * gain - 1.0];
    }

    private static bool IsReal(Complex c) => c.Imaginary == 0.0;

    // Conjugate pairs (one of each, positive imaginary part) followed by the real values (scipy _cplxreal)
    private static List<Complex> CplxReal(List<Complex> z)
    {
        const double tol = 100 * 2.220446049250313e-16;
        var sorted = z.OrderBy(c => c.Real).ThenBy(c => Math.Abs(c.Imaginary)).ToList();
        var zr = sorted.Where(c => Math.Abs(c.Imaginary) <= tol * Complex.Abs(c)).Select(c => new Complex(c.Real, 0.0)).ToList();
        var rest = sorted.Where(c => Math.Abs(c.Imaginary) > tol * Complex.Abs(c)).ToList();
        var zp = rest.Where(c => c.Imaginary > 0).ToList();
        var zn = rest.Where(c => c.Imaginary < 0).ToList();
        if (zp.Count != zn.Count)
            throw new ArgumentException("Array contains complex value with no matching conjugate.");
        var zc = new List<Complex>();
        for (int i = 0; i < zp.Count; i++)
            zc.Add((zp[i] + Complex.Conjugate(zn[i])) / 2);
        zc.AddRange(zr);
        return zc;
    }

    private static int IdxWorst(IReadOnlyList<Complex> p)
    {
        int best = 0;
        for (int i = 1; i < p.Count; i++)
            if (Math.Abs(1 - Complex.Abs(p[i])) < Math.Abs(1 - Complex.Abs(p[best])))
                best = i;
        return best;
    }

    private static int NearestIdx(List<Complex> fro, Complex to, string which)
    {
        var order = Enumerable.Range(0, fro.Count).OrderBy(i => Complex.Abs(fro[i] - to)).ToList();
        if (which == "any")
            return order[0];
        return order.First(i => IsReal(fro[i]) == (which == "real"));
    }

    // Polynomial with the given roots, highest power first (numpy.poly)
    private static Complex[] Poly(IReadOnlyList<Complex> roots)
    {
        var a = new[] { Complex.One };
        foreach (var r in roots)
        {
            var next = new Complex[a.Length + 1];
            for (int i = 0; i < a.Length; i++)
            {
                next[i] += a[i];
                next[i + 1] += a[i] * -r;
            }
            a = next;
        }
        return a;
    }

    private static double[] SingleZpkSos(IReadOnlyList<Complex> z, IReadOnlyList<Complex> p)
    {
        var sos = new double[6];
        var b = Poly(z);
        var a = Poly(p);
        for (int i = 0; i < b.Length; i++)
            sos[3 - b.Length + i] = b[i].Real;
        for (int i = 0; i < a.Length; i++)
            sos[6 - a.Length + i] = a[i].Real;
        return sos;
    }

    /// <summary>Zeros, poles and gain as second order sections, "nearest" pairing (scipy.signal.zpk2sos).</summary>
    public static List<double[]> Zpk2Sos(List<Complex> z, List<Complex> p, double k)
    {
        if (z.Count == 0 && p.Count == 0)
            return [[k, 0.0, 0.0, 1.0, 0.0, 0.0]];
        p = p.Concat(Enumerable.Repeat(Complex.Zero, Math.Max(z.Count - p.Count, 0))).ToList();
        z = z.Concat(Enumerable.Repeat(Complex.Zero, Math.Max(p.Count - z.Count, 0))).ToList();
        int nSections = (Math.Max(p.Count, z.Count) + 1) / 2;
        if (p.Count % 2 == 1)
        {
            p.Add(Complex.Zero);
            z.Add(Complex.Zero);
        }
        z = CplxReal(z);
        p = CplxReal(p);
        var sos = new double[nSections][];
        for (int si = nSections - 1; si >= 0; si--)
        {
            int p1Idx = IdxWorst(p);
            var p1 = p[p1Idx];
            p.RemoveAt(p1Idx);
            if (IsReal(p1) && p.Count(IsReal) == 0)
            {
                // The last remaining real pole
                int z1Idx = NearestIdx(z, p1, "real");
                var z1 = z[z1Idx];
                z.RemoveAt(z1Idx);
                sos[si] = SingleZpkSos([z1, Complex.Zero], [p1, Complex.Zero]);
            }
            else if (p.Count + 1 == z.Count && !IsReal(p1) && p.Count(IsReal) == 1 && z.Count(IsReal) == 1)
            {
                // One real pole and zero left: pair with a complex zero
                int z1Idx = NearestIdx(z, p1, "complex");
                var z1 = z[z1Idx];
                z.RemoveAt(z1Idx);
                sos[si] = SingleZpkSos([z1, Complex.Conjugate(z1)], [p1, Complex.Conjugate(p1)]);
            }
            else
            {
                Complex p2;
                if (IsReal(p1))
                {
                    var realIdx = Enumerable.Range(0, p.Count).Where(i => IsReal(p[i])).ToList();
                    int p2Idx = realIdx[IdxWorst(realIdx.Select(i => p[i]).ToList())];
                    p2 = p[p2Idx];
                    p.RemoveAt(p2Idx);
                }
                else
                {
                    p2 = Complex.Conjugate(p1);
                }
                if (z.Count > 0)
                {
                    int z1Idx = NearestIdx(z, p1, "any");
                    var z1 = z[z1Idx];
                    z.RemoveAt(z1Idx);
                    if (!IsReal(z1))
                    {
                        sos[si] = SingleZpkSos([z1, Complex.Conjugate(z1)], [p1, p2]);
                    }
                    else if (z.Count > 0)
                    {
                        int z2Idx = NearestIdx(z, p1, "real");
                        var z2 = z[z2Idx];
                        z.RemoveAt(z2Idx);
                        sos[si] = SingleZpkSos([z1, z2], [p1, p2]);
                    }
                    else
                    {
                        sos[si] = SingleZpkSos([z1], [p1, p2]);
                    }
                }
                else
                {
                    sos[si] = SingleZpkSos([], [p1, p2]);
                }
            }
        }
        for (int i = 0; i < 3; i++)
            sos[0][i] *= k;
        return sos.ToList();
    }
}

/// <summary>A digital filter design: a list of second order sections (upstream trigger_analog.DigitalFilter).</summary>
public sealed class DigitalFilter
{
    // Pre-generated sections upstream ships so common installs need no SciPy
    private static readonly Dictionary<(string, double, int), double[][]> GeneratedSos = new()
    {
        [("lowpass", 400.0 / 25.0, 4)] =
        [
            [0.0009334986129548442, 0.0018669972259096883, 0.0009334986129548442, 1.0, -1.3651172372392975, 0.4775922500725171],
            [1.0, 2.0, 1.0, 1.0, -1.6117270964574348, 0.7445208382054344],
        ],
    };

    private readonly List<double[]> _filterSections = new();
    private readonly Func<string, Exception> _cfgError;

    public DigitalFilter(double sps, Func<string, Exception> cfgError)
    {
        SampleFrequency = sps;
        _cfgError = cfgError;
    }

    public double SampleFrequency { get; }

    public void AddHighpass(double highpass, int highpassOrder) => _filterSections.AddRange(Butter(highpass, "highpass", highpassOrder));

    public void AddLowpass(double lowpass, int lowpassOrder) => _filterSections.AddRange(Butter(lowpass, "lowpass", lowpassOrder));

    public void AddNotch(double notchFreq, double notchQuality)
    {
        try
        {
            _filterSections.Add(SosDesign.IirNotch(notchFreq, notchQuality, SampleFrequency));
        }
        catch (ArgumentException e)
        {
            throw _cfgError(e.Message);
        }
    }

    /// <summary>Adds a sample to sample difference stage.</summary>
    public void AddDerivative() => _filterSections.Add([1.0, -1.0, 0.0, 1.0, 0.0, 0.0]);

    private IEnumerable<double[]> Butter(double frequency, string btype, int order)
    {
        if (GeneratedSos.TryGetValue((btype, SampleFrequency / frequency, order), out var pre))
            return pre.Select(s => (double[])s.Clone());
        try
        {
            return SosDesign.Butter(order, frequency, btype, SampleFrequency);
        }
        catch (ArgumentException e)
        {
            throw _cfgError(e.Message);
        }
    }

    public IReadOnlyList<double[]> GetFilterSections() => _filterSections;

    public IReadOnlyList<double[]> GetInitialState() => _filterSections.Select(_ => new[] { 0.0, 0.0 }).ToList();

    public int GetSize() => _filterSections.Count;
}

/// <summary>Controls an sos_filter object on the MCU (upstream trigger_analog.MCU_SosFilter).</summary>
public sealed class McuSosFilter
{
    private readonly Mcu.Mcu _mcu;
    private readonly CommandQueue _cmdQueue;
    private readonly int _maxSections;
    private DigitalFilter? _design;
    private int _coeffFracBits;
    private List<double>? _lastCalcFracBits;
    private double _startValue;
    private long _offset;
    private double _scale = 1.0;
    private bool _autoOffset;
    private McuCommand? _setSectionCmd, _setStateCmd, _setActiveCmd, _setOffsetScaleCmd;
    private readonly long[]?[] _lastSentCoeffs;
    private long[]? _lastSentOffsetScale;

    public McuSosFilter(Mcu.Mcu mcu, CommandQueue cmdQueue, int maxSections)
    {
        _mcu = mcu;
        _cmdQueue = cmdQueue;
        _maxSections = maxSections;
        _lastSentCoeffs = new long[]?[maxSections];
        Oid = _mcu.CreateOid();
        _mcu.AddConfigCmd($"config_sos_filter oid={Oid} max_sections={_maxSections}");
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    public int Oid { get; }

    private void BuildConfig()
    {
        _setSectionCmd = _mcu.LookupCommand("sos_filter_set_section oid=%c section_idx=%c sos0=%i sos1=%i sos2=%i sos3=%i sos4=%i", _cmdQueue);
        _setStateCmd = _mcu.LookupCommand("sos_filter_set_state oid=%c section_idx=%c state0=%i state1=%i", _cmdQueue);
        _setOffsetScaleCmd = _mcu.LookupCommand("sos_filter_set_offset_scale oid=%c offset=%i scale=%i scale_frac_bits=%c auto_offset=%c", _cmdQueue);
        _setActiveCmd = _mcu.LookupCommand("sos_filter_set_active oid=%c n_sections=%c coeff_frac_bits=%c", _cmdQueue);
    }

    private void CalcCoeffFracBits(IReadOnlyList<double[]> filterSections)
    {
        var coeffs = filterSections.SelectMany(f => f).ToList();
        if (filterSections.Count == 0 || (_lastCalcFracBits is not null && coeffs.SequenceEqual(_lastCalcFracBits)))
            return;
        _coeffFracBits = FixedPoint.CalcFracBits(coeffs);
        _lastCalcFracBits = coeffs;
    }

    // The sections in fixed point, column 3 (always 1.0) left out
    private List<long[]> ConvertFilter()
    {
        if (_design is null)
            return new();
        var filterSections = _design.GetFilterSections();
        CalcCoeffFracBits(filterSections);
        var sosFixed = new List<long[]>();
        foreach (var section in filterSections)
        {
            if (section.Length != 6)
                throw new ArgumentException($"The number of filter coefficients is {section.Length}, must be 6");
            var fixedSection = new List<long>();
            for (int col = 0; col < section.Length; col++)
            {
                if (col != 3)
                    fixedSection.Add(FixedPoint.ToFixed32(section[col], _coeffFracBits));
                else if (section[col] != 1.0)
                    throw new ArgumentException($"Coefficient 3 is expected to be 1.0 but was {PyFmt.F(section[col], 6)}");
            }
            sosFixed.Add(fixedSection.ToArray());
        }
        return sosFixed;
    }

    private List<long[]> ConvertState()
    {
        if (_design is null)
            return new();
        var sosState = new List<long[]>();
        foreach (var section in _design.GetInitialState())
        {
            if (section.Length != 2)
                throw new ArgumentException($"The number of state elements is {section.Length}, must be 2");
            sosState.Add(section.Select(v => FixedPoint.ToFixed32(v * _startValue)).ToArray());
        }
        return sosState;
    }

    /// <summary>The expected sensor value when the filter starts (avoids ringing on a static offset).</summary>
    public void SetStartState(double startValue) => _startValue = startValue;

    /// <summary>How raw values convert to filter units: (raw + offset) * scale.</summary>
    public void SetOffsetScale(long offset = 0, double scale = 1.0, bool autoOffset = false)
    {
        _offset = offset;
        _scale = scale;
        _autoOffset = autoOffset;
    }

    public void SetFilterDesign(DigitalFilter? design) => _design = design;

    /// <summary>Sends the filter (changed coefficients, initial state, offset/scale) and activates it.</summary>
    public void ResetFilter()
    {
        var sosFixed = ConvertFilter();
        var sosState = ConvertState();
        int numSections = sosFixed.Count;
        if (numSections > _maxSections)
            throw new ArgumentException($"Too many filter sections: {numSections}, The max is {_maxSections}");
        if (sosState.Count != numSections)
            throw new ArgumentException($"The number of filter sections ({numSections}) and state sections ({sosState.Count}) must be equal");
        for (int i = 0; i < sosFixed.Count; i++)
        {
            var section = sosFixed[i];
            long[] args = [Oid, i, section[0], section[1], section[2], section[3], section[4]];
            if (_lastSentCoeffs[i] is long[] last && last.SequenceEqual(args))
                continue;
            _setSectionCmd!.Send(args);
            _lastSentCoeffs[i] = args;
        }
        for (int i = 0; i < sosState.Count; i++)
            _setStateCmd!.Send([Oid, i, sosState[i][0], sosState[i][1]]);
        int scaleFracBits = FixedPoint.CalcFracBits([_scale]);
        long su = FixedPoint.ToFixed32(_scale, scaleFracBits);
        long[] osArgs = [Oid, _offset, su, scaleFracBits, _autoOffset ? 1 : 0];
        if (_lastSentOffsetScale is null || !osArgs.SequenceEqual(_lastSentOffsetScale) || _autoOffset)
        {
            _setOffsetScaleCmd!.Send(osArgs);
            _lastSentOffsetScale = osArgs;
        }
        if (_maxSections != 0)
            _setActiveCmd!.Send([Oid, numSections, _coeffFracBits]);
    }
}

/// <summary>A sensor that can feed an MCU trigger_analog object (upstream duck type of the sensor passed to MCU_trigger_analog).</summary>
public interface ITriggerAnalogSensor
{
    Mcu.Mcu GetMcu();
    double GetSamplesPerSecond();
    void SetupTriggerAnalog(int triggerAnalogOid);
    string LookupSensorError(long errorCode);
}

/// <summary>
/// An endstop that triggers when a filtered sensor value crosses a threshold on the MCU
/// (upstream trigger_analog.MCU_trigger_analog).
/// </summary>
public sealed class McuTriggerAnalog : IEndstop
{
    public const int MonitorMax = 3;
    public const int ReasonTriggerAnalog = McuTrsync.ReasonCommsTimeout + 1;

    private readonly Printer _printer;
    private readonly ITriggerAnalogSensor _sensor;
    private readonly Mcu.Mcu _mcu;
    private readonly TriggerDispatch _dispatch;
    private McuSosFilter? _sosFilter;
    private long _rawMin, _rawMax;
    private object?[]? _lastRangeArgs;
    private string _triggerType = "unspecified";
    private long _triggerValue;
    private object?[]? _lastTriggerArgs;
    private Dictionary<long, string> _errorMap = new();
    private long _sensorSpecificError;
    private McuCommand? _homeCmd;
    private McuQueryCommand? _queryStateCmd;
    private McuObjCommand? _setRawRangeCmd, _setTriggerCmd;

    public McuTriggerAnalog(ITriggerAnalogSensor sensor)
    {
        _mcu = sensor.GetMcu();
        _printer = _mcu.Printer;
        _sensor = sensor;
        _dispatch = new TriggerDispatch(_mcu);
        Oid = _mcu.CreateOid();
        _mcu.RegisterConfigCallback(BuildConfig);
    }

    public int Oid { get; }

    public double LastTriggerTime { get; private set; }

    public void SetupSosFilter(McuSosFilter sosFilter) => _sosFilter = sosFilter;

    private void BuildConfig()
    {
        _sensor.SetupTriggerAnalog(Oid);
        var cmdQueue = _dispatch.CommandQueue;
        _sosFilter ??= new McuSosFilter(_mcu, cmdQueue, 0);
        _mcu.AddConfigCmd($"config_trigger_analog oid={Oid} sos_filter_oid={_sosFilter.Oid}");
        _queryStateCmd = _mcu.LookupQueryCommand("trigger_analog_query_state oid=%c",
            "trigger_analog_state oid=%c homing=%c homing_clock=%u", oid: Oid, cq: cmdQueue);
        _setRawRangeCmd = new McuObjCommand(_mcu, "trigger_analog_set_raw_range oid=%c raw_min=%i raw_max=%i", cmdQueue);
        _setTriggerCmd = new McuObjCommand(_mcu, "trigger_analog_set_trigger oid=%c trigger_analog_type=%c trigger_value=%i", cmdQueue);
        _homeCmd = _mcu.LookupCommand("trigger_analog_home oid=%c trsync_oid=%c trigger_reason=%c error_reason=%c clock=%u monitor_ticks=%u monitor_max=%u", cmdQueue);
        // Error codes from the MCU
        var errors = _mcu.Serial.MsgParser.Enumerations.GetValueOrDefault("trigger_analog_error:");
        _errorMap = errors is null ? new() : errors.ToDictionary(kv => kv.Value, kv => kv.Key);
        _sensorSpecificError = errors?.GetValueOrDefault("SENSOR_SPECIFIC", 0) ?? 0;
    }

    public Mcu.Mcu GetMcu() => _mcu;

    public McuSosFilter GetSosFilter() => _sosFilter!;

    public TriggerDispatch GetDispatch() => _dispatch;

    public double GetLastTriggerTime() => LastTriggerTime;

    public void SetTrigger(string triggerType, long triggerValue)
    {
        _triggerType = triggerType;
        _triggerValue = triggerValue;
    }

    public void SetRawRange(long rawMin, long rawMax)
    {
        _rawMin = rawMin;
        _rawMax = rawMax;
    }

    private static bool SameArgs(object?[]? a, object?[] b) => a is not null && a.SequenceEqual(b);

    private void ResetFilter()
    {
        object?[] args = [(long)Oid, _rawMin, _rawMax];
        if (!SameArgs(_lastRangeArgs, args))
        {
            _setRawRangeCmd!.Send(args);
            _lastRangeArgs = args;
        }
        args = [(long)Oid, _triggerType, _triggerValue];
        if (!SameArgs(_lastTriggerArgs, args))
        {
            _setTriggerCmd!.Send(args);
            _lastTriggerArgs = args;
        }
        _sosFilter!.ResetFilter();
    }

    private double ClearHome()
    {
        _homeCmd!.Send([Oid, 0, 0, 0, 0, 0, 0]);
        var p = _queryStateCmd!.Send([Oid]);
        long triggerTicks = _mcu.Clock32ToClock64(p["homing_clock"]);
        return _mcu.ClockToPrintTime(triggerTicks);
    }

    public IReadOnlyList<IMcuStepper> GetSteppers() => _dispatch.GetSteppers();

    public ReactorCompletion HomeStart(double printTime, double sampleTime, int sampleCount, double restTime, bool triggered = true)
    {
        LastTriggerTime = 0.0;
        ResetFilter();
        var triggerCompletion = _dispatch.Start(printTime);
        long clock = _mcu.PrintTimeToClock(printTime);
        double sensorUpdate = 1.0 / _sensor.GetSamplesPerSecond();
        long smTicks = _mcu.SecondsToClock(sensorUpdate);
        _homeCmd!.Send([Oid, _dispatch.Oid, McuTrsync.ReasonEndstopHit, ReasonTriggerAnalog, clock, smTicks, MonitorMax],
            reqClock: (ulong)clock);
        return triggerCompletion;
    }

    public double HomeWait(double homeEndTime)
    {
        _dispatch.WaitEnd(homeEndTime);
        // The trigger happened: find out why
        int res = _dispatch.Stop();
        // Stop the MCU's sample processing
        double triggerTime = ClearHome();
        if (res >= McuTrsync.ReasonCommsTimeout)
        {
            if (res == McuTrsync.ReasonCommsTimeout)
                throw new CommandError("Communication timeout during homing");
            long errorCode = res - ReasonTriggerAnalog;
            string errorMsg;
            if (errorCode >= _sensorSpecificError)
                errorMsg = _sensor.LookupSensorError(errorCode - _sensorSpecificError);
            else
                errorMsg = _errorMap.GetValueOrDefault(errorCode, $"Unknown code {errorCode}");
            throw new CommandError($"Trigger analog error: {errorMsg}");
        }
        if (res != McuTrsync.ReasonEndstopHit)
            return 0.0;
        if (_mcu.IsFileOutput)
            triggerTime = homeEndTime;
        LastTriggerTime = triggerTime;
        return triggerTime;
    }
}
