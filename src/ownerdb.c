/*
 * ownerdb.c: the owner index (ownerdb.h): the db object, its sources
 * and its queries. The cache's files are ownerdb_store.c's; how files
 * get their records, ownerdb_build.c's.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/glob.h"
#include "txguard/infer.h"
#include "txguard/inferred.h"
#include "txguard/ownerdb.h"
#include "txguard/ownerdb_build.h"
#include "txguard/ownerdb_store.h"
#include "txguard/progress.h"
#include "txguard/resolver.h"
#include "txguard/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <git2.h>

char *tg_ownerdb_default_path(struct git_repository *repo)
{
	const char *common = git_repository_commondir(repo);
	size_t l;

	if (!common)
		common = git_repository_path(repo);
	if (!common)
		return NULL;
	l = strlen(common);
	return tg_xasprintf("%s%stxguard/ownerdb-v3", common,
			    l && common[l - 1] == '/' ? "" : "/");
}

const unsigned char *tg_ownerdb_load(const struct tg_ownerdb_file *f,
				     unsigned char **owned)
{
	struct tg_ownerdb_loc loc;

	*owned = NULL;
	if (f->data || !f->len)
		return f->data;
	loc.fd = f->fd;
	loc.pos = f->pos;
	loc.len = (uint32_t)f->len;
	loc.sum = f->sum;
	loc.hint = 0;
	if (!tg_ownerdb_store_read(owned, &loc)) {
		/* never resolve without it: the resolver fails the run */
		tg_error_set(TG_EIO,
			     "the owner index cache was changed in place while this run read it (the record of %s); run txguard again, and if this repeats, remove the txguard directory in the git directory",
			     f->path);
		return NULL;
	}
	return *owned;
}

static int cmp_rec(const void *a, const void *b)
{
	return tg_ownerdb_store_key_cmp(&((const struct tg_ownerdb_rec *)a)->key,
				  &((const struct tg_ownerdb_rec *)b)->key);
}

int tg_ownerdb_save(struct tg_ownerdb *db)
{
	struct tg_ownerdb_rec *recs;
	size_t n = 0;

	if (db->flags & (TG_OWNERDB_NO_WRITE | TG_OWNERDB_NO_CACHE))
		return 0;
	recs = tg_xmalloc((db->nfresh - db->nsaved + 1) * sizeof(*recs));
	for (size_t i = db->nsaved; i < db->nfresh; i++) {
		const struct tg_ownerdb_fresh *f = &db->fresh[i];

		if (f->keep_out)
			continue;
		recs[n].key = f->key;
		recs[n].data = f->data;
		recs[n++].len = f->len;
	}
	if (n > 1) {
		size_t out = 1;

		qsort(recs, n, sizeof(*recs), cmp_rec);
		for (size_t i = 1; i < n; i++)
			if (tg_ownerdb_store_key_cmp(&recs[out - 1].key,
					       &recs[i].key))
				recs[out++] = recs[i];
		n = out;
	}
	/* failing to write a cache is never an error: the next run redoes it */
	if (tg_ownerdb_store_save(&db->store, recs, n) > 0)
		db->stats.written = true;
	db->nsaved = db->nfresh;
	free(recs);
	return 0;
}

static bool selected(const struct tg_glob_set *python, const char *path)
{
	size_t l;

	if (python)
		return tg_glob_set_match(python, path);
	l = strlen(path);
	return l >= 3 && !strcmp(path + l - 3, ".py");
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct tg_ownerdb_file *)a)->path,
		      ((const struct tg_ownerdb_file *)b)->path);
}

static void sort_files(struct tg_ownerdb *db)
{
	for (size_t i = 1; i < db->nfiles; i++) {
		if (strcmp(db->files[i - 1].path, db->files[i].path) > 0) {
			qsort(db->files, db->nfiles, sizeof(*db->files),
			      cmp_file);
			return;
		}
	}
}

/* A db for a build of `total` files (0: unknown), progress shown. */
static struct tg_ownerdb *db_new(struct git_repository *repo,
				 const struct tg_ownerdb_opts *opts,
				 size_t total)
{
	struct tg_ownerdb *db = tg_ownerdb_build_new(repo, opts);

	db->progress = tg_progress_start("Indexing owners", total);
	return db;
}

static void fail(struct tg_ownerdb *db)
{
	tg_progress_abort(db->progress);
	db->progress = NULL;
	tg_ownerdb_free(db);
}

static int add_raw(struct tg_ownerdb *db, const char *path,
		   const unsigned char *raw)
{
	struct tg_oid id;

	memcpy(id.id, raw, TG_OID_RAWSZ);
	return tg_ownerdb_build_add(db, path, &id);
}

static const unsigned char *load_key(const void *key, unsigned char **owned)
{
	return tg_ownerdb_load(key, owned);
}

/* A file of the db joins a resolver, its record borrowed or left. */
static void add_to(struct tg_resolver *r, const struct tg_ownerdb_file *f)
{
	if (f->data || !f->len)
		tg_resolver_add(r, f->path, f->data, f->len, false);
	else
		tg_resolver_add_lazy(r, f->path, f->len, f->head, load_key, f);
}

/*
 * TG_OWNERDB_LIVE_ONLY: of the packages listed for their imports, keep
 * those whose imports reach a module that defines something, directly
 * or through packages kept (tg_resolver_reaches(), to a fixpoint). Most
 * packages re-export nothing a query looks for; a scan then holds the
 * modules that define owners and the packages on the way to them, not
 * every package of the repository. The records read here go again
 * at once.
 */
static void keep_live(struct tg_ownerdb *db)
{
	struct tg_resolver *r;
	bool *live, grew = true;
	size_t kept = 0;

	if (!(db->flags & TG_OWNERDB_TARGETS_ONLY) ||
	    !(db->flags & TG_OWNERDB_LIVE_ONLY) || !db->nfiles)
		return;
	r = tg_resolver_new();
	live = tg_xcalloc(db->nfiles, sizeof(*live));
	for (size_t i = 0; i < db->nfiles; i++) {
		if (!(db->files[i].head[0] & TG_INFER_HAS_DEFS))
			continue;
		live[i] = true;
		add_to(r, &db->files[i]);
	}
	while (grew) {
		grew = false;
		for (size_t i = 0; i < db->nfiles; i++) {
			const struct tg_ownerdb_file *f = &db->files[i];
			unsigned char *owned;
			const unsigned char *d;

			if (live[i])
				continue;
			d = tg_ownerdb_load(f, &owned);
			if (tg_resolver_reaches(r, f->path, d, f->len)) {
				live[i] = grew = true;
				add_to(r, f);
			}
			free(owned);
		}
	}
	for (size_t i = 0; i < db->nfiles; i++) {
		if (live[i]) {
			db->files[kept++] = db->files[i];
			continue;
		}
		if (!db->files[i].data && db->files[i].len)
			db->nlazy--;
		if (!(db->flags & TG_OWNERDB_BORROW_PATHS))
			free(db->files[i].path);
	}
	db->nfiles = db->alloc_files = kept;
	db->files = tg_xrealloc(db->files, (kept ? kept : 1) *
						   sizeof(*db->files));
	free(live);
	tg_resolver_free(r);
}

static int finish(struct tg_ownerdb **out, struct tg_ownerdb *db)
{
	int err;

	if ((err = tg_ownerdb_build_finish(db)) < 0) {
		fail(db);
		return err;
	}
	sort_files(db);
	for (size_t i = 0; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];

		if (f->data) {
			f->head[0] = f->data[0];
			f->head[1] = f->len > 1 ? f->data[1] : 0;
		}
	}
	tg_ownerdb_save(db);
	keep_live(db);
	tg_progress_stop(db->progress);
	db->progress = NULL;
	*out = db;
	return 0;
}

int tg_ownerdb_from_index(struct tg_ownerdb **out,
			  struct git_repository *repo, struct git_index *index,
			  const struct tg_glob_set *python,
			  const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db;
	size_t n = git_index_entrycount(index), total = 0;
	int err;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(index, i);

		total += e && GIT_INDEX_ENTRY_STAGE(e) == 0 &&
			 selected(python, e->path);
	}
	db = db_new(repo, opts, total);
	for (size_t i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(index, i);

		if (!e || GIT_INDEX_ENTRY_STAGE(e) != 0 ||
		    (e->mode != GIT_FILEMODE_BLOB &&
		     e->mode != GIT_FILEMODE_BLOB_EXECUTABLE) ||
		    !selected(python, e->path))
			continue;
		if ((err = add_raw(db, e->path, e->id.id)) < 0) {
			fail(db);
			return err;
		}
	}
	return finish(out, db);
}

struct walk {
	struct tg_ownerdb *db;
	const struct tg_glob_set *python;
	struct tg_buf path;
	int err;
};

static int walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	git_filemode_t mode = git_tree_entry_filemode(e);

	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
		return 0;
	tg_buf_reset(&w->path);
	tg_buf_addstr(&w->path, root);
	tg_buf_addstr(&w->path, git_tree_entry_name(e));
	if (selected(w->python, w->path.ptr) &&
	    (w->err = add_raw(w->db, w->path.ptr,
			      git_tree_entry_id(e)->id)) < 0)
		return -1; /* stops the walk */
	return 0;
}

int tg_ownerdb_from_tree(struct tg_ownerdb **out, struct git_repository *repo,
			 const struct tg_oid *tree,
			 const struct tg_glob_set *python,
			 const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db;
	git_tree *t = NULL;
	git_oid oid;
	struct walk w = { NULL, python, TG_BUF_INIT, 0 };
	int err;
	static const unsigned char zero[TG_OID_RAWSZ];

	*out = NULL;
	db = db_new(repo, opts, 0);
	memcpy(oid.id, tree->id, TG_OID_RAWSZ);
	if (memcmp(tree->id, zero, TG_OID_RAWSZ)) {
		tg_watch_begin("reading tree", oid.id);
		err = git_tree_lookup(&t, repo, &oid);
		tg_watch_end();
		if (err < 0) {
			fail(db);
			return tg_error_git("cannot read the tree");
		}
		w.db = db;
		if (git_tree_walk(t, GIT_TREEWALK_PRE, walk_cb, &w) < 0) {
			git_tree_free(t);
			tg_buf_release(&w.path);
			fail(db);
			return w.err < 0 ? w.err :
					   tg_error_git("cannot walk the tree");
		}
		git_tree_free(t);
		tg_buf_release(&w.path);
	}
	return finish(out, db);
}

int tg_ownerdb_from_list(struct tg_ownerdb **out, struct git_repository *repo,
			 const struct tg_ownerdb_file *files, size_t n,
			 const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db;
	int err;

	*out = NULL;
	db = db_new(repo, opts, n);
	for (size_t i = 0; i < n; i++) {
		if ((err = tg_ownerdb_build_add(db, files[i].path,
						&files[i].id)) < 0) {
			fail(db);
			return err;
		}
	}
	return finish(out, db);
}

int tg_ownerdb_from_source(struct tg_ownerdb **out,
			   struct git_repository *repo,
			   tg_ownerdb_next_fn next, void *ctx,
			   const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db;
	const char *path;
	struct tg_oid id;
	int got;

	*out = NULL;
	db = db_new(repo, opts, 0);
	while ((got = next(ctx, &path, &id)) > 0)
		if ((got = tg_ownerdb_build_add(db, path, &id)) < 0)
			break;
	if (got < 0) {
		fail(db);
		return got;
	}
	return finish(out, db);
}

void tg_ownerdb_free(struct tg_ownerdb *db)
{
	if (!db)
		return;
	tg_progress_stop(db->progress);
	tg_resolver_free(db->resolver);
	if (!(db->flags & TG_OWNERDB_BORROW_PATHS))
		for (size_t i = 0; i < db->nfiles; i++)
			free(db->files[i].path);
	free(db->files);
	for (size_t i = 0; i < db->nfresh; i++)
		free(db->fresh[i].data);
	free(db->fresh);
	tg_ownerdb_store_close(&db->store);
	for (size_t i = 0; i < db->ncopies; i++)
		free(db->copies[i]);
	free(db->copies);
	git_odb_free(db->odb);
	free(db);
}

const struct tg_ownerdb_stats *tg_ownerdb_stats(const struct tg_ownerdb *db)
{
	return &db->stats;
}

size_t tg_ownerdb_count(const struct tg_ownerdb *db)
{
	return db->nfiles;
}

const struct tg_ownerdb_file *tg_ownerdb_file(const struct tg_ownerdb *db,
					      size_t i)
{
	return i < db->nfiles ? &db->files[i] : NULL;
}

struct tg_resolver *tg_ownerdb_resolver(struct tg_ownerdb *db)
{
	if (!db->resolver)
		db->resolver = tg_ownerdb_new_resolver(db);
	return db->resolver;
}


struct tg_resolver *tg_ownerdb_new_resolver(const struct tg_ownerdb *db)
{
	struct tg_resolver *r = tg_resolver_new();

	/*
	 * Only files that can be a resolution target go in: those
	 * with definitions, and packages for their re-exports. A module
	 * left out resolves like one outside the repository, which finds
	 * nothing either way; the caller adds the files it analyses.
	 */
	for (size_t i = 0; i < db->nfiles; i++) {
		const struct tg_ownerdb_file *f = &db->files[i];

		if (tg_inferred_is_target(f->path, f->head, f->len))
			add_to(r, f);
	}
	return r;
}

int tg_ownerdb_record(const unsigned char **data, size_t *len,
		      struct tg_ownerdb *db, const char *path,
		      const struct tg_oid *id)
{
	static const unsigned char zero[TG_OID_RAWSZ];
	struct tg_ownerdb_key key = tg_ownerdb_store_key(path, id);
	struct tg_ownerdb_loc loc;
	const struct tg_ownerdb_fresh *f;
	int err;

	*data = NULL;
	*len = 0;
	if (!memcmp(id->id, zero, TG_OID_RAWSZ))
		return 0;
	if (tg_ownerdb_store_find(&loc, &db->store, &key, NULL) &&
	    tg_ownerdb_build_copy(data, len, db, &loc))
		return 0;
	if (!(f = tg_ownerdb_build_fresh(db, &key)) &&
	    (err = tg_ownerdb_build_one(&f, db, path, id)) < 0)
		return err;
	*data = f->data;
	*len = f->len;
	return 0;
}

void tg_ownerdb_record_done(struct tg_ownerdb *db, const unsigned char *data)
{
	/* a record just read is the last copy: look at the few last */
	for (size_t i = db->ncopies, n = 0; data && i-- > 0 && n < 8; n++) {
		if (db->copies[i] != data)
			continue;
		free(db->copies[i]);
		db->copies[i] = db->copies[--db->ncopies];
		return;
	}
}

int tg_ownerdb_changed_names(char ***names, size_t *nr, size_t *alloc,
			     struct tg_ownerdb *db, const char *path,
			     const struct tg_oid *old_id,
			     const struct tg_oid *new_id)
{
	const unsigned char *a, *b;
	size_t alen, blen;
	int err;

	if ((err = tg_ownerdb_record(&a, &alen, db, path, old_id)) < 0 ||
	    (err = tg_ownerdb_record(&b, &blen, db, path, new_id)) < 0)
		return err;
	tg_inferred_changed_names(names, nr, alloc, a, alen, b, blen);
	return 0;
}

static int decode(struct tg_inferred **inf, const struct tg_ownerdb_file *f)
{
	unsigned char *owned;
	const unsigned char *data = tg_ownerdb_load(f, &owned);
	int err = tg_inferred_decode(inf, f->path, data, f->len);

	free(owned);
	if (err < 0) {
		tg_error_clear();
		return -1;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void tg_ownerdb_def_names(char ***names, size_t *nr, size_t *alloc,
			  const struct tg_ownerdb *db)
{
	for (size_t i = 0; i < db->nfiles; i++) {
		struct tg_inferred *inf = NULL;

		if (!db->files[i].len ||
		    !(db->files[i].head[0] & TG_INFER_HAS_DEFS) ||
		    decode(&inf, &db->files[i]) < 0)
			continue;
		for (size_t k = 0; k < inf->ndefs; k++) {
			/*
			 * A call to a committing function matters only where a
			 * session is owned, and what owns it is on the list; an
			 * instance's owner methods are on it by their own names.
			 */
			if (inf->defs[k].kind == TG_DEF_COMMITS ||
			    inf->defs[k].kind == TG_DEF_INSTANCE)
				continue;
			TG_ALLOC_GROW(*names, *nr + 1, *alloc);
			(*names)[(*nr)++] = tg_xstrdup(inf->defs[k].name);
		}
		tg_inferred_free(inf);
	}
	if (*nr > 1) {
		size_t out = 1;

		qsort(*names, *nr, sizeof(**names), cmp_name);
		for (size_t i = 1; i < *nr; i++) {
			if (!strcmp((*names)[out - 1], (*names)[i]))
				free((*names)[i]);
			else
				(*names)[out++] = (*names)[i];
		}
		*nr = out;
	}
}

static bool in_names(char *const *names, size_t n, const char *s)
{
	const char *dot = strrchr(s, '.');

	s = dot ? dot + 1 : s;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return true;
	return false;
}

/* Does the file's record use one of `names`? */
static bool uses_any(const struct tg_ownerdb_file *f, char *const *names,
		     size_t nnames)
{
	struct tg_inferred *inf = NULL;
	bool uses = false;

	if (!f->len ||
	    !((f->data ? f->data : f->head)[0] & TG_INFER_HAS_USES) ||
	    decode(&inf, f) < 0)
		return false;
	for (size_t k = 0; k < inf->nuses && !uses; k++)
		uses = in_names(names, nnames, inf->uses[k]);
	tg_inferred_free(inf);
	return uses;
}

static void add_user(struct tg_ownerdb_file **out, size_t *nr, size_t *alloc,
		     const struct tg_ownerdb_file *f)
{
	TG_ALLOC_GROW(*out, *nr + 1, *alloc);
	(*out)[*nr] = *f;
	(*out)[*nr].path = tg_xstrdup(f->path);
	(*nr)++;
}

int tg_ownerdb_users(struct tg_ownerdb_file **out, size_t *nr,
		     struct tg_ownerdb *db, char *const *in, size_t nin,
		     tg_ownerdb_next_fn next, void *ctx)
{
	char **names = NULL;
	size_t nnames = 0, alloc = 0, alloc_out = 0;
	bool grew = true;
	int err = 0;

	*out = NULL;
	*nr = 0;
	for (size_t i = 0; i < nin; i++) {
		TG_ALLOC_GROW(names, nnames + 1, alloc);
		names[nnames++] = tg_xstrdup(in[i]);
	}
	/*
	 * A wrapper or alias of a changed definition changes too. Every
	 * file with definitions is in the list, whatever the flags.
	 */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < db->nfiles; i++) {
			struct tg_inferred *inf = NULL;

			if (!db->files[i].len ||
			    !(db->files[i].head[0] & TG_INFER_HAS_DEFS) ||
			    decode(&inf, &db->files[i]) < 0)
				continue;
			for (size_t k = 0; k < inf->ndefs; k++) {
				const struct tg_def *d = &inf->defs[k];

				if (!d->target ||
				    !in_names(names, nnames, d->target) ||
				    in_names(names, nnames, d->name))
					continue;
				TG_ALLOC_GROW(names, nnames + 1, alloc);
				names[nnames++] = tg_xstrdup(d->name);
				grew = true;
			}
			tg_inferred_free(inf);
		}
	}
	if (!next) {
		for (size_t i = 0; i < db->nfiles; i++)
			if (uses_any(&db->files[i], names, nnames))
				add_user(out, nr, &alloc_out, &db->files[i]);
	} else {
		struct tg_ownerdb_file f = { 0 };
		const char *path;
		int got;

		/* the users need not be targets: ask the source again */
		while ((got = next(ctx, &path, &f.id)) > 0) {
			const unsigned char *d;

			f.path = (char *)path;
			if ((err = tg_ownerdb_record(&d, &f.len, db, path,
						     &f.id)) < 0)
				break;
			f.data = d;
			if (uses_any(&f, names, nnames))
				add_user(out, nr, &alloc_out, &f);
			else
				tg_ownerdb_record_done(db, d);
		}
		if (got < 0)
			err = got;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return err;
}

void tg_ownerdb_files_free(struct tg_ownerdb_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}
