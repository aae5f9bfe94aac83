/*
 * pair_run.c: invitations, accepting them, hellos, and the batch cycle of
 * one connection (see pair.h and docs/pairing.md).
 *
 * The orders that make a kill at any instant repairable are the channel's
 * (docs/state.md): our hello is durable in STATE/pairing before the row
 * that names it commits, and is put on the transport only after; a hello
 * fetched from the transport is judged from a local copy, which the next
 * run removes if this one died before it did.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/config.h"
#include "ferry/crash.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "ferry/invite.h"
#include "ferry/log.h"
#include "ferry/pair.h"
#include "ferry/site.h"
#include "ferry/store.h"
#include "ferry/transport.h"

/* bundle_walk_mem(): the key of a hello, read before it is trusted. */
#include "bundle_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HELLO_PLAIN_MAX	(1u << 20)
#define LOCAL_PREFIX	"in-"

static void
fmt_time(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* The transport of connection cc between self and peer. */
static int
open_transport(struct site *s, const struct config_conn *cc,
    const char *conn_id, const char *peer, struct transport **t,
    struct ferry_err *err)
{
	struct spool_config sc;

	*t = NULL;
	if (cc->transport != CONFIG_TRANSPORT_SPOOL)
		return ferry_err_set(err, FERRY_ECONFIG, "connection '%s': "
		    "the mail transport is not available in this version of "
		    "ferry; use transport = spool", cc->name);
	memset(&sc, 0, sizeof(sc));
	sc.outbox = cc->outbox;
	sc.inbox = cc->inbox;
	sc.require_mount = cc->require_mount;
	sc.local_dir = s->state_dir;
	sc.max_file = 0;
	return spool_open(&sc, conn_id, s->site_id, peer != NULL ? peer :
	    "unpaired", t, err);
}

/*
 * Write a hello from this site to peer on connection conn_id into
 * STATE/pairing; with inv, authenticated with its secret.  *name is the
 * caller's.
 */
static int
write_hello(struct site *s, const char *conn_id, const char *peer,
    const struct invite *inv, char **name, struct ferry_err *err)
{
	struct bundle_manifest hdr;
	struct bundle_writer *w = NULL;
	struct bundle_seal seal;
	struct buf key = BUF_INIT(PAIR_KEY_MAX);
	uint8_t mac[INVITE_MAC_LEN];
	int rc;

	*name = NULL;
	if ((rc = crypto_export(s->crypto, s->fpr, false, &key, err)) < 0)
		return rc;
	memset(&hdr, 0, sizeof(hdr));
	hdr.kind = BUNDLE_HELLO;
	snprintf(hdr.conn, sizeof(hdr.conn), "%s", conn_id);
	snprintf(hdr.from, sizeof(hdr.from), "%s", s->site_id);
	snprintf(hdr.to, sizeof(hdr.to), "%s", peer);
	hdr.ctl.key = (uint8_t *)key.data;
	hdr.ctl.keylen = key.len;
	if (inv != NULL) {
		invite_mac(inv, s->site_id, key.data, key.len, mac);
		hdr.ctl.auth = mac;
		hdr.ctl.authlen = sizeof(mac);
	}
	seal.crypto = s->crypto;
	seal.signer = s->fpr;
	/* The peer's key is not known yet: signed, never encrypted. */
	seal.peer = NULL;
	seal.encrypt = false;
	if ((rc = bundle_writer_new(&hdr, s->tmp, &w, err)) < 0)
		goto out;
	rc = bundle_writer_finish(w, &seal, s->pairdir, name, NULL, err);
out:
	bundle_writer_free(w);
	buf_release(&key);
	explicit_bzero(mac, sizeof(mac));
	return rc;
}

/* Put our hello STATE/pairing/name on t. */
static int
put_hello(struct site *s, struct transport *t, const char *name,
    struct ferry_err *err)
{
	struct stat st;
	char *path = file_join(s->pairdir, name);
	int rc;

	if (stat(path, &st) == -1)
		rc = ferry_err_sys(err, FERRY_EIO, "cannot stat '%s'", path);
	else if ((rc = t->ops->check(t, true, err)) == 0)
		rc = t->ops->put(t, path, name, (uint64_t)st.st_size, err);
	free(path);
	if (rc == 0)
		CRASHPOINT("pair.hello.after-put");
	return rc;
}

/*
 * Our waiting hello went out: the row stops naming the local file,
 * then the file goes.
 */
static int
hello_delivered(struct site *s, struct store_pairing *p,
    struct ferry_err *err)
{
	char *path;
	int rc;

	free(p->hello_sent);
	p->hello_sent = p->hello;
	p->hello = NULL;
	if ((rc = store_begin(s->store, err)) < 0)
		return rc;
	if ((rc = store_pairing_put(s->store, p, err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0) {
		store_rollback(s->store);
		return rc;
	}
	CRASHPOINT("pair.hello.after-sent-commit");
	path = file_join(s->pairdir, p->hello_sent);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove '%s': %s", path, strerror(errno));
	free(path);
	return 0;
}

/* Remove files of STATE/pairing that no row names (a killed run's). */
static int
repair_pairdir(struct site *s, struct ferry_err *err)
{
	struct dirent *de;
	bool named;
	char *path;
	DIR *d;
	int rc = 0;

	if ((d = opendir(s->pairdir)) == NULL)
		return ferry_err_sys(err, FERRY_EIO, "cannot read '%s'",
		    s->pairdir);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		named = false;
		if (de->d_name[0] != '.' && (rc = store_pairing_names(
		    s->store, de->d_name, &named, err)) < 0)
			break;
		if (named)
			continue;
		path = file_join(s->pairdir, de->d_name);
		if (unlink(path) == -1 && errno != ENOENT)
			rc = ferry_err_sys(err, FERRY_EIO, "cannot remove '%s'",
			    path);
		free(path);
	}
	closedir(d);
	return rc;
}

/* A fresh channel state for conn, with ctl (a hello) already read. */
static int
chan_start(struct site *s, int64_t conn, const char *ctl,
    struct ferry_err *err)
{
	struct seq_state st;
	int rc;

	if ((rc = store_chan_load(s->store, conn, &st, err)) < 0 ||
	    (rc = store_chan_save(s->store, conn, &st, err)) < 0)
		return rc;
	return store_chan_ctl_set(s->store, conn, ctl, err);
}

int
pair_invite(struct site *s, const struct config_conn *cc, int64_t now,
    struct pair_invitation *out, struct ferry_err *err)
{
	struct store_conn sc, add;
	struct store_pairing p;
	struct store_invite *v = NULL;
	struct invite inv;
	uint32_t id = 0;
	int64_t conn = 0;
	size_t n = 0, i;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	memset(&inv, 0, sizeof(inv));
	rc = store_conn_get(s->store, cc->name, &sc, err);
	if (rc == 0) {
		conn = sc.id;
		if (sc.peer_fpr != NULL)
			rc = ferry_err_set(err, FERRY_ERR, "connection '%s' is "
			    "already paired with site %s (key %s): a paired "
			    "connection needs no invitation", cc->name,
			    sc.peer_site, sc.peer_fpr);
		else if (store_pairing_get(s->store, sc.id, &p, NULL) == 0 &&
		    p.role != STORE_PAIR_INVITER)
			rc = ferry_err_set(err, FERRY_ERR, "connection '%s' "
			    "accepted an invitation from site %s and waits "
			    "for its reply: a connection is either invited "
			    "or accepted, not both", cc->name, sc.peer_site);
		else if (!pair_conn_id_parse(sc.conn_id, &id))
			rc = ferry_err_set(err, FERRY_ERR, "connection '%s' "
			    "has connection id '%s', which is not one an "
			    "invitation can carry", cc->name, sc.conn_id);
		store_conn_release(&sc);
		if (rc < 0)
			goto out;
	} else if (rc != FERRY_ENOTFOUND) {
		goto out;
	}
	if ((rc = invite_new(s->fpr, id, &inv, err)) < 0)
		goto out;
	pair_conn_id(inv.conn_id, out->conn_id);
	if ((rc = store_begin(s->store, err)) < 0)
		goto out;
	if (conn == 0) {
		memset(&add, 0, sizeof(add));
		add.conn_id = out->conn_id;
		add.name = cc->name;
		add.project = cc->project;
		add.sync_user = s->cfg->jira.user;
		add.transport = (char *)(uintptr_t)"spool";
		if ((rc = store_conn_add(s->store, &add, &conn, err)) < 0)
			goto fail;
		store_pairing_release(&p);
		memset(&p, 0, sizeof(p));
		p.conn = conn;
		p.role = STORE_PAIR_INVITER;
		p.created = now;
		p.paired = SEQ_NEVER;
		if ((rc = store_pairing_put(s->store, &p, err)) < 0)
			goto fail;
	} else {
		if ((rc = store_invite_list(s->store, conn, &v, &n, err)) < 0)
			goto fail;
		for (i = 0; i < n; i++)
			if (v[i].state == STORE_INVITE_PENDING &&
			    v[i].expires > now)
				out->replaced = true;
	}
	out->created = now;
	out->expires = now + (int64_t)cc->invite_expiry_s;
	if ((rc = store_invite_add(s->store, conn, inv.secret,
	    sizeof(inv.secret), out->created, out->expires, NULL, err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0)
		goto fail;
	invite_encode(&inv, out->code);
	rc = 0;
	goto out;
fail:
	store_rollback(s->store);
out:
	store_invite_free(v, n);
	store_pairing_release(&p);
	invite_wipe(&inv);
	return rc;
}

/* Take our old hello off the transport: a replaced pairing's. */
static void
remove_old_hello(struct site *s, const struct config_conn *cc,
    const char *conn_id, const char *peer, const char *name)
{
	struct transport *t = NULL;

	if (name == NULL || open_transport(s, cc, conn_id, peer, &t,
	    NULL) < 0)
		return;
	if (t->ops->remove(t, name, NULL) < 0)
		log_warn("cannot remove the old hello '%s'; it is harmless",
		    name);
	transport_close(t);
}

int
pair_accept(struct site *s, const struct config_conn *cc,
    const struct invite *inv, bool replace, int64_t now,
    struct pair_accepted *out, struct ferry_err *err)
{
	struct store_conn sc, add;
	struct store_pairing p;
	struct transport *t = NULL;
	char prefix[PAIR_SITE_ID_LEN + 1], when[32], *name = NULL;
	char *old_hello = NULL, *old_conn = NULL, *old_peer = NULL;
	struct ferry_err terr = FERRY_ERR_INIT;
	int64_t conn = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	memset(&sc, 0, sizeof(sc));
	pair_conn_id(inv->conn_id, out->conn_id);
	pair_site_id_bytes(inv->fpr, out->peer_site);
	snprintf(out->peer_fpr, sizeof(out->peer_fpr), "%s", out->peer_site);
	if (invite_matches_key(inv, s->fpr))
		return ferry_err_set(err, FERRY_ERR, "this invitation code "
		    "was made by this site (key %s): run 'ferry accept' on "
		    "the other site", s->fpr);
	rc = store_conn_get(s->store, cc->name, &sc, err);
	if (rc == 0) {
		bool accepted = store_pairing_get(s->store, sc.id, &p,
		    NULL) == 0 && p.role == STORE_PAIR_ACCEPTOR;

		if (sc.peer_fpr != NULL) {
			rc = ferry_err_set(err, FERRY_ERR, "connection '%s' is "
			    "already paired with site %s (key %s): nothing "
			    "to accept", cc->name, sc.peer_site, sc.peer_fpr);
		} else if (accepted && !replace) {
			fmt_time(p.created, when, sizeof(when));
			rc = ferry_err_set(err, FERRY_ERR, "connection '%s' "
			    "already accepted an invitation (connection id %s, "
			    "from site %s) at %s and waits for the inviting "
			    "site's reply: run 'ferry run' after the inviting "
			    "site has run; an invitation is accepted once (to "
			    "take a new code instead, add --replace)",
			    cc->name, sc.conn_id, sc.peer_site, when);
		} else if (!accepted) {
			rc = ferry_err_set(err, FERRY_ERR, "connection '%s' "
			    "has an invitation of its own pending (connection "
			    "id %s): a connection is either invited or "
			    "accepted, not both", cc->name, sc.conn_id);
		} else {
			conn = sc.id;
			old_hello = p.hello_sent;
			p.hello_sent = NULL;
			old_conn = xstrdup(sc.conn_id);
			old_peer = xstrdup(sc.peer_site);
		}
		if (rc < 0)
			goto out;
	} else if (rc != FERRY_ENOTFOUND) {
		goto out;
	}
	/* The hello is durable before the rows that name it commit. */
	if ((rc = write_hello(s, out->conn_id, out->peer_site, inv, &name,
	    err)) < 0)
		goto out;
	CRASHPOINT("pair.accept.after-hello-write");
	snprintf(out->hello, sizeof(out->hello), "%s", name);
	pair_site_id_bytes(inv->fpr, prefix);
	if ((rc = store_begin(s->store, err)) < 0)
		goto out;
	if (conn == 0) {
		memset(&add, 0, sizeof(add));
		add.conn_id = out->conn_id;
		add.name = cc->name;
		add.project = cc->project;
		add.sync_user = s->cfg->jira.user;
		add.peer_site = out->peer_site;
		add.transport = (char *)(uintptr_t)"spool";
		if ((rc = store_conn_add(s->store, &add, &conn, err)) < 0)
			goto fail;
	} else if ((rc = store_conn_set_ids(s->store, conn, out->conn_id,
	    out->peer_site, err)) < 0) {
		goto fail;
	}
	store_pairing_release(&p);
	p.conn = conn;
	p.role = STORE_PAIR_ACCEPTOR;
	p.expect_fpr = xstrdup(prefix);
	p.hello = xstrdup(name);
	p.created = now;
	p.paired = SEQ_NEVER;
	if ((rc = store_pairing_put(s->store, &p, err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0)
		goto fail;
	CRASHPOINT("pair.accept.after-commit");
	remove_old_hello(s, cc, old_conn, old_peer, old_hello);
	/* Sending may wait: the hello is safe, and `ferry run` sends it. */
	if ((rc = open_transport(s, cc, out->conn_id, out->peer_site, &t,
	    &terr)) == 0 && (rc = put_hello(s, t, name, &terr)) == 0 &&
	    (rc = hello_delivered(s, &p, &terr)) == 0)
		out->sent = true;
	else
		snprintf(out->unsent_why, sizeof(out->unsent_why), "%s",
		    terr.msg);
	rc = 0;
	goto out;
fail:
	store_rollback(s->store);
out:
	transport_close(t);
	store_conn_release(&sc);
	store_pairing_release(&p);
	free(old_hello);
	free(old_conn);
	free(old_peer);
	free(name);
	return rc;
}

int
pair_key_file(const char *key_path, struct buf *key, struct pair_keypkt *info,
    int64_t now, struct ferry_err *err)
{
	char ahead[64], when[32];
	int rc;

	if ((rc = file_read(key_path, key, err)) < 0)
		return rc;
	if ((rc = pair_key_packet(key->data, key->len, info, err)) < 0)
		return ferry_err_prefix(err, "'%s': ", key_path);
	if (info->created > now + PAIR_CLOCK_SLACK) {
		pair_duration(info->created - now, ahead, sizeof(ahead));
		fmt_time(info->created, when, sizeof(when));
		return ferry_err_set(err, FERRY_EREJECT, "the key in '%s' "
		    "(%s) was created at %s, %s in the future of this host's "
		    "clock: the two hosts' clocks differ by about %s, and gpg "
		    "refuses a key from the future; set both clocks right "
		    "(NTP) and try again", key_path, info->fpr, when, ahead,
		    ahead);
	}
	return 0;
}

int
pair_accept_key(struct site *s, const struct config_conn *cc,
    const struct buf *key, const char *conn_id, int64_t now,
    struct pair_accepted *out, struct ferry_err *err)
{
	struct store_conn sc, add;
	struct store_pairing p;
	char fpr[CRYPTO_FPR_MAX];
	int64_t conn;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	rc = store_conn_get(s->store, cc->name, &sc, err);
	if (rc == 0) {
		rc = ferry_err_set(err, FERRY_ERR, "connection '%s' %s (site "
		    "%s, connection id %s): pairing by key file is for a "
		    "connection that has neither invited nor accepted",
		    cc->name, sc.peer_fpr != NULL ? "is already paired" :
		    "has a pairing under way", sc.peer_site != NULL ?
		    sc.peer_site : "unknown", sc.conn_id);
		store_conn_release(&sc);
		return rc;
	}
	if (rc != FERRY_ENOTFOUND)
		return rc;
	if ((rc = crypto_import(s->crypto, key->data, key->len, fpr,
	    err)) < 0)
		return ferry_err_prefix(err, "connection '%s': ", cc->name);
	if (strcasecmp(fpr, s->fpr) == 0)
		return ferry_err_set(err, FERRY_ERR, "the key file holds this "
		    "site's own key (%s): give the other site's key", fpr);
	snprintf(out->peer_fpr, sizeof(out->peer_fpr), "%s", fpr);
	pair_site_id(fpr, out->peer_site);
	if (conn_id != NULL)
		snprintf(out->conn_id, sizeof(out->conn_id), "%s", conn_id);
	else
		pair_conn_id(pair_keyfile_conn_id(s->fpr, fpr), out->conn_id);
	if ((rc = store_begin(s->store, err)) < 0)
		return rc;
	memset(&add, 0, sizeof(add));
	add.conn_id = out->conn_id;
	add.name = cc->name;
	add.project = cc->project;
	add.sync_user = s->cfg->jira.user;
	add.peer_site = out->peer_site;
	add.peer_fpr = fpr;
	add.transport = (char *)(uintptr_t)"spool";
	p.role = STORE_PAIR_KEYFILE;
	p.created = now;
	p.paired = now;
	if ((rc = store_conn_add(s->store, &add, &conn, err)) < 0)
		goto fail;
	p.conn = conn;
	if ((rc = store_pairing_put(s->store, &p, err)) < 0 ||
	    (rc = chan_start(s, conn, NULL, err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0)
		goto fail;
	return 0;
fail:
	store_rollback(s->store);
	return rc;
}

/*
 * Read the hello at path without trusting it: its signer is not known
 * yet.  gpg writes the plaintext before it judges the signature, so an
 * unknown (or not pinned) signer still yields the manifest; anything else
 * wrong with the message is a refusal.  Nothing read here is trusted
 * until the authenticator or the fingerprint, then the signature, check.
 */
static int
peek_hello(struct site *s, const char *path, struct bundle_manifest *m,
    struct ferry_err *err)
{
	struct bundle_limits lim;
	struct crypto_sig sig;
	enum crypto_verdict v;
	enum bundle_reason why;
	struct buf plain = BUF_INIT(HELLO_PLAIN_MAX);
	char *tmp = xasprintf("%s/hello-XXXXXX", s->tmp);
	int in = -1, out = -1, rc;

	memset(m, 0, sizeof(*m));
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot open '%s'", path);
		goto out;
	}
	if ((out = mkstemp(tmp)) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot create '%s'", tmp);
		goto out;
	}
	rc = crypto_unseal(s->crypto, s->fpr, 0, in, out, &sig, &v, err);
	if (rc < 0 && !(rc == FERRY_EREJECT && (v == CRYPTO_UNKNOWN_SIGNER ||
	    v == CRYPTO_WRONG_SIGNER)))
		goto out;
	if (rc == 0) {
		rc = ferry_err_set(err, FERRY_EREJECT, "a hello signed by "
		    "this site's own key");
		goto out;
	}
	if ((rc = file_read(tmp, &plain, err)) < 0)
		goto out;
	bundle_limits_default(&lim);
	if ((rc = bundle_walk_mem(plain.data, plain.len, NULL, &lim, m, &why,
	    err)) < 0)
		goto out;
	if (m->kind != BUNDLE_HELLO || m->ctl.key == NULL) {
		rc = ferry_err_set(err, FERRY_EREJECT, "a %s message named as "
		    "a hello", bundle_kind_name(m->kind));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		bundle_manifest_release(m);
	if (in != -1)
		close(in);
	if (out != -1) {
		close(out);
		unlink(tmp);
	}
	free(tmp);
	buf_release(&plain);
	return rc;
}

/* Verify the hello at path: signed by pinned, on conn, from peer, to us. */
static int
verify_hello(struct site *s, const char *path, const char *pinned,
    const char *conn_id, const char *from, struct ferry_err *err)
{
	struct bundle_expect ex;
	struct bundle *b = NULL;
	int rc;

	memset(&ex, 0, sizeof(ex));
	ex.pinned = pinned;
	ex.conn = conn_id;
	ex.to = s->site_id;
	ex.from = from;
	rc = bundle_open(s->crypto, path, &ex, NULL, s->tmp, &b, NULL, err);
	bundle_free(b);
	return rc;
}

/*
 * If the hello's key or message comes from the future of this host's
 * clock, say so: gpg refuses both, and the cause is the clocks.
 */
static int
clock_check(const char *who, const struct bundle_manifest *m,
    const struct pair_keypkt *k, int64_t now, struct ferry_err *err)
{
	char ahead[64], when[32];
	int64_t dk = k->created - now, dm = m->created_ms / 1000 - now;

	if (dk <= PAIR_CLOCK_SLACK && dm <= PAIR_CLOCK_SLACK)
		return 0;
	if (dk > PAIR_CLOCK_SLACK) {
		pair_duration(dk > dm ? dk : dm, ahead, sizeof(ahead));
		fmt_time(k->created, when, sizeof(when));
		return ferry_err_set(err, FERRY_ERETRY, "the hello from site "
		    "%s carries key %s, created at %s, %s in the future of "
		    "this host's clock: the two hosts' clocks differ by about "
		    "%s, and gpg refuses a key from the future; set the clocks "
		    "right (NTP); the hello is kept and tried again by the "
		    "next run", who, k->fpr, when, ahead, ahead);
	}
	pair_duration(dm, ahead, sizeof(ahead));
	fmt_time(m->created_ms / 1000, when, sizeof(when));
	return ferry_err_set(err, FERRY_ERETRY, "the hello from site %s was "
	    "made at %s, %s in the future of this host's clock: the two "
	    "hosts' clocks differ by about %s, and gpg refuses a signature "
	    "from the future; set the clocks right (NTP); the hello is kept "
	    "and tried again by the next run", who, when, ahead, ahead);
}

/* Everything one connection's run needs. */
struct pctx {
	struct site		*s;
	const struct config_conn *cc;
	struct store_conn	 sc;
	struct store_pairing	 p;
	bool			 have_p;
	struct transport	*t;
	struct channel		*ch;
	int64_t			 now;
	struct pair_report	*r;
};

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct transport_file *)a)->name,
	    ((const struct transport_file *)b)->name);
}

/* The hellos on the spool for this connection addressed to this site. */
static int
scan_hellos(struct pctx *x, struct transport_file **v, size_t *n,
    struct ferry_err *err)
{
	struct transport_name info;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int rc;

	/*
	 * The transport lists the files of a known peer only; before the
	 * hello the inviter knows none, so it reads the spool folder for
	 * any hello addressed to it on this connection.
	 */
	*v = NULL;
	*n = 0;
	if ((rc = x->t->ops->check(x->t, false, err)) < 0)
		return rc;
	if ((d = opendir(x->cc->inbox)) == NULL)
		return ferry_err_sys(err, FERRY_EUNAVAIL, "transport "
		    "unavailable: cannot read spool folder '%s'",
		    x->cc->inbox);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !transport_name_parse(de->d_name, &info) ||
		    info.seq != 0 || strcmp(info.kind, "hello") != 0 ||
		    strcmp(info.conn, x->sc.conn_id) != 0 ||
		    strcmp(info.to, x->s->site_id) != 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			*v = xreallocarray(*v, cap, sizeof(**v));
		}
		(*v)[*n].name = xstrdup(de->d_name);
		(*v)[*n].info = info;
		(*v)[*n].size = 0;
		(*n)++;
	}
	closedir(d);
	/* In name order: the order they were written in, to a second. */
	if (*n > 1)
		qsort(*v, *n, sizeof(**v), cmp_name);
	return 0;
}

static int
mark_seen(struct pctx *x, const char *name, const char *verdict,
    struct ferry_err *err)
{
	int rc;

	if ((rc = store_begin(x->s->store, err)) < 0)
		return rc;
	if ((rc = store_hello_mark(x->s->store, x->sc.id, name, verdict,
	    x->now, err)) < 0 || (rc = store_commit(x->s->store, err)) < 0)
		store_rollback(x->s->store);
	return rc;
}

/*
 * Judge a hello against the invitations of the connection: which one
 * made its authenticator.  *which is the index in v, or -1.
 */
static void
match_invitation(struct pctx *x, const struct bundle_manifest *m,
    const struct store_invite *v, size_t n, ssize_t *which)
{
	struct invite inv;
	uint8_t mac[INVITE_MAC_LEN], got[INVITE_MAC_LEN];
	uint32_t id = 0;
	size_t i, k;

	*which = -1;
	if (m->ctl.auth == NULL || m->ctl.authlen != INVITE_MAC_LEN ||
	    !pair_conn_id_parse(x->sc.conn_id, &id))
		return;
	memcpy(got, m->ctl.auth, sizeof(got));
	for (i = 0; i < n && *which < 0; i++) {
		if (v[i].secretlen != INVITE_SECRET_LEN)
			continue;
		memset(&inv, 0, sizeof(inv));
		inv.version = INVITE_VERSION;
		inv.conn_id = id;
		/* The fingerprint prefix is this site's key. */
		for (k = 0; k < INVITE_FPR_LEN; k++) {
			unsigned hi, lo;

			sscanf(x->s->fpr + 2 * k, "%1x%1x", &hi, &lo);
			inv.fpr[k] = (uint8_t)(hi << 4 | lo);
		}
		memcpy(inv.secret, v[i].secret, INVITE_SECRET_LEN);
		invite_mac(&inv, m->from, m->ctl.key, m->ctl.keylen, mac);
		if (invite_mac_equal(mac, got))
			*which = (ssize_t)i;
		invite_wipe(&inv);
	}
	explicit_bzero(mac, sizeof(mac));
}

/* The inviter judges one hello (fetched to path). */
static int
inviter_hello(struct pctx *x, const char *name, const char *path,
    struct ferry_err *err)
{
	struct site *s = x->s;
	struct bundle_manifest m;
	struct store_invite *v = NULL;
	struct pair_keypkt k;
	const char *verdict = NULL;
	char fpr[CRYPTO_FPR_MAX], when[32], *reply = NULL;
	ssize_t which;
	size_t n = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = peek_hello(s, path, &m, err)) < 0) {
		verdict = "unreadable";
		ferry_err_prefix(err, "hello '%s' refused: ", name);
		goto out;
	}
	if (strcmp(m.conn, x->sc.conn_id) != 0 ||
	    strcmp(m.to, s->site_id) != 0 || !bundle_id_valid(m.from)) {
		verdict = "misaddressed";
		rc = ferry_err_set(err, FERRY_EREJECT, "hello '%s' refused: "
		    "its manifest names connection %s from %s to %s, not "
		    "what its name says", name, m.conn, m.from, m.to);
		goto out;
	}
	if (x->sc.peer_fpr != NULL && x->sc.peer_site != NULL &&
	    strcmp(m.from, x->sc.peer_site) == 0) {
		/* The acceptor's hello, still on the spool: judged. */
		verdict = "pinned";
		rc = 0;
		goto out;
	}
	if ((rc = store_invite_list(s->store, x->sc.id, &v, &n, err)) < 0)
		goto out;
	match_invitation(x, &m, v, n, &which);
	if (which < 0) {
		verdict = "auth-failed";
		rc = ferry_err_set(err, FERRY_EREJECT, "hello authentication "
		    "failed: the hello from site %s on connection '%s' was "
		    "not made with a code this site issued for it (a code of "
		    "another invitation, or a forged hello); nothing was "
		    "pinned; make a new code with 'ferry invite --connection "
		    "%s'", m.from, x->cc->name, x->cc->name);
		goto out;
	}
	if (v[which].state == STORE_INVITE_USED) {
		verdict = "already-used";
		fmt_time(v[which].used, when, sizeof(when));
		rc = ferry_err_set(err, FERRY_EREJECT, "invitation already "
		    "used: site %s sent a hello with the code of connection "
		    "'%s', which site %s used at %s; a code works once; "
		    "nothing was pinned", m.from, x->cc->name,
		    v[which].used_by != NULL ? v[which].used_by : "?", when);
		goto out;
	}
	if (v[which].state == STORE_INVITE_REPLACED) {
		verdict = "replaced";
		rc = ferry_err_set(err, FERRY_EREJECT, "invitation replaced: "
		    "site %s sent a hello with an older code of connection "
		    "'%s', replaced by a newer 'ferry invite'; give the other "
		    "site the newest code", m.from, x->cc->name);
		goto out;
	}
	if (v[which].expires <= x->now) {
		verdict = "expired";
		fmt_time(v[which].expires, when, sizeof(when));
		rc = ferry_err_set(err, FERRY_EREJECT, "invitation expired: "
		    "site %s sent a hello with the code of connection '%s', "
		    "which expired at %s; make a new code with 'ferry invite "
		    "--connection %s'; nothing was pinned", m.from,
		    x->cc->name, when, x->cc->name);
		goto out;
	}
	if ((rc = pair_key_packet(m.ctl.key, m.ctl.keylen, &k, err)) < 0) {
		verdict = "bad-key";
		ferry_err_prefix(err, "hello from site %s: ", m.from);
		goto out;
	}
	/* Not marked seen: once the clocks agree, the next run pins it. */
	if ((rc = clock_check(m.from, &m, &k, x->now, err)) < 0)
		goto out;
	if ((rc = crypto_import(s->crypto, m.ctl.key, m.ctl.keylen, fpr,
	    err)) < 0) {
		verdict = "bad-key";
		ferry_err_prefix(err, "hello from site %s: ", m.from);
		goto out;
	}
	if (strcasecmp(fpr, s->fpr) == 0) {
		verdict = "own-key";
		rc = ferry_err_set(err, FERRY_EREJECT, "the hello from site %s "
		    "carries this site's own key", m.from);
		goto out;
	}
	if ((rc = verify_hello(s, path, fpr, x->sc.conn_id, m.from,
	    err)) < 0) {
		verdict = "bad-signature";
		ferry_err_prefix(err, "hello authentication failed: ");
		goto out;
	}
	/* Pin, mark the code used, and reply, in one transaction. */
	if ((rc = write_hello(s, x->sc.conn_id, m.from, NULL, &reply,
	    err)) < 0)
		goto out;
	CRASHPOINT("pair.pin.after-reply-write");
	if ((rc = store_begin(s->store, err)) < 0)
		goto out;
	free(x->p.hello);
	x->p.hello = xstrdup(reply);
	x->p.paired = x->now;
	if ((rc = store_invite_use(s->store, v[which].id, m.from, x->now,
	    err)) < 0 ||
	    (rc = store_conn_set_peer(s->store, x->sc.id, m.from, fpr,
	    err)) < 0 ||
	    (rc = store_pairing_put(s->store, &x->p, err)) < 0 ||
	    (rc = chan_start(s, x->sc.id, name, err)) < 0 ||
	    (rc = store_hello_mark(s->store, x->sc.id, name, "pinned", x->now,
	    err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0) {
		store_rollback(s->store);
		goto out;
	}
	free(x->sc.peer_site);
	free(x->sc.peer_fpr);
	x->sc.peer_site = xstrdup(m.from);
	x->sc.peer_fpr = xstrdup(fpr);
	CRASHPOINT("pair.pin.after-commit");
	x->r->pinned_now = true;
	log_info("pinned key %s of site %s (invitation "
	    "used)", fpr, m.from);
	rc = 0;
out:
	if (verdict != NULL && mark_seen(x, name, verdict, NULL) < 0)
		log_warn("cannot record hello '%s'", name);
	store_invite_free(v, n);
	bundle_manifest_release(&m);
	free(reply);
	return rc;
}

/* The acceptor judges the inviter's reply (fetched to path). */
static int
acceptor_hello(struct pctx *x, const char *name, const char *path,
    struct ferry_err *err)
{
	struct site *s = x->s;
	struct bundle_manifest m;
	struct pair_keypkt k;
	const char *verdict = NULL;
	const char *expect = x->p.expect_fpr != NULL ? x->p.expect_fpr : "";
	char fpr[CRYPTO_FPR_MAX];
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = peek_hello(s, path, &m, err)) < 0) {
		verdict = "unreadable";
		ferry_err_prefix(err, "hello '%s' refused: ", name);
		goto out;
	}
	if (strcmp(m.conn, x->sc.conn_id) != 0 ||
	    strcmp(m.to, s->site_id) != 0 ||
	    strcmp(m.from, x->sc.peer_site) != 0) {
		verdict = "misaddressed";
		rc = ferry_err_set(err, FERRY_EREJECT, "hello '%s' refused: "
		    "its manifest names connection %s from %s to %s, not "
		    "what its name says", name, m.conn, m.from, m.to);
		goto out;
	}
	if ((rc = pair_key_packet(m.ctl.key, m.ctl.keylen, &k, err)) < 0) {
		verdict = "bad-key";
		ferry_err_prefix(err, "reply from site %s: ", m.from);
		goto out;
	}
	if (strncasecmp(k.fpr, expect, strlen(expect)) != 0 ||
	    strlen(expect) != PAIR_SITE_ID_LEN) {
		verdict = "fingerprint-mismatch";
		rc = ferry_err_set(err, FERRY_EREJECT, "fingerprint mismatch: "
		    "the reply on connection '%s' carries key %s, but the "
		    "invitation code names a key starting with %s: it is not "
		    "from the site that made the code; nothing was pinned",
		    x->cc->name, k.fpr, expect);
		goto out;
	}
	if ((rc = clock_check(m.from, &m, &k, x->now, err)) < 0)
		goto out;
	if ((rc = crypto_import(s->crypto, m.ctl.key, m.ctl.keylen, fpr,
	    err)) < 0) {
		verdict = "bad-key";
		ferry_err_prefix(err, "reply from site %s: ", m.from);
		goto out;
	}
	if (strncasecmp(fpr, expect, PAIR_SITE_ID_LEN) != 0) {
		verdict = "fingerprint-mismatch";
		rc = ferry_err_set(err, FERRY_EREJECT, "fingerprint mismatch: "
		    "gpg reads key %s from the reply on connection '%s', but "
		    "the invitation code names a key starting with %s; "
		    "nothing was pinned", fpr, x->cc->name, expect);
		goto out;
	}
	if ((rc = verify_hello(s, path, fpr, x->sc.conn_id, m.from,
	    err)) < 0) {
		verdict = "bad-signature";
		ferry_err_prefix(err, "reply refused: ");
		goto out;
	}
	if ((rc = store_begin(s->store, err)) < 0)
		goto out;
	x->p.paired = x->now;
	if ((rc = store_conn_set_peer(s->store, x->sc.id, m.from, fpr,
	    err)) < 0 ||
	    (rc = store_pairing_put(s->store, &x->p, err)) < 0 ||
	    (rc = chan_start(s, x->sc.id, name, err)) < 0 ||
	    (rc = store_hello_mark(s->store, x->sc.id, name, "pinned", x->now,
	    err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0) {
		store_rollback(s->store);
		goto out;
	}
	free(x->sc.peer_fpr);
	x->sc.peer_fpr = xstrdup(fpr);
	CRASHPOINT("pair.pin.after-commit");
	x->r->pinned_now = true;
	log_info("pinned key %s of site %s (it matches the "
	    "invitation code)", fpr, m.from);
	/* Answered: our hello leaves the spool. */
	if (x->p.hello_sent != NULL &&
	    x->t->ops->remove(x->t, x->p.hello_sent, NULL) == 0) {
		x->r->removed++;
		FREE_AND_NULL(x->p.hello_sent);
		if (store_begin(s->store, NULL) == 0 &&
		    (store_pairing_put(s->store, &x->p, NULL) < 0 ||
		    store_commit(s->store, NULL) < 0))
			store_rollback(s->store);
	}
	rc = 0;
out:
	if (verdict != NULL && mark_seen(x, name, verdict, NULL) < 0)
		log_warn("cannot record hello '%s'", name);
	bundle_manifest_release(&m);
	return rc;
}

/* Fetch and judge the hellos in v that were not judged before. */
static int
judge_hellos(struct pctx *x, struct transport_file *v, size_t n,
    bool inviter, struct ferry_err *err)
{
	struct ferry_err herr = FERRY_ERR_INIT;
	char *local, *path;
	bool seen;
	size_t i;
	int rc = 0, hrc, first = 0;

	for (i = 0; i < n; i++) {
		if (v[i].info.seq != 0 || strcmp(v[i].info.kind, "hello") != 0)
			continue;
		if ((rc = store_hello_seen(x->s->store, x->sc.id, v[i].name,
		    &seen, NULL, err)) < 0)
			return rc;
		if (seen)
			continue;
		local = xasprintf(LOCAL_PREFIX "%s", v[i].name);
		path = file_join(x->s->pairdir, local);
		rc = x->t->ops->fetch(x->t, v[i].name, x->s->pairdir, local,
		    err);
		if (rc == FERRY_ENOTFOUND) {
			rc = 0;
		} else if (rc == 0) {
			CRASHPOINT("pair.hello.after-fetch");
			x->r->fetched++;
			ferry_err_clear(&herr);
			hrc = inviter ? inviter_hello(x, v[i].name, path,
			    &herr) : acceptor_hello(x, v[i].name, path, &herr);
			if (hrc < 0) {
				if (hrc != FERRY_ERETRY)
					x->r->hellos_rejected++;
				/* The first is the caller's to report. */
				if (first == 0) {
					first = hrc;
					*err = herr;
				} else {
					log_error("%s", herr.msg);
				}
			}
		}
		unlink(path);
		free(path);
		free(local);
		if (rc < 0)
			return rc;
	}
	return first;
}

/*
 * The channel's verify hook: a bundle or control message from the pinned
 * peer, checked by the bundle reader.
 */
static int
hook_verify(void *ctx, const char *path, bool control, struct seq_msg *m,
    struct ferry_err *err)
{
	struct pctx *x = ctx;
	struct bundle_expect ex;
	struct bundle *b = NULL;
	enum bundle_reason why = BUNDLE_R_NONE;
	uint8_t d[CRYPTO_SHA256_LEN];
	int rc;

	memset(&ex, 0, sizeof(ex));
	ex.pinned = x->sc.peer_fpr;
	ex.conn = x->sc.conn_id;
	ex.to = x->s->site_id;
	ex.from = x->sc.peer_site;
	rc = bundle_open(x->s->crypto, path, &ex, NULL, x->s->tmp, &b, &why,
	    err);
	if (rc < 0) {
		/* A refused file still has a hash: the ledger's key. */
		if (crypto_sha256_file(path, 0, UINT64_MAX, d, NULL, NULL) ==
		    0)
			memcpy(m->hash.b, d, SEQ_HASH_LEN);
		return rc;
	}
	memcpy(m->hash.b, b->hash, SEQ_HASH_LEN);
	if (control != (b->m.seq == 0) || (control &&
	    b->m.kind != BUNDLE_ACK)) {
		rc = ferry_err_set(err, FERRY_EREJECT, "a %s message is not "
		    "taken on a paired connection", bundle_kind_name(
		    b->m.kind));
		goto out;
	}
	m->bundle = !control;
	m->seq = b->m.seq;
	if (b->m.has_prev)
		memcpy(m->prev.b, b->m.prev, SEQ_HASH_LEN);
	m->ack = b->m.ack;
	m->time = b->m.created_ms / 1000;
	/* Absent (an older sender): 0 shows nothing (seq_on_top()). */
	if (control && b->m.ctl.has_top)
		m->top = b->m.ctl.top;
	rc = 0;
out:
	bundle_free(b);
	return rc;
}

/* The channel's make_ack hook: an ack control message, sealed. */
static int
hook_make_ack(void *ctx, const struct seq_msg *m, const char *dir,
    const char *name, struct ferry_err *err)
{
	struct pctx *x = ctx;
	struct bundle_manifest hdr;
	struct bundle_writer *w = NULL;
	struct bundle_seal seal;
	char *made = NULL, *from = NULL, *to = NULL;
	int rc;

	memset(&hdr, 0, sizeof(hdr));
	hdr.kind = BUNDLE_ACK;
	snprintf(hdr.conn, sizeof(hdr.conn), "%s", x->sc.conn_id);
	snprintf(hdr.from, sizeof(hdr.from), "%s", x->s->site_id);
	snprintf(hdr.to, sizeof(hdr.to), "%s", x->sc.peer_site);
	hdr.ack = m->ack;
	hdr.ctl.has_top = true;
	hdr.ctl.top = m->top;
	if (x->ch != NULL && x->ch->st.in_recv > 0) {
		hdr.has_peer_last = true;
		memcpy(hdr.peer_last, x->ch->st.in_hash.b, SEQ_HASH_LEN);
	}
	seal.crypto = x->s->crypto;
	seal.signer = x->s->fpr;
	seal.peer = x->sc.peer_fpr;
	seal.encrypt = x->cc->encrypt;
	if ((rc = bundle_writer_new(&hdr, x->s->tmp, &w, err)) < 0 ||
	    (rc = bundle_writer_finish(w, &seal, x->s->tmp, &made, NULL,
	    err)) < 0)
		goto out;
	/* The channel chose the name: the file moves under it. */
	from = file_join(x->s->tmp, made);
	to = file_join(dir, name);
	if (rename(from, to) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot rename '%s' to "
		    "'%s'", from, to);
		unlink(from);
		goto out;
	}
	rc = file_fsync_dir(dir, err);
out:
	bundle_writer_free(w);
	free(made);
	free(from);
	free(to);
	return rc;
}

static int
run_channel(struct pctx *x, struct ferry_err *err)
{
	struct channel_hooks hooks;
	struct channel ch;
	struct channel_stats cs;
	struct ferry_err uerr = FERRY_ERR_INIT;
	bool unavail = false;
	int rc;

	memset(&cs, 0, sizeof(cs));
	hooks.ctx = x;
	hooks.verify = hook_verify;
	hooks.make_ack = hook_make_ack;
	if ((rc = channel_init(&ch, x->s->store, x->t, x->sc.id,
	    x->s->state_dir, &hooks, err)) < 0)
		return rc;
	x->ch = &ch;
	ch.rules.resend_after = x->cc->resend_after_s;
	ch.rules.ack_interval = x->cc->ack_interval_s;
	if ((rc = channel_repair(&ch, err)) < 0)
		goto out;
	rc = channel_receive(&ch, x->now, &cs, err);
	if (rc == FERRY_EUNAVAIL) {
		uerr = *err;
		unavail = true;
	} else if (rc < 0) {
		goto out;
	}
	/* No export in this version: nothing is made, acks and resends go. */
	if (!unavail) {
		rc = channel_send(&ch, x->now, &cs, err);
		if (rc == FERRY_EUNAVAIL) {
			uerr = *err;
			unavail = true;
		} else if (rc < 0) {
			goto out;
		}
	}
	if ((rc = channel_prune(&ch, x->now, &cs, err)) < 0)
		goto out;
	rc = 0;
	if (unavail) {
		*err = uerr;
		rc = FERRY_EUNAVAIL;
	} else if (ch.st.stop != SEQ_RUNNING) {
		rc = ferry_err_set(err, FERRY_EFORK, "connection '%s' "
		    "stopped: %s", x->cc->name, seq_stop_name(ch.st.stop));
	}
out:
	x->r->fetched += cs.fetched;
	x->r->quarantined += cs.quarantined;
	x->r->acks_in += cs.acks_in;
	x->r->sent += cs.sent;
	x->r->resent += cs.resent;
	x->r->acks_out += cs.acks_out;
	x->r->removed += cs.removed;
	x->r->pruned += cs.pruned;
	x->r->unavailable = unavail;
	x->r->stopped = ch.st.stop != SEQ_RUNNING;
	x->ch = NULL;
	channel_release(&ch);
	return rc;
}

static int
run_conn(struct pctx *x, struct ferry_err *err)
{
	struct transport_file *v = NULL;
	size_t n = 0;
	bool inviter;
	int rc, prc = 0;
	struct ferry_err perr = FERRY_ERR_INIT;

	inviter = x->have_p && x->p.role == STORE_PAIR_INVITER;
	if ((rc = open_transport(x->s, x->cc, x->sc.conn_id,
	    x->sc.peer_site, &x->t, err)) < 0)
		return rc;
	/* Our hello waiting since a transport was away goes first. */
	if (x->have_p && x->p.hello != NULL) {
		if ((rc = put_hello(x->s, x->t, x->p.hello, err)) < 0)
			return rc;
		if ((rc = hello_delivered(x->s, &x->p, err)) < 0)
			return rc;
		x->r->hello_sent = true;
	}
	if (inviter) {
		if ((rc = scan_hellos(x, &v, &n, err)) < 0)
			return rc;
		prc = judge_hellos(x, v, n, true, &perr);
		transport_files_free(v, n);
		if (prc < 0 && prc != FERRY_EREJECT && prc != FERRY_ERETRY) {
			*err = perr;
			return prc;
		}
		if (x->r->pinned_now) {
			/* The reply waits in STATE/pairing: send it now. */
			transport_close(x->t);
			x->t = NULL;
			if ((rc = open_transport(x->s, x->cc, x->sc.conn_id,
			    x->sc.peer_site, &x->t, err)) < 0 ||
			    (rc = put_hello(x->s, x->t, x->p.hello, err)) < 0 ||
			    (rc = hello_delivered(x->s, &x->p, err)) < 0)
				return rc;
			x->r->hello_sent = true;
		}
	} else if (x->sc.peer_fpr == NULL) {
		if ((rc = x->t->ops->check(x->t, false, err)) < 0 ||
		    (rc = x->t->ops->list(x->t, TRANSPORT_INCOMING, &v, &n,
		    err)) < 0)
			return rc;
		prc = judge_hellos(x, v, n, false, &perr);
		transport_files_free(v, n);
		if (prc < 0 && prc != FERRY_EREJECT && prc != FERRY_ERETRY) {
			*err = perr;
			return prc;
		}
	}
	if (x->sc.peer_fpr != NULL && (rc = run_channel(x, err)) < 0)
		return rc;
	if (prc < 0) {
		*err = perr;
		return prc;
	}
	return 0;
}

int
pair_run_conn(struct site *s, const struct config_conn *cc, int64_t now,
    struct pair_report *r, struct ferry_err *err)
{
	struct pctx x;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	r->name = cc->name;
	r->state = "not-paired";
	x.s = s;
	x.cc = cc;
	x.now = now;
	x.r = r;
	log_set_context(cc->name);
	if ((rc = repair_pairdir(s, err)) < 0)
		goto out;
	rc = store_conn_get(s->store, cc->name, &x.sc, err);
	if (rc == FERRY_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	snprintf(r->conn_id, sizeof(r->conn_id), "%s", x.sc.conn_id);
	rc = store_pairing_get(s->store, x.sc.id, &x.p, err);
	if (rc == 0)
		x.have_p = true;
	else if (rc != FERRY_ENOTFOUND)
		goto out;
	rc = run_conn(&x, err);
	/* What the connection is now, whatever this run managed. */
	if (x.sc.peer_fpr != NULL) {
		r->state = "paired";
		snprintf(r->peer_site, sizeof(r->peer_site), "%s",
		    x.sc.peer_site);
		snprintf(r->peer_fpr, sizeof(r->peer_fpr), "%s",
		    x.sc.peer_fpr);
	} else if (x.have_p) {
		r->state = x.p.role == STORE_PAIR_INVITER ?
		    "waiting-for-hello" : "waiting-for-reply";
	}
out:
	if (rc < 0) {
		r->rc = rc;
		snprintf(r->msg, sizeof(r->msg), "%s", err->msg);
		if (rc == FERRY_EUNAVAIL)
			r->unavailable = true;
	}
	log_set_context(NULL);
	transport_close(x.t);
	store_conn_release(&x.sc);
	store_pairing_release(&x.p);
	return rc;
}
