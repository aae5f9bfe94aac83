"""The two-site model: two Jiras, two ferry states, a channel, users, crashes, restores.

Plain data, no files.  `World.run(events)` executes a scenario (docs/model.md);
`check(events, rules)` runs it, lets the users stop and the channel deliver, and returns
the list of property violations (empty when the scenario passes).
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import seqmodel as sq  # noqa: E402
from scenario import Event, format_event, other  # noqa: E402

PROJECT = "P"
USER_EVENTS = {"create", "edit", "comment", "edit-comment", "delete-comment", "attach",
               "delete-attachment", "delete", "move", "refuse", "allow"}
FIELDS = ("summary", "description", "priority")
TEXT_FIELDS = ("summary", "description")
ID_BASE = {"A": 1000, "B": 5000}


# ---------------------------------------------------------------- text normalisation

def norm_server(v):
    """Jira Data Center: line endings become LF."""
    return v.replace("\r\n", "\n")


def norm_cloud(v):
    """Jira Cloud: line endings become LF, trailing spaces of every line go."""
    v = v.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip(" \t") for line in v.split("\n"))


NORMALISERS = {"server": norm_server, "cloud": norm_cloud, "none": lambda v: v}
canon = norm_cloud  # values are "the same" on both sites when equal after this


def stamp_gt(a, b):
    """Later change time at origin wins; ties go to the higher site id."""
    if b is None:
        return a is not None
    if a is None:
        return False
    return tuple(a) > tuple(b)


# ---------------------------------------------------------------- Jira

class Field:
    __slots__ = ("value", "changed", "by", "ghost", "meta")

    def __init__(self, value, changed, by, ghost, meta=None):
        self.value, self.changed, self.by, self.ghost = value, changed, by, ghost
        self.meta = meta    # historyMetadata of a ferry write: the op id


class Comment:
    __slots__ = ("cid", "body", "changed", "by", "ghost", "stamp", "ident", "created", "meta")

    def __init__(self, cid, body, changed, by, ghost, stamp, ident):
        self.cid, self.body, self.changed, self.by = cid, body, changed, by
        self.created = changed
        self.meta = None
        self.ghost, self.stamp, self.ident = ghost, stamp, ident


class Attachment:
    __slots__ = ("aid", "name", "content", "by", "created", "ident", "meta")

    def __init__(self, aid, name, content, by, created, ident):
        self.aid, self.name, self.content = aid, name, content
        self.by, self.created, self.ident = by, created, ident
        self.meta = None


class Issue:
    def __init__(self, jid, created, stamp, uid, ident):
        self.jid = jid
        self.project = PROJECT
        self.fields = {}
        self.comments = {}
        self.attachments = {}
        self.created = created
        self.updated = created
        self.stamp = stamp      # entity property set by ferry at creation: origin key
        self.marked = False     # "deleted at the other site" mark
        self.uid = uid          # model-only identity of this Jira object
        self.ident = ident      # model-only: the pair (origin key) this issue belongs to
        self.hist = {}          # field -> [(change time, value)]: the changelog

    def set(self, f, field):
        self.fields[f] = field
        self.hist.setdefault(f, []).append((field.changed, field.value))


class Jira:
    def __init__(self, site, norm):
        self.site = site
        self.norm = NORMALISERS[norm]
        self.issues = {}
        # issues, comments and attachments have their own id sequences, as in Jira
        self.next_id = {"issue": ID_BASE[site], "comment": ID_BASE[site] + 1000,
                        "attachment": ID_BASE[site] + 2000}

    def new_id(self, kind="issue"):
        self.next_id[kind] += 1
        return self.next_id[kind]

    def text(self, field, v):
        return self.norm(v) if field in TEXT_FIELDS or field == "comment" else v

    def find_stamp(self, okey):
        for jid in sorted(self.issues):
            if self.issues[jid].stamp == okey:
                return self.issues[jid]
        return None


# ---------------------------------------------------------------- ferry state

class FerryState:
    """Everything a site's state directory holds (restored as a whole by restore-state)."""

    def __init__(self, site):
        self.ep = sq.Endpoint(site)
        self.twins = {}       # issue origin key -> local jid
        self.tomb = {}        # origin key -> "deleted" | "moved" (the local twin is gone)
        self.snap = {}        # jid -> {"fields": {f: (value, stamp)}, "updated": t, "created": t}
        self.ctw = {}         # comment origin key -> local cid
        self.cissue = {}      # comment origin key -> issue origin key
        self.csnap = {}       # cid -> (body, stamp)
        self.ccreated = {}    # cid -> creation time of the comment ferry knows by that id
        self.acreated = {}    # aid -> creation time of the attachment ferry knows by that id
        self.fseen = {}       # (jid, field) -> change time of the value ferry last read/wrote
        self.cseen = {}       # cid -> change time of the comment body ferry last read/wrote
        self.dirty = set()    # (jid, field) / ("c", cid): a local value that won and must go out
        self.overrides = {}   # same keys: the peer's edit that this value won over
        self.ctomb = set()
        self.atw = {}         # attachment origin key -> local aid
        self.aissue = {}
        self.atomb = set()
        self.journal = {}     # op id -> "intent" | "done"
        self.blocked = {}     # issue origin key -> [(op id, op, reason)]  parked / waiting
        self.conflicts = []
        self.hi_id = 0        # highest Jira issue id seen
        self.hi_created = -1  # and its creation time


class Crash(Exception):
    pass


class JiraRestore(Exception):
    pass


# ---------------------------------------------------------------- the world

class World:
    def __init__(self, rules=None, norms=("server", "cloud")):
        self.rules = rules or sq.Rules()
        self.now = 0
        self.chan = sq.Channel()
        self.jira = {"A": Jira("A", norms[0]), "B": Jira("B", norms[1])}
        self.offset = {"A": 0, "B": 0}
        self.jlast = {"A": 0, "B": 0}
        self.fs = {"A": FerryState("A"), "B": FerryState("B")}
        self.refused = {"A": set(), "B": set()}
        self.state_backups = {}
        self.state_time = {}
        self.jira_backups = {}
        self.labels = {}       # issue label -> origin key
        self.clabels = {}      # comment label -> comment origin key
        self.cowner = {}       # comment origin key -> issue origin key
        self.alabels = {}      # (issue label, name) -> attachment origin key
        self.edits = {}        # ghost id -> {"site", "ident", "sub", "parent"}
        self.deleted_idents = set()   # issues deleted or moved by a user (pair exempt)
        self.deleted_subs = set()     # comments / attachments deleted by a user
        self.violations = []
        self.trace = []
        self.restores = []     # (kind, site) of restores that happened
        self.must_detect = []  # restores that contradict what the peer or ferry relied on
        self.exported = set()  # ghosts of values ferry exported
        self.lost_to_restore = set()  # edits a Jira restore undid before ferry saw them
        self.uid = 0
        self.idents = set()
        self.okey_ident = {}   # (site, ferry's origin key) -> model identity, for checks
        self.ghost_n = 0
        self.write_budget = None
        self.pause_budget = None
        self.pause_events = []
        self.import_lines = []
        self.bulk = {}
        self.exports = []      # (site, op) for the echo check

    # -- helpers
    def jtime(self, site):
        """Jira's clock: the world's time plus the site's offset; it never runs backwards."""
        t = max(self.now + self.offset[site], self.jlast[site])
        self.jlast[site] = t
        return t

    def ghost(self, site, ident, sub, parent, value=None):
        self.ghost_n += 1
        g = "e%d" % self.ghost_n
        self.edits[g] = {"site": site, "ident": ident, "sub": sub, "parent": parent,
                         "time": self.now, "value": None if value is None else canon(value)}
        return g

    def unique_ident(self, site, ident):
        """Model identity of a new user-created object: its origin key, made unique when a
        restored Jira hands out an id a second time.  Ferry never sees it: operations carry
        it as model-only data, so that every check can tell which object is which."""
        if ident in self.idents:
            ident = "%s~%d" % (ident, len(self.idents))
        self.idents.add(ident)
        return ident

    def new_uid(self):
        self.uid += 1
        return self.uid

    def log(self, line):
        self.trace.append(line)

    def resolve_issue(self, site, label):
        """The harness's lookup of the issue a label names at a site (not ferry's)."""
        okey = self.labels.get(label)
        if okey is None:
            return None
        j = self.jira[site]
        best = None
        for jid in sorted(j.issues):
            iss = j.issues[jid]
            if iss.ident == okey:
                best = iss
                break
        return best

    def resolve_comment(self, iss, clabel):
        ck = self.clabels.get(clabel)
        if iss is None or ck is None:
            return None
        for cid in sorted(iss.comments):
            if iss.comments[cid].ident == ck:
                return iss.comments[cid]
        return None

    def resolve_att(self, iss, label, name):
        ak = self.alabels.get((label, name))
        if iss is None or ak is None:
            return None
        for aid in sorted(iss.attachments):
            if iss.attachments[aid].ident == ak:
                return iss.attachments[aid]
        return None

    def touch(self, site, iss):
        iss.updated = self.jtime(site)

    # ------------------------------------------------------------ users
    def user_event(self, op, a):
        site = a[0]
        j = self.jira[site]
        t = self.jtime(site)
        if op == "create":
            label = a[1]
            if label in self.labels:
                return
            jid = j.new_id()
            okey = self.unique_ident(site, "%s:%d" % (site, jid))
            iss = Issue(jid, t, None, self.new_uid(), okey)
            vals = {"summary": a[2] if a[2] is not None else label, "description": "",
                    "priority": "Medium"}
            for f in FIELDS:
                iss.set(f, Field(j.text(f, vals[f]), t, "user",
                                      self.ghost(site, okey, f, None, vals[f])))
            j.issues[jid] = iss
            self.labels[label] = okey
            return
        if op in ("refuse", "allow") and a[1] == "*":
            (self.refused[site].add if op == "refuse" else self.refused[site].discard)("*")
            return
        iss = self.resolve_issue(site, a[1])
        if iss is None:
            return
        if op == "edit":
            f, v = a[2], a[3]
            if f not in FIELDS:
                return
            v = j.text(f, v)
            cur = iss.fields[f]
            if cur.value == v:
                return
            iss.set(f, Field(v, t, "user", self.ghost(site, iss.ident, f, cur.ghost, v)))
            self.touch(site, iss)
        elif op == "comment":
            cl = a[2]
            if cl in self.clabels:
                return
            cid = j.new_id("comment")
            ck = self.unique_ident(site, "%s:%d" % (site, cid))
            self.clabels[cl] = ck
            self.cowner[ck] = iss.ident
            g = self.ghost(site, iss.ident, ck, None, a[3])
            iss.comments[cid] = Comment(cid, j.text("comment", a[3]), t, "user", g, None, ck)
            self.touch(site, iss)
        elif op == "edit-comment":
            c = self.resolve_comment(iss, a[2])
            if c is None:
                return
            body = j.text("comment", a[3])
            if body == c.body:
                return
            c.body, c.changed, c.by = body, t, "user"
            c.ghost = self.ghost(site, iss.ident, c.ident, c.ghost, body)
            self.touch(site, iss)
        elif op == "delete-comment":
            c = self.resolve_comment(iss, a[2])
            if c is None:
                return
            del iss.comments[c.cid]
            self.deleted_subs.add(c.ident)
            self.touch(site, iss)
        elif op == "attach":
            key = (a[1], a[2])
            if key in self.alabels:
                return
            aid = j.new_id("attachment")
            ak = self.unique_ident(site, "%s:%d" % (site, aid))
            self.alabels[key] = ak
            iss.attachments[aid] = Attachment(aid, a[2], a[3], "user", t, ak)
            iss.hist.setdefault("attachment", []).append((t, "+%d" % aid))
            self.touch(site, iss)
        elif op == "delete-attachment":
            at = self.resolve_att(iss, a[1], a[2])
            if at is None:
                return
            del iss.attachments[at.aid]
            iss.hist.setdefault("attachment", []).append((t, "-%d" % at.aid))
            self.deleted_subs.add(at.ident)
            self.touch(site, iss)
        elif op == "delete":
            del j.issues[iss.jid]
            self.deleted_idents.add(iss.ident)
        elif op == "move":
            iss.project = "OUT"
            self.deleted_idents.add(iss.ident)
            self.touch(site, iss)
        elif op == "refuse":
            self.refused[site].add(iss.uid)
        elif op == "allow":
            self.refused[site].discard(iss.uid)

    # ------------------------------------------------------------ ferry's Jira writes
    def _write(self, site, iss, ident):
        """Bookkeeping for every write ferry makes: the non-twin check and crash points."""
        if iss is not None:
            if iss.ident != ident:
                self.violations.append("write on a non-twin: %s wrote %s (pair %s) for %s"
                                       % (site, iss.jid, iss.ident, ident))
            if iss.project != PROJECT:
                self.violations.append("write outside the project: %s issue %s" % (site, iss.jid))
            self.touch(site, iss)

    def _after_write(self):
        if self.pause_budget is not None:
            self.pause_budget -= 1
            if self.pause_budget == 0:
                # users act between two steps of the import, which then goes on
                self.trace.extend(self.import_lines)
                del self.import_lines[:]
                for ev in self.pause_events:
                    self.step(ev)
                self.pause_events = []
        if self.write_budget is not None:
            self.write_budget -= 1
            if self.write_budget <= 0:
                raise Crash()

    def refuses(self, site, iss):
        return iss.uid in self.refused[site]

    # ------------------------------------------------------------ Jira restore detection
    def check_jira(self, site):
        fs = self.fs[site]
        if fs.ep.stopped or not self.rules.detect_jira_restore:
            return []
        j = self.jira[site]
        why = None
        for okey, jid in fs.twins.items():
            iss = j.issues.get(jid)
            sn = fs.snap.get(jid)
            if iss is None:
                continue
            if fs.tomb.get(okey) == "deleted":
                why = "deleted issue %d is back" % jid
            elif sn is None:
                continue
            elif iss.created != sn["created"]:
                why = "issue %d is not the one ferry knows" % jid
            elif iss.updated < sn["updated"]:
                why = "issue %d went back in time" % jid
        known_i = set(fs.twins.values())
        for jid, iss in j.issues.items():
            # an id below the highest ferry has seen, on an issue created after that one:
            # Jira's id sequence went back
            if jid <= fs.hi_id and jid not in known_i and iss.created > fs.hi_created:
                why = "issue id %d reused" % jid
            for cid, c in iss.comments.items():
                if fs.ccreated.get(cid, c.created) != c.created:
                    why = "comment %d is not the one ferry knows" % cid
                elif c.changed < fs.cseen.get(cid, c.changed):
                    why = "comment %d went back in time" % cid
            for aid, at in iss.attachments.items():
                if fs.acreated.get(aid, at.created) != at.created:
                    why = "attachment %d is not the one ferry knows" % aid
            for f, fl in iss.fields.items():
                seen = fs.fseen.get((jid, f))
                if seen is not None and seen not in iss.hist.get(f, ()):
                    why = "the changelog of issue %d lost the %s change ferry saw" % (jid, f)
        for ak, aid in fs.atw.items():
            iss = j.issues.get(fs.twins.get(fs.aissue.get(ak)))
            if iss is not None and aid not in iss.attachments and \
                    not any(e[1] == "-%d" % aid for e in iss.hist.get("attachment", ())):
                why = "attachment %d is gone and the changelog does not say so" % aid
        if why:
            fs.ep.stopped = "jira-restore"
            return ["%s jira restore-detected (%s)" % (site, why)]
        return []

    def check_state(self, site):
        """Ferry's writes carry historyMetadata naming the operation.  A write in Jira that
        the journal has no record of means the state directory was restored."""
        fs = self.fs[site]
        if fs.ep.stopped or not self.rules.detect_state_restore:
            return []
        why = None
        for jid in sorted(self.jira[site].issues):
            iss = self.jira[site].issues[jid]
            metas = [fl.meta for fl in iss.fields.values() if fl.by == "ferry"]
            metas += [c.meta for c in iss.comments.values() if c.by == "ferry"]
            metas += [a.meta for a in iss.attachments.values() if a.by == "ferry"]
            for m in metas:
                if m is not None and m not in fs.journal:
                    why = "issue %d holds ferry's write for %s, which the state does not know" % (jid, m)
                    break
            if why:
                break
        if why:
            fs.ep.stopped = "restore"
            return ["%s state restore-detected (%s)" % (site, why)]
        return []

    def seen(self, fs, iss):
        if iss.jid > fs.hi_id:
            fs.hi_id, fs.hi_created = iss.jid, iss.created

    # ------------------------------------------------------------ export
    def export(self, site):
        fs = self.fs[site]
        if fs.ep.stopped:
            return []
        lines = self.check_jira(site) + self.check_state(site)
        if fs.ep.stopped:
            return lines
        j = self.jira[site]
        peer = other(site)
        ops = []
        rev = {jid: okey for okey, jid in fs.twins.items()}
        for jid in sorted(j.issues):
            iss = j.issues[jid]
            if iss.project != PROJECT:
                continue
            self.seen(fs, iss)
            okey = rev.get(jid)
            if okey is not None and okey in fs.tomb:
                continue
            if okey is None:
                if iss.stamp is not None and iss.stamp.startswith(peer + ":"):
                    # a twin ferry created and then forgot (state restored): learn it again
                    okey = iss.stamp
                    fs.twins[okey] = jid
                    fs.snap[jid] = {"fields": {f: (fl.value, None) for f, fl in iss.fields.items()
                                               if fl.by == "ferry"},
                                    "updated": iss.updated, "created": iss.created}
                else:
                    okey = "%s:%d" % (site, jid)
                    fs.twins[okey] = jid
                    flds = {}
                    for f in FIELDS:
                        fl = iss.fields[f]
                        flds[f] = (fl.value, (fl.changed, site), fl.ghost)
                        self.exports.append((site, fl.by, fl.ghost))
                        self.exported.add(fl.ghost)
                    ops.append({"k": "create", "issue": okey, "fields": flds, "ident": iss.ident})
                    fs.snap[jid] = {"fields": {f: (v[0], v[1]) for f, v in flds.items()},
                                    "updated": iss.updated, "created": iss.created}
            sn = fs.snap[jid]
            self.okey_ident[(site, okey)] = iss.ident
            for f in FIELDS:
                fl = iss.fields[f]
                fs.fseen[(jid, f)] = (fl.changed, fl.value)
                old = sn["fields"].get(f)
                if fl.by == "ferry" and self.rules.read_back:
                    continue   # ferry's own write (in doubt): never exported; import settles it
                if old is None or fl.value != old[0] or (jid, f) in fs.dirty:
                    fs.dirty.discard((jid, f))
                    st = (fl.changed, site)
                    ops.append({"k": "update", "issue": okey, "field": f, "value": fl.value,
                                "stamp": st, "base": old[1] if old else None, "ghost": fl.ghost,
                                "overrides": fs.overrides.pop((jid, f), None),
                                "ident": iss.ident})
                    self.exports.append((site, fl.by, fl.ghost))
                    self.exported.add(fl.ghost)
                    sn["fields"][f] = (fl.value, st)
            # comments
            crev = {cid: ck for ck, cid in fs.ctw.items()}
            for cid in sorted(iss.comments):
                c = iss.comments[cid]
                ck = crev.get(cid)
                if ck is None:
                    if c.stamp is not None:
                        ck = c.stamp
                        fs.ctw[ck] = cid
                        fs.ccreated[cid] = c.created
                        fs.cissue[ck] = okey
                        fs.csnap[cid] = (c.body, None) if c.by == "ferry" else (None, None)
                        if c.by == "ferry":
                            continue
                    else:
                        ck = "%s:%d" % (site, cid)
                        fs.ctw[ck] = cid
                        fs.ccreated[cid] = c.created
                        fs.cissue[ck] = okey
                        st = (c.changed, site)
                        ops.append({"k": "c-add", "issue": okey, "c": ck, "body": c.body,
                                    "stamp": st, "ghost": c.ghost, "ident": iss.ident,
                                    "cident": c.ident})
                        self.exports.append((site, c.by, c.ghost))
                        self.exported.add(c.ghost)
                        fs.csnap[cid] = (c.body, st)
                        fs.cseen[cid] = c.changed
                        continue
                old = fs.csnap.get(cid)
                fs.cseen[cid] = c.changed
                if c.by == "ferry" and self.rules.read_back:
                    continue
                if old is None or c.body != old[0] or ("c", cid) in fs.dirty:
                    fs.dirty.discard(("c", cid))
                    st = (c.changed, site)
                    ops.append({"k": "c-edit", "issue": okey, "c": ck, "body": c.body,
                                "stamp": st, "base": old[1] if old else None, "ghost": c.ghost,
                                "overrides": fs.overrides.pop(("c", cid), None),
                                "ident": iss.ident})
                    self.exports.append((site, c.by, c.ghost))
                    self.exported.add(c.ghost)
                    fs.csnap[cid] = (c.body, st)
            for ck, cid in list(fs.ctw.items()):
                if fs.cissue.get(ck) == okey and cid not in iss.comments and ck not in fs.ctomb:
                    fs.ctomb.add(ck)
                    ops.append({"k": "c-del", "issue": okey, "c": ck, "ident": iss.ident})
            # attachments
            arev = {aid: ak for ak, aid in fs.atw.items()}
            for aid in sorted(iss.attachments):
                at = iss.attachments[aid]
                if aid in arev:
                    continue
                if at.by == "ferry":
                    continue   # content ferry added and then forgot: never exported
                ak = "%s:%d" % (site, aid)
                fs.atw[ak] = aid
                fs.acreated[aid] = iss.attachments[aid].created
                fs.aissue[ak] = okey
                ops.append({"k": "a-add", "issue": okey, "a": ak, "name": at.name,
                            "content": at.content, "ident": iss.ident, "aident": at.ident})
            for ak, aid in list(fs.atw.items()):
                if fs.aissue.get(ak) == okey and aid not in iss.attachments and ak not in fs.atomb:
                    fs.atomb.add(ak)
                    ops.append({"k": "a-del", "issue": okey, "a": ak, "ident": iss.ident})
            sn["updated"] = iss.updated
        # twins that are gone or moved out
        for okey, jid in sorted(fs.twins.items()):
            if okey in fs.tomb:
                continue
            iss = j.issues.get(jid)
            if iss is None:
                fs.tomb[okey] = "deleted"
                ops.append({"k": "deleted", "issue": okey,
                            "ident": self.okey_ident.get((site, okey))})
            elif iss.project != PROJECT:
                fs.tomb[okey] = "moved"
        if ops:
            m, ls = sq.new_bundle(fs.ep, tuple(ops), self.now, self.rules)
            lines += ls
            if m is not None:
                self.chan.send([m])
        msgs, ls = sq.flush(fs.ep, self.now, self.rules)
        self.chan.send(msgs)
        return lines + ls

    # ------------------------------------------------------------ import
    def import_(self, site, crash_after=None, pause_after=None):
        fs = self.fs[site]
        if fs.ep.stopped:
            return []
        lines = self.check_jira(site) + self.check_state(site)
        if fs.ep.stopped:
            return lines
        for m in self.chan.take(site):
            lines += sq.receive(fs.ep, m, self.now, self.rules)
        # DESIGN.md: "read current Jira values in bulk for the issues of a batch before
        # writing".  With reread_before_write (finding F5) each issue is read again right
        # before it is written, and the bulk read only saves requests.
        self.bulk = {}
        if not self.rules.reread_before_write:
            j = self.jira[site]
            for seq in sq.ready(fs.ep):
                for op in fs.ep.bodies[seq]:
                    jid = fs.twins.get(op["issue"])
                    if jid in j.issues and jid not in self.bulk:
                        self.bulk[jid] = {f: copy.copy(fl) for f, fl in j.issues[jid].fields.items()}
        self.write_budget = crash_after
        self.pause_budget = pause_after
        self.import_lines = lines
        try:
            # parked and waiting operations first, in order, per issue
            for okey in list(fs.blocked):
                q = fs.blocked[okey]
                while q:
                    opid, op, _ = q[0]
                    res = self.apply(site, op, opid)
                    if res is not None:
                        q[0] = (opid, op, res)
                        break
                    q.pop(0)
                    lines.append("%s retry %s ok" % (site, opid))
                if not q:
                    del fs.blocked[okey]
            for seq in sq.ready(fs.ep):
                body = fs.ep.bodies[seq]
                for i, op in enumerate(body):
                    opid = "%s#%d.%d" % (fs.ep.peer, seq, i)
                    if fs.journal.get(opid) == "done" and self.rules.journal:
                        continue
                    okey = op["issue"]
                    if okey in fs.blocked:
                        fs.blocked[okey].append((opid, op, "waits behind an earlier operation"))
                        lines.append("%s wait %s" % (site, opid))
                    else:
                        res = self.apply(site, op, opid)
                        if res is not None:
                            fs.blocked[okey] = [(opid, op, res)]
                            lines.append("%s park %s %s" % (site, opid, res))
                    fs.journal[opid] = "done"
                lines += sq.mark_applied(fs.ep, seq)
        except Crash:
            lines.append("%s crash" % site)
        except JiraRestore as e:
            fs.ep.stopped = "jira-restore"
            lines.append("%s jira restore-detected (%s)" % (site, e))
        finally:
            self.write_budget = None
            self.pause_budget = None
            self.bulk = {}
        return lines

    def twin_of(self, site, okey):
        """Local issue for an origin key, learning it again by its stamp if need be."""
        fs, j = self.fs[site], self.jira[site]
        jid = fs.twins.get(okey)
        if jid is None and self.rules.lookup_stamp:
            if okey.startswith(site + ":"):
                cand = j.issues.get(int(okey.split(":")[1]))
                if cand is not None and cand.stamp is None:
                    jid = cand.jid
            else:
                cand = j.find_stamp(okey)
                if cand is not None:
                    jid = cand.jid
            if jid is not None:
                fs.twins[okey] = jid
                iss = j.issues[jid]
                fs.snap.setdefault(jid, {"fields": {}, "updated": iss.updated,
                                         "created": iss.created})
        return jid

    def apply(self, site, op, opid):
        """Apply one operation.  Returns None when done, else the reason it is parked or
        waits."""
        fs, j, rules = self.fs[site], self.jira[site], self.rules
        k, okey = op["k"], op["issue"]
        if k == "create":
            jid = fs.twins.get(okey)
            if jid is None and rules.lookup_stamp:
                cand = j.find_stamp(okey)
                if cand is not None:
                    jid = cand.jid
                    fs.twins[okey] = jid
            if jid is not None:
                iss = j.issues.get(jid)
                if okey in fs.tomb or iss is None or iss.project != PROJECT:
                    return "twin gone or moved out of the project"
                if jid not in fs.snap:
                    # in doubt: the snapshot is what ferry's own create stored (the
                    # changelog shows it), not what a user may have written since
                    fs.snap[jid] = {"fields": {f: (j.text(f, op["fields"][f][0]),
                                                   op["fields"][f][1]) for f in FIELDS},
                                    "updated": iss.updated, "created": iss.created}
                return None
            if "*" in self.refused[site]:
                return "create refused by Jira"
            fs.journal[opid] = "intent"
            t = self.jtime(site)
            iss = Issue(j.new_id(), t, okey, self.new_uid(), op["ident"])
            for f in FIELDS:
                v, st, g = op["fields"][f]
                iss.set(f, Field(j.text(f, v), t, "ferry", g, opid))
            j.issues[iss.jid] = iss
            self._write(site, None, op["ident"])
            # read back: what Jira stored for ferry's own write (the changelog has it even
            # when a user changes the issue right after)
            rb = {f: iss.fields[f] for f in FIELDS}
            self._after_write()
            if iss.jid in fs.twins.values() or iss.jid <= fs.hi_id:
                raise JiraRestore("Jira gave out issue id %d a second time" % iss.jid)
            fs.twins[okey] = iss.jid
            self.seen(fs, iss)
            for f in FIELDS:
                fs.fseen[(iss.jid, f)] = (rb[f].changed, rb[f].value)
            fs.snap[iss.jid] = {"fields": {f: ((rb[f].value if rules.read_back
                                                else op["fields"][f][0]), op["fields"][f][1])
                                           for f in FIELDS},
                                "updated": iss.updated, "created": iss.created}
            return None
        jid = self.twin_of(site, okey)
        if jid is None:
            return "issue not synced yet"
        iss = j.issues.get(jid)
        if iss is None or okey in fs.tomb:
            if iss is None and okey not in fs.tomb:
                fs.tomb[okey] = "deleted"
            return "twin deleted"
        if iss.project != PROJECT:
            if rules.park_moved:
                return "twin moved out of the project"
        if k == "deleted":
            if not iss.marked:
                iss.marked = True
                self._write(site, iss, op.get("ident") or iss.ident)
                self._after_write()
            fs.snap[jid]["updated"] = iss.updated
            return None
        if self.refuses(site, iss):
            return "refused by Jira"
        sn = fs.snap.setdefault(jid, {"fields": {}, "updated": iss.updated, "created": iss.created})
        if k == "update":
            f = op["field"]
            cur = self.bulk.get(jid, iss.fields)[f]
            fs.fseen[(jid, f)] = (cur.changed, cur.value)   # ferry read it
            old = sn["fields"].get(f)

            def write():
                fs.journal[opid] = "intent"
                iss.set(f, Field(j.text(f, op["value"]), self.jtime(site), "ferry",
                                 op["ghost"], opid))
                self._write(site, iss, op.get("ident") or iss.ident)
                rb = iss.fields[f]
                self._after_write()
                if jid in self.bulk:
                    self.bulk[jid][f] = rb   # ferry knows its own writes
                stored = rb.value if rules.read_back else op["value"]
                fs.fseen[(jid, f)] = (rb.changed, rb.value)
                sn["fields"][f] = (stored, op["stamp"])
                sn["updated"] = iss.updated

            res = self.merge(site, okey, f, cur.value, cur.ghost, (cur.changed, site),
                             old, op, write, cur.by, (jid, f))
            if res is not None:
                sn["fields"][f] = res
            return None
        if k == "c-add":
            ck = op["c"]
            if ck in fs.ctw or ck in fs.ctomb:
                return None
            if rules.lookup_stamp:
                for cid, c in iss.comments.items():
                    if c.stamp == ck:
                        fs.ctw[ck] = cid
                        fs.ccreated[cid] = c.created
                        fs.cissue[ck] = okey
                        fs.csnap[cid] = (j.text("comment", op["body"]), op["stamp"])
                        return None
            fs.journal[opid] = "intent"
            cid = j.new_id("comment")
            c = Comment(cid, j.text("comment", op["body"]), self.jtime(site), "ferry",
                        op["ghost"], ck, op["cident"])
            c.meta = opid
            iss.comments[cid] = c
            self._write(site, iss, op.get("ident") or iss.ident)
            rb = (c.body, c.changed)
            self._after_write()
            if cid in fs.ccreated:
                raise JiraRestore("Jira gave out comment id %d a second time" % cid)
            fs.ctw[ck] = cid
            fs.ccreated[cid] = c.created
            fs.cissue[ck] = okey
            fs.csnap[cid] = (rb[0] if rules.read_back else op["body"], op["stamp"])
            fs.cseen[cid] = rb[1]
            fs.snap[jid]["updated"] = iss.updated
            return None
        if k == "c-edit":
            ck = op["c"]
            cid = fs.ctw.get(ck)
            if cid is None and rules.lookup_stamp:
                for xid, c in iss.comments.items():
                    if c.stamp == ck or ck == "%s:%d" % (site, xid):
                        cid = xid
                        fs.ctw[ck] = cid
                        fs.ccreated[cid] = c.created
                        fs.cissue[ck] = okey
            if cid is None or cid not in iss.comments:
                if ck in fs.ctomb or cid is not None:
                    self.conflict(site, okey, ck, None, op["ghost"], "edit of a deleted comment")
                    return None
                return "comment not synced yet"
            c = iss.comments[cid]
            fs.cseen[cid] = c.changed   # ferry read it
            old = fs.csnap.get(cid)

            def write():
                fs.journal[opid] = "intent"
                c.body, c.changed, c.by, c.ghost = (j.text("comment", op["body"]),
                                                    self.jtime(site), "ferry", op["ghost"])
                c.meta = opid
                self._write(site, iss, op.get("ident") or iss.ident)
                rb = (c.body, c.changed)
                self._after_write()
                fs.csnap[cid] = (rb[0] if rules.read_back else op["body"], op["stamp"])
                fs.cseen[cid] = rb[1]
                fs.snap[jid]["updated"] = iss.updated

            res = self.merge(site, okey, ck, c.body, c.ghost, (c.changed, site), old, op, write,
                             c.by, ("c", cid))
            if res is not None:
                fs.csnap[cid] = res
            return None
        if k == "c-del":
            ck = op["c"]
            cid = fs.ctw.get(ck)
            if cid is None:
                for xid, c in iss.comments.items():
                    if c.stamp == ck or ck == "%s:%d" % (site, xid):
                        cid = xid
            fs.ctomb.add(ck)
            if cid is not None and cid in iss.comments:
                c = iss.comments[cid]
                old = fs.csnap.get(cid)
                if old is not None and old[0] != c.body:
                    self.conflict(site, okey, ck, None, c.ghost, "edit lost to a delete")
                del iss.comments[cid]
                self._write(site, iss, op.get("ident") or iss.ident)
                self._after_write()
                fs.snap[jid]["updated"] = iss.updated
            return None
        if k == "a-add":
            ak = op["a"]
            if ak in fs.atw or ak in fs.atomb:
                return None
            if rules.lookup_stamp:
                for aid, at in iss.attachments.items():
                    if at.by == "ferry" and at.name == op["name"] and at.content == op["content"]:
                        fs.atw[ak] = aid
                        fs.acreated[aid] = iss.attachments[aid].created
                        fs.aissue[ak] = okey
                        return None
            fs.journal[opid] = "intent"
            aid = j.new_id("attachment")
            iss.hist.setdefault("attachment", []).append((self.jtime(site), "+%d" % aid))
            iss.attachments[aid] = Attachment(aid, op["name"], op["content"], "ferry",
                                              self.jtime(site), op["aident"])
            iss.attachments[aid].meta = opid
            self._write(site, iss, op.get("ident") or iss.ident)
            created = iss.attachments[aid].created
            self._after_write()
            fs.atw[ak] = aid
            fs.acreated[aid] = created
            fs.aissue[ak] = okey
            fs.snap[jid]["updated"] = iss.updated
            return None
        if k == "a-del":
            ak = op["a"]
            aid = fs.atw.get(ak)
            if aid is None:
                for xid, at in iss.attachments.items():
                    if ak == "%s:%d" % (site, xid):
                        aid = xid
            fs.atomb.add(ak)
            if aid is not None and aid in iss.attachments:
                del iss.attachments[aid]
                iss.hist.setdefault("attachment", []).append((self.jtime(site), "-%d" % aid))
                self._write(site, iss, op.get("ident") or iss.ident)
                self._after_write()
                fs.snap[jid]["updated"] = iss.updated
            return None
        raise ValueError(k)

    def conflict(self, site, okey, sub, winner, loser, why):
        self.fs[site].conflicts.append({"issue": okey, "sub": sub, "winner": winner,
                                        "loser": loser, "why": why})
        self.log("%s conflict %s %s loser=%s (%s)" % (site, okey, sub, loser, why))

    def merge(self, site, okey, sub, mine, mine_ghost, mine_stamp_if_local, old, op, write,
              mine_by="user", dirty_key=None):
        """Three-way merge of one value against the current local value `mine`.
        old = the snapshot (value, stamp) or None.  Calls write() when theirs is to be
        written (write() updates the snapshot from the read-back).  Returns the new
        snapshot entry, or None to leave the snapshot as it is."""
        theirs = op["value"] if "value" in op else op["body"]
        ts = op["stamp"]
        if op.get("overrides"):
            self.conflict(site, okey, sub, op["ghost"], op["overrides"],
                          "both changed; theirs later (resolved at the peer)")
        same = canon(mine) == canon(theirs)
        if same:
            # model bookkeeping: the two edits are now one value
            e, t = self.edits.get(mine_ghost), self.edits.get(op["ghost"])
            if e is not None and t is not None and op["ghost"] != mine_ghost:
                e.setdefault("extra", []).append(op["ghost"])
                t.setdefault("extra", []).append(mine_ghost)
            if mine_by == "ferry":
                return (mine, ts)   # in doubt: ferry's own write of this very value
        # a local value that won a conflict and is still to go out is a local change even
        # if a user has since typed the value the snapshot holds
        local_changed = old is None or mine != old[0] or dirty_key in self.fs[site].dirty
        mine_stamp = mine_stamp_if_local if local_changed else old[1]
        if self.rules.stamp_merge:
            concurrent = old is None or op["base"] != old[1]
        else:
            # DESIGN.md as written: base = snapshot; mine equals base: write theirs;
            # theirs equals base: nothing; both changed: conflict by change time.
            concurrent = False
            if local_changed and old is not None and canon(theirs) == canon(old[0]):
                return None
        fs = self.fs[site]

        def write_theirs():
            fs.dirty.discard(dirty_key)      # whatever was to go out is overwritten
            fs.overrides.pop(dirty_key, None)
            write()

        if not local_changed and not concurrent:
            if same:
                return (mine, ts)
            write_theirs()
            return None
        if same:
            if stamp_gt(ts, mine_stamp):
                fs.dirty.discard(dirty_key)
                fs.overrides.pop(dirty_key, None)
                return (mine, ts)
            if local_changed:
                # the same value, but mine is the later change: the snapshot keeps mine's
                # stamp, and mine still goes out so that the peer learns that stamp
                self.fs[site].dirty.add(dirty_key)
                return (mine, mine_stamp)
            return None
        if stamp_gt(ts, mine_stamp):
            self.conflict(site, okey, sub, op["ghost"], mine_ghost, "both changed; theirs later")
            write_theirs()
            return None
        self.conflict(site, okey, sub, mine_ghost, op["ghost"], "both changed; mine later")
        if local_changed and self.rules.stamp_merge:
            # mine is still to be exported, and its base is now theirs; it tells the peer
            # which of its edits it won over, so that the peer records the conflict too
            self.fs[site].dirty.add(dirty_key)
            self.fs[site].overrides[dirty_key] = op["ghost"]
            return (theirs, ts)
        return None

    # ------------------------------------------------------------ events
    def step(self, ev):
        op, a = ev.op, ev.args
        self.now += 1
        lines = []
        if op == "tick":
            self.now += a[0]
        elif op == "option":
            self.rules.option(a[0], a[1])
        elif op == "clock":
            self.offset[a[0]] = a[1]
        elif op == "export":
            lines = self.export(a[0])
        elif op == "flush":
            fs = self.fs[a[0]]
            msgs, lines = sq.flush(fs.ep, self.now, self.rules)
            self.chan.send(msgs)
        elif op == "import":
            lines = self.import_(a[0])
        elif op == "run":
            lines = self.import_(a[0]) + self.export(a[0])
        elif op == "crash":
            if a[1] is not None:
                lines = self.import_(a[0], crash_after=max(1, a[1]))
        elif op == "pause":
            self.trace.append("> " + format_event(ev))
            lines = self.import_(a[0], pause_after=max(1, a[1]))
            self.trace.extend(lines)
            return lines
        elif op == "deliver":
            self.chan.deliver(a[0], a[1])
        elif op == "drop":
            self.chan.drop(a[0], a[1])
        elif op == "dup":
            self.chan.dup(a[0], a[1])
        elif op == "backup-state":
            b = self.state_backups[(a[0], a[1] or "-")] = copy.deepcopy(self.fs[a[0]])
            self.state_time[id(b)] = self.now
        elif op == "restore-state":
            b = self.state_backups.get((a[0], a[1] or "-"))
            if b is not None:
                self.restore_state(a[0], b)
        elif op == "backup-jira":
            j = self.jira[a[0]]
            self.jira_backups[(a[0], a[1] or "-")] = (copy.deepcopy(j.issues), dict(j.next_id),
                                                      self.now)
        elif op == "restore-jira":
            b = self.jira_backups.get((a[0], a[1] or "-"))
            if b is not None:
                self.restore_jira(a[0], b)
        else:
            self.user_event(op, a)
        self.trace.append("> " + format_event(ev))
        self.trace.extend(lines)
        return lines

    def restore_state(self, site, backup):
        # a state older than a Jira backup knows nothing that backup lacks
        self.must_detect = [m for m in self.must_detect
                            if not (m[1] == site and self.state_time[id(backup)] <= m[3])]
        self.fs[site] = copy.deepcopy(backup)
        self.restores.append(("state", site))

    def restore_jira(self, site, backup):
        j, fs = self.jira[site], self.fs[site]
        issues, next_id, when = backup
        relied = set()   # issues ferry saw in a state that the backup does not have
        for okey, jid in fs.twins.items():
            then_iss, now_iss = issues.get(jid), j.issues.get(jid)
            if okey in fs.tomb or now_iss is None or jid not in fs.snap:
                continue
            if then_iss is None:
                relied.add((now_iss.ident, None))
                continue
            for f in FIELDS:
                seen = fs.fseen.get((jid, f))
                if seen is not None and seen not in then_iss.hist.get(f, ()):
                    relied.add((now_iss.ident, f))
            for ak, aid in fs.atw.items():
                if fs.aissue.get(ak) == okey and aid not in then_iss.attachments and \
                        aid in now_iss.attachments:
                    relied.add((now_iss.ident, now_iss.attachments[aid].ident))
            for cid, c in then_iss.comments.items():
                if c.changed < fs.cseen.get(cid, c.changed):
                    relied.add((now_iss.ident, c.ident))
            # (a comment that only the restore removed is not counted: Jira's changelog
            # does not record comment deletions, see docs/model.md, Findings)
        # an earlier restore of this Jira that ferry has not noticed yet is judged afresh
        self.must_detect = [m for m in self.must_detect if m[1] != site]
        if relied:
            self.must_detect.append(("jira", site, self.now, when, relied))
        # what ferry never saw is simply gone, as if a user had deleted it
        then_issues = {i.ident for i in issues.values()}
        then_subs = {x.ident for i in issues.values()
                     for x in list(i.comments.values()) + list(i.attachments.values())}
        for iss in j.issues.values():
            if iss.ident not in then_issues:
                self.deleted_idents.add(iss.ident)
            for x in list(iss.comments.values()) + list(iss.attachments.values()):
                if x.ident not in then_subs:
                    self.deleted_subs.add(x.ident)
        for g, e in self.edits.items():
            if e["site"] == site and e["time"] > when and g not in self.exported:
                self.lost_to_restore.add(g)
        j.issues, j.next_id = copy.deepcopy(issues), dict(next_id)
        self.restores.append(("jira", site))

    def run(self, events):
        i = 0
        while i < len(events):
            ev = events[i]
            i += 1
            if ev.op == "pause":
                # the user events that follow happen during the import
                j = i
                while j < len(events) and events[j].op in USER_EVENTS:
                    j += 1
                self.pause_events = list(events[i:j])
                i = j
                self.step(ev)
                for left in self.pause_events:   # the import wrote less than K times
                    self.step(left)
                self.pause_events = []
            else:
                self.step(ev)
        return self

    # ------------------------------------------------------------ settle
    def settle(self, max_rounds=40):
        """Users stop, refusals are lifted, the channel delivers everything: run both sites
        until nothing moves.  Returns messages sent, or None if they never fell silent."""
        for s in ("A", "B"):
            self.refused[s].clear()
        # The same loop as the sequencing layer's: run, deliver, wait.
        return sq.settle(self, max_rounds)


# ---------------------------------------------------------------- properties

def ancestors(world, ghosts, group=()):
    """Edits that the values `ghosts` build on.  An edit in `group` that put back a value
    one of its own ancestors already had (a revert) is covered when that ancestor is."""
    out = set()
    todo = [g for g in ghosts if g]
    while True:
        while todo:
            g = todo.pop()
            if g in out:
                continue
            out.add(g)
            e = world.edits.get(g, {})
            if e.get("parent"):
                todo.append(e["parent"])
            todo.extend(e.get("extra", ()))
        for g in group:
            if g in out:
                continue
            e = world.edits[g]
            p = e["parent"]
            while p:
                pe = world.edits[p]
                if p in out and pe["value"] == e["value"]:
                    todo.append(g)
                    break
                p = pe["parent"]
        if not todo:
            return out


def issue_by_ident(world, site):
    res = {}
    dups = []
    for jid in sorted(world.jira[site].issues):
        iss = world.jira[site].issues[jid]
        if iss.ident in res:
            dups.append("%s holds issue %s twice (%d, %d)" % (site, iss.ident, res[iss.ident].jid, jid))
            continue
        res[iss.ident] = iss
    return res, dups


def evaluate(world, settled, probe_settled):
    """Property violations of a world that has been settled."""
    v = list(world.violations)
    detected = [(s, world.fs[s].ep.stopped) for s in "AB" if world.fs[s].ep.stopped]
    if detected and not world.restores:
        v.append("false detection: %s" % detected)
    if detected:
        return v   # an administrator takes over; nothing more is promised
    for kind, site, when, backup_time, relied in world.must_detect:
        def exempt(i, sub):
            if i in world.deleted_idents or sub in world.deleted_subs:
                return True   # deleted since: nothing left to protect
            if sub in world.cowner:
                # residual (docs/model.md, Findings): Jira keeps no history of comment
                # bodies, so a rolled-back comment that a user edits again before ferry
                # runs looks like an ordinary edit; the rolled-back edit is lost with it
                later = [g for g, e in world.edits.items()
                         if e["sub"] == sub and e["site"] == site and e["time"] > when]
                if later:
                    world.lost_to_restore.update(
                        g for g, e in world.edits.items()
                        if e["sub"] == sub and e["site"] == site
                        and backup_time < e["time"] <= when)
                    return True
            return False
        if all(exempt(i, sub) for i, sub in relied):
            continue
        v.append("restore of %s's %s (at t=%d) not detected" % (site, kind, when))
    for s in "AB":
        snd, rcv = world.fs[s].ep, world.fs[other(s)].ep
        if not (snd.peer_ack == snd.last_seq == rcv.recv_ack == rcv.applied) or \
                rcv.held.get(snd.last_seq, sq.GENESIS) != snd.last_hash:
            v.append("sequencing of %s->%s inconsistent and not detected: sent %d acked %d "
                     "received %d applied %d" % (s, other(s), snd.last_seq, snd.peer_ack,
                                                 rcv.recv_ack, rcv.applied))
    if settled is None or probe_settled is None:
        v.append("sites did not fall silent")
    elif probe_settled > 4:
        # one new issue at each site: two bundles, at most two control acks, then silence
        v.append("sites sent %d messages to sync one new issue each" % probe_settled)
    if world.restores and any(k == "state" for k, _ in world.restores):
        pass  # a forgotten state may echo once; the echo check does not apply
    else:
        for site, by, g in world.exports:
            if by == "ferry":
                v.append("echo: %s exported a value ferry wrote (%s)" % (site, g))
                break
    ia, da = issue_by_ident(world, "A")
    ib, db = issue_by_ident(world, "B")
    v += da + db
    by_sub = {}
    for g, e in world.edits.items():
        by_sub.setdefault((e["ident"], e["sub"]), []).append(g)
    losers = [c["loser"] for s in "AB" for c in world.fs[s].conflicts if c["loser"]]
    for ident in sorted(set(ia) | set(ib)):
        if ident in world.deleted_idents:
            continue
        a, b = ia.get(ident), ib.get(ident)
        if a is None or b is None or a.project != PROJECT or b.project != PROJECT:
            v.append("issue %s not on both sites" % ident)
            continue
        for f in FIELDS:
            if canon(a.fields[f].value) != canon(b.fields[f].value):
                v.append("issue %s field %s differs: %r vs %r" % (ident, f, a.fields[f].value,
                                                                  b.fields[f].value))
            ok = ancestors(world, [a.fields[f].ghost, b.fields[f].ghost] +
                           losers + list(world.lost_to_restore),
                           by_sub.get((ident, f), ()))
            for g in by_sub.get((ident, f), ()):
                if g not in ok:
                    v.append("edit %s of %s.%s lost without a conflict record" % (g, ident, f))
        ca, cdup_a = _by_ident(a.comments.values())
        cb, cdup_b = _by_ident(b.comments.values())
        v += ["%s holds comment %s twice" % (s, x) for s, d in (("A", cdup_a), ("B", cdup_b))
              for x in d]
        for ck in sorted(set(ca) | set(cb)):
            x, y = ca.get(ck), cb.get(ck)
            if x is None or y is None:
                if ck not in world.deleted_subs:
                    v.append("comment %s of %s not on both sites" % (ck, ident))
                continue
            if canon(x.body) != canon(y.body):
                v.append("comment %s of %s differs: %r vs %r" % (ck, ident, x.body, y.body))
            if ck in world.deleted_subs:
                continue
            ok = ancestors(world, [x.ghost, y.ghost] + losers + list(world.lost_to_restore),
                           by_sub.get((ident, ck), ()))
            for g in by_sub.get((ident, ck), ()):
                if g not in ok:
                    v.append("comment edit %s of %s lost without a conflict record" % (g, ck))
        for ck, owner in world.cowner.items():
            if owner == ident and ck not in world.deleted_subs and (ck not in ca or ck not in cb):
                if "comment %s of %s not on both sites" % (ck, ident) not in v:
                    v.append("comment %s of %s not on both sites" % (ck, ident))
        aa, adup_a = _by_ident(a.attachments.values())
        ab, adup_b = _by_ident(b.attachments.values())
        v += ["%s holds attachment %s twice" % (s, x) for s, d in (("A", adup_a), ("B", adup_b))
              for x in d]
        for ak in sorted(set(aa) | set(ab)):
            x, y = aa.get(ak), ab.get(ak)
            if x is None or y is None:
                if ak not in world.deleted_subs:
                    v.append("attachment %s of %s not on both sites" % (ak, ident))
            elif (x.name, x.content) != (y.name, y.content):
                v.append("attachment %s of %s differs" % (ak, ident))
    for label, okey in world.labels.items():
        if okey not in world.deleted_idents and (okey not in ia or okey not in ib):
            msg = "issue %s not on both sites" % okey
            if msg not in v:
                v.append(msg)
    return v


def _by_ident(items):
    res, dups = {}, []
    for x in items:
        if x.ident in res:
            dups.append(x.ident)
        else:
            res[x.ident] = x
    return res, dups


PROBE = [Event("create", "A", "PROBE-A", "probe"), Event("create", "B", "PROBE-B", "probe")]


def check(events, rules=None, world=None):
    """Run a scenario, settle, probe, settle; return (violations, world)."""
    w = world or World(rules.copy() if rules else None)
    try:
        w.run(events)
        settled = w.settle()
        w.run(PROBE)
        probe_settled = w.settle()
        w.settle_counts = (settled, probe_settled)
    except Exception as e:  # a model bug is a failure too, and shrinks like one
        return ["model raised %s: %s" % (type(e).__name__, e)], w
    return evaluate(w, settled, probe_settled), w
