/*
 * bundle.h: writing and reading bundles, the files that cross the gap.
 *
 * A bundle is a binary OpenPGP message (crypto.h: signed by the sending
 * site, encrypted to the peer and to the sender) around a pax tar
 * compressed with zstd, whose members are, in this order:
 *
 *	manifest.msgpack	what the bundle is, and every other member's
 *				size and SHA-256
 *	ops.msgpack		op_count operations (ops.h), back to back
 *	blobs/<sha256>		attachment content, named by its hash
 *	blobs/<sha256>.<n>	chunk n of a blob too large for one bundle
 *
 * Control messages (ack, hello, key update, resync request) use the same
 * envelope with seq 0, a "control" map in the manifest and no other
 * member.  docs/bundle-format.md is the specification.
 *
 * The bundle's hash, which the store records and the chain links, is the
 * SHA-256 of manifest.msgpack as carried.  The manifest lists the SHA-256
 * of every other member, so it commits to the whole content; it is
 * authenticated by the signature, the same for every reader whether the
 * bundle was encrypted or not, and costs no pass over the attachments.
 *
 * Writing streams: ops are spooled to a temporary file, blobs are hashed
 * where they lie, and only then is the manifest (the first member) built;
 * the archive is then produced in a second pass and piped straight into
 * gpg.  Memory stays small whatever the size of the attachments.
 *
 * Reading verifies before it parses: the message is decrypted and its
 * signature checked against the key pinned for the connection into a
 * staging file; only then is the archive walked, each member checked
 * against the manifest (name, type, size, SHA-256) while it streams into
 * a private directory, within struct bundle_limits.  Every refusal is
 * FERRY_EREJECT with an enum bundle_reason and a message naming the
 * bundle, the reason and what to do.
 */
#ifndef FERRY_BUNDLE_H
#define FERRY_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ferry/crypto.h"
#include "ferry/ops.h"

struct ferry_err;

/* Format versions: this ferry writes BUNDLE_FORMAT and reads MIN..MAX. */
#define BUNDLE_FORMAT		1
#define BUNDLE_FORMAT_MIN	1
#define BUNDLE_FORMAT_MAX	1
#define BUNDLE_READS_MAX	8	/* versions listed in a manifest */

#define BUNDLE_ID_MAX		64	/* connection and site ids */
#define BUNDLE_NAME_MAX		192	/* file names */

enum bundle_kind {
	BUNDLE_DATA = 0,	/* "data": a numbered batch of operations */
	BUNDLE_ACK,		/* "ack": the ack field only */
	BUNDLE_HELLO,		/* "hello": key and authenticator */
	BUNDLE_KEY_UPDATE,	/* "key-update": a new key, signed by the old */
	BUNDLE_RESYNC,		/* "resync": ask the peer to resend from seq */
	BUNDLE_KIND__COUNT
};
const char *bundle_kind_name(enum bundle_kind k);

/*
 * Why a bundle was refused.  The names (bundle_reason_name) are stable:
 * the store records them and operators search for them.  Append only.
 */
enum bundle_reason {
	BUNDLE_R_NONE = 0,
	BUNDLE_R_EMPTY,			/* "empty" */
	BUNDLE_R_NOT_OPENPGP,		/* "not-openpgp" */
	BUNDLE_R_CORRUPT,		/* "corrupt" */
	BUNDLE_R_NOT_FOR_US,		/* "not-for-us" */
	BUNDLE_R_UNSIGNED,		/* "unsigned" */
	BUNDLE_R_BAD_SIGNATURE,		/* "bad-signature" */
	BUNDLE_R_UNKNOWN_SIGNER,	/* "unknown-signer" */
	BUNDLE_R_WRONG_SIGNER,		/* "wrong-signer" */
	BUNDLE_R_KEY_EXPIRED,		/* "key-expired" */
	BUNDLE_R_KEY_REVOKED,		/* "key-revoked" */
	BUNDLE_R_NOT_ARCHIVE,		/* "not-archive" */
	BUNDLE_R_BAD_NAME,		/* "bad-member-name" */
	BUNDLE_R_BAD_TYPE,		/* "bad-member-type" */
	BUNDLE_R_DUPLICATE,		/* "duplicate-member" */
	BUNDLE_R_MISSING,		/* "missing-member" */
	BUNDLE_R_EXTRA,			/* "extra-member" */
	BUNDLE_R_ORDER,			/* "member-order" */
	BUNDLE_R_SIZE,			/* "size-mismatch" */
	BUNDLE_R_HASH,			/* "hash-mismatch" */
	BUNDLE_R_CHUNK,			/* "bad-chunk" */
	BUNDLE_R_TOO_MANY,		/* "too-many-members" */
	BUNDLE_R_TOO_LARGE,		/* "too-large" */
	BUNDLE_R_RATIO,			/* "compression-ratio" */
	BUNDLE_R_MP_DEPTH,		/* "msgpack-depth" */
	BUNDLE_R_MP_LENGTH,		/* "msgpack-length" */
	BUNDLE_R_MP_MALFORMED,		/* "msgpack-malformed" */
	BUNDLE_R_MP_TYPE,		/* "msgpack-type" */
	BUNDLE_R_MANIFEST,		/* "bad-manifest" */
	BUNDLE_R_VERSION,		/* "unknown-version" */
	BUNDLE_R_CONNECTION,		/* "wrong-connection" */
	BUNDLE_R_ADDRESSEE,		/* "wrong-addressee" */
	BUNDLE_R_SENDER,		/* "wrong-sender" */
	BUNDLE_R_SEQ,			/* "wrong-seq" */
	BUNDLE_R_CHAIN,			/* "chain-mismatch" */
	BUNDLE_R_OPS,			/* "bad-ops" */
	BUNDLE_R__COUNT
};
const char *bundle_reason_name(enum bundle_reason r);

/* Limits on what a reader accepts; bundle_limits_default() is safe. */
struct bundle_limits {
	uint32_t	 max_members;		/* archive entries */
	uint64_t	 max_member_size;	/* one member, uncompressed */
	uint64_t	 max_total_size;	/* all members, uncompressed */
	uint64_t	 max_manifest_size;	/* manifest.msgpack */
	uint64_t	 max_op_size;		/* one operation */
	uint64_t	 max_ops;		/* operations in a bundle */
	uint32_t	 max_ratio;		/* uncompressed / compressed */
	uint64_t	 ratio_after;	/* checked past this many bytes */
	struct mp_limits mp;			/* msgpack depth and lengths */
};
#define BUNDLE_MAX_MEMBERS	100000
#define BUNDLE_MAX_MEMBER_SIZE	(4ULL << 30)
#define BUNDLE_MAX_TOTAL_SIZE	(16ULL << 30)
#define BUNDLE_MAX_MANIFEST	(16ULL << 20)
#define BUNDLE_MAX_OP_SIZE	(16ULL << 20)
#define BUNDLE_MAX_OPS		1000000
#define BUNDLE_MAX_RATIO	1000
#define BUNDLE_RATIO_AFTER	(64ULL << 20)
void bundle_limits_default(struct bundle_limits *lim);

/* One member as the manifest lists it. */
struct bundle_member {
	char		*name;		/* "ops.msgpack", "blobs/<hex>[.<n>]" */
	uint64_t	 size;
	uint8_t		 sha256[32];
	/* chunks only: which blob, where in it, how many pieces */
	bool		 chunk;
	uint8_t		 blob[32];
	uint64_t	 blob_size;
	uint64_t	 offset;
	uint32_t	 index;		/* 0-based; the name's .<n> */
	uint32_t	 nchunks;
};

/* Kind-specific content of a control message (all optional). */
struct bundle_control {
	uint8_t		*key;		/* hello, key-update: public key */
	size_t		 keylen;
	uint8_t		*auth;		/* hello: authenticator */
	size_t		 authlen;
	char		*fpr;		/* key-update: the new fingerprint */
	uint64_t	 from_seq;	/* resync: resend from this seq */
	bool		 has_top;	/* ack: optional, "top" */
	uint64_t	 top;		/* ack: highest seq the sender holds */
};

struct bundle_manifest {
	uint8_t		 hash[32];		/* SHA-256 of the manifest as
						   carried: the bundle hash */
	uint32_t	 format;		/* this bundle's version */
	uint32_t	 reads[BUNDLE_READS_MAX]; /* versions sender reads */
	size_t		 nreads;
	enum bundle_kind kind;
	char		 conn[BUNDLE_ID_MAX + 1];
	char		 from[BUNDLE_ID_MAX + 1];	/* sending site */
	char		 to[BUNDLE_ID_MAX + 1];		/* receiving site */
	uint64_t	 seq;			/* 0 for control messages */
	bool		 has_prev;
	uint8_t		 prev[32];		/* previous bundle, this way */
	bool		 has_peer_last;
	uint8_t		 peer_last[32];		/* last received from peer */
	uint64_t	 ack;			/* sender's received ack */
	int64_t		 jira_time_ms;		/* sender's Jira clock */
	int64_t		 created_ms;		/* host clock at writing */
	uint64_t	 op_count;
	struct bundle_member *members;		/* ops, blobs; not manifest */
	size_t		 nmembers;
	struct bundle_control ctl;
};

void bundle_manifest_release(struct bundle_manifest *m);

/*
 * The file name of a bundle: FAT- and mail-safe ([A-Za-z0-9._-]), sorting
 * by seq within a connection and direction:
 *
 *	ferry_<conn>_<from>_<to>_<seq, 12 digits>.fbz		data
 *	ferry_<conn>_<from>_<to>_c<yyyymmddThhmmss><4 hex>_<kind>.fbz
 *
 * Ids are [A-Za-z0-9-]{1,64}.  FERRY_ERR if an id is not.  out gets at
 * most BUNDLE_NAME_MAX bytes with the NUL.
 */
int bundle_name(const struct bundle_manifest *m, char *out, size_t outlen,
    struct ferry_err *err);
/* What a name says; false if it is not a bundle name. */
struct bundle_name_info {
	char		 conn[BUNDLE_ID_MAX + 1];
	char		 from[BUNDLE_ID_MAX + 1];
	char		 to[BUNDLE_ID_MAX + 1];
	uint64_t	 seq;		/* 0: control */
	enum bundle_kind kind;
};
bool bundle_name_parse(const char *name, struct bundle_name_info *info);
/* An id usable in names and manifests. */
bool bundle_id_valid(const char *id);

/* How to seal: the site key, the peer, encryption on or off. */
struct bundle_seal {
	struct crypto	*crypto;
	const char	*signer;	/* site key fingerprint */
	const char	*peer;		/* peer fingerprint; NULL: self only */
	bool		 encrypt;
};

struct bundle_writer;

/*
 * Start a bundle with the header fields of hdr (kind, conn, from, to,
 * seq, prev, peer_last, ack, jira_time_ms, ctl); the writer fills
 * format, reads, created_ms, op_count and members.  Spool files go in
 * workdir (the state directory's tmp; it must exist).  hdr is copied.
 */
int bundle_writer_new(const struct bundle_manifest *hdr, const char *workdir,
    struct bundle_writer **out, struct ferry_err *err);
void bundle_writer_free(struct bundle_writer *w);

/* Append an operation (data bundles only). */
int bundle_writer_add_op(struct bundle_writer *w, const struct op *op,
    struct ferry_err *err);
/*
 * Add the file at path as a blob: it is hashed now and copied into the
 * archive at finish (it must not change in between: finish checks).
 * sha (may be NULL) gets its hash; the same content twice is one member.
 */
int bundle_writer_add_blob(struct bundle_writer *w, const char *path,
    uint8_t sha[32], struct ferry_err *err);
/*
 * Add bytes [offset, offset + len) of the blob at path as chunk index of
 * nchunks; blob_sha and blob_size describe the whole blob (crypto_sha256_
 * file).  The other chunks may travel in other bundles.
 */
int bundle_writer_add_chunk(struct bundle_writer *w, const char *path,
    const uint8_t blob_sha[32], uint64_t blob_size, uint64_t offset,
    uint64_t len, uint32_t index, uint32_t nchunks, struct ferry_err *err);
/* Uncompressed bytes so far (ops + blobs), to keep within a budget. */
uint64_t bundle_writer_size(const struct bundle_writer *w);

/*
 * Write the bundle into outdir atomically (temporary name, fsync,
 * rename) under bundle_name().  name (may be NULL) gets a copy of the
 * file name the caller frees; hash (may be NULL) the bundle hash.  The
 * writer is spent afterwards, success or not: free it.
 */
int bundle_writer_finish(struct bundle_writer *w, const struct bundle_seal *s,
    const char *outdir, char **name, uint8_t hash[32],
    struct ferry_err *err);

/* What a reader expects; NULL/0 fields are not checked. */
struct bundle_expect {
	const char	*pinned;	/* required: the signer's fingerprint */
	const char	*conn;
	const char	*to;		/* this site */
	const char	*from;		/* the peer site */
	uint64_t	 seq;		/* data bundles: this seq exactly */
	const uint8_t	*prev;		/* 32 bytes: chain hash expected */
	time_t		 received_at;	/* inbox time; 0: now (crypto.h) */
	bool		 keep_blobs;	/* false: check blobs, keep none */
};

struct bundle {
	struct bundle_manifest	 m;
	char			*path;		/* the file read */
	uint8_t			 hash[32];	/* bundle hash (manifest) */
	struct crypto_sig	 sig;
	char			*dir;		/* private dir of members */
	/* ops iteration */
	int			 ops_fd;
	struct buf		*ops_buf;
	size_t			 ops_off;
	uint64_t		 ops_read;
	struct bundle_limits	 lim;
};

/*
 * Verify and open the bundle at path.  workdir (must exist, same file
 * system as where blobs will be kept) receives a private directory with
 * the staging plaintext, ops.msgpack and, with keep_blobs, the blobs;
 * bundle_free() removes it.  lim NULL means the defaults.  *out is the
 * bundle; on FERRY_EREJECT *why (may be NULL) says why and nothing of the
 * bundle remains in workdir.
 */
int bundle_open(struct crypto *c, const char *path,
    const struct bundle_expect *ex, const struct bundle_limits *lim,
    const char *workdir, struct bundle **out, enum bundle_reason *why,
    struct ferry_err *err);
void bundle_free(struct bundle *b);

/*
 * The next operation, in order, decoded into op (OP_INIT; the caller
 * releases it).  Returns 1 with an op, 0 at the end, or an error.  All
 * operations were checked by bundle_open(); this cannot fail on content.
 */
int bundle_next_op(struct bundle *b, struct op *op, struct ferry_err *err);
/* Rewind to the first operation. */
void bundle_rewind_ops(struct bundle *b);

/* Path of a member extracted with keep_blobs (a new string), or NULL. */
char *bundle_member_path(struct bundle *b,
    const struct bundle_member *m);

/*
 * Reassemble a chunked blob from its chunk files (paths[i] holds chunk
 * i, as described by m[i]) into dir/name atomically, checking every
 * chunk against its place and the whole against blob_sha.  FERRY_EREJECT
 * (BUNDLE_R_CHUNK or BUNDLE_R_HASH in *why) if they do not make the blob.
 */
int bundle_chunks_join(const char *const *paths,
    const struct bundle_member *const *m, size_t n, const char *dir,
    const char *name, enum bundle_reason *why, struct ferry_err *err);

#endif
