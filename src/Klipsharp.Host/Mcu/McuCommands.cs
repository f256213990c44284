using Klipsharp.Protocol;

namespace Klipsharp.Host.Mcu;

/// <summary>A command looked up by its format, ready to encode and send (upstream CommandWrapper).</summary>
public sealed class McuCommand
{
    private readonly IMcuSerial _serial;
    private readonly MessageFormat _format;
    private readonly CommandQueue _queue;
    private readonly byte[] _buffer = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];

    internal McuCommand(IMcuSerial serial, MessageFormat format, CommandQueue queue)
    {
        _serial = serial;
        _format = format;
        _queue = queue;
    }

    /// <summary>The message id used as msgtag by step compression.</summary>
    public uint CommandTag => (uint)_format.Id;

    public void Send(ReadOnlySpan<long> args, ulong minClock = 0, ulong reqClock = 0)
    {
        int len = _format.Encode(_buffer, args);
        _serial.RawSend(_buffer.AsSpan(0, len), minClock, reqClock, _queue);
    }

    public void Send(ulong minClock = 0, ulong reqClock = 0) => Send(ReadOnlySpan<long>.Empty, minClock, reqClock);
}

/// <summary>A command whose reply is awaited (upstream CommandQueryWrapper); batch mode answers with zeros.</summary>
public sealed class McuQueryCommand
{
    private readonly Mcu _mcu;
    private readonly MessageFormat _format;
    private readonly MessageFormat _response;
    private readonly long? _oid;
    private readonly CommandQueue _queue;
    private readonly bool _isAsync;

    internal McuQueryCommand(Mcu mcu, MessageFormat format, MessageFormat response, long? oid, CommandQueue queue, bool isAsync = false)
    {
        _mcu = mcu;
        _format = format;
        _response = response;
        _oid = oid;
        _queue = queue;
        _isAsync = isAsync;
    }

    /// <summary>Sends the command and waits for the response; link failures raise <see cref="CommandError"/>.</summary>
    public McuResponse Send(ReadOnlySpan<long> args, ulong minClock = 0, ulong reqClock = 0, bool retry = true)
    {
        if (_mcu.IsFileOutput)
            return DummyResponse();
        return _mcu.SendQuery([Encode(_format, args)], _response.Name, _oid, minClock, Math.Max(minClock, reqClock), _queue, retry, _isAsync);
    }

    public McuResponse Send() => Send(ReadOnlySpan<long>.Empty);

    /// <summary>Sends <paramref name="preface"/> (another command's encoding) right before this query (upstream send_with_preface).</summary>
    public McuResponse SendWithPreface(MessageFormat preface, ReadOnlySpan<long> prefaceArgs, ReadOnlySpan<long> args,
                                       ulong minClock = 0, ulong reqClock = 0)
    {
        if (_mcu.IsFileOutput)
            return DummyResponse();
        return _mcu.SendQuery([Encode(preface, prefaceArgs), Encode(_format, args)], _response.Name, _oid,
                              minClock, Math.Max(minClock, reqClock), _queue, true, _isAsync);
    }

    private static byte[] Encode(MessageFormat format, ReadOnlySpan<long> args)
    {
        var buffer = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];
        int len = format.Encode(buffer, args);
        return buffer.AsSpan(0, len).ToArray();
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
