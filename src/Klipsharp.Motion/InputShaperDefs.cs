using System.Globalization;
using System.Text.RegularExpressions;

namespace Klipsharp.Motion;

/// <summary>A shaper definition failed to build (upstream shaper_defs.ShaperError).</summary>
public sealed class ShaperException(string message) : Exception(message);

/// <summary>One supported input shaper (upstream shaper_defs.InputShaperCfg).</summary>
/// <param name="Name">Shaper type name as used in the config ("zv", "mzv", ...).</param>
/// <param name="InitFunc">Builds (A, T) for a frequency and damping ratio with default parameters.</param>
/// <param name="MinFreq">Lowest recommended frequency (projected max_accel about 1500).</param>
/// <param name="MaxDampingRatio">Highest damping ratio the definition supports.</param>
public sealed record InputShaperCfg(
    string Name,
    Func<double, double, (double[] A, double[] T)> InitFunc,
    double MinFreq,
    double MaxDampingRatio);

/// <summary>
/// Input shaper pulse definitions (upstream klippy/extras/shaper_defs.py): for a shaper
/// frequency and damping ratio, the pulse amplitudes A and times T (seconds, increasing)
/// that <see cref="InputShaperKinematics.SetShaperParams"/> takes.
/// </summary>
public static partial class InputShaperDefs
{
    public const double ShaperVibrationReduction = 20.0;
    public const double DefaultDampingRatio = 0.1;

    /// <summary>The supported shapers, in upstream's order.</summary>
    public static readonly IReadOnlyList<InputShaperCfg> InputShapers =
    [
        new("zv", GetZvShaper, 21.0, 0.99),
        new("mzv", (f, d) => GetMzvShaper(f, d), 23.0, 0.99),
        new("zvd", GetZvdShaper, 29.0, 0.99),
        new("ei", (f, d) => GetEiShaper(f, d), 29.0, 0.4),
        new("2hump_ei", Get2HumpEiShaper, 39.0, 0.3),
        new("3hump_ei", Get3HumpEiShaper, 48.0, 0.2),
    ];

    /// <summary>No shaping: zero pulses.</summary>
    public static (double[] A, double[] T) GetNoneShaper() => ([], []);

    public static (double[] A, double[] T) GetZvShaper(double shaperFreq, double dampingRatio)
    {
        double df = Math.Sqrt(1.0 - Math.Pow(dampingRatio, 2));
        double k = Math.Exp(-dampingRatio * Math.PI / df);
        double tD = 1.0 / (shaperFreq * df);
        return ([1.0, k], [0.0, 0.5 * tD]);
    }

    public static (double[] A, double[] T) GetZvdShaper(double shaperFreq, double dampingRatio)
    {
        double df = Math.Sqrt(1.0 - Math.Pow(dampingRatio, 2));
        double k = Math.Exp(-dampingRatio * Math.PI / df);
        double tD = 1.0 / (shaperFreq * df);
        return ([1.0, 2.0 * k, Math.Pow(k, 2)], [0.0, 0.5 * tD, tD]);
    }

    /// <summary>
    /// Undamped MZV-family coefficients for <paramref name="n"/> pulses spanning
    /// <paramref name="t"/> periods, solved by least squares so the shaper's zeros
    /// fall where they should (upstream get_mzv_coeffs).
    /// </summary>
    public static (double[] A, double[] T) GetMzvCoeffs(int n, double t)
    {
        if (n < 3)
            throw new ShaperException($"Too small n={n}, must be at least 3");
        if (n <= 2 * t + 1 + 1e-7)
            throw new ShaperException(
                $"Too large t={F6(t)} for n={n}, must be less than {F6(0.5 * (n - 1))}");
        // Shaper duration projected to n -> infinity, used to place the zeros.
        double tau = t * (n - 2.0) / (n - 2.0 * t - 1.0);
        double[] T = new double[n];
        for (int i = 0; i < n; i++)
            T[i] = i * t / (n - 1.0);
        // First equation: sum(A) = 1; then a cos and a sin row per zero (linearly
        // dependent extras, so the system is not over-constrained).
        int rows = 2 * n - 1;
        double[][] mat = new double[rows][];
        double[] f = new double[rows];
        mat[0] = new double[n];
        Array.Fill(mat[0], 1.0);
        f[0] = 1.0;
        for (int i = 0; i < n - 1; i++)
        {
            double[] cosRow = new double[n], sinRow = new double[n];
            for (int j = 0; j < n; j++)
            {
                double w = 2.0 * Math.PI * (1.0 + i / tau) * T[j];
                cosRow[j] = Math.Cos(w);
                sinRow[j] = Math.Sin(w);
            }
            mat[1 + 2 * i] = cosRow;
            mat[2 + 2 * i] = sinRow;
        }
        double[][]? mInv = PseudoInverse(mat)
            ?? throw new ShaperException($"Ill-formed shaper with n={n}, t={F6(t)}");
        // A = F x M_inv^T, row by row as upstream's mat_mat_mul.
        double[] a = new double[n];
        for (int j = 0; j < n; j++)
        {
            double s = 0.0;
            for (int k = 0; k < rows; k++)
                s += f[k] * mInv[j][k];
            a[j] = s;
        }
        foreach (double v in a)
            if (v < -0.00001)
                throw new ShaperException($"Negative-valued shaper with n={n}, t={F6(t)}");
        return (a, T);
    }

    /// <summary>
    /// MZV shaper (upstream get_mzv_shaper); <paramref name="t"/> is the duration in
    /// periods (default 0.75), or <paramref name="tau"/> its projection for infinite n.
    /// </summary>
    public static (double[] A, double[] T) GetMzvShaper(
        double shaperFreq, double dampingRatio, int n = 3, double t = 0.0, double tau = 0.0)
    {
        if (tau == 0 && t == 0)
            t = 0.75;
        else if (tau != 0)
            t = tau * (n - 1.0) / (n + 2.0 * tau - 2.0);
        var (a, T) = GetMzvCoeffs(n, t);
        double df = Math.Sqrt(1.0 - Math.Pow(dampingRatio, 2));
        double k = Math.Exp(-2.0 * t * dampingRatio * Math.PI / ((n - 1.0) * df));
        double tD = 1.0 / (shaperFreq * df);
        double kp = k;
        for (int i = 1; i < n; i++)
        {
            T[i] *= tD;
            a[i] *= kp;
            kp *= k;
        }
        return (a, T);
    }

    /// <summary>EI shaper with vibration tolerance <paramref name="vTol"/> (upstream get_ei_shaper).</summary>
    public static (double[] A, double[] T) GetEiShaper(
        double shaperFreq, double dampingRatio, double vTol = 1.0 / ShaperVibrationReduction)
    {
        double df = Math.Sqrt(1.0 - Math.Pow(dampingRatio, 2));
        double tD = 1.0 / (shaperFreq * df);
        double dr = dampingRatio;
        double a1 = (0.24968 + 0.24961 * vTol) + ((0.80008 + 1.23328 * vTol) +
                                                  (0.49599 + 3.17316 * vTol) * dr) * dr;
        double a3 = (0.25149 + 0.21474 * vTol) + ((-0.83249 + 1.41498 * vTol) +
                                                  (0.85181 - 4.90094 * vTol) * dr) * dr;
        double a2 = 1.0 - a1 - a3;
        double t2 = 0.4999 + (((0.46159 + 8.57843 * vTol) * vTol) +
                              (((4.26169 - 108.644 * vTol) * vTol) +
                               ((1.75601 + 336.989 * vTol) * vTol) * dr) * dr) * dr;
        return ([a1, a2, a3], [0.0, t2 * tD, tD]);
    }

    private static readonly double[][] TwoHumpT =
    [
        [0.0, 0.0, 0.0, 0.0],
        [0.49890, 0.16270, -0.54262, 6.16180],
        [0.99748, 0.18382, -1.58270, 8.17120],
        [1.49920, -0.09297, -0.28338, 1.85710],
    ];
    private static readonly double[][] TwoHumpA =
    [
        [0.16054, 0.76699, 2.26560, -1.22750],
        [0.33911, 0.45081, -2.58080, 1.73650],
        [0.34089, -0.61533, -0.68765, 0.42261],
        [0.15997, -0.60246, 1.00280, -0.93145],
    ];
    private static readonly double[][] ThreeHumpT =
    [
        [0.0, 0.0, 0.0, 0.0],
        [0.49974, 0.23834, 0.44559, 12.4720],
        [0.99849, 0.29808, -2.36460, 23.3990],
        [1.49870, 0.10306, -2.01390, 17.0320],
        [1.99960, -0.28231, 0.61536, 5.40450],
    ];
    private static readonly double[][] ThreeHumpA =
    [
        [0.11275, 0.76632, 3.29160, -1.44380],
        [0.23698, 0.61164, -2.57850, 4.85220],
        [0.30008, -0.19062, -2.14560, 0.13744],
        [0.23775, -0.73297, 0.46885, -2.08650],
        [0.11244, -0.45439, 0.96382, -1.46000],
    ];

    public static (double[] A, double[] T) Get2HumpEiShaper(double shaperFreq, double dampingRatio) =>
        FromExpansionCoeffs(shaperFreq, dampingRatio, TwoHumpT, TwoHumpA);

    public static (double[] A, double[] T) Get3HumpEiShaper(double shaperFreq, double dampingRatio) =>
        FromExpansionCoeffs(shaperFreq, dampingRatio, ThreeHumpT, ThreeHumpA);

    // Each pulse's time (in periods) and amplitude is a polynomial in the damping ratio,
    // evaluated by Horner's rule from the highest coefficient.
    private static (double[] A, double[] T) FromExpansionCoeffs(
        double shaperFreq, double dampingRatio, double[][] t, double[][] a)
    {
        double tau = 1.0 / shaperFreq;
        int n = a.Length, k = a[0].Length;
        double[] resT = new double[n], resA = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u = t[i][k - 1];
            double v = a[i][k - 1];
            for (int j = 0; j < k - 1; j++)
            {
                u = u * dampingRatio + t[i][k - j - 2];
                v = v * dampingRatio + a[i][k - j - 2];
            }
            resT[i] = u * tau;
            resA[i] = v;
        }
        return (resA, resT);
    }

    [GeneratedRegex(@"^(\w+)\s*\((.*)\)$")]
    private static partial Regex NameWithArgs();

    [GeneratedRegex(@"(?:(\w+)\s*=\s*)?\s*([\d.]+)")]
    private static partial Regex ShaperArg();

    /// <summary>The definition for a shaper type, ignoring any "(args)" suffix; null if unknown (upstream get_shaper_cfg).</summary>
    public static InputShaperCfg? GetShaperCfg(string shaperName)
    {
        Match m = NameWithArgs().Match(shaperName);
        if (m.Success)
            shaperName = m.Groups[1].Value;
        foreach (InputShaperCfg s in InputShapers)
            if (s.Name == shaperName)
                return s;
        return null;
    }

    private readonly record struct ArgValue(double Value, bool IsInt);

    /// <summary>
    /// Builds the pulses for <paramref name="shaperName"/>, which may carry parameters
    /// such as "mzv(n=4, t=0.8)" or "ei(0.02)" (upstream init_shaper). Returns null for an
    /// unknown type. A <see cref="ShaperException"/> is rethrown as
    /// <c>error("Failed to initialize shaper: ...")</c> when <paramref name="error"/> is
    /// given. Parameters the shaper does not take throw <see cref="ArgumentException"/>
    /// (upstream's TypeError).
    /// </summary>
    public static (double[] A, double[] T)? InitShaper(
        string shaperName, double shaperFreq, double dampingRatio, Func<string, Exception>? error = null)
    {
        try
        {
            List<ArgValue> argsL = [];
            Dictionary<string, ArgValue> argsKv = [];
            Match m = NameWithArgs().Match(shaperName);
            if (m.Success)
            {
                shaperName = m.Groups[1].Value;
                string args = m.Groups[2].Value;
                if (args.Length > 0)
                {
                    foreach (Match a in ShaperArg().Matches(args))
                    {
                        ArgValue v = ParseVal(a.Groups[2].Value);
                        string key = a.Groups[1].Value;
                        if (key.Length == 0)
                            argsL.Add(v);
                        else
                            argsKv[key] = v;
                    }
                    if (argsL.Count > 0 && argsKv.Count > 0)
                        throw new ShaperException(
                            "Mixing named and non-named shaper parameters is not supported");
                }
            }
            foreach (InputShaperCfg s in InputShapers)
                if (s.Name == shaperName)
                    return Invoke(s.Name, shaperFreq, dampingRatio, argsL, argsKv);
        }
        catch (ShaperException e) when (error is not null)
        {
            throw error("Failed to initialize shaper: " + e.Message);
        }
        return null;
    }

    private static ArgValue ParseVal(string s)
    {
        if (s.Contains('.'))
        {
            if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double d))
                throw new ArgumentException($"could not convert string to float: '{s}'");
            return new ArgValue(d, false);
        }
        return new ArgValue(double.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture), true);
    }

    // Binds positional/keyword parameters the way a Python call to the init function would.
    private static (double[] A, double[] T) Invoke(string name, double freq, double dampingRatio,
        List<ArgValue> argsL, Dictionary<string, ArgValue> argsKv)
    {
        string[] paramNames = name switch
        {
            "mzv" => ["n", "t", "tau"],
            "ei" => ["v_tol"],
            _ => [],
        };
        string func = name switch
        {
            "zv" => "get_zv_shaper",
            "mzv" => "get_mzv_shaper",
            "zvd" => "get_zvd_shaper",
            "ei" => "get_ei_shaper",
            "2hump_ei" => "get_2hump_ei_shaper",
            _ => "get_3hump_ei_shaper",
        };
        if (argsL.Count > paramNames.Length)
        {
            int total = 2 + paramNames.Length;
            string takes = paramNames.Length == 0
                ? $"takes {total} positional arguments"
                : $"takes from 2 to {total} positional arguments";
            throw new ArgumentException($"{func}() {takes} but {2 + argsL.Count} were given");
        }
        var bound = new ArgValue?[paramNames.Length];
        for (int i = 0; i < argsL.Count; i++)
            bound[i] = argsL[i];
        foreach (var (key, value) in argsKv)
        {
            if (key is "shaper_freq" or "damping_ratio")
                throw new ArgumentException($"{func}() got multiple values for argument '{key}'");
            int idx = Array.IndexOf(paramNames, key);
            if (idx < 0)
                throw new ArgumentException($"{func}() got an unexpected keyword argument '{key}'");
            bound[idx] = value;
        }
        switch (name)
        {
            case "zv": return GetZvShaper(freq, dampingRatio);
            case "zvd": return GetZvdShaper(freq, dampingRatio);
            case "2hump_ei": return Get2HumpEiShaper(freq, dampingRatio);
            case "3hump_ei": return Get3HumpEiShaper(freq, dampingRatio);
            case "ei":
                return bound[0] is { } vTol
                    ? GetEiShaper(freq, dampingRatio, vTol.Value)
                    : GetEiShaper(freq, dampingRatio);
            default:
                int n = 3;
                if (bound[0] is { } nv)
                {
                    if (!nv.IsInt)
                        throw new ArgumentException("'float' object cannot be interpreted as an integer");
                    n = nv.Value > int.MaxValue ? int.MaxValue : (int)nv.Value;
                }
                return GetMzvShaper(freq, dampingRatio, n,
                    bound[1]?.Value ?? 0.0, bound[2]?.Value ?? 0.0);
        }
    }

    /// <summary>
    /// Smoothing of a shaper at a given acceleration and square corner velocity, the
    /// larger of the 90 and 180 degree turn offsets (upstream shaper_calibrate's
    /// _get_shaper_smoothing).
    /// </summary>
    public static double GetShaperSmoothing(double[] a, double[] t, double accel = 5000, double scv = 5.0)
    {
        double halfAccel = accel * 0.5;
        double sumA = 0.0;
        foreach (double v in a)
            sumA += v;
        double invD = 1.0 / sumA;
        int n = t.Length;
        double ts = 0.0;
        for (int i = 0; i < n; i++)
            ts += a[i] * t[i];
        ts *= invD;
        double offset90 = 0.0, offset180 = 0.0;
        for (int i = 0; i < n; i++)
        {
            if (t[i] >= ts)
                offset90 += a[i] * (scv + halfAccel * (t[i] - ts)) * (t[i] - ts);
            offset180 += a[i] * halfAccel * Math.Pow(t[i] - ts, 2);
        }
        offset90 *= invD * Math.Sqrt(2.0);
        offset180 *= invD;
        return offset180 > offset90 ? offset180 : offset90;
    }

    private static string F6(double v) => v.ToString("F6", CultureInfo.InvariantCulture);

    // Least-squares pseudo-inverse (M^T M)^-1 M^T as upstream mathutil.pseudo_inverse,
    // including its pivoting and summation order. Sums run left to right from zero as
    // Python's sum() did before 3.12 (later versions compensate, a last-bit difference).
    private static double[][]? PseudoInverse(double[][] m)
    {
        double[][] mt = Transpose(m);
        return GaussianSolve(MulTranspose(mt), mt);
    }

    private static double[][] Transpose(double[][] a)
    {
        int rows = a.Length, cols = a[0].Length;
        var res = new double[cols][];
        for (int i = 0; i < cols; i++)
        {
            res[i] = new double[rows];
            for (int j = 0; j < rows; j++)
                res[i][j] = a[j][i];
        }
        return res;
    }

    // a x a^T; the lower-left half is computed and mirrored.
    private static double[][] MulTranspose(double[][] a)
    {
        int n = a.Length;
        var res = new double[n][];
        for (int i = 0; i < n; i++)
        {
            res[i] = new double[n];
            for (int j = 0; j <= i; j++)
            {
                double s = 0.0;
                for (int k = 0; k < a[i].Length; k++)
                    s += a[i][k] * a[j][k];
                res[i][j] = s;
            }
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                res[i][j] = res[j][i];
        return res;
    }

    private static double[][]? GaussianSolve(double[][] a, double[][] rhs)
    {
        int rowsM = a.Length;
        double[][] m = new double[rowsM][];
        double[][] res = new double[rowsM][];
        for (int i = 0; i < rowsM; i++)
        {
            m[i] = (double[])a[i].Clone();
            res[i] = (double[])rhs[i].Clone();
        }
        // LU decomposition by elimination from the last column; each step drops a column.
        for (int i = rowsM - 1; i >= 0; i--)
        {
            int piv = 0;
            double best = Math.Abs(m[0][i]);
            for (int j = 1; j <= i; j++)
            {
                double v = Math.Abs(m[j][i]);
                if (v > best)
                {
                    best = v;
                    piv = j;
                }
            }
            if (i != piv)
            {
                (m[i], m[piv]) = (m[piv], m[i]);
                (res[i], res[piv]) = (res[piv], res[i]);
            }
            double[] mI = m[i];
            if (Math.Abs(mI[i]) < 1e-10)
                return null;
            double recipr = 1.0 / mI[i];
            for (int k = 0; k < i; k++)
                mI[k] *= recipr;
            double[] resI = res[i];
            for (int k = 0; k < resI.Length; k++)
                resI[k] *= recipr;
            for (int j = 0; j < i; j++)
            {
                double[] mJ = m[j];
                double c = mJ[i];
                for (int k = 0; k < i; k++)
                    mJ[k] -= c * mI[k];
                double[] resJ = res[j];
                for (int k = 0; k < resJ.Length; k++)
                    resJ[k] -= c * resI[k];
            }
        }
        // Forward substitution with the remaining lower-triangular matrix.
        double[][] rest = Transpose(res);
        foreach (double[] restK in rest)
        {
            for (int i = 1; i < rowsM; i++)
            {
                double s = 0.0;
                for (int l = 0; l < i; l++)
                    s += m[i][l] * restK[l];
                restK[i] -= s;
            }
        }
        return Transpose(rest);
    }
}
