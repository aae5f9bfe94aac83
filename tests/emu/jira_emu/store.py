"""SQLite persistence of one emulated site (``DIR/jira.db``).

Data tables hold JSON documents; ``runtime`` holds settings that a backup restore does
not touch (clock offset, search lag, runtime config patches, failed-login counters).
"""
import json
import os
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS runtime(k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS issues(id INTEGER PRIMARY KEY, key TEXT UNIQUE, project TEXT,
    data TEXT, prev TEXT, written REAL, wlag REAL DEFAULT 0, parent INTEGER);
CREATE INDEX IF NOT EXISTS issues_parent ON issues(parent);
CREATE TABLE IF NOT EXISTS moved_keys(key TEXT PRIMARY KEY, issue_id INTEGER);
CREATE TABLE IF NOT EXISTS comments(id INTEGER PRIMARY KEY, issue_id INTEGER, data TEXT);
CREATE INDEX IF NOT EXISTS comments_issue ON comments(issue_id);
CREATE TABLE IF NOT EXISTS attachments(id INTEGER PRIMARY KEY, issue_id INTEGER, data TEXT,
    content BLOB);
CREATE INDEX IF NOT EXISTS attachments_issue ON attachments(issue_id);
CREATE TABLE IF NOT EXISTS histories(id INTEGER PRIMARY KEY, issue_id INTEGER, data TEXT);
CREATE INDEX IF NOT EXISTS histories_issue ON histories(issue_id);
CREATE TABLE IF NOT EXISTS issue_props(issue_id INTEGER, k TEXT, v TEXT, PRIMARY KEY(issue_id, k));
CREATE TABLE IF NOT EXISTS comment_props(comment_id INTEGER, k TEXT, v TEXT,
    PRIMARY KEY(comment_id, k));
CREATE TABLE IF NOT EXISTS remotelinks(id INTEGER PRIMARY KEY, issue_id INTEGER,
    global_id TEXT, data TEXT);
"""
DATA_TABLES = ["meta", "issues", "moved_keys", "comments", "attachments", "histories",
               "issue_props", "comment_props", "remotelinks"]

SEQ_START = {"issue": 10000, "comment": 10000, "attachment": 10000, "history": 10000,
             "remotelink": 10000}


class Store:
    def __init__(self, state_dir):
        self.dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self.path = os.path.join(state_dir, "jira.db")
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    # -- transactions -------------------------------------------------------
    def __enter__(self):
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
        return False

    def q(self, sql, *args):
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def q1(self, sql, *args):
        rows = self.q(sql, *args)
        return rows[0] if rows else None

    def x(self, sql, *args):
        with self.lock:
            return self.db.execute(sql, args)

    # -- key/value ------------------------------------------------------------
    def get_meta(self, k, default=None, table="meta"):
        r = self.q1("SELECT v FROM %s WHERE k=?" % table, k)
        return json.loads(r[0]) if r else default

    def set_meta(self, k, v, table="meta"):
        self.x("INSERT OR REPLACE INTO %s(k, v) VALUES(?, ?)" % table, k, json.dumps(v))

    def next_seq(self, name):
        cur = self.get_meta("seq:" + name)
        if cur is None:
            cur = SEQ_START.get(name, 0)
        else:
            cur += 1
        self.set_meta("seq:" + name, cur)
        return cur

    def next_free(self, name, table):
        """The next id of a sequence that is not taken in ``table`` (seeded data may hold
        ids anywhere)."""
        while True:
            n = self.next_seq(name)
            if not self.q1("SELECT 1 FROM %s WHERE id=?" % table, n):
                return n

    # -- whole-site operations -----------------------------------------------
    def reset(self):
        with self.lock:
            for t in DATA_TABLES:
                self.db.execute("DELETE FROM " + t)

    def snapshot(self, name):
        d = os.path.join(self.dir, "snapshots")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, _safe(name) + ".db")
        with self.lock:
            if os.path.exists(path):
                os.unlink(path)
            dst = sqlite3.connect(path)
            self.db.backup(dst)
            dst.close()
        return path

    def restore(self, name):
        path = os.path.join(self.dir, "snapshots", _safe(name) + ".db")
        if not os.path.exists(path):
            raise KeyError(name)
        with self.lock:
            runtime = self.q("SELECT k, v FROM runtime")
            src = sqlite3.connect(path)
            src.backup(self.db)
            src.close()
            self.db.execute("DELETE FROM runtime")
            self.db.executemany("INSERT INTO runtime(k, v) VALUES(?, ?)", runtime)

    def snapshots(self):
        d = os.path.join(self.dir, "snapshots")
        if not os.path.isdir(d):
            return []
        return sorted(f[:-3] for f in os.listdir(d) if f.endswith(".db"))


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:100] or "default"
