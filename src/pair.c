/*
 * pair.c: the pure parts of pairing: ids, OpenPGP key packets, durations
 * and reading a code (see pair.h).  No store, keyring or clock here.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/crypto.h"
#include "ferry/hex.h"
#include "ferry/pair.h"

#include <ctype.h>
#include <gcrypt.h>

void
pair_site_id(const char *fpr_hex, char out[PAIR_SITE_ID_LEN + 1])
{
	size_t i;

	for (i = 0; i < PAIR_SITE_ID_LEN && fpr_hex[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)fpr_hex[i]);
	out[i] = '\0';
}

void
pair_site_id_bytes(const uint8_t fpr[INVITE_FPR_LEN],
    char out[PAIR_SITE_ID_LEN + 1])
{
	hex_encode(fpr, INVITE_FPR_LEN, out);
}

void
pair_conn_id(uint32_t id, char out[PAIR_CONN_ID_LEN + 1])
{
	snprintf(out, PAIR_CONN_ID_LEN + 1, "%08" PRIx32, id);
}

bool
pair_conn_id_parse(const char *s, uint32_t *id)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= PAIR_CONN_ID_LEN || !isxdigit((unsigned char)s[i]))
			return false;
		v = v << 4 | (uint32_t)(isdigit((unsigned char)s[i]) ?
		    s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	if (i == 0 || v == 0)
		return false;
	*id = v;
	return true;
}

uint32_t
pair_keyfile_conn_id(const char *fpr_a, const char *fpr_b)
{
	struct crypto_sha256 h;
	uint8_t d[CRYPTO_SHA256_LEN];
	char a[CRYPTO_FPR_MAX], b[CRYPTO_FPR_MAX];
	const char *lo, *hi;
	uint32_t id;
	size_t i;

	/* Case and order must not matter: both sites compute the same. */
	snprintf(a, sizeof(a), "%s", fpr_a);
	snprintf(b, sizeof(b), "%s", fpr_b);
	for (i = 0; a[i] != '\0'; i++)
		a[i] = (char)toupper((unsigned char)a[i]);
	for (i = 0; b[i] != '\0'; i++)
		b[i] = (char)toupper((unsigned char)b[i]);
	lo = strcmp(a, b) <= 0 ? a : b;
	hi = lo == a ? b : a;
	crypto_sha256_init(&h);
	crypto_sha256_update(&h, "ferry keyfile connection\0", 25);
	crypto_sha256_update(&h, lo, strlen(lo) + 1);
	crypto_sha256_update(&h, hi, strlen(hi) + 1);
	crypto_sha256_final(&h, d);
	id = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
	    (uint32_t)d[2] << 8 | d[3];
	return id != 0 ? id : 1;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * The first bytes of an ASCII-armored block, decoded into out (enough
 * for the first packet): the body starts after the first empty line.
 */
static bool
dearmor(const char *p, size_t len, struct buf *out)
{
	const char *end = p + len, *q;
	unsigned acc = 0;
	int bits = 0, v;

	q = memmem(p, len, "-----BEGIN PGP PUBLIC KEY BLOCK-----", 36);
	if (q == NULL)
		return false;
	/* Headers end at the first empty line. */
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));

		if (nl == NULL)
			return false;
		q = nl + 1;
		if (q < end && (*q == '\n' || (*q == '\r' && q + 1 < end &&
		    q[1] == '\n'))) {
			q += *q == '\r' ? 2 : 1;
			break;
		}
	}
	for (; q < end && *q != '=' && *q != '-' && out->len < 4096; q++) {
		if ((v = b64val((unsigned char)*q)) < 0)
			continue;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addch(out, (int)((acc >> bits) & 0xff));
		}
	}
	return out->len > 0;
}

int
pair_key_packet(const void *key, size_t len, struct pair_keypkt *out,
    struct ferry_err *err)
{
	struct buf raw = BUF_INIT(8192), pre = BUF_INIT(8192);
	const uint8_t *p = key, *body;
	uint8_t d[CRYPTO_SHA256_LEN], d1[20];
	size_t hl, blen, i, n;
	int tag, rc = FERRY_EREJECT;

	memset(out, 0, sizeof(*out));
	if (len > 0 && (p[0] & 0x80) == 0) {
		if (!dearmor(key, len, &raw)) {
			ferry_err_set(err, rc, "not an OpenPGP public key");
			goto out;
		}
		p = (const uint8_t *)raw.data;
		len = raw.len;
	}
	if (len < 2 || (p[0] & 0x80) == 0) {
		ferry_err_set(err, rc, "not an OpenPGP public key");
		goto out;
	}
	if (p[0] & 0x40) {
		tag = p[0] & 0x3f;
		if (p[1] < 192) {
			blen = p[1];
			hl = 2;
		} else if (p[1] < 224 && len >= 3) {
			blen = ((size_t)(p[1] - 192) << 8) + p[2] + 192;
			hl = 3;
		} else if (p[1] == 255 && len >= 6) {
			blen = (size_t)p[2] << 24 | (size_t)p[3] << 16 |
			    (size_t)p[4] << 8 | p[5];
			hl = 6;
		} else {
			ferry_err_set(err, rc, "OpenPGP key packet with a "
			    "length it may not have");
			goto out;
		}
	} else {
		tag = (p[0] >> 2) & 0x0f;
		n = (p[0] & 3) == 0 ? 1 : (p[0] & 3) == 1 ? 2 :
		    (p[0] & 3) == 2 ? 4 : 0;
		if (n == 0 || len < 1 + n) {
			ferry_err_set(err, rc, "OpenPGP key packet with a "
			    "length it may not have");
			goto out;
		}
		for (blen = 0, i = 0; i < n; i++)
			blen = blen << 8 | p[1 + i];
		hl = 1 + n;
	}
	if (tag != 6) {
		ferry_err_set(err, rc, "not an OpenPGP public key (the first "
		    "packet has tag %d)", tag);
		goto out;
	}
	if (blen < 5 || hl + blen > len) {
		ferry_err_set(err, rc, "truncated OpenPGP public key");
		goto out;
	}
	body = p + hl;
	out->version = body[0];
	out->created = (int64_t)((uint32_t)body[1] << 24 |
	    (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4]);
	if (out->version == 4) {
		if (blen > 0xffff) {
			ferry_err_set(err, rc, "OpenPGP key packet too long");
			goto out;
		}
		buf_addch(&pre, 0x99);
		buf_addch(&pre, (int)(blen >> 8));
		buf_addch(&pre, (int)(blen & 0xff));
		buf_add(&pre, body, blen);
		crypto_gcrypt_init();
		gcry_md_hash_buffer(GCRY_MD_SHA1, d1, pre.data, pre.len);
		for (i = 0; i < 20; i++)
			snprintf(out->fpr + 2 * i, 3, "%02X", d1[i]);
	} else if (out->version == 5 || out->version == 6) {
		buf_addch(&pre, out->version == 5 ? 0x9a : 0x9b);
		buf_addch(&pre, (int)((blen >> 24) & 0xff));
		buf_addch(&pre, (int)((blen >> 16) & 0xff));
		buf_addch(&pre, (int)((blen >> 8) & 0xff));
		buf_addch(&pre, (int)(blen & 0xff));
		buf_add(&pre, body, blen);
		crypto_sha256(pre.data, pre.len, d);
		for (i = 0; i < CRYPTO_SHA256_LEN; i++)
			snprintf(out->fpr + 2 * i, 3, "%02X", d[i]);
	} else {
		ferry_err_set(err, rc, "OpenPGP key version %d is not "
		    "supported", out->version);
		goto out;
	}
	if (pre.over) {
		ferry_err_set(err, rc, "OpenPGP key packet too long");
		goto out;
	}
	rc = 0;
out:
	buf_release(&raw);
	buf_release(&pre);
	return rc;
}

void
pair_duration(int64_t secs, char *out, size_t len)
{
	int64_t a = secs < 0 ? -secs : secs;

	/*
	 * "About": the difference is measured against a time taken earlier
	 * (a key made, a hello signed), so seconds and even a minute or two
	 * of it are the run's own delay.  Hours show to 5 minutes, days to
	 * the hour.
	 */
	if (a >= 86400)
		a = (a + 1800) / 3600 * 3600;
	else if (a >= 3600)
		a = (a + 150) / 300 * 300;
	if (a < 60)
		snprintf(out, len, "%" PRId64 " s", a);
	else if (a < 3600)
		snprintf(out, len, "%" PRId64 " min %" PRId64 " s", a / 60,
		    a % 60);
	else if (a < 86400)
		snprintf(out, len, "%" PRId64 " h %" PRId64 " min", a / 3600,
		    a % 3600 / 60);
	else
		snprintf(out, len, "%" PRId64 " day%s %" PRId64 " h",
		    a / 86400, a / 86400 == 1 ? "" : "s", a % 86400 / 3600);
}

int
pair_read_code(FILE *fp, char *out, struct ferry_err *err)
{
	char line[PAIR_CODE_MAX + 2];
	size_t n, s;
	int rc = FERRY_EUSAGE;

	out[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL) {
		n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			ferry_err_set(err, rc, "the invitation code is too "
			    "long (over %d characters on one line)",
			    PAIR_CODE_MAX);
			goto out;
		}
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			line[--n] = '\0';
		for (s = 0; isspace((unsigned char)line[s]); s++)
			;
		if (line[s] == '\0')
			continue;
		memcpy(out, line + s, n - s + 1);
		rc = 0;
		goto out;
	}
	ferry_err_set(err, rc, "no invitation code was given");
out:
	explicit_bzero(line, sizeof(line));
	return rc;
}
