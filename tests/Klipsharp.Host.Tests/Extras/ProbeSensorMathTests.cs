using System.Numerics;
using Klipsharp.Host;
using Klipsharp.Host.Configuration;
using Klipsharp.Host.Extras;
using Klipsharp.Host.GCode;
using Klipsharp.Host.Mcu;

namespace Klipsharp.Host.Tests.ExtraModules;

/// <summary>Calibration and filter math of probe_eddy_current, trigger_analog, load_cell and smart_effector.</summary>
public sealed class ProbeSensorMathTests
{
    private readonly Printer _printer = new(new Reactor(), new StartArgs { ConfigFile = "printer.cfg" });

    public ProbeSensorMathTests()
    {
        var gcode = new GCodeDispatch(_printer);
        _printer.AddObject("gcode", gcode);
    }

    private ConfigWrapper Section(string text, string section)
    {
        var file = ConfigFile.Build(text, "printer.cfg");
        return new ConfigWrapper(file, new ConfigAccessTracking(), section, _printer, null);
    }

    private EddyCalibration Calibration(string cal) =>
        new(Section($"[probe_eddy_current eddy]\ncalibrate: {cal}\n", "probe_eddy_current eddy"));

    private const string DummyCal = "0.050000:3300000.000,0.100000:3200000.000,0.150000:3000000.000,"
        + "0.200000:2900000.000,1.000000:2800000.000,5.000000:2700000.000";

    [Fact]
    public void EddyFrequencyToHeightInterpolatesLinearly()
    {
        var cal = Calibration(DummyCal);
        Assert.Equal(0.075, cal.FreqToHeight(3250000.0));
        Assert.Equal(0.125, cal.FreqToHeight(3100000.0));
        Assert.Equal(3.0, cal.FreqToHeight(2750000.0));
        // Exactly on a point: the segment above it
        Assert.Equal(0.1, cal.FreqToHeight(3200000.0));
    }

    [Fact]
    public void EddyFrequencyOutsideTheTableIsOutOfRange()
    {
        var cal = Calibration(DummyCal);
        Assert.Equal(-99.9, cal.FreqToHeight(3400000.0));
        Assert.Equal(99.9, cal.FreqToHeight(2600000.0));
    }

    [Fact]
    public void EddyHeightToFrequency()
    {
        var cal = Calibration(DummyCal);
        Assert.Equal(3250000.0, cal.HeightToFreq(0.075), 6);
        Assert.Equal(2750000.0, cal.HeightToFreq(3.0), 6);
        Assert.Equal("Invalid probe_eddy_current height", Assert.Throws<CommandError>(() => cal.HeightToFreq(6.0)).Message);
        Assert.Equal("Invalid probe_eddy_current height", Assert.Throws<CommandError>(() => cal.HeightToFreq(0.01)).Message);
    }

    [Fact]
    public void EddyTableIsSortedByFrequency()
    {
        var (freqs, zpos) = Calibration("1.0:2800000, 0.05:3300000, 0.1:3200000").GetCalibration();
        Assert.Equal(new[] { 2800000.0, 3200000.0, 3300000.0 }, freqs);
        Assert.Equal(new[] { 1.0, 0.1, 0.05 }, zpos);
    }

    [Fact]
    public void EddyNeedsMoreThanTwoPoints()
    {
        var cal = Calibration("0.05:3300000,0.1:3200000");
        Assert.Equal("Must calibrate probe_eddy_current first", Assert.Throws<CommandError>(cal.VerifyCalibrated).Message);
        Calibration(DummyCal).VerifyCalibrated();
    }

    [Fact]
    public void EddyCalibrationIsSavedThreePerLine()
    {
        var text = EddyCalibrationTool.FormatCalibration([(0.05, 3300000.0), (0.1, 3200000.1234), (0.15, 3000000.0), (0.2, 2900000.0)]);
        Assert.Equal("\n0.050000:3300000.000,0.100000:3200000.123,0.150000:3000000.000,\n0.200000:2900000.000", text);
    }

    [Fact]
    public void TapBestFitFindsTheContact()
    {
        // Pressed below z=0.1 (steep), free air above (flatter, curved)
        var data = new List<(double, double[])>();
        for (int i = 0; i <= 200; i++)
        {
            double z = -0.1 + i * 0.0025;
            double dz = z - 0.1;
            double freq = dz <= 0 ? 3000000.0 - 50000.0 * dz : 3000000.0 - 20000.0 * dz + 4000.0 * dz * dz;
            data.Add((freq, new[] { 0.0, 0.0, z }));
        }
        var fit = new TapBestFit().FindBestFit(data);
        // Upstream's TapBestFit on the same data (the contact search stops at 50um resolution)
        Assert.Equal(0.09999694824218752, fit.ZContact, 1e-12);
        Assert.Equal(3000000.1146440324, fit.FreqContact, 1e-6);
        Assert.Equal(-50000.28281570738, fit.DepressSlope, 1e-6);
        Assert.Equal(-20000.736205397894, fit.Slope, 1e-6);
        Assert.Equal(4001.9689745692303, fit.Slope2, 1e-6);
    }

    [Fact]
    public void SolveLinearEquationsFitsAQuadratic()
    {
        double[][] eqs = [[1, 0.0, 0.0], [1, 1.0, 1.0], [1, 2.0, 4.0], [1, 3.0, 9.0]];
        double[][] ans = [[1.0], [6.0], [17.0], [34.0]];
        var c = TapBestFit.SolveLinearEquations(eqs, ans)!;
        Assert.Equal(1.0, c[0][0], 9);
        Assert.Equal(2.0, c[1][0], 9);
        Assert.Equal(3.0, c[2][0], 9);
    }

    [Fact]
    public void FixedPointFractionBits()
    {
        Assert.Equal(0, FixedPoint.CalcFracBits([1.0]));
        Assert.Equal(0, FixedPoint.CalcFracBits([1.0, -1.0, 0.0]));
        Assert.Equal(24, FixedPoint.CalcFracBits([1000.0 * 12000000 * 2 / (1 << 28)]));
        Assert.Equal(1500000000, FixedPoint.ToFixed32(1000.0 * 12000000 * 2 / (1 << 28), 24));
        Assert.Equal(22, FixedPoint.CalcFracBits([32768.0 / 100]));
        Assert.Equal(1374389535, FixedPoint.ToFixed32(32768.0 / 100, 22));
        Assert.Equal("Fixed point Q1.30 overflow", Assert.Throws<OverflowException>(() => FixedPoint.ToFixed32(2.0, 30)).Message);
    }

    private static List<long[]> Fixed(DigitalFilter df)
    {
        var coeffs = df.GetFilterSections().SelectMany(s => s).ToList();
        int fracBits = FixedPoint.CalcFracBits(coeffs);
        return df.GetFilterSections().Select(s => s.Where((_, i) => i != 3).Select(v => FixedPoint.ToFixed32(v, fracBits)).ToArray()).ToList();
    }

    [Fact]
    public void LoadCellContinuousTareFilterMatchesSciPy()
    {
        // drift 0.8Hz, buzz 100Hz, notches 50 and 60Hz at 660 samples/s (the upstream regression config)
        var df = new DigitalFilter(660, msg => new ConfigError(msg));
        df.AddHighpass(0.8, 2);
        df.AddLowpass(100.0, 2);
        df.AddNotch(50, 2.0);
        df.AddNotch(60, 2.0);
        var sections = Fixed(df);
        Assert.Equal(new long[] { 1067974931, -2135949861, 1067974931, -2135918888, 1062239011 }, sections[0]);
        Assert.Equal(new long[] { 143056059, 286112118, 143056059, -790399054, 288881466 }, sections[1]);
        Assert.Equal(new long[] { 959070864, -1704912363, 959070864, -1704912363, 844399904 }, sections[2]);
        Assert.Equal(new long[] { 938767443, -1579482855, 938767443, -1579482855, 803793061 }, sections[3]);
    }

    [Fact]
    public void EddyTapFilterUsesThePregeneratedLowpass()
    {
        var df = new DigitalFilter(400, msg => new ConfigError(msg));
        df.AddLowpass(25.0, 4);
        df.AddDerivative();
        var sections = Fixed(df);
        Assert.Equal(new long[] { 501168, 1002337, 501168, -732891736, 256405387 }, sections[0]);
        Assert.Equal(new long[] { 536870912, 1073741824, 536870912, -865289396, 399711581 }, sections[1]);
        Assert.Equal(new long[] { 536870912, -536870912, 0, 0, 0 }, sections[2]);
    }

    [Fact]
    public void ButterworthDesignReproducesTheFourthOrderTable()
    {
        // The table upstream pre-generated with SciPy for 25Hz at 400 samples/s
        double[][] expected =
        [
            [0.0009334986129548442, 0.0018669972259096883, 0.0009334986129548442, 1.0, -1.3651172372392975, 0.4775922500725171],
            [1.0, 2.0, 1.0, 1.0, -1.6117270964574348, 0.7445208382054344],
        ];
        var sos = SosDesign.Butter(4, 25.0, "lowpass", 400.0);
        Assert.Equal(2, sos.Count);
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < 6; i++)
                Assert.Equal(expected[s][i], sos[s][i], 12);
    }

    [Fact]
    public void ButterworthFirstOrderHighpass()
    {
        var sos = SosDesign.Butter(1, 1.0, "highpass", 100.0);
        var s = Assert.Single(sos);
        // One real pole at (1-tan(pi/100))/(1+tan(pi/100)), zero at 1
        double t = Math.Tan(Math.PI / 100);
        double k = 1 / (1 + t);
        Assert.Equal(k, s[0], 12);
        Assert.Equal(-k, s[1], 12);
        Assert.Equal(0.0, s[2], 12);
        Assert.Equal(1.0, s[3]);
        Assert.Equal(-(1 - t) / (1 + t), s[4], 12);
        Assert.Equal(0.0, s[5], 12);
    }

    [Fact]
    public void Zpk2SosPutsTheGainInTheFirstSection()
    {
        var sos = SosDesign.Zpk2Sos([new Complex(-1, 0), new Complex(-1, 0)], [new Complex(0.5, 0.5), new Complex(0.5, -0.5)], 2.0);
        var s = Assert.Single(sos);
        Assert.Equal(new[] { 2.0, 4.0, 2.0, 1.0, -1.0, 0.5 }, s);
    }

    [Fact]
    public void NotchOutOfRangeIsAConfigError()
    {
        var df = new DigitalFilter(100, msg => new ConfigError(msg));
        Assert.Equal("w0 should be such that 0 < w0 < fs/2", Assert.Throws<ConfigError>(() => df.AddNotch(60, 2.0)).Message);
    }

    [Fact]
    public void SmartEffectorSensitivityBits()
    {
        // 105 (program sensitivity) = 0x69: [0 0 1 0 b7 b6 b5 b4 !b4 b3 b2 b1 b0 !b0]
        var bits = ControlPinHelper.EncodeBits([105, 99, 255 - 99]).Select(b => b != 0 ? 1 : 0).ToList();
        Assert.Equal(42, bits.Count);
        Assert.Equal(new[] { 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0 }, bits.Take(14));
        // 99 = 0x63
        Assert.Equal(new[] { 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0 }, bits.Skip(14).Take(14));
        // 156 = 0x9c
        Assert.Equal(new[] { 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1 }, bits.Skip(28));
    }

    [Fact]
    public void LoadCellCalibrationMath()
    {
        // Python int() truncates the count difference toward zero
        Assert.Equal(100.0, LoadCellGuidedCalibrationHelper.CountsPerGram(1000, 100, 11000.7));
        Assert.Equal(83.876, LoadCellGuidedCalibrationHelper.CapacityKg(1000, 100, 0x7FFFFF));
    }

    private sealed class FakeAdc : IBulkSensorAdc
    {
        public Mcu.Mcu GetMcu() => throw new NotSupportedException();
        public double GetSamplesPerSecond() => 80;
        public void SetupTriggerAnalog(int triggerAnalogOid) { }
        public string LookupSensorError(long errorCode) => "";
        public Dictionary<string, object?> GetStatus(double eventtime) => new() { ["errors"] = 0L, ["overflows"] = 0L, ["sample_rate"] = 80 };
        public (long Min, long Max) GetRange() => (-0x800000, 0x7FFFFF);
        public void AddClient(Func<BulkBatch, bool> callback) { }
    }

    private LoadCell MakeLoadCell(string options, string name = "lc") =>
        new(Section($"[load_cell {name}]\n{options}\n", $"load_cell {name}"), new FakeAdc());

    [Fact]
    public void LoadCellCountsToGrams()
    {
        var lc = MakeLoadCell("counts_per_gram: 100\nreference_tare_counts: 1000");
        Assert.True(lc.IsCalibrated());
        Assert.True(lc.IsTared());
        Assert.Equal(1.5, lc.CountsToGrams(1150));
        Assert.Equal(-2.0, lc.CountsToGrams(800));
        lc.Tare(2000.9);
        Assert.Equal(2000.0, lc.GetTareCounts());
        Assert.Equal(1.0, lc.CountsToGrams(2100));
        Assert.Equal(100.0 * 0x7FFFFF / 0x7FFFFF, lc.CountsToPercent(0x7FFFFF));
        Assert.Equal(50.0, lc.CountsToPercent(0x7FFFFF / 2.0), 9);
    }

    [Fact]
    public void LoadCellInvertedAndUncalibrated()
    {
        var inverted = MakeLoadCell("counts_per_gram: 100\nreference_tare_counts: 1000\nsensor_orientation: inverted", "inv");
        Assert.Equal(-1.5, inverted.CountsToGrams(1150));
        var uncalibrated = MakeLoadCell("", "raw");
        Assert.False(uncalibrated.IsCalibrated());
        Assert.Null(uncalibrated.CountsToGrams(1150));
        var status = uncalibrated.GetStatus(0);
        Assert.Equal(false, status["is_calibrated"]);
        Assert.Null(status["counts_per_gram"]);
        Assert.Equal(80, status["sample_rate"]);
    }

    [Fact]
    public void LoadCellCountsPerGramMinimum()
    {
        var e = Assert.Throws<ConfigError>(() => MakeLoadCell("counts_per_gram: 0.5"));
        Assert.Equal("Option 'counts_per_gram' in section 'load_cell lc' must have minimum of 1.0", e.Message);
    }
}
