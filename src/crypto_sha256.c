/*
 * crypto_sha256.c: SHA-256 (FIPS 180-4), portable and with the x86 SHA
 * extensions.  Bundles hash every member twice (writer and reader) and
 * the whole file once more; the extensions make that about five times
 * cheaper, which is what keeps ferry ahead of a tar | gpg pipeline.
 * Linking libgcrypt or OpenSSL for one hash would add a dependency to
 * every binary of the project, so the hash lives here.
 */
#include "ferry/common.h"
#include "ferry/crypto.h"
#include "ferry/file.h"

#include <fcntl.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void
blocks_portable(uint32_t h[8], const uint8_t *p, size_t n)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	while (n-- > 0) {
		for (i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 |
			    (uint32_t)p[4 * i + 1] << 16 |
			    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
		for (i = 16; i < 64; i++)
			w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^
			    ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
			    (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
			    (w[i - 2] >> 10));
		a = h[0]; b = h[1]; c = h[2]; d = h[3];
		e = h[4]; f = h[5]; g = h[6]; hh = h[7];
		for (i = 0; i < 64; i++) {
			t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			    ((e & f) ^ (~e & g)) + K[i] + w[i];
			t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			    ((a & b) ^ (a & c) ^ (b & c));
			hh = g; g = f; f = e; e = d + t1;
			d = c; c = b; b = a; a = t1 + t2;
		}
		h[0] += a; h[1] += b; h[2] += c; h[3] += d;
		h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
		p += 64;
	}
}

#ifdef HAVE_SHA_NI
/*
 * Four rounds per step; w[] holds the message schedule four words at a
 * time, rotating through four registers (Intel's published sequence).
 */
__attribute__((target("sha,sse4.1")))
static void
blocks_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
	const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	    0x0405060700010203ULL);
	__m128i s0, s1, tmp, msg, abef, cdgh, w[4];
	int i;

	tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
	s1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xb1);		/* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);		/* EFGH */
	s0 = _mm_alignr_epi8(tmp, s1, 8);		/* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xf0);		/* CDGH */

	while (n-- > 0) {
		abef = s0;
		cdgh = s1;
		for (i = 0; i < 4; i++)
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)(p + 16 * i)), mask);
		for (i = 0; i < 16; i++) {
			msg = _mm_add_epi32(w[i & 3], _mm_loadu_si128(
			    (const __m128i *)(const void *)&K[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
			if (i >= 3 && i <= 14) {
				tmp = _mm_alignr_epi8(w[i & 3],
				    w[(i + 3) & 3], 4);
				w[(i + 1) & 3] = _mm_add_epi32(w[(i + 1) & 3],
				    tmp);
				w[(i + 1) & 3] = _mm_sha256msg2_epu32(
				    w[(i + 1) & 3], w[i & 3]);
			}
			msg = _mm_shuffle_epi32(msg, 0x0e);
			s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
			if (i >= 1 && i <= 12)
				w[(i + 3) & 3] = _mm_sha256msg1_epu32(
				    w[(i + 3) & 3], w[i & 3]);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
		p += 64;
	}
	tmp = _mm_shuffle_epi32(s0, 0x1b);		/* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);		/* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xf0);		/* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);		/* ABEF */
	_mm_storeu_si128((__m128i *)(void *)&h[0], s0);
	_mm_storeu_si128((__m128i *)(void *)&h[4], s1);
}
#endif

typedef void blocks_fn(uint32_t *, const uint8_t *, size_t);
static blocks_fn *blocks;

static void
pick_blocks(void)
{
#ifdef HAVE_SHA_NI
	unsigned int a, b, c, d;
	bool sse41, sha;

	/* cpuid directly: clang's __builtin_cpu_supports lacks "sha". */
	sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1);
	sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
	if (sse41 && sha && getenv("FERRY_SHA256_PORTABLE") == NULL) {
		blocks = blocks_ni;
		return;
	}
#endif
	blocks = blocks_portable;
}

static void
init_with(struct crypto_sha256 *s)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->total = 0;
	s->fill = 0;
}

void
crypto_sha256_init(struct crypto_sha256 *s)
{
	if (blocks == NULL)
		pick_blocks();
	init_with(s);
}

static void
update_with(blocks_fn *fn, struct crypto_sha256 *s, const void *data,
    size_t len)
{
	const uint8_t *p = data;
	size_t n;

	s->total += len;
	if (s->fill > 0) {
		n = 64 - s->fill < len ? 64 - s->fill : len;
		memcpy(s->block + s->fill, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill < 64)
			return;
		fn(s->h, s->block, 1);
		s->fill = 0;
	}
	if (len >= 64) {
		fn(s->h, p, len / 64);
		p += len / 64 * 64;
		len %= 64;
	}
	if (len > 0) {
		memcpy(s->block, p, len);
		s->fill = len;
	}
}

static void
final_with(blocks_fn *fn, struct crypto_sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->total * 8;
	uint8_t pad[72];
	size_t padlen;
	int i;

	padlen = s->fill < 56 ? 56 - s->fill : 120 - s->fill;
	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	update_with(fn, s, pad, padlen + 8);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void
crypto_sha256_update(struct crypto_sha256 *s, const void *data, size_t len)
{
	if (blocks == NULL)
		pick_blocks();
	update_with(blocks, s, data, len);
}

void
crypto_sha256_final(struct crypto_sha256 *s, uint8_t out[CRYPTO_SHA256_LEN])
{
	if (blocks == NULL)
		pick_blocks();
	final_with(blocks, s, out);
}

void
crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	struct crypto_sha256 s;

	crypto_sha256_init(&s);
	crypto_sha256_update(&s, data, len);
	crypto_sha256_final(&s, out);
}

void
crypto_sha256_portable(const void *data, size_t len,
    uint8_t out[CRYPTO_SHA256_LEN])
{
	struct crypto_sha256 s;

	init_with(&s);
	update_with(blocks_portable, &s, data, len);
	final_with(blocks_portable, &s, out);
}

void
crypto_sha256_hex(const uint8_t d[CRYPTO_SHA256_LEN],
    char hex[CRYPTO_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * CRYPTO_SHA256_LEN] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
crypto_sha256_unhex(const char *s, uint8_t d[CRYPTO_SHA256_LEN])
{
	int i, hi, lo;

	for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
		if ((hi = hexval(s[2 * i])) < 0 ||
		    (lo = hexval(s[2 * i + 1])) < 0)
			return false;
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[2 * CRYPTO_SHA256_LEN] == '\0';
}

int
crypto_sha256_file(const char *path, uint64_t offset, uint64_t len,
    uint8_t out[CRYPTO_SHA256_LEN], uint64_t *size, struct ferry_err *err)
{
	struct crypto_sha256 s;
	uint64_t done = 0;
	size_t want;
	uint8_t *block;
	ssize_t n;
	int fd, rc = FERRY_EIO;

	block = xmalloc(1 << 17);
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
		want = 1 << 17;
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
	if (fd != -1)
		close(fd);
	free(block);
	return rc;
}
