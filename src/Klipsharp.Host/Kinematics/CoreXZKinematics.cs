using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>CoreXZ kinematics (upstream kinematics/corexz.py).</summary>
public sealed class CoreXZKinematics : CartesianFamilyKinematics
{
    public CoreXZKinematics(ToolHead toolhead, ConfigWrapper config) : base(config)
    {
        Rails = "xyz".Select(n => StepperRails.LookupMultiRail(config.GetSection("stepper_" + n))).ToList();
        foreach (var s in Rails[0].GetSteppers())
            Rails[2].GetEndstops()[0].Endstop.AddStepper(s);
        foreach (var s in Rails[2].GetSteppers())
            Rails[0].GetEndstops()[0].Endstop.AddStepper(s);
        Rails[0].SetupItersolve(() => new CoreXZStepperKinematics('+'));
        Rails[1].SetupItersolve(() => new CartesianStepperKinematics('y'));
        Rails[2].SetupItersolve(() => new CoreXZStepperKinematics('-'));
        SetToolheadTrapq(toolhead);
        SetupZLimits(toolhead, config);
        SetupRanges();
    }

    public override double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        var pos = Rails.Select(r => stepperPositions[r.GetName()]).ToArray();
        return [0.5 * (pos[0] + pos[2]), pos[1], 0.5 * (pos[0] - pos[2])];
    }
}
