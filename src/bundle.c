/*
 * bundle.c: names, reasons, limits and the manifest's wire form (see
 * bundle.h and docs/bundle-format.md).
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "bundle_int.h"

#include <ctype.h>
#include <msgpack.h>
#include <time.h>

static const char *const kind_names[BUNDLE_KIND__COUNT] = {
	[BUNDLE_DATA] = "data",
	[BUNDLE_ACK] = "ack",
	[BUNDLE_HELLO] = "hello",
	[BUNDLE_KEY_UPDATE] = "key-update",
	[BUNDLE_RESYNC] = "resync",
};

const char *
bundle_kind_name(enum bundle_kind k)
{
	return (unsigned)k < BUNDLE_KIND__COUNT ? kind_names[k] : "unknown";
}

static int
kind_parse(const char *s, size_t n)
{
	int k;

	for (k = 0; k < BUNDLE_KIND__COUNT; k++)
		if (strlen(kind_names[k]) == n && memcmp(kind_names[k], s,
		    n) == 0)
			return k;
	return -1;
}

static const char *const reason_names[BUNDLE_R__COUNT] = {
	[BUNDLE_R_NONE] = "none",
	[BUNDLE_R_EMPTY] = "empty",
	[BUNDLE_R_NOT_OPENPGP] = "not-openpgp",
	[BUNDLE_R_CORRUPT] = "corrupt",
	[BUNDLE_R_NOT_FOR_US] = "not-for-us",
	[BUNDLE_R_UNSIGNED] = "unsigned",
	[BUNDLE_R_BAD_SIGNATURE] = "bad-signature",
	[BUNDLE_R_UNKNOWN_SIGNER] = "unknown-signer",
	[BUNDLE_R_WRONG_SIGNER] = "wrong-signer",
	[BUNDLE_R_KEY_EXPIRED] = "key-expired",
	[BUNDLE_R_KEY_REVOKED] = "key-revoked",
	[BUNDLE_R_NOT_ARCHIVE] = "not-archive",
	[BUNDLE_R_BAD_NAME] = "bad-member-name",
	[BUNDLE_R_BAD_TYPE] = "bad-member-type",
	[BUNDLE_R_DUPLICATE] = "duplicate-member",
	[BUNDLE_R_MISSING] = "missing-member",
	[BUNDLE_R_EXTRA] = "extra-member",
	[BUNDLE_R_ORDER] = "member-order",
	[BUNDLE_R_SIZE] = "size-mismatch",
	[BUNDLE_R_HASH] = "hash-mismatch",
	[BUNDLE_R_CHUNK] = "bad-chunk",
	[BUNDLE_R_TOO_MANY] = "too-many-members",
	[BUNDLE_R_TOO_LARGE] = "too-large",
	[BUNDLE_R_RATIO] = "compression-ratio",
	[BUNDLE_R_MP_DEPTH] = "msgpack-depth",
	[BUNDLE_R_MP_LENGTH] = "msgpack-length",
	[BUNDLE_R_MP_MALFORMED] = "msgpack-malformed",
	[BUNDLE_R_MP_TYPE] = "msgpack-type",
	[BUNDLE_R_MANIFEST] = "bad-manifest",
	[BUNDLE_R_VERSION] = "unknown-version",
	[BUNDLE_R_CONNECTION] = "wrong-connection",
	[BUNDLE_R_ADDRESSEE] = "wrong-addressee",
	[BUNDLE_R_SENDER] = "wrong-sender",
	[BUNDLE_R_SEQ] = "wrong-seq",
	[BUNDLE_R_CHAIN] = "chain-mismatch",
	[BUNDLE_R_OPS] = "bad-ops",
};

const char *
bundle_reason_name(enum bundle_reason r)
{
	return (unsigned)r < BUNDLE_R__COUNT ? reason_names[r] : "unknown";
}

void
bundle_limits_default(struct bundle_limits *lim)
{
	const struct mp_limits mp = MP_LIMITS_DEFAULT;

	lim->max_members = BUNDLE_MAX_MEMBERS;
	lim->max_member_size = BUNDLE_MAX_MEMBER_SIZE;
	lim->max_total_size = BUNDLE_MAX_TOTAL_SIZE;
	lim->max_manifest_size = BUNDLE_MAX_MANIFEST;
	lim->max_op_size = BUNDLE_MAX_OP_SIZE;
	lim->max_ops = BUNDLE_MAX_OPS;
	lim->max_ratio = BUNDLE_MAX_RATIO;
	lim->ratio_after = BUNDLE_RATIO_AFTER;
	lim->mp = mp;
}

enum bundle_reason
bundle_mp_reason(enum mp_verdict v)
{
	switch (v) {
	case MP_TOO_DEEP:
		return BUNDLE_R_MP_DEPTH;
	case MP_TOO_LONG:
		return BUNDLE_R_MP_LENGTH;
	case MP_MALFORMED:
		return BUNDLE_R_MP_MALFORMED;
	case MP_WRONG_TYPE:
		return BUNDLE_R_MP_TYPE;
	case MP_UNSUPPORTED:
		return BUNDLE_R_OPS;
	default:
		return BUNDLE_R_MANIFEST;
	}
}

void
bundle_manifest_release(struct bundle_manifest *m)
{
	size_t i;

	for (i = 0; i < m->nmembers; i++)
		free(m->members[i].name);
	free(m->members);
	free(m->ctl.key);
	free(m->ctl.auth);
	free(m->ctl.fpr);
	memset(m, 0, sizeof(*m));
}

bool
bundle_id_valid(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > BUNDLE_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

int
bundle_name(const struct bundle_manifest *m, char *out, size_t outlen,
    struct ferry_err *err)
{
	struct tm tm;
	time_t t;
	int n;

	if (!bundle_id_valid(m->conn) || !bundle_id_valid(m->from) ||
	    !bundle_id_valid(m->to))
		return ferry_err_set(err, FERRY_ERR,
		    "connection and site ids must be 1 to %d of "
		    "[A-Za-z0-9-]: '%s', '%s', '%s'", BUNDLE_ID_MAX, m->conn,
		    m->from, m->to);
	if (m->kind == BUNDLE_DATA) {
		n = snprintf(out, outlen, "ferry_%s_%s_%s_%012" PRIu64 ".fbz",
		    m->conn, m->from, m->to, m->seq);
	} else {
		t = (time_t)(m->created_ms / 1000);
		gmtime_r(&t, &tm);
		/* Random bits keep two control messages of a second apart. */
		n = snprintf(out, outlen,
		    "ferry_%s_%s_%s_c%04d%02d%02dT%02d%02d%02d%04x_%s.fbz",
		    m->conn, m->from, m->to, tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (unsigned)arc4random_uniform(0x10000),
		    bundle_kind_name(m->kind));
	}
	if (n < 0 || (size_t)n >= outlen)
		return ferry_err_set(err, FERRY_ERR, "bundle name too long");
	return 0;
}

/* Copy the next '_'-separated field of *p into out (an id). */
static bool
name_field(const char **p, char *out, size_t outlen)
{
	const char *e = strchr(*p, '_');
	size_t n;

	if (e == NULL)
		return false;
	n = (size_t)(e - *p);
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = e + 1;
	return bundle_id_valid(out);
}

bool
bundle_name_parse(const char *name, struct bundle_name_info *info)
{
	const char *p = name, *dot;
	char kind[32];
	size_t n, i;
	int k;

	memset(info, 0, sizeof(*info));
	if (strncmp(p, "ferry_", 6) != 0)
		return false;
	p += 6;
	if (!name_field(&p, info->conn, sizeof(info->conn)) ||
	    !name_field(&p, info->from, sizeof(info->from)) ||
	    !name_field(&p, info->to, sizeof(info->to)))
		return false;
	if ((dot = strchr(p, '.')) == NULL || strcmp(dot, ".fbz") != 0)
		return false;
	n = (size_t)(dot - p);
	if (n == 12) {
		for (i = 0; i < 12; i++) {
			if (!isdigit((unsigned char)p[i]))
				return false;
			info->seq = info->seq * 10 + (uint64_t)(p[i] - '0');
		}
		info->kind = BUNDLE_DATA;
		return info->seq > 0;
	}
	/* c<15 time><4 hex>_<kind> */
	if (n < 22 || p[0] != 'c' || p[20] != '_' || n - 21 >= sizeof(kind))
		return false;
	memcpy(kind, p + 21, n - 21);
	kind[n - 21] = '\0';
	if ((k = kind_parse(kind, strlen(kind))) <= 0)
		return false;
	info->kind = (enum bundle_kind)k;
	return true;
}

bool
bundle_member_name_ok(const char *name)
{
	const char *p;
	int i;

	if (strcmp(name, BUNDLE_OPS_NAME) == 0)
		return true;
	if (strncmp(name, "blobs/", 6) != 0)
		return false;
	p = name + 6;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)
		    p[i]))
			return false;
	p += 64;
	if (*p == '\0')
		return true;
	if (*p++ != '.' || *p == '\0' || (*p == '0' && p[1] != '\0'))
		return false;
	for (i = 0; p[i] != '\0'; i++)
		if (!isdigit((unsigned char)p[i]) || i >= 9)
			return false;
	return true;
}

/* msgpack-c helpers for the manifest. */
static void
pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void
pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

void
bundle_manifest_encode(const struct bundle_manifest *m, struct buf *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const struct bundle_member *mb;
	size_t i, n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 14 + (m->kind != BUNDLE_DATA));
	pk_str(&pk, "format");
	msgpack_pack_uint32(&pk, m->format);
	pk_str(&pk, "reads");
	msgpack_pack_array(&pk, m->nreads);
	for (i = 0; i < m->nreads; i++)
		msgpack_pack_uint32(&pk, m->reads[i]);
	pk_str(&pk, "kind");
	pk_str(&pk, bundle_kind_name(m->kind));
	pk_str(&pk, "conn");
	pk_str(&pk, m->conn);
	pk_str(&pk, "from");
	pk_str(&pk, m->from);
	pk_str(&pk, "to");
	pk_str(&pk, m->to);
	pk_str(&pk, "seq");
	msgpack_pack_uint64(&pk, m->seq);
	pk_str(&pk, "prev");
	if (m->has_prev)
		pk_bin(&pk, m->prev, 32);
	else
		msgpack_pack_nil(&pk);
	pk_str(&pk, "peer_last");
	if (m->has_peer_last)
		pk_bin(&pk, m->peer_last, 32);
	else
		msgpack_pack_nil(&pk);
	pk_str(&pk, "ack");
	msgpack_pack_uint64(&pk, m->ack);
	pk_str(&pk, "jira_time");
	msgpack_pack_int64(&pk, m->jira_time_ms);
	pk_str(&pk, "created");
	msgpack_pack_int64(&pk, m->created_ms);
	pk_str(&pk, "ops");
	msgpack_pack_uint64(&pk, m->op_count);
	pk_str(&pk, "members");
	msgpack_pack_array(&pk, m->nmembers);
	for (i = 0; i < m->nmembers; i++) {
		mb = &m->members[i];
		msgpack_pack_map(&pk, mb->chunk ? 8 : 3);
		pk_str(&pk, "name");
		pk_str(&pk, mb->name);
		pk_str(&pk, "size");
		msgpack_pack_uint64(&pk, mb->size);
		pk_str(&pk, "sha256");
		pk_bin(&pk, mb->sha256, 32);
		if (mb->chunk) {
			pk_str(&pk, "blob");
			pk_bin(&pk, mb->blob, 32);
			pk_str(&pk, "blob_size");
			msgpack_pack_uint64(&pk, mb->blob_size);
			pk_str(&pk, "offset");
			msgpack_pack_uint64(&pk, mb->offset);
			pk_str(&pk, "index");
			msgpack_pack_uint32(&pk, mb->index);
			pk_str(&pk, "chunks");
			msgpack_pack_uint32(&pk, mb->nchunks);
		}
	}
	if (m->kind != BUNDLE_DATA) {
		n = (m->ctl.key != NULL) + (m->ctl.auth != NULL) +
		    (m->ctl.fpr != NULL) + (m->kind == BUNDLE_RESYNC) +
		    (m->kind == BUNDLE_ACK && m->ctl.has_top);
		pk_str(&pk, "control");
		msgpack_pack_map(&pk, n);
		if (m->ctl.key != NULL) {
			pk_str(&pk, "key");
			pk_bin(&pk, m->ctl.key, m->ctl.keylen);
		}
		if (m->ctl.auth != NULL) {
			pk_str(&pk, "auth");
			pk_bin(&pk, m->ctl.auth, m->ctl.authlen);
		}
		if (m->ctl.fpr != NULL) {
			pk_str(&pk, "fpr");
			pk_str(&pk, m->ctl.fpr);
		}
		if (m->kind == BUNDLE_RESYNC) {
			pk_str(&pk, "from_seq");
			msgpack_pack_uint64(&pk, m->ctl.from_seq);
		}
		if (m->kind == BUNDLE_ACK && m->ctl.has_top) {
			pk_str(&pk, "top");
			msgpack_pack_uint64(&pk, m->ctl.top);
		}
	}
	buf_add(out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* Decoding: every access names the key that was wrong. */
struct mdec {
	enum bundle_reason	*why;
	struct ferry_err	*err;
	int			 rc;
};

static void
mbad(struct mdec *d, enum bundle_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
mbad(struct mdec *d, enum bundle_reason r, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	if (d->rc != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*d->why = r;
	d->rc = ferry_err_set(d->err, FERRY_EREJECT, "%s", msg);
}

static const msgpack_object *
mget(struct mdec *d, const msgpack_object *map, const char *key,
    bool required)
{
	size_t klen = strlen(key);
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map->via.map.ptr[i].val;
	}
	if (required)
		mbad(d, BUNDLE_R_MANIFEST, "manifest lacks '%s'", key);
	return NULL;
}

static bool
mkeys_ok(struct mdec *d, const msgpack_object *map)
{
	uint32_t i, j;

	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object *a = &map->via.map.ptr[i].key;

		if (a->type != MSGPACK_OBJECT_STR) {
			mbad(d, BUNDLE_R_MP_TYPE,
			    "manifest map key is not a string");
			return false;
		}
		for (j = 0; j < i; j++) {
			const msgpack_object *b = &map->via.map.ptr[j].key;

			/* msgpack-c gives an empty string a NULL pointer. */
			if (a->via.str.size == b->via.str.size &&
			    (a->via.str.size == 0 || memcmp(a->via.str.ptr,
			    b->via.str.ptr, a->via.str.size) == 0)) {
				mbad(d, BUNDLE_R_MP_TYPE,
				    "manifest repeats key '%.*s'",
				    (int)a->via.str.size, a->via.str.ptr);
				return false;
			}
		}
	}
	return true;
}

static uint64_t
mget_uint(struct mdec *d, const msgpack_object *map, const char *key,
    bool required)
{
	const msgpack_object *o = mget(d, map, key, required);

	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest '%s' is not an unsigned "
		    "integer", key);
		return 0;
	}
	return o->via.u64;
}

static int64_t
mget_int(struct mdec *d, const msgpack_object *map, const char *key)
{
	const msgpack_object *o = mget(d, map, key, true);

	if (o == NULL)
		return 0;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT64_MAX)
		return (int64_t)o->via.u64;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return o->via.i64;
	mbad(d, BUNDLE_R_MP_TYPE, "manifest '%s' is not an integer", key);
	return 0;
}

static void
mget_id(struct mdec *d, const msgpack_object *map, const char *key,
    char out[BUNDLE_ID_MAX + 1])
{
	const msgpack_object *o = mget(d, map, key, true);

	if (o == NULL)
		return;
	if (o->type != MSGPACK_OBJECT_STR) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest '%s' is not a string", key);
		return;
	}
	if (o->via.str.size == 0 || o->via.str.size > BUNDLE_ID_MAX) {
		mbad(d, BUNDLE_R_MANIFEST, "manifest '%s' is not an id", key);
		return;
	}
	memcpy(out, o->via.str.ptr, o->via.str.size);
	out[o->via.str.size] = '\0';
	if (!bundle_id_valid(out))
		mbad(d, BUNDLE_R_MANIFEST, "manifest '%s' is not an id", key);
}

/* A 32-byte hash or nil; *has says which. */
static void
mget_hash(struct mdec *d, const msgpack_object *map, const char *key,
    bool nil_ok, bool *has, uint8_t out[32])
{
	const msgpack_object *o = mget(d, map, key, true);

	if (has != NULL)
		*has = false;
	if (o == NULL)
		return;
	if (o->type == MSGPACK_OBJECT_NIL && nil_ok)
		return;
	if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest '%s' is not a 32-byte "
		    "hash", key);
		return;
	}
	memcpy(out, o->via.bin.ptr, 32);
	if (has != NULL)
		*has = true;
}

static void
mget_bin(struct mdec *d, const msgpack_object *map, const char *key,
    uint8_t **out, size_t *len)
{
	const msgpack_object *o = mget(d, map, key, false);

	if (o == NULL)
		return;
	if (o->type != MSGPACK_OBJECT_BIN) {
		mbad(d, BUNDLE_R_MP_TYPE, "control '%s' is not bytes", key);
		return;
	}
	*out = xmalloc(o->via.bin.size ? o->via.bin.size : 1);
	if (o->via.bin.size > 0)
		memcpy(*out, o->via.bin.ptr, o->via.bin.size);
	*len = o->via.bin.size;
}

static void
decode_member(struct mdec *d, const msgpack_object *o,
    struct bundle_member *mb)
{
	const msgpack_object *name;
	char hex[CRYPTO_SHA256_HEX];
	const char *dot;

	if (o->type != MSGPACK_OBJECT_MAP) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest member is not a map");
		return;
	}
	if (!mkeys_ok(d, o) || (name = mget(d, o, "name", true)) == NULL)
		return;
	if (name->type != MSGPACK_OBJECT_STR || name->via.str.size > 100) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest member name is not a "
		    "short string");
		return;
	}
	mb->name = name->via.str.size > 0 ? xstrndup(name->via.str.ptr,
	    name->via.str.size) : xstrdup("");
	if (strlen(mb->name) != name->via.str.size ||
	    !bundle_member_name_ok(mb->name)) {
		mbad(d, BUNDLE_R_BAD_NAME, "manifest lists a member named "
		    "'%.100s', which no bundle may hold", mb->name);
		return;
	}
	mb->size = mget_uint(d, o, "size", true);
	mget_hash(d, o, "sha256", false, NULL, mb->sha256);
	if (mget(d, o, "blob", false) == NULL) {
		if (d->rc == 0 && strchr(mb->name, '.') != NULL &&
		    strncmp(mb->name, "blobs/", 6) == 0)
			mbad(d, BUNDLE_R_CHUNK, "manifest lists chunk '%s' "
			    "without its blob", mb->name);
		/* A whole blob is named by its content. */
		if (d->rc == 0 && strncmp(mb->name, "blobs/", 6) == 0) {
			crypto_sha256_hex(mb->sha256, hex);
			if (strcmp(mb->name + 6, hex) != 0)
				mbad(d, BUNDLE_R_MANIFEST, "manifest names "
				    "blob '%s' but gives hash %s", mb->name,
				    hex);
		}
		return;
	}
	mb->chunk = true;
	mget_hash(d, o, "blob", false, NULL, mb->blob);
	mb->blob_size = mget_uint(d, o, "blob_size", true);
	mb->offset = mget_uint(d, o, "offset", true);
	mb->index = (uint32_t)mget_uint(d, o, "index", true);
	mb->nchunks = (uint32_t)mget_uint(d, o, "chunks", true);
	if (d->rc != 0)
		return;
	crypto_sha256_hex(mb->blob, hex);
	dot = strchr(mb->name, '.');
	if (strncmp(mb->name, "blobs/", 6) != 0 || dot == NULL ||
	    strncmp(mb->name + 6, hex, 64) != 0 ||
	    strtoul(dot + 1, NULL, 10) != mb->index ||
	    mb->nchunks < 2 || mb->index >= mb->nchunks ||
	    mb->offset > mb->blob_size || mb->size > mb->blob_size -
	    mb->offset || mb->size == 0)
		mbad(d, BUNDLE_R_CHUNK, "chunk '%s' (%" PRIu32 " of %" PRIu32
		    ", %" PRIu64 " bytes at %" PRIu64 ") does not fit its "
		    "blob of %" PRIu64 " bytes", mb->name, mb->index,
		    mb->nchunks, mb->size, mb->offset, mb->blob_size);
}

static void
decode_manifest(struct mdec *d, const msgpack_object *root,
    const struct bundle_limits *lim, struct bundle_manifest *m)
{
	const msgpack_object *o, *ctl;
	uint64_t total = 0, v;
	uint32_t i, j;
	int k;

	if (root->type != MSGPACK_OBJECT_MAP) {
		mbad(d, BUNDLE_R_MP_TYPE, "the manifest is not a map");
		return;
	}
	if (!mkeys_ok(d, root))
		return;
	/* The version first: a newer format may change everything else. */
	v = mget_uint(d, root, "format", true);
	if (d->rc != 0)
		return;
	if (v < BUNDLE_FORMAT_MIN || v > BUNDLE_FORMAT_MAX) {
		mbad(d, BUNDLE_R_VERSION, "this ferry reads bundle formats %d "
		    "to %d, the bundle is format %" PRIu64 "; %s",
		    BUNDLE_FORMAT_MIN, BUNDLE_FORMAT_MAX, v,
		    v > BUNDLE_FORMAT_MAX ? "upgrade ferry on this site" :
		    "the sender writes a format no ferry reads");
		return;
	}
	m->format = (uint32_t)v;
	if ((o = mget(d, root, "reads", true)) == NULL)
		return;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
	    o->via.array.size > BUNDLE_READS_MAX) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest 'reads' is not a list of "
		    "1 to %d versions", BUNDLE_READS_MAX);
		return;
	}
	for (i = 0; i < o->via.array.size; i++) {
		const msgpack_object *r = &o->via.array.ptr[i];

		if (r->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    r->via.u64 > UINT32_MAX) {
			mbad(d, BUNDLE_R_MP_TYPE, "manifest 'reads' holds a "
			    "non-version");
			return;
		}
		m->reads[m->nreads++] = (uint32_t)o->via.array.ptr[i].via.u64;
	}
	if ((o = mget(d, root, "kind", true)) == NULL)
		return;
	if (o->type != MSGPACK_OBJECT_STR ||
	    (k = kind_parse(o->via.str.ptr, o->via.str.size)) < 0) {
		mbad(d, BUNDLE_R_MANIFEST, "manifest 'kind' is not one of "
		    "data, ack, hello, key-update, resync");
		return;
	}
	m->kind = (enum bundle_kind)k;
	mget_id(d, root, "conn", m->conn);
	mget_id(d, root, "from", m->from);
	mget_id(d, root, "to", m->to);
	m->seq = mget_uint(d, root, "seq", true);
	mget_hash(d, root, "prev", true, &m->has_prev, m->prev);
	mget_hash(d, root, "peer_last", true, &m->has_peer_last, m->peer_last);
	m->ack = mget_uint(d, root, "ack", true);
	m->jira_time_ms = mget_int(d, root, "jira_time");
	m->created_ms = mget_int(d, root, "created");
	m->op_count = mget_uint(d, root, "ops", true);
	if (d->rc != 0)
		return;
	if ((m->kind == BUNDLE_DATA) != (m->seq > 0)) {
		mbad(d, BUNDLE_R_MANIFEST, "a %s bundle with seq %" PRIu64,
		    bundle_kind_name(m->kind), m->seq);
		return;
	}
	if (m->op_count > lim->max_ops) {
		mbad(d, BUNDLE_R_TOO_LARGE, "the bundle declares %" PRIu64
		    " operations, over the limit of %" PRIu64, m->op_count,
		    lim->max_ops);
		return;
	}
	if ((o = mget(d, root, "members", true)) == NULL)
		return;
	if (o->type != MSGPACK_OBJECT_ARRAY) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest 'members' is not a list");
		return;
	}
	if (o->via.array.size >= lim->max_members) {
		mbad(d, BUNDLE_R_TOO_MANY, "the bundle lists %" PRIu32
		    " members, over the limit of %" PRIu32,
		    o->via.array.size + 1, lim->max_members);
		return;
	}
	m->members = xcalloc(o->via.array.size + 1, sizeof(*m->members));
	for (i = 0; i < o->via.array.size && d->rc == 0; i++) {
		decode_member(d, &o->via.array.ptr[i], &m->members[i]);
		m->nmembers++;
		if (d->rc != 0)
			return;
		if (m->members[i].size > lim->max_member_size) {
			mbad(d, BUNDLE_R_TOO_LARGE, "member '%s' of %" PRIu64
			    " bytes is over the limit of %" PRIu64,
			    m->members[i].name, m->members[i].size,
			    lim->max_member_size);
			return;
		}
		total += m->members[i].size;
		if (total > lim->max_total_size) {
			mbad(d, BUNDLE_R_TOO_LARGE, "the members add up to "
			    "more than the limit of %" PRIu64 " bytes",
			    lim->max_total_size);
			return;
		}
		for (j = 0; j < i; j++)
			if (strcmp(m->members[j].name, m->members[i].name) ==
			    0) {
				mbad(d, BUNDLE_R_DUPLICATE, "manifest lists "
				    "member '%s' twice", m->members[i].name);
				return;
			}
	}
	if (m->kind == BUNDLE_DATA && (m->nmembers == 0 ||
	    strcmp(m->members[0].name, BUNDLE_OPS_NAME) != 0)) {
		mbad(d, BUNDLE_R_MANIFEST, "a data bundle must list "
		    "ops.msgpack first");
		return;
	}
	for (i = 1; i < m->nmembers; i++)
		if (strcmp(m->members[i].name, BUNDLE_OPS_NAME) == 0) {
			mbad(d, BUNDLE_R_ORDER, "ops.msgpack must come first");
			return;
		}
	if (m->kind != BUNDLE_DATA && (m->nmembers != 0 || m->op_count != 0)) {
		mbad(d, BUNDLE_R_MANIFEST, "a control message carries no "
		    "members or operations");
		return;
	}
	ctl = mget(d, root, "control", m->kind != BUNDLE_DATA);
	if (ctl == NULL)
		return;
	if (ctl->type != MSGPACK_OBJECT_MAP || !mkeys_ok(d, ctl)) {
		mbad(d, BUNDLE_R_MP_TYPE, "manifest 'control' is not a map");
		return;
	}
	mget_bin(d, ctl, "key", &m->ctl.key, &m->ctl.keylen);
	mget_bin(d, ctl, "auth", &m->ctl.auth, &m->ctl.authlen);
	if ((o = mget(d, ctl, "fpr", false)) != NULL) {
		if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >=
		    CRYPTO_FPR_MAX)
			mbad(d, BUNDLE_R_MP_TYPE, "control 'fpr' is not a "
			    "fingerprint");
		else
			m->ctl.fpr = o->via.str.size > 0 ? xstrndup(
			    o->via.str.ptr, o->via.str.size) : xstrdup("");
	}
	m->ctl.from_seq = mget_uint(d, ctl, "from_seq",
	    m->kind == BUNDLE_RESYNC);
	/* Optional: a sender older than finding F6 does not write it. */
	if (m->kind == BUNDLE_ACK && mget(d, ctl, "top", false) != NULL) {
		m->ctl.top = mget_uint(d, ctl, "top", false);
		m->ctl.has_top = d->rc == 0;
	}
	if (d->rc == 0 && (m->kind == BUNDLE_HELLO ||
	    m->kind == BUNDLE_KEY_UPDATE) && m->ctl.key == NULL)
		mbad(d, BUNDLE_R_MANIFEST, "a %s message without a key",
		    bundle_kind_name(m->kind));
}

int
bundle_manifest_decode(const void *data, size_t len,
    const struct bundle_limits *lim, struct bundle_manifest *m,
    enum bundle_reason *why, struct ferry_err *err)
{
	msgpack_unpacked up;
	enum mp_verdict v;
	struct mdec d = { why, err, 0 };
	size_t used, off = 0;
	int rc;

	if ((rc = ops_mp_check(data, len, len, &lim->mp, &used, &v,
	    err)) < 0) {
		*why = bundle_mp_reason(v);
		return ferry_err_prefix(err, "manifest: ");
	}
	if (used != len) {
		*why = BUNDLE_R_MP_MALFORMED;
		return ferry_err_set(err, FERRY_EREJECT,
		    "manifest: %zu bytes after the manifest", len - used);
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len) {
		*why = BUNDLE_R_MP_MALFORMED;
		rc = ferry_err_set(err, FERRY_EREJECT,
		    "manifest: msgpack-c cannot read it");
	} else {
		decode_manifest(&d, &up.data, lim, m);
		rc = d.rc;
	}
	msgpack_unpacked_destroy(&up);
	if (rc < 0)
		bundle_manifest_release(m);
	return rc;
}

void
opstream_init(struct opstream *s, const struct bundle_limits *lim)
{
	s->pending = xmalloc(sizeof(*s->pending));
	buf_init(s->pending, 0);
	s->count = 0;
	s->lim = lim;
}

void
opstream_release(struct opstream *s)
{
	if (s->pending != NULL)
		buf_release(s->pending);
	FREE_AND_NULL(s->pending);
}

int
opstream_feed(struct opstream *s, const void *data, size_t len,
    enum bundle_reason *why, struct ferry_err *err)
{
	struct buf *p = s->pending;
	enum mp_verdict v;
	size_t used, off = 0, avail;
	int rc;

	buf_add(p, data, len);
	for (;;) {
		avail = p->len - off;
		if (avail == 0)
			break;
		if (avail > s->lim->max_op_size)
			avail = (size_t)s->lim->max_op_size;
		if ((rc = ops_mp_check(p->data + off, avail,
		    (size_t)s->lim->max_op_size, &s->lim->mp, &used, &v,
		    err)) < 0) {
			if (v == MP_MALFORMED && avail ==
			    s->lim->max_op_size) {
				*why = BUNDLE_R_MP_LENGTH;
				return ferry_err_set(err, FERRY_EREJECT,
				    "operation %" PRIu64 " is longer than the "
				    "limit of %" PRIu64 " bytes", s->count + 1,
				    s->lim->max_op_size);
			}
			goto bad;
		}
		if (used == 0)
			break;
		{
			struct op op = OP_INIT;

			rc = ops_decode(p->data + off, used, &s->lim->mp, &op,
			    &v, err);
			op_release(&op);
			if (rc < 0)
				goto bad;
		}
		if (++s->count > s->lim->max_ops) {
			*why = BUNDLE_R_TOO_LARGE;
			return ferry_err_set(err, FERRY_EREJECT,
			    "more than %" PRIu64 " operations",
			    s->lim->max_ops);
		}
		off += used;
	}
	if (off > 0) {
		memmove(p->data, p->data + off, p->len - off);
		buf_setlen(p, p->len - off);
	}
	return 0;
bad:
	*why = bundle_mp_reason(v);
	return ferry_err_prefix(err, "operation %" PRIu64 ": ", s->count + 1);
}

int
opstream_end(struct opstream *s, uint64_t expect, enum bundle_reason *why,
    struct ferry_err *err)
{
	if (s->pending->len > 0) {
		*why = BUNDLE_R_MP_MALFORMED;
		return ferry_err_set(err, FERRY_EREJECT,
		    "ops.msgpack ends inside operation %" PRIu64,
		    s->count + 1);
	}
	if (s->count != expect) {
		*why = BUNDLE_R_OPS;
		return ferry_err_set(err, FERRY_EREJECT,
		    "ops.msgpack holds %" PRIu64 " operations, the manifest "
		    "says %" PRIu64, s->count, expect);
	}
	return 0;
}
