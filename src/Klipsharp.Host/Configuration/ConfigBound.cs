namespace Klipsharp.Host.Configuration;

/// <summary>
/// A numeric bound for GetFloat (minval/maxval/above/below) that remembers whether it was
/// written as an integer, so error texts print "0" or "0.0" exactly as upstream's literal.
/// Converts implicitly from int and double (and their nullable forms).
/// </summary>
public readonly struct ConfigBound
{
    private readonly long _int;
    private readonly bool _isInt;

    /// <summary>The bound as a double (for comparisons).</summary>
    public double Value { get; }

    private ConfigBound(double value, long i, bool isInt)
    {
        Value = value;
        _int = i;
        _isInt = isInt;
    }

    /// <summary>An integer bound (printed without a decimal point).</summary>
    public static implicit operator ConfigBound(int v) => new(v, v, true);

    /// <summary>A float bound (printed like Python's str(float)).</summary>
    public static implicit operator ConfigBound(double v) => new(v, 0, false);

    /// <summary>The bound as Python's %s would print it.</summary>
    public override string ToString() =>
        _isInt ? _int.ToString(System.Globalization.CultureInfo.InvariantCulture) : PyFormat.Repr(Value);
}
