using System.Globalization;

namespace Klipsharp.Protocol;

/// <summary>
/// Turns a binary MCU stream into text lines the way upstream <c>parsedump.py</c> prints
/// them (without its <c>seq:</c> lines). A byte that starts no valid block is reported
/// as <c>#invalid block at byte N</c> and skipped, so corrupt data never stops decoding.
/// </summary>
public static class MessageDecoder
{
    /// <summary>Decodes a whole stream into lines.</summary>
    public static List<string> Decode(DataDictionary dictionary, ReadOnlySpan<byte> data)
    {
        var lines = new List<string>();
        Decode(dictionary, data, lines.Add);
        return lines;
    }

    /// <summary>Decodes a whole stream, handing each line to <paramref name="emit"/>.</summary>
    public static void Decode(DataDictionary dictionary, ReadOnlySpan<byte> data, Action<string> emit)
    {
        var lines = new List<string>();
        foreach (var seg in MessageBlockReader.Split(data))
        {
            if (!seg.IsValid)
            {
                emit("#invalid block at byte " + seg.Offset.ToString(CultureInfo.InvariantCulture));
                continue;
            }
            lines.Clear();
            dictionary.DumpInto(data.Slice(seg.Offset, seg.Length), lines, false, seg.Offset);
            foreach (var l in lines)
                emit(l);
        }
    }
}
