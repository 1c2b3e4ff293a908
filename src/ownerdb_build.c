/*
 * ownerdb_build.c: the owner index's build: files and their records,
 * from the cache or inferred by parser threads (ownerdb_build.h).
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/ownerdb.h"
#include "txguard/ownerdb_build.h"
#include "txguard/ownerdb_store.h"
#include "txguard/progress.h"
#include "txguard/pyparse.h"
#include "txguard/watch.h"

#include <pthread.h>
#include <unistd.h>
#include <git2.h>

/*
 * A cold build pends this many files before it reads and infers them, and
 * writes the records of a batch that big to a layer of the store: it
 * then holds no record a blob (memory does not follow the repository).
 * Fewer records than this stay in memory (fresh).
 */
#define BATCH 1024

static bool never_saved(const unsigned char *data, size_t len)
{
	return len && (data[0] & TG_INFER_INCOMPLETE);
}

/* A fresh record the db takes (data owned), counted if it stays out. */
static struct tg_ownerdb_fresh *add_fresh(struct tg_ownerdb *db,
					  const struct tg_ownerdb_key *key,
					  unsigned char *data, size_t len,
					  bool too_big)
{
	struct tg_ownerdb_fresh *f;

	TG_ALLOC_GROW(db->fresh, db->nfresh + 1, db->alloc_fresh);
	f = &db->fresh[db->nfresh++];
	f->key = *key;
	f->data = data;
	f->len = len;
	f->keep_out = too_big || never_saved(data, len);
	if (never_saved(data, len))
		db->stats.incomplete++;
	return f;
}

static void add_seeds(struct tg_ownerdb *db, const struct tg_ownerdb_opts *opts)
{
	for (size_t i = 0; opts && i < opts->nseed; i++) {
		const struct tg_ownerdb_file *s = &opts->seed[i];
		struct tg_ownerdb_key key =
			tg_ownerdb_store_key(s->path, &s->id);
		unsigned char *data = NULL;

		if (s->len) {
			data = tg_xmalloc(s->len);
			memcpy(data, s->data, s->len);
		}
		add_fresh(db, &key, data, s->len, false);
	}
}

struct tg_ownerdb *tg_ownerdb_build_new(struct git_repository *repo,
					const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db = tg_xcalloc(1, sizeof(*db));
	char *dir;

	db->repo = repo;
	db->batch = BATCH;
	if (opts) {
		db->flags = opts->flags;
		db->threads = opts->threads;
		if (opts->batch)
			db->batch = opts->batch;
		db->read = opts->read;
		db->size = opts->size;
		db->read_ctx = opts->read_ctx;
		db->max_file_size = opts->max_file_size;
	}
	dir = opts && opts->cache_path ? tg_xstrdup(opts->cache_path)
				       : tg_ownerdb_default_path(repo);
	if (!dir || (db->flags & TG_OWNERDB_NO_CACHE)) {
		db->flags |= TG_OWNERDB_NO_CACHE;
		free(dir);
		dir = NULL;
	}
	tg_ownerdb_store_open(
		&db->store, dir,
		!(db->flags & (TG_OWNERDB_NO_WRITE | TG_OWNERDB_NO_CACHE)),
		opts ? opts->window : 0);
	db->stats.cache_valid = db->store.loaded;
	free(dir);
	add_seeds(db, opts);
	return db;
}

const struct tg_ownerdb_fresh *
tg_ownerdb_build_fresh(const struct tg_ownerdb *db,
		       const struct tg_ownerdb_key *key)
{
	for (size_t i = 0; i < db->nfresh; i++)
		if (!tg_ownerdb_store_key_cmp(&db->fresh[i].key, key))
			return &db->fresh[i];
	return NULL;
}

static void keep(struct tg_ownerdb *db, unsigned char *buf)
{
	TG_ALLOC_GROW(db->copies, db->ncopies + 1, db->alloc_copies);
	db->copies[db->ncopies++] = buf;
}

bool tg_ownerdb_build_copy(const unsigned char **data, size_t *len,
			   struct tg_ownerdb *db,
			   const struct tg_ownerdb_loc *loc)
{
	unsigned char *buf;

	if (!tg_ownerdb_store_read(&buf, loc))
		return false;
	if (buf)
		keep(db, buf);
	*data = buf;
	*len = loc->len;
	return true;
}

/*
 * tg_inferred_is_target() from a row's hint, without the record: whether
 * it defines something, or is a package that imports.
 */
static bool is_target_hint(const char *path, unsigned hint)
{
	return (hint & TG_OWNERDB_HINT_DEFS) ||
	       ((hint & TG_OWNERDB_HINT_IMPORTS) && tg_infer_is_package(path));
}

/*
 * A target's record found in a cache file: checked now (a damaged one
 * is made again), then left there, so a run holds where each target's
 * record is, not the record. The resolver and the queries read it again
 * with tg_ownerdb_load().
 */
static bool leave_record(struct tg_ownerdb_file *f, struct tg_ownerdb *db,
			 const struct tg_ownerdb_loc *loc)
{
	unsigned char *buf;

	if (!tg_ownerdb_store_read(&buf, loc))
		return false;
	if (!buf) {
		f->data = NULL;
		f->len = 0;
		return true;
	}
	f->head[0] = buf[0];
	f->head[1] = loc->len > 1 ? buf[1] : 0;
	free(buf);
	f->data = NULL;
	f->len = loc->len;
	f->fd = loc->fd;
	f->pos = loc->pos;
	f->sum = loc->sum;
	db->nlazy++;
	return true;
}

/*
 * TG_OWNERDB_TARGETS_ONLY: of files[pending..], drop those the cache
 * knows to be no target. Looked up in the order of their ids' first
 * byte (a counting sort: a comparison sort cost more than the reads it
 * saved), so one read of a layer's rows serves the batch's ids that
 * fall among them.
 */
static void drop_known(struct tg_ownerdb *db)
{
	size_t from = db->pending, n = db->nfiles - from, kept = from;
	size_t *order;
	bool *drop;
	struct tg_ownerdb_wcache *wc;

	if (!(db->flags & TG_OWNERDB_TARGETS_ONLY) || !n)
		return;
	order = tg_xmalloc(n * sizeof(*order));
	drop = tg_xcalloc(n, sizeof(*drop));
	wc = tg_ownerdb_store_wcache_new();
	{
		size_t at[257] = {0};

		for (size_t i = from; i < db->nfiles; i++)
			at[db->files[i].id.id[0] + 1]++;
		for (int b = 1; b < 257; b++)
			at[b] += at[b - 1];
		for (size_t i = from; i < db->nfiles; i++)
			order[at[db->files[i].id.id[0]]++] = i;
	}
	for (size_t k = 0; k < n; k++) {
		struct tg_ownerdb_file *f = &db->files[order[k]];
		struct tg_ownerdb_key key =
			tg_ownerdb_store_key(f->path, &f->id);
		struct tg_ownerdb_loc loc;

		if (!tg_ownerdb_store_find(&loc, &db->store, &key, wc))
			continue;
		if (is_target_hint(f->path, loc.hint)) {
			/* a target: where its record is, while at hand */
			if (leave_record(f, db, &loc))
				db->stats.cached++;
			continue;
		}
		db->stats.cached++;
		drop[order[k] - from] = true;
	}
	for (size_t i = from; i < db->nfiles; i++) {
		if (!drop[i - from]) {
			db->files[kept++] = db->files[i];
			continue;
		}
		if (!(db->flags & TG_OWNERDB_BORROW_PATHS))
			free(db->files[i].path);
	}
	db->nfiles = kept;
	tg_ownerdb_store_wcache_free(wc);
	free(drop);
	free(order);
}

/* TG_OWNERDB_TARGETS_ONLY: drop what the cache could not tell before */
static void keep_targets(struct tg_ownerdb *db, size_t from)
{
	size_t kept = from;

	if (!(db->flags & TG_OWNERDB_TARGETS_ONLY))
		return;
	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];

		if (tg_inferred_is_target(f->path, f->data ? f->data : f->head,
				       f->len)) {
			db->files[kept++] = *f;
			continue;
		}
		if (!(db->flags & TG_OWNERDB_BORROW_PATHS))
			free(f->path);
	}
	db->nfiles = kept;
}

/* Work for the parser threads: a bounded queue of read blobs. */
struct job {
	size_t slot;
	char *buf;
	size_t len;
	const char *path;
};

/* A record made by the build, before it joins the db or a layer. */
struct made {
	struct tg_ownerdb_key key;
	unsigned char *data;
	size_t len;
	bool too_big;
};

struct pool {
	pthread_mutex_t mu;
	/* held while a big blob is inferred: two big parses at once
	 * would double the peak; a worker holds no other lock */
	pthread_mutex_t big;
	pthread_cond_t can_put, can_get;
	struct job ring[64];
	size_t head, count;
	bool done;
	struct made *out;
	size_t parsed;
};

static void infer_job(struct pool *p, struct job *j, size_t *parsed)
{
	struct tg_buf b = TG_BUF_INIT;
	bool did, big = j->len >= TG_BIG_PARSE;

	if (big)
		pthread_mutex_lock(&p->big);
	tg_infer_blob(&b, &did, j->path, j->buf, j->len);
	if (big)
		pthread_mutex_unlock(&p->big);
	if (did)
		(*parsed)++;
	p->out[j->slot].len = b.len;
	p->out[j->slot].data =
		b.len ? (unsigned char *)tg_buf_detach(&b, NULL) : NULL;
	tg_buf_release(&b);
	free(j->buf);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	size_t parsed = 0;

	for (;;) {
		struct job j;

		pthread_mutex_lock(&p->mu);
		while (!p->count && !p->done)
			pthread_cond_wait(&p->can_get, &p->mu);
		if (!p->count) {
			p->parsed += parsed;
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		j = p->ring[p->head];
		p->head = (p->head + 1) % TG_ARRAY_SIZE(p->ring);
		p->count--;
		pthread_cond_signal(&p->can_put);
		pthread_mutex_unlock(&p->mu);
		infer_job(p, &j, &parsed);
	}
}

/*
 * Read a blob: *buf NULL when it is no blob, or bigger than maxFileSize
 * (*too_big set, checked from the object's header before any read).
 */
static int read_blob(char **buf, size_t *len, bool *too_big,
		     struct tg_ownerdb *db, const struct tg_oid *id)
{
	git_odb_object *obj = NULL;
	git_oid oid;
	int err;

	*buf = NULL;
	*len = 0;
	*too_big = false;
	memcpy(oid.id, id->id, TG_OID_RAWSZ);
	if (db->max_file_size) {
		size_t size = 0;
		git_object_t type = GIT_OBJECT_BLOB;

		if (db->read && db->size) {
			/* the caller's reader bounds libgit2's caches: so
			 * must its size query (ownerdb.h) */
			if ((err = db->size(db->read_ctx, &size, id)) < 0)
				return err;
		} else {
			if (!db->odb &&
			    git_repository_odb(&db->odb, db->repo) < 0)
				return tg_error_git(
					"cannot open the object database");
			tg_watch_begin("reading blob", oid.id);
			err = git_odb_read_header(&size, &type, db->odb, &oid);
			tg_watch_end();
			if (err < 0)
				return tg_error_git("cannot read a blob header");
		}
		if (type != GIT_OBJECT_BLOB)
			return 0;
		if (size > db->max_file_size) {
			*too_big = true;
			db->stats.too_big++;
			return 0;
		}
	}
	if (db->read) {
		if ((err = db->read(db->read_ctx, buf, len, id)) < 0)
			return err;
		db->stats.read++;
		return 0;
	}
	if (!db->odb && git_repository_odb(&db->odb, db->repo) < 0)
		return tg_error_git("cannot open the object database");
	tg_watch_begin("reading blob", oid.id);
	err = git_odb_read(&obj, db->odb, &oid);
	tg_watch_end();
	if (err < 0)
		return tg_error_git("cannot read a blob");
	if (git_odb_object_type(obj) != GIT_OBJECT_BLOB) {
		git_odb_object_free(obj);
		return 0;
	}
	*len = git_odb_object_size(obj);
	*buf = tg_xmalloc(*len + 1);
	memcpy(*buf, git_odb_object_data(obj), *len);
	(*buf)[*len] = '\0';
	git_odb_object_free(obj);
	db->stats.read++;
	return 0;
}

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

static int cmp_made(const void *a, const void *b)
{
	return tg_ownerdb_store_key_cmp(&((const struct made *)a)->key,
					&((const struct made *)b)->key);
}

/* The record of `key` among a batch's, sorted by key; -1 if none. */
static long find_made(const struct made *recs, size_t n,
		      const struct tg_ownerdb_key *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tg_ownerdb_store_key_cmp(&recs[mid].key, key);

		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* A copy the db owns, for a kept file of a batch written to a layer. */
static const unsigned char *keep_copy(struct tg_ownerdb *db,
				      const unsigned char *data, size_t len)
{
	unsigned char *c = tg_xmalloc(len);

	memcpy(c, data, len);
	keep(db, c);
	return c;
}

/* Read the batch's blobs here and infer them in the threads. */
static int infer_all(struct tg_ownerdb *db, struct made *recs,
		     const char *const *paths, size_t n)
{
	struct pool p;
	pthread_t th[4];
	int nth = db->threads > 0 ? db->threads : ncpus(), started = 0;
	int err = 0;

	memset(&p, 0, sizeof(p));
	p.out = recs;
	pthread_mutex_init(&p.mu, NULL);
	pthread_mutex_init(&p.big, NULL);
	pthread_cond_init(&p.can_put, NULL);
	pthread_cond_init(&p.can_get, NULL);
	if (nth > 4)
		nth = 4;
	if (n < 16)
		nth = 0; /* not worth a thread */
	for (int i = 0; i < nth; i++)
		if (!pthread_create(&th[i], NULL, worker, &p))
			started++;
	for (size_t k = 0; k < n; k++) {
		struct job j = {k, NULL, 0, paths[k]};

		if ((err = read_blob(&j.buf, &j.len, &recs[k].too_big, db,
				     &recs[k].key.id)) < 0)
			break;
		if (!j.buf)
			continue;
		if (!started) {
			infer_job(&p, &j, &p.parsed);
			continue;
		}
		pthread_mutex_lock(&p.mu);
		while (p.count == TG_ARRAY_SIZE(p.ring))
			pthread_cond_wait(&p.can_put, &p.mu);
		p.ring[(p.head + p.count) % TG_ARRAY_SIZE(p.ring)] = j;
		p.count++;
		pthread_cond_signal(&p.can_get);
		pthread_mutex_unlock(&p.mu);
	}
	pthread_mutex_lock(&p.mu);
	p.done = true;
	pthread_cond_broadcast(&p.can_get);
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.mu);
	pthread_mutex_destroy(&p.big);
	pthread_cond_destroy(&p.can_put);
	pthread_cond_destroy(&p.can_get);
	db->stats.parsed += p.parsed;
	return err;
}

/* A batch's records as a layer; the incomplete and too big stay out. */
static bool to_layer(struct tg_ownerdb *db, const struct made *recs, size_t n)
{
	struct tg_ownerdb_rec *out = tg_xmalloc((n ? n : 1) * sizeof(*out));
	size_t nout = 0;
	bool ok;

	for (size_t k = 0; k < n; k++) {
		if (recs[k].too_big || never_saved(recs[k].data, recs[k].len))
			continue;
		out[nout].key = recs[k].key;
		out[nout].data = recs[k].data;
		out[nout++].len = recs[k].len;
	}
	ok = tg_ownerdb_store_add_batch(&db->store, out, nout);
	free(out);
	return ok;
}

/*
 * Infer the records the cache lacks among files[pending..]. Once a
 * build has made a batch's worth of records, they go to a layer and
 * only the batch's targets keep theirs in memory; before that they join
 * db->fresh (so an ordinary change makes a small layer). Either way the
 * batch then keeps only its targets.
 */
static int fill_missing(struct tg_ownerdb *db)
{
	size_t *missing = NULL, nmissing = 0, alloc = 0, from = db->pending;
	struct made *recs;
	const char **paths;
	bool spill;
	int err;

	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];
		struct tg_ownerdb_key key;
		struct tg_ownerdb_loc loc;
		const struct tg_ownerdb_fresh *fr;

		if (f->len)
			continue; /* drop_known() found it */
		key = tg_ownerdb_store_key(f->path, &f->id);
		if (tg_ownerdb_store_find(&loc, &db->store, &key, NULL) &&
		    tg_ownerdb_build_copy(&f->data, &f->len, db, &loc)) {
			db->stats.cached++;
			continue;
		}
		if ((fr = tg_ownerdb_build_fresh(db, &key))) {
			f->data = fr->data;
			f->len = fr->len;
			db->stats.seeded++;
			continue;
		}
		TG_ALLOC_GROW(missing, nmissing + 1, alloc);
		missing[nmissing++] = i;
	}
	if (!nmissing) {
		keep_targets(db, from);
		db->pending = db->nfiles;
		return 0;
	}
	recs = tg_xcalloc(nmissing, sizeof(*recs));
	paths = tg_xcalloc(nmissing, sizeof(*paths));
	for (size_t k = 0; k < nmissing; k++)
		recs[k].key = tg_ownerdb_store_key(db->files[missing[k]].path,
						   &db->files[missing[k]].id);
	/* one blob at many paths of one role is read once */
	qsort(recs, nmissing, sizeof(*recs), cmp_made);
	{
		size_t out = 0;

		for (size_t k = 0; k < nmissing; k++)
			if (!out || tg_ownerdb_store_key_cmp(&recs[out - 1].key,
							     &recs[k].key))
				recs[out++] = recs[k];
		nmissing = out;
	}
	/* the path of each record's first file: the pre-filter's */
	for (size_t i = from, k; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];
		struct tg_ownerdb_key key;
		long at;

		if (f->len || f->data)
			continue;
		key = tg_ownerdb_store_key(f->path, &f->id);
		if ((at = find_made(recs, nmissing, &key)) >= 0 &&
		    !paths[(k = (size_t)at)])
			paths[k] = f->path;
	}
	free(missing);
	err = infer_all(db, recs, paths, nmissing);
	free(paths);
	if (err < 0) {
		/* unread blobs have no record: nothing of this batch is kept */
		for (size_t k = 0; k < nmissing; k++)
			free(recs[k].data);
		free(recs);
		return err;
	}
	for (size_t k = 0; k < nmissing; k++)
		if (never_saved(recs[k].data, recs[k].len))
			db->stats.incomplete++;
	/* more records than a batch: from here on they go to layers */
	spill = (db->flags & TG_OWNERDB_TARGETS_ONLY) &&
		(tg_ownerdb_store_pending(&db->store) ||
		 db->nfresh + nmissing >= db->batch) &&
		to_layer(db, recs, nmissing);
	/* every file takes its record, duplicates included */
	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];
		struct tg_ownerdb_key key;
		long k;

		if (f->data || f->len)
			continue;
		key = tg_ownerdb_store_key(f->path, &f->id);
		if ((k = find_made(recs, nmissing, &key)) >= 0) {
			f->data = recs[k].data;
			f->len = recs[k].len;
		}
	}
	keep_targets(db, from);
	db->pending = db->nfiles;
	if (!spill) {
		/* fresh records are never moved: only the array grows */
		TG_ALLOC_GROW(db->fresh, db->nfresh + nmissing,
			      db->alloc_fresh);
		for (size_t k = 0; k < nmissing; k++) {
			struct tg_ownerdb_fresh *fr = &db->fresh[db->nfresh++];

			fr->key = recs[k].key;
			fr->data = recs[k].data;
			fr->len = recs[k].len;
			fr->keep_out = recs[k].too_big ||
				       never_saved(recs[k].data, recs[k].len);
		}
		free(recs);
		return 0;
	}
	/* in a layer: the few files kept take copies, the batch goes */
	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];
		struct tg_ownerdb_key key;
		long k;

		if (!f->len || !f->data)
			continue;
		key = tg_ownerdb_store_key(f->path, &f->id);
		k = find_made(recs, nmissing, &key);
		if (k >= 0 && f->data == recs[k].data)
			f->data = keep_copy(db, f->data, f->len);
	}
	for (size_t k = 0; k < nmissing; k++)
		free(recs[k].data);
	free(recs);
	return 0;
}

int tg_ownerdb_build_add(struct tg_ownerdb *db, const char *path,
			 const struct tg_oid *id)
{
	struct tg_ownerdb_file *f;

	db->stats.files++;
	tg_progress_update(db->progress, db->stats.files);
	TG_ALLOC_GROW(db->files, db->nfiles + 1, db->alloc_files);
	f = &db->files[db->nfiles++];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->path = db->flags & TG_OWNERDB_BORROW_PATHS ? (char *)path
						      : tg_xstrdup(path);
	f->id = *id;
	if ((db->flags & TG_OWNERDB_TARGETS_ONLY) &&
	    db->nfiles - db->pending >= db->batch) {
		drop_known(db);
		return fill_missing(db);
	}
	return 0;
}

int tg_ownerdb_build_finish(struct tg_ownerdb *db)
{
	int err;

	drop_known(db);
	if ((err = fill_missing(db)) < 0)
		return err;
	db->read = NULL; /* the caller's reader is for this thread only */
	tg_ownerdb_store_seal(&db->store);
	return 0;
}

int tg_ownerdb_build_one(const struct tg_ownerdb_fresh **out,
			 struct tg_ownerdb *db, const char *path,
			 const struct tg_oid *id)
{
	struct tg_ownerdb_key key = tg_ownerdb_store_key(path, id);
	struct tg_buf b = TG_BUF_INIT;
	char *buf = NULL;
	size_t blen = 0;
	bool parsed, too_big;
	int err;

	if ((err = read_blob(&buf, &blen, &too_big, db, id)) < 0)
		return err;
	if (buf) {
		tg_infer_blob(&b, &parsed, path, buf, blen);
		if (parsed)
			db->stats.parsed++;
		free(buf);
	}
	*out = add_fresh(db, &key,
			 b.len ? (unsigned char *)tg_buf_detach(&b, NULL)
			       : NULL,
			 b.len, too_big);
	tg_buf_release(&b);
	return 0;
}
