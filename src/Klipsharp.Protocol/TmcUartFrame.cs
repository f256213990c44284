namespace Klipsharp.Protocol;

/// <summary>
/// The line encoding of Trinamic UART datagrams as MCU tmcuart commands carry them: the
/// chips' CRC8 and bytes sent as 10-bit UART frames (start bit 0, 8 data bits, stop bit 1)
/// packed LSB first. Shared by the host's tmc_uart and the simulated MCU's drivers.
/// </summary>
public static class TmcUartFrame
{
    /// <summary>CRC8-ATM of a datagram, bits taken LSB first (upstream _calc_crc8).</summary>
    public static byte Crc8(ReadOnlySpan<byte> data)
    {
        int crc = 0;
        foreach (byte d in data)
        {
            int b = d;
            for (int i = 0; i < 8; i++)
            {
                crc = ((crc >> 7) ^ (b & 1)) != 0 ? (crc << 1) ^ 0x07 : crc << 1;
                crc &= 0xff;
                b >>= 1;
            }
        }
        return (byte)crc;
    }

    /// <summary>The line bits of a datagram: <paramref name="body"/> with its CRC8 appended, as UART frames.</summary>
    public static byte[] EncodeDatagram(ReadOnlySpan<byte> body)
    {
        Span<byte> msg = stackalloc byte[body.Length + 1];
        body.CopyTo(msg);
        msg[^1] = Crc8(body);
        return AddSerialBits(msg);
    }

    /// <summary>The line bits of <paramref name="data"/> sent as UART frames (upstream _add_serial_bits).</summary>
    public static byte[] AddSerialBits(ReadOnlySpan<byte> data)
    {
        var res = new byte[(data.Length * 10 + 7) / 8];
        int pos = 0;
        foreach (byte d in data)
        {
            int frame = (d << 1) | 0x200;
            for (int k = 0; k < 10; k++, pos++)
                if (((frame >> k) & 1) != 0)
                    res[pos >> 3] |= (byte)(1 << (pos & 7));
        }
        return res;
    }

    /// <summary>The bytes carried by line bits (idle high between frames), or null on a framing error.</summary>
    public static List<byte>? RemoveSerialBits(ReadOnlySpan<byte> line)
    {
        int nbits = line.Length * 8;
        var bytes = new List<byte>();
        int p = 0;
        while (p < nbits)
        {
            if (Bit(line, p) == 1)
            {
                p++;
                continue;
            }
            if (p + 10 > nbits)
                return null;
            int b = 0;
            for (int k = 0; k < 8; k++)
                b |= Bit(line, p + 1 + k) << k;
            if (Bit(line, p + 9) != 1)
                return null;
            bytes.Add((byte)b);
            p += 10;
        }
        return bytes;
    }

    private static int Bit(ReadOnlySpan<byte> line, int pos) => (line[pos >> 3] >> (pos & 7)) & 1;
}
