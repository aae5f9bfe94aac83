#!/usr/bin/python3
"""Run seeded random scenarios through the two-site model and print a summary.

    /usr/bin/python3 tests/model/run.py --seeds 2000 --steps 40
    /usr/bin/python3 tests/model/run.py --seeds 200 --rule read_back=0   # a broken variant
    /usr/bin/python3 tests/model/run.py --replay FILE                     # one scenario
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen  # noqa: E402
import model  # noqa: E402
import seqmodel as sq  # noqa: E402
from scenario import format_scenario, parse  # noqa: E402


def make_rules(specs):
    r = sq.Rules()
    for s in specs or ():
        k, _, v = s.partition("=")
        r.option(k, v)
    return r


def one(args):
    seed, steps, specs, seq_only = args
    rules = make_rules(specs)
    evs = gen.generate(seed, steps, seq_only=seq_only)
    if seq_only:
        w = sq.SeqWorld(rules.copy()).run(evs)
        n = sq.settle(w)
        # the probe: one new bundle each way, so that a latent disagreement shows
        w.run(parse("export A\nexport B\n"))
        n2 = sq.settle(w)
        v = seq_properties(w, n if n2 is not None else None)
        return seed, len(evs), w.chan.sent_count, v, False, _events_run(w)
    v, w = model.check(evs, rules)
    restored = bool(w.restores)
    detected = any(w.fs[s].ep.stopped for s in "AB")
    return seed, len(evs), w.chan.sent_count, v, (restored, detected), _events_run(w)


def _events_run(w):
    return sum(1 for line in w.trace if line.startswith("> "))


def seq_properties(w, settled):
    """Properties of the sequencing layer alone."""
    v = []
    stopped = [s for s in "AB" if w.eps[s].stopped]
    if stopped and not w.restored:
        v.append("false detection at %s" % stopped)
    if stopped:
        return v
    if settled is None:
        v.append("sites did not fall silent")
    for s in "AB":
        peer, me = w.eps[sq.other(s)], w.eps[s]
        log = w.applied_log[s]
        if not w.restored and log != list(range(1, peer.last_seq + 1)):
            v.append("%s applied %s, not each of %s's bundles once in order" % (s, log, peer.site))
        if not (peer.peer_ack == peer.last_seq == me.recv_ack == me.applied) or \
                me.held.get(peer.last_seq, sq.GENESIS) != peer.last_hash:
            v.append("%s->%s: sent %d, acknowledged %d, received %d, applied %d"
                     % (peer.site, s, peer.last_seq, peer.peer_ack, me.recv_ack, me.applied))
    return v


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rule", action="append", help="NAME=VALUE, e.g. read_back=0")
    ap.add_argument("--seq-only", action="store_true", help="the sequencing layer alone")
    ap.add_argument("--replay", metavar="FILE", help="run one scenario file, print its trace")
    ap.add_argument("--no-shrink", action="store_true")
    args = ap.parse_args(argv)

    if args.replay:
        with open(args.replay, encoding="utf-8") as f:
            evs = parse(f.read())
        v, w = model.check(evs, make_rules(args.rule))
        print("\n".join(w.trace))
        print("violations:", v or "none")
        return 1 if v else 0

    t0 = time.time()
    work = [(s, args.steps, args.rule, args.seq_only)
            for s in range(args.start, args.start + args.seeds)]
    if args.jobs > 1:
        import multiprocessing
        with multiprocessing.Pool(args.jobs) as pool:
            results = pool.map(one, work, chunksize=16)
    else:
        results = [one(w) for w in work]
    dt = time.time() - t0
    fails = [r for r in results if r[3]]
    n = len(results)
    print("scenarios run:      %d (seeds %d..%d, %d steps requested)"
          % (n, args.start, args.start + args.seeds - 1, args.steps))
    print("mean length:        %.1f events (%.1f with settling and probe)"
          % (sum(r[1] for r in results) / max(n, 1), sum(r[5] for r in results) / max(n, 1)))
    print("mean messages sent: %.1f (including settling)" % (sum(r[2] for r in results) / max(n, 1)))
    if not args.seq_only:
        rest = [r for r in results if r[4] and r[4][0]]
        det = [r for r in rest if r[4][1]]
        print("with a restore:     %d (detected: %d, healed without harm: %d)"
              % (len(rest), len(det), len(rest) - len(det)))
    print("property failures:  %d" % len(fails))
    print("runtime:            %.1f s on %d job(s)" % (dt, args.jobs))
    if fails:
        seed = fails[0][0]
        print("first failing seed: %d: %s" % (seed, fails[0][3][0]))
        if not args.no_shrink and not args.seq_only:
            rules = make_rules(args.rule)
            evs = gen.generate(seed, args.steps)
            cat = gen.category(fails[0][3][0])
            small = gen.shrink(evs, lambda e: any(gen.category(x) == cat
                                                  for x in model.check(e, rules)[0]))
            print("shrunk to %d events:" % len(small))
            sys.stdout.write(format_scenario(small))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
