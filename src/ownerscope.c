/*
 * The two states of the repository's own definitions that one run needs:
 * the new side from the owner index, the pre-image beside
 * it, and the files a changed definition drags into the check.
 */
#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/node.h"
#include "txguard/resolver.h"
#include "txguard/tree_iter.h"
#include "txguard/ownerscope.h"
#include "txguard/ownerdb.h"
#include "txguard/repo.h"

#include <git2.h>
#include <pthread.h>

static const struct tg_oid zero_oid;

/*
 * The Python files of the new side, one at a time: the index git will
 * commit (txguard's own reader, else libgit2's) or the tree of a
 * revision. The owner index is built from one, and goes over it again
 * for the users of a changed definition; nothing lists the repository.
 */
struct source {
	const struct tg_index *ix;	/* the index, txguard's reader */
	struct git_index *gix;          /* the index, libgit2's */
	struct tg_tree_iter *it;        /* a tree */
	size_t i;
};

static int source_open(struct source *s, struct tg_repo *repo,
		       const char *rev)
{
	int err;

	memset(s, 0, sizeof(*s));
	if (rev)
		return tg_tree_iter_new(&s->it, repo, rev, NULL, 0, NULL);
	if ((err = tg_repo_raw_index(&s->ix, repo)) < 0)
		return err;
	if (s->ix->usable)
		return 0;
	s->ix = NULL;
	return tg_repo_index(&s->gix, repo);
}

/* "*.py", stage 0, regular files: what the owner index selects */
static bool indexed(const char *path, size_t len, unsigned stage,
		    uint32_t mode)
{
	return !stage && (mode == 0100644 || mode == 0100755) && len >= 3 &&
	       !strcmp(path + len - 3, ".py");
}

static int source_next(void *ctx, const char **path, struct tg_oid *id)
{
	struct source *s = ctx;

	if (s->it) {
		struct tg_change ch;
		int got = tg_tree_iter_next(s->it, &ch);

		if (got > 0) {
			*path = ch.path;
			*id = ch.new_id;
		}
		return got;
	}
	if (s->ix) {
		while (s->i < s->ix->nr) {
			const struct tg_index_entry *e = &s->ix->entries[s->i++];

			if (!indexed(e->path, e->pathlen, (e->flags >> 12) & 3,
				     e->mode))
				continue;
			*path = e->path;
			*id = e->id;
			return 1;
		}
		return 0;
	}
	while (s->i < git_index_entrycount(s->gix)) {
		const git_index_entry *e = git_index_get_byindex(s->gix, s->i++);

		if (!e || !indexed(e->path, strlen(e->path),
				   (unsigned)GIT_INDEX_ENTRY_STAGE(e), e->mode))
			continue;
		*path = e->path;
		memcpy(id->id, e->id.id, TG_OID_RAWSZ);
		return 1;
	}
	return 0;
}

static void source_close(struct source *s)
{
	tg_tree_iter_free(s->it);
	memset(s, 0, sizeof(*s));
}

/* The build reads through the repository, which bounds libgit2's caches */
static int read_blob(void *ctx, char **buf, size_t *len,
		     const struct tg_oid *id)
{
	return tg_repo_read_blob(buf, len, ctx, id);
}

static int blob_size(void *ctx, size_t *size, const struct tg_oid *id)
{
	return tg_repo_blob_size(size, ctx, id);
}

int tg_ownerscope_ownerdb(struct tg_ownerdb **db, struct tg_repo *repo,
			  const char *rev, unsigned flags,
			  size_t max_file_size)
{
	struct tg_ownerdb_opts o = { .flags = TG_OWNERDB_TARGETS_ONLY | flags,
				     .read = read_blob,
				     .size = blob_size,
				     .read_ctx = repo };
	struct source s;
	int err;

	*db = NULL;
	o.max_file_size = max_file_size;
	if ((err = source_open(&s, repo, rev)) < 0)
		return err;
	/* the index's paths live as long as the repository; a tree's not */
	if (!rev)
		o.flags |= TG_OWNERDB_BORROW_PATHS;
	err = tg_ownerdb_from_source(db, tg_repo_git(repo), source_next, &s,
				     &o);
	source_close(&s);
	return err;
}

static int cmp_change(const void *a, const void *b, void *arg)
{
	const struct tg_change *v = arg;

	return strcmp(v[*(const size_t *)a].path, v[*(const size_t *)b].path);
}

/* `order` sorts the first n entries of cs (the ones from the diff) */
static long find_change(const struct tg_changeset *cs, const size_t *order,
			size_t n, const char *path)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(cs->files[order[mid]].path, path);

		if (!c)
			return (long)order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * The files that use a definition this change altered are checked
 * whole, against themselves, under both states: what the change turned
 * into a violation is new, what was one already is not.
 */
static int add_dependents(struct tg_ownerscope *st, struct tg_changeset *cs)
{
	struct tg_ownerdb_file *users = NULL;
	size_t nusers = 0, *order, n0 = cs->nr;
	struct source s;
	int err;

	if ((err = source_open(&s, st->repo, st->rev)) < 0)
		return err;
	err = tg_ownerdb_users(&users, &nusers, st->db, st->changed,
			       st->nchanged, source_next, &s);
	source_close(&s);
	if (err < 0 || !nusers) {
		tg_ownerdb_files_free(users, nusers);
		return err;
	}
	order = tg_xcalloc(n0 ? n0 : 1, sizeof(*order));
	for (size_t i = 0; i < n0; i++)
		order[i] = i;
	qsort_r(order, n0, sizeof(*order), cmp_change, cs->files);
	for (size_t k = 0; k < nusers; k++) {
		const struct tg_ownerdb_file *f = &users[k];
		long at = find_change(cs, order, n0, f->path);
		struct tg_change *ch;

		if (at >= 0) {
			cs->files[at].whole_file = true;
			continue;
		}
		TG_ALLOC_GROW(cs->files, cs->nr + 1, cs->alloc);
		ch = &cs->files[cs->nr++];
		memset(ch, 0, sizeof(*ch));
		ch->path = tg_xstrdup(f->path);
		ch->old_path = tg_xstrdup(f->path);
		ch->new_id = f->id;
		ch->old_id = f->id;
		ch->status = TG_CHANGE_MODIFIED;
		ch->whole_file = true;
		if (f->len)
			tg_resolver_add(st->now, f->path, f->data, f->len,
					false);
		st->dependents++;
	}
	free(order);
	tg_ownerdb_files_free(users, nusers);
	return 0;
}

/*
 * The pre-image state, made on first use: only a change with findings
 * needs it, and most commits have none. The records are all read
 * already (two_states), so this cannot fail.
 */
struct tg_resolver *tg_ownerscope_before(struct tg_ownerscope *st)
{
	pthread_mutex_lock(&st->mu);
	if (!st->before && st->db) {
		st->before = tg_ownerdb_new_resolver(st->db);
		for (size_t i = 0; i < st->cs->nr; i++) {
			const struct tg_change *ch = &st->cs->files[i];
			const char *from = ch->old_path ? ch->old_path :
							  ch->path;
			const unsigned char *d = NULL;
			size_t len = 0;

			if (tg_ownerdb_record(&d, &len, st->db, from,
					      &ch->old_id) < 0) {
				tg_error_clear(); /* read in two_states */
				continue;
			}
			/*
			 * Even empty: the pre-image lacks what the new side
			 * defines. A renamed file was at `from`; its
			 * pre-image, analysed under the new path, resolves
			 * as it did there, and the new path holds nothing
			 * for the other files.
			 */
			if (strcmp(from, ch->path)) {
				tg_resolver_add(st->before, from, d, len,
						false);
				tg_resolver_add_moved(st->before, ch->path,
						      from, d, len);
			} else {
				tg_resolver_add(st->before, ch->path, d, len,
						false);
			}
		}
	}
	pthread_mutex_unlock(&st->mu);
	return st->before;
}

/*
 * The blob the change's path held before: none for a file added, or
 * renamed there (what it defines and binds is new at that path, as a
 * module others may already import from).
 */
static const struct tg_oid *old_here(const struct tg_change *ch)
{
	if (!ch->old_path || strcmp(ch->old_path, ch->path))
		return &zero_oid;
	return &ch->old_id;
}

/* Whether two answers name the same thing: kind, ownership, definition. */
static bool same_meaning(const struct tg_resolution *a,
			 const struct tg_resolution *b)
{
	if (a->kind != b->kind || a->owns != b->owns)
		return false;
	if (a->kind == TG_RESOLVED_NONE)
		return true;
	return !strcmp(a->path, b->path) &&
	       !strcmp(a->def->qualname, b->def->qualname);
}

static void add_changed(struct tg_ownerscope *st, const char *name)
{
	for (size_t i = 0; i < st->nchanged; i++)
		if (!strcmp(st->changed[i], name))
			return;
	TG_ALLOC_GROW(st->changed, st->nchanged + 1, st->alloc_changed);
	st->changed[st->nchanged++] = tg_xstrdup(name);
}

/* Whether `name` means something else, from `path`, in the two states. */
static bool meaning_changed(struct tg_resolver *now,
			    struct tg_resolver *before, const char *path,
			    const char *name)
{
	struct tg_resolution was, is;
	size_t len = strlen(name);

	tg_resolver_lookup(&is, now, path, name, len);
	tg_resolver_lookup(&was, before, path, name, len);
	return !same_meaning(&was, &is);
}

/*
 * Whether `name` of the module of `path` means something else, looked
 * up from another file (`from module import name`), in the two states:
 * a package's re-export that appeared, went or points elsewhere. Seen
 * from the file itself, an unbound name may still find the one
 * definition of that name in the repository; from outside it finds
 * nothing.
 */
static bool outside_meaning_changed(struct tg_resolver *now,
				    struct tg_resolver *before,
				    const char *path, const char *name)
{
	struct tg_resolution was, is;
	char *module = tg_infer_module(path);
	char *fqn = *module ? tg_xasprintf("%s.%s", module, name) : NULL;
	bool changed = false;

	if (fqn) {
		tg_resolver_lookup_fqn(&is, now, fqn, strlen(fqn));
		tg_resolver_lookup_fqn(&was, before, fqn, strlen(fqn));
		changed = !same_meaning(&was, &is);
	}
	free(fqn);
	free(module);
	return changed;
}

/* Whether dotted `s` starts with the name `first`: "db", "db.x". */
static bool starts_with(const char *s, const char *first)
{
	size_t n = strlen(first);

	return !strncmp(s, first, n) && (!s[n] || s[n] == '.');
}

/*
 * The names of `inf` (uses, definitions' targets) that go through the
 * import `local`: each that now means something else is changed, by its
 * last part (users are found by it).
 */
static void changed_through(struct tg_ownerscope *st,
			    struct tg_resolver *before, const char *path,
			    const struct tg_inferred *inf, const char *local)
{
	for (size_t i = 0; inf && i < inf->nuses + inf->ndefs; i++) {
		const char *n = i < inf->nuses ? inf->uses[i] :
						 inf->defs[i - inf->nuses].target;

		if (n && strcmp(n, local) && starts_with(n, local) &&
		    meaning_changed(st->now, before, path, n))
			add_changed(st, tg_node_last_part(n, strlen(n), NULL));
	}
}

static struct tg_inferred *decoded(const char *path, const void *data,
				   size_t len)
{
	struct tg_inferred *inf = NULL;

	if (tg_inferred_decode(&inf, path, data, len) < 0) {
		tg_error_clear();
		return NULL;
	}
	return inf;
}

/*
 * A changed import changes what names mean in every file that reaches
 * a definition through it: a package's re-export, a wrapper's target, a
 * module another imports from. For each file whose imports the change
 * touched, a name is changed, like a changed definition's, when it now
 * resolves from that file to something else than before (another
 * definition, or one that owns where the old one did not): each
 * imported name whose import changed, each dotted name the file uses
 * or wraps through such an import (`db.get_session` after `from app
 * import db`), and each definition of the file whose meaning changed
 * with them (a wrapper that now owns). Both states' records are all in
 * place (two_states).
 */
static int changed_imports(struct tg_ownerscope *st,
			   const struct tg_changeset *cs)
{
	struct tg_resolver *before = NULL;

	for (size_t i = 0; i < cs->nr; i++) {
		const struct tg_change *ch = &cs->files[i];
		const unsigned char *a = NULL, *b = NULL;
		size_t alen = 0, blen = 0, nnames = 0, alloc = 0;
		struct tg_inferred *was, *is;
		char **names = NULL;
		int err;

		if ((err = tg_ownerdb_record(&a, &alen, st->db, ch->path,
					     old_here(ch))) < 0 ||
		    (err = tg_ownerdb_record(&b, &blen, st->db, ch->path,
					     &ch->new_id)) < 0)
			return err;
		tg_inferred_changed_bindings(&names, &nnames, &alloc,
					     ch->path, a, alen, b, blen);
		if (!nnames)
			continue;
		if (!before)
			before = tg_ownerscope_before(st);
		was = decoded(ch->path, a, alen);
		is = decoded(ch->path, b, blen);
		for (size_t k = 0; k < nnames; k++) {
			if (meaning_changed(st->now, before, ch->path,
					    names[k]) ||
			    outside_meaning_changed(st->now, before, ch->path,
						    names[k]))
				add_changed(st, names[k]);
			changed_through(st, before, ch->path, was, names[k]);
			changed_through(st, before, ch->path, is, names[k]);
			free(names[k]);
		}
		for (size_t k = 0; is && k < is->ndefs; k++)
			if (meaning_changed(st->now, before, ch->path,
					    is->defs[k].qualname))
				add_changed(st, is->defs[k].name);
		tg_inferred_free(was);
		tg_inferred_free(is);
		free(names);
	}
	return 0;
}

/* Both states for a changeset with a pre-image side. */
static int two_states(struct tg_ownerscope *st, struct tg_changeset *cs)
{
	int err;

	st->now = tg_ownerdb_resolver(st->db);
	st->cs = cs;
	for (size_t i = 0; i < cs->nr; i++) {
		const struct tg_change *ch = &cs->files[i];
		const unsigned char *d;
		size_t len;

		if ((err = tg_ownerdb_record(&d, &len, st->db, ch->path,
					     &ch->new_id)) < 0)
			return err;
		if (len)
			tg_resolver_add(st->now, ch->path, d, len, false);
		/* added: everything it defines is a change */
		if ((err = tg_ownerdb_changed_names(
			     &st->changed, &st->nchanged, &st->alloc_changed,
			     st->db, ch->path, old_here(ch), &ch->new_id)) < 0)
			return err;
		/* renamed: and everything it defined where it was */
		if (old_here(ch) != &ch->old_id && ch->old_path &&
		    (err = tg_ownerdb_changed_names(
			     &st->changed, &st->nchanged, &st->alloc_changed,
			     st->db, ch->old_path, &ch->old_id, &zero_oid)) < 0)
			return err;
	}
	if ((err = changed_imports(st, cs)) < 0)
		return err;
	if (st->nchanged && (err = add_dependents(st, cs)) < 0)
		return err;
	return tg_ownerdb_save(st->db);
}

int tg_ownerscope_staged(struct tg_ownerscope *st, struct tg_repo *repo,
			 struct tg_changeset *cs)
{
	int err;

	if (!cs->nr)
		return 0; /* nothing to check: never build the index */
	st->repo = repo;
	st->rev = NULL;
	if ((err = tg_ownerscope_ownerdb(&st->db, repo, NULL, 0,
					 st->max_file_size)) < 0)
		return err;
	return two_states(st, cs);
}

int tg_ownerscope_branch(struct tg_ownerscope *st, struct tg_repo *repo,
			 struct tg_changeset *cs, const char *head)
{
	int err;

	if (!cs->nr)
		return 0;
	st->repo = repo;
	st->rev = head ? head : "HEAD";
	if ((err = tg_ownerscope_ownerdb(&st->db, repo, st->rev, 0,
					 st->max_file_size)) < 0)
		return err;
	return two_states(st, cs);
}

int tg_ownerscope_scan(struct tg_ownerscope *st, struct tg_repo *repo,
		       const char *rev)
{
	int err;

	st->repo = repo;
	st->rev = rev ? rev : "HEAD";
	if ((err = tg_ownerscope_ownerdb(&st->db, repo, st->rev,
					 TG_OWNERDB_LIVE_ONLY,
					 st->max_file_size)) < 0)
		return err;
	/* each file analysed joins it then (tg_ownerscope_fill) */
	st->now = tg_ownerdb_resolver(st->db);
	tg_ownerdb_def_names(&st->words, &st->nwords, &st->alloc_words,
			     st->db);
	return 0;
}

bool tg_ownerscope_fill(struct tg_ownerscope *st, struct tg_resolver *r,
			const char *path, const struct tg_oid *id)
{
	const unsigned char *d = NULL;
	size_t len = 0;
	int err;

	if (!st->db)
		return false;
	pthread_mutex_lock(&st->mu);
	err = tg_ownerdb_record(&d, &len, st->db, path, id);
	if (err >= 0 && len)
		tg_resolver_fill(r, path, d, len); /* copies it */
	tg_ownerdb_record_done(st->db, d);
	pthread_mutex_unlock(&st->mu);
	if (err < 0) {
		tg_error_clear(); /* the caller parses the file itself */
		return false;
	}
	return len > 0;
}

void tg_ownerscope_init(struct tg_ownerscope *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
}

void tg_ownerscope_release(struct tg_ownerscope *st)
{
	pthread_mutex_destroy(&st->mu);
	tg_resolver_free(st->before);
	tg_ownerdb_free(st->db);
	for (size_t i = 0; i < st->nwords; i++)
		free(st->words[i]);
	free(st->words);
	for (size_t i = 0; i < st->nchanged; i++)
		free(st->changed[i]);
	free(st->changed);
	memset(st, 0, sizeof(*st));
}
