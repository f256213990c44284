using BenchmarkDotNet.Attributes;

namespace Klipsharp.Bench;

/// <summary>
/// The latency floor of the iterative solver: one secant iteration's arithmetic (the
/// same operations in the same order as itersolve's, which exact output requires) as a
/// chain where each iteration needs the previous one's result, as in the solver. Time
/// per operation times the solver iterations that <c>KLIPSHARP_STATS=1</c> reports for
/// a run is the least time any exact solver spends on that run on one core.
/// </summary>
public class SolverFloorBenchmarks
{
    private const int Iterations = 1_000_000;

    // Fields, so that the compiler cannot fold the chain into constants. The values
    // give the chain a fixed point away from zero, subnormals and NaN.
    private double _oldGuessTime = 0.001, _guessTime = 0.002, _oldGuessDist = -0.5, _target = 1.0;
    private double _startV = 20.0, _halfAccel = 1500.0, _axisRatio = 0.7, _startPos = 0.6;

    /// <summary>One dependent secant iteration: next time from the last guess, then the cartesian position there.</summary>
    [Benchmark(OperationsPerInvoke = Iterations)]
    public double SecantIterationChain()
    {
        double ogT = _oldGuessTime, gT = _guessTime, ogD = _oldGuessDist, target = _target;
        double sv = _startV, ha = _halfAccel, r = _axisRatio, sp = _startPos;
        double guessPos = target + 0.1;
        for (int i = 0; i < Iterations; i++)
        {
            double guessDist = guessPos - target;
            double nextTime = (ogT * guessDist - gT * ogD) / (guessDist - ogD);
            guessPos = sp + r * ((sv + ha * nextTime) * nextTime);
        }
        return guessPos;
    }

    /// <summary>
    /// Two independent chains (two steppers' searches) in one loop, per iteration of
    /// either: what a thread could reach by interleaving two steppers, since one chain
    /// leaves most of the core idle while it waits on the division.
    /// </summary>
    [Benchmark(OperationsPerInvoke = 2 * Iterations)]
    public double TwoInterleavedSecantChains()
    {
        double ogT = _oldGuessTime, gT = _guessTime, ogD = _oldGuessDist, target = _target;
        double sv = _startV, ha = _halfAccel, r = _axisRatio, sp = _startPos;
        double guessPosA = target + 0.1, guessPosB = target + 0.2;
        for (int i = 0; i < Iterations; i++)
        {
            double guessDistA = guessPosA - target, guessDistB = guessPosB - target;
            double nextTimeA = (ogT * guessDistA - gT * ogD) / (guessDistA - ogD);
            double nextTimeB = (ogT * guessDistB - gT * ogD) / (guessDistB - ogD);
            guessPosA = sp + r * ((sv + ha * nextTimeA) * nextTimeA);
            guessPosB = sp + r * ((sv + ha * nextTimeB) * nextTimeB);
        }
        return guessPosA + guessPosB;
    }
}
