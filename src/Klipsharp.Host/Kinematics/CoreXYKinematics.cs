using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>CoreXY kinematics (upstream kinematics/corexy.py).</summary>
public sealed class CoreXYKinematics : CartesianFamilyKinematics
{
    public CoreXYKinematics(ToolHead toolhead, ConfigWrapper config) : base(config)
    {
        Rails = "xyz".Select(n => StepperRails.LookupMultiRail(config.GetSection("stepper_" + n))).ToList();
        foreach (var s in Rails[1].GetSteppers())
            Rails[0].GetEndstops()[0].Endstop.AddStepper(s);
        foreach (var s in Rails[0].GetSteppers())
            Rails[1].GetEndstops()[0].Endstop.AddStepper(s);
        Rails[0].SetupItersolve(() => new CoreXYStepperKinematics('+'));
        Rails[1].SetupItersolve(() => new CoreXYStepperKinematics('-'));
        Rails[2].SetupItersolve(() => new CartesianStepperKinematics('z'));
        SetToolheadTrapq(toolhead);
        SetupZLimits(toolhead, config);
        SetupRanges();
    }

    public override double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        var pos = Rails.Select(r => stepperPositions[r.GetName()]).ToArray();
        return [0.5 * (pos[0] + pos[1]), 0.5 * (pos[0] - pos[1]), pos[2]];
    }
}
