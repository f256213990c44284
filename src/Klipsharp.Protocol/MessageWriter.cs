namespace Klipsharp.Protocol;

/// <summary>
/// Allocation-free encoder for one message whose parameters mix integers and byte
/// strings: write the values in parameter order, then <see cref="Complete"/>.
/// </summary>
public ref struct MessageWriter
{
    private readonly MessageFormat _format;
    private readonly Span<byte> _dest;
    private int _len;
    private int _param;

    /// <summary>Starts a message of <paramref name="format"/> in <paramref name="dest"/> (writes the id).</summary>
    public MessageWriter(MessageFormat format, Span<byte> dest)
    {
        _format = format;
        _dest = dest;
        format.MsgIdBytes.CopyTo(dest);
        _len = format.MsgIdBytes.Length;
        _param = 0;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _len;

    private MessageParam Next(bool wantString)
    {
        if (_param >= _format.Params.Count || ParamTypes.IsString(_format.Params[_param].Type) != wantString)
            throw new ProtocolError($"Unable to encode: {_format.Name}");
        return _format.Params[_param++];
    }

    /// <summary>Writes the next (integer or enumeration) parameter.</summary>
    public void Add(long value)
    {
        Next(false);
        _len += Vlq.Encode(_dest[_len..], value);
    }

    /// <summary>Writes the next (byte string) parameter.</summary>
    public void Add(ReadOnlySpan<byte> data)
    {
        Next(true);
        if (data.Length > 255)
            throw new ProtocolError($"Unable to encode: {_format.Name}");
        _dest[_len++] = (byte)data.Length;
        data.CopyTo(_dest[_len..]);
        _len += data.Length;
    }

    /// <summary>Checks that every parameter was written and returns the message length.</summary>
    public readonly int Complete()
    {
        if (_param != _format.Params.Count)
            throw new ProtocolError($"Unable to encode: {_format.Name}");
        return _len;
    }
}
