#!/usr/bin/python3
"""Data for tests/bench/bench_bundle.sh.

DIR/issues.jsonl  2,000 issues as Jira Data Center returns them
                  (GET /rest/api/2/issue/{id}, the shape of
                  /work/shared/jira-reference/payloads/dc-v2-issue-get-basic.json
                  with a description and two comments filled in)
DIR/ops2000.msgpack  the operations ferry sends for those 2,000 issues:
                  issue.create with the mirrored fields + comment.add
DIR/ops10k.msgpack   10,000 operations: creates, updates with base
                  values, comments (mixed as an export of a busy day)
DIR/att/          200 MB of attachments: 10 x 10 MB random (photos,
                  archives: incompressible) and 10 x 10 MB of log text
"""
import copy
import json
import os
import random
import sys

import msgpack

REF = os.environ.get("JIRA_REFERENCE",
                     "/work/shared/jira-reference/payloads")
WORDS = ("printer network server login error timeout report customer "
         "update deploy build release database backup restore invoice "
         "queue disk memory latency user password migration ticket "
         "firewall proxy certificate license vendor meeting").split()


def text(rnd, n):
    return " ".join(rnd.choice(WORDS) for _ in range(n)).capitalize() + "."


def issue_json(tpl, rnd, i):
    doc = copy.deepcopy(tpl)
    iid = 20000 + i
    key = "DEMO-%d" % (i + 1)
    doc["id"] = str(iid)
    doc["key"] = key
    doc["self"] = doc["self"].replace("10002", str(iid))
    f = doc["fields"]
    f["summary"] = text(rnd, 8)
    f["description"] = "\n\n".join(text(rnd, 40) for _ in range(3))
    f["labels"] = rnd.sample(WORDS, 2)
    day = "2024-%02d-%02dT%02d:%02d:00.000+0000" % (
        rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23),
        rnd.randint(0, 59))
    f["created"] = f["updated"] = day
    comments = [{
        "self": "http://localhost:2990/jira/rest/api/2/issue/%d/comment/%d"
                % (iid, 30000 + 2 * i + k),
        "id": str(30000 + 2 * i + k),
        "author": f["reporter"], "updateAuthor": f["reporter"],
        "body": text(rnd, 30), "created": day, "updated": day,
    } for k in range(2)]
    f["comment"] = {"startAt": 0, "maxResults": 2, "total": 2,
                    "comments": comments}
    return doc


def ops_for(doc, at):
    f = doc["fields"]
    fields = [{"n": "summary", "v": f["summary"]},
              {"n": "description", "v": f["description"]},
              {"n": "issuetype", "v": f["issuetype"]["name"]},
              {"n": "priority", "v": (f.get("priority") or {}).get("name")},
              {"n": "status", "v": (f.get("status") or {}).get("name")},
              {"n": "labels", "v": f["labels"]},
              {"n": "reporter", "v": f["reporter"]["displayName"]}]
    ops = [{"t": "issue.create", "issue": int(doc["id"]), "key": doc["key"],
            "at": at, "by": f["reporter"]["displayName"], "fields": fields}]
    for c in f["comment"]["comments"]:
        ops.append({"t": "comment.add", "issue": int(doc["id"]),
                    "key": doc["key"], "at": at + 1000,
                    "by": c["author"]["displayName"],
                    "comment": int(c["id"]), "body": c["body"]})
    return ops


def main(out):
    rnd = random.Random(12)
    tpl = json.load(open(os.path.join(REF, "dc-v2-issue-get-basic.json")))
    os.makedirs(os.path.join(out, "att"), exist_ok=True)
    with open(os.path.join(out, "issues.jsonl"), "w") as js, \
            open(os.path.join(out, "ops2000.msgpack"), "wb") as o2:
        for i in range(2000):
            doc = issue_json(tpl, rnd, i)
            js.write(json.dumps(doc) + "\n")
            for op in ops_for(doc, 1700000000000 + i * 60000):
                o2.write(msgpack.packb(op, use_bin_type=True))
    with open(os.path.join(out, "ops10k.msgpack"), "wb") as o:
        n = 0
        i = 0
        while n < 10000:
            doc = issue_json(tpl, rnd, i)
            ops = ops_for(doc, 1700000000000 + i * 60000)
            ops.append({"t": "issue.update", "issue": int(doc["id"]),
                        "key": doc["key"], "at": 1700000900000,
                        "fields": [{"n": "summary", "v": text(rnd, 8),
                                    "b": doc["fields"]["summary"]},
                                   {"n": "priority", "v": "High",
                                    "b": "Major", "at": 1700000800000}]})
            for op in ops[:10000 - n]:
                o.write(msgpack.packb(op, use_bin_type=True))
            n += len(ops[:10000 - n])
            i += 1
    mb = 1 << 20
    for k in range(10):
        with open(os.path.join(out, "att", "photo%02d.jpg" % k), "wb") as f:
            f.write(os.urandom(10 * mb))
        with open(os.path.join(out, "att", "server%02d.log" % k), "w") as f:
            size = 0
            while size < 10 * mb:
                line = "2024-05-%02d 12:%02d:%02d.%03d INFO [worker-%d] %s\n" % (
                    rnd.randint(1, 28), rnd.randint(0, 59),
                    rnd.randint(0, 59), rnd.randint(0, 999),
                    rnd.randint(1, 16), text(rnd, 9))
                f.write(line)
                size += len(line)


if __name__ == "__main__":
    main(sys.argv[1])
