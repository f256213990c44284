using Klipsharp.Protocol;

namespace Klipsharp.Host.Serial;

/// <summary>An encoded message waiting in (or sent by) the <see cref="SerialQueue"/> (upstream struct queue_message).</summary>
public sealed class QueueMessage
{
    /// <summary>Message bytes (one command, or a whole block once sent).</summary>
    public readonly byte[] Msg = new byte[MessageBlock.MESSAGE_MAX];

    public int Len;

    /// <summary>The message may not be sent before the MCU clock reaches this.</summary>
    public ulong MinClock;

    /// <summary>Priority: the MCU clock by which the message should arrive (lowest goes first).</summary>
    public ulong ReqClock;

    public double SentTime, ReceiveTime;

    /// <summary>Non-zero: report to the receiver when the MCU has acknowledged the block carrying this message.</summary>
    public ulong NotifyId;

    /// <summary>Copies encoded message bytes (upstream message_fill).</summary>
    public static QueueMessage Fill(ReadOnlySpan<byte> data)
    {
        if (data.Length > MessageBlock.MESSAGE_MAX)
            throw new ProtocolError($"Message of {data.Length} bytes is too long");
        var qm = new QueueMessage();
        data.CopyTo(qm.Msg);
        qm.Len = data.Length;
        return qm;
    }

    /// <summary>VLQ-encodes a message given as words, msgtag first (upstream message_alloc_and_encode).</summary>
    public static QueueMessage FromWords(ReadOnlySpan<uint> words, ulong minClock, ulong reqClock)
    {
        var qm = new QueueMessage();
        qm.Len = MessageFormat.EncodeWords(qm.Msg, words);
        qm.MinClock = minClock;
        qm.ReqClock = reqClock;
        return qm;
    }
}

/// <summary>A message received from the MCU, or (with <see cref="NotifyId"/> set and no bytes) an acknowledgement notification.</summary>
public readonly record struct PulledMessage(byte[] Msg, double SentTime, double ReceiveTime, ulong NotifyId);

/// <summary>Linear map between host time and MCU clock used to release scheduled messages (msgblock.c clock_estimate).</summary>
public readonly record struct ClockEstimate(ulong ConvClock, double ConvTime, double EstFreq)
{
    /// <summary>Host time of an MCU clock value (msgblock.c clock_to_time).</summary>
    public double ClockToTime(ulong clock) => ConvTime + unchecked((long)(clock - ConvClock)) / EstFreq;

    /// <summary>Nearest MCU clock of a host time (msgblock.c clock_from_time).</summary>
    public ulong ClockFromTime(double time) => unchecked((ulong)(long)((time - ConvTime) * EstFreq + .5) + ConvClock);
}

/// <summary>Counters of a <see cref="SerialQueue"/>, as its stats line reports them.</summary>
public readonly record struct SerialQueueStats(
    uint BytesWrite, uint BytesRead, uint BytesRetransmit, uint BytesInvalid,
    ulong SendSeq, ulong ReceiveSeq, ulong RetransmitSeq,
    double Srtt, double Rttvar, double Rto, int ReadyBytes, int UpcomingBytes);
