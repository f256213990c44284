namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Geometry and small dense linear-algebra helpers the kinematics need (the
/// trilateration and matrix parts of upstream klippy/mathutil.py). Arithmetic follows
/// upstream's order of operations so results match bit for bit; <c>x**2</c> is
/// <see cref="Math.Pow(double, double)"/> as in CPython.
/// </summary>
public static class MathUtil
{
    /// <summary>Python's math.sqrt: a negative argument is a domain error (upstream's ValueError).</summary>
    public static double Sqrt(double x) =>
        x < 0 ? throw new ArithmeticException("math domain error") : Math.Sqrt(x);

    /// <summary>
    /// Minimizes <paramref name="errorFunc"/> by adjusting each parameter named in
    /// <paramref name="adjParams"/> up or down by a step that grows on success and shrinks
    /// on failure (upstream coordinate_descent). Returns the adjusted copy of the parameters.
    /// </summary>
    public static Dictionary<string, double> CoordinateDescent(IReadOnlyList<string> adjParams,
        IReadOnlyDictionary<string, double> parameters, Func<Dictionary<string, double>, double> errorFunc,
        Action<string>? log = null)
    {
        var p = new Dictionary<string, double>(parameters);
        var dp = new double[adjParams.Count];
        Array.Fill(dp, 1.0);
        double bestErr = errorFunc(p);
        log?.Invoke($"Coordinate descent initial error: {PyFormatRepr(bestErr)}");
        const double threshold = 0.00001;
        int rounds = 0;
        while (SumFromZero(dp) > threshold && rounds < 10000)
        {
            rounds++;
            for (int k = 0; k < adjParams.Count; k++)
            {
                string name = adjParams[k];
                double orig = p[name];
                p[name] = orig + dp[k];
                double err = errorFunc(p);
                if (err < bestErr)
                {
                    bestErr = err;
                    dp[k] *= 1.1;
                    continue;
                }
                p[name] = orig - dp[k];
                err = errorFunc(p);
                if (err < bestErr)
                {
                    bestErr = err;
                    dp[k] *= 1.1;
                    continue;
                }
                p[name] = orig;
                dp[k] *= 0.9;
            }
        }
        log?.Invoke($"Coordinate descent best_err: {PyFormatRepr(bestErr)}  rounds: {rounds}");
        return p;
    }

    private static string PyFormatRepr(double v) => Klipsharp.Host.Configuration.PyFormat.Repr(v);

    private static double SumFromZero(double[] values)
    {
        double s = 0.0;
        foreach (double v in values)
            s += v;
        return s;
    }
    /// <summary>
    /// The lower intersection point of three spheres with centers
    /// <paramref name="sphereCoords"/> and squared radii <paramref name="radius2"/>.
    /// </summary>
    public static double[] Trilateration(IReadOnlyList<double[]> sphereCoords, IReadOnlyList<double> radius2)
    {
        double[] c1 = sphereCoords[0], c2 = sphereCoords[1], c3 = sphereCoords[2];
        double[] s21 = MatrixSub(c2, c1);
        double[] s31 = MatrixSub(c3, c1);

        double d = Sqrt(MatrixMagSq(s21));
        double[] ex = MatrixMul(s21, 1.0 / d);
        double i = MatrixDot(ex, s31);
        double[] vectEy = MatrixSub(s31, MatrixMul(ex, i));
        double[] ey = MatrixMul(vectEy, 1.0 / Sqrt(MatrixMagSq(vectEy)));
        double[] ez = MatrixCross(ex, ey);
        double j = MatrixDot(ey, s31);

        double x = (radius2[0] - radius2[1] + Math.Pow(d, 2)) / (2.0 * d);
        double y = (radius2[0] - radius2[2] - Math.Pow(x, 2) + Math.Pow(x - i, 2) + Math.Pow(j, 2)) / (2.0 * j);
        double z = -Sqrt(radius2[0] - Math.Pow(x, 2) - Math.Pow(y, 2));

        double[] exX = MatrixMul(ex, x);
        double[] eyY = MatrixMul(ey, y);
        double[] ezZ = MatrixMul(ez, z);
        return MatrixAdd(c1, MatrixAdd(exX, MatrixAdd(eyY, ezZ)));
    }

    public static double[] MatrixCross(double[] m1, double[] m2) =>
    [
        m1[1] * m2[2] - m1[2] * m2[1],
        m1[2] * m2[0] - m1[0] * m2[2],
        m1[0] * m2[1] - m1[1] * m2[0],
    ];

    public static double MatrixDot(IReadOnlyList<double> m1, IReadOnlyList<double> m2) =>
        m1[0] * m2[0] + m1[1] * m2[1] + m1[2] * m2[2];

    public static double MatrixMagSq(double[] m1) =>
        Math.Pow(m1[0], 2) + Math.Pow(m1[1], 2) + Math.Pow(m1[2], 2);

    public static double[] MatrixAdd(double[] m1, double[] m2) => [m1[0] + m2[0], m1[1] + m2[1], m1[2] + m2[2]];

    public static double[] MatrixSub(double[] m1, double[] m2) => [m1[0] - m2[0], m1[1] - m2[1], m1[2] - m2[2]];

    public static double[] MatrixMul(double[] m1, double s) => [m1[0] * s, m1[1] * s, m1[2] * s];

    // Python's sum() over products: starts at 0 and adds left to right.
    private static double SumProducts(double[] a, double[] b)
    {
        double s = 0.0;
        int n = Math.Min(a.Length, b.Length);
        for (int k = 0; k < n; k++)
            s += a[k] * b[k];
        return s;
    }

    /// <summary>Transpose of an NxM matrix (upstream mat_transp).</summary>
    public static double[][] MatTransp(double[][] a)
    {
        int cols = a[0].Length;
        var res = new double[cols][];
        for (int i = 0; i < cols; i++)
        {
            res[i] = new double[a.Length];
            for (int j = 0; j < a.Length; j++)
                res[i][j] = a[j][i];
        }
        return res;
    }

    /// <summary>Matrix product, or null when the dimensions do not match (upstream mat_mat_mul).</summary>
    public static double[][]? MatMatMul(double[][] a, double[][] b)
    {
        if (a[0].Length != b.Length)
            return null;
        double[][] bt = MatTransp(b);
        var res = new double[a.Length][];
        for (int i = 0; i < a.Length; i++)
        {
            res[i] = new double[bt.Length];
            for (int j = 0; j < bt.Length; j++)
                res[i][j] = SumProducts(a[i], bt[j]);
        }
        return res;
    }

    /// <summary>a * transpose(a), a symmetric matrix (upstream mat_mul_transp).</summary>
    public static double[][] MatMulTransp(double[][] a)
    {
        int n = a.Length;
        var res = new double[n][];
        for (int i = 0; i < n; i++)
        {
            res[i] = new double[n];
            for (int j = 0; j <= i; j++)
                res[i][j] = SumProducts(a[i], a[j]);
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                res[i][j] = res[j][i];
        return res;
    }

    /// <summary>
    /// Solves a * x = rhs by Gaussian elimination from the last column (upstream
    /// gaussian_solve); <paramref name="rhs"/> holds one row per equation, possibly empty.
    /// Returns null for a singular matrix unless <paramref name="allowUnderdetermined"/>.
    /// </summary>
    public static double[][]? GaussianSolve(double[][] a, double[][] rhs, bool allowUnderdetermined = false)
    {
        var res = (double[][])rhs.Clone();
        var m = (double[][])a.Clone();
        int rowsM = m.Length;
        for (int i = rowsM - 1; i >= 0; i--)
        {
            // Pivot: the first row (among 0..i) with the largest |m[row][i]|.
            int j = 0;
            double best = Math.Abs(m[0][i]);
            for (int r = 1; r <= i; r++)
            {
                double v = Math.Abs(m[r][i]);
                if (v > best)
                {
                    best = v;
                    j = r;
                }
            }
            if (i != j)
            {
                (m[i], m[j]) = (m[j], m[i]);
                (res[i], res[j]) = (res[j], res[i]);
            }
            double[] mi = m[i];
            double recipr;
            if (Math.Abs(mi[i]) < 1e-10)
            {
                if (!allowUnderdetermined)
                    return null;
                recipr = 0.0;
            }
            else
            {
                recipr = 1.0 / mi[i];
            }
            var newMi = new double[i];
            for (int k = 0; k < i; k++)
                newMi[k] = mi[k] * recipr;
            m[i] = mi = newMi;
            var resI = new double[res[i].Length];
            for (int k = 0; k < resI.Length; k++)
                resI[k] = res[i][k] * recipr;
            res[i] = resI;
            for (int r = 0; r < i; r++)
            {
                double[] mj = m[r];
                double c = mj[i];
                var newMj = new double[Math.Min(mj.Length, mi.Length)];
                for (int k = 0; k < newMj.Length; k++)
                    newMj[k] = mj[k] - c * mi[k];
                m[r] = newMj;
                double[] resJ = res[r];
                var newResJ = new double[Math.Min(resJ.Length, resI.Length)];
                for (int k = 0; k < newResJ.Length; k++)
                    newResJ[k] = resJ[k] - c * resI[k];
                res[r] = newResJ;
            }
        }
        // Forward substitution with the lower-triangular matrix, per rhs column.
        if (res.Length == 0 || res[0].Length == 0)
            return res;
        double[][] rest = MatTransp(res);
        foreach (double[] restK in rest)
        {
            for (int i = 1; i < rowsM; i++)
            {
                double s = 0.0;
                for (int k = 0; k < i; k++)
                    s += m[i][k] * restK[k];
                restK[i] -= s;
            }
        }
        return MatTransp(rest);
    }

    /// <summary>Moore-Penrose pseudo-inverse via the normal equations (upstream pseudo_inverse).</summary>
    public static double[][]? PseudoInverse(double[][] m)
    {
        double[][] mt = MatTransp(m);
        double[][] mtm = MatMulTransp(mt);
        return GaussianSolve(mtm, mt);
    }
}
