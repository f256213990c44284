namespace Klipsharp.Motion;

/// <summary>Trapezoidal velocity move queue (upstream chelper's trapq). Placeholder until the port lands.</summary>
public sealed partial class TrapQ
{
}
