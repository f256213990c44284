using Klipsharp.Host.Extras;

namespace Klipsharp.Host.Tests.ExtraModules;

public class TmcFieldTests
{
    private static TmcFieldHelper Fields2130() => new(TmcRegisterData.TMC2130Fields, TmcRegisterData.TMC2130SignedFields,
        TmcFormatters.For(TmcRegisterData.TMC2130Formatters));

    [Fact]
    public void SetAndGetFields()
    {
        var f = Fields2130();
        Assert.Equal(0x4L << 24, f.SetField("mres", 4));
        Assert.Equal(4, f.GetField("mres"));
        long chop = f.SetField("toff", 3);
        Assert.Equal((0x4L << 24) | 3, chop);
        Assert.Equal(["CHOPCONF"], f.Registers.Keys.ToArray());
    }

    [Fact]
    public void SignedFieldsSignExtend()
    {
        var f = Fields2130();
        f.SetField("sgt", -5);
        Assert.Equal(-5, f.GetField("sgt"));
        f.SetField("sgt", 63);
        Assert.Equal(63, f.GetField("sgt"));
    }

    [Fact]
    public void PrettyFormatMatchesUpstream()
    {
        var f = Fields2130();
        long val = f.SetField("mres", 4);
        val = f.SetField("toff", 3);
        Assert.Equal("CHOPCONF:   04000003 toff=3 mres=4(16usteps)", f.PrettyFormat("CHOPCONF", val));
        Assert.Equal("IOIN:       11000000 version=0x11", f.PrettyFormat("IOIN", 0x11000000));
    }

    [Fact]
    public void UartCrc8() => Assert.Equal(0x48, Klipsharp.Protocol.TmcUartFrame.Crc8([0x05, 0x00, 0x00]));
}
