using System.Collections;

namespace Klipsharp.Host;

/// <summary>
/// A position tuple with at least x, y, z and e (upstream gcode.Coord); used in status
/// objects, where it reports as a list.
/// </summary>
public sealed class Coord : IReadOnlyList<double>
{
    private readonly double[] _values;

    public Coord(IEnumerable<double> values)
    {
        var list = values.ToList();
        while (list.Count < 4)
            list.Add(0.0);
        _values = list.ToArray();
    }

    public double X => _values[0];
    public double Y => _values[1];
    public double Z => _values[2];
    public double E => _values[3];

    public double this[int index] => _values[index];

    public int Count => _values.Length;

    public IEnumerator<double> GetEnumerator() => ((IEnumerable<double>)_values).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _values.GetEnumerator();

    public double[] ToArray() => (double[])_values.Clone();
}
