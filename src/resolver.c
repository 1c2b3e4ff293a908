#include "txguard/common.h"
#include "txguard/argsel.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/inferred.h"
#include "txguard/owner_table.h"
#include "txguard/resolver.h"
#include "txguard/strmap.h"

#include <pthread.h>

#define AMBIGUOUS ((size_t)-1)

/* Set, or mark ambiguous when a different value is already there. */
static void map_put(struct tg_strmap *m, const char *k, size_t len,
		     size_t val, bool replace)
{
	bool fresh;
	size_t *v = tg_strmap_insert(m, k, len, &fresh);

	if (fresh || replace || *v == val)
		*v = val;
	else
		*v = AMBIGUOUS;
}

struct rfile {
	char *path;
	char *module;
	/* where the blob was (tg_resolver_add_moved()), or NULL: the
	 * path its relative imports resolve against */
	char *base;
	const unsigned char *data; /* NULL with len: the loader's (key) */
	size_t len;
	const void *key;
	unsigned char head0; /* the record's first byte */
	unsigned char *copy;
	struct tg_inferred *inf;
	bool decoded;
	/* tg_resolver_fill()ed and no resolution target: only queries
	 * from the file itself use it */
	bool own_only;
};

/* Forget a file's decoding; its record stays. */
static void undecode(struct rfile *f)
{
	tg_inferred_free(f->inf);
	f->inf = NULL;
	f->decoded = false;
}

struct defref {
	size_t file, def;
};

/* Indices of slots free for reuse. */
struct slots {
	size_t *v;
	size_t nr, alloc;
};

static void slot_give_back(struct slots *s, size_t idx)
{
	TG_ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	s->v[s->nr++] = idx;
}

/* A free slot, or a new one at the end of an array of *n. */
static size_t slot_take(struct slots *s, size_t *n)
{
	return s->nr ? s->v[--s->nr] : (*n)++;
}

struct tg_resolver {
	pthread_mutex_t mu; /* the engine's scan threads share one */
	tg_resolver_load_fn load; /* of the files added lazily */
	char *load_error; /* the first failed load's message, or NULL */
	struct rfile *files;
	size_t nfiles, alloc_files;
	struct slots free_files; /* of done own-only files */
	struct tg_strmap paths, modules, suffixes, names;
	/* every dotted run of a module's parts short of its last part,
	 * for reaches(): "a", "a.b" and "b" of "a.b.c" */
	struct tg_strmap prefixes;
	bool suffixes_built, names_built, prefixes_built;
	struct defref *refs;
	size_t nrefs, alloc_refs;
	/*
	 * Answers, per querying file: path -> index in memos, whose map
	 * is "k\ncallee" -> index in owners or AMBIGUOUS (none). A file's
	 * memo goes with tg_resolver_done(), so a scan holds those of the
	 * files being analysed. One made before `gen` changed is stale.
	 */
	struct tg_strmap memo_of;
	struct memo *memos;
	size_t nmemos, alloc_memos;
	struct slots free_memos;
	unsigned gen;
	/* "k\nfile\ndef" -> index in owners: one object per definition */
	struct tg_strmap owner_of;
	struct tg_owner **owners;
	size_t nowners, alloc_owners;
};

struct memo {
	struct tg_strmap m;
	unsigned gen;
};

/* Forget every answer (new definitions joined); handed-out ones stay. */
static void forget_answers(struct tg_resolver *r)
{
	r->gen++;
	tg_strmap_release(&r->owner_of);
}

static void release_memos(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nmemos; i++)
		tg_strmap_release(&r->memos[i].m);
	free(r->memos);
	free(r->free_memos.v);
	r->memos = NULL;
	r->nmemos = r->alloc_memos = 0;
	memset(&r->free_memos, 0, sizeof(r->free_memos));
	tg_strmap_release(&r->memo_of);
}

/* The current memo of queries from `path`, made when missing. */
static struct tg_strmap *memo_for(struct tg_resolver *r, const char *path)
{
	size_t idx;
	struct memo *m;

	if (!tg_strmap_get(&r->memo_of, path, strlen(path), &idx)) {
		TG_ALLOC_GROW(r->memos, r->nmemos + 1, r->alloc_memos);
		idx = slot_take(&r->free_memos, &r->nmemos);
		memset(&r->memos[idx], 0, sizeof(r->memos[idx]));
		r->memos[idx].gen = r->gen;
		map_put(&r->memo_of, path, strlen(path), idx, true);
	}
	m = &r->memos[idx];
	if (m->gen != r->gen) {
		tg_strmap_release(&m->m);
		m->gen = r->gen;
	}
	return &m->m;
}

/* Queries from `path` are over: its memo goes (not the owners). */
static void drop_memo(struct tg_resolver *r, const char *path)
{
	size_t idx;

	if (!tg_strmap_get(&r->memo_of, path, strlen(path), &idx))
		return;
	tg_strmap_release(&r->memos[idx].m);
	tg_strmap_del(&r->memo_of, path, strlen(path));
	slot_give_back(&r->free_memos, idx);
}

struct tg_resolver *tg_resolver_new(void)
{
	struct tg_resolver *r = tg_xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	return r;
}

static void drop_results(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nowners; i++) {
		free(r->owners[i]->name);
		free(r->owners[i]->where);
		free(r->owners[i]->how);
		free(r->owners[i]->guard);
		free(r->owners[i]);
	}
	r->nowners = 0;
	release_memos(r);
	tg_strmap_release(&r->owner_of);
	tg_strmap_release(&r->names);
	r->names_built = false;
	r->nrefs = 0;
}

void tg_resolver_free(struct tg_resolver *r)
{
	if (!r)
		return;
	drop_results(r);
	free(r->owners);
	free(r->refs);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].module);
		free(r->files[i].base);
		free(r->files[i].copy);
		tg_inferred_free(r->files[i].inf);
	}
	free(r->files);
	free(r->free_files.v);
	tg_strmap_release(&r->paths);
	tg_strmap_release(&r->modules);
	tg_strmap_release(&r->suffixes);
	tg_strmap_release(&r->prefixes);
	free(r->load_error);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t add_locked(struct tg_resolver *r, const char *path,
			 const void *data, size_t len, bool copy,
			 bool own_only);

static bool reaches(struct tg_resolver *r, const char *path,
		    const void *data, size_t len);

static void put_suffixes(struct tg_resolver *r, size_t i);
static void put_prefixes(struct tg_resolver *r, size_t i);

/*
 * File i's module joined the targets: the maps built from their names
 * take it in (a module never leaves them, and map_put marks a name two
 * modules share the same in any order).
 */
static void module_joined(struct tg_resolver *r, size_t i)
{
	if (r->suffixes_built)
		put_suffixes(r, i);
	if (r->prefixes_built)
		put_prefixes(r, i);
}

void tg_resolver_add(struct tg_resolver *r, const char *path,
		     const void *data, size_t len, bool copy)
{
	pthread_mutex_lock(&r->mu);
	add_locked(r, path, data, len, copy,
		   !tg_inferred_is_target(path, data, len));
	pthread_mutex_unlock(&r->mu);
}

void tg_resolver_add_moved(struct tg_resolver *r, const char *path,
			   const char *from, const void *data, size_t len)
{
	size_t idx;

	pthread_mutex_lock(&r->mu);
	idx = add_locked(r, path, data, len, false, true);
	r->files[idx].base = tg_xstrdup(from);
	pthread_mutex_unlock(&r->mu);
}

/*
 * File i stopped being a resolution target (its record replaced by one
 * that is none): lookups from other files no longer go into it, as if
 * the resolver lacked it. The module maps are made again without it.
 */
static void module_left(struct tg_resolver *r, size_t i)
{
	r->files[i].own_only = true;
	tg_strmap_release(&r->modules);
	tg_strmap_release(&r->suffixes);
	tg_strmap_release(&r->prefixes);
	r->suffixes_built = r->prefixes_built = false;
	for (size_t k = 0; k < r->nfiles; k++) {
		struct rfile *f = &r->files[k];

		if (!f->own_only && f->module && f->module[0])
			map_put(&r->modules, f->module, strlen(f->module), k,
				false);
	}
}

/* The file's index in r->files. */
static size_t add_locked(struct tg_resolver *r, const char *path,
			 const void *data, size_t len, bool copy,
			 bool own_only)
{
	size_t idx;
	struct rfile *f;

	if (tg_strmap_get(&r->paths, path, strlen(path), &idx)) {
		/* a replaced file invalidates earlier answers */
		f = &r->files[idx];
		free(f->copy);
		free(f->base);
		tg_inferred_free(f->inf);
		f->copy = NULL;
		f->base = NULL;
		f->inf = NULL;
		f->key = NULL;
		f->decoded = false;
		if (f->own_only && !own_only && f->module[0]) {
			f->own_only = false;
			map_put(&r->modules, f->module, strlen(f->module),
				 idx, false);
			module_joined(r, idx);
		} else if (!f->own_only && own_only) {
			module_left(r, idx);
		}
		drop_results(r);
	} else {
		TG_ALLOC_GROW(r->files, r->nfiles + 1, r->alloc_files);
		idx = slot_take(&r->free_files, &r->nfiles);
		f = &r->files[idx];
		memset(f, 0, sizeof(*f));
		f->path = tg_xstrdup(path);
		f->module = tg_infer_module(path);
		f->own_only = own_only;
		map_put(&r->paths, path, strlen(path), idx, true);
		if (f->module[0] && !own_only) {
			map_put(&r->modules, f->module, strlen(f->module),
				 idx, false);
			module_joined(r, idx);
		}
	}
	if (copy && len) {
		f->copy = tg_xmalloc(len);
		memcpy(f->copy, data, len);
		data = f->copy;
	}
	f->data = data;
	f->len = len;
	f->head0 = len ? *(const unsigned char *)data : 0;
	return idx;
}

void tg_resolver_add_lazy(struct tg_resolver *r, const char *path,
			  size_t len, const unsigned char head[2],
			  tg_resolver_load_fn load, const void *key)
{
	size_t idx;

	pthread_mutex_lock(&r->mu);
	r->load = load;
	idx = add_locked(r, path, head, len ? 1 : 0, false, false);
	r->files[idx].data = NULL;
	r->files[idx].len = len;
	r->files[idx].key = key;
	pthread_mutex_unlock(&r->mu);
}

static void forget_names(struct tg_resolver *r)
{
	tg_strmap_release(&r->names);
	r->names_built = false;
	r->nrefs = 0;
}

bool tg_resolver_needs(struct tg_resolver *r, const char *path)
{
	size_t idx;
	bool needs = true;

	pthread_mutex_lock(&r->mu);
	if (tg_strmap_get(&r->paths, path, strlen(path), &idx))
		needs = !r->files[idx].len;
	pthread_mutex_unlock(&r->mu);
	return needs;
}

bool tg_resolver_incomplete(struct tg_resolver *r, const char *path)
{
	size_t idx;
	bool partial = false;

	pthread_mutex_lock(&r->mu);
	if (tg_strmap_get(&r->paths, path, strlen(path), &idx))
		partial = r->files[idx].len &&
			  (r->files[idx].head0 & TG_INFER_INCOMPLETE);
	pthread_mutex_unlock(&r->mu);
	return partial;
}

void tg_resolver_done(struct tg_resolver *r, const char *path)
{
	size_t idx;

	pthread_mutex_lock(&r->mu);
	drop_memo(r, path);
	if (!tg_strmap_get(&r->paths, path, strlen(path), &idx)) {
		/* not in the resolver: nothing more to drop */
	} else if (r->files[idx].own_only) {
		struct rfile *f = &r->files[idx];

		/*
		 * No definitions: no answer handed out points into it,
		 * and no map but `paths` knows it. Its slot is reused.
		 */
		tg_strmap_del(&r->paths, path, strlen(path));
		tg_inferred_free(f->inf);
		free(f->copy);
		free(f->path);
		free(f->module);
		free(f->base);
		memset(f, 0, sizeof(*f));
		f->own_only = true;
		slot_give_back(&r->free_files, idx);
	} else {
		/*
		 * A resolution target keeps its record, not its decoding:
		 * answers copy what they need, and a later query decodes
		 * it again, so a scan does not end up holding every
		 * target it analysed decoded.
		 */
		undecode(&r->files[idx]);
	}
	pthread_mutex_unlock(&r->mu);
}

void tg_resolver_fill(struct tg_resolver *r, const char *path,
		      const void *data, size_t len)
{
	const unsigned char *d = data;
	size_t idx;

	if (!len)
		return;
	pthread_mutex_lock(&r->mu);
	if (!tg_strmap_get(&r->paths, path, strlen(path), &idx)) {
		/*
		 * The file joins for its own queries alone, whatever it
		 * defines or re-exports: every resolution target is in the
		 * resolver from the start (the owner index's), so one that
		 * is not serves no other file, and no other file's answer
		 * depends on when it was analysed (the same findings on any
		 * number of threads). Nothing is forgotten.
		 */
		add_locked(r, path, data, len, true, true);
		d = NULL;
	} else if (!r->files[idx].len) {
		struct rfile *f = &r->files[idx];

		/*
		 * An empty record has no definitions, so no answer handed
		 * out points into it: unlike a replacement, filling it
		 * leaves every earlier answer valid (scan threads rely on
		 * that).
		 */
		tg_inferred_free(f->inf);
		f->inf = NULL;
		f->decoded = false;
		free(f->copy);
		f->copy = tg_xmalloc(len);
		memcpy(f->copy, data, len);
		f->data = f->copy;
		f->len = len;
		f->head0 = d[0];
	} else {
		d = NULL;
	}
	if (d) {
		/*
		 * Answers made without this record are forgotten, not
		 * freed: whoever holds one keeps a valid object, and the
		 * next query resolves afresh. New definitions join the
		 * repository-wide names (rule 4).
		 */
		forget_answers(r);
		if (d[0] & TG_INFER_HAS_DEFS)
			forget_names(r);
	}
	pthread_mutex_unlock(&r->mu);
}

size_t tg_resolver_remembered(struct tg_resolver *r)
{
	size_t n = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nmemos; i++)
		if (r->memos[i].gen == r->gen)
			n += r->memos[i].m.nr;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static struct tg_inferred *file_inf(struct tg_resolver *r, size_t idx)
{
	struct rfile *f = &r->files[idx];

	if (!f->decoded) {
		unsigned char *owned = NULL;
		const unsigned char *data = f->data;

		if (!data && f->len) {
			data = r->load(f->key, &owned);
			if (!data && !r->load_error)
				r->load_error = tg_xstrdup(tg_error_last());
			tg_error_clear();
		}
		f->decoded = true;
		if (!data || tg_inferred_decode(&f->inf,
						f->base ? f->base : f->path,
						data, f->len) < 0) {
			tg_error_clear();
			tg_inferred_decode(&f->inf, f->path, NULL, 0);
		}
		free(owned);
	}
	return f->inf;
}

int tg_resolver_error(struct tg_resolver *r)
{
	int err = 0;

	pthread_mutex_lock(&r->mu);
	if (r->load_error)
		err = tg_error_set(TG_EIO, "%s", r->load_error);
	pthread_mutex_unlock(&r->mu);
	return err;
}

const struct tg_inferred *tg_resolver_file(struct tg_resolver *r,
					   const char *path)
{
	const struct tg_inferred *inf = NULL;
	size_t idx;

	pthread_mutex_lock(&r->mu);
	if (tg_strmap_get(&r->paths, path, strlen(path), &idx))
		inf = file_inf(r, idx);
	pthread_mutex_unlock(&r->mu);
	return inf;
}

/* Every proper dotted suffix of file i's module, for src/ layouts. */
static void put_suffixes(struct tg_resolver *r, size_t i)
{
	const char *m = r->files[i].module;

	for (const char *p = strchr(m, '.'); p; p = strchr(p + 1, '.'))
		map_put(&r->suffixes, p + 1, strlen(p + 1), i, false);
}

static void build_suffixes(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!r->files[i].own_only && r->files[i].module)
			put_suffixes(r, i);
	r->suffixes_built = true;
}

/* Every dotted run of file i's module's parts short of its last. */
static void put_prefixes(struct tg_resolver *r, size_t i)
{
	const char *m = r->files[i].module;

	for (const char *a = m; a; a = strchr(a, '.'), a = a ? a + 1 : a)
		for (const char *b = strchr(a, '.'); b; b = strchr(b + 1, '.'))
			map_put(&r->prefixes, a, (size_t)(b - a), i, false);
}

static void build_prefixes(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!r->files[i].own_only && r->files[i].module)
			put_prefixes(r, i);
	r->prefixes_built = true;
}

/*
 * The target a lookup of `fqn` goes into: the one whose module, or else
 * module suffix, is the longest dotted start of it (*cut its length).
 * Whether there is one.
 */
static bool target_of(struct tg_resolver *r, const char *fqn, size_t len,
		      size_t *fi, size_t *cut)
{
	for (int pass = 0; pass < 2; pass++) {
		struct tg_strmap *m = pass ? &r->suffixes : &r->modules;

		if (pass && !r->suffixes_built)
			build_suffixes(r);
		for (size_t c = len; c > 0; c--) {
			if (fqn[c - 1] == '.' || (c < len && fqn[c] != '.'))
				continue;
			if (!tg_strmap_get(m, fqn, c, fi) || *fi == AMBIGUOUS)
				continue;
			*cut = c;
			return true;
		}
	}
	return false;
}

/*
 * Does the target bind `c` (one name part) for other files: a
 * definition, or an import of a package (a plain module's imports are
 * its own, lookup_in())?
 */
static bool binds(struct tg_resolver *r, size_t fi, const char *c, size_t len)
{
	struct tg_inferred *inf = file_inf(r, fi);

	for (size_t i = 0; i < inf->ndefs; i++) {
		const char *q = inf->defs[i].qualname;

		if (!strncmp(q, c, len) && (!q[len] || q[len] == '.'))
			return true;
	}
	if (!tg_infer_is_package(r->files[fi].path))
		return false;
	for (size_t i = 0; i < inf->nimports; i++)
		if (strlen(inf->imports[i].local) == len &&
		    !memcmp(inf->imports[i].local, c, len))
			return true;
	return false;
}

/*
 * Could a lookup of `fqn`, and of whatever a query appends to it, reach
 * a target? The fqn is a dotted start of a target's name, or the target
 * lookup_fqn() goes into (target_of()) is it, or binds the next part.
 */
static bool fqn_reaches(struct tg_resolver *r, const char *fqn)
{
	size_t len = strlen(fqn), fi, cut;
	const char *c, *dot;

	if (tg_strmap_get(&r->prefixes, fqn, len, &fi))
		return true;
	if (!target_of(r, fqn, len, &fi, &cut))
		return false;
	if (cut == len)
		return true;
	c = fqn + cut + 1;
	dot = strchr(c, '.');
	return binds(r, fi, c, dot ? (size_t)(dot - c) : strlen(c));
}

/*
 * Could a lookup through one of the record's imports reach a target?
 * A package for which none can (most re-export nothing a query looks
 * for) only ever answers NOT_FOUND, like a module the resolver lacks.
 */
static bool reaches(struct tg_resolver *r, const char *path,
		    const void *data, size_t len)
{
	struct tg_inferred *inf;
	bool yes = false;

	if (tg_inferred_decode(&inf, path, data, len) < 0) {
		tg_error_clear();
		return true; /* unreadable here: keep it as before */
	}
	if (!r->prefixes_built)
		build_prefixes(r);
	for (size_t i = 0; i < inf->nimports && !yes; i++)
		yes = fqn_reaches(r, inf->imports[i].fqn);
	tg_inferred_free(inf);
	return yes;
}

bool tg_resolver_reaches(struct tg_resolver *r, const char *path,
			 const void *data, size_t len)
{
	bool yes;

	pthread_mutex_lock(&r->mu);
	yes = reaches(r, path, data, len);
	pthread_mutex_unlock(&r->mu);
	return yes;
}

static void build_names(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		struct tg_inferred *inf;
		bool decoded = r->files[i].decoded;

		/* only targets' records with definitions need decoding */
		if (r->files[i].own_only || !r->files[i].len ||
		    !(r->files[i].head0 & TG_INFER_HAS_DEFS))
			continue;
		inf = file_inf(r, i);
		for (size_t k = 0; k < inf->ndefs; k++) {
			if (inf->defs[k].kind == TG_DEF_INSTANCE ||
			    inf->defs[k].kind == TG_DEF_COMMITS ||
			    strstr(inf->defs[k].qualname, ".<locals>."))
				continue; /* nor an instance, a local, a summary */
			TG_ALLOC_GROW(r->refs, r->nrefs + 1, r->alloc_refs);
			r->refs[r->nrefs].file = i;
			r->refs[r->nrefs].def = k;
			map_put(&r->names, inf->defs[k].name,
				 strlen(inf->defs[k].name), r->nrefs++, false);
		}
		/* nothing points into a decoding made just for the names:
		 * a query that reaches the file decodes it again */
		if (!decoded)
			undecode(&r->files[i]);
	}
	r->names_built = true;
}

enum found { NOT_FOUND, FOUND, UNBOUND };

struct hit {
	size_t file;
	const struct tg_def *def;
	bool fallback;
};

static enum found lookup_fqn(struct hit *out, struct tg_resolver *r,
			     const char *fqn, int hops);

static const struct tg_def *def_named(const struct tg_inferred *inf,
				      const char *q, size_t len)
{
	for (size_t i = 0; i < inf->ndefs; i++)
		if (!strncmp(inf->defs[i].qualname, q, len) &&
		    !inf->defs[i].qualname[len])
			return &inf->defs[i];
	return NULL;
}

/*
 * Look `c` up in file fi: its definitions, then, unless a local binding
 * shadows it, its imports. A lookup from another file (hops > 0: through
 * an import) follows the imports of a package only: a package re-exports
 * what its __init__.py imports, a plain module's imports serve its own
 * code. Following them too would make a name's meaning through any
 * module depend on every module's record, which a check cannot read.
 */
static enum found lookup_in(struct hit *out, struct tg_resolver *r, size_t fi,
			    const char *c, size_t len, int hops);

/*
 * `inst.rest` where inst names an instance recorded in file fi (qualname
 * `inst`, or any `Cls.inst` when `held`, for self.inst): look up
 * `Target.rest` in that file as it is written there. FOUND, or UNBOUND
 * when no instance has that name.
 */
static enum found through_instance(struct hit *out, struct tg_resolver *r,
				   size_t fi, const char *inst, size_t ilen,
				   const char *rest, size_t rlen, bool held,
				   int hops)
{
	struct tg_inferred *inf = file_inf(r, fi);

	for (size_t i = 0; i < inf->ndefs; i++) {
		const struct tg_def *d = &inf->defs[i];
		const char *q = d->qualname;
		size_t ql = strlen(q);
		char *t;
		enum found res;

		if (d->kind != TG_DEF_INSTANCE || !d->target)
			continue;
		if (held ? !(ql > ilen + 1 && q[ql - ilen - 1] == '.' &&
			     !memcmp(q + ql - ilen, inst, ilen))
			 : (ql != ilen || memcmp(q, inst, ilen)))
			continue;
		/* an instance of an instance is not followed: no cycles */
		if (strchr(d->target, '.') == NULL &&
		    !memcmp(d->target, inst, ilen) && !d->target[ilen])
			return NOT_FOUND;
		t = tg_xasprintf("%s.%.*s", d->target, (int)rlen, rest);
		res = lookup_in(out, r, fi, t, strlen(t), hops);
		free(t);
		if (res == FOUND && out->def->kind == TG_DEF_INSTANCE)
			return NOT_FOUND;
		return res == FOUND ? FOUND : NOT_FOUND;
	}
	return UNBOUND;
}

static enum found lookup_in(struct hit *out, struct tg_resolver *r,
			    size_t fi, const char *c, size_t len, int hops)
{
	struct tg_inferred *inf = file_inf(r, fi);
	enum found via;
	const char *dot = memchr(c, '.', len);
	size_t first = dot ? (size_t)(dot - c) : len;
	const struct tg_def *d;

	if (dot && ((first == 4 && !memcmp(c, "self", 4)) ||
		    (first == 3 && !memcmp(c, "cls", 3)))) {
		const char *rest = dot + 1;
		size_t rlen = len - first - 1;

		for (size_t i = 0; i < inf->ndefs; i++) {
			const char *q = inf->defs[i].qualname;
			size_t ql = strlen(q);

			if (ql > rlen + 1 && q[ql - rlen - 1] == '.' &&
			    !memcmp(q + ql - rlen, rest, rlen)) {
				out->file = fi;
				out->def = &inf->defs[i];
				return FOUND;
			}
		}
		/* self.db.session: db held by the class, its method */
		dot = memchr(rest, '.', rlen);
		if (dot &&
		    through_instance(out, r, fi, rest, (size_t)(dot - rest),
				     dot + 1, rlen - (size_t)(dot - rest) - 1,
				     true, hops) == FOUND)
			return FOUND;
		return NOT_FOUND;
	}
	if ((d = def_named(inf, c, len))) {
		if (d->kind == TG_DEF_INSTANCE)
			return NOT_FOUND;
		out->file = fi;
		out->def = d;
		return FOUND;
	}
	/* db.session: a module-level instance's method */
	if (dot &&
	    (via = through_instance(out, r, fi, c, first, dot + 1,
				    len - first - 1, false, hops)) != UNBOUND)
		return via;
	/* a local binding shadows imports and the repository */
	for (size_t i = 0; i < inf->nlocals; i++)
		if (strlen(inf->locals[i]) == first &&
		    !memcmp(inf->locals[i], c, first))
			return NOT_FOUND;
	if (hops && !tg_infer_is_package(r->files[fi].path))
		return NOT_FOUND;
	for (size_t i = inf->nimports; i-- > 0;) {
		const struct tg_import *im = &inf->imports[i];
		char *fqn;
		enum found res;

		if (strlen(im->local) != first || memcmp(im->local, c, first))
			continue;
		if (hops >= 8)
			return NOT_FOUND;
		fqn = tg_xasprintf("%s%.*s", im->fqn, (int)(len - first),
				   c + first);
		res = lookup_fqn(out, r, fqn, hops + 1);
		free(fqn);
		return res == FOUND ? FOUND : NOT_FOUND;
	}
	return UNBOUND;
}

static enum found lookup_fqn(struct hit *out, struct tg_resolver *r,
			     const char *fqn, int hops)
{
	size_t len = strlen(fqn), fi, cut;

	if (!target_of(r, fqn, len, &fi, &cut))
		return NOT_FOUND; /* outside the repository */
	if (cut == len)
		return NOT_FOUND; /* the module itself */
	return lookup_in(out, r, fi, fqn + cut + 1, len - cut - 1, hops) ==
			       FOUND ?
		       FOUND :
		       NOT_FOUND;
}

static bool lookup(struct hit *out, struct tg_resolver *r, const char *path,
		   const char *callee, size_t len)
{
	size_t fi, ri;
	enum found res = UNBOUND;
	const char *last;

	memset(out, 0, sizeof(*out));
	while (len && (*callee == ' ' || *callee == '\t')) {
		callee++;
		len--;
	}
	if (!len)
		return false;
	/* "::a.b.f": a fully qualified name (a function's own import) */
	if (len > 2 && callee[0] == ':' && callee[1] == ':') {
		char *fqn = tg_xstrndup(callee + 2, len - 2);

		res = lookup_fqn(out, r, fqn, 0);
		free(fqn);
		return res == FOUND;
	}
	if (tg_strmap_get(&r->paths, path, strlen(path), &fi))
		res = lookup_in(out, r, fi, callee, len, 0);
	if (res == FOUND)
		return true;
	if (res == NOT_FOUND)
		return false;
	/*
	 * rule 4: a bare name the file does not bind (star imports), when
	 * unique repository-wide. `x.name` with x unbound is an attribute of
	 * some runtime object (a parameter, a local): never guessed.
	 */
	if (memchr(callee, '.', len))
		return false;
	if (!r->names_built)
		build_names(r);
	last = callee + len;
	while (last > callee && last[-1] != '.')
		last--;
	if (!tg_strmap_get(&r->names, last, (size_t)(callee + len - last), &ri) ||
	    ri == AMBIGUOUS)
		return false;
	out->file = r->refs[ri].file;
	out->def = &file_inf(r, out->file)->defs[r->refs[ri].def];
	out->fallback = true;
	return true;
}

/*
 * Follow wrappers; the def that owns by itself, or NULL. Cycles end. A
 * definition that owns only for some arguments owns when called
 * directly (the call's arguments decide), never through a wrapper,
 * whose call of it is not recorded.
 */
static const struct tg_def *owning_end(struct tg_resolver *r, struct hit h,
				       struct hit *end)
{
	for (int depth = 0; depth < 16; depth++) {
		struct hit next;
		const char *t = h.def->target;

		if (h.def->kind != TG_DEF_CM && h.def->kind != TG_DEF_GEN)
			return NULL;
		if (h.def->owns) {
			if (h.def->guard && depth)
				return NULL;
			*end = h;
			return h.def;
		}
		if (!t || !lookup(&next, r, r->files[h.file].path, t,
				  strlen(t)))
			return NULL;
		h = next;
	}
	return NULL;
}

static void decorator_resolution(struct tg_resolution *out,
				 struct tg_resolver *r, struct hit h);

/* The resolution of a hit (under the lock). */
static void resolution_of(struct tg_resolution *out, struct tg_resolver *r,
			  struct hit h)
{
	struct hit end;

	out->def = h.def;
	out->path = r->files[h.file].path;
	out->fallback = h.fallback;
	switch (h.def->kind) {
	case TG_DEF_CM:
	case TG_DEF_GEN:
		out->kind = h.def->kind == TG_DEF_CM ? TG_RESOLVED_CM :
						       TG_RESOLVED_DEPENDENCY;
		out->owns = owning_end(r, h, &end) != NULL;
		break;
	case TG_DEF_FACTORY:
		out->kind = TG_RESOLVED_FACTORY;
		break;
	case TG_DEF_INSTANCE:
	case TG_DEF_COMMITS:
		break;
	case TG_DEF_DECORATOR:
		decorator_resolution(out, r, h);
		break;
	case TG_DEF_ALIAS: {
		struct hit dep;

		out->kind = TG_RESOLVED_ALIAS;
		out->owns = h.def->target &&
			    lookup(&dep, r, out->path, h.def->target,
				   strlen(h.def->target)) &&
			    owning_end(r, dep, &end) != NULL;
		break;
	}
	}
}

int tg_resolver_lookup(struct tg_resolution *out, struct tg_resolver *r,
		       const char *path, const char *callee, size_t len)
{
	struct hit h;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	if (lookup(&h, r, path, callee, len))
		resolution_of(out, r, h);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int tg_resolver_lookup_fqn(struct tg_resolution *out, struct tg_resolver *r,
			   const char *fqn, size_t len)
{
	struct hit h;
	char *s = tg_xstrndup(fqn, len);

	memset(out, 0, sizeof(*out));
	memset(&h, 0, sizeof(h));
	pthread_mutex_lock(&r->mu);
	/* as reached through an import: one hop already */
	if (lookup_fqn(&h, r, s, 1) == FOUND)
		resolution_of(out, r, h);
	pthread_mutex_unlock(&r->mu);
	free(s);
	return 0;
}

/* The "how" of an owning chain: "wraps a -> b (app/db.py:12, ...)". */
static char *chain_how(struct tg_resolver *r, struct hit h)
{
	struct tg_buf b = TG_BUF_INIT;
	struct hit end;

	if (!owning_end(r, h, &end))
		return NULL;
	if (h.def == end.def)
		return tg_xstrdup(h.def->how ? h.def->how : "owns");
	tg_buf_addstr(&b, "wraps ");
	for (int depth = 0; depth < 16 && h.def != end.def; depth++) {
		struct hit next;

		if (!lookup(&next, r, r->files[h.file].path, h.def->target,
			    strlen(h.def->target)))
			break;
		if (depth)
			tg_buf_addstr(&b, " -> ");
		tg_buf_addstr(&b, next.def->qualname);
		h = next;
	}
	tg_buf_addf(&b, " (%s:%u, %s)", r->files[end.file].path,
		    (unsigned)end.def->line,
		    end.def->how ? end.def->how : "owns");
	return tg_buf_detach(&b, NULL);
}

enum query { Q_OWNER, Q_DEPENDENCY, Q_ALIAS, Q_FACTORY };

static const struct tg_owner *query(struct tg_resolver *r, enum query q,
				    const char *path, const char *callee,
				    size_t len)
{
	char *key = tg_xasprintf("%d\n%.*s", (int)q, (int)len, callee);
	char *okey = NULL;
	size_t idx, oidx = AMBIGUOUS; /* o's index in owners */
	struct hit h, dep;
	struct tg_owner *o = NULL;
	struct tg_strmap *memo;
	char *how = NULL;

	pthread_mutex_lock(&r->mu);
	memo = memo_for(r, path);
	if (tg_strmap_get(memo, key, strlen(key), &idx)) {
		pthread_mutex_unlock(&r->mu);
		free(key);
		return idx == AMBIGUOUS ? NULL : r->owners[idx];
	}
	if (lookup(&h, r, path, callee, len)) {
		/* many files reach one definition: one answer for all */
		okey = tg_xasprintf("%d\n%zu\n%zu", (int)q, h.file,
				    (size_t)(h.def - r->files[h.file].inf->defs));
		if (tg_strmap_get(&r->owner_of, okey, strlen(okey), &oidx)) {
			o = oidx == AMBIGUOUS ? NULL : r->owners[oidx];
			goto found;
		}
		switch (q) {
		case Q_OWNER:
			if (h.def->kind == TG_DEF_CM)
				how = chain_how(r, h);
			/*
			 * sessionmaker(class_=X): its sessions are X's, and
			 * X may end the transaction in __exit__ itself.
			 */
			if (h.def->kind == TG_DEF_FACTORY && h.def->target &&
			    lookup(&dep, r, r->files[h.file].path,
				   h.def->target, strlen(h.def->target)) &&
			    dep.def->kind == TG_DEF_CM) {
				char *ch = chain_how(r, dep);

				if (ch)
					how = tg_xasprintf(
						"makes %s sessions (%s:%u, %s)",
						dep.def->qualname,
						r->files[dep.file].path,
						(unsigned)dep.def->line, ch);
				free(ch);
			}
			break;
		case Q_DEPENDENCY:
			/* FastAPI calls a dependency with its defaults */
			if (h.def->kind == TG_DEF_GEN &&
			    tg_argsel_by_default(h.def->guard))
				how = chain_how(r, h);
			break;
		case Q_ALIAS:
			if (h.def->kind == TG_DEF_ALIAS && h.def->target &&
			    lookup(&dep, r, r->files[h.file].path,
				   h.def->target, strlen(h.def->target)) &&
			    dep.def->kind == TG_DEF_GEN &&
			    tg_argsel_by_default(dep.def->guard)) {
				char *dh = chain_how(r, dep);

				if (dh)
					how = tg_xasprintf(
						"Depends(%s) at %s:%u, %s",
						dep.def->qualname,
						r->files[dep.file].path,
						(unsigned)dep.def->line, dh);
				free(dh);
			}
			break;
		case Q_FACTORY:
			if (h.def->kind == TG_DEF_FACTORY)
				how = tg_xstrdup(h.def->how ? h.def->how :
							      "sessionmaker");
			break;
		}
	}
	if (how) {
		o = tg_xcalloc(1, sizeof(*o));
		o->name = tg_xstrdup(h.def->qualname);
		o->origin = TG_OWNER_INFERRED;
		o->where = tg_xasprintf("%s:%u", r->files[h.file].path,
					(unsigned)h.def->line);
		o->how = how;
		if (q == Q_OWNER && h.def->kind == TG_DEF_CM && h.def->guard) {
			size_t glen;
			bool neg;
			const char *g = tg_argsel_guard_param(h.def->guard,
							      &glen, &neg);

			o->guard = tg_xstrdup(h.def->guard);
			o->how = tg_xasprintf("%s, when `%.*s` is %s", how,
					      (int)glen, g,
					      neg ? "false" : "true");
			free(how);
		}
		TG_ALLOC_GROW(r->owners, r->nowners + 1, r->alloc_owners);
		oidx = r->nowners;
		r->owners[r->nowners++] = o;
	}
	if (okey)
		map_put(&r->owner_of, okey, strlen(okey), oidx, true);
found:
	map_put(memo, key, strlen(key), oidx, true);
	pthread_mutex_unlock(&r->mu);
	free(okey);
	free(key);
	return o;
}

const struct tg_owner *tg_resolver_owner(struct tg_resolver *r,
					 const char *path, const char *callee,
					 size_t len)
{
	return query(r, Q_OWNER, path, callee, len);
}

const struct tg_owner *tg_resolver_dependency(struct tg_resolver *r,
					      const char *path,
					      const char *callee, size_t len)
{
	return query(r, Q_DEPENDENCY, path, callee, len);
}

const struct tg_owner *tg_resolver_alias(struct tg_resolver *r,
					 const char *path, const char *name,
					 size_t len)
{
	return query(r, Q_ALIAS, path, name, len);
}

const struct tg_owner *tg_resolver_factory(struct tg_resolver *r,
					   const char *path,
					   const char *callee, size_t len)
{
	return query(r, Q_FACTORY, path, callee, len);
}

/* ---- functions that commit a parameter -------------------------------- */

/* Does definition `d` concern the argument at `pos` or keyword `kw`? */
static bool takes_arg(const struct tg_def *d, long pos, const char *kw,
		      size_t kwlen)
{
	if (kw)
		return d->param && strlen(d->param) == kwlen &&
		       !memcmp(d->param, kw, kwlen);
	return pos >= 0 && d->param_index >= 0 && d->param_index == pos;
}

/*
 * The site where the function `callee` (as written in file `from`)
 * commits the argument it gets at `pos` / `kw`, following calls that
 * pass it on; a summary that holds only for some arguments is followed
 * only at depth 0 (where the caller checks the arguments). The chain of
 * functions followed goes to `chain`, "f -> g -> h".
 */
static bool commits_end(struct tg_resolver *r, const char *from,
			const char *callee, size_t len, long pos,
			const char *kw, size_t kwlen, bool escape, int depth,
			struct tg_buf *chain, struct tg_commit_site *out)
{
	struct hit h;
	const struct tg_inferred *inf;

	if (depth >= 8 || !lookup(&h, r, from, callee, len) || h.fallback)
		return false;
	inf = file_inf(r, h.file);
	/* unguarded commits first, then rollbacks, then guarded sites */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < inf->ndefs; i++) {
			const struct tg_def *d = &inf->defs[i];
			size_t mark = chain->len;
			const char *a;
			char *end;
			long apos;

			if (d->kind != TG_DEF_COMMITS ||
			    strcmp(d->qualname, h.def->qualname) ||
			    !d->guard == (pass == 2) || (d->guard && depth) ||
			    (pass == 0 && !d->target &&
			     !(d->how && !strcmp(d->how, "commit")) &&
			     !escape) ||
			    !takes_arg(d, pos, kw, kwlen) ||
			    (!d->target && escape !=
				     (d->how && !strcmp(d->how, "escape"))))
				continue;
			if (depth)
				tg_buf_addstr(chain, " -> ");
			tg_buf_addstr(chain, d->qualname);
			if (!d->target) {
				out->verb = tg_xstrdup(d->how ? d->how : "commit");
				out->param = tg_xstrdup(d->param ? d->param : "");
				out->where = tg_xasprintf("%s:%u",
							  r->files[h.file].path,
							  (unsigned)d->line);
				if (!depth && d->guard)
					out->guard = tg_xstrdup(d->guard);
				return true;
			}
			a = d->arg ? d->arg : "";
			apos = strtol(a, &end, 10);
			if (commits_end(r, r->files[h.file].path, d->target,
					strlen(d->target),
					*end || !*a ? -1 : apos,
					*end || !*a ? a : NULL,
					*end || !*a ? strlen(a) : 0, escape,
					depth + 1, chain, out)) {
				if (!depth) {
					free(out->guard);
					free(out->param);
					out->guard = d->guard ? tg_xstrdup(d->guard) :
								NULL;
					out->param = tg_xstrdup(d->param ? d->param :
									   "");
				}
				return true;
			}
			tg_buf_truncate(chain, mark);
		}
	}
	return false;
}

bool tg_resolver_commits(struct tg_commit_site *out, struct tg_resolver *r,
			 const char *path, const char *callee, size_t len,
			 long pos, const char *kw, size_t kwlen, bool escape)
{
	struct tg_buf chain = TG_BUF_INIT;
	bool found;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	found = commits_end(r, path, callee, len, pos, kw, kwlen, escape, 0,
			    &chain, out);
	pthread_mutex_unlock(&r->mu);
	if (found) {
		/* "f -> g -> h": f is called, the commit is in h */
		const char *rest = strstr(chain.ptr, " -> ");
		char *at = out->where;

		out->callee = rest ? tg_xstrndup(chain.ptr,
						 (size_t)(rest - chain.ptr)) :
				     tg_xstrdup(chain.ptr);
		out->where = rest ? tg_xasprintf("%s (through %s)", at,
						 rest + 4) :
				    tg_xstrdup(at);
		free(at);
	}
	tg_buf_release(&chain);
	return found;
}

void tg_commit_site_release(struct tg_commit_site *s)
{
	free(s->verb);
	free(s->param);
	free(s->guard);
	free(s->where);
	free(s->callee);
	memset(s, 0, sizeof(*s));
}

/* ---- decorators that inject a session ---------------------------------- */

/*
 * How the owner `h` (what `with T() as s` resolves to) owns, as a query
 * for an owner would say it: a context manager's chain, or the class of
 * the sessions a factory makes. NULL when it does not own.
 */
static char *owner_how(struct tg_resolver *r, struct hit h)
{
	struct hit dep;
	char *ch, *how;

	if (h.def->kind == TG_DEF_CM)
		return chain_how(r, h);
	if (h.def->kind != TG_DEF_FACTORY || !h.def->target ||
	    !lookup(&dep, r, r->files[h.file].path, h.def->target,
		    strlen(h.def->target)) ||
	    dep.def->kind != TG_DEF_CM || !(ch = chain_how(r, dep)))
		return NULL;
	how = tg_xasprintf("makes %s sessions (%s:%u, %s)", dep.def->qualname,
			   r->files[dep.file].path, (unsigned)dep.def->line,
			   ch);
	free(ch);
	return how;
}

/*
 * The "how" of the decorator `h` when the block its wrapper opens owns:
 * "injects `session` from get_session, defined at app/db.py:12, commits
 * after yield". The target is looked up from the decorator's
 * file; `reg` (may be NULL) holds the configured owners. NULL when the
 * block does not own.
 */
static char *decorator_how(struct tg_resolver *r,
			   const struct tg_owner_table *reg, struct hit h)
{
	const char *t = h.def->target;
	const struct tg_owner *conf;
	const char *l;
	char *opened = NULL, *how, *inj;
	struct hit th;

	if (h.def->kind != TG_DEF_DECORATOR || !t)
		return NULL;
	l = strrchr(t, '.');
	l = l ? l + 1 : t;
	if ((conf = tg_owner_table_match_owner(reg, t, strlen(t)))) {
		opened = tg_xasprintf("%s (owner configured in %s)", conf->name,
				      conf->where ? conf->where : ".txguard");
	} else if (!strcmp(l, "begin") && l != t) {
		opened = tg_xasprintf("%s(), which commits on exit", t);
	} else if (lookup(&th, r, r->files[h.file].path, t, strlen(t))) {
		char *oh = owner_how(r, th);

		if (oh)
			opened = tg_xasprintf("%s, defined at %s:%u, %s",
					      th.def->qualname,
					      r->files[th.file].path,
					      (unsigned)th.def->line, oh);
		free(oh);
	}
	if (!opened)
		return NULL;
	inj = h.def->param ? tg_xasprintf("`%s`", h.def->param)
			   : tg_xasprintf("positional argument %d",
					  (int)h.def->param_index + 1);
	how = tg_xasprintf("injects %s from %s", inj, opened);
	free(inj);
	free(opened);
	return how;
}

/* A decorator resolves as one; it owns when the block it opens owns. */
static void decorator_resolution(struct tg_resolution *out,
				 struct tg_resolver *r, struct hit h)
{
	char *how = decorator_how(r, NULL, h);

	out->kind = TG_RESOLVED_DECORATOR;
	out->owns = how != NULL;
	free(how);
}

int tg_resolver_decorator(struct tg_injection *out, struct tg_resolver *r,
			  const struct tg_owner_table *reg, const char *path,
			  const char *name, size_t len)
{
	struct tg_owner *o = NULL;
	size_t oidx = AMBIGUOUS;
	char *okey, *how;
	struct hit h;

	memset(out, 0, sizeof(*out));
	out->param_index = -1;
	pthread_mutex_lock(&r->mu);
	if (!lookup(&h, r, path, name, len) ||
	    h.def->kind != TG_DEF_DECORATOR) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	/* one object per definition, as for owners */
	okey = tg_xasprintf("d\n%zu\n%zu", h.file,
			    (size_t)(h.def - r->files[h.file].inf->defs));
	if (tg_strmap_get(&r->owner_of, okey, strlen(okey), &oidx)) {
		o = oidx == AMBIGUOUS ? NULL : r->owners[oidx];
	} else {
		if ((how = decorator_how(r, reg, h))) {
			o = tg_xcalloc(1, sizeof(*o));
			o->name = tg_xstrdup(h.def->qualname);
			o->origin = TG_OWNER_INFERRED;
			o->where = tg_xasprintf("%s:%u", r->files[h.file].path,
						(unsigned)h.def->line);
			o->how = how;
			TG_ALLOC_GROW(r->owners, r->nowners + 1,
				      r->alloc_owners);
			oidx = r->nowners;
			r->owners[r->nowners++] = o;
		}
		map_put(&r->owner_of, okey, strlen(okey), oidx, true);
	}
	if (o) {
		out->owner = o;
		out->param = h.def->param ? tg_xstrdup(h.def->param) : NULL;
		out->param_index = h.def->param_index;
	}
	pthread_mutex_unlock(&r->mu);
	free(okey);
	return 0;
}
