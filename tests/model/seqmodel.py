#!/usr/bin/python3
"""Sequencing layer of the two-site model: bundles, acks, control acks, resends,
duplicates, gaps, forks and restores.  No merge, no Jira.

Pure API (everything takes the endpoint state and the time, and returns messages and
trace lines; nothing else is touched):

    ep = Endpoint("A")
    msg, lines  = new_bundle(ep, body, now, rules)     # export found operations
    msgs, lines = flush(ep, now, rules)                # send phase: resends + control ack
    lines       = receive(ep, msg, now, rules)         # one message from the transport
    ready(ep)   -> [seq, ...]                          # received bundles not yet applied
    lines       = mark_applied(ep, seq)                # the engine applied bundle seq

`SeqWorld` runs a scenario (the subset of the scenario format listed in
scenario.SEQ_EVENTS) and prints the trace documented in docs/model.md:

    /usr/bin/python3 tests/model/seqmodel.py --trace SCENARIO_FILE
"""

import copy
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scenario import SEQ_EVENTS, Event, other, parse, link, format_event  # noqa: E402

GENESIS = "0" * 16


class Rules:
    """Timing and rule switches.  The defaults are the corrected rules (docs/model.md,
    Findings); the switches exist to reproduce DESIGN.md as written and to give the
    shrinker deliberately broken variants."""

    def __init__(self, **kw):
        self.resend_after = 8       # a bundle unacked for this long is sent again
        self.ack_interval = 4       # at most one control ack per interval
        self.reack_duplicates = True  # finding F1: a duplicate makes the ack owed again
        self.gap_ack = True           # finding F2: a site holding a gap repeats its ack
        self.ack_behind = True        # finding F2: a newer message with a lower ack = restore
        self.ack_top = True           # finding F6: a control ack names the highest seq held
        # full-model switches (ignored here)
        self.stamp_merge = True       # finding F3: concurrent updates compared by stamps
        self.read_back = True         # snapshot stores what Jira stored
        self.lookup_stamp = True      # creates look their stamp up first (exactly once)
        self.journal = True           # ops marked done are not applied again
        self.detect_jira_restore = True
        self.detect_state_restore = True  # finding F4: journal vs historyMetadata
        self.reread_before_write = True   # finding F5: no stale bulk read
        self.park_moved = True        # ops for a moved twin are parked
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("unknown rule %s" % k)
            setattr(self, k, v)

    def option(self, name, value):
        key = name.replace("-", "_")
        if not hasattr(self, key):
            raise ValueError("unknown option %s" % name)
        cur = getattr(self, key)
        if isinstance(cur, bool):
            setattr(self, key, value in ("1", "true", "yes", "on"))
        else:
            setattr(self, key, int(value))

    def copy(self):
        return copy.copy(self)


def bundle_hash(src, dst, seq, prev, ack, time, body):
    text = "%s>%s|%d|%s|%d|%d|%r" % (src, dst, seq, prev, ack, time, body)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Msg:
    """A message on the channel.  kind is "bundle" or "ctl" (control ack)."""

    __slots__ = ("kind", "src", "dst", "seq", "prev", "ack", "time", "body", "hash", "top")

    def __init__(self, kind, src, dst, seq, prev, ack, time, body, top=None):
        self.kind = kind
        self.src = src
        self.dst = dst
        self.seq = seq
        self.prev = prev
        self.ack = ack
        self.time = time
        self.body = body
        self.top = top      # control acks: the highest seq the sender holds from us
        self.hash = bundle_hash(src, dst, seq, prev, ack, time, body) if kind == "bundle" else None

    def label(self):
        if self.kind == "bundle":
            return "%s#%d" % (self.src, self.seq)
        return "%s ctl-ack %d" % (self.src, self.ack)

    def __repr__(self):
        return "<%s>" % self.label()


class Endpoint:
    """One site's durable sequencing state for the one connection."""

    def __init__(self, site):
        self.site = site
        self.peer = other(site)
        # outgoing direction
        self.last_seq = 0          # highest seq created (its bundle is durable)
        self.last_hash = GENESIS   # hash of bundle last_seq
        self.sent = {}             # seq -> Msg, kept until acknowledged
        self.sent_at = {}          # seq -> time of last (re)send
        self.peer_ack = 0          # highest ack the peer gave for our bundles
        self.peer_ack_time = -1    # newest creation time of a message that carried an ack
        # incoming direction
        self.held = {}             # seq -> hash (ledger of every bundle held durably)
        self.prev_of = {}          # seq -> prev hash named by that bundle
        self.bodies = {}           # seq -> body (the local inbox copy)
        self.recv_ack = 0          # received ack: contiguous seqs held
        self.applied = 0           # highest seq whose operations are all applied
        self.ack_owed = False      # the peer has not been told recv_ack (or needs telling again)
        self.ctl_at = None         # time of the last control ack
        self.told_at = None        # time the peer was last told our ack (bundle or control)
        self.stopped = None        # None, or the reason: "fork", "restore"

    def has_gap(self):
        return any(s > self.recv_ack for s in self.held)

    def unacked(self):
        return sorted(s for s in self.sent if s > self.peer_ack)


def new_bundle(ep, body, now, rules):
    """Create the next bundle (export found something to send).  Returns (msg, lines)."""
    if ep.stopped:
        return None, []
    seq = ep.last_seq + 1
    m = Msg("bundle", ep.site, ep.peer, seq, ep.last_hash, ep.recv_ack, now, body)
    ep.last_seq = seq
    ep.last_hash = m.hash
    ep.sent[seq] = m
    ep.sent_at[seq] = now
    ep.ack_owed = False  # the ack rides on this bundle
    ep.told_at = now
    return m, ["%s send #%d ack=%d" % (ep.site, seq, ep.recv_ack)]


def flush(ep, now, rules):
    """The send phase of a run: resend what is unacked for too long, then a control ack
    if one is owed and the interval allows it.  Returns (msgs, lines)."""
    if ep.stopped:
        return [], []
    msgs, lines = [], []
    for seq in ep.unacked():
        if now - ep.sent_at[seq] >= rules.resend_after:
            ep.sent_at[seq] = now
            msgs.append(ep.sent[seq])  # the same bytes
            lines.append("%s resend #%d" % (ep.site, seq))
    gap = (rules.gap_ack and ep.has_gap()
           and (ep.told_at is None or now - ep.told_at >= rules.ack_interval))
    if (ep.ack_owed or gap) and (ep.ctl_at is None or now - ep.ctl_at >= rules.ack_interval):
        top = max(ep.held) if (ep.held and rules.ack_top) else ep.recv_ack
        msgs.append(Msg("ctl", ep.site, ep.peer, None, None, ep.recv_ack, now, None, top))
        lines.append("%s send ctl-ack %d" % (ep.site, ep.recv_ack))
        ep.ack_owed = False
        ep.ctl_at = ep.told_at = now
    return msgs, lines


def _take_ack(ep, ack, time, rules):
    site = ep.site
    if ack > ep.last_seq:
        ep.stopped = "restore"
        return ["%s ack %d ahead-of-sent restore-detected" % (site, ack)]
    if ack > ep.peer_ack:
        ep.peer_ack = ack
        ep.peer_ack_time = max(ep.peer_ack_time, time)
        for s in [s for s in ep.sent if s <= ack]:
            del ep.sent[s]
            ep.sent_at.pop(s, None)
        return ["%s ack %d" % (site, ack)]
    if ack < ep.peer_ack and time > ep.peer_ack_time and rules.ack_behind:
        ep.stopped = "restore"
        return ["%s ack %d behind restore-detected" % (site, ack)]
    if ack == ep.peer_ack:
        ep.peer_ack_time = max(ep.peer_ack_time, time)
    return []


def receive(ep, m, now, rules):
    """One message taken from the transport.  Returns trace lines."""
    if ep.stopped:
        return []
    site = ep.site
    if m.kind == "ctl":
        lines = _take_ack(ep, m.ack, m.time, rules)
        if not ep.stopped and rules.ack_top and m.top is not None and m.top > ep.last_seq:
            # the peer holds a bundle of ours above anything we have sent
            ep.stopped = "restore"
            lines.append("%s held %d ahead-of-sent restore-detected" % (site, m.top))
        return lines
    seq = m.seq
    name = "%s recv %s#%d" % (site, m.src, seq)
    if seq in ep.held:
        if ep.held[seq] == m.hash:
            if rules.reack_duplicates:
                ep.ack_owed = True
            return [name + " duplicate"] + _take_ack(ep, m.ack, m.time, rules)
        ep.stopped = "fork"
        return [name + " fork"]
    expected_prev = ep.held.get(seq - 1, GENESIS if seq == 1 else None)
    if expected_prev is not None and expected_prev != m.prev:
        ep.stopped = "fork"
        return [name + " fork"]
    if seq + 1 in ep.held and ep.prev_of[seq + 1] != m.hash:
        ep.stopped = "fork"
        return [name + " fork"]
    # durable in the local inbox, recorded with its hash
    ep.held[seq] = m.hash
    ep.prev_of[seq] = m.prev
    ep.bodies[seq] = m.body
    if seq == ep.recv_ack + 1:
        while ep.recv_ack + 1 in ep.held:
            ep.recv_ack += 1
        ep.ack_owed = True
        line = name + " accept ack=%d applied=%d" % (ep.recv_ack, ep.applied)
    else:
        line = name + " hold gap=%d" % (ep.recv_ack + 1)
    return [line] + _take_ack(ep, m.ack, m.time, rules)


def ready(ep):
    if ep.stopped:
        return []
    return list(range(ep.applied + 1, ep.recv_ack + 1))


def mark_applied(ep, seq):
    assert seq == ep.applied + 1 and seq <= ep.recv_ack, (seq, ep.applied, ep.recv_ack)
    ep.applied = seq
    return ["%s apply %s#%d" % (ep.site, ep.peer, seq)]


class Channel:
    """Messages in flight, per link, oldest first; and each site's transport inbox."""

    def __init__(self):
        self.flight = {link("A", "B"): [], link("B", "A"): []}
        self.spool = {"A": [], "B": []}
        self.sent_count = 0

    def send(self, msgs):
        for m in msgs:
            self.flight[link(m.src, m.dst)].append(m)
            self.sent_count += 1

    def _pick(self, lk, n):
        q = self.flight[lk]
        if not q:
            return None
        return min(n or 0, len(q) - 1)

    def deliver(self, lk, n):
        i = self._pick(lk, n)
        if i is None:
            return
        m = self.flight[lk].pop(i)
        self.spool[m.dst].append(m)

    def drop(self, lk, n):
        i = self._pick(lk, n)
        if i is not None:
            self.flight[lk].pop(i)

    def dup(self, lk, n):
        i = self._pick(lk, n)
        if i is not None:
            self.flight[lk].insert(i + 1, self.flight[lk][i])

    def take(self, site):
        msgs, self.spool[site] = self.spool[site], []
        return msgs

    def in_flight(self):
        return sum(len(q) for q in self.flight.values()) + sum(len(q) for q in self.spool.values())


class SeqWorld:
    """Runs a sequencing scenario and records the trace."""

    def __init__(self, rules=None):
        self.rules = rules or Rules()
        self.eps = {"A": Endpoint("A"), "B": Endpoint("B")}
        self.chan = Channel()
        self.now = 0
        self.backups = {}
        self.trace = []
        self.applied_log = {"A": [], "B": []}  # seqs applied, in order
        self.restored = False

    # -- runs
    def do_import(self, site, limit=None):
        ep = self.eps[site]
        lines = []
        for m in self.chan.take(site):
            lines += receive(ep, m, self.now, self.rules)
        n = 0
        for seq in ready(ep):
            if limit is not None and n >= limit:
                break
            lines += mark_applied(ep, seq)
            self.applied_log[site].append(seq)
            n += 1
        return lines

    def do_export(self, site, body):
        ep = self.eps[site]
        lines = []
        if body is not None:
            m, ls = new_bundle(ep, body, self.now, self.rules)
            lines += ls
            if m is not None:
                self.chan.send([m])
        msgs, ls = flush(ep, self.now, self.rules)
        self.chan.send(msgs)
        return lines + ls

    def step(self, ev):
        op, a = ev.op, ev.args
        if op not in SEQ_EVENTS:
            raise ValueError("not a sequencing event: %s" % format_event(ev))
        self.now += 1
        lines = []
        if op == "tick":
            self.now += a[0]
        elif op == "option":
            self.rules.option(a[0], a[1])
        elif op == "export":
            lines = self.do_export(a[0], a[1] or "-")
        elif op == "flush":
            lines = self.do_export(a[0], None)
        elif op == "import":
            lines = self.do_import(a[0])
        elif op == "run":
            lines = self.do_import(a[0]) + self.do_export(a[0], None)
        elif op == "crash":
            if a[1] is not None:
                lines = self.do_import(a[0], limit=a[1])
        elif op == "deliver":
            self.chan.deliver(a[0], a[1])
        elif op == "drop":
            self.chan.drop(a[0], a[1])
        elif op == "dup":
            self.chan.dup(a[0], a[1])
        elif op == "backup-state":
            self.backups[(a[0], a[1] or "-")] = copy.deepcopy(self.eps[a[0]])
        elif op == "restore-state":
            b = self.backups.get((a[0], a[1] or "-"))
            if b is not None:
                self.eps[a[0]] = copy.deepcopy(b)
                self.restored = True
        self.trace.append("> " + format_event(ev))
        self.trace.extend(lines)
        return lines

    def run(self, events):
        for ev in events:
            self.step(ev)
        return self


def settle(world, max_rounds=40):
    """Users are gone and the channel delivers: run both sites until nothing moves.
    Returns the number of messages sent while settling, or None if it never fell silent."""
    start = world.chan.sent_count
    wait = max(world.rules.resend_after, world.rules.ack_interval)
    quiet = 0
    for _ in range(max_rounds):
        before = world.chan.sent_count
        for s in ("A", "B"):
            world.step(Event("run", s))
            for lk in ("A->B", "B->A"):
                while world.chan.flight[lk]:
                    world.step(Event("deliver", lk, None))
        world.step(Event("tick", wait))
        if world.chan.sent_count == before and not world.chan.in_flight():
            quiet += 1
            if quiet >= 2:
                return world.chan.sent_count - start
        else:
            quiet = 0
    return None


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", metavar="SCENARIO_FILE", required=True)
    ap.add_argument("--settle", action="store_true",
                    help="after the scenario, run both sites until they fall silent")
    args = ap.parse_args(argv)
    with open(args.trace, encoding="utf-8") as f:
        events = parse(f.read())
    bad = [e for e in events if e.op not in SEQ_EVENTS]
    if bad:
        sys.stderr.write("seqmodel: not a sequencing event: %s\n" % format_event(bad[0]))
        return 2
    w = SeqWorld()
    w.run(events)
    if args.settle:
        settle(w)
    sys.stdout.write("".join(line + "\n" for line in w.trace))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
