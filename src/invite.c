/* invite.c: invitation codes and the hello authenticator (see invite.h). */
#include "ferry/common.h"
#include "ferry/crypto.h"
#include "ferry/hex.h"
#include "ferry/invite.h"

#include <ctype.h>
#include <gcrypt.h>

#define INVITE_BYTES	25
#define INVITE_SYMBOLS	40

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * Parse the first n bytes of a hex fingerprint (40 or 64 hex digits, v4
 * or v5); false if fpr is not one.
 */
static bool
fpr_prefix(const char *fpr, uint8_t *out, size_t n)
{
	uint8_t all[32];
	size_t len = strlen(fpr);

	assert(n <= 20);
	if ((len != 40 && len != 64) || !hex_decode(fpr, all, len / 2))
		return false;
	memcpy(out, all, n);
	return true;
}

static void
pack(const struct invite *inv, uint8_t b[INVITE_BYTES])
{
	uint8_t sum[32];

	b[0] = inv->version;
	b[1] = (uint8_t)(inv->conn_id >> 24);
	b[2] = (uint8_t)(inv->conn_id >> 16);
	b[3] = (uint8_t)(inv->conn_id >> 8);
	b[4] = (uint8_t)inv->conn_id;
	memcpy(b + 5, inv->fpr, INVITE_FPR_LEN);
	memcpy(b + 5 + INVITE_FPR_LEN, inv->secret, INVITE_SECRET_LEN);
	crypto_gcrypt_init();
	gcry_md_hash_buffer(GCRY_MD_SHA256, sum, b, INVITE_BYTES - 2);
	b[INVITE_BYTES - 2] = sum[0];
	b[INVITE_BYTES - 1] = sum[1];
}

int
invite_new(const char *fpr_hex, uint32_t conn_id, struct invite *inv,
    struct ferry_err *err)
{
	memset(inv, 0, sizeof(*inv));
	if (!fpr_prefix(fpr_hex, inv->fpr, INVITE_FPR_LEN))
		return ferry_err_set(err, FERRY_ERR, "'%s' is not a key "
		    "fingerprint", fpr_hex);
	crypto_gcrypt_init();
	inv->version = INVITE_VERSION;
	gcry_randomize(inv->secret, sizeof(inv->secret), GCRY_STRONG_RANDOM);
	while (conn_id == 0)
		gcry_randomize(&conn_id, sizeof(conn_id), GCRY_STRONG_RANDOM);
	inv->conn_id = conn_id;
	return 0;
}

void
invite_encode(const struct invite *inv, char out[INVITE_CODE_LEN + 1])
{
	uint8_t b[INVITE_BYTES];
	unsigned acc = 0, bits = 0;
	size_t i, o = 0, sym = 0;

	pack(inv, b);
	for (i = 0; i < INVITE_BYTES; i++) {
		acc = (acc << 8) | b[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			if (sym > 0 && sym % 5 == 0)
				out[o++] = '-';
			out[o++] = alphabet[(acc >> bits) & 31];
			sym++;
		}
	}
	/* 25 bytes are exactly 40 symbols: no bits are left over. */
	assert(bits == 0 && o == INVITE_CODE_LEN);
	out[o] = '\0';
	explicit_bzero(b, sizeof(b));
}

static int
symbol(int c)
{
	const char *p;

	c = toupper(c);
	if (c == 'I' || c == 'L')
		c = '1';
	else if (c == 'O')
		c = '0';
	p = strchr(alphabet, c);
	return c != '\0' && p != NULL ? (int)(p - alphabet) : -1;
}

int
invite_decode(const char *text, struct invite *inv, struct ferry_err *err)
{
	uint8_t b[INVITE_BYTES], sum[32];
	unsigned acc = 0, bits = 0;
	size_t n = 0, o = 0;
	const char *p;
	int v, rc = FERRY_EUSAGE;

	memset(inv, 0, sizeof(*inv));
	for (p = text; *p != '\0'; p++) {
		if (*p == '-' || isspace((unsigned char)*p))
			continue;
		if ((v = symbol((unsigned char)*p)) < 0) {
			if (isprint((unsigned char)*p))
				ferry_err_set(err, rc, "invitation code: '%c' is "
				    "not one of its characters (0-9 and A-Z "
				    "without I, L, O, U); check the code",
				    *p);
			else
				ferry_err_set(err, rc, "invitation code: it "
				    "holds a character that is not a digit or "
				    "letter; check the code");
			goto out;
		}
		if (++n > INVITE_SYMBOLS)
			break;
		acc = (acc << 5) | (unsigned)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			b[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (n != INVITE_SYMBOLS) {
		ferry_err_set(err, rc, "invitation code: it has %s than "
		    "%d characters; it should be 8 groups of 5, e.g. "
		    "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
		    n < INVITE_SYMBOLS ? "fewer" : "more", INVITE_SYMBOLS);
		goto out;
	}
	crypto_gcrypt_init();
	gcry_md_hash_buffer(GCRY_MD_SHA256, sum, b, INVITE_BYTES - 2);
	if (sum[0] != b[INVITE_BYTES - 2] || sum[1] != b[INVITE_BYTES - 1]) {
		ferry_err_set(err, rc, "invitation code: the checksum does not "
		    "match: a character is mistyped; compare it with the code "
		    "'ferry invite' printed");
		goto out;
	}
	if (b[0] != INVITE_VERSION) {
		ferry_err_set(err, FERRY_EVERSION, "invitation code: format "
		    "version %u, but this ferry reads version %u; use the same "
		    "ferry release on both sites to pair", b[0], INVITE_VERSION);
		rc = FERRY_EVERSION;
		goto out;
	}
	inv->version = b[0];
	inv->conn_id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 8 | b[4];
	memcpy(inv->fpr, b + 5, INVITE_FPR_LEN);
	memcpy(inv->secret, b + 5 + INVITE_FPR_LEN, INVITE_SECRET_LEN);
	rc = 0;
out:
	explicit_bzero(b, sizeof(b));
	acc = 0;
	return rc;
}

bool
invite_matches_key(const struct invite *inv, const char *fpr_hex)
{
	uint8_t got[INVITE_FPR_LEN];

	return fpr_prefix(fpr_hex, got, INVITE_FPR_LEN) &&
	    memcmp(got, inv->fpr, INVITE_FPR_LEN) == 0;
}

void
invite_mac(const struct invite *inv, const char *site_name,
    const void *pubkey, size_t pubkey_len, uint8_t mac[INVITE_MAC_LEN])
{
	static const char label[] = "ferry hello v1";
	gcry_mac_hd_t h;
	uint8_t id[4], len[4];
	size_t maclen = INVITE_MAC_LEN;
	uint32_t n = (uint32_t)strlen(site_name);

	crypto_gcrypt_init();
	id[0] = (uint8_t)(inv->conn_id >> 24);
	id[1] = (uint8_t)(inv->conn_id >> 16);
	id[2] = (uint8_t)(inv->conn_id >> 8);
	id[3] = (uint8_t)inv->conn_id;
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, 0, NULL) != 0 ||
	    gcry_mac_setkey(h, inv->secret, INVITE_SECRET_LEN) != 0)
		abort();
	/* Lengths make the concatenation unambiguous. */
	gcry_mac_write(h, label, sizeof(label));
	gcry_mac_write(h, id, sizeof(id));
	gcry_mac_write(h, len, sizeof(len));
	gcry_mac_write(h, site_name, n);
	gcry_mac_write(h, pubkey, pubkey_len);
	if (gcry_mac_read(h, mac, &maclen) != 0 || maclen != INVITE_MAC_LEN)
		abort();
	gcry_mac_close(h);
}

bool
invite_mac_equal(const uint8_t a[INVITE_MAC_LEN],
    const uint8_t b[INVITE_MAC_LEN])
{
	unsigned diff = 0;
	size_t i;

	for (i = 0; i < INVITE_MAC_LEN; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return diff == 0;
}

void
invite_wipe(struct invite *inv)
{
	explicit_bzero(inv, sizeof(*inv));
}
