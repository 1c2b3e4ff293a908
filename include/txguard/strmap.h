/**
 * strmap.h: a hash map from strings to size_t values (an index into the
 * caller's array, usually), open addressing with linear probing.
 *
 * Keys are copied and owned by the map. Lookups take a length, so a key
 * can be a slice of a longer string. Free with tg_strmap_release().
 */
#ifndef TXGUARD_STRMAP_H
#define TXGUARD_STRMAP_H

#include "txguard/common.h"

struct tg_strmap {
	char **keys; /* NULL: an empty slot */
	size_t *vals;
	size_t cap, nr; /* cap: 0 or a power of two */
};

#define TG_STRMAP_INIT { 0 }

/** The value of key `k` (`len` bytes), or NULL when absent. */
size_t *tg_strmap_find(const struct tg_strmap *m, const char *k, size_t len);

/**
 * The value of key `k`, the key added when absent (then *fresh is set
 * and the value is 0 for the caller to set). The pointer is valid until
 * the next insertion or removal.
 */
size_t *tg_strmap_insert(struct tg_strmap *m, const char *k, size_t len,
			 bool *fresh);

/** Whether key `k` is there; its value in *val. */
bool tg_strmap_get(const struct tg_strmap *m, const char *k, size_t len,
		   size_t *val);

/** Remove key `k`; whether it was there. */
bool tg_strmap_del(struct tg_strmap *m, const char *k, size_t len);

/** Free the keys and tables; the map is empty and reusable. */
void tg_strmap_release(struct tg_strmap *m);

#endif
