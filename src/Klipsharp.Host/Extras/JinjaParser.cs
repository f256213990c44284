using System.Globalization;
using System.Text;

namespace Klipsharp.Host.Extras;

/// <summary>Lexer and recursive descent parser for <see cref="JinjaTemplate"/> (Jinja2 grammar, Klipper delimiters).</summary>
internal sealed class JinjaParser
{
    private enum TokType { Name, String, Integer, Float, Op, Eof }

    private readonly record struct Token(TokType Type, string Value, int Lineno, object? Literal = null);

    private enum PieceKind { Data, Block, Var }

    private sealed record Piece(PieceKind Kind, string Text, List<Token> Tokens, int Lineno);

    private readonly List<Piece> _pieces;
    private int _pieceIdx;
    private List<Token> _toks = new();
    private int _pos;

    private JinjaParser(List<Piece> pieces) => _pieces = pieces;

    // ------------------------------------------------------------ entry points

    public static List<JinjaNode> ParseTemplate(string source)
    {
        var p = new JinjaParser(Lex(source));
        var body = p.ParseBody([], out var endTag);
        if (endTag is not null)
            throw JinjaError.Syntax($"Encountered unknown tag '{endTag}'.", p.CurrentLine);
        return body;
    }

    public static JinjaExpression ParseExpression(string text)
    {
        var toks = Tokenize(text, 0, 1, null, out _, out _);
        var p = new JinjaParser([]) { _toks = toks, _pos = 0 };
        var e = p.ParseTuple(withCondExpr: true);
        if (p.Cur.Type != TokType.Eof)
            throw JinjaError.Syntax($"unexpected '{p.Cur.Value}'", p.Cur.Lineno);
        return e;
    }

    private int CurrentLine => _pieceIdx < _pieces.Count ? _pieces[_pieceIdx].Lineno : (_pieces.Count > 0 ? _pieces[^1].Lineno : 1);

    // ------------------------------------------------------------ lexer

    private static bool IsWs(char c) => c is ' ' or '\t' or '\n' or '\r' or '\f' or '\v';

    private static List<Piece> Lex(string source)
    {
        // Line endings normalized and one trailing newline dropped (keep_trailing_newline=False)
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n'))
            source = source[..^1];
        var pieces = new List<Piece>();
        var data = new StringBuilder();
        int lineno = 1;
        int dataLine = 1;
        bool stripNext = false;
        int i = 0;
        void FlushData(bool rstrip)
        {
            string t = data.ToString();
            if (rstrip)
                t = t.TrimEnd(' ', '\t', '\n', '\r', '\f', '\v');
            if (t.Length > 0)
                pieces.Add(new Piece(PieceKind.Data, t, [], dataLine));
            data.Clear();
        }
        while (i < source.Length)
        {
            char c = source[i];
            if (c != '{')
            {
                if (stripNext && IsWs(c))
                {
                    if (c == '\n') lineno++;
                    i++;
                    continue;
                }
                stripNext = false;
                if (data.Length == 0) dataLine = lineno;
                data.Append(c);
                if (c == '\n') lineno++;
                i++;
                continue;
            }
            stripNext = false;
            char n = i + 1 < source.Length ? source[i + 1] : '\0';
            if (n == '#')
            {
                int start = i + 2;
                bool strip = start < source.Length && source[start] == '-';
                int end = source.IndexOf("#}", start, StringComparison.Ordinal);
                if (end < 0)
                    throw JinjaError.Syntax("Missing end of comment tag", lineno);
                FlushData(strip);
                bool stripAfter = end > start && source[end - 1] == '-';
                lineno += CountLines(source, i, end + 2);
                i = end + 2;
                stripNext = stripAfter;
                continue;
            }
            bool isBlock = n == '%';
            int tagStart = i + (isBlock ? 2 : 1);
            bool stripBefore = tagStart < source.Length && source[tagStart] == '-';
            if (stripBefore || (tagStart < source.Length && source[tagStart] == '+'))
                tagStart++;
            FlushData(stripBefore);
            int tagLine = lineno;
            var toks = Tokenize(source, tagStart, lineno, isBlock ? "%}" : "}", out int endPos, out bool stripAfterTag);
            lineno += CountLines(source, i, endPos);
            if (isBlock && toks.Count > 0 && toks[0].Type == TokType.Name && toks[0].Value == "raw")
            {
                // {% raw %} ... {% endraw %}
                int rawEnd = FindEndRaw(source, endPos, out int afterEndRaw, out bool stripRawBefore);
                string raw = source[endPos..rawEnd];
                if (stripAfterTag) raw = raw.TrimStart(' ', '\t', '\n', '\r', '\f', '\v');
                if (stripRawBefore) raw = raw.TrimEnd(' ', '\t', '\n', '\r', '\f', '\v');
                if (raw.Length > 0)
                    pieces.Add(new Piece(PieceKind.Data, raw, [], lineno));
                lineno += CountLines(source, endPos, afterEndRaw);
                i = afterEndRaw;
                continue;
            }
            pieces.Add(new Piece(isBlock ? PieceKind.Block : PieceKind.Var, "", toks, tagLine));
            i = endPos;
            stripNext = stripAfterTag;
        }
        FlushData(false);
        return pieces;
    }

    private static int FindEndRaw(string source, int from, out int after, out bool stripBefore)
    {
        int pos = from;
        while (true)
        {
            int b = source.IndexOf("{%", pos, StringComparison.Ordinal);
            if (b < 0)
                throw JinjaError.Syntax("Missing end of raw directive", 0);
            int j = b + 2;
            stripBefore = j < source.Length && source[j] == '-';
            if (stripBefore) j++;
            while (j < source.Length && IsWs(source[j])) j++;
            if (string.CompareOrdinal(source, j, "endraw", 0, 6) == 0)
            {
                int e = source.IndexOf("%}", j, StringComparison.Ordinal);
                if (e < 0) throw JinjaError.Syntax("Missing end of raw directive", 0);
                after = e + 2;
                return b;
            }
            pos = b + 2;
        }
    }

    private static int CountLines(string s, int from, int to)
    {
        int n = 0;
        for (int k = from; k < to && k < s.Length; k++)
            if (s[k] == '\n') n++;
        return n;
    }

    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}"];

    /// <summary>Tokenizes from <paramref name="start"/> until <paramref name="end"/> (null: end of text).</summary>
    private static List<Token> Tokenize(string s, int start, int lineno, string? end, out int endPos, out bool stripAfter)
    {
        var toks = new List<Token>();
        var balance = new Stack<char>();
        int i = start;
        stripAfter = false;
        while (true)
        {
            while (i < s.Length && IsWs(s[i]))
            {
                if (s[i] == '\n') lineno++;
                i++;
            }
            if (i >= s.Length)
            {
                if (end is null)
                    break;
                throw JinjaError.Syntax($"unexpected end of template, expected '{(end == "%}" ? "end of statement block" : "end of print statement")}'.", lineno);
            }
            if (end is not null && balance.Count == 0)
            {
                if (s[i] == '-' && string.CompareOrdinal(s, i + 1, end, 0, end.Length) == 0)
                {
                    stripAfter = true;
                    endPos = i + 1 + end.Length;
                    toks.Add(new Token(TokType.Eof, "", lineno));
                    return toks;
                }
                if (string.CompareOrdinal(s, i, end, 0, end.Length) == 0)
                {
                    endPos = i + end.Length;
                    toks.Add(new Token(TokType.Eof, "", lineno));
                    return toks;
                }
            }
            char c = s[i];
            if (c == '\'' || c == '"')
            {
                var sb = new StringBuilder();
                int j = i + 1;
                while (true)
                {
                    if (j >= s.Length)
                        throw JinjaError.Syntax("unexpected char " + PyRepr(c) + $" at {i}", lineno);
                    char d = s[j];
                    if (d == c) break;
                    if (d == '\\' && j + 1 < s.Length)
                    {
                        char e = s[j + 1];
                        switch (e)
                        {
                            case 'n': sb.Append('\n'); break;
                            case 't': sb.Append('\t'); break;
                            case 'r': sb.Append('\r'); break;
                            case '\\': sb.Append('\\'); break;
                            case '\'': sb.Append('\''); break;
                            case '"': sb.Append('"'); break;
                            case '0': sb.Append('\0'); break;
                            case '\n': break;
                            case 'x' when j + 3 < s.Length:
                                sb.Append((char)int.Parse(s.AsSpan(j + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                                j += 2;
                                break;
                            case 'u' when j + 5 < s.Length:
                                sb.Append((char)int.Parse(s.AsSpan(j + 2, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                                j += 4;
                                break;
                            default: sb.Append('\\').Append(e); break;
                        }
                        j += 2;
                        continue;
                    }
                    if (d == '\n') lineno++;
                    sb.Append(d);
                    j++;
                }
                toks.Add(new Token(TokType.String, sb.ToString(), lineno, sb.ToString()));
                i = j + 1;
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                int j = i;
                while (j < s.Length && (char.IsAsciiDigit(s[j]) || s[j] == '_')) j++;
                bool isFloat = false;
                if (j + 1 < s.Length && s[j] == '.' && char.IsAsciiDigit(s[j + 1]))
                {
                    isFloat = true;
                    j++;
                    while (j < s.Length && (char.IsAsciiDigit(s[j]) || s[j] == '_')) j++;
                }
                if (j < s.Length && (s[j] == 'e' || s[j] == 'E'))
                {
                    int k = j + 1;
                    if (k < s.Length && (s[k] == '+' || s[k] == '-')) k++;
                    if (k < s.Length && char.IsAsciiDigit(s[k]))
                    {
                        isFloat = true;
                        j = k;
                        while (j < s.Length && char.IsAsciiDigit(s[j])) j++;
                    }
                }
                string text = s[i..j].Replace("_", "");
                if (isFloat)
                    toks.Add(new Token(TokType.Float, text, lineno, double.Parse(text, CultureInfo.InvariantCulture)));
                else
                    toks.Add(new Token(TokType.Integer, text, lineno, long.Parse(text, CultureInfo.InvariantCulture)));
                i = j;
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                int j = i;
                while (j < s.Length && (char.IsLetterOrDigit(s[j]) || s[j] == '_')) j++;
                toks.Add(new Token(TokType.Name, s[i..j], lineno));
                i = j;
                continue;
            }
            string? op = null;
            foreach (var o in Operators)
            {
                if (string.CompareOrdinal(s, i, o, 0, o.Length) == 0)
                {
                    op = o;
                    break;
                }
            }
            if (op is null)
                throw JinjaError.Syntax($"unexpected char {PyRepr(c)} at {i}", lineno);
            if (op is "(" or "[" or "{")
                balance.Push(op[0]);
            else if (op is ")" or "]" or "}")
            {
                if (balance.Count == 0)
                    throw JinjaError.Syntax($"unexpected '{op}'", lineno);
                char open = balance.Pop();
                char expected = open == '(' ? ')' : open == '[' ? ']' : '}';
                if (op[0] != expected)
                    throw JinjaError.Syntax($"unexpected '{op}', expected '{expected}'", lineno);
            }
            toks.Add(new Token(TokType.Op, op, lineno));
            i += op.Length;
        }
        endPos = i;
        toks.Add(new Token(TokType.Eof, "", lineno));
        return toks;
    }

    private static string PyRepr(char c) => Klipsharp.Host.Configuration.PyFormat.Repr(c.ToString());

    // ------------------------------------------------------------ template structure

    private static readonly HashSet<string> KnownTags = ["if", "for", "set", "macro", "filter", "call", "block", "with", "autoescape"];

    /// <summary>Parses nodes until a block tag in <paramref name="endTags"/> (returned in <paramref name="endTag"/>, tokens positioned after the tag name).</summary>
    private List<JinjaNode> ParseBody(string[] endTags, out string? endTag)
    {
        var body = new List<JinjaNode>();
        while (_pieceIdx < _pieces.Count)
        {
            var piece = _pieces[_pieceIdx++];
            switch (piece.Kind)
            {
                case PieceKind.Data:
                    body.Add(new TextNode(piece.Text) { Lineno = piece.Lineno });
                    break;
                case PieceKind.Var:
                {
                    _toks = piece.Tokens;
                    _pos = 0;
                    if (Cur.Type == TokType.Eof)
                        throw JinjaError.Syntax("Expected an expression, got 'end of print statement'", piece.Lineno);
                    var e = ParseTuple(withCondExpr: true);
                    ExpectEof("end of print statement");
                    body.Add(new OutputNode(e) { Lineno = piece.Lineno });
                    break;
                }
                case PieceKind.Block:
                {
                    _toks = piece.Tokens;
                    _pos = 0;
                    if (Cur.Type != TokType.Name)
                        throw JinjaError.Syntax("tag name expected", piece.Lineno);
                    string tag = Cur.Value;
                    if (endTags.Contains(tag))
                    {
                        _pos++;
                        endTag = tag;
                        return body;
                    }
                    _pos++;
                    body.Add(ParseStatement(tag, piece.Lineno, endTags));
                    break;
                }
            }
        }
        endTag = null;
        if (endTags.Length > 0)
            throw JinjaError.Syntax($"Unexpected end of template. Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}. The innermost block that needs to be closed is '{InnerBlock(endTags)}'.", CurrentLine);
        return body;
    }

    private static string InnerBlock(string[] endTags) => endTags.Contains("endif") ? "if" : endTags.Contains("endfor") ? "for"
        : endTags.Contains("endmacro") ? "macro" : "set";

    private JinjaNode ParseStatement(string tag, int lineno, string[] outerEnd)
    {
        switch (tag)
        {
            case "if":
            {
                var node = new IfNode { Lineno = lineno };
                var cond = ParseTuple(withCondExpr: true);
                ExpectEof("end of statement block");
                while (true)
                {
                    var body = ParseBody(["elif", "else", "endif"], out var end);
                    node.Branches.Add((cond, body));
                    if (end == "elif")
                    {
                        cond = ParseTuple(withCondExpr: true);
                        ExpectEof("end of statement block");
                        continue;
                    }
                    if (end == "else")
                    {
                        ExpectEof("end of statement block");
                        node.Else = ParseBody(["endif"], out _);
                    }
                    ExpectEof("end of statement block");
                    return node;
                }
            }
            case "for":
            {
                var targets = new List<string>();
                targets.Add(ExpectName());
                while (AcceptOp(","))
                {
                    if (Cur.Type == TokType.Name && Cur.Value == "in") break;
                    targets.Add(ExpectName());
                }
                if (!(Cur.Type == TokType.Name && Cur.Value == "in"))
                    throw JinjaError.Syntax($"expected 'in', got '{Cur.Value}'", lineno);
                _pos++;
                var iter = ParseTuple(withCondExpr: false);
                JinjaExpression? filter = null;
                if (Cur.Type == TokType.Name && Cur.Value == "if")
                {
                    _pos++;
                    filter = ParseExpressionCond();
                }
                if (Cur.Type == TokType.Name && Cur.Value == "recursive")
                    _pos++;
                ExpectEof("end of statement block");
                var body = ParseBody(["else", "endfor"], out var end);
                List<JinjaNode>? elseBody = null;
                if (end == "else")
                {
                    ExpectEof("end of statement block");
                    elseBody = ParseBody(["endfor"], out _);
                }
                ExpectEof("end of statement block");
                return new ForNode { Targets = targets, Iter = iter, Filter = filter, Body = body, Else = elseBody, Lineno = lineno };
            }
            case "set":
            {
                var targets = new List<string> { ExpectName() };
                string? nsAttr = null;
                if (AcceptOp("."))
                    nsAttr = ExpectName();
                else
                {
                    while (AcceptOp(","))
                        targets.Add(ExpectName());
                }
                if (AcceptOp("="))
                {
                    var value = ParseTuple(withCondExpr: true);
                    ExpectEof("end of statement block");
                    return new SetNode { Targets = targets, NamespaceAttr = nsAttr, Value = value, Lineno = lineno };
                }
                ExpectEof("end of statement block");
                var blockBody = ParseBody(["endset"], out _);
                ExpectEof("end of statement block");
                return new SetNode { Targets = targets, NamespaceAttr = nsAttr, BlockBody = blockBody, Lineno = lineno };
            }
            case "macro":
            {
                string name = ExpectName();
                var ps = new List<(string, JinjaExpression?)>();
                ExpectOp("(");
                while (!AcceptOp(")"))
                {
                    if (ps.Count > 0) ExpectOp(",");
                    if (AcceptOp(")")) break;
                    string pn = ExpectName();
                    JinjaExpression? def = null;
                    if (AcceptOp("=")) def = ParseExpressionCond();
                    ps.Add((pn, def));
                }
                ExpectEof("end of statement block");
                var body = ParseBody(["endmacro"], out _);
                ExpectEof("end of statement block");
                return new MacroNode { Name = name, Params = ps, Body = body, Lineno = lineno };
            }
        }
        if (tag.StartsWith("end", StringComparison.Ordinal) || tag is "elif" or "else")
        {
            string expected = outerEnd.Length > 0 ? $" Jinja was looking for the following tags: {string.Join(" or ", outerEnd.Select(t => $"'{t}'"))}. The innermost block that needs to be closed is '{InnerBlock(outerEnd)}'." : "";
            throw JinjaError.Syntax($"Encountered unknown tag '{tag}'.{expected}", lineno);
        }
        throw JinjaError.Syntax($"Encountered unknown tag '{tag}'.", lineno);
    }

    // ------------------------------------------------------------ expression helpers

    private Token Cur => _toks[_pos];

    private Token Peek(int n = 1) => _toks[Math.Min(_pos + n, _toks.Count - 1)];

    private bool IsOp(string op) => Cur.Type == TokType.Op && Cur.Value == op;

    private bool IsName(string name) => Cur.Type == TokType.Name && Cur.Value == name;

    private bool AcceptOp(string op)
    {
        if (!IsOp(op)) return false;
        _pos++;
        return true;
    }

    private void ExpectOp(string op)
    {
        if (!AcceptOp(op))
            throw JinjaError.Syntax($"expected token '{op}', got '{Describe(Cur)}'", Cur.Lineno);
    }

    private string ExpectName()
    {
        if (Cur.Type != TokType.Name)
            throw JinjaError.Syntax($"expected token 'name', got '{Describe(Cur)}'", Cur.Lineno);
        return _toks[_pos++].Value;
    }

    private void ExpectEof(string what)
    {
        if (Cur.Type != TokType.Eof)
            throw JinjaError.Syntax($"expected token '{what}', got '{Describe(Cur)}'", Cur.Lineno);
    }

    private static string Describe(Token t) => t.Type switch
    {
        TokType.Eof => "end of statement block",
        TokType.String => "string",
        TokType.Integer => "integer",
        TokType.Float => "float",
        _ => t.Value,
    };

    private JinjaExpression ParseTuple(bool withCondExpr, bool explicitParens = false)
    {
        var items = new List<JinjaExpression>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!AcceptOp(","))
                    break;
                isTuple = true;
            }
            if (Cur.Type == TokType.Eof || IsOp(")") || IsOp("]") || IsOp("}") || (IsName("if") && !withCondExpr) || IsName("recursive"))
                break;
            items.Add(withCondExpr ? ParseExpressionCond() : ParseOr());
        }
        if (!isTuple)
        {
            if (items.Count > 0)
                return items[0];
            if (!explicitParens)
                throw JinjaError.Syntax($"Expected an expression, got '{Describe(Cur)}'", Cur.Lineno);
        }
        return new ListExpr(items, isTuple: true);
    }

    private JinjaExpression ParseExpressionCond()
    {
        var expr = ParseOr();
        while (IsName("if"))
        {
            _pos++;
            var cond = ParseOr();
            JinjaExpression? otherwise = null;
            if (IsName("else"))
            {
                _pos++;
                otherwise = ParseExpressionCond();
            }
            expr = new CondExpr(cond, expr, otherwise);
        }
        return expr;
    }

    private JinjaExpression ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            _pos++;
            left = new BinaryExpr("or", left, ParseAnd());
        }
        return left;
    }

    private JinjaExpression ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            _pos++;
            left = new BinaryExpr("and", left, ParseNot());
        }
        return left;
    }

    private JinjaExpression ParseNot()
    {
        if (IsName("not"))
        {
            _pos++;
            return new UnaryExpr("not", ParseNot());
        }
        return ParseCompare();
    }

    private JinjaExpression ParseCompare()
    {
        var expr = ParseMath1();
        var ops = new List<(string, JinjaExpression)>();
        while (true)
        {
            if (Cur.Type == TokType.Op && Cur.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                string op = Cur.Value;
                _pos++;
                ops.Add((op, ParseMath1()));
            }
            else if (IsName("in"))
            {
                _pos++;
                ops.Add(("in", ParseMath1()));
            }
            else if (IsName("not") && Peek().Type == TokType.Name && Peek().Value == "in")
            {
                _pos += 2;
                ops.Add(("notin", ParseMath1()));
            }
            else
                break;
        }
        return ops.Count == 0 ? expr : new CompareExpr(expr, ops);
    }

    private JinjaExpression ParseMath1()
    {
        var left = ParseConcat();
        while (IsOp("+") || IsOp("-"))
        {
            string op = Cur.Value;
            _pos++;
            left = new BinaryExpr(op, left, ParseConcat());
        }
        return left;
    }

    private JinjaExpression ParseConcat()
    {
        var left = ParseMath2();
        while (IsOp("~"))
        {
            _pos++;
            left = new BinaryExpr("~", left, ParseMath2());
        }
        return left;
    }

    private JinjaExpression ParseMath2()
    {
        var left = ParsePow();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
        {
            string op = Cur.Value;
            _pos++;
            left = new BinaryExpr(op, left, ParsePow());
        }
        return left;
    }

    private JinjaExpression ParsePow()
    {
        var left = ParseUnary(true);
        while (IsOp("**"))
        {
            _pos++;
            left = new BinaryExpr("**", left, ParseUnary(true));
        }
        return left;
    }

    private JinjaExpression ParseUnary(bool withFilter)
    {
        JinjaExpression node;
        if (IsOp("-"))
        {
            _pos++;
            node = new UnaryExpr("-", ParseUnary(false));
        }
        else if (IsOp("+"))
        {
            _pos++;
            node = new UnaryExpr("+", ParseUnary(false));
        }
        else
            node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter)
            node = ParseFilterExpr(node);
        return node;
    }

    private JinjaExpression ParsePrimary()
    {
        var t = Cur;
        switch (t.Type)
        {
            case TokType.Name:
                _pos++;
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(true),
                    "false" or "False" => new ConstExpr(false),
                    "none" or "None" => new ConstExpr(null),
                    _ => new NameExpr(t.Value),
                };
            case TokType.String:
            {
                _pos++;
                var sb = new StringBuilder((string)t.Literal!);
                while (Cur.Type == TokType.String)
                    sb.Append((string)_toks[_pos++].Literal!);
                return new ConstExpr(sb.ToString());
            }
            case TokType.Integer:
            case TokType.Float:
                _pos++;
                return new ConstExpr(t.Literal);
            case TokType.Op when t.Value == "(":
            {
                _pos++;
                var e = ParseTuple(withCondExpr: true, explicitParens: true);
                ExpectOp(")");
                return e;
            }
            case TokType.Op when t.Value == "[":
            {
                _pos++;
                var items = new List<JinjaExpression>();
                while (!IsOp("]"))
                {
                    if (items.Count > 0)
                    {
                        ExpectOp(",");
                        if (IsOp("]")) break;
                    }
                    items.Add(ParseExpressionCond());
                }
                ExpectOp("]");
                return new ListExpr(items, isTuple: false);
            }
            case TokType.Op when t.Value == "{":
            {
                _pos++;
                var items = new List<(JinjaExpression, JinjaExpression)>();
                while (!IsOp("}"))
                {
                    if (items.Count > 0)
                    {
                        ExpectOp(",");
                        if (IsOp("}")) break;
                    }
                    var k = ParseExpressionCond();
                    ExpectOp(":");
                    var v = ParseExpressionCond();
                    items.Add((k, v));
                }
                ExpectOp("}");
                return new DictExpr(items);
            }
        }
        throw JinjaError.Syntax($"unexpected '{Describe(t)}'", t.Lineno);
    }

    private JinjaExpression ParsePostfix(JinjaExpression node)
    {
        while (true)
        {
            if (IsOp("."))
            {
                _pos++;
                if (Cur.Type == TokType.Name)
                    node = new GetAttrExpr(node, _toks[_pos++].Value);
                else if (Cur.Type == TokType.Integer)
                    node = new GetItemExpr(node, new ConstExpr(_toks[_pos++].Literal));
                else
                    throw JinjaError.Syntax("expected name or number", Cur.Lineno);
            }
            else if (IsOp("["))
            {
                _pos++;
                node = ParseSubscript(node);
            }
            else if (IsOp("("))
                node = ParseCall(node);
            else
                return node;
        }
    }

    private JinjaExpression ParseSubscript(JinjaExpression node)
    {
        JinjaExpression? start = null, stop = null, step = null;
        bool isSlice = false;
        if (!IsOp(":"))
            start = ParseExpressionCond();
        if (AcceptOp(":"))
        {
            isSlice = true;
            if (!IsOp("]") && !IsOp(":"))
                stop = ParseExpressionCond();
            if (AcceptOp(":") && !IsOp("]"))
                step = ParseExpressionCond();
        }
        ExpectOp("]");
        return isSlice ? new SliceExpr(node, start, stop, step) : new GetItemExpr(node, start!);
    }

    private (List<JinjaExpression>, List<(string, JinjaExpression)>) ParseArgs()
    {
        ExpectOp("(");
        var args = new List<JinjaExpression>();
        var kwargs = new List<(string, JinjaExpression)>();
        while (!IsOp(")"))
        {
            if (args.Count > 0 || kwargs.Count > 0)
            {
                ExpectOp(",");
                if (IsOp(")")) break;
            }
            if (Cur.Type == TokType.Name && Peek().Type == TokType.Op && Peek().Value == "=")
            {
                string name = Cur.Value;
                _pos += 2;
                kwargs.Add((name, ParseExpressionCond()));
            }
            else
            {
                if (kwargs.Count > 0)
                    throw JinjaError.Syntax("invalid syntax for function call expression", Cur.Lineno);
                args.Add(ParseExpressionCond());
            }
        }
        ExpectOp(")");
        return (args, kwargs);
    }

    private JinjaExpression ParseCall(JinjaExpression node)
    {
        var (args, kwargs) = ParseArgs();
        return new CallExpr(node, args, kwargs);
    }

    private JinjaExpression ParseFilterExpr(JinjaExpression node)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                _pos++;
                int line = Cur.Lineno;
                string name = ExpectName();
                while (IsOp(".") && Peek().Type == TokType.Name)
                {
                    _pos++;
                    name += "." + ExpectName();
                }
                List<JinjaExpression> args = new();
                List<(string, JinjaExpression)> kwargs = new();
                if (IsOp("("))
                    (args, kwargs) = ParseArgs();
                node = new FilterExpr(node, name, args, kwargs, line);
            }
            else if (IsName("is"))
            {
                _pos++;
                bool negate = false;
                if (IsName("not"))
                {
                    _pos++;
                    negate = true;
                }
                string name;
                if (Cur.Type == TokType.Name)
                    name = ExpectName();
                else if (Cur.Type == TokType.Op && Cur.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
                    name = _toks[_pos++].Value;
                else
                    throw JinjaError.Syntax("expected test name", Cur.Lineno);
                var args = new List<JinjaExpression>();
                if (IsOp("("))
                    args = ParseArgs().Item1;
                else if (Cur.Type is TokType.Name or TokType.String or TokType.Integer or TokType.Float
                         && !(Cur.Type == TokType.Name && Cur.Value is "else" or "or" or "and" or "is" or "in" or "not" or "if"))
                    args.Add(ParsePostfix(ParsePrimary()));
                node = new TestExpr(node, name, args, negate);
            }
            else if (IsOp("("))
                node = ParseCall(node);
            else
                return node;
        }
    }
}
