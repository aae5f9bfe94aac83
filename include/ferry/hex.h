/*
 * hex.h: bytes as hexadecimal text and back (hashes, fingerprints).
 *
 * One implementation for every module that prints or parses a digest:
 * the bundle hash, blob names, the chain hashes in the store, key
 * fingerprints in invitations.
 */
#ifndef FERRY_HEX_H
#define FERRY_HEX_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Write the n bytes at data as 2n lower-case hex digits and a NUL into
 * out, which has room for 2n + 1 bytes.
 */
void hex_encode(const void *data, size_t n, char *out);

/*
 * Parse s, which must be exactly 2n hex digits (either case) and then
 * its NUL, into the n bytes at out.  False if s is anything else (too
 * short, too long, a non-digit); out is then left untouched.
 */
bool hex_decode(const char *s, void *out, size_t n);

#endif
