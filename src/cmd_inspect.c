/*
 * cmd_inspect.c: "ferry inspect FILE": verify a bundle, print its
 * manifest and a summary of its operations.
 *
 * Which key must have signed it: a bundle this site sent (its name says
 * the sender is this site) is checked against the site key; any other
 * against the peer key named with --peer FPR, or read from --peer-key
 * FILE (imported into the site keyring, as pairing by key files does),
 * or else the only peer key the keyring holds.  Until the store pins a
 * key per connection, this is how inspect knows; see
 * docs/bundle-format.md.  Nothing is applied and nothing is kept.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/cli.h"
#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/file.h"

#include <getopt.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>

FERRY_COMMAND(inspect, "verify a bundle and print its manifest and "
    "operations");

#define USAGE "usage: ferry [-c CONFIG] inspect [--json] [--peer FPR | " \
	"--peer-key FILE] FILE"

static char *
esc(const char *s)
{
	struct buf b = BUF_INIT(0);

	buf_add_escaped(&b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	return buf_detach(&b, NULL);
}

static json_t *
jesc(const char *s)
{
	char *e = esc(s);
	json_t *j = json_string(e);

	free(e);
	return j;
}

static void
hex(const uint8_t *d, char out[CRYPTO_SHA256_HEX])
{
	crypto_sha256_hex(d, out);
}

static json_t *
manifest_json(const struct bundle *b)
{
	const struct bundle_manifest *m = &b->m;
	json_t *o = json_object(), *reads = json_array(), *mem = json_array();
	char h[CRYPTO_SHA256_HEX];
	size_t i;

	for (i = 0; i < m->nreads; i++)
		json_array_append_new(reads, json_integer(m->reads[i]));
	for (i = 0; i < m->nmembers; i++) {
		const struct bundle_member *x = &m->members[i];
		json_t *jm = json_object();

		json_object_set_new(jm, "name", json_string(x->name));
		json_object_set_new(jm, "size", json_integer((json_int_t)
		    x->size));
		hex(x->sha256, h);
		json_object_set_new(jm, "sha256", json_string(h));
		if (x->chunk) {
			hex(x->blob, h);
			json_object_set_new(jm, "blob", json_string(h));
			json_object_set_new(jm, "blob_size", json_integer(
			    (json_int_t)x->blob_size));
			json_object_set_new(jm, "offset", json_integer(
			    (json_int_t)x->offset));
			json_object_set_new(jm, "index",
			    json_integer(x->index));
			json_object_set_new(jm, "chunks",
			    json_integer(x->nchunks));
		}
		json_array_append_new(mem, jm);
	}
	json_object_set_new(o, "format", json_integer(m->format));
	json_object_set_new(o, "reads", reads);
	json_object_set_new(o, "kind", json_string(bundle_kind_name(m->kind)));
	json_object_set_new(o, "conn", json_string(m->conn));
	json_object_set_new(o, "from", json_string(m->from));
	json_object_set_new(o, "to", json_string(m->to));
	json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
	hex(m->prev, h);
	json_object_set_new(o, "prev", m->has_prev ? json_string(h) :
	    json_null());
	hex(m->peer_last, h);
	json_object_set_new(o, "peer_last", m->has_peer_last ?
	    json_string(h) : json_null());
	json_object_set_new(o, "ack", json_integer((json_int_t)m->ack));
	json_object_set_new(o, "jira_time", json_integer(m->jira_time_ms));
	json_object_set_new(o, "created", json_integer(m->created_ms));
	json_object_set_new(o, "ops", json_integer((json_int_t)m->op_count));
	json_object_set_new(o, "members", mem);
	if (m->kind != BUNDLE_DATA) {
		json_t *c = json_object();

		if (m->ctl.key != NULL)
			json_object_set_new(c, "key_bytes",
			    json_integer((json_int_t)m->ctl.keylen));
		if (m->ctl.fpr != NULL)
			json_object_set_new(c, "fpr", jesc(m->ctl.fpr));
		if (m->kind == BUNDLE_RESYNC)
			json_object_set_new(c, "from_seq", json_integer(
			    (json_int_t)m->ctl.from_seq));
		if (m->ctl.has_top)
			json_object_set_new(c, "top", json_integer(
			    (json_int_t)m->ctl.top));
		json_object_set_new(o, "control", c);
	}
	return o;
}

static json_t *
op_json(const struct op *op)
{
	json_t *o = json_object(), *f;
	size_t i;

	json_object_set_new(o, "type", json_string(op_type_name(op->type)));
	json_object_set_new(o, "issue", json_integer(op->issue_id));
	json_object_set_new(o, "key", jesc(op->issue_key));
	json_object_set_new(o, "at", json_integer(op->at_ms));
	if (op->nfields > 0) {
		f = json_array();
		for (i = 0; i < op->nfields; i++)
			json_array_append_new(f, jesc(op->fields[i].name));
		json_object_set_new(o, "fields", f);
	}
	if (op->comment_id > 0)
		json_object_set_new(o, "comment", json_integer(op->comment_id));
	if (op->attachment_id > 0) {
		json_object_set_new(o, "attachment",
		    json_integer(op->attachment_id));
		if (op->filename != NULL)
			json_object_set_new(o, "filename", jesc(op->filename));
	}
	return o;
}

static void
print_text(const struct bundle *b, const char *path, const uint64_t *counts,
    const struct op *first, size_t nfirst, uint64_t total)
{
	const struct bundle_manifest *m = &b->m;
	char h[CRYPTO_SHA256_HEX];
	size_t i, j;
	int t;

	hex(b->hash, h);
	printf("bundle:     %s\nverified:   signed by %s%s\nhash:       %s\n",
	    path, b->sig.fpr, b->sig.encrypted ? ", encrypted" :
	    ", not encrypted", h);
	printf("format:     %" PRIu32 " (sender reads", m->format);
	for (i = 0; i < m->nreads; i++)
		printf(" %" PRIu32, m->reads[i]);
	printf(")\nkind:       %s\nconnection: %s\ndirection:  %s -> %s\n",
	    bundle_kind_name(m->kind), m->conn, m->from, m->to);
	if (m->kind == BUNDLE_DATA)
		printf("seq:        %" PRIu64 "\n", m->seq);
	hex(m->prev, h);
	printf("prev:       %s\n", m->has_prev ? h : "-");
	hex(m->peer_last, h);
	printf("peer last:  %s\nack:        %" PRIu64 "\n"
	    "jira time:  %" PRId64 "\ncreated:    %" PRId64 "\n",
	    m->has_peer_last ? h : "-", m->ack, m->jira_time_ms,
	    m->created_ms);
	if (m->ctl.has_top)
		printf("top:        %" PRIu64 "\n", m->ctl.top);
	printf("members:    %zu\n", m->nmembers);
	for (i = 0; i < m->nmembers; i++) {
		printf("  %-78s %12" PRIu64, m->members[i].name,
		    m->members[i].size);
		if (m->members[i].chunk)
			printf("  chunk %" PRIu32 "/%" PRIu32 " at %" PRIu64,
			    m->members[i].index + 1, m->members[i].nchunks,
			    m->members[i].offset);
		printf("\n");
	}
	printf("operations: %" PRIu64 "\n", total);
	for (t = OP_NONE + 1; t < OP__COUNT; t++)
		if (counts[t] > 0)
			printf("  %-20s %" PRIu64 "\n", op_type_name(t),
			    counts[t]);
	for (i = 0; i < nfirst; i++) {
		char *k = esc(first[i].issue_key);

		printf("  %s %s", op_type_name(first[i].type), k);
		free(k);
		for (j = 0; j < first[i].nfields; j++) {
			k = esc(first[i].fields[j].name);
			printf("%s%s", j == 0 ? ": " : ", ", k);
			free(k);
		}
		printf("\n");
	}
	if (total > nfirst)
		printf("  ... %" PRIu64 " more (--json lists all)\n",
		    total - nfirst);
}

int
cmd_inspect(int argc, char **argv, struct ferry_ctx *ctx,
    struct ferry_err *err)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "peer", required_argument, NULL, 'p' },
		{ "peer-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *cfg = NULL;
	struct crypto *c = NULL;
	struct bundle *b = NULL;
	struct bundle_expect ex;
	struct bundle_name_info ni;
	struct buf keydata = BUF_INIT(1 << 20);
	struct op first[20];
	uint64_t counts[OP__COUNT] = { 0 }, total = 0;
	size_t nfirst = 0, i;
	const char *peer = NULL, *peer_key = NULL, *path, *base;
	char site[CRYPTO_FPR_MAX], pinned[CRYPTO_FPR_MAX];
	char *home = NULL, *work = NULL;
	json_t *root = NULL, *ops = NULL;
	bool json = ctx->json, sent;
	int ch, rc;

	memset(first, 0, sizeof(first));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'p':
			peer = optarg;
			break;
		case 'k':
			peer_key = optarg;
			break;
		default:
			return ferry_err_set(err, FERRY_EUSAGE, USAGE);
		}
	}
	if (optind != argc - 1 || (peer != NULL && peer_key != NULL))
		return ferry_err_set(err, FERRY_EUSAGE, USAGE);
	path = argv[optind];
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	if ((rc = config_load(ctx->config_path, &cfg, err)) < 0)
		return rc;
	home = file_join(cfg->site.state_dir, "gnupg");
	work = file_join(cfg->site.state_dir, "tmp");
	if (!file_exists(home)) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "no keyring in '%s'; "
		    "run 'ferry init' first", cfg->site.state_dir);
		goto out;
	}
	if ((rc = crypto_open(home, &c, err)) < 0 ||
	    (rc = crypto_site_key(c, site, err)) < 0 ||
	    (rc = file_mkdirs(work, 0700, err)) < 0)
		goto out;
	sent = bundle_name_parse(base, &ni) &&
	    strcmp(ni.from, cfg->site.name) == 0;
	if (peer_key != NULL) {
		if ((rc = file_read(peer_key, &keydata, err)) < 0 ||
		    (rc = crypto_import(c, keydata.data, keydata.len, pinned,
		    err)) < 0)
			goto out;
	} else if (peer != NULL) {
		snprintf(pinned, sizeof(pinned), "%s", peer);
	} else if (sent) {
		snprintf(pinned, sizeof(pinned), "%s", site);
	} else if ((rc = crypto_only_peer(c, pinned, err)) < 0) {
		if (rc == FERRY_ENOTFOUND || rc == FERRY_ERR)
			rc = ferry_err_prefix(err, "%s", "cannot tell who "
			    "signed it: ");
		goto out;
	}
	memset(&ex, 0, sizeof(ex));
	ex.pinned = pinned;
	/* A received bundle must be addressed to this site. */
	if (!sent)
		ex.to = cfg->site.name;
	ex.keep_blobs = false;
	if ((rc = bundle_open(c, path, &ex, NULL, work, &b, NULL, err)) < 0)
		goto out;
	if (json) {
		ops = json_array();
		root = json_object();
	}
	for (;;) {
		struct op op = OP_INIT;

		if ((rc = bundle_next_op(b, &op, err)) < 0)
			goto out;
		if (rc == 0)
			break;
		counts[op.type]++;
		total++;
		if (json)
			json_array_append_new(ops, op_json(&op));
		if (!json && nfirst < FERRY_ARRAY_SIZE(first))
			first[nfirst++] = op;
		else
			op_release(&op);
	}
	if (json) {
		char h[CRYPTO_SHA256_HEX], *text;
		json_t *by = json_object();
		int t;

		for (t = OP_NONE + 1; t < OP__COUNT; t++)
			if (counts[t] > 0)
				json_object_set_new(by, op_type_name(t),
				    json_integer((json_int_t)counts[t]));
		hex(b->hash, h);
		json_object_set_new(root, "file", jesc(path));
		json_object_set_new(root, "hash", json_string(h));
		json_object_set_new(root, "signer", json_string(b->sig.fpr));
		json_object_set_new(root, "signed_at",
		    json_integer(b->sig.signed_at));
		json_object_set_new(root, "encrypted",
		    json_boolean(b->sig.encrypted));
		json_object_set_new(root, "sent_by_this_site",
		    json_boolean(sent));
		json_object_set_new(root, "manifest", manifest_json(b));
		json_object_set_new(root, "op_types", by);
		json_object_set_new(root, "operations", ops);
		ops = NULL;
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", text);
		free(text);
	} else {
		print_text(b, path, counts, first, nfirst, total);
	}
	rc = 0;
out:
	for (i = 0; i < nfirst; i++)
		op_release(&first[i]);
	json_decref(ops);
	json_decref(root);
	bundle_free(b);
	crypto_free(c);
	config_free(cfg);
	buf_release(&keydata);
	free(home);
	free(work);
	return rc;
}
