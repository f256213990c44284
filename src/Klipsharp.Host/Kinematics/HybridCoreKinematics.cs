using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Motion;

namespace Klipsharp.Host.Kinematics;

/// <summary>
/// Hybrid CoreXY ("Markforged") and hybrid CoreXZ kinematics, optionally with a dual
/// carriage (upstream kinematics/hybrid_corexy.py and hybrid_corexz.py). The two differ
/// only in which axis (Y or Z) the X carriage is coupled to.
/// </summary>
public sealed class HybridCoreKinematics : CartesianFamilyKinematics
{
    private readonly int _coupledAxis;

    /// <param name="coupledAxis">1 for hybrid_corexy, 2 for hybrid_corexz.</param>
    public HybridCoreKinematics(ToolHead toolhead, ConfigWrapper config, int coupledAxis) : base(config)
    {
        _coupledAxis = coupledAxis;
        StepperKinematics XCarriage(char type) =>
            coupledAxis == 1 ? new CoreXYStepperKinematics(type) : new CoreXZStepperKinematics(type);
        Rails =
        [
            StepperRails.LookupRail(config.GetSection("stepper_x")),
            StepperRails.LookupMultiRail(config.GetSection("stepper_y")),
            StepperRails.LookupMultiRail(config.GetSection("stepper_z")),
        ];
        Rails[coupledAxis].GetEndstops()[0].Endstop.AddStepper(Rails[0].GetSteppers()[0]);
        Rails[0].SetupItersolve(() => XCarriage('-'));
        Rails[1].SetupItersolve(() => new CartesianStepperKinematics('y'));
        Rails[2].SetupItersolve(() => new CartesianStepperKinematics('z'));
        SetupRanges();
        if (config.HasSection("dual_carriage"))
        {
            var dcConfig = config.GetSection("dual_carriage");
            // Accepted for cartesian config compatibility
            dcConfig.GetChoice("axis", ["x"], "x");
            Rails.Add(StepperRails.LookupRail(dcConfig));
            Rails[coupledAxis].GetEndstops()[0].Endstop.AddStepper(Rails[3].GetSteppers()[0]);
            Rails[3].SetupItersolve(() => XCarriage('+'));
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
            return [pos[3] - pos[_coupledAxis], pos[1], pos[2]];
        return [pos[0] + pos[_coupledAxis], pos[1], pos[2]];
    }
}
