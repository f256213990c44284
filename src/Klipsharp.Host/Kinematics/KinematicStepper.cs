using Klipsharp.Host.Configuration;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>A carriage of generic cartesian kinematics: a named motion along one axis that steppers reference.</summary>
public interface ICarriage
{
    string GetName();

    /// <summary>0, 1 or 2 for x, y or z.</summary>
    int GetAxis();

    GenericPrinterRail GetRail();

    void AddStepper(KinematicStepper kinStepper);
}

/// <summary>
/// A stepper of generic cartesian kinematics (upstream kinematics/kinematic_stepper.py):
/// its position is a linear combination of carriage positions given by its
/// <c>carriages</c> option, e.g. "carriage_x+carriage_y" for a corexy A motor.
/// </summary>
public sealed class KinematicStepper
{
    private readonly Printer _printer;
    private readonly McuStepper _stepper;
    private readonly GenericCartesianStepperKinematics _stepperSk;
    private double[] _kinCoeffs;
    private List<ICarriage> _carriages;

    public KinematicStepper(ConfigWrapper config, IReadOnlyDictionary<string, ICarriage> printerCarriages)
    {
        _printer = config.GetPrinter();
        _stepper = McuStepper.PrinterStepper(config);
        (_kinCoeffs, _carriages) = ParseCarriagesString(config.Get("carriages"), printerCarriages, config.Error);
        if (!_kinCoeffs.Any(c => c != 0))
            throw config.Error($"'{_stepper.GetName()}' must provide a valid 'carriages' configuration");
        _stepperSk = new GenericCartesianStepperKinematics(_kinCoeffs[0], _kinCoeffs[1], _kinCoeffs[2]);
        _stepper.SetupItersolve(_stepperSk);
        foreach (var sc in _carriages)
            sc.AddStepper(this);
    }

    /// <summary>
    /// Parses a sum of optionally scaled carriage names ("carriage_x-2*carriage_y") into
    /// per-axis coefficients and the carriages referenced (upstream parse_carriages_string).
    /// </summary>
    public static (double[] Coeffs, List<ICarriage> Carriages) ParseCarriagesString(
        string carriagesStr, IReadOnlyDictionary<string, ICarriage> printerCarriages, Func<string, Exception> parseError)
    {
        int nxt = 0;
        var coeffs = new double[3];
        var refCarriages = new List<ICarriage>();
        while (nxt < carriagesStr.Length)
        {
            // Each term runs up to the next sign (a sign at the start belongs to the term).
            int end = carriagesStr.Length;
            for (int k = nxt + 1; k < carriagesStr.Length; k++)
            {
                if (carriagesStr[k] is '+' or '-')
                {
                    end = k;
                    break;
                }
            }
            string term = PyFormat.Strip(carriagesStr[nxt..end]);
            string[] termLst = term.Split('*');
            if (termLst.Length is not (1 or 2))
                throw parseError($"Invalid term '{term}' in '{carriagesStr}'");
            double coeff;
            if (termLst.Length == 2)
            {
                if (!PyFormat.TryParseFloat(termLst[0], out coeff))
                    throw parseError($"Invalid float '{termLst[0]}'");
            }
            else
            {
                coeff = termLst[0].StartsWith('-') ? -1.0 : 1.0;
                if (termLst[0].StartsWith('-') || termLst[0].StartsWith('+'))
                    termLst[0] = termLst[0][1..];
            }
            string c = termLst[^1];
            if (!printerCarriages.TryGetValue(c, out var carriage))
                throw parseError($"Invalid '{c}' carriage referenced in '{carriagesStr}'");
            int j = carriage.GetAxis();
            if (coeffs[j] != 0)
                throw parseError($"Axis '{"xyz"[j]}' was referenced multiple times by carriages in '{carriagesStr}'");
            coeffs[j] = coeff;
            refCarriages.Add(carriage);
            nxt = end;
        }
        return (coeffs, refCarriages);
    }

    public string GetName(bool shortName = false)
    {
        string name = _stepper.GetName(shortName);
        if (shortName && name.StartsWith("stepper ", StringComparison.Ordinal))
            return name[8..];
        return name;
    }

    public McuStepper GetStepper() => _stepper;

    public double[] GetKinCoeffs() => (double[])_kinCoeffs.Clone();

    /// <summary>Indices of the axes this stepper moves with.</summary>
    public List<int> GetActiveAxes()
    {
        var res = new List<int>();
        for (int i = 0; i < _kinCoeffs.Length; i++)
            if (_kinCoeffs[i] != 0)
                res.Add(i);
        return res;
    }

    public List<ICarriage> GetCarriages() => _carriages;

    public void UpdateKinCoeffs(double[] kinCoeffs)
    {
        _kinCoeffs = kinCoeffs;
        _stepperSk.SetCoeffs(kinCoeffs[0], kinCoeffs[1], kinCoeffs[2]);
    }

    /// <summary>Re-reads the carriages from <paramref name="carriagesStr"/> (SET_STEPPER_CARRIAGES).</summary>
    public void UpdateCarriages(string carriagesStr, IReadOnlyDictionary<string, ICarriage> printerCarriages,
        Func<string, Exception>? reportError)
    {
        var (kinCoeffs, carriages) = ParseCarriagesString(carriagesStr, printerCarriages,
            reportError ?? (msg => new CommandError(msg)));
        if (reportError is not null && !kinCoeffs.Any(c => c != 0))
            throw reportError($"A valid string that references at least one carriage must be provided for '{GetName()}'");
        _carriages = carriages;
        UpdateKinCoeffs(kinCoeffs);
    }

    public void SetPosition(double[] coord) => _stepper.SetPosition(coord);
}
