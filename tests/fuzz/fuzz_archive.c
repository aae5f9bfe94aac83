/*
 * fuzz_archive.c: the archive walk, fed what gpg would hand over after a
 * good signature, with no expectations and nothing extracted.
 *
 * Mutating a zstd frame mostly breaks it, so the first byte picks the
 * mode: even, the rest is walked as is (zstd frames, the real input);
 * odd, the rest is taken as a tar and compressed here first, so the
 * mutations reach the tar headers, the manifest and the members.
 */
#include "ferry/common.h"
#include "ferry/bundle.h"
#include "../../src/bundle_int.h"
#include "fuzz_common.h"

#include <archive.h>
#include <archive_entry.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* zstd-compress in (one raw stream) into a new buffer. */
static uint8_t *
compress(const uint8_t *in, size_t len, size_t *outlen)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t cap = len + len / 8 + 4096, used = 0;
	uint8_t *out = xmalloc(cap);

	archive_write_add_filter_zstd(a);
	archive_write_set_format_raw(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, out, cap, &used) != ARCHIVE_OK)
		abort();
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "x");
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, in, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_entry_free(e);
	archive_write_free(a);
	*outlen = used;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct bundle_limits lim;
	struct bundle_manifest m;
	struct ferry_err err = FERRY_ERR_INIT;
	enum bundle_reason why;
	uint8_t *z = NULL;
	size_t zlen;

	if (len < 1)
		return 0;
	fuzz_limits(&lim);
	memset(&m, 0, sizeof(m));
	if (data[0] & 1) {
		z = compress(data + 1, len - 1, &zlen);
		data = z;
		len = zlen;
	} else {
		data++;
		len--;
	}
	if (bundle_walk_mem(data, len, NULL, &lim, &m, &why, &err) == 0)
		bundle_manifest_release(&m);
	else
		assert(err.code != 0 && why != BUNDLE_R_NONE);
	free(z);
	return 0;
}
