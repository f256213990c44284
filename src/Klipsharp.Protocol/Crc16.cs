namespace Klipsharp.Protocol;

/// <summary>The CRC16-CCITT variant that protects each message block (msgblock.c).</summary>
public static class Crc16
{
    // Upstream's per-byte update is (crc >> 8) ^ f(low byte of crc ^ data byte), with
    // f linear in that byte; the table holds f for each of its 256 values.
    private static readonly ushort[] s_table = BuildTable();

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (int i = 0; i < 256; i++)
        {
            byte d = (byte)i;
            d ^= (byte)(d << 4);
            table[i] = (ushort)((d << 8) ^ (d >> 4) ^ (d << 3));
        }
        return table;
    }

    /// <summary>CRC of <paramref name="data"/>, starting from 0xffff.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        ushort[] table = s_table;
        uint crc = 0xffff;
        foreach (byte b in data)
            crc = (crc >> 8) ^ table[(byte)(crc ^ b)];
        return (ushort)crc;
    }
}
