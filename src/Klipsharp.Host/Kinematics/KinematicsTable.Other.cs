using Klipsharp.Host.Configuration;

namespace Klipsharp.Host.Kinematics;

/// <summary>The `kinematics:` choices beyond the cartesian family.</summary>
public static partial class KinematicsTable
{
    /// <summary>Name and constructor of each kinematics implemented in this folder besides cartesian/corexy/corexz/hybrid/none.</summary>
    public static readonly (string Name, Func<ToolHead, ConfigWrapper, IKinematics> Create)[] Other =
    [
        ("delta", (th, c) => new DeltaKinematics(th, c)),
        ("deltesian", (th, c) => new DeltesianKinematics(th, c)),
        ("rotary_delta", (th, c) => new RotaryDeltaKinematics(th, c)),
        ("polar", (th, c) => new PolarKinematics(th, c)),
        ("winch", (th, c) => new WinchKinematics(th, c)),
        ("generic_cartesian", (th, c) => new GenericCartesianKinematics(th, c)),
    ];
}

public static partial class KinematicsFactory
{
    static partial void RegisterOtherKinematics(Dictionary<string, Func<ToolHead, ConfigWrapper, IKinematics>> table)
    {
        foreach (var (name, create) in KinematicsTable.Other)
            table[name] = create;
    }
}
