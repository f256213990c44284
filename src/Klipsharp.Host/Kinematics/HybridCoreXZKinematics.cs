using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>Hybrid CoreXZ kinematics, optionally with a dual carriage (upstream kinematics/hybrid_corexz.py).</summary>
public sealed class HybridCoreXZKinematics : CartesianFamilyKinematics
{
    public HybridCoreXZKinematics(ToolHead toolhead, ConfigWrapper config) : base(config)
    {
        Rails =
        [
            StepperRails.LookupRail(config.GetSection("stepper_x")),
            StepperRails.LookupMultiRail(config.GetSection("stepper_y")),
            StepperRails.LookupMultiRail(config.GetSection("stepper_z")),
        ];
        Rails[2].GetEndstops()[0].Endstop.AddStepper(Rails[0].GetSteppers()[0]);
        Rails[0].SetupItersolve(() => new CoreXZStepperKinematics('-'));
        Rails[1].SetupItersolve(() => new CartesianStepperKinematics('y'));
        Rails[2].SetupItersolve(() => new CartesianStepperKinematics('z'));
        SetupRanges();
        if (config.HasSection("dual_carriage"))
        {
            var dcConfig = config.GetSection("dual_carriage");
            // Accepted for cartesian config compatibility
            dcConfig.GetChoice("axis", ["x"], "x");
            Rails.Add(StepperRails.LookupRail(dcConfig));
            Rails[2].GetEndstops()[0].Endstop.AddStepper(Rails[3].GetSteppers()[0]);
            Rails[3].SetupItersolve(() => new CoreXZStepperKinematics('+'));
            DcModule = new DualCarriages(Printer, [Rails[0]], [Rails[3]], [0],
                [dcConfig.GetFloatOrNull("safe_distance", minval: 0.0)]);
        }
        SetToolheadTrapq(toolhead);
        SetupZLimits(toolhead, config);
    }

    protected override int DualCarriageAxis => 0;

    public override double[] CalcPosition(IReadOnlyDictionary<string, double> stepperPositions)
    {
        var pos = Rails.Select(r => stepperPositions[r.GetName()]).ToArray();
        if (DcModule is not null && (string?)DcModule.GetStatus()["carriage_1"] == DualCarriages.Primary)
            return [pos[3] - pos[2], pos[1], pos[2]];
        return [pos[0] + pos[2], pos[1], pos[2]];
    }
}
