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

/// <summary>
/// A growable FIFO of structs that reuses its storage (for message and history queues).
/// One thread may add while another removes: the adder writes only free slots, the
/// added count and (when it grows) the storage, the remover only the removed count, and
/// each access reads the storage once, so an element is found in the old storage or in
/// its copy.
/// </summary>
public sealed class RingBuffer<T> where T : struct
{
    private T[] _items;
    private long _added, _removed;

    public RingBuffer(int capacity = 16)
    {
        _items = new T[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 4))];
    }

    public int Count => (int)(Volatile.Read(ref _added) - Volatile.Read(ref _removed));

    /// <summary>Number of elements ever added.</summary>
    public long TotalAdded => Volatile.Read(ref _added);

    /// <summary>Number of elements ever removed (so the oldest is element TotalRemoved of all ever added).</summary>
    public long TotalRemoved => Volatile.Read(ref _removed);

    /// <summary>Element <paramref name="index"/> counted from the oldest (0) to the newest (Count-1).</summary>
    public ref T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(index));
            T[] items = Volatile.Read(ref _items);
            return ref items[(int)(_removed + index) & (items.Length - 1)];
        }
    }

    /// <summary>Reference to the oldest element.</summary>
    public ref T First => ref this[0];

    /// <summary>Reference to the newest element.</summary>
    public ref T Last => ref this[Count - 1];

    /// <summary>Append as the newest element and return a reference to it.</summary>
    public ref T AddLast()
    {
        long added = _added;
        T[] items = _items;
        // A stale removed count only makes the queue look fuller
        if (added - Volatile.Read(ref _removed) >= items.Length)
            items = Grow();
        ref T slot = ref items[(int)added & (items.Length - 1)];
        slot = default;
        Volatile.Write(ref _added, added + 1);
        return ref slot;
    }

    public void AddLast(in T item) => AddLast() = item;

    /// <summary>Drop the oldest element.</summary>
    public void RemoveFirst()
    {
        long removed = _removed;
        if (removed == Volatile.Read(ref _added))
            throw new InvalidOperationException("queue is empty");
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            T[] items = Volatile.Read(ref _items);
            items[(int)removed & (items.Length - 1)] = default;
        }
        Volatile.Write(ref _removed, removed + 1);
    }

    public void Clear()
    {
        while (Count > 0)
            RemoveFirst();
    }

    private T[] Grow()
    {
        T[] old = _items;
        var items = new T[old.Length * 2];
        // Elements the remover takes meanwhile are copied too, harmlessly
        for (long i = Volatile.Read(ref _removed); i < _added; i++)
            items[(int)i & (items.Length - 1)] = old[(int)i & (old.Length - 1)];
        Volatile.Write(ref _items, items);
        return items;
    }
}
