using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Klipsharp.Protocol;

/// <summary>
/// The protocol's variable length quantity: 7 bits per byte, most significant first,
/// high bit set on every byte but the last, sign taken from bits 5-6 of the first byte.
/// </summary>
public static class Vlq
{
    /// <summary>Longest encoding of a 32-bit value.</summary>
    public const int MaxLength = 5;

    /// <summary>
    /// Encodes <paramref name="v"/> as the Python host does (msgproto): values in
    /// 0x80000000..0xffffffff take five bytes. Returns the number of bytes written.
    /// </summary>
    public static int Encode(Span<byte> dest, long v)
    {
        int n = 0;
        if (v >= 0xc000000 || v < -0x4000000)
            dest[n++] = (byte)(((v >> 28) & 0x7f) | 0x80);
        if (v >= 0x180000 || v < -0x80000)
            dest[n++] = (byte)(((v >> 21) & 0x7f) | 0x80);
        if (v >= 0x3000 || v < -0x1000)
            dest[n++] = (byte)(((v >> 14) & 0x7f) | 0x80);
        if (v >= 0x60 || v < -0x20)
            dest[n++] = (byte)(((v >> 7) & 0x7f) | 0x80);
        dest[n++] = (byte)(v & 0x7f);
        return n;
    }

    /// <summary>
    /// Encodes a 32-bit word as the C helpers do (msgblock.c): the word is read as a
    /// signed int32, so 0xffffffff takes one byte. Returns the number of bytes written.
    /// </summary>
    public static int EncodeUInt32(Span<byte> dest, uint v)
    {
        if (dest.Length < Length((int)v))
            throw new ArgumentException("destination too short", nameof(dest));
        return EncodeInt32(ref MemoryMarshal.GetReference(dest), (int)v);
    }

    // Encode for a 32-bit value, written at dest without bounds checks (Length(v) bytes).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int EncodeInt32(ref byte dest, int v)
    {
        int n = 0;
        if (v >= 0xc000000 || v < -0x4000000)
            Unsafe.Add(ref dest, n++) = (byte)(((v >> 28) & 0x7f) | 0x80);
        if (v >= 0x180000 || v < -0x80000)
            Unsafe.Add(ref dest, n++) = (byte)(((v >> 21) & 0x7f) | 0x80);
        if (v >= 0x3000 || v < -0x1000)
            Unsafe.Add(ref dest, n++) = (byte)(((v >> 14) & 0x7f) | 0x80);
        if (v >= 0x60 || v < -0x20)
            Unsafe.Add(ref dest, n++) = (byte)(((v >> 7) & 0x7f) | 0x80);
        Unsafe.Add(ref dest, n++) = (byte)(v & 0x7f);
        return n;
    }

    /// <summary>Number of bytes <see cref="Encode"/> writes for <paramref name="v"/>.</summary>
    public static int Length(long v)
    {
        int n = 1;
        if (v >= 0xc000000 || v < -0x4000000)
            n++;
        if (v >= 0x180000 || v < -0x80000)
            n++;
        if (v >= 0x3000 || v < -0x1000)
            n++;
        if (v >= 0x60 || v < -0x20)
            n++;
        return n;
    }

    /// <summary>
    /// Decodes one quantity at <paramref name="pos"/>. Unsigned results are masked to
    /// 32 bits; signed ones are left as decoded (as upstream does). Returns false, with
    /// <paramref name="pos"/> unchanged, when the data ends inside the quantity.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> src, ref int pos, bool signed, out long value)
    {
        int p = pos;
        value = 0;
        if ((uint)p >= (uint)src.Length)
            return false;
        byte c = src[p++];
        long v = c & 0x7f;
        if ((c & 0x60) == 0x60)
            v |= -0x20;
        while ((c & 0x80) != 0)
        {
            if (p >= src.Length)
                return false;
            c = src[p++];
            v = (v << 7) | (long)(c & 0x7f);
        }
        if (!signed)
            v &= 0xffffffff;
        value = v;
        pos = p;
        return true;
    }

    /// <summary>Decodes one quantity, throwing <see cref="ProtocolError"/> if the data ends inside it.</summary>
    public static long Decode(ReadOnlySpan<byte> src, ref int pos, bool signed)
    {
        if (!TryDecode(src, ref pos, signed, out long v))
            throw new ProtocolError("Truncated VLQ at byte " + pos);
        return v;
    }
}
