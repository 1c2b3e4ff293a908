/**
 * hash.h: the one string hash of txguard, 64-bit FNV-1a.
 *
 * Fingerprints (fingerprint.h) are made of it and stored in baselines, so
 * its values must never change; hash tables (strmap.h) use it too.
 */
#ifndef TXGUARD_HASH_H
#define TXGUARD_HASH_H

#include "txguard/common.h"

#define TG_HASH_FNV_OFFSET 0xcbf29ce484222325ULL

/** 64-bit FNV-1a over `len` bytes, continuing from `h`. */
static inline uint64_t tg_hash_fnv1a(uint64_t h, const void *data,
				     size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/** tg_hash_fnv1a() of `len` bytes from the offset basis. */
static inline uint64_t tg_hash(const void *data, size_t len)
{
	return tg_hash_fnv1a(TG_HASH_FNV_OFFSET, data, len);
}

#endif
