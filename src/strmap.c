#include "txguard/common.h"
#include "txguard/hash.h"
#include "txguard/strmap.h"

static size_t home_of(const struct tg_strmap *m, const char *k, size_t len)
{
	return (size_t)tg_hash(k, len) & (m->cap - 1);
}

static void grow(struct tg_strmap *m)
{
	struct tg_strmap n = TG_STRMAP_INIT;

	n.cap = m->cap ? m->cap * 2 : 64;
	n.keys = tg_xcalloc(n.cap, sizeof(*n.keys));
	n.vals = tg_xcalloc(n.cap, sizeof(*n.vals));
	for (size_t j = 0; j < m->cap; j++) {
		size_t i;

		if (!m->keys[j])
			continue;
		i = home_of(&n, m->keys[j], strlen(m->keys[j]));
		while (n.keys[i])
			i = (i + 1) & (n.cap - 1);
		n.keys[i] = m->keys[j];
		n.vals[i] = m->vals[j];
	}
	n.nr = m->nr;
	free(m->keys);
	free(m->vals);
	*m = n;
}

/* The slot of `k`, or of the empty slot where it would go. */
static size_t slot_of(const struct tg_strmap *m, const char *k, size_t len)
{
	size_t i = home_of(m, k, len);

	while (m->keys[i] &&
	       (strncmp(m->keys[i], k, len) || m->keys[i][len]))
		i = (i + 1) & (m->cap - 1);
	return i;
}

size_t *tg_strmap_find(const struct tg_strmap *m, const char *k, size_t len)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = slot_of(m, k, len);
	return m->keys[i] ? &m->vals[i] : NULL;
}

size_t *tg_strmap_insert(struct tg_strmap *m, const char *k, size_t len,
			 bool *fresh)
{
	size_t i;

	if ((m->nr + 1) * 4 >= m->cap * 3)
		grow(m);
	i = slot_of(m, k, len);
	*fresh = !m->keys[i];
	if (*fresh) {
		m->keys[i] = tg_xstrndup(k, len);
		m->vals[i] = 0;
		m->nr++;
	}
	return &m->vals[i];
}

bool tg_strmap_get(const struct tg_strmap *m, const char *k, size_t len,
		   size_t *val)
{
	size_t *v = tg_strmap_find(m, k, len);

	if (!v)
		return false;
	*val = *v;
	return true;
}

bool tg_strmap_del(struct tg_strmap *m, const char *k, size_t len)
{
	size_t *v = tg_strmap_find(m, k, len), i, j;

	if (!v)
		return false;
	i = (size_t)(v - m->vals);
	free(m->keys[i]);
	m->keys[i] = NULL;
	m->nr--;
	/* linear probing: move back the entries the hole would hide */
	for (j = (i + 1) & (m->cap - 1); m->keys[j];
	     j = (j + 1) & (m->cap - 1)) {
		size_t home = home_of(m, m->keys[j], strlen(m->keys[j]));

		/* stays when its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		m->keys[j] = NULL;
		i = j;
	}
	return true;
}

void tg_strmap_release(struct tg_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
