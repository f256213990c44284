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

    internal McuQueryCommand(Mcu mcu, MessageFormat format, MessageFormat response, long? oid, CommandQueue queue)
    {
        _mcu = mcu;
        _format = format;
        _response = response;
        _oid = oid;
        _queue = queue;
    }

    public McuResponse Send(ReadOnlySpan<long> args, ulong minClock = 0, ulong reqClock = 0)
    {
        if (_mcu.IsFileOutput)
            return DummyResponse();
        var buffer = new byte[MessageBlock.MESSAGE_PAYLOAD_MAX];
        int len = _format.Encode(buffer, args);
        return _mcu.SendQuery(buffer.AsSpan(0, len).ToArray(), _response.Name, _oid, minClock, Math.Max(minClock, reqClock), _queue);
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
