/*
 * crypto_sha256.c: SHA-256 through libgcrypt (see crypto.h), and the one
 * place libgcrypt is initialised.
 *
 * Bundles hash every member twice (writer and reader); libgcrypt picks
 * the fastest code the CPU allows (SHA extensions, AVX2, SSSE3) and is
 * maintained, audited and already linked for invitations, so ferry keeps
 * no hash of its own.
 */
#include "ferry/common.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "ferry/hex.h"

#include <fcntl.h>
#include <gcrypt.h>
#include <pthread.h>
#include <unistd.h>

#define HASH_BLOCK	(1 << 17)

static pthread_once_t gcrypt_once = PTHREAD_ONCE_INIT;

static void
gcrypt_setup(void)
{
	/*
	 * Another library may have initialised libgcrypt already; then it
	 * is not ours to configure.  No secure memory: ferry keeps no key
	 * material in libgcrypt (the site key lives in gpg-agent).
	 */
	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
		return;
	(void)gcry_check_version(NULL);
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

void
crypto_gcrypt_init(void)
{
	pthread_once(&gcrypt_once, gcrypt_setup);
}

void
crypto_sha256_init(struct crypto_sha256 *s)
{
	gcry_md_hd_t h;

	crypto_gcrypt_init();
	/* Only out of memory makes this fail: abort, as xmalloc does. */
	if (gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0) {
		fprintf(stderr, "ferry: cannot start a SHA-256 hash\n");
		abort();
	}
	s->h = h;
}

void
crypto_sha256_update(struct crypto_sha256 *s, const void *data, size_t len)
{
	assert(s->h != NULL);
	gcry_md_write(s->h, data, len);
}

void
crypto_sha256_final(struct crypto_sha256 *s, uint8_t out[CRYPTO_SHA256_LEN])
{
	assert(s->h != NULL);
	memcpy(out, gcry_md_read(s->h, GCRY_MD_SHA256), CRYPTO_SHA256_LEN);
	crypto_sha256_release(s);
}

void
crypto_sha256_release(struct crypto_sha256 *s)
{
	if (s->h == NULL)
		return;
	gcry_md_close(s->h);
	s->h = NULL;
}

void
crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	crypto_gcrypt_init();
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, data, len);
}

void
crypto_sha256_hex(const uint8_t d[CRYPTO_SHA256_LEN],
    char hex[CRYPTO_SHA256_HEX])
{
	hex_encode(d, CRYPTO_SHA256_LEN, hex);
}

bool
crypto_sha256_unhex(const char *s, uint8_t d[CRYPTO_SHA256_LEN])
{
	return hex_decode(s, d, CRYPTO_SHA256_LEN);
}

int
crypto_sha256_file(const char *path, uint64_t offset, uint64_t len,
    uint8_t out[CRYPTO_SHA256_LEN], uint64_t *size, struct ferry_err *err)
{
	struct crypto_sha256 s = CRYPTO_SHA256_INIT;
	uint64_t done = 0;
	size_t want;
	uint8_t *block;
	ssize_t n;
	int fd, rc = FERRY_EIO;

	block = xmalloc(HASH_BLOCK);
	fd = file_sys_open(path, O_RDONLY, 0);
	if (fd == -1) {
		rc = ferry_err_sys(err, errno == ENOENT ? FERRY_ENOTFOUND :
		    FERRY_EIO, "cannot open '%s'", path);
		goto out;
	}
	if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot seek in '%s'",
		    path);
		goto out;
	}
	crypto_sha256_init(&s);
	for (;;) {
		want = HASH_BLOCK;
		if (len != UINT64_MAX && len - done < want)
			want = (size_t)(len - done);
		if (want == 0)
			break;
		n = file_sys_read(fd, block, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ferry_err_sys(err, FERRY_EIO, "cannot read '%s'",
			    path);
			goto out;
		}
		if (n == 0)
			break;
		crypto_sha256_update(&s, block, (size_t)n);
		done += (uint64_t)n;
	}
	if (len != UINT64_MAX && done != len) {
		rc = ferry_err_set(err, FERRY_ERR,
		    "'%s' ends at %" PRIu64 " bytes, before the %" PRIu64
		    " asked for", path, offset + done, offset + len);
		goto out;
	}
	crypto_sha256_final(&s, out);
	if (size != NULL)
		*size = done;
	rc = 0;
out:
	crypto_sha256_release(&s);
	if (fd != -1)
		close(fd);
	free(block);
	return rc;
}
