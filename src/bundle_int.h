/*
 * bundle_int.h: what the bundle files share (bundle.c, bundle_write.c,
 * bundle_read.c) and what the fuzz targets reach past the signature.
 */
#ifndef FERRY_BUNDLE_INT_H
#define FERRY_BUNDLE_INT_H

#include "ferry/bundle.h"

struct archive;
struct buf;

#define BUNDLE_MANIFEST_NAME	"manifest.msgpack"
#define BUNDLE_OPS_NAME		"ops.msgpack"

/* Append the manifest's msgpack encoding to out. */
void bundle_manifest_encode(const struct bundle_manifest *m, struct buf *out);

/*
 * Decode a manifest (one msgpack map, nothing after it) into m, which
 * must be zeroed.  FERRY_EREJECT with *why on anything malformed; an
 * unknown format version is BUNDLE_R_VERSION and says both versions.
 */
int bundle_manifest_decode(const void *data, size_t len,
    const struct bundle_limits *lim, struct bundle_manifest *m,
    enum bundle_reason *why, struct ferry_err *err);

/* Check a member name: "ops.msgpack" or "blobs/<64 hex>[.<n>]". */
bool bundle_member_name_ok(const char *name);

/* Map a msgpack verdict to a reason. */
enum bundle_reason bundle_mp_reason(enum mp_verdict v);

/*
 * Incremental reader of ops.msgpack: feed bytes as they stream, each
 * complete operation is checked and decoded.  With keep false the ops
 * are only validated (the reader's walk); with keep true opstream_next()
 * hands them out.
 */
struct opstream {
	struct buf	*pending;
	uint64_t	 count;
	const struct bundle_limits *lim;
};
void opstream_init(struct opstream *s, const struct bundle_limits *lim);
void opstream_release(struct opstream *s);
/* Validate the operations completed by adding data. */
int opstream_feed(struct opstream *s, const void *data, size_t len,
    enum bundle_reason *why, struct ferry_err *err);
/* At the end of the member: nothing half read, count as expected. */
int opstream_end(struct opstream *s, uint64_t expect,
    enum bundle_reason *why, struct ferry_err *err);

/*
 * Walk a decrypted, verified archive through the read callbacks already
 * set on a (archive_read_open*), checking it against ex (NULL: no
 * expectations) and lim, filling m.  dir NULL: extract nothing (fuzz);
 * else ops.msgpack, and the blobs when keep_blobs, are written there.
 * *compressed must count the bytes the callbacks delivered (ratio).
 */
int bundle_walk(struct archive *a, const uint64_t *compressed,
    const struct bundle_expect *ex, const struct bundle_limits *lim,
    const char *dir, bool keep_blobs, struct bundle_manifest *m,
    enum bundle_reason *why, struct ferry_err *err);

/* Walk a plaintext held in memory (fuzz targets, unit tests). */
int bundle_walk_mem(const void *data, size_t len,
    const struct bundle_expect *ex, const struct bundle_limits *lim,
    struct bundle_manifest *m, enum bundle_reason *why,
    struct ferry_err *err);

/*
 * Seal an arbitrary plaintext file as a bundle would be (tests build
 * hostile archives with it): in_path is read, out_path written.
 */
int bundle_seal_file(const struct bundle_seal *s, const char *in_path,
    const char *out_path, struct ferry_err *err);

#endif
