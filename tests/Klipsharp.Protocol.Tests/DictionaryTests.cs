using System.Text;

namespace Klipsharp.Protocol.Tests;

public class DictionaryTests
{
    private static DataDictionary Mega => DataDictionary.Load(Corpus.Dict("atmega2560.dict"));

    [Fact]
    public void LoadsMessagesConstantsAndVersions()
    {
        var d = Mega;
        Assert.Equal("v0.13.0-730-g84104bbbd", d.Version);
        Assert.Equal("gcc: (GCC) 5.4.0 binutils: (GNU Binutils) 2.26.20160125", d.BuildVersions);
        Assert.Equal("Klipper", d.App);
        Assert.Equal(112, d.Commands.Count);
        Assert.Equal(25, d.Responses.Count);
        Assert.Empty(d.Outputs);
        Assert.Equal(new MessageInfo(0, "response", "identify_response offset=%u data=%.*s"), d.Messages[0]);
        Assert.Equal(new MessageInfo(1, "response", "identify offset=%u count=%c"), d.Messages[1]);
        Assert.Contains(new MessageInfo(8, "command", "allocate_oids count=%c"), d.Messages);
        var qs = d.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi");
        Assert.Equal("queue_step", qs.Name);
        Assert.Equal(d.Commands["queue_step oid=%c interval=%u count=%hu add=%hi"], qs.Id);
        Assert.Equal(["oid", "interval", "count", "add"], qs.Params.Select(p => p.Name));
        Assert.Equal([ParamType.Byte, ParamType.UInt32, ParamType.UInt16, ParamType.Int16], qs.Params.Select(p => p.Type));
        Assert.Equal(qs.Id, d.LookupMsgId("queue_step oid=%c interval=%u count=%hu add=%hi"));
        Assert.Same(qs, d.MessagesById[qs.Id]);
        Assert.StartsWith("{\"app\":\"Klipper\"", d.RawJson);
        Assert.Equal(File.ReadAllBytes(Corpus.Dict("atmega2560.dict")), d.RawData);
    }

    [Fact]
    public void Constants()
    {
        var d = Mega;
        Assert.Equal("16000000", d.GetConstant("CLOCK_FREQ"));
        Assert.Equal(16000000.0, d.GetConstantFloat("CLOCK_FREQ"));
        Assert.Equal(16000000L, d.GetConstantInt("CLOCK_FREQ"));
        Assert.Equal("atmega2560", d.GetConstant("MCU"));
        Assert.Equal("PB3,PB2,PB1", d.GetConstant("BUS_PINS_spi"));
        Assert.Null(d.GetConstantFloat("CANBUS_FREQUENCY", null));
        Assert.Equal(192L, d.GetConstantInt("RECEIVE_WINDOW", null));
        Assert.Equal("x", d.GetConstant("NOPE", "x"));
        Assert.Equal("Firmware constant 'NOPE' not found", Assert.Throws<ProtocolError>(() => d.GetConstant("NOPE")).Message);
        Assert.Equal("Firmware constant 'NOPE' not found", Assert.Throws<ProtocolError>(() => d.GetConstantInt("NOPE")).Message);
        Assert.Equal("Unable to parse firmware constant MCU: atmega2560", Assert.Throws<ProtocolError>(() => d.GetConstantFloat("MCU")).Message);
        Assert.Equal("Unable to parse firmware constant BUS_PINS_spi: PB3,PB2,PB1", Assert.Throws<ProtocolError>(() => d.GetConstantInt("BUS_PINS_spi")).Message);
        d.WarnPrefix = "mcu 'mcu': ";
        Assert.Equal("mcu 'mcu': Firmware constant 'NOPE' not found", Assert.Throws<ProtocolError>(() => d.GetConstantFloat("NOPE")).Message);
    }

    [Fact]
    public void FloatAndStringConstantsFollowPython()
    {
        var d = DataDictionary.FromJson("""{"commands":{},"responses":{},"config":{"A":1.0,"B":"2.5","C":1e-05,"D":"12","E":true}}""");
        Assert.Equal("1.0", d.GetConstant("A"));
        Assert.Equal("1e-05", d.GetConstant("C"));
        Assert.Equal(2.5, d.GetConstantFloat("B"));
        Assert.Equal(1L, d.GetConstantInt("A"));
        Assert.Equal(12L, d.GetConstantInt("D"));
        Assert.Equal("True", d.GetConstant("E"));
        Assert.Equal("Unable to parse firmware constant B: 2.5", Assert.Throws<ProtocolError>(() => d.GetConstantInt("B")).Message);
    }

    [Theory]
    [InlineData(1.0, "1.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e16, "1e+16")]
    [InlineData(123456789012345.0, "123456789012345.0")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(-2.5e-7, "-2.5e-07")]
    [InlineData(1.5e300, "1.5e+300")]
    public void FloatRepr(double v, string expected) => Assert.Equal(expected, PyText.FloatRepr(v));

    [Fact]
    public void EnumerationRangesExpand()
    {
        var d = Mega;
        var pins = d.Enumerations["pin"];
        // "PA0": [0, 8] on the atmega2560
        Assert.Equal(0L, pins["PA0"]);
        Assert.Equal(7L, pins["PA7"]);
        Assert.False(pins.ContainsKey("PA8"));
        Assert.Equal(40L, pins["PF0"]);
        Assert.Equal(86L, pins["PK6"]);

        var j = DataDictionary.FromJson("""
            {"commands": {"config_x oid=%c pin=%u": 2}, "responses": {},
             "enumerations": {"pin": {"PA0": [0, 16], "P1.0": [32, 3], "gpiochip1/gpio0": [288, 2],
                                      "PH2": [82, 1], "PB5": [21, 2], "analog": 99, "x007": [5, 2]}}}
            """);
        var p = j.Enumerations["pin"];
        Assert.Equal(15L, p["PA15"]);
        Assert.False(p.ContainsKey("PA16"));
        Assert.Equal(34L, p["P1.2"]);
        Assert.Equal(289L, p["gpiochip1/gpio1"]);
        Assert.Equal(82L, p["PH2"]);
        Assert.False(p.ContainsKey("PH0"));
        Assert.Equal(21L, p["PB5"]);
        Assert.Equal(22L, p["PB6"]);
        Assert.Equal(99L, p["analog"]);
        Assert.Equal(5L, p["x7"]);
        Assert.Equal(6L, p["x8"]);
        Assert.Equal(16 + 3 + 2 + 1 + 2 + 1 + 2, p.Count);
        Assert.Equal("pin", j.LookupCommand("config_x oid=%c pin=%u").Params[1].EnumerationName);
    }

    [Fact]
    public void ZlibRoundTrip()
    {
        var raw = File.ReadAllBytes(Corpus.Dict("stm32f446.dict"));
        var z = DataDictionary.Compress(raw);
        Assert.True(z.Length < raw.Length);
        Assert.Equal(0x78, z[0]);
        var d = DataDictionary.FromZlib(z);
        Assert.Equal(raw, d.RawData);
        Assert.Equal(Encoding.UTF8.GetString(raw), d.RawJson);
        var plain = DataDictionary.FromJson(raw);
        Assert.Equal(plain.Messages, d.Messages);
        Assert.Equal(plain.GetConstant("CLOCK_FREQ"), d.GetConstant("CLOCK_FREQ"));
        Assert.Equal(raw, DataDictionary.Decompress(z));
    }

    [Fact]
    public void BadDictionariesGiveProtocolErrors()
    {
        var e = Assert.Throws<ProtocolError>(() => DataDictionary.FromJson("{not json", "mcu 'x': "));
        Assert.StartsWith("mcu 'x': Error during identify: ", e.Message);
        Assert.Throws<ProtocolError>(() => DataDictionary.FromJson("""{"responses": {}}"""));
        Assert.Throws<ProtocolError>(() => DataDictionary.FromZlib([1, 2, 3, 4]));
        Assert.Equal("Invalid output format for 'bad %d'",
            Assert.Throws<ProtocolError>(() => DataDictionary.FromJson("""{"commands":{},"responses":{},"output":{"bad %d":3}}""")).Message);
    }

    [Fact]
    public void EveryCorpusDictionaryLoads()
    {
        foreach (var f in Directory.GetFiles(Path.Combine(Corpus.Golden, "dict"), "*.dict"))
        {
            var d = DataDictionary.Load(f);
            Assert.True(d.Commands.Count > 10, f);
            Assert.NotEmpty(d.Enumerations);
            d.GetConstantFloat("CLOCK_FREQ");
        }
    }

    [Fact]
    public void LookupCommandErrors()
    {
        var d = Mega;
        Assert.Equal("Unknown command: bogus", Assert.Throws<ProtocolError>(() => d.LookupCommand("bogus oid=%c")).Message);
        Assert.Equal("Command format mismatch: queue_step oid=%c interval=%u count=%hu add=%i vs queue_step oid=%c interval=%u count=%hu add=%hi",
            Assert.Throws<ProtocolError>(() => d.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%i")).Message);
        Assert.Null(d.TryLookupCommand("bogus"));
        Assert.Equal("Unknown command: bogus x=%c", Assert.Throws<ProtocolError>(() => d.LookupMsgId("bogus x=%c")).Message);
        d.WarnPrefix = "mcu 'mcu': ";
        Assert.Equal("mcu 'mcu': Unknown command: bogus", Assert.Throws<ProtocolError>(() => d.LookupCommand("bogus")).Message);
        // Responses are found too.
        Assert.Equal("clock", d.LookupCommand("clock clock=%u").Name);
    }
}

public class EncodeTests
{
    private static DataDictionary Mega => DataDictionary.Load(Corpus.Dict("atmega2560.dict"));

    [Fact]
    public void CreateCommandConfigStepper()
    {
        var d = Mega;
        // Upstream: [23, 2, 40, 41, 0, 32]
        Assert.Equal(new byte[] { 23, 2, 40, 41, 0, 32 },
            d.CreateCommand("config_stepper oid=2 step_pin=PF0 dir_pin=PF1 invert_step=0 step_pulse_ticks=32"));
        Assert.Equal(new byte[] { 23, 2, 40, 41, 0, 32 },
            d.CreateCommand("  config_stepper step_pulse_ticks=0x20 invert_step=0 dir_pin=PF1 step_pin=PF0 oid=2 "));
        Assert.Empty(d.CreateCommand("   "));
    }

    [Fact]
    public void CreateCommandErrors()
    {
        var d = Mega;
        Assert.Equal("Unknown command: foo", Assert.Throws<ProtocolError>(() => d.CreateCommand("foo oid=1")).Message);
        var pin = Assert.Throws<EnumerationError>(() =>
            d.CreateCommand("config_stepper oid=2 step_pin=PZ9 dir_pin=PF1 invert_step=0 step_pulse_ticks=32"));
        Assert.Equal("Unknown value 'PZ9' in enumeration 'pin'", pin.Message);
        Assert.Equal(("pin", "PZ9"), (pin.EnumName, pin.Value));
        Assert.Equal("Unable to encode: config_stepper", Assert.Throws<ProtocolError>(() => d.CreateCommand("config_stepper oid=2 step_pin=PF0")).Message);
        Assert.Equal("Unable to extract params from: config_stepper", Assert.Throws<ProtocolError>(() => d.CreateCommand("config_stepper oid=x step_pin=PF0")).Message);
        Assert.Equal("Unable to extract params from: config_stepper", Assert.Throws<ProtocolError>(() => d.CreateCommand("config_stepper oid=2 bogus=1")).Message);
        Assert.Equal("Unable to extract params from: config_stepper", Assert.Throws<ProtocolError>(() => d.CreateCommand("config_stepper oid")).Message);
        // Python's int(x, 0) rejects leading zeros.
        Assert.Equal("Unable to extract params from: queue_step", Assert.Throws<ProtocolError>(() => d.CreateCommand("queue_step oid=010 interval=1 count=1 add=0")).Message);
        d.WarnPrefix = "mcu 'mcu': ";
        Assert.Equal("mcu 'mcu': Unknown command: foo", Assert.Throws<ProtocolError>(() => d.CreateCommand("foo")).Message);
        // Enumeration errors carry no prefix, as upstream.
        Assert.Equal("Unknown value 'PZ9' in enumeration 'pin'", Assert.Throws<EnumerationError>(() =>
            d.CreateCommand("config_stepper oid=2 step_pin=PZ9 dir_pin=PF1 invert_step=0 step_pulse_ticks=32")).Message);
    }

    [Fact]
    public void CreateCommandBuffersAndIntegers()
    {
        var d = Mega;
        Assert.Equal(new byte[] { 35, 1, 2, 0, 65 }, d.CreateCommand("spi_send oid=1 data=0x41"));
        Assert.Equal(new byte[] { 35, 1, 2, 65, 66 }, d.CreateCommand("spi_send oid=1 data=4142"));
        Assert.Equal(new byte[] { 35, 1, 0 }, d.CreateCommand("spi_send oid=1 data="));
        var qs = d.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi");
        Assert.Equal(qs.Encode([3, 0xffffffff, 1, -1]), d.CreateCommand("queue_step oid=3 interval=0xffffffff count=1 add=-1"));
        Assert.Equal(qs.Encode([3, 255, 1, 5]), d.CreateCommand("queue_step oid=0b11 interval=0o377 count=1_0 add=+5".Replace("1_0", "1")));
    }

    [Fact]
    public void SpanEncodingMatchesTextEncoding()
    {
        var d = Mega;
        var qs = d.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi");
        Span<byte> buf = stackalloc byte[qs.MaxEncodedLength];
        int n = qs.Encode(buf, [2, 123456, 300, -7]);
        Assert.Equal(d.CreateCommand("queue_step oid=2 interval=123456 count=300 add=-7"), buf[..n].ToArray());
        Assert.Equal(qs.MsgIdBytes, buf[..qs.MsgIdBytes.Length].ToArray());
        Assert.Throws<ProtocolError>(() => qs.Encode([1, 2]));
        var spi = d.LookupCommand("spi_send oid=%c data=%*s");
        Assert.Throws<ProtocolError>(() => spi.Encode([1, 2]));
        Assert.Equal(d.CreateCommand("spi_send oid=1 data=0a0b"), spi.Encode(new object?[] { 1, new byte[] { 10, 11 } }));
        Assert.Equal(d.CreateCommand("spi_send oid=1 data=0a0b"), spi.Encode(new object?[] { 1L, new List<int> { 10, 11 } }));
        var cfg = d.LookupCommand("config_stepper oid=%c step_pin=%c dir_pin=%c invert_step=%c step_pulse_ticks=%u");
        Assert.Equal(new byte[] { 23, 2, 40, 41, 0, 32 }, cfg.Encode(new object?[] { 2, "PF0", "PF1", 0, 32 }));
        Assert.Equal(new byte[] { 23, 2, 40, 41, 0, 32 }, cfg.Encode([2, 40, 41, 0, 32]));
    }

    [Fact]
    public void EncodeWordsMatchesCHelpers()
    {
        var d = Mega;
        var qs = d.LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi");
        Span<byte> buf = stackalloc byte[64];
        int n = MessageFormat.EncodeWords(buf, [qs.MsgTag, 2, 5000, 10, unchecked((uint)-3)]);
        Assert.Equal(qs.Encode([2, 5000, 10, -3]), buf[..n].ToArray());
        // 0xffffffff is one byte for the C encoder, five for the Python one.
        n = MessageFormat.EncodeWords(buf, [qs.MsgTag, 2, 0xffffffff, 1, 0]);
        Assert.Equal(qs.MsgIdBytes.Length + 4, n);
        Assert.Throws<ProtocolError>(() => MessageFormat.EncodeWords(new byte[64], Enumerable.Repeat(0x7fffffffu, 13).ToArray()));
    }
}
