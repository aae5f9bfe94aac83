"""JQL engine of the Jira emulator: parser, validator, matcher and sorter.

Standard library only (Python 3.11).  Public interface (the HTTP server codes against it):

    JqlError(messages)              .messages: list[str]; answer 400 {"errorMessages": messages, "errors": {}}
    parse(text) -> Query            Query.where, Query.order_by [(field, "ASC"|"DESC")], Query.bounded
    Context(now, tz, current_user, known_projects, known_fields=None, *,
            known_keys=None, known_values=None, week_start=6)
    validate(query, ctx, strict=True)   raises JqlError with *every* validation message, as Jira
                                    does; strict=False = DC's validateQuery=warn/false
    matches(query, issue, ctx)      validates (cached per ctx) and evaluates one issue
    sort(query, issues, ctx)        ORDER BY, or Jira's default order (key DESC)
    search(jql_or_query, issues, ctx, strict=True) -> list   parse + validate + filter + sort
    UNBOUNDED_MESSAGE               Cloud enhanced search's 400 text for `not query.bounded`

A server should call ``validate`` (or ``search``) once per request: Jira rejects a query with an
unknown project even when no issue would reach the clause, and ``matches`` is never called when
the store is empty.

Grammar (after Jira's Jql.g, as far as ferry needs it)::

    query    := [orExpr] [ORDER BY sortKey ("," sortKey)*] EOF
    orExpr   := andExpr ((OR | "|" | "||") andExpr)*
    andExpr  := notExpr ((AND | "&" | "&&") notExpr)*
    notExpr  := (NOT | "!") notExpr | "(" orExpr ")" | clause
    clause   := field op operand
    field    := string | quoted string | number | cf[<digits>]
    op       := = | != | < | > | <= | >= | ~ | !~ | IN | NOT IN | IS | IS NOT
    operand  := EMPTY | NULL | string | number | function | "(" operand ("," operand)* ")"
    function := name "(" [arg ("," arg)*] ")"
    sortKey  := field [ASC | DESC]      (no direction: the field's default, e.g. created -> DESC)

Keywords and field names are case-insensitive.  Strings are unquoted runs, or "..." / '...'
with the escapes \\' \\" \\t \\n \\r \\\\ '\\ ' and \\uXXXX.

Sources (Atlassian's own code unless marked; "Jira core source" = the public JIRA 6.x copy in the
code corpus, com.atlassian.jira.*):
  [JQLG] Jql.g, the ANTLR grammar: tokens, keywords (IN IS AND OR NOT EMPTY NULL WAS CHANGED
         BEFORE AFTER FROM TO ON DURING ORDER BY ASC DESC cf), reserved characters { } * / % + ^ $
         # @ ? ; , which errors are raised where.  The whole query is lexed before parsing.
  [TJP]  func test webtests.ztests.navigator.jql.TestJqlParsing (6.2+): every "Error in the JQL
         Query: ..." text below (operators, operands, lists, functions, ORDER BY, cf[], quotes,
         escapes, reserved characters/words, numbers), "Unable to find JQL function 'bogus()'.",
         "Function 'now' expected '0' arguments but received '1'.", "Duration for function
         'startOfDay' should have the format (+/-)n(yMwdm), e.g -1M for 1 month earlier.", the
         unsupported-predicate text, and the date message for predicates.
  [JPEM] jql.parser.JqlParseErrorMessages: positions are (line, 1-based character).
  [TOUV] jql.validator.TestDefaultOperatorUsageValidator: "Operator 'in' does not support the
         non-list value ...", "... the list value ...", "... the empty value representation 'EMPTY'
         ...", "Operator 'is' does not support searching for non-empty values for field ...".
  [TSOV] TestSupportedOperatorsValidator: "The operator '<=' is not supported by the 'project' field."
  [TOBV] TestDefaultOrderByValidator: "Not able to sort using field 'notfound'.", "Field 'x' does
         not support sorting.", "The sort field 'x' is referenced multiple times in the JQL sort."
         (+ " Field 'y' is an alias for field 'x'.")
  [TINP] func test TestIssueNavigatorProjectComponentsVisibility: "A value with ID '99999' does not
         exist for the field 'project'." -- one message per clause, all collected.
  [NOTES] shared/jira-reference/API-NOTES.md s.2 and s.16.9: "Date value '...' for field 'updated'
         is invalid. Valid formats include: ..." (the same text is in TestJqlParsing for predicates).
  [JDS]  jql.util.JqlDateSupportImpl, atlassian-core DateUtils, plugin.jql.function.*DateFunction:
         date formats, durations, functions (see parse_date, _date_function).
  [LU]   util.LuceneUtils.dateToString: date-times are indexed as seconds (getTime() / 1000),
         null as Long.MAX_VALUE "which causes nulls to sort to the end".
  [SSU]  issue.search.util.SearchSortUtilImpl.DEFAULT_KEY_SORT: no ORDER BY = key DESC; the
         *SystemField constructors / getDefaultSortOrder: created, updated, resolutiondate, status,
         creator, priority default to DESC, key to ASC.
  [M10]  a public cheat sheet of answers measured on Jira Server 10.3.19 (2026): "The operator '='
         / '!~' is not supported by the 'text' field.", "Unable to parse the text 'AND' for field
         'text'.", "The field 'text' does not support searching for an empty string.", words in
         `~` are AND-ed, "Not able to sort using field 'bogus'.", key/project values are
         case-insensitive, `resolution = Unresolved` equals `resolution IS EMPTY`.
  [OBS]  client code quoting real Jira answers (several independent repositories agree):
         "Error in JQL Query: Expecting either a value, list or function but got ')'. You must
         surround ')' in quotation marks to use it as a value. (line 1, character 11)" -- this one
         message has no "the" (TestJqlParsing only checks the text after the prefix),
         "Field 'x' does not exist or you do not have permission to view it.",
         "The value 'X' does not exist for the field 'project'.",
         "An issue with key 'X' does not exist for field 'key'.",
         "The issue key 'X' for field 'key' is invalid.",
         "Operator '>' cannot be applied to moved issue key 'X'.",
         "A value provided by the function 'currentUser' is invalid for the field 'assignee'.",
         "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
  [INF]  inferred from a sibling message, not seen verbatim: "Function 'x' expected between '0'
         and '1' arguments but received 'n'.", "A date for the field 'created' provided by the
         function 'currentUser' is not valid.", "The value 'X' does not exist for the field
         'status'." (same text as project's), "A value with ID 'n' does not exist for the field
         'status'.".

Dates: every comparison and date sort is on whole seconds since the epoch, as Jira's
LuceneUtils.dateToString indexes them (so `updated > "2024-01-02 10:15"` skips 10:15:00.500 and
an epoch-millisecond operand stands for its whole second); empty dates sort last ascending.

Default order without ORDER BY: key DESC [SSU] (Jira orders free-text queries by relevance
instead -- not emulated, they get key DESC too).  Ties: id ascending.

Not supported (a 400 whose message says "not supported by the Jira emulator", or a documented
simplification): WAS / CHANGED and history predicates, entity properties (issue.property[...]),
functions other than now, currentUser, startOf*/endOf* (Day, Week, Month, Year); sprint, fixVersion,
component, due and the other fields not in FIELDS (they are "Field ... does not exist" unless named
in ``known_fields``).  Text search (~) is a small subset of Lucene, see _text_query.  Status, issue
type and resolution sort by name (Jira: by their configured order).
"""
from __future__ import annotations

import datetime as _dt
import re

__all__ = ["JqlError", "Query", "Context", "parse", "validate", "matches", "sort", "search",
           "UNBOUNDED_MESSAGE", "FIELDS"]

PREFIX = "Error in the JQL Query: "                                           # [TJP]
PREFIX_BAD_OPERAND = "Error in JQL Query: "                                   # [OBS], see _bad_operand
UNBOUNDED_MESSAGE = ("Unbounded JQL queries are not allowed here. "
                     "Please add a search restriction to your query.")      # [OBS]
VALID_OPERATORS = ("The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', "
                   "'IN', 'NOT IN', 'IS' and 'IS NOT'.")                        # [TJP]
VALID_ESCAPES = ("The valid escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' "
                 "and \\uXXXX.")                                                # [TJP]
DATE_FORMATS = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
                "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")        # [NOTES][TJP]

# Words Jira reserves although JQL does not use them (TestJqlParsing's copy of
# JqlStringSupportImpl.RESERVED_WORDS minus the JQL keywords).  Unquoted, they are a 400. [TJP]
RESERVED_WORDS = frozenset("""
abort access add alias all alter any as audit avg begin between boolean break byte catch char
character check checkpoint collate collation column commit connect continue count create current
date decimal declare decrement default defaults define delete delimiter difference distinct divide
do double drop else encoding end equals escape exclusive exec execute exists explain false fetch
file field first float for function go goto grant greater group having identified if immediate
increment index initial inner inout input insert int integer intersect intersection into isempty
isnull join last left less like limit lock long max min minus mode modify modulo more multiply
next noaudit notin nowait number object of option outer output power previous prior privileges
public raise raw remainder rename resource return returns revoke right row rowid rownum rows select
session set share size sqrt start strict string subtract sum synonym table then trans transaction
trigger true uid union unique update user validate values view when whenever where while with
""".split())

# Words that are tokens of Jql.g (not STRING): unquoted they cannot be a field name or a value.
KEYWORDS = frozenset(["and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc",
                      "desc", "was", "changed", "before", "after", "from", "to", "on", "during",
                      "cf"])
_PREDICATES = frozenset(["from", "to", "by", "before", "after", "on", "during"])

RESERVED_CHARS = set("{}*/%+^$#@?;")                         # JqlStringSupportImpl [TJP examples]
_STOP_CHARS = set(" \t\n\r\"'=!<>()~,[]|&") | RESERVED_CHARS     # Jql.g STRINGSTOP + WS
_WS = " \t\n\r"                                                 # Jql.g WS
LONG_MIN, LONG_MAX = -(2 ** 63), 2 ** 63 - 1


class JqlError(Exception):
    """A JQL problem Jira answers with 400 {"errorMessages": messages, "errors": {}}."""

    def __init__(self, messages):
        if isinstance(messages, str):
            messages = [messages]
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


# --------------------------------------------------------------------------- AST

class Operand:
    """kind: 'string' | 'number' | 'empty' | 'func' | 'list'."""
    __slots__ = ("kind", "value", "quoted", "pos", "args", "items")

    def __init__(self, kind, value=None, quoted=False, pos=0, args=None, items=None):
        self.kind, self.value, self.quoted, self.pos = kind, value, quoted, pos
        self.args, self.items = args or [], items or []

    def display(self):
        if self.kind == "empty":
            return "EMPTY"
        if self.kind == "func":
            return "%s(%s)" % (self.value, ", ".join(self.args))
        if self.kind == "list":
            return "(%s)" % ", ".join(i.display() for i in self.items)
        if self.kind == "string":   # SingleValueOperand.getDisplayString quotes every string
            return '"%s"' % self.value
        return str(self.value)

    def __repr__(self):
        return "Operand(%s)" % self.display()


class Clause:
    __slots__ = ("field", "op", "operand", "pos")

    def __init__(self, field, op, operand, pos):
        self.field, self.op, self.operand, self.pos = field, op, operand, pos

    def __repr__(self):
        return "Clause(%r %s %s)" % (self.field, self.op, self.operand.display())


class And:
    __slots__ = ("children",)

    def __init__(self, children):
        self.children = children

    def __repr__(self):
        return "And(%s)" % ", ".join(map(repr, self.children))


class Or:
    __slots__ = ("children",)

    def __init__(self, children):
        self.children = children

    def __repr__(self):
        return "Or(%s)" % ", ".join(map(repr, self.children))


class Not:
    __slots__ = ("child",)

    def __init__(self, child):
        self.child = child

    def __repr__(self):
        return "Not(%r)" % (self.child,)


class Query:
    """``where``: And/Or/Not/Clause tree or None; ``order_by``: [(field as written, "ASC"|"DESC")];
    ``bounded``: False when nothing restricts the search (empty JQL, or only ORDER BY)."""

    def __init__(self, text, where, order_by):
        self.text = text
        self.where = where
        self.order_by = order_by
        self.bounded = where is not None
        self.messages = []      # validation messages of the last validate()
        self._cache = None      # (ctx, compiled predicate, messages)
        self._lenient = None    # the ctx for which validate(strict=False) was called

    def __repr__(self):
        return "Query(where=%r, order_by=%r)" % (self.where, self.order_by)


class Context:
    """What a search knows about the site and the searching user.

    now: aware datetime (site clock).  tz: zoneinfo.ZoneInfo of the searching user.
    current_user: user name / accountId or None (anonymous).
    known_projects: {lower-cased key, name and str(id): project key}.
    known_fields: optional iterable of extra (custom) field names or "cf[NNNNN]" ids; their values are
        read from issue["custom"][name] (or issue[name]) and compared as strings.
    known_keys (emulator extension): optional {UPPER-CASED key (current and old): current key}; when
        given, `key = X` for a key that does not exist is Jira's 400, and a relational operator on a
        moved (old) key is Jira's 400.  None = no existence check.
    known_values (emulator extension): optional {"issuetype"|"status"|"priority"|"resolution":
        iterable of names}; when given, unknown names are Jira's 400.  For "priority" give the names
        highest first; that order is used by `priority > X` and ORDER BY priority.
    week_start: first day of the week for startOfWeek()/endOfWeek(), 0 = Monday ... 6 = Sunday.
        Jira's StartOfWeekFunction uses `new GregorianCalendar()`, i.e. the server JVM's default
        locale; 6 (Sunday) is what an en_US JVM gives.
    """

    def __init__(self, now, tz, current_user, known_projects, known_fields=None, *,
                 known_keys=None, known_values=None, week_start=6):
        if now.tzinfo is None:
            raise ValueError("Context.now must be an aware datetime")
        self.now = now
        self.tz = tz
        self.current_user = current_user
        self.known_projects = {str(k).lower(): v for k, v in (known_projects or {}).items()}
        self.known_fields = {str(f).lower(): f for f in (known_fields or ())}
        self.known_keys = (None if known_keys is None
                           else {str(k).upper(): v for k, v in known_keys.items()})
        self.known_values = {k.lower(): list(v) for k, v in (known_values or {}).items()}
        self.week_start = week_start


# --------------------------------------------------------------------------- lexer

class _Tok:
    __slots__ = ("kind", "text", "pos", "error")

    # kind: STR (unquoted), QSTR, NUM, OP, LPAREN, RPAREN, COMMA, LBRACKET, RBRACKET,
    #       BANG, AND, OR, EOF, ERR (error is raised when the parser reaches the token)
    def __init__(self, kind, text, pos, error=None):
        self.kind, self.text, self.pos, self.error = kind, text, pos, error

    def kw(self):
        """The keyword this token is, or None (only unquoted strings are keywords)."""
        if self.kind == "STR" and self.text.lower() in KEYWORDS:
            return self.text.lower()
        return None

    def __repr__(self):
        return "%s:%r@%d" % (self.kind, self.text, self.pos)


def _is_control(c):
    o = ord(c)
    return (o <= 0x1f and c not in "\n\r") or 0x7f <= o <= 0x9f or 0xfdd0 <= o <= 0xfdef \
        or o in (0xfffe, 0xffff)


class _Lexer:
    def __init__(self, text):
        self.s = text

    def where(self, pos):
        """' (line L, character C)' -- 1-based, as JqlParseErrorMessages.Position. [JPEM]"""
        line = self.s.count("\n", 0, pos) + 1
        col = pos - (self.s.rfind("\n", 0, pos) + 1) + 1
        return " (line %d, character %d)" % (line, col)

    def err(self, pos, msg):
        return PREFIX + msg + self.where(pos)

    def tokens(self):
        s, i, n, out = self.s, 0, len(self.s), []
        while True:
            while i < n and s[i] in _WS:
                i += 1
            if i >= n:
                out.append(_Tok("EOF", "", n))
                return out
            c = s[i]
            two = s[i:i + 2]
            if two in ("!=", "<=", ">=", "!~"):
                out.append(_Tok("OP", two, i)); i += 2; continue
            if two in ("&&", "||"):
                out.append(_Tok("AND" if c == "&" else "OR", two, i)); i += 2; continue
            if c in "=<>~":
                out.append(_Tok("OP", c, i)); i += 1; continue
            simple = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", "[": "LBRACKET",
                      "]": "RBRACKET", "!": "BANG", "&": "AND", "|": "OR"}
            if c in simple:
                out.append(_Tok(simple[c], c, i)); i += 1; continue
            if c in "\"'":
                tok, i = self._quoted(i)
            else:
                tok, i = self._unquoted(i)
            if tok.kind == "ERR":
                # ANTLR 3's CommonTokenStream lexes the whole query before the parser runs, so a
                # lexical error anywhere wins over a syntax error earlier in the text.
                raise JqlError(tok.error)
            out.append(tok)

    def _char_error(self, pos, ch):
        esc = "\\u%04x" % ord(ch)
        if _is_control(ch):
            printable = "TAB" if ch == "\t" else "U+%04X" % ord(ch)
            line = self.s.count("\n", 0, pos) + 1
            col = pos - (self.s.rfind("\n", 0, pos) + 1) + 1
            return self.err(pos, "The character '%s' on line %d at position %d must be escaped. "
                                 "Use the escape '%s' instead." % (printable, line, col, esc))
        return self.err(pos, "The character '%s' is a reserved JQL character. You must enclose "
                             "it in a string or use the escape '%s' instead." % (ch, esc))

    def _escape(self, i):
        """s[i] == '\\'.  Returns (char, next index) or raises _LexFail."""
        s, n = self.s, len(self.s)
        if i + 1 >= n:
            raise _LexFail(self.err(i, "The escape sequence has not been completed. " + VALID_ESCAPES))
        e = s[i + 1]
        simple = {"'": "'", '"': '"', "t": "\t", "n": "\n", "r": "\r", "\\": "\\", " ": " "}
        if e in simple:
            return simple[e], i + 2
        if e == "u":
            hexd = ""
            j = i + 2
            while j < n and len(hexd) < 4 and s[j] in "0123456789abcdefABCDEF":
                hexd += s[j]; j += 1
            if len(hexd) == 4:
                return chr(int(hexd, 16)), j
            bad = s[i:j + 1] if j < n else s[i:j]
            raise _LexFail(self.err(i, "'%s' is an illegal JQL escape sequence. %s"
                                    % (bad.replace("\n", " "), VALID_ESCAPES)))
        raise _LexFail(self.err(i, "'%s' is an illegal JQL escape sequence. %s"
                                % (s[i:i + 2].replace("\n", " "), VALID_ESCAPES)))

    def _quoted(self, start):
        s, n = self.s, len(self.s)
        q = s[start]
        i, buf = start + 1, []
        try:
            while True:
                if i >= n:
                    # unfinished: Jql.g lets newlines into quoted strings, so it runs to the end
                    # of the query; JqlParseErrorMessages shows newlines as spaces
                    cur = "".join(buf).replace("\n", " ").replace("\r", " ")
                    if not cur.strip():
                        msg = "The quoted string has not been completed."
                    else:
                        msg = "The quoted string '%s' has not been completed." % cur
                    return _Tok("ERR", "", start, self.err(start, msg)), n
                c = s[i]
                if c == q:
                    return _Tok("QSTR", "".join(buf), start), i + 1
                if c == "\\":
                    ch, i = self._escape(i)
                    buf.append(ch)
                    continue
                if _is_control(c):
                    return _Tok("ERR", "", i, self._char_error(i, c)), n
                buf.append(c)
                i += 1
        except _LexFail as f:
            return _Tok("ERR", "", start, f.message), n

    def _unquoted(self, start):
        s, n = self.s, len(self.s)
        i, buf = start, []
        try:
            while i < n:
                c = s[i]
                if c == "\\":
                    ch, i = self._escape(i)
                    buf.append(ch)
                    continue
                if c in _WS:
                    break
                if c in RESERVED_CHARS or _is_control(c):
                    return _Tok("ERR", "", i, self._char_error(i, c)), n
                if c in _STOP_CHARS:
                    break
                buf.append(c)
                i += 1
        except _LexFail as f:
            return _Tok("ERR", "", start, f.message), n
        text = "".join(buf)
        if text.lower() in RESERVED_WORDS:          # Jql.g STRING -> checkAndSet()
            return _Tok("ERR", "", start, self.err(start, (
                "'%s' is a reserved JQL word. You must surround it in quotation marks to use it "
                "in a query.") % text)), n
        if re.fullmatch(r"-?\d+", text):
            v = int(text)
            if not LONG_MIN <= v <= LONG_MAX:
                return _Tok("ERR", "", start, self.err(start, (
                    "'%s' is not a valid number. Numbers must be between "
                    "-9,223,372,036,854,775,808 and 9,223,372,036,854,775,807.") % text)), n
            return _Tok("NUM", text, start), i
        return _Tok("STR", text, start), i


class _LexFail(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- parser

class _Parser:
    def __init__(self, text):
        self.lx = _Lexer(text)
        self.toks = self.lx.tokens()
        self.i = 0

    # -- helpers
    def peek(self, k=0):
        j = min(self.i + k, len(self.toks) - 1)
        t = self.toks[j]
        if t.kind == "ERR" and k == 0:
            raise JqlError(t.error)
        return t

    def next(self):
        t = self.peek()
        self.i += 1
        return t

    def fail(self, tok, msg_got, msg_eof, prefix=PREFIX):
        """Raise "Expecting ... but got 'x'. (pos)" or, at EOF, the end-of-query variant."""
        if tok.kind == "EOF":
            raise JqlError(prefix + msg_eof)
        raise JqlError(prefix + (msg_got % _shown(tok)) + self.lx.where(tok.pos))

    # -- grammar
    def query(self):
        where = None
        if not (self.peek().kw() == "order"):
            if self.peek().kind != "EOF":
                where = self.or_expr()
        order = []
        t = self.peek()
        if t.kw() == "order":
            self.next()
            order = self.order_by()
            t = self.peek()
        if t.kind != "EOF":
            self.fail(t, "Expecting either 'OR' or 'AND' but got '%s'.", "")
        return where, order

    def or_expr(self):
        items = [self.and_expr()]
        while self.peek().kind == "OR" or self.peek().kw() == "or":
            self.next()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(items)

    def and_expr(self):
        items = [self.not_expr()]
        while self.peek().kind == "AND" or self.peek().kw() == "and":
            self.next()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(items)

    def not_expr(self):
        t = self.peek()
        if t.kind == "BANG" or t.kw() == "not":
            self.next()
            return Not(self.not_expr())
        if t.kind == "LPAREN":
            self.next()
            e = self.or_expr()
            t = self.peek()
            if t.kind != "RPAREN":
                self.fail(t, "Expecting ')' but got '%s'.", "Expecting ')' before the end of the query.")
            self.next()
            return e
        return self.clause()

    def field(self):
        t = self.peek()
        if t.kind == "EOF":
            raise JqlError(PREFIX + "Expecting a field name at the end of the query.")
        if t.kind == "LBRACKET":
            raise JqlError(PREFIX + "Expecting a field name but got '['. Did you mean 'cf['?"
                           + self.lx.where(t.pos))
        if t.kind == "QSTR":
            self.next()
            if not t.text.strip():
                raise JqlError(PREFIX + "A field name cannot be empty." + self.lx.where(t.pos))
            return t.text, t.pos
        if t.kind == "NUM":
            self.next()
            return t.text, t.pos
        if t.kw() == "cf":
            self.next()
            return self.custom_field(t), t.pos
        if t.kind == "STR" and not t.kw():
            self.next()
            return t.text, t.pos
        raise JqlError(PREFIX + "Expecting a field name but got '%s'. You must surround '%s' in "
                       "quotation marks to use it as a field name." % (_shown(t), _shown(t))
                       + self.lx.where(t.pos))

    def custom_field(self, cf_tok):
        t = self.peek()
        if t.kind != "LBRACKET":
            self.fail(t, "Expecting '[' but got '%s'.", "Expecting '[' before the end of the query.")
        self.next()
        t = self.peek()
        if t.kind != "NUM" or t.text.startswith("-"):
            self.fail(t, "Expecting a custom field id (a positive number) but got '%s'.",
                      "Expecting a custom field id (a positive number) before the end of the query.")
        self.next()
        num = t.text
        t = self.peek()
        if t.kind != "RBRACKET":
            self.fail(t, "Expecting ']' but got '%s'.", "Expecting ']' before the end of the query.")
        self.next()
        return "%s[%s]" % (cf_tok.text, num)

    def operator(self):
        t = self.peek()
        if t.kind == "OP":
            self.next()
            return t.text
        kw = t.kw()
        if kw == "in":
            self.next()
            return "in"
        if kw == "not":
            self.next()
            t2 = self.peek()
            if t2.kw() != "in":
                self.fail(t2, "Expecting 'IN' but got '%s'.", "Expecting 'IN' before the end of the query.")
            self.next()
            return "not in"
        if kw == "is":
            self.next()
            t2 = self.peek()
            if t2.kw() == "not":
                self.next()
                return "is not"
            if t2.kind == "BANG":
                self.fail(t2, "Expecting 'NOT' but got '%s'.", "")
            return "is"
        if kw in ("was", "changed"):
            raise JqlError("The JQL history operator '%s' is not supported by the Jira emulator."
                           % t.text.upper())
        self.fail(t, "Expecting operator but got '%s'. " + VALID_OPERATORS,
                  "Expecting operator before the end of the query. " + VALID_OPERATORS)

    def clause(self):
        name, pos = self.field()
        if self.peek().kind == "LBRACKET" or (self.peek().kind == "STR"
                                              and self.peek().text.startswith(".")):
            raise JqlError("Entity property searches (%s...) are not supported by the Jira "
                           "emulator." % name)
        op = self.operator()
        operand = self.operand()
        t = self.peek()
        if t.kw() in _PREDICATES:
            # Jql.g parses history predicates after any operator and then rejects them
            self.next()
            pred = self.operand()
            raise JqlError(PREFIX + "The %s operator does not support the use of the %s %s "
                           "predicate." % (_OP_NAMES.get(op, op), t.text.lower(),
                                           _pred_display(pred)))  # [TJP] (substring)
        return Clause(name, op, operand, pos)

    def _bad_operand(self, t):
        # jql.parse.bad.operand(.eof) alone reads "Error in JQL Query:" (no "the") in every real
        # answer quoted in the corpus (Cloud 2021-2026, several independent clients) [OBS]
        self.fail(t, "Expecting either a value, list or function but got '%s'. You must surround '"
                  + _shown(t).replace("%", "%%") + "' in quotation marks to use it as a value.",
                  "Expecting either a value, list or function before the end of the query.",
                  prefix=PREFIX_BAD_OPERAND)

    def operand(self, level=0):
        t = self.peek()
        if t.kind == "LPAREN":
            self.next()
            items = [self.operand(level + 1)]
            while self.peek().kind == "COMMA":
                self.next()
                items.append(self.operand(level + 1))
            t = self.peek()
            if t.kind != "RPAREN":
                self.fail(t, "Expecting ')' but got '%s'.", "Expecting ')' before the end of the query.")
            self.next()
            return Operand("list", items=items, pos=items[0].pos if items else t.pos)
        if t.kind == "NUM":
            self.next()
            self._after_value(level)
            return Operand("number", int(t.text), pos=t.pos, quoted=False)
        if t.kind == "STR":
            kw = t.kw()
            if kw in ("empty", "null"):
                self.next()
                return Operand("empty", t.text, pos=t.pos)
            if kw:
                self._bad_operand(t)
            self.next()
            if self.peek().kind == "LPAREN":
                return self.function(t)
            self._after_value(level)
            return Operand("string", t.text, pos=t.pos)
        if t.kind == "QSTR":
            self.next()
            if self.peek().kind == "LPAREN":
                if not t.text.strip():
                    raise JqlError(PREFIX + "A function name cannot be empty." + self.lx.where(t.pos))
                return self.function(t)
            self._after_value(level)
            return Operand("string", t.text, quoted=True, pos=t.pos)
        self._bad_operand(t)

    def _after_value(self, level):
        """Jql.g's operand DFA accepts a string/number only before EOF, OR, AND, ')', ',', ORDER
        or a history predicate; anything else is "need a logical operator" at the top level and
        "need ',' or ')'" inside a list (the HACKETY HACK in Jql.g's operand rule)."""
        t = self.peek()
        if t.kind in ("EOF", "OR", "AND", "RPAREN", "COMMA") or t.kw() in ("and", "or", "order") \
                or t.kw() in _PREDICATES:
            return
        if level > 0:
            self.fail(t, "Expecting ',' or ')' but got '%s'.", "")
        self.fail(t, "Expecting either 'OR' or 'AND' but got '%s'.", "")

    def function(self, name_tok):
        self.next()  # "("
        args = []
        t = self.peek()
        if t.kind == "RPAREN":
            self.next()
            return Operand("func", name_tok.text, pos=name_tok.pos, args=args)
        if t.kind == "COMMA":
            self.fail(t, "Expecting ')' but got '%s'.", "")
        while True:
            t = self.peek()
            if t.kind in ("STR", "QSTR", "NUM") and not (t.kind == "STR" and t.kw()):
                self.next()
                args.append(t.text)
            elif t.kind == "EOF":
                if args:
                    raise JqlError(PREFIX + "Expecting a function argument at the end of the query.")
                raise JqlError(PREFIX + "Expecting ')' before the end of the query.")
            elif t.kind in ("RPAREN", "COMMA") and args:
                raise JqlError(PREFIX + "Function argument must be specified." + self.lx.where(t.pos))
            else:
                raise JqlError(PREFIX + "Expecting a function argument but got '%s'. You must "
                               "surround '%s' in quotation marks to use it as an argument."
                               % (_shown(t), _shown(t)) + self.lx.where(t.pos))
            t = self.peek()
            if t.kind == "RPAREN":
                self.next()
                return Operand("func", name_tok.text, pos=name_tok.pos, args=args)
            if t.kind == "COMMA":
                self.next()
                continue
            self.fail(t, "Expecting ')' or ',' but got '%s'.", "Expecting ')' before the end of the query.")

    def order_by(self):
        t = self.peek()
        if t.kw() != "by":
            self.fail(t, "Expecting 'by' but got '%s'.", "Expecting 'by' before the end of the query.")
        self.next()
        out = []
        while True:
            name, _pos = self.field()
            t = self.peek()
            direction = None
            if t.kw() in ("asc", "desc"):
                self.next()
                direction = t.text.upper()
                t = self.peek()
                if t.kind not in ("COMMA", "EOF"):
                    self.fail(t, "Expecting ',' but got '%s'.", "")
            elif t.kind not in ("COMMA", "EOF"):
                self.fail(t, "Expecting either 'ASC' or 'DESC' but got '%s'.", "")
            out.append((name, direction or _default_direction(name)))
            if t.kind == "COMMA":
                self.next()
                continue
            return out


_OP_NAMES = {"=": "EQUALS", "!=": "NOT_EQUALS", "~": "LIKE", "!~": "NOT_LIKE", "<": "LESS_THAN",
             ">": "GREATER_THAN", "<=": "LESS_THAN_EQUALS", ">=": "GREATER_THAN_EQUALS",
             "in": "IN", "not in": "NOT_IN", "is": "IS", "is not": "IS_NOT"}


def _pred_display(od):
    return od.display()


def _shown(tok):
    return tok.text.replace("\n", " ").replace("\r", " ")


def parse(text):
    """Parse JQL; raises JqlError with Jira's parse message."""
    if text is None:
        text = ""
    where, order = _Parser(text).query()
    return Query(text, where, order)


# --------------------------------------------------------------------------- fields

# canonical name -> kind.  Aliases map to canonical names (Jira's clause names).
FIELDS = {
    "project": "project", "key": "key", "issuetype": "constant", "status": "constant",
    "statuscategory": "statuscategory", "priority": "priority", "resolution": "resolution",
    "labels": "labels", "summary": "text", "description": "text", "environment": "text",
    "comment": "text", "text": "alltext", "assignee": "user", "reporter": "user", "creator": "user",
    "created": "date", "updated": "date", "resolutiondate": "date", "parent": "parent",
}
ALIASES = {"issuekey": "key", "issue": "key", "id": "key", "type": "issuetype",
           "createddate": "created", "updateddate": "updated", "resolved": "resolutiondate"}
# Jira NavigableField default sort orders (source: Jira core *SystemField constructors).
_DESC_BY_DEFAULT = {"created", "updated", "resolutiondate", "status", "creator", "priority"}
_UNSORTABLE = {"text", "comment", "description", "environment"}

_EQ_OPS = {"=", "!=", "in", "not in", "is", "is not"}
_REL_OPS = {"<", ">", "<=", ">="}
_SUPPORTED_OPS = {
    "project": _EQ_OPS, "key": _EQ_OPS | _REL_OPS, "constant": _EQ_OPS,
    "statuscategory": _EQ_OPS, "priority": _EQ_OPS | _REL_OPS, "resolution": _EQ_OPS,
    "labels": _EQ_OPS, "text": {"~", "!~", "is", "is not"}, "alltext": {"~"}, "user": _EQ_OPS,
    "date": _EQ_OPS | _REL_OPS, "parent": {"=", "!=", "in", "not in"},
    "custom": _EQ_OPS | {"~", "!~"},
}
_STATUS_CATEGORIES = {"to do": "To Do", "new": "To Do", "2": "To Do",
                      "in progress": "In Progress", "indeterminate": "In Progress", "4": "In Progress",
                      "done": "Done", "3": "Done", "no category": "No Category",
                      "undefined": "No Category", "1": "No Category"}
_DEFAULT_PRIORITIES = [["Highest", "High", "Medium", "Low", "Lowest"],
                       ["Blocker", "Critical", "Major", "Minor", "Trivial"]]
_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)")


def _canonical(name, ctx=None):
    low = name.lower()
    low = ALIASES.get(low, low)
    if low in FIELDS:
        return low, FIELDS[low]
    if ctx is not None and low in ctx.known_fields:
        return low, "custom"
    return None, None


def _default_direction(name):
    canon, _kind = _canonical(name)
    return "DESC" if canon in _DESC_BY_DEFAULT else "ASC"


def _split_key(key):
    m = _KEY_RE.fullmatch(key or "")
    if not m:
        return (str(key or "").upper(), -1)
    return (m.group(1).upper(), int(m.group(2)))


# --------------------------------------------------------------------------- dates

_ABS_DATE = re.compile(r"(\d{4,})([/-])(\d{1,2})\2(\d{1,2})(?: (\d{1,2}):(\d{1,2}))?")
_DURATION_TOKEN = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(.+)")
_UNIT_SECONDS = {"m": ("minute", 60), "h": ("hour", 3600), "d": ("day", 86400),
                 "w": ("week", 7 * 86400)}
_UTC = _dt.timezone.utc


def _seconds(d):
    """Aware datetime -> whole seconds since the epoch, truncated toward zero like Java's
    ``date.getTime() / 1000`` (LuceneUtils.dateToString)."""
    ms = (d - _EPOCH) // _dt.timedelta(milliseconds=1)
    return ms // 1000 if ms >= 0 else -((-ms) // 1000)


def _utc(d):
    """Every instant is compared in UTC: Python compares two datetimes of the *same* tzinfo by wall
    time (ignoring fold) and calls inter-zone datetimes in a repeated hour unequal (PEP 495)."""
    return None if d is None else d.astimezone(_UTC)


def _wall_to_instant(naive, tz, strict):
    """Wall time in ``tz`` -> aware datetime, resolving DST as Jira (Java) does.

    Jira DC parses JQL dates with a non-lenient java.text.SimpleDateFormat (JqlDateSupportImpl),
    whose GregorianCalendar resolves a wall time with ZoneInfo.getOffsetsByWall:
      * a wall time that happens twice (clocks go back) takes the offset in force *after* the
        transition, i.e. standard time -- the later instant (01:30 on the New York fall-back day
        is 01:30 EST = 06:30Z);
      * a wall time in the gap (clocks go forward) gets the offset before the gap; the non-lenient
        calendar then sees its hour change (02:30 -> 03:30) and rejects it, so with ``strict`` it
        is not a date at all (the 400 "Date value ... is invalid").  Lenient callers (the
        startOf*/endOf* functions use a lenient Calendar) get the shifted instant.
    Derived from Jira's and the JDK's sources; not observed on a live server."""
    a0 = naive.replace(tzinfo=tz, fold=0)
    a1 = naive.replace(tzinfo=tz, fold=1)
    if a0.utcoffset() == a1.utcoffset():
        return a0.astimezone(_UTC)
    if a0.astimezone(_UTC).astimezone(tz).replace(tzinfo=None) != naive:   # in the gap
        return None if strict else a0.astimezone(_UTC)
    return a1.astimezone(_UTC)                                              # repeated hour


def _duration_seconds(text):
    """atlassian-core DateUtils.getDurationSeconds with minutes as the default unit, 24-hour days
    and 7-day weeks (what JqlDateSupportImpl uses).  None if invalid."""
    s = text.strip().lower()
    if not s:
        return 0
    if " " in s:
        total = 0
        for tok in re.split(r"[, ]+", s):
            if tok:
                v = _duration_seconds(tok)
                if v is None:
                    return None
                total += v
        return total
    if re.fullmatch(r"[+-]?\d+", s):               # Long.parseLong: a bare number is minutes
        return int(s) * 60
    m = _DURATION_TOKEN.fullmatch(s)
    if not m or m.group(2)[0] not in _UNIT_SECONDS:
        return None
    name, unit = _UNIT_SECONDS[m.group(2)[0]]
    if len(m.group(2)) > 1 and name not in m.group(2):   # "2days", "3hours" ...
        return None
    from decimal import Decimal
    seconds = Decimal(m.group(1)) * unit
    if seconds % 60 != 0 or seconds > 2 ** 31 - 1:        # must be whole minutes and fit an int
        return None
    return int(seconds)


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_MIN_UTC = _dt.datetime.min.replace(tzinfo=_UTC)
_MAX_UTC = _dt.datetime.max.replace(tzinfo=_UTC)


def _from_ms(ms):
    """Epoch milliseconds -> UTC datetime, exact; clamped to what Python can represent."""
    try:
        return _EPOCH + _dt.timedelta(milliseconds=ms)
    except OverflowError:
        return _MIN_UTC if ms < 0 else _MAX_UTC


def parse_date(text, ctx):
    """A JQL date string -> aware datetime, or None if it is not a valid JQL date.

    Follows Jira's JqlDateSupportImpl.convertToDate: the trimmed value is first tried as a
    duration relative to ctx.now (DateUtils.getDurationWithNegative: a leading "-" negates the
    whole thing, so "-4w 2d" is 30 days ago; units w, d, h, m -- also "2days", "3hours" -- and
    decimals that come to whole minutes, e.g. "1.5h"; parts are separated by spaces or commas,
    "4w2d" is invalid; a bare number is minutes; a day is 24 h and a week 7 x 24 h of elapsed
    time), then as yyyy/MM/dd HH:mm, yyyy-MM-dd HH:mm, yyyy/MM/dd, yyyy-MM-dd (4+ digit year,
    1-2 digit month, day, hour, minute, nothing else: no seconds, no "T") read in ctx.tz at the
    start of that minute/day, see _wall_to_instant for DST."""
    t = text.strip()
    if not t:
        return None
    neg = t.startswith("-")
    secs = _duration_seconds(t[1:] if neg else t)
    if secs is not None:
        return _utc(ctx.now) + _dt.timedelta(seconds=-secs if neg else secs)
    m = _ABS_DATE.fullmatch(t)
    if m:
        y, _sep, mo, d, h, mi = m.groups()
        try:
            naive = _dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0))
        except ValueError:
            return None
        return _wall_to_instant(naive, ctx.tz, strict=True)
    return None


_DATE_FUNCS = {"now", "startofday", "endofday", "startofweek", "endofweek", "startofmonth",
               "endofmonth", "startofyear", "endofyear"}
_USER_FUNCS = {"currentuser"}
_FUNC_NAMES = {f.lower(): f for f in ["now", "startOfDay", "endOfDay", "startOfWeek", "endOfWeek",
                                      "startOfMonth", "endOfMonth", "startOfYear", "endOfYear",
                                      "currentUser"]}
# AbstractDateFunction.DURATION_PATTERN: m = minute, M = month, the others either case
_INCREMENT = re.compile(r"([-+]?)(\d+)([mhdwMyHDWY]?)")
_FUNC_UNIT = {"day": "d", "week": "w", "month": "M", "year": "y"}


def _add_months(dt, months):
    y, m = divmod(dt.month - 1 + months, 12)
    y += dt.year
    m += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][m - 1]
    return dt.replace(year=y, month=m, day=min(dt.day, last))


def _date_function(name, args, ctx):
    """Evaluate a date function in the user's zone; returns an aware datetime or raises _Invalid.

    As Jira's StartOfDayFunction & co.: a year/month increment moves "now" first and the period is
    then snapped (startOfMonth(-1M) is the first of last month, endOfMonth(1M) the last day of next
    month); any other increment is added after snapping -- days and weeks on the wall clock,
    hours and minutes as elapsed time.  No unit: the function's own (startOfDay(-1) is yesterday).
    Weeks start on ctx.week_start (Jira: the JVM locale's first day, Sunday for en_US).
    endOf* is hh:mm:ss.999 = 23:59:59.999."""
    low = name.lower()
    if low == "now":
        if args:
            raise _Invalid("Function '%s' expected '0' arguments but received '%d'."  # [TJP]
                           % (name, len(args)))
        return _utc(ctx.now)
    if len(args) > 1:
        # NumberOfArgumentsValidator's range message [INF from the exact-count message]
        raise _Invalid("Function '%s' expected between '0' and '1' arguments but received '%d'."
                       % (name, len(args)))
    which, period = ("start", low[7:]) if low.startswith("startof") else ("end", low[5:])
    unit, amount = _FUNC_UNIT[period], 0
    if args:
        m = _INCREMENT.fullmatch(args[0])
        if not m:
            raise _Invalid("Duration for function '%s' should have the format (+/-)n(yMwdm), "
                           "e.g -1M for 1 month earlier." % name)  # [TJP]
        amount = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
        u = m.group(3)
        unit = u if u in ("m", "M") else (u.lower() or unit)
    day = ctx.now.astimezone(ctx.tz).replace(tzinfo=None)
    if unit in ("y", "M"):
        day = _add_months(day, amount * (12 if unit == "y" else 1))
    day = day.date()
    if period == "day":
        first = last = day
    elif period == "week":
        first = day - _dt.timedelta(days=(day.weekday() - ctx.week_start) % 7)
        last = first + _dt.timedelta(days=6)
    elif period == "month":
        first = day.replace(day=1)
        last = (_add_months(_dt.datetime(first.year, first.month, 1), 1)
                - _dt.timedelta(days=1)).date()
    else:
        first = day.replace(month=1, day=1)
        last = day.replace(month=12, day=31)
    base = first if which == "start" else last
    wall = _dt.datetime(base.year, base.month, base.day)
    if which == "end":
        wall = wall.replace(hour=23, minute=59, second=59, microsecond=999000)
    if unit in ("w", "d"):
        wall = wall + _dt.timedelta(days=amount * (7 if unit == "w" else 1))
    aware = _wall_to_instant(wall, ctx.tz, strict=False)
    if unit == "h":
        aware += _dt.timedelta(hours=amount)
    elif unit == "m":
        aware += _dt.timedelta(minutes=amount)
    return aware


class _Invalid(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- compile / validate

_EMPTY = object()


class _Compiler:
    def __init__(self, ctx):
        self.ctx = ctx
        self.errors = []

    def error(self, msg):
        if msg not in self.errors:
            self.errors.append(msg)

    def node(self, n):
        if isinstance(n, And):
            fs = [self.node(c) for c in n.children]
            return lambda issue: all(f(issue) for f in fs)
        if isinstance(n, Or):
            fs = [self.node(c) for c in n.children]
            return lambda issue: any(f(issue) for f in fs)
        if isinstance(n, Not):
            f = self.node(n.child)
            return lambda issue: not f(issue)
        return self.clause(n)

    # -- operand checks shared by all fields ([TOUV])
    def operator_usage(self, c):
        op, od, f = c.op, c.operand, c.field
        if op in ("in", "not in"):
            if od.kind == "empty":
                self.error("Operator '%s' does not support the empty value representation 'EMPTY' "
                           "for field '%s'." % (op, f))
                return False
            if od.kind != "list":
                self.error("Operator '%s' does not support the non-list value '%s' for field '%s'."
                           % (op, od.display(), f))
                return False
        elif od.kind == "list":
            self.error("Operator '%s' does not support the list value '%s' for field '%s'."
                       % (op, od.display(), f))
            return False
        if op in _REL_OPS and od.kind == "empty":
            self.error("Operator '%s' does not support the empty value representation 'EMPTY' "
                       "for field '%s'." % (op, f))
            return False
        if op in ("is", "is not") and od.kind != "empty":
            self.error("Operator '%s' does not support searching for non-empty values for field "
                       "'%s'." % (op, f))
            return False
        return True

    def leaves(self, operand):
        if operand.kind == "list":
            out = []
            for i in operand.items:
                out.extend(self.leaves(i))
            return out
        return [operand]

    def function_check(self, c, leaf, allowed):
        """Unknown function / function of the wrong kind -> message, returns False."""
        low = leaf.value.lower()
        if low not in _FUNC_NAMES:
            self.error("Unable to find JQL function '%s'." % leaf.display())  # [TJP]
            return False
        if low not in allowed:
            self.error("A value provided by the function '%s' is invalid for the field '%s'."
                       % (leaf.value, c.field))  # [INF] commented-out case in TestWasSearch*
            return False
        if low in _USER_FUNCS and leaf.args:
            self.error("Function '%s' expected '0' arguments but received '%d'."
                       % (leaf.value, len(leaf.args)))
            return False
        return True

    def clause(self, c):
        canon, kind = _canonical(c.field, self.ctx)
        if canon is None:
            self.error("Field '%s' does not exist or you do not have permission to view it."
                       % c.field)  # [OBS]
            return _never
        if not self.operator_usage(c):
            return _never
        if c.op not in _SUPPORTED_OPS[kind]:
            self.error("The operator '%s' is not supported by the '%s' field." % (c.op, c.field))  # [TSOV]
            return _never
        if c.op in ("is", "is not"):
            getter = _getter(self.ctx.known_fields.get(canon, canon), kind)
            want_empty = c.op == "is"
            return lambda issue: _is_empty(getter(issue)) == want_empty
        return getattr(self, "clause_" + kind)(c, canon)

    # -- value resolution helpers
    def strings(self, c, allowed_funcs=()):
        """Leaves -> list of str / _EMPTY; function values resolved.  None on error."""
        out, ok = [], True
        for leaf in self.leaves(c.operand):
            if leaf.kind == "empty":
                out.append(_EMPTY)
            elif leaf.kind == "func":
                if not self.function_check(c, leaf, allowed_funcs):
                    ok = False
                    continue
                low = leaf.value.lower()
                if low == "currentuser":
                    out.append(self.ctx.current_user)  # None (anonymous) matches nothing
            else:
                out.append(str(leaf.value))
        return out if ok else None

    def check_known(self, c, canon, values, extra_ok=()):
        """Unknown names are a 400 (strict); leniently they just match nothing."""
        known = self.ctx.known_values.get(canon)
        if known is None:
            return True
        names = {str(k).lower() for k in known} | set(extra_ok)
        for leaf in self.leaves(c.operand):
            if leaf.kind in ("string", "number") and str(leaf.value).lower() not in names:
                if leaf.kind == "number":
                    self.error("A value with ID '%s' does not exist for the field '%s'."
                               % (leaf.value, c.field))
                else:
                    self.error("The value '%s' does not exist for the field '%s'."
                               % (leaf.value, c.field))
        return True

    # -- per kind
    def clause_project(self, c, canon):
        vals, ok = [], True
        for leaf in self.leaves(c.operand):
            if leaf.kind == "empty":
                vals.append(_EMPTY)
            elif leaf.kind == "func":
                ok = self.function_check(c, leaf, ()) and ok
            else:
                key = self.ctx.known_projects.get(str(leaf.value).lower())
                if key is None:     # strict: a 400; lenient: the value matches nothing
                    if leaf.kind == "number":   # [TINP]
                        self.error("A value with ID '%s' does not exist for the field '%s'."
                                   % (leaf.value, c.field))
                    else:                       # [OBS]
                        self.error("The value '%s' does not exist for the field '%s'."
                                   % (leaf.value, c.field))
                else:
                    vals.append(key.upper())
        if not ok:
            return _never
        return _eq_matcher(c.op, lambda issue: [str(issue.get("project") or "").upper()], vals)

    def clause_key(self, c, canon):
        keys, ids, ok = [], [], True
        leaves = self.leaves(c.operand)
        for leaf in leaves:
            if leaf.kind == "empty":
                continue  # an issue always has a key
            if leaf.kind == "func":
                ok = self.function_check(c, leaf, ()) and ok
                continue
            if leaf.kind == "number":
                ids.append(int(leaf.value))
                continue
            v = str(leaf.value)
            if not _KEY_RE.fullmatch(v):
                if re.fullmatch(r"\d+", v):
                    ids.append(int(v))
                    continue
                self.error("The issue key '%s' for field '%s' is invalid." % (v, c.field))  # [OBS]
                continue
            up = v.upper()
            if self.ctx.known_keys is not None:
                cur = self.ctx.known_keys.get(up)
                if cur is None:     # strict: a 400; lenient (validateQuery=false): dropped
                    self.error("An issue with key '%s' does not exist for field '%s'."
                               % (v, c.field))  # [OBS]
                    continue
                if c.op in _REL_OPS and cur.upper() != up:
                    ok = False
                    self.error("Operator '%s' cannot be applied to moved issue key '%s'."
                               % (c.op, v))  # [OBS]
                    continue
            keys.append(up)
        if not ok:
            return _never
        if c.op in _REL_OPS:
            cmp = _REL[c.op]
            if not ids and not keys:
                return _never
            if ids:
                n = ids[0]
                return lambda issue: cmp(int(issue.get("id")), n)
            proj, num = _split_key(keys[0])

            def rel(issue):
                p, k = _split_key(issue.get("key"))
                return p == proj and cmp(k, num)
            return rel
        want_keys, want_ids = set(keys), set(ids)

        def hit(issue):
            if issue.get("id") is not None and int(issue["id"]) in want_ids:
                return True
            mine = {str(issue.get("key") or "").upper()}
            mine.update(str(k).upper() for k in issue.get("old_keys") or ())
            return bool(mine & want_keys)
        if c.op in ("=", "in"):
            return hit
        return lambda issue: not hit(issue)

    def clause_constant(self, c, canon):
        vals = self.strings(c)
        if vals is None or not self.check_known(c, canon, vals):
            return _never
        return _eq_matcher(c.op, _single(canon), _lower(vals))

    def clause_resolution(self, c, canon):
        vals = self.strings(c)
        known = self.ctx.known_values.get("resolution")
        has_unresolved = known is not None and any(str(k).lower() == "unresolved" for k in known)
        if vals is None or not self.check_known(c, canon, vals, extra_ok=("unresolved",)):
            return _never
        if not has_unresolved:  # `resolution = Unresolved` is `resolution is EMPTY` in Jira
            vals = [_EMPTY if (v is not _EMPTY and v.lower() == "unresolved") else v for v in vals]
        return _eq_matcher(c.op, _single("resolution"), _lower(vals))

    def clause_statuscategory(self, c, canon):
        vals = self.strings(c)
        if vals is None:
            return _never
        out = []
        for v in vals:
            if v is _EMPTY:
                out.append(v)
                continue
            name = _STATUS_CATEGORIES.get(v.lower())
            if name is None:
                self.error("The value '%s' does not exist for the field '%s'." % (v, c.field))
                return _never
            out.append(name.lower())
        return _eq_matcher(c.op, _single("statusCategory"), out)

    def priority_order(self):
        known = self.ctx.known_values.get("priority")
        lists = [known] if known else _DEFAULT_PRIORITIES
        rank = {}
        for lst in lists:
            for i, name in enumerate(lst):
                rank.setdefault(str(name).lower(), len(lst) - i)  # higher number = higher priority
        return rank

    def clause_priority(self, c, canon):
        vals = self.strings(c)
        if vals is None or not self.check_known(c, canon, vals):
            return _never
        if c.op in _REL_OPS:
            rank = self.priority_order()
            v = vals[0]
            if v is _EMPTY or v.lower() not in rank:
                self.error("The value '%s' does not exist for the field '%s'." % (v, c.field))
                return _never
            target, cmp = rank[v.lower()], _REL[c.op]

            def rel(issue):
                p = issue.get("priority")
                return p is not None and p.lower() in rank and cmp(rank[p.lower()], target)
            return rel
        return _eq_matcher(c.op, _single("priority"), _lower(vals))

    def clause_labels(self, c, canon):
        vals = self.strings(c)
        if vals is None:
            return _never
        # labels match case-insensitively: label search is case-sensitive only "for all Jira
        # versions before 7.10" (atlassway.com's Jira labels guide; weak source)
        return _eq_matcher(c.op, lambda issue: [str(x).lower() for x in issue.get("labels") or ()],
                           _lower(vals))

    def clause_user(self, c, canon):
        vals = self.strings(c, allowed_funcs=_USER_FUNCS)
        if vals is None:
            return _never
        return _eq_matcher(c.op, _single(canon), _lower(vals))

    def clause_parent(self, c, canon):
        vals = self.strings(c)
        if vals is None:
            return _never
        return _eq_matcher(c.op, _single("parent"), _lower(vals))

    def clause_custom(self, c, canon):
        vals = self.strings(c, allowed_funcs=_USER_FUNCS)
        if vals is None:
            return _never
        name = self.ctx.known_fields[canon]

        def get(issue):
            v = (issue.get("custom") or {}).get(name, issue.get(name))
            if v is None or v == [] or v == "":
                return []
            return [str(x).lower() for x in (v if isinstance(v, list) else [v])]
        if c.op in ("~", "!~"):
            words = vals
            return self._text(c, lambda issue: " ".join(get(issue)) or None, words)
        return _eq_matcher(c.op, get, _lower(vals))

    def clause_text(self, c, canon):
        vals = self.strings(c)
        if vals is None:
            return _never
        if canon == "text":
            def get(issue):
                parts = [issue.get("summary"), issue.get("description"), issue.get("environment")]
                parts += [_comment_body(x) for x in issue.get("comments") or ()]
                parts = [p for p in parts if p]
                return " ".join(parts) if parts else None
        elif canon == "comment":
            def get(issue):
                parts = [_comment_body(x) for x in issue.get("comments") or ()]
                parts = [p for p in parts if p]
                return " ".join(parts) if parts else None
        else:
            def get(issue):
                return issue.get(canon)
        return self._text(c, get, vals)

    def _text(self, c, get, vals):
        v = vals[0]
        if v is None:          # currentUser() of an anonymous search
            return _never
        if v is _EMPTY:
            want = c.op == "~"
            return lambda issue: _is_empty(get(issue)) == want
        negate = c.op == "!~"
        try:
            tq = _text_query(v, c.field)
        except _Invalid as e:
            self.error(e.message)
            return _never

        def m(issue):
            hay = get(issue)
            if hay is None or hay == "":
                return False  # Jira: negative operators never match an empty field
            hit = tq(hay)
            return not hit if negate else hit
        return m

    clause_alltext = clause_text

    def clause_date(self, c, canon):
        vals, ok = [], True
        for leaf in self.leaves(c.operand):
            if leaf.kind == "empty":
                vals.append(_EMPTY)
            elif leaf.kind == "number":
                vals.append(_from_ms(leaf.value))   # a bare number is epoch milliseconds [JDS]
            elif leaf.kind == "func":
                low = leaf.value.lower()
                if low not in _FUNC_NAMES:
                    self.error("Unable to find JQL function '%s'." % leaf.display())
                    ok = False
                elif low not in _DATE_FUNCS:
                    self.error("A date for the field '%s' provided by the function '%s' is not "
                               "valid." % (c.field, leaf.value))  # [INF] from the predicate text [TJP]
                    ok = False
                else:
                    try:
                        vals.append(_date_function(leaf.value, leaf.args, self.ctx))
                    except _Invalid as e:
                        self.error(e.message)
                        ok = False
            else:
                d = parse_date(str(leaf.value), self.ctx)
                if d is None:
                    self.error("Date value '%s' for field '%s' is invalid. %s"
                               % (leaf.value, c.field, DATE_FORMATS))  # [NOTES][TJP]
                    ok = False
                else:
                    vals.append(d)
        if not ok:
            return _never
        # Jira indexes date-times, and turns the operand into a term, with LuceneUtils.dateToString
        # = whole seconds since the epoch (Java division: the milliseconds are dropped).  So
        # `updated > "2024-01-02 10:15"` does not match 10:15:00.500, and `updated = <ms>` matches
        # the whole second.  (Jira core source, 6.x; assumed unchanged in DC 10.)
        vals = [v if v is _EMPTY else _seconds(v) for v in vals]
        if c.op in _REL_OPS:
            target, cmp = vals[0], _REL[c.op]

            def rel(issue):
                d = issue.get(canon)
                return d is not None and cmp(_seconds(d), target)
            return rel
        return _eq_matcher(c.op, lambda issue: [_seconds(d) for d in [issue.get(canon)]
                                                if d is not None], vals)


def _comment_body(x):
    if isinstance(x, dict):
        b = x.get("body")
        return b if isinstance(b, str) else None
    return x if isinstance(x, str) else None


def _never(_issue):
    return False


_REL = {"<": lambda a, b: a < b, ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


def _lower(vals):
    return [v if v is _EMPTY or v is None else v.lower() for v in vals]


def _single(field):
    def get(issue):
        v = issue.get(field)
        return [] if v is None or v == "" else [str(v).lower()]
    return get


def _getter(canon, kind):
    if kind == "labels":
        return lambda issue: issue.get("labels") or []
    if canon == "statuscategory":
        return lambda issue: issue.get("statusCategory")
    if canon == "key":
        return lambda issue: issue.get("key")
    if canon == "text":
        return lambda issue: issue.get("summary") or issue.get("description")
    if canon == "comment":
        return lambda issue: [x for x in issue.get("comments") or () if _comment_body(x)]
    if kind == "custom":
        return lambda issue: (issue.get("custom") or {}).get(canon, issue.get(canon))
    return lambda issue: issue.get(canon)


def _is_empty(v):
    return v is None or v == "" or v == [] or v == ()


def _eq_matcher(op, get, vals):
    """=, in: any issue value in vals (EMPTY matches an empty field).  !=, not in: the field is
    not empty and none of its values is in vals -- Jira's negative operators never return issues
    whose field is empty (`assignee != bob` skips unassigned issues)."""
    want_empty = any(v is _EMPTY for v in vals)
    wanted = [v for v in vals if v is not _EMPTY and v is not None]
    positive = op in ("=", "in")

    def m(issue):
        have = get(issue)
        if not have:
            return want_empty if positive else False
        hit = any(h in wanted for h in have)
        if positive:
            return hit
        if op == "!=" and want_empty and not wanted:
            return True  # `f != EMPTY` == `f is not EMPTY`
        return not hit
    return m


_TEXT_TOKEN = re.compile(r'([+-]?)("[^"]*"?|\S+)')
_TEXT_WORD = re.compile(r"[^\W_]+")


def _stem(w):
    """A crude English stemmer standing in for Jira's analyser: fix/fixes/fixed/fixing and
    save/saves/saved/saving compare equal."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[:-len(suffix)]
    return w


def _term_matcher(term):
    """One term or "phrase" -> predicate over the list of words of a text, or None if empty."""
    glued = re.findall(r"(?:[^\W_]|[*?])+", term.lower())
    pats = []
    for w in glued:
        if "*" in w or "?" in w:
            rx = re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                                    for ch in w))
            pats.append(lambda x, rx=rx: rx.fullmatch(x) is not None)
        else:
            st = _stem(w)
            pats.append(lambda x, st=st: _stem(x) == st)
    if not pats:
        return None

    def m(text_words):
        n = len(pats)
        for i in range(len(text_words) - n + 1):
            if all(p(text_words[i + j]) for j, p in enumerate(pats)):
                return True
        return False
    return m


def _text_query(value, field):
    """Compile the value of `field ~ value` (a small subset of Jira's Lucene syntax):
    words are AND-ed (measured on Jira 10.3: "detector calibration" < either word alone),
    OR / || between terms, AND / && / +term, NOT / -term exclude, "inner quotes" make an adjacent
    phrase, * and ? are wildcards inside a word; matching is by word, case-insensitive, with a
    crude stemmer.  Not emulated: fuzzy (~), proximity, boosts, grouping parentheses, stop words.
    Returns predicate(text) or raises _Invalid with Jira's message."""
    if not value.strip():
        raise _Invalid("The field '%s' does not support searching for an empty string." % field)
    groups, cur, negate_next = [], [], False
    for sign, tok in _TEXT_TOKEN.findall(value):
        if not sign and tok in ("OR", "||"):
            groups.append(cur)
            cur = []
            continue
        if not sign and tok in ("AND", "&&"):
            continue
        if not sign and tok == "NOT":
            negate_next = True
            continue
        matcher = _term_matcher(tok.strip('"'))
        if matcher is None:
            continue
        cur.append((sign == "-" or negate_next, matcher))
        negate_next = False
    groups.append(cur)
    if not any(groups):     # only operators, e.g. "AND": Lucene cannot parse it [M10]
        raise _Invalid("Unable to parse the text '%s' for field '%s'." % (value, field))
    # a group of exclusions only (Lucene's pure negative query) matches nothing
    groups = [g for g in groups if any(not neg for neg, _m in g)]

    def match(text):
        words = _TEXT_WORD.findall(text.lower())
        return any(all(m(words) != neg for neg, m in g) for g in groups)
    return match


def _compile(query, ctx):
    """(predicate, messages) for ``query`` under ``ctx``; cached on the query per ctx object."""
    if query._cache is not None and query._cache[0] is ctx:
        return query._cache[1], query._cache[2]
    comp = _Compiler(ctx)
    pred = comp.node(query.where) if query.where is not None else (lambda issue: True)
    seen = {}
    for name, _direction in query.order_by:          # DefaultOrderByValidator [TOBV]
        canon, kind = _canonical(name, ctx)
        if canon is None:
            comp.error("Not able to sort using field '%s'." % name)
        elif canon in _UNSORTABLE:
            comp.error("Field '%s' does not support sorting." % name)
        elif canon in seen:
            msg = "The sort field '%s' is referenced multiple times in the JQL sort." % name
            if seen[canon].lower() != name.lower():
                msg += " Field '%s' is an alias for field '%s'." % (name, seen[canon])
            comp.error(msg)
        else:
            seen[canon] = name
    query._cache = (ctx, pred, list(comp.errors))
    return pred, list(comp.errors)


def validate(query, ctx, strict=True):
    """Check ``query`` under ``ctx`` and return its compiled predicate (issue dict -> bool).

    strict (the default, and what Cloud always does): raise JqlError with *every* validation
    message (Jira collects them all: WHERE and ORDER BY).  strict=False is Data Center's
    ``validateQuery=warn`` / ``false`` on /rest/api/2/search: nothing is raised, the messages are
    left in ``query.messages`` (DC returns them as ``warningMessages`` for "warn"), clauses that
    failed validation match no issue (so `key in (A-1, DELETED-9)` returns A-1) and unusable
    ORDER BY fields are skipped.  Parse errors are always raised by parse()."""
    pred, msgs = _compile(query, ctx)
    query.messages = msgs
    if msgs and strict:
        raise JqlError(msgs)
    if not strict:
        query._lenient = ctx
    return pred


def _checked(query, ctx):
    pred, msgs = _compile(query, ctx)
    if msgs and query._lenient is not ctx:
        raise JqlError(msgs)
    return pred


def matches(query, issue, ctx):
    """True if ``issue`` satisfies ``query.where``.  Raises JqlError for invalid values/fields
    unless validate(query, ctx, strict=False) accepted them."""
    return bool(_checked(query, ctx)(issue))


# --------------------------------------------------------------------------- sorting

def _sort_value(canon, kind, issue, ctx, prio_rank):
    if canon == "key":
        return _split_key(issue.get("key"))
    if canon == "project":
        v = issue.get("project")
        return str(v).upper() if v else None
    if kind == "date":      # the sort field is the same whole-second term (LuceneUtils)
        d = issue.get(canon)
        return None if d is None else _seconds(d)
    if canon == "priority":
        p = issue.get("priority")
        if p is None:
            return None
        return (prio_rank.get(p.lower(), 0), p.lower())
    if kind == "labels":
        labels = issue.get("labels") or []
        return tuple(sorted(str(x).lower() for x in labels)) or None
    if canon == "statuscategory":
        v = issue.get("statusCategory")
    elif kind == "custom":
        name = ctx.known_fields[canon]
        v = (issue.get("custom") or {}).get(name, issue.get(name))
    else:
        v = issue.get(canon)
    if v is None or v == "":
        return None
    return str(v).lower()


def sort(query, issues, ctx):
    """Apply ORDER BY.  Without one: Jira's DEFAULT_KEY_SORT, key DESC (project key, then number).

    Empty values sort last in ASC and first in DESC (dates: LuceneUtils stores null as
    Long.MAX_VALUE "which causes nulls to sort to the end"; other fields: assumed the same).
    Dates sort by whole seconds [LU].
    Issue types, statuses, resolutions and projects sort by name/key (Jira sorts them by their
    configured sequence / project name: not emulated).  Priorities sort by rank (highest is the
    largest, so DESC lists Highest first).  Ties are broken by id ascending."""
    _checked(query, ctx)
    order = [(name, d) for name, d in query.order_by
             if _canonical(name, ctx)[0] not in (None,) + tuple(_UNSORTABLE)]
    if not query.order_by:
        order = [("key", "DESC")]
    out = sorted(issues, key=lambda i: int(i.get("id") or 0))
    comp = _Compiler(ctx)
    prio = comp.priority_order()
    for name, direction in reversed(order):
        canon, kind = _canonical(name, ctx)
        desc = direction.upper() == "DESC"

        def k(issue, canon=canon, kind=kind):
            v = _sort_value(canon, kind, issue, ctx, prio)
            return (1, 0) if v is None else (0, v)
        out.sort(key=k, reverse=desc)
    return out


def search(jql, issues, ctx, strict=True):
    """Parse (if given text), validate (see validate() for ``strict``), filter and sort."""
    query = parse(jql) if isinstance(jql, str) or jql is None else jql
    pred = validate(query, ctx, strict=strict)
    return sort(query, [i for i in issues if pred(i)], ctx)
