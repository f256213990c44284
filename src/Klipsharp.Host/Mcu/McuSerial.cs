using Klipsharp.Protocol;

namespace Klipsharp.Host.Mcu;

/// <summary>A command queue on an MCU link: messages in one queue are sent in order (upstream serialqueue's command_queue).</summary>
public sealed class CommandQueue
{
    public CommandQueue(int id) => Id = id;

    public int Id { get; }
}

/// <summary>A message received from an MCU, decoded by its dictionary (upstream's params dict).</summary>
public sealed class McuResponse
{
    private readonly Dictionary<string, long> _ints = new();
    private readonly Dictionary<string, byte[]> _bytes = new();

    public McuResponse(string name) => Name = name;

    public string Name { get; }

    /// <summary>Host time at which the command that caused this response was sent.</summary>
    public double SentTime { get; set; }

    /// <summary>Host time at which this response arrived.</summary>
    public double ReceiveTime { get; set; }

    public long this[string field] =>
        _ints.TryGetValue(field, out var v) ? v : throw new KeyNotFoundException($"Response '{Name}' has no field '{field}'");

    public bool TryGetInt(string field, out long value) => _ints.TryGetValue(field, out value);

    public byte[] GetBytes(string field) =>
        _bytes.TryGetValue(field, out var v) ? v : throw new KeyNotFoundException($"Response '{Name}' has no field '{field}'");

    /// <summary>A string field (enumeration names such as static_string_id, #output text) decoded from its UTF-8 bytes.</summary>
    public string GetString(string field) => System.Text.Encoding.UTF8.GetString(GetBytes(field));

    public bool TryGetBytes(string field, out byte[] value) => _bytes.TryGetValue(field, out value!);

    public void Set(string field, long value) => _ints[field] = value;

    public void Set(string field, byte[] value) => _bytes[field] = value;

    public IEnumerable<string> IntFields => _ints.Keys;
}

/// <summary>
/// The link to one MCU as the rest of the host sees it (upstream serialhdl.SerialReader):
/// the data dictionary, command queues, sending, and response callbacks. Batch mode uses
/// <see cref="FileMcuSerial"/>; live mode a serial queue with retransmission.
/// </summary>
public interface IMcuSerial
{
    DataDictionary MsgParser { get; }

    /// <summary>Queues an encoded message; it is sent no earlier than <paramref name="minClock"/> is reachable and ordered by <paramref name="reqClock"/>.</summary>
    void RawSend(ReadOnlySpan<byte> cmd, ulong minClock, ulong reqClock, CommandQueue queue);

    /// <summary>Registers (or with null removes) the handler for responses named <paramref name="name"/> (and <paramref name="oid"/>).</summary>
    void RegisterResponse(Action<McuResponse>? callback, string name, long? oid = null);

    /// <summary>Sink for step and other move-queue messages produced by step compression.</summary>
    Klipsharp.Motion.IMoveQueueSink MoveQueue { get; }

    void Disconnect();
}
