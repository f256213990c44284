namespace Klipsharp.Host.Extras;

/// <summary>Framebuffer helpers shared by the LCD drivers.</summary>
public static class LcdFramebuffer
{
    /// <summary>Send commands at the lowest priority (upstream BACKGROUND_PRIORITY_CLOCK).</summary>
    public const ulong BackgroundPriorityClock = 0x7fffffff00000000UL;

    /// <summary>Changed byte runs between two framebuffers, nearby runs merged (gap: max distance to merge).</summary>
    public static List<(int Pos, int Count)> Diffs(byte[] newData, byte[] oldData, int gap)
    {
        var diffs = new List<int[]>();
        int n = Math.Min(newData.Length, oldData.Length);
        for (int i = 0; i < n; i++)
            if (newData[i] != oldData[i])
                diffs.Add([i, 1]);
        for (int i = diffs.Count - 2; i >= 0; i--)
        {
            int pos = diffs[i][0];
            int nextpos = diffs[i + 1][0], nextcount = diffs[i + 1][1];
            if (pos + gap >= nextpos && nextcount < 16)
            {
                diffs[i][1] = nextcount + (nextpos - pos);
                diffs.RemoveAt(i + 1);
            }
        }
        return diffs.Select(d => (d[0], d[1])).ToList();
    }

    /// <summary>Python bytearray slice read that clamps at the end.</summary>
    public static byte[] Slice(byte[] data, int pos, int count)
    {
        int end = Math.Min(data.Length, pos + count);
        return pos >= end ? [] : data[pos..end];
    }

    /// <summary>Python "buf[pos:pos+len(data)] = data" for in-range writes.</summary>
    public static void Assign(byte[] buf, int pos, ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, buf.Length - pos);
        if (n > 0)
            data[..n].CopyTo(buf.AsSpan(pos));
    }

    public static byte[] Filled(int length, byte value)
    {
        var b = new byte[length];
        Array.Fill(b, value);
        return b;
    }
}
