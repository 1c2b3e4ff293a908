/*
 * The two states of the repository's own definitions that one run needs
 * (SPEC §4, §5): the new side from the owner index, the pre-image beside
 * it, and the files a changed definition drags into the check.
 */
#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/inferstate.h"
#include "txguard/ownerdb.h"
#include "txguard/repo.h"

#include <git2.h>
#include <pthread.h>

static const struct tg_oid zero_oid;

static int tree_of(struct tg_oid *out, git_repository *git, const char *rev)
{
	git_object *obj = NULL, *tree = NULL;

	if (git_revparse_single(&obj, git, rev) < 0)
		return tg_error_git("cannot resolve the revision to check");
	if (git_object_peel(&tree, obj, GIT_OBJECT_TREE) < 0) {
		git_object_free(obj);
		return tg_error_git("the revision to check has no tree");
	}
	memcpy(out->id, git_object_id(tree)->id, TG_OID_RAWSZ);
	git_object_free(tree);
	git_object_free(obj);
	return 0;
}

/* The index git will commit: txguard's own reader, else libgit2's. */
static int db_from_index(struct tg_ownerdb **db, struct tg_repo *repo)
{
	const struct tg_raw_index *ix = NULL;
	struct tg_ownerdb_file *files = NULL;
	size_t n = 0;
	int err;

	if ((err = tg_repo_raw_index(&ix, repo)) < 0)
		return err;
	if (!ix->usable) {
		struct git_index *index;

		if ((err = tg_repo_index(&index, repo)) < 0)
			return err;
		return tg_ownerdb_from_index(db, tg_repo_git(repo), index,
					     NULL, NULL);
	}
	files = tg_xcalloc(ix->nr ? ix->nr : 1, sizeof(*files));
	for (size_t i = 0; i < ix->nr; i++) {
		const struct tg_index_entry *e = &ix->entries[i];

		/* stage 0, regular files; "*.py" as the owner index selects */
		if ((e->flags & 0x3000) || (e->mode != 0100644 &&
					    e->mode != 0100755) ||
		    e->pathlen < 3 || strcmp(e->path + e->pathlen - 3, ".py"))
			continue;
		files[n].path = (char *)e->path;
		files[n].id = e->id;
		n++;
	}
	{
		/* the repository's index reader outlives the run */
		struct tg_ownerdb_opts o = { .flags = TG_OWNERDB_BORROW_PATHS };

		err = tg_ownerdb_from_list(db, tg_repo_git(repo), files, n, &o);
	}
	free(files);
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
 * §4: the files that use a definition this change altered are checked
 * whole, against themselves, under both states: what the change turned
 * into a violation is new, what was one already is not.
 */
static void add_dependents(struct tg_inferstate *st, struct tg_changeset *cs)
{
	size_t *users = NULL, nusers = 0, *order, n0 = cs->nr;

	tg_ownerdb_users(&users, &nusers, st->db, st->changed, st->nchanged);
	if (!nusers)
		return;
	order = tg_xcalloc(n0 ? n0 : 1, sizeof(*order));
	for (size_t i = 0; i < n0; i++)
		order[i] = i;
	qsort_r(order, n0, sizeof(*order), cmp_change, cs->files);
	for (size_t k = 0; k < nusers; k++) {
		const struct tg_ownerdb_file *f =
			tg_ownerdb_file(st->db, users[k]);
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
	free(users);
}

/*
 * The pre-image state, made on first use: only a change with findings
 * needs it, and most commits have none (§12). The records are all read
 * already (two_states), so this cannot fail.
 */
struct tg_resolver *tg_inferstate_before(struct tg_inferstate *st)
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
			/* even empty: the pre-image lacks what the new
			 * side defines */
			tg_resolver_add(st->before, ch->path, d, len, false);
			if (strcmp(from, ch->path))
				tg_resolver_add(st->before, from, d, len,
						false);
		}
	}
	pthread_mutex_unlock(&st->mu);
	return st->before;
}

/* Both states for a changeset with a pre-image side. */
static int two_states(struct tg_inferstate *st, struct tg_changeset *cs)
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
			     st->db, ch->path,
			     ch->old_path ? &ch->old_id : &zero_oid,
			     &ch->new_id)) < 0)
			return err;
	}
	if (st->nchanged)
		add_dependents(st, cs);
	return tg_ownerdb_save(st->db);
}

int tg_inferstate_ownerdb(struct tg_ownerdb **db, struct tg_repo *repo,
			  const char *rev)
{
	struct tg_oid tree;
	int err;

	*db = NULL;
	if (!rev)
		return db_from_index(db, repo);
	if ((err = tree_of(&tree, tg_repo_git(repo), rev)) < 0)
		return err;
	return tg_ownerdb_from_tree(db, tg_repo_git(repo), &tree, NULL, NULL);
}

int tg_inferstate_staged(struct tg_inferstate *st, struct tg_repo *repo,
			 struct tg_changeset *cs)
{
	int err;

	if (!cs->nr)
		return 0; /* nothing to check: never build the index */
	if ((err = db_from_index(&st->db, repo)) < 0)
		return err;
	return two_states(st, cs);
}

int tg_inferstate_branch(struct tg_inferstate *st, struct tg_repo *repo,
			 struct tg_changeset *cs, const char *head)
{
	int err;

	if (!cs->nr)
		return 0;
	if ((err = tg_inferstate_ownerdb(&st->db, repo, head)) < 0)
		return err;
	return two_states(st, cs);
}

int tg_inferstate_scan(struct tg_inferstate *st, struct tg_repo *repo,
		       const struct tg_changeset *cs, const char *rev)
{
	int err;

	if (!cs->nr)
		return 0;
	if ((err = tg_inferstate_ownerdb(&st->db, repo, rev)) < 0)
		return err;
	st->now = tg_ownerdb_resolver(st->db);
	/* every scanned file binds its own imports (infer.h) */
	for (size_t i = 0; i < cs->nr; i++) {
		const struct tg_change *ch = &cs->files[i];
		const unsigned char *d;
		size_t len;

		if ((err = tg_ownerdb_record(&d, &len, st->db, ch->path,
					     &ch->new_id)) < 0)
			return err;
		if (len && tg_resolver_needs(st->now, ch->path))
			tg_resolver_add(st->now, ch->path, d, len, false);
	}
	tg_ownerdb_def_names(&st->words, &st->nwords, &st->alloc_words,
			     st->db);
	return 0;
}

void tg_inferstate_init(struct tg_inferstate *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
}

void tg_inferstate_release(struct tg_inferstate *st)
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
