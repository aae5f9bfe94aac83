/*
 * store.c: the SQLite database of a site: open, migrate, transactions,
 * and the typed accessors of the sequencing layer (see store.h).
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/crash.h"
#include "ferry/store.h"

#include <sqlite3.h>

/* 'FRRY': a database of some other program is never migrated. */
#define STORE_APP_ID	0x46525259

struct store {
	sqlite3	*db;
	char	*path;
	int	 version;
};

/*
 * Each step takes the schema from version i to i + 1, in one transaction
 * with the new user_version.  Append; never edit a released step.
 */
static const char *const migrations[] = {
	/* 1: the channel. */
	"CREATE TABLE site ("
	"  one INTEGER PRIMARY KEY CHECK (one = 1),"
	"  site_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  key_fpr TEXT);"
	"CREATE TABLE conn ("
	"  id INTEGER PRIMARY KEY,"
	"  conn_id TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL UNIQUE,"
	"  project TEXT NOT NULL,"
	"  sync_user TEXT NOT NULL,"
	"  peer_site TEXT,"
	"  peer_fpr TEXT,"
	"  transport TEXT NOT NULL DEFAULT '',"
	"  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),"
	"  reason TEXT);"
	"CREATE TABLE chan ("
	"  conn INTEGER PRIMARY KEY REFERENCES conn(id),"
	"  out_sent INTEGER NOT NULL, out_hash BLOB NOT NULL,"
	"  out_acked INTEGER NOT NULL,"
	"  in_recv INTEGER NOT NULL, in_hash BLOB NOT NULL,"
	"  in_applied INTEGER NOT NULL, in_carried INTEGER NOT NULL,"
	"  ack_told INTEGER NOT NULL, ack_at INTEGER,"
	"  stop INTEGER NOT NULL, stop_seq INTEGER NOT NULL);"
	"CREATE TABLE outgoing ("
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  seq INTEGER NOT NULL CHECK (seq > 0),"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  file TEXT,"
	"  size INTEGER NOT NULL,"
	"  made INTEGER NOT NULL,"
	"  sends INTEGER NOT NULL DEFAULT 0,"
	"  last_send INTEGER,"
	"  acked INTEGER,"
	"  PRIMARY KEY (conn, seq));"
	"CREATE INDEX outgoing_file ON outgoing(file);"
	"CREATE TABLE incoming ("
	"  id INTEGER PRIMARY KEY,"
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  seq INTEGER NOT NULL CHECK (seq > 0),"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),"
	"  reason TEXT,"
	"  file TEXT,"
	"  received INTEGER NOT NULL,"
	"  applied INTEGER,"
	"  prev BLOB NOT NULL, ack INTEGER NOT NULL, echo INTEGER NOT NULL,"
	"  UNIQUE (conn, seq, hash));"
	/* One live (not quarantined) record per seq: a fork cannot hide. */
	"CREATE UNIQUE INDEX incoming_live ON incoming(conn, seq)"
	"  WHERE state != 3;"
	"CREATE INDEX incoming_file ON incoming(file);",

	/* 2: the sync engine's tables. */
	"CREATE TABLE parked ("
	"  id INTEGER PRIMARY KEY,"
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  in_seq INTEGER NOT NULL, op_index INTEGER NOT NULL,"
	"  issue INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
	"  reason TEXT NOT NULL,"
	"  op BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (conn, in_seq, op_index));"
	"CREATE TABLE parked_blob ("
	"  parked INTEGER NOT NULL REFERENCES parked(id) ON DELETE CASCADE,"
	"  sha256 TEXT NOT NULL, file TEXT NOT NULL,"
	"  PRIMARY KEY (parked, sha256));"
	"CREATE TABLE twin ("
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 2),"
	"  local_id INTEGER NOT NULL, remote_id INTEGER NOT NULL,"
	"  local_key TEXT,"
	"  tombstone INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (conn, kind, local_id),"
	"  UNIQUE (conn, kind, remote_id));"
	"CREATE TABLE snapshot ("
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  local_id INTEGER NOT NULL, data BLOB NOT NULL,"
	"  PRIMARY KEY (conn, local_id));"
	"CREATE TABLE watermark ("
	"  conn INTEGER PRIMARY KEY REFERENCES conn(id),"
	"  jira_ms INTEGER NOT NULL);"
	"CREATE TABLE journal ("
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  in_seq INTEGER NOT NULL, op_index INTEGER NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state IN (1, 2)),"
	"  target TEXT, result TEXT,"
	"  PRIMARY KEY (conn, in_seq, op_index));"
	"CREATE TABLE errq ("
	"  id INTEGER PRIMARY KEY,"
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  issue INTEGER NOT NULL, in_seq INTEGER NOT NULL,"
	"  op_index INTEGER NOT NULL, message TEXT NOT NULL,"
	"  http INTEGER NOT NULL, tries INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE conflict ("
	"  id INTEGER PRIMARY KEY,"
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  issue INTEGER NOT NULL, field TEXT NOT NULL,"
	"  winner TEXT NOT NULL, in_seq INTEGER NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  command TEXT NOT NULL, started INTEGER NOT NULL,"
	"  ended INTEGER, status INTEGER, summary TEXT);",

	/*
	 * 3: the sequencing rules of the two-site model (docs/model.md):
	 * acks are ordered by the time their message was made; an owed ack
	 * is a flag; the last control message processed is remembered so
	 * that one left on a spool is not read again.
	 */
	"ALTER TABLE chan DROP COLUMN in_carried;"
	"ALTER TABLE chan RENAME COLUMN ack_at TO ctl_at;"
	"ALTER TABLE chan ADD COLUMN out_ack_time INTEGER;"
	"ALTER TABLE chan ADD COLUMN ack_owed INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE chan ADD COLUMN told_at INTEGER;"
	"ALTER TABLE chan ADD COLUMN ctl_seen TEXT;"
	"ALTER TABLE incoming RENAME COLUMN echo TO time;",

	/*
	 * 4: pairing (docs/pairing.md): the inviter's one-time secrets, each
	 * connection's side of the handshake, and the hellos already judged,
	 * so that one lying on a spool is not judged again.
	 */
	"CREATE TABLE invitation ("
	"  id INTEGER PRIMARY KEY,"
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  secret BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),"
	"  used INTEGER,"
	"  used_by TEXT);"
	"CREATE TABLE pairing ("
	"  conn INTEGER PRIMARY KEY REFERENCES conn(id),"
	"  role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 2),"
	"  expect_fpr TEXT,"
	"  hello TEXT,"
	"  hello_sent TEXT,"
	"  created INTEGER NOT NULL,"
	"  paired INTEGER);"
	"CREATE TABLE hello_seen ("
	"  conn INTEGER NOT NULL REFERENCES conn(id),"
	"  name TEXT NOT NULL,"
	"  verdict TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (conn, name));",
};

/* A SQLite failure as a ferry error; a full disk says so plainly. */
static int
db_err(struct store *s, struct ferry_err *err, int rc, const char *what)
{
	int base = rc & 0xff;

	if (base == SQLITE_FULL)
		return ferry_err_set(err, FERRY_EIO,
		    "%s: the disk holding '%s' is full", what, s->path);
	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return ferry_err_set(err, FERRY_ERETRY,
		    "%s: database '%s' is busy", what, s->path);
	return ferry_err_set(err, FERRY_EIO, "%s: %s", what,
	    s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/*
 * Prepare sql and bind the arguments fmt describes: 'i' int64_t, 'u'
 * uint64_t, 't' text (NULL binds NULL), 'h' struct seq_hash *, 'b' a
 * pointer and a size_t, 'T' a time (SEQ_NEVER binds NULL).
 */
static int
vprep(struct store *s, sqlite3_stmt **st, struct ferry_err *err,
    const char *sql, const char *fmt, va_list ap)
{
	int rc, i;
	const struct seq_hash *h;
	const char *t;
	const void *p;
	size_t n;
	int64_t v;

	rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		return db_err(s, err, rc, "cannot prepare statement");
	for (i = 1; *fmt != '\0'; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			rc = sqlite3_bind_int64(*st, i, va_arg(ap, int64_t));
			break;
		case 'u':
			rc = sqlite3_bind_int64(*st, i,
			    (sqlite3_int64)va_arg(ap, uint64_t));
			break;
		case 'T':
			v = va_arg(ap, int64_t);
			rc = v == SEQ_NEVER ? sqlite3_bind_null(*st, i) :
			    sqlite3_bind_int64(*st, i, v);
			break;
		case 't':
			t = va_arg(ap, const char *);
			rc = t == NULL ? sqlite3_bind_null(*st, i) :
			    sqlite3_bind_text(*st, i, t, -1, SQLITE_TRANSIENT);
			break;
		case 'h':
			h = va_arg(ap, const struct seq_hash *);
			rc = sqlite3_bind_blob(*st, i, h->b, SEQ_HASH_LEN,
			    SQLITE_TRANSIENT);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(*st, i, p == NULL ? "" : p,
			    n, SQLITE_TRANSIENT);
			break;
		default:
			abort();
		}
		if (rc != SQLITE_OK) {
			rc = db_err(s, err, rc, "cannot bind");
			sqlite3_finalize(*st);
			*st = NULL;
			return rc;
		}
	}
	return 0;
}

static int
prep(struct store *s, sqlite3_stmt **st, struct ferry_err *err,
    const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vprep(s, st, err, sql, fmt, ap);
	va_end(ap);
	return rc;
}

/* Run a statement that returns no rows. */
static int
run(struct store *s, struct ferry_err *err, const char *sql, const char *fmt,
    ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vprep(s, &st, err, sql, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s, err, rc, "cannot update the database");
	return 0;
}

/* Step a query: 1 for a row, 0 at the end, or an error. */
static int
step(struct store *s, sqlite3_stmt *st, struct ferry_err *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_err(s, err, rc, "cannot read the database");
}

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t == NULL ? NULL : xstrdup((const char *)t);
}

static int64_t
col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return SEQ_NEVER;
	return sqlite3_column_int64(st, i);
}

static void
col_hash(sqlite3_stmt *st, int i, struct seq_hash *h)
{
	const void *p = sqlite3_column_blob(st, i);

	memset(h, 0, sizeof(*h));
	if (p != NULL && sqlite3_column_bytes(st, i) == SEQ_HASH_LEN)
		memcpy(h->b, p, SEQ_HASH_LEN);
}

/* One integer from a query with one row; *v untouched if none. */
static int
query_int(struct store *s, int64_t *v, struct ferry_err *err,
    const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vprep(s, &st, err, sql, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return rc;
	if ((rc = step(s, st, err)) == 1) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_exec(struct store *s, const char *sql, struct ferry_err *err)
{
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_FULL)
			rc = db_err(s, err, rc, "cannot update the database");
		else
			rc = ferry_err_set(err, FERRY_EIO,
			    "database '%s': %s", s->path,
			    msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

int
store_begin(struct store *s, struct ferry_err *err)
{
	return store_exec(s, "BEGIN IMMEDIATE", err);
}

int
store_commit(struct store *s, struct ferry_err *err)
{
	int rc;

	if ((rc = store_exec(s, "COMMIT", err)) < 0)
		store_rollback(s);
	return rc;
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
migrate(struct store *s, int upto, struct ferry_err *err)
{
	char sql[64];
	int rc;

	while (s->version < upto) {
		if ((rc = store_begin(s, err)) < 0)
			return rc;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    s->version + 1);
		if ((rc = store_exec(s, migrations[s->version], err)) < 0 ||
		    (rc = store_exec(s, sql, err)) < 0) {
			store_rollback(s);
			return ferry_err_prefix(err,
			    "cannot migrate '%s' to schema %d: ", s->path,
			    s->version + 1);
		}
		CRASHPOINT("store.migrate.before-commit");
		if ((rc = store_commit(s, err)) < 0)
			return rc;
		s->version++;
	}
	return 0;
}

int
store_open_version(const char *dir, int upto, struct store **out,
    struct ferry_err *err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	sqlite3_stmt *st = NULL;
	int64_t v = 0, app = 0;
	char *mode = NULL;
	int rc;

	assert(upto >= 0 && upto <= STORE_SCHEMA_VERSION);
	*out = NULL;
	s->path = xasprintf("%s/%s", dir, STORE_DB_NAME);
	rc = sqlite3_open_v2(s->path, &s->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = ferry_err_set(err, FERRY_EIO, "cannot open database "
		    "'%s': %s", s->path, s->db != NULL ?
		    sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if ((rc = query_int(s, &app, err, "PRAGMA application_id", "")) < 0 ||
	    (rc = query_int(s, &v, err, "PRAGMA user_version", "")) < 0) {
		ferry_err_prefix(err, "cannot read '%s': ", s->path);
		goto out;
	}
	if (app != 0 && app != STORE_APP_ID) {
		rc = ferry_err_set(err, FERRY_ERR,
		    "'%s' is not a ferry database", s->path);
		goto out;
	}
	if (v > STORE_SCHEMA_VERSION) {
		rc = ferry_err_set(err, FERRY_EVERSION,
		    "database '%s' was written by a newer ferry (schema %"
		    PRId64 "; this ferry %s knows up to %d): upgrade ferry",
		    s->path, v, FERRY_VERSION, STORE_SCHEMA_VERSION);
		goto out;
	}
	s->version = (int)v;
	/*
	 * WAL with synchronous=FULL: a commit is on disk when COMMIT
	 * returns, which the file-before-row and row-before-delete orders
	 * of docs/state.md rely on (NORMAL may lose the last commits on a
	 * power cut).
	 */
	if ((rc = store_exec(s, "PRAGMA foreign_keys = ON;"
	    "PRAGMA synchronous = FULL;", err)) < 0)
		goto out;
	if ((rc = prep(s, &st, err, "PRAGMA journal_mode = WAL", "")) < 0)
		goto out;
	if ((rc = step(s, st, err)) < 0)
		goto out;
	mode = rc == 1 ? col_str(st, 0) : NULL;
	sqlite3_finalize(st);
	st = NULL;
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		rc = ferry_err_set(err, FERRY_EIO, "database '%s' cannot use "
		    "write-ahead logging (journal mode %s)", s->path,
		    mode != NULL ? mode : "unknown");
		goto out;
	}
	if (app == 0 && (rc = store_exec(s, "PRAGMA application_id = "
	    "1179800153", err)) < 0)
		goto out;
	if ((rc = migrate(s, upto, err)) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	sqlite3_finalize(st);
	free(mode);
	store_close(s);
	return rc;
}

int
store_open(const char *dir, struct store **out, struct ferry_err *err)
{
	return store_open_version(dir, STORE_SCHEMA_VERSION, out, err);
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL) {
		store_rollback(s);
		sqlite3_close_v2(s->db);
	}
	free(s->path);
	free(s);
}

int
store_version(struct store *s)
{
	return s->version;
}

struct sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

/* Site. */

int
store_site_get(struct store *s, struct store_site *out,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prep(s, &st, err,
	    "SELECT site_id, name, key_fpr FROM site", "")) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 0)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "the site has no identity yet: run 'ferry init'");
	if (rc == 1) {
		out->site_id = col_str(st, 0);
		out->name = col_str(st, 1);
		out->key_fpr = col_str(st, 2);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_site_set(struct store *s, const struct store_site *site,
    struct ferry_err *err)
{
	return run(s, err, "INSERT INTO site (one, site_id, name, key_fpr) "
	    "VALUES (1, ?, ?, ?) ON CONFLICT (one) DO UPDATE SET "
	    "site_id = excluded.site_id, name = excluded.name, "
	    "key_fpr = excluded.key_fpr", "ttt", site->site_id, site->name,
	    site->key_fpr);
}

void
store_site_release(struct store_site *site)
{
	FREE_AND_NULL(site->site_id);
	FREE_AND_NULL(site->name);
	FREE_AND_NULL(site->key_fpr);
}

/* Connections. */

int
store_conn_add(struct store *s, const struct store_conn *c, int64_t *id,
    struct ferry_err *err)
{
	int rc;

	rc = run(s, err, "INSERT INTO conn (conn_id, name, project, "
	    "sync_user, peer_site, peer_fpr, transport, state, reason) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "tttttttit", c->conn_id,
	    c->name, c->project, c->sync_user, c->peer_site, c->peer_fpr,
	    c->transport != NULL ? c->transport : "", (int64_t)c->state,
	    c->reason);
	if (rc < 0)
		return ferry_err_prefix(err, "cannot add connection '%s': ",
		    c->name);
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
store_conn_get(struct store *s, const char *name, struct store_conn *out,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prep(s, &st, err, "SELECT id, conn_id, name, project, "
	    "sync_user, peer_site, peer_fpr, transport, state, reason "
	    "FROM conn WHERE name = ?", "t", name)) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 0)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "no connection '%s' in the database", name);
	if (rc == 1) {
		out->id = sqlite3_column_int64(st, 0);
		out->conn_id = col_str(st, 1);
		out->name = col_str(st, 2);
		out->project = col_str(st, 3);
		out->sync_user = col_str(st, 4);
		out->peer_site = col_str(st, 5);
		out->peer_fpr = col_str(st, 6);
		out->transport = col_str(st, 7);
		out->state = (enum store_conn_state)
		    sqlite3_column_int(st, 8);
		out->reason = col_str(st, 9);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_conn_set_peer(struct store *s, int64_t id, const char *peer_site,
    const char *peer_fpr, struct ferry_err *err)
{
	return run(s, err, "UPDATE conn SET peer_site = ?, peer_fpr = ? "
	    "WHERE id = ?", "tti", peer_site, peer_fpr, id);
}

int
store_conn_set_state(struct store *s, int64_t id,
    enum store_conn_state state, const char *reason, struct ferry_err *err)
{
	return run(s, err, "UPDATE conn SET state = ?, reason = ? "
	    "WHERE id = ?", "iti", (int64_t)state, reason, id);
}

void
store_conn_release(struct store_conn *c)
{
	FREE_AND_NULL(c->conn_id);
	FREE_AND_NULL(c->name);
	FREE_AND_NULL(c->project);
	FREE_AND_NULL(c->sync_user);
	FREE_AND_NULL(c->peer_site);
	FREE_AND_NULL(c->peer_fpr);
	FREE_AND_NULL(c->transport);
	FREE_AND_NULL(c->reason);
}

const char *
store_conn_state_name(enum store_conn_state state)
{
	switch (state) {
	case STORE_CONN_RUNNING:
		return "running";
	case STORE_CONN_PAUSED:
		return "paused";
	case STORE_CONN_STOPPED:
		return "stopped";
	}
	return "?";
}

/* The sequencing state. */

int
store_chan_load(struct store *s, int64_t conn, struct seq_state *seq,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	seq_init(seq);
	if ((rc = prep(s, &st, err, "SELECT out_sent, out_hash, out_acked, "
	    "out_ack_time, in_recv, in_hash, in_applied, ack_owed, ack_told, "
	    "told_at, ctl_at, stop, stop_seq FROM chan WHERE conn = ?", "i",
	    conn)) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 1) {
		seq->out_sent = (uint64_t)sqlite3_column_int64(st, 0);
		col_hash(st, 1, &seq->out_hash);
		seq->out_acked = (uint64_t)sqlite3_column_int64(st, 2);
		seq->out_ack_time = col_time(st, 3);
		seq->in_recv = (uint64_t)sqlite3_column_int64(st, 4);
		col_hash(st, 5, &seq->in_hash);
		seq->in_applied = (uint64_t)sqlite3_column_int64(st, 6);
		seq->ack_owed = sqlite3_column_int(st, 7) != 0;
		seq->ack_told = (uint64_t)sqlite3_column_int64(st, 8);
		seq->told_at = col_time(st, 9);
		seq->ctl_at = col_time(st, 10);
		seq->stop = (enum seq_stop)sqlite3_column_int(st, 11);
		seq->stop_seq = (uint64_t)sqlite3_column_int64(st, 12);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_chan_save(struct store *s, int64_t conn, const struct seq_state *seq,
    struct ferry_err *err)
{
	/* An upsert: ctl_seen is the channel's, not the state machine's. */
	return run(s, err, "INSERT INTO chan (conn, out_sent, out_hash, "
	    "out_acked, out_ack_time, in_recv, in_hash, in_applied, ack_owed, "
	    "ack_told, told_at, ctl_at, stop, stop_seq) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (conn) DO UPDATE SET out_sent = excluded.out_sent, "
	    "out_hash = excluded.out_hash, out_acked = excluded.out_acked, "
	    "out_ack_time = excluded.out_ack_time, "
	    "in_recv = excluded.in_recv, in_hash = excluded.in_hash, "
	    "in_applied = excluded.in_applied, ack_owed = excluded.ack_owed, "
	    "ack_told = excluded.ack_told, told_at = excluded.told_at, "
	    "ctl_at = excluded.ctl_at, stop = excluded.stop, "
	    "stop_seq = excluded.stop_seq", "iuhuTuhuiuTTiu",
	    conn, seq->out_sent, &seq->out_hash, seq->out_acked,
	    seq->out_ack_time, seq->in_recv, &seq->in_hash, seq->in_applied,
	    (int64_t)seq->ack_owed, seq->ack_told, seq->told_at, seq->ctl_at,
	    (int64_t)seq->stop, seq->stop_seq);
}

int
store_chan_ctl_get(struct store *s, int64_t conn, char **name,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*name = NULL;
	if ((rc = prep(s, &st, err, "SELECT ctl_seen FROM chan WHERE "
	    "conn = ?", "i", conn)) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 1) {
		*name = col_str(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_chan_ctl_set(struct store *s, int64_t conn, const char *name,
    struct ferry_err *err)
{
	return run(s, err, "UPDATE chan SET ctl_seen = ? WHERE conn = ?",
	    "ti", name, conn);
}

/* Outgoing bundles. */

#define OUT_COLS "seq, hash, file, size, made, sends, last_send, acked"

static void
out_row(sqlite3_stmt *st, struct store_out *o)
{
	o->seq = (uint64_t)sqlite3_column_int64(st, 0);
	col_hash(st, 1, &o->hash);
	o->file = col_str(st, 2);
	o->size = (uint64_t)sqlite3_column_int64(st, 3);
	o->made = sqlite3_column_int64(st, 4);
	o->sends = (uint32_t)sqlite3_column_int64(st, 5);
	o->last_send = col_time(st, 6);
	o->acked = col_time(st, 7);
}

int
store_out_add(struct store *s, int64_t conn, uint64_t seq,
    const struct seq_hash *hash, const char *file, uint64_t size, int64_t now,
    struct ferry_err *err)
{
	return run(s, err, "INSERT INTO outgoing (conn, seq, hash, file, "
	    "size, made) VALUES (?, ?, ?, ?, ?, ?)", "iuhtui", conn, seq,
	    hash, file, size, now);
}

int
store_out_get(struct store *s, int64_t conn, uint64_t seq,
    struct store_out *out, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prep(s, &st, err, "SELECT " OUT_COLS " FROM outgoing "
	    "WHERE conn = ? AND seq = ?", "iu", conn, seq)) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 0)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "no outgoing bundle %" PRIu64, seq);
	if (rc == 1) {
		out_row(st, out);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
out_query(struct store *s, struct store_out **v, size_t *n,
    struct ferry_err *err, const char *sql, const char *fmt, int64_t a,
    uint64_t b)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	*v = NULL;
	*n = 0;
	if ((rc = prep(s, &st, err, sql, fmt, a, b)) < 0)
		return rc;
	while ((rc = step(s, st, err)) == 1) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*v = xreallocarray(*v, cap, sizeof(**v));
		}
		memset(&(*v)[*n], 0, sizeof(**v));
		out_row(st, &(*v)[(*n)++]);
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		store_out_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return rc;
}

int
store_out_list(struct store *s, int64_t conn, uint64_t after,
    struct store_out **v, size_t *n, struct ferry_err *err)
{
	return out_query(s, v, n, err, "SELECT " OUT_COLS " FROM outgoing "
	    "WHERE conn = ? AND seq > ? ORDER BY seq", "iu", conn, after);
}

int
store_out_list_acked(struct store *s, int64_t conn, struct store_out **v,
    size_t *n, struct ferry_err *err)
{
	/* One parameter: the second argument is not bound. */
	return out_query(s, v, n, err, "SELECT " OUT_COLS " FROM outgoing "
	    "WHERE conn = ? AND acked IS NOT NULL AND file IS NOT NULL "
	    "ORDER BY seq", "i", conn, 0);
}

int
store_out_sent(struct store *s, int64_t conn, uint64_t seq, int64_t now,
    struct ferry_err *err)
{
	return run(s, err, "UPDATE outgoing SET sends = sends + 1, "
	    "last_send = ? WHERE conn = ? AND seq = ?", "iiu", now, conn, seq);
}

int
store_out_acked(struct store *s, int64_t conn, uint64_t upto, int64_t now,
    struct ferry_err *err)
{
	return run(s, err, "UPDATE outgoing SET acked = ? WHERE conn = ? "
	    "AND seq <= ? AND acked IS NULL", "iiu", now, conn, upto);
}

int
store_out_forget_file(struct store *s, int64_t conn, uint64_t seq,
    struct ferry_err *err)
{
	return run(s, err, "UPDATE outgoing SET file = NULL WHERE conn = ? "
	    "AND seq = ?", "iu", conn, seq);
}

int
store_out_names(struct store *s, const char *file, bool *yes,
    struct ferry_err *err)
{
	int64_t n = 0;
	int rc;

	rc = query_int(s, &n, err, "SELECT count(*) FROM outgoing "
	    "WHERE file = ?", "t", file);
	*yes = n > 0;
	return rc;
}

void
store_out_release(struct store_out *o)
{
	FREE_AND_NULL(o->file);
}

void
store_out_free(struct store_out *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_out_release(&v[i]);
	free(v);
}

/* Incoming bundles. */

#define IN_COLS "id, seq, hash, state, reason, file, received, applied, " \
	"prev, ack, time"

static void
in_row(sqlite3_stmt *st, struct store_in *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->seq = (uint64_t)sqlite3_column_int64(st, 1);
	col_hash(st, 2, &r->hash);
	r->state = (enum store_in_state)sqlite3_column_int(st, 3);
	r->reason = col_str(st, 4);
	r->file = col_str(st, 5);
	r->received = sqlite3_column_int64(st, 6);
	r->applied = col_time(st, 7);
	col_hash(st, 8, &r->prev);
	r->ack = (uint64_t)sqlite3_column_int64(st, 9);
	r->time = sqlite3_column_int64(st, 10);
}

int
store_in_add(struct store *s, int64_t conn, const struct seq_msg *m,
    enum store_in_state state, const char *reason, const char *file,
    int64_t now, int64_t *id, struct ferry_err *err)
{
	int rc;

	rc = run(s, err, "INSERT INTO incoming (conn, seq, hash, state, "
	    "reason, file, received, prev, ack, time) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "iuhittihui", conn,
	    m->seq, &m->hash, (int64_t)state, reason, file, now, &m->prev,
	    m->ack, m->time);
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
store_in_lookup(struct store *s, int64_t conn, uint64_t seq,
    const struct seq_hash *hash, bool *have_known, struct seq_hash *known,
    bool *seen, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	struct seq_hash h;
	int rc;

	*have_known = false;
	*seen = false;
	if ((rc = prep(s, &st, err, "SELECT hash, state FROM incoming "
	    "WHERE conn = ? AND seq = ?", "iu", conn, seq)) < 0)
		return rc;
	while ((rc = step(s, st, err)) == 1) {
		col_hash(st, 0, &h);
		if (seq_hash_eq(&h, hash))
			*seen = true;
		if (sqlite3_column_int(st, 1) != STORE_IN_QUARANTINED) {
			*have_known = true;
			*known = h;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_in_get(struct store *s, int64_t conn, uint64_t seq,
    struct store_in *out, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prep(s, &st, err, "SELECT " IN_COLS " FROM incoming "
	    "WHERE conn = ? AND seq = ? AND state != 3", "iu", conn, seq)) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 0)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "no incoming bundle %" PRIu64, seq);
	if (rc == 1) {
		in_row(st, out);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_in_set_state(struct store *s, int64_t id, enum store_in_state state,
    const char *reason, int64_t now, struct ferry_err *err)
{
	return run(s, err, "UPDATE incoming SET state = ?, reason = ?, "
	    "applied = CASE WHEN ? = 2 THEN ? ELSE applied END WHERE id = ?",
	    "itiii", (int64_t)state, reason, (int64_t)state, now, id);
}

int
store_in_count(struct store *s, int64_t conn, enum store_in_state state,
    uint64_t after, int64_t *n, struct ferry_err *err)
{
	*n = 0;
	return query_int(s, n, err, "SELECT count(*) FROM incoming WHERE "
	    "conn = ? AND state = ? AND seq > ?", "iiu", conn, (int64_t)state,
	    after);
}

int
store_in_top(struct store *s, int64_t conn, uint64_t *top,
    struct ferry_err *err)
{
	int64_t v = 0;
	int rc;

	/* A quarantined row may name any seq: it proves nothing held. */
	rc = query_int(s, &v, err, "SELECT coalesce(max(seq), 0) FROM "
	    "incoming WHERE conn = ? AND state != ?", "ii", conn,
	    (int64_t)STORE_IN_QUARANTINED);
	*top = rc == 0 && v > 0 ? (uint64_t)v : 0;
	return rc;
}

int
store_in_forget_file(struct store *s, int64_t id, struct ferry_err *err)
{
	return run(s, err, "UPDATE incoming SET file = NULL WHERE id = ?",
	    "i", id);
}

int
store_in_list(struct store *s, int64_t conn, enum store_in_state state,
    struct store_in **v, size_t *n, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	*v = NULL;
	*n = 0;
	if ((rc = prep(s, &st, err, "SELECT " IN_COLS " FROM incoming "
	    "WHERE conn = ? AND state = ? ORDER BY seq, id", "ii", conn,
	    (int64_t)state)) < 0)
		return rc;
	while ((rc = step(s, st, err)) == 1) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*v = xreallocarray(*v, cap, sizeof(**v));
		}
		memset(&(*v)[*n], 0, sizeof(**v));
		in_row(st, &(*v)[(*n)++]);
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		store_in_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return rc;
}

int
store_in_names(struct store *s, const char *file, bool *yes,
    struct ferry_err *err)
{
	int64_t n = 0;
	int rc;

	rc = query_int(s, &n, err, "SELECT count(*) FROM incoming "
	    "WHERE file = ?", "t", file);
	*yes = n > 0;
	return rc;
}

void
store_in_release(struct store_in *r)
{
	FREE_AND_NULL(r->reason);
	FREE_AND_NULL(r->file);
}

void
store_in_free(struct store_in *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_in_release(&v[i]);
	free(v);
}

const char *
store_in_state_name(enum store_in_state state)
{
	static const char *const names[] = {
		"held", "received", "applied", "quarantined",
	};

	return (size_t)state < FERRY_ARRAY_SIZE(names) ? names[state] : "?";
}

/* The sync engine's tables. */

int
store_park_add(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, int64_t issue, enum store_park_kind kind,
    const char *reason, const void *op, size_t oplen, int64_t now,
    int64_t *id, struct ferry_err *err)
{
	int rc;

	rc = run(s, err, "INSERT INTO parked (conn, in_seq, op_index, issue, "
	    "kind, reason, op, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    "iuiiitbi", conn, in_seq, (int64_t)op_index, issue, (int64_t)kind,
	    reason, op, oplen, now);
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
store_park_add_blob(struct store *s, int64_t park, const char *sha256,
    const char *file, struct ferry_err *err)
{
	return run(s, err, "INSERT INTO parked_blob (parked, sha256, file) "
	    "VALUES (?, ?, ?)", "itt", park, sha256, file);
}

int
store_park_count(struct store *s, int64_t conn, int64_t *n,
    struct ferry_err *err)
{
	*n = 0;
	return query_int(s, n, err, "SELECT count(*) FROM parked "
	    "WHERE conn = ?", "i", conn);
}

int
store_park_done(struct store *s, int64_t id, struct ferry_err *err)
{
	return run(s, err, "DELETE FROM parked WHERE id = ?", "i", id);
}

int
store_twin_put(struct store *s, int64_t conn, enum store_twin_kind kind,
    int64_t local_id, int64_t remote_id, const char *local_key,
    struct ferry_err *err)
{
	return run(s, err, "INSERT INTO twin (conn, kind, local_id, "
	    "remote_id, local_key) VALUES (?, ?, ?, ?, ?)", "iiiit", conn,
	    (int64_t)kind, local_id, remote_id, local_key);
}

int
store_twin_local(struct store *s, int64_t conn, enum store_twin_kind kind,
    int64_t remote_id, int64_t *local_id, struct ferry_err *err)
{
	int64_t v = INT64_MIN;
	int rc;

	rc = query_int(s, &v, err, "SELECT local_id FROM twin WHERE conn = ? "
	    "AND kind = ? AND remote_id = ?", "iii", conn, (int64_t)kind,
	    remote_id);
	if (rc < 0)
		return rc;
	if (v == INT64_MIN)
		return ferry_err_set(err, FERRY_ENOTFOUND,
		    "no twin of remote %" PRId64, remote_id);
	*local_id = v;
	return 0;
}

int
store_twin_tombstone(struct store *s, int64_t conn,
    enum store_twin_kind kind, int64_t local_id, struct ferry_err *err)
{
	return run(s, err, "UPDATE twin SET tombstone = 1 WHERE conn = ? AND "
	    "kind = ? AND local_id = ?", "iii", conn, (int64_t)kind,
	    local_id);
}

int
store_snapshot_put(struct store *s, int64_t conn, int64_t local_id,
    const void *data, size_t len, struct ferry_err *err)
{
	return run(s, err, "INSERT OR REPLACE INTO snapshot (conn, local_id, "
	    "data) VALUES (?, ?, ?)", "iib", conn, local_id, data, len);
}

int
store_snapshot_get(struct store *s, int64_t conn, int64_t local_id,
    struct buf *out, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(s, &st, err, "SELECT data FROM snapshot WHERE "
	    "conn = ? AND local_id = ?", "ii", conn, local_id)) < 0)
		return rc;
	if ((rc = step(s, st, err)) == 0)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "no snapshot of issue %" PRId64, local_id);
	if (rc == 1) {
		rc = 0;
		if (!buf_add(out, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0)))
			rc = ferry_err_set(err, FERRY_ELIMIT,
			    "snapshot of issue %" PRId64 " too large",
			    local_id);
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_watermark_get(struct store *s, int64_t conn, int64_t *ms,
    struct ferry_err *err)
{
	*ms = 0;
	return query_int(s, ms, err, "SELECT jira_ms FROM watermark "
	    "WHERE conn = ?", "i", conn);
}

int
store_watermark_set(struct store *s, int64_t conn, int64_t ms,
    struct ferry_err *err)
{
	return run(s, err, "INSERT OR REPLACE INTO watermark (conn, jira_ms) "
	    "VALUES (?, ?)", "ii", conn, ms);
}

int
store_journal_intent(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, const char *target, struct ferry_err *err)
{
	return run(s, err, "INSERT INTO journal (conn, in_seq, op_index, "
	    "state, target) VALUES (?, ?, ?, 1, ?)", "iuit", conn, in_seq,
	    (int64_t)op_index, target);
}

int
store_journal_done(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, const char *result, struct ferry_err *err)
{
	return run(s, err, "UPDATE journal SET state = 2, result = ? "
	    "WHERE conn = ? AND in_seq = ? AND op_index = ?", "tiui", result,
	    conn, in_seq, (int64_t)op_index);
}

int
store_journal_state(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, enum store_journal_state *state,
    struct ferry_err *err)
{
	int64_t v = STORE_J_NONE;
	int rc;

	rc = query_int(s, &v, err, "SELECT state FROM journal WHERE "
	    "conn = ? AND in_seq = ? AND op_index = ?", "iui", conn, in_seq,
	    (int64_t)op_index);
	*state = (enum store_journal_state)v;
	return rc;
}

int
store_error_add(struct store *s, int64_t conn, int64_t issue,
    uint64_t in_seq, uint32_t op_index, const char *message, long http,
    int64_t now, int64_t *id, struct ferry_err *err)
{
	int rc;

	rc = run(s, err, "INSERT INTO errq (conn, issue, in_seq, op_index, "
	    "message, http, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    "iiuitii", conn, issue, in_seq, (int64_t)op_index, message,
	    (int64_t)http, now);
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
store_error_count(struct store *s, int64_t conn, int64_t *n,
    struct ferry_err *err)
{
	*n = 0;
	return query_int(s, n, err, "SELECT count(*) FROM errq "
	    "WHERE conn = ?", "i", conn);
}

int
store_conflict_add(struct store *s, int64_t conn, int64_t issue,
    const char *field, const char *winner, uint64_t in_seq, int64_t now,
    struct ferry_err *err)
{
	return run(s, err, "INSERT INTO conflict (conn, issue, field, "
	    "winner, in_seq, at) VALUES (?, ?, ?, ?, ?, ?)", "iittui", conn,
	    issue, field, winner, in_seq, now);
}

int
store_conflict_count(struct store *s, int64_t conn, int64_t *n,
    struct ferry_err *err)
{
	*n = 0;
	return query_int(s, n, err, "SELECT count(*) FROM conflict "
	    "WHERE conn = ?", "i", conn);
}

int
store_audit_begin(struct store *s, const char *command, int64_t now,
    int64_t *id, struct ferry_err *err)
{
	int rc;

	rc = run(s, err, "INSERT INTO audit (command, started) "
	    "VALUES (?, ?)", "ti", command, now);
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
store_audit_end(struct store *s, int64_t id, int status, const char *summary,
    int64_t now, struct ferry_err *err)
{
	return run(s, err, "UPDATE audit SET ended = ?, status = ?, "
	    "summary = ? WHERE id = ?", "iiti", now, (int64_t)status, summary,
	    id);
}
