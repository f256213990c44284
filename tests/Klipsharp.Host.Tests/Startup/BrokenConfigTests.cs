using Klipsharp.Host.Tests.Conformance;

namespace Klipsharp.Host.Tests.Startup;

/// <summary>
/// Broken printer.cfg files end a batch run with a non-zero exit and upstream's error
/// message, word for word. Each case edits the example cartesian config.
/// </summary>
[Collection("batch stderr")]
public sealed class BrokenConfigTests : BatchConsoleTest
{
    private static string ExampleConfig =>
        File.ReadAllText(Path.Combine(RepoPaths.Golden, "config", "example-cartesian.cfg"));

    private (int Exit, string Stderr) RunBatch(string configText)
    {
        string cfg = Path.Combine(Dir, "printer.cfg");
        File.WriteAllText(cfg, configText);
        return RunBatchOn(cfg);
    }

    private static string ReplaceInSection(string text, string section, string option, string? newLine)
    {
        var lines = text.Split('\n').ToList();
        int start = lines.FindIndex(l => l.Trim() == $"[{section}]");
        Assert.True(start >= 0, $"section {section} not in example");
        int idx = lines.FindIndex(start + 1, l => l.StartsWith(option + ":", StringComparison.Ordinal));
        Assert.True(idx >= 0, $"option {option} not in [{section}]");
        if (newLine is null)
            lines.RemoveAt(idx);
        else
            lines[idx] = newLine;
        return string.Join('\n', lines);
    }

    private void AssertFails(string configText, string expectedMessage)
    {
        var (exit, stderr) = RunBatch(configText);
        Assert.NotEqual(0, exit);
        Assert.Equal(expectedMessage, stderr);
    }

    [Fact]
    public void ExampleConfigRuns()
    {
        var (exit, stderr) = RunBatch(ExampleConfig);
        Assert.True(exit == 0, stderr);
    }

    [Fact]
    public void UnknownOption() =>
        AssertFails(ExampleConfig.Replace("[stepper_x]\n", "[stepper_x]\nfoo: 1\n"),
            "Option 'foo' is not valid in section 'stepper_x'");

    [Fact]
    public void MissingOption() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_x", "rotation_distance", null),
            "Option 'rotation_distance' in section 'stepper_x' must be specified");

    [Fact]
    public void UnparsableNumber() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_x", "microsteps", "microsteps: sixteen"),
            "Unable to parse option 'microsteps' in section 'stepper_x'");

    [Fact]
    public void ValueBelowMinimum() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_x", "microsteps", "microsteps: 0"),
            "Option 'microsteps' in section 'stepper_x' must have minimum of 1");

    [Fact]
    public void ValueNotAbove() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_x", "rotation_distance", "rotation_distance: 0"),
            "Option 'rotation_distance' in section 'stepper_x' must be above 0.0");

    [Fact]
    public void UnknownSection() =>
        AssertFails(ExampleConfig + "\n[no_such_module]\nvalue: 1\n",
            "Section 'no_such_module' is not a valid config section");

    [Fact]
    public void UnknownPin() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_x", "step_pin", "step_pin: PZ99"),
            "Pin 'PZ99' is not a valid pin name on mcu 'mcu'");

    [Fact]
    public void PinUsedTwice() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_y", "step_pin", "step_pin: PF0"),
            "pin PF0 used multiple times in config");

    [Fact]
    public void UnknownKinematics() =>
        AssertFails(ReplaceInSection(ExampleConfig, "printer", "kinematics", "kinematics: flying_carpet"),
            "Error loading kinematics 'flying_carpet'");

    [Fact]
    public void MissingInclude()
    {
        string missing = Path.Combine(Dir, "nothere.cfg");
        AssertFails("[include nothere.cfg]\n" + ExampleConfig, $"Include file '{missing}' does not exist");
    }

    [Fact]
    public void EndstopOutsideAxisRange() =>
        AssertFails(ReplaceInSection(ExampleConfig, "stepper_x", "position_endstop", "position_endstop: 300"),
            "position_endstop in section 'stepper_x' must be between position_min and position_max");

    [Fact]
    public void MissingConfigFile()
    {
        string absent = Path.Combine(Dir, "absent.cfg");
        File.Delete(absent);
        var (exit, stderr) = RunBatchOn(absent);
        Assert.NotEqual(0, exit);
        Assert.Equal($"Unable to open config file {absent}", stderr);
    }

    private (int Exit, string Stderr) RunBatchOn(string cfg) => RunBatch(cfg, "G28\n"u8.ToArray());
}
