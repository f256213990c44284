using System.Text;

namespace Klipsharp.Host.GCode;

/// <summary>
/// Python's shlex in POSIX mode with whitespace_split and '#'/';' comments, as klippy
/// uses to split extended G-code parameters (quotes, backslash escapes, comments).
/// </summary>
public static class Shlex
{
    private const string Whitespace = " \t\r\n";
    private const string Commenters = "#;";
    private const string Quotes = "'\"";
    private const char Escape = '\\';
    private const char EscapedQuote = '"';
    private const char StateNone = '\0';
    private const char StateSpace = ' ';
    private const char StateWord = 'a';

    /// <summary>Splits <paramref name="text"/> into tokens; throws <see cref="FormatException"/> where shlex raises ValueError.</summary>
    public static List<string> Split(string text)
    {
        var tokens = new List<string>();
        int pos = 0;
        char state = StateSpace;
        while (true)
        {
            string? tok = ReadToken(text, ref pos, ref state);
            if (tok is null)
                return tokens;
            tokens.Add(tok);
        }
    }

    private static string? ReadToken(string text, ref int pos, ref char state)
    {
        bool quoted = false;
        char escapedState = StateSpace;
        var token = new StringBuilder();
        while (true)
        {
            // An empty string models end of input
            bool eof = pos >= text.Length;
            char c = eof ? '\0' : text[pos++];
            if (state == StateNone)
            {
                token.Clear();
                break;
            }
            if (state == StateSpace)
            {
                if (eof)
                {
                    state = StateNone;
                    break;
                }
                if (Whitespace.Contains(c))
                {
                    if (token.Length > 0 || quoted)
                        break;
                    continue;
                }
                if (Commenters.Contains(c))
                {
                    SkipLine(text, ref pos);
                }
                else if (c == Escape)
                {
                    escapedState = StateWord;
                    state = c;
                }
                else if (Quotes.Contains(c))
                {
                    state = c;
                }
                else
                {
                    token.Append(c);
                    state = StateWord;
                }
            }
            else if (Quotes.Contains(state))
            {
                quoted = true;
                if (eof)
                    throw new FormatException("No closing quotation");
                if (c == state)
                    state = StateWord;
                else if (c == Escape && state == EscapedQuote)
                {
                    escapedState = state;
                    state = c;
                }
                else
                    token.Append(c);
            }
            else if (state == Escape)
            {
                if (eof)
                    throw new FormatException("No escaped character");
                // Inside quotes only the quote itself or the escape may be escaped
                if (Quotes.Contains(escapedState) && c != state && c != escapedState)
                    token.Append(state);
                token.Append(c);
                state = escapedState;
            }
            else
            {
                // In a word
                if (eof)
                {
                    state = StateNone;
                    break;
                }
                if (Whitespace.Contains(c))
                {
                    state = StateSpace;
                    if (token.Length > 0 || quoted)
                        break;
                    continue;
                }
                if (Commenters.Contains(c))
                {
                    SkipLine(text, ref pos);
                    state = StateSpace;
                    if (token.Length > 0 || quoted)
                        break;
                    continue;
                }
                if (Quotes.Contains(c))
                    state = c;
                else if (c == Escape)
                {
                    escapedState = StateWord;
                    state = c;
                }
                else
                    token.Append(c);
            }
        }
        string result = token.ToString();
        if (!quoted && result.Length == 0)
            return null;
        return result;
    }

    private static void SkipLine(string text, ref int pos)
    {
        while (pos < text.Length)
        {
            char c = text[pos++];
            if (c == '\n')
                break;
        }
    }
}
