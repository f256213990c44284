using System.Runtime.CompilerServices;
using Klipsharp.Host.Mcu;
using Klipsharp.Protocol;

namespace Klipsharp.Host.Extras;

/// <summary>
/// A command whose arguments may be integers, enumeration names or byte strings, with
/// upstream CommandWrapper's send and send_wait_ack (the latter is a plain send in batch mode).
/// </summary>
public sealed class McuObjCommand
{
    private readonly Mcu.Mcu _mcu;
    private readonly MessageFormat _format;
    private readonly CommandQueue _queue;

    public McuObjCommand(Mcu.Mcu mcu, string msgformat, CommandQueue? cq = null)
    {
        _mcu = mcu;
        _format = mcu.Serial.MsgParser.LookupCommand(msgformat);
        _queue = cq ?? mcu.DefaultCommandQueue;
    }

    public void Send(IReadOnlyList<object?> args, ulong minClock = 0, ulong reqClock = 0) =>
        _mcu.Serial.RawSend(_format.Encode(args), minClock, reqClock, _queue);

    public void SendWaitAck(IReadOnlyList<object?> args, ulong minClock = 0, ulong reqClock = 0)
    {
        if (_mcu.IsFileOutput || _mcu.LiveSerial is null)
        {
            Send(args, minClock, reqClock);
            return;
        }
        _mcu.LiveSerial.RawSendWaitAck(_format.Encode(args), minClock, reqClock, _queue);
    }
}

/// <summary>A query command with integer/byte-string arguments (upstream CommandQueryWrapper); batch mode answers with zeros and empty strings.</summary>
public sealed class McuObjQueryCommand
{
    private readonly Mcu.Mcu _mcu;
    private readonly MessageFormat _format;
    private readonly MessageFormat _response;
    private readonly long? _oid;
    private readonly CommandQueue _queue;

    public McuObjQueryCommand(Mcu.Mcu mcu, string msgformat, string respformat, long? oid = null, CommandQueue? cq = null)
    {
        _mcu = mcu;
        _format = mcu.Serial.MsgParser.LookupCommand(msgformat);
        _response = mcu.Serial.MsgParser.LookupCommand(respformat);
        _oid = oid;
        _queue = cq ?? mcu.DefaultCommandQueue;
    }

    public McuResponse Send(IReadOnlyList<object?> args, ulong minClock = 0, ulong reqClock = 0, bool retry = true)
    {
        if (_mcu.IsFileOutput)
            return DummyResponse();
        return _mcu.SendQuery([_format.Encode(args)], _response.Name, _oid, minClock, Math.Max(minClock, reqClock), _queue, retry, false);
    }

    /// <summary>Sends <paramref name="preface"/> (another command) right before this query (upstream send_with_preface).</summary>
    public McuResponse SendWithPreface(MessageFormat preface, IReadOnlyList<object?> prefaceArgs, IReadOnlyList<object?> args,
                                       ulong minClock = 0, ulong reqClock = 0)
    {
        if (_mcu.IsFileOutput)
            return DummyResponse();
        return _mcu.SendQuery([preface.Encode(prefaceArgs), _format.Encode(args)], _response.Name, _oid,
                              minClock, Math.Max(minClock, reqClock), _queue, true, false);
    }

    private McuResponse DummyResponse()
    {
        var resp = new McuResponse(_response.Name);
        foreach (var p in _response.Params)
        {
            if (ParamTypes.IsString(p.Type))
                resp.Set(p.Name, Array.Empty<byte>());
            else
                resp.Set(p.Name, p.Name == "oid" && _oid is not null ? _oid.Value : 0);
        }
        return resp;
    }
}

/// <summary>The bus queries of upstream bus.py that answer with data: spi_transfer and i2c_read.</summary>
public static class BusTransfer
{
    private static readonly ConditionalWeakTable<McuSpi, McuObjQueryCommand> SpiTransferCmds = new();
    private static readonly ConditionalWeakTable<McuI2c, McuObjQueryCommand> I2cReadCmds = new();

    /// <summary>Sends <paramref name="data"/> and returns the bytes clocked in (upstream MCU_SPI.spi_transfer; response field "response").</summary>
    public static McuResponse SpiTransfer(this McuSpi spi, IReadOnlyList<byte> data, ulong minclock = 0, ulong reqclock = 0) =>
        SpiTransferCmd(spi).Send([(long)spi.Oid, data.ToArray()], minclock, reqclock);

    /// <summary>
    /// Sends <paramref name="preface"/> (spi_send) and then transfers <paramref name="data"/>,
    /// in one go (upstream MCU_SPI.spi_transfer_with_preface; response field "response").
    /// </summary>
    public static McuResponse SpiTransferWithPreface(this McuSpi spi, IReadOnlyList<byte> preface, IReadOnlyList<byte> data,
                                                     ulong minclock = 0, ulong reqclock = 0)
    {
        var spiSend = spi.GetMcu().Serial.MsgParser.LookupCommand("spi_send oid=%c data=%*s");
        return SpiTransferCmd(spi).SendWithPreface(spiSend, [(long)spi.Oid, preface.ToArray()],
            [(long)spi.Oid, data.ToArray()], minclock, reqclock);
    }

    private static McuObjQueryCommand SpiTransferCmd(McuSpi spi) =>
        SpiTransferCmds.GetValue(spi, s => new McuObjQueryCommand(s.GetMcu(), "spi_transfer oid=%c data=%*s",
            "spi_transfer_response oid=%c response=%*s", s.Oid, s.GetCommandQueue()));

    /// <summary>Writes <paramref name="write"/> then reads <paramref name="readLen"/> bytes (upstream MCU_I2C.i2c_read; response field "response").</summary>
    public static McuResponse I2cRead(this McuI2c i2c, IReadOnlyList<byte> write, int readLen, bool retry = true)
    {
        var mcu = i2c.GetMcu();
        bool hasRead = mcu.TryLookupCommand("i2c_read oid=%c reg=%*s read_len=%u") is not null;
        if (!hasRead && mcu.IsFileOutput)
        {
            // Upstream's i2c_transfer sends the request even in batch mode
            new McuObjCommand(mcu, "i2c_transfer oid=%c write=%*s read_len=%u", i2c.GetCommandQueue())
                .Send([(long)i2c.Oid, write.ToArray(), (long)readLen]);
            return new McuResponse("i2c_response");
        }
        var cmd = I2cReadCmds.GetValue(i2c, d =>
            hasRead
                ? new McuObjQueryCommand(mcu, "i2c_read oid=%c reg=%*s read_len=%u", "i2c_read_response oid=%c response=%*s",
                    d.Oid, d.GetCommandQueue())
                : new McuObjQueryCommand(mcu, "i2c_transfer oid=%c write=%*s read_len=%u",
                    "i2c_response oid=%c i2c_bus_status=%c response=%*s", d.Oid, d.GetCommandQueue()));
        return cmd.Send([(long)i2c.Oid, write.ToArray(), (long)readLen], retry: retry);
    }
}
