"""Seeded random scenarios and a shrinker."""

import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scenario import Event  # noqa: E402

WORDS = ["red", "blue", "green", "plan", "fix it", "done", "wait", "A/B", "x"]


def _value(rnd):
    v = rnd.choice(WORDS)
    r = rnd.random()
    if r < 0.15:
        v += " "                       # Cloud strips trailing spaces
    elif r < 0.3:
        v += "\r\n" + rnd.choice(WORDS)  # both Jiras turn CRLF into LF
    elif r < 0.35:
        v += " \r\nmore  "
    return v + ("" if rnd.random() < 0.5 else str(rnd.randrange(100)))


def generate(seed, steps=40, restores=None, seq_only=False):
    """A scenario of `steps` events.  restores=None: a fifth of the scenarios restore
    something; True/False forces it."""
    rnd = random.Random(seed)
    if restores is None:
        restores = rnd.random() < 0.2
    issues, comments, atts = [], {}, {}
    backups = {"state": set(), "jira": set()}
    ev = []
    weights = [
        ("create", 5), ("edit", 18), ("comment", 5), ("edit-comment", 5),
        ("delete-comment", 1), ("attach", 3), ("delete-attachment", 1), ("delete", 0.4),
        ("move", 0.4), ("refuse", 1), ("allow", 1.5), ("export", 10), ("import", 7),
        ("run", 8), ("deliver", 20), ("drop", 3), ("dup", 3), ("tick", 6),
        ("crash", 2), ("clock", 0.5), ("flush", 1), ("pause", 1.5),
    ]
    if seq_only:
        weights = [("export", 10), ("flush", 3), ("import", 7), ("run", 6), ("deliver", 20),
                   ("drop", 4), ("dup", 4), ("tick", 6), ("crash", 2)]
    if restores:
        # one kind of restore per scenario: restoring a site's state and its Jira to
        # different points in time loses what lies between, and nothing can tell
        if seq_only or rnd.random() < 0.5:
            weights += [("backup-state", 3), ("restore-state", 2.5)]
        else:
            weights += [("backup-jira", 3), ("restore-jira", 2.5)]
    names = [w[0] for w in weights]
    cum = [w[1] for w in weights]
    n_issue = 0
    while len(ev) < steps:
        op = rnd.choices(names, cum)[0]
        s = rnd.choice("AB")
        lk = rnd.choice(["A->B", "B->A"])
        if op == "create" or (not issues and not seq_only and op in ("edit", "comment")):
            if n_issue >= 6:
                continue
            n_issue += 1
            label = "X%d" % n_issue
            issues.append(label)
            ev.append(Event("create", s, label, rnd.choice(WORDS)))
        elif op == "edit":
            f = rnd.choice(["summary", "summary", "description", "priority"])
            v = rnd.choice(["Low", "High", "Medium"]) if f == "priority" else _value(rnd)
            ev.append(Event("edit", s, rnd.choice(issues), f, v))
        elif op == "comment":
            x = rnd.choice(issues)
            c = "C%d" % (sum(len(v) for v in comments.values()) + 1)
            comments.setdefault(x, []).append(c)
            ev.append(Event("comment", s, x, c, _value(rnd)))
        elif op in ("edit-comment", "delete-comment"):
            xs = [x for x in comments if comments[x]]
            if not xs:
                continue
            x = rnd.choice(xs)
            c = rnd.choice(comments[x])
            if op == "edit-comment":
                ev.append(Event(op, s, x, c, _value(rnd)))
            else:
                ev.append(Event(op, s, x, c))
        elif op == "attach":
            if not issues:
                continue
            x = rnd.choice(issues)
            name = "f%d.txt" % (sum(len(v) for v in atts.values()) + 1)
            atts.setdefault(x, []).append(name)
            ev.append(Event("attach", s, x, name, rnd.choice(WORDS)))
        elif op == "delete-attachment":
            xs = [x for x in atts if atts[x]]
            if not xs:
                continue
            x = rnd.choice(xs)
            ev.append(Event(op, s, x, rnd.choice(atts[x])))
        elif op in ("delete", "move"):
            if len(issues) < 2:
                continue
            ev.append(Event(op, s, rnd.choice(issues)))
        elif op in ("refuse", "allow"):
            if not issues:
                continue
            ev.append(Event(op, s, rnd.choice(issues + ["*"])))
        elif op in ("export", "import", "run", "flush"):
            ev.append(Event(op, s) if op != "export" else Event(op, s, None))
        elif op in ("deliver", "drop", "dup"):
            n = None if rnd.random() < 0.7 else rnd.randrange(1, 4)
            ev.append(Event(op, lk, n))
        elif op == "tick":
            ev.append(Event("tick", rnd.randrange(1, 12)))
        elif op == "crash":
            ev.append(Event("crash", s, rnd.randrange(1, 4)))
        elif op == "pause":
            ev.append(Event("pause", s, rnd.randrange(1, 4)))
        elif op == "clock":
            ev.append(Event("clock", s, rnd.randrange(-5, 6)))
        elif op in ("backup-state", "backup-jira"):
            kind = op.split("-")[1]
            name = "%s%s%d" % (kind[0], s, len(backups[kind]))
            backups[kind].add((s, name))
            ev.append(Event(op, s, name))
        elif op in ("restore-state", "restore-jira"):
            kind = op.split("-")[1]
            cand = sorted(backups[kind])
            if not cand:
                continue
            bs, name = rnd.choice(cand)
            ev.append(Event(op, bs, name))
    return ev


def category(violation):
    """A failure's kind, without the names and numbers that shrinking changes."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|[AB]:\d+|e\d+|\d+|[AB]\b", "#", violation)


def shrink(events, fails, max_tries=4000):
    """Reduce `events` while `fails(events)` stays true (ddmin, then one-by-one removal,
    then simpler arguments).  Returns the smallest failing scenario found."""
    tries = [0]

    def f(evs):
        tries[0] += 1
        return tries[0] <= max_tries and fails(evs)

    evs = list(events)
    n = 2
    while len(evs) >= 2 and tries[0] < max_tries:
        chunk = max(1, (len(evs) + n - 1) // n)
        for i in range(0, len(evs), chunk):
            cand = evs[:i] + evs[i + chunk:]
            if f(cand):
                evs = cand
                n = max(n - 1, 2)
                break
        else:
            if chunk == 1:
                break
            n = min(len(evs), n * 2)
    # simpler arguments
    for i in range(len(evs)):
        e = evs[i]
        for simpler in _simpler(e):
            cand = evs[:i] + [simpler] + evs[i + 1:]
            if f(cand):
                evs = cand
                e = simpler
    # last pass: drop single events
    i = 0
    while i < len(evs):
        cand = evs[:i] + evs[i + 1:]
        if f(cand):
            evs = cand
        else:
            i += 1
    return evs


def _simpler(e):
    op, a = e.op, list(e.args)
    out = []
    if op in ("deliver", "drop", "dup") and a[1] is not None:
        out.append(Event(op, a[0], None))
    elif op == "tick" and a[0] > 1:
        out.append(Event(op, 1))
    elif op in ("crash", "pause") and a[1] is not None and a[1] > 1:
        out.append(Event(op, a[0], 1))
    elif op in ("edit", "comment", "edit-comment") and len(a[3]) > 1 and a[2] != "priority":
        out.append(Event(op, a[0], a[1], a[2], a[3].split()[0] if a[3].split() else "v"))
    elif op == "create" and a[2] is not None:
        out.append(Event(op, a[0], a[1], None))
    return out
