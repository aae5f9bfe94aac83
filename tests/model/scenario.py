"""Scenario format of the two-site model: one event per line.

See docs/model.md ("Scenario format") for the grammar.  This module only parses and
prints; it knows nothing about what the events do.
"""

SITES = ("A", "B")

# Argument kinds: S site, L link (A->B), I integer, N name token, V value (rest of line).
# A trailing "?" marks an optional argument (only at the end).
SPEC = {
    # clock and options
    "tick": ["I"],
    "option": ["N", "N"],
    "clock": ["S", "I"],
    # ferry runs
    "export": ["S", "N?"],
    "flush": ["S"],
    "import": ["S"],
    "run": ["S"],
    "crash": ["S", "K?"],            # crash S [during-import K]
    "pause": ["S", "K"],             # pause S during-import K, then the user events below
    # channel
    "deliver": ["L", "I?"],
    "drop": ["L", "I?"],
    "dup": ["L", "I?"],
    # backups
    "backup-state": ["S", "N?"],     # the name defaults to "-"
    "restore-state": ["S", "N?"],
    "backup-jira": ["S", "N?"],
    "restore-jira": ["S", "N?"],
    # users
    "create": ["S", "N", "V?"],
    "edit": ["S", "N", "N", "V"],
    "comment": ["S", "N", "N", "V"],
    "edit-comment": ["S", "N", "N", "V"],
    "delete-comment": ["S", "N", "N"],
    "attach": ["S", "N", "N", "V"],
    "delete-attachment": ["S", "N", "N"],
    "delete": ["S", "N"],
    "move": ["S", "N"],
    # Jira faults
    "refuse": ["S", "N"],
    "allow": ["S", "N"],
}

# Events understood by the sequencing layer alone (seqmodel.py).
SEQ_EVENTS = {"tick", "option", "export", "flush", "import", "run", "crash", "deliver",
              "drop", "dup", "backup-state", "restore-state"}


class ScenarioError(ValueError):
    pass


class Event(tuple):
    """An event: (op, arg, arg, ...).  Optional arguments that were absent are None."""

    __slots__ = ()

    def __new__(cls, op, *args):
        return tuple.__new__(cls, (op,) + tuple(args))

    @property
    def op(self):
        return self[0]

    @property
    def args(self):
        return self[1:]

    def __repr__(self):
        return "Event(%r)" % format_event(self)

    def __str__(self):
        return format_event(self)


def escape_value(v):
    if v == "":
        return "\\e"
    out = []
    for ch in v:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    s = "".join(out)
    # leading and trailing spaces would not survive editors: write them as \s
    lead = len(s) - len(s.lstrip(" "))
    s = "\\s" * lead + s[lead:]
    trail = len(s) - len(s.rstrip(" "))
    if trail:
        s = s[: len(s) - trail] + "\\s" * trail
    return s


def unescape_value(s):
    if s == "\\e":
        return ""
    out = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if i + 1 >= len(s):
                raise ScenarioError("dangling backslash in value %r" % s)
            nx = s[i + 1]
            m = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "s": " "}.get(nx)
            if m is None:
                raise ScenarioError("unknown escape \\%s in value %r" % (nx, s))
            out.append(m)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _is_name(tok):
    return tok != "" and all(c.isalnum() or c in "._-*" for c in tok)


def parse_line(line, lineno=0):
    """Parse one line; returns an Event or None for blank/comment lines."""
    line = line.rstrip("\n")
    if line.endswith("\r"):
        line = line[:-1]
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    head, _, rest = stripped.partition(" ")
    if head not in SPEC:
        raise ScenarioError("line %d: unknown event %r" % (lineno, head))
    spec = SPEC[head]
    args = []
    rest = rest.lstrip(" ")
    for idx, kind in enumerate(spec):
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if rest == "":
            if optional:
                args.append(None)
                continue
            raise ScenarioError("line %d: %s: missing argument %d" % (lineno, head, idx + 1))
        if kind == "V":
            try:
                args.append(unescape_value(rest))
            except ScenarioError as e:
                raise ScenarioError("line %d: %s: %s" % (lineno, head, e))
            rest = ""
            continue
        tok, _, rest = rest.partition(" ")
        rest = rest.lstrip(" ")
        if kind == "S":
            if tok not in SITES:
                raise ScenarioError("line %d: %s: bad site %r" % (lineno, head, tok))
            args.append(tok)
        elif kind == "L":
            parts = tok.split("->")
            if len(parts) != 2 or set(parts) != set(SITES):
                raise ScenarioError("line %d: %s: bad link %r" % (lineno, head, tok))
            args.append(tok)
        elif kind == "I":
            try:
                args.append(int(tok))
            except ValueError:
                raise ScenarioError("line %d: %s: bad integer %r" % (lineno, head, tok))
        elif kind == "K":
            if tok != "during-import":
                raise ScenarioError("line %d: crash: expected during-import, got %r" % (lineno, tok))
            num, _, rest = rest.partition(" ")
            rest = rest.lstrip(" ")
            try:
                args.append(int(num))
            except ValueError:
                raise ScenarioError("line %d: crash: bad integer %r" % (lineno, num))
        elif kind == "N":
            if not _is_name(tok):
                raise ScenarioError("line %d: %s: bad name %r" % (lineno, head, tok))
            args.append(tok)
    if rest.strip():
        raise ScenarioError("line %d: %s: unexpected %r" % (lineno, head, rest))
    return Event(head, *args)


def parse(text):
    events = []
    for n, line in enumerate(text.splitlines(), 1):
        ev = parse_line(line, n)
        if ev is not None:
            events.append(ev)
    return events


def format_event(ev):
    op = ev[0]
    spec = SPEC[op]
    parts = [op]
    for kind, a in zip(spec, ev[1:]):
        if a is None:
            continue
        kind = kind.rstrip("?")
        if kind == "V":
            parts.append(escape_value(a))
        elif kind == "K":
            parts.append("during-import %d" % a)
        else:
            parts.append(str(a))
    return " ".join(parts)


def format_scenario(events):
    return "".join(format_event(e) + "\n" for e in events)


def link(src, dst):
    return "%s->%s" % (src, dst)


def split_link(lk):
    a, b = lk.split("->")
    return a, b


def other(site):
    return "B" if site == "A" else "A"
