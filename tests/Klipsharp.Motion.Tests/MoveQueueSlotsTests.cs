namespace Klipsharp.Motion.Tests;

public class MoveQueueSlotsTests
{
    // Upstream's structure: a binary min-heap whose minimum is replaced.
    private sealed class HeapReference
    {
        private readonly PriorityQueue<ulong, ulong> _heap = new();

        public HeapReference(int count)
        {
            for (int i = 0; i < count; i++)
                _heap.Enqueue(0, 0);
        }

        public ulong Earliest => _heap.Peek();

        public void ReplaceEarliest(ulong clock) => _heap.DequeueEnqueue(clock, clock);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(16, 3)]
    [InlineData(500, 4)]
    public void EarliestMatchesAHeapForAnyOrderOfClocks(int count, int seed)
    {
        var rnd = new Random(seed);
        var slots = new MoveQueueSlots(count);
        var reference = new HeapReference(count);
        ulong clock = 1000;
        for (int i = 0; i < 20000; i++)
        {
            Assert.Equal(reference.Earliest, slots.Earliest);
            // Mostly ascending, as messages are sent; sometimes far back, equal or far ahead
            ulong next = (i % 7) switch
            {
                0 => (ulong)rnd.NextInt64(0, (long)clock + 1),
                1 => clock,
                2 => clock + (ulong)rnd.Next(100000, 1000000),
                _ => clock += (ulong)rnd.Next(0, 300),
            };
            slots.ReplaceEarliest(next);
            reference.ReplaceEarliest(next);
        }
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(reference.Earliest, slots.Earliest);
            slots.ReplaceEarliest(ulong.MaxValue);
            reference.ReplaceEarliest(ulong.MaxValue);
        }
    }

    [Fact]
    public void AllSlotsStartFreeAtClockZero()
    {
        var slots = new MoveQueueSlots(3);
        Assert.Equal(3, slots.Count);
        Assert.Equal(0UL, slots.Earliest);
        slots.ReplaceEarliest(50);
        slots.ReplaceEarliest(40);
        Assert.Equal(0UL, slots.Earliest);
        slots.ReplaceEarliest(60);
        Assert.Equal(40UL, slots.Earliest);
        slots.ReplaceEarliest(10);
        Assert.Equal(10UL, slots.Earliest);
        slots.ReplaceEarliest(70);
        Assert.Equal(50UL, slots.Earliest);
    }
}
