using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Klipsharp.Motion;

/// <summary>Fixed inline storage for the words of a <see cref="MoveQueueMessage"/>.</summary>
[InlineArray(MoveQueueMessage.MaxWords)]
public struct MoveQueueMessageWords
{
    private uint _word0;
}

/// <summary>
/// One MCU command produced by step generation (upstream's <c>struct queue_message</c>
/// before encoding): word 0 is the msgtag (command id), then the arguments, each as the
/// uint32 that upstream passes to its VLQ encoder (negative values are two's complement).
/// <see cref="MinClock"/> and <see cref="ReqClock"/> have serialqueue's meaning once the
/// message leaves <see cref="SteppersSync"/>; before that a non-zero MinClock marks a
/// command that occupies an MCU move-queue slot until that clock.
/// </summary>
public struct MoveQueueMessage
{
    /// <summary>Most words a message can hold.</summary>
    public const int MaxWords = 8;

    public MoveQueueMessageWords Words;
    public int Length;
    public ulong MinClock, ReqClock;

    /// <summary>Build a message from its words (msgtag first).</summary>
    public MoveQueueMessage(ReadOnlySpan<uint> words, ulong minClock, ulong reqClock)
    {
        if (words.Length > MaxWords)
            throw new ArgumentException($"message has {words.Length} words, at most {MaxWords} allowed", nameof(words));
        words.CopyTo(Words);
        Length = words.Length;
        MinClock = minClock;
        ReqClock = reqClock;
    }

    /// <summary>The message id (word 0).</summary>
    public readonly uint MsgTag => Words[0];

    /// <summary>The words in use (msgtag first).</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<uint> Data => ((ReadOnlySpan<uint>)Words).Slice(0, Length);

    public override readonly string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("msg[");
        for (int i = 0; i < Length; i++)
        {
            if (i != 0)
                sb.Append(' ');
            sb.Append(Words[i]);
        }
        sb.Append("] min_clock=").Append(MinClock).Append(" req_clock=").Append(ReqClock);
        return sb.ToString();
    }
}

/// <summary>
/// Receives batches of step-queue messages from a <see cref="SteppersSync"/>, in
/// transmit order (upstream's <c>serialqueue_send_batch</c> on the stepper command
/// queue). The host encodes the words and queues them on the MCU link or output file.
/// </summary>
public interface IMoveQueueSink
{
    /// <summary>Queue <paramref name="batch"/> atomically, in order. The span is only valid during the call.</summary>
    void SendBatch(ReadOnlySpan<MoveQueueMessage> batch);
}

/// <summary>A growable FIFO of structs that reuses its storage (for message and history queues).</summary>
public sealed class RingBuffer<T> where T : struct
{
    private T[] _items;
    private int _head, _count;

    public RingBuffer(int capacity = 16)
    {
        _items = new T[Math.Max(capacity, 4)];
    }

    public int Count => _count;

    /// <summary>Number of elements ever added (so Count less than this were removed).</summary>
    public long TotalAdded { get; private set; }

    /// <summary>Element <paramref name="index"/> counted from the oldest (0) to the newest (Count-1).</summary>
    public ref T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count)
                throw new ArgumentOutOfRangeException(nameof(index));
            int i = _head + index;
            if (i >= _items.Length)
                i -= _items.Length;
            return ref _items[i];
        }
    }

    /// <summary>Reference to the oldest element.</summary>
    public ref T First => ref this[0];

    /// <summary>Reference to the newest element.</summary>
    public ref T Last => ref this[_count - 1];

    /// <summary>Append as the newest element and return a reference to it.</summary>
    public ref T AddLast()
    {
        if (_count == _items.Length)
            Grow();
        int i = _head + _count;
        if (i >= _items.Length)
            i -= _items.Length;
        _count++;
        TotalAdded++;
        _items[i] = default;
        return ref _items[i];
    }

    public void AddLast(in T item) => AddLast() = item;

    /// <summary>Drop the oldest element.</summary>
    public void RemoveFirst()
    {
        if (_count == 0)
            throw new InvalidOperationException("queue is empty");
        _items[_head] = default;
        _head++;
        if (_head == _items.Length)
            _head = 0;
        _count--;
    }

    public void Clear()
    {
        while (_count > 0)
            RemoveFirst();
        _head = 0;
    }

    private void Grow()
    {
        var items = new T[_items.Length * 2];
        for (int i = 0; i < _count; i++)
        {
            int j = _head + i;
            if (j >= _items.Length)
                j -= _items.Length;
            items[i] = _items[j];
        }
        _items = items;
        _head = 0;
    }
}
