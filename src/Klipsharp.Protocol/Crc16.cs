namespace Klipsharp.Protocol;

/// <summary>The CRC16-CCITT variant that protects each message block (msgblock.c).</summary>
public static class Crc16
{
    /// <summary>CRC of <paramref name="data"/>, starting from 0xffff.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        ushort crc = 0xffff;
        foreach (byte b in data)
        {
            byte d = (byte)(b ^ (crc & 0xff));
            d ^= (byte)(d << 4);
            crc = (ushort)(((d << 8) | (crc >> 8)) ^ (d >> 4) ^ (d << 3));
        }
        return crc;
    }
}
