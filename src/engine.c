/*
 * The per-file pipeline, wired once for every mode:
 *
 *   new blob → parse → units, mark changed → rules → fingerprints
 *   old blob (same or rename-source path) → the same units → rules
 *   → new findings that match an old one by fingerprint, by count, are
 *     pre-existing → report
 *
 * Files are handled one at a time and freed before the next, so memory
 * follows the largest file, not the change.
 */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/buf.h"
#include "txguard/infer.h"
#include "txguard/node.h"
#include "txguard/resolver.h"
#include "txguard/ownerscope.h"
#include "txguard/finding.h"
#include "txguard/pyparse.h"
#include "txguard/repo.h"
#include "txguard/report.h"
#include "txguard/suppress.h"
#include "txguard/owner_table.h"
#include "txguard/units.h"

#include <pthread.h>
#include <tree_sitter/api.h>

static const struct tg_oid zero_oid;

/*
 * Queries from a file resolve through its own imports, so the resolver
 * needs the file's record before its analysis. Only files that can be a
 * resolution target are in it from the start (ownerdb.h): take this one's
 * record from the owner index by blob id, or, when the index skipped its
 * blob (none of its pre-filter words) or there is no index, make one from
 * this parse.
 */
static void fill_resolver(struct tg_resolver *r, struct tg_ownerscope *st,
			  const struct tg_oid *id, const struct tg_pyfile *py)
{
	struct tg_buf rec = TG_BUF_INIT;

	if (!r || !tg_resolver_needs(r, py->path))
		return;
	if (st && id && tg_ownerscope_fill(st, r, py->path, id))
		return;
	tg_infer_pyfile(&rec, py);
	tg_resolver_fill(r, py->path, rec.ptr, rec.len);
	tg_buf_release(&rec);
}

static void attach_snippets(struct tg_findings *list, size_t from,
			    const struct tg_pyfile *py)
{
	for (size_t i = from; i < list->nr; i++) {
		struct tg_finding *f = &list->v[i];
		size_t len;
		const char *line = tg_pyfile_line(py, f->line, &len);

		if (line && !f->snippet)
			f->snippet = tg_xstrndup(line, len);
	}
}

/*
 * The pre-image: analyse the old blob's units that carry the qualified
 * name of a changed new unit, under the new path so that fingerprints
 * (which include the path) line up across renames.
 */
static int preimage_findings(struct tg_findings *out, const char *path,
			     const char *old, size_t old_len,
			     const struct tg_units *cur_units,
			     const struct tg_analyze_opts *aopts)
{
	struct tg_pyfile *py = NULL;
	struct tg_units units = TG_UNITS_INIT;
	int err;

	err = tg_pyfile_parse(&py, path, old, old_len);
	if (err == TG_EBINARY || err == TG_ETOODEEP)
		return 0; /* unreadable before: everything in it now is new */
	if (err < 0)
		goto out;
	fill_resolver(aopts->resolver, NULL, NULL, py);
	if ((err = tg_units_load(&units, py)) < 0)
		goto out;
	for (size_t i = 0; i < cur_units->nr; i++) {
		long j;

		if (!cur_units->v[i].changed)
			continue;
		j = tg_units_find(&units, cur_units->v[i].qualname);
		if (j >= 0)
			units.v[j].changed = true;
	}
	err = tg_analyze(out, py, &units, aopts);
out:
	tg_units_release(&units);
	tg_pyfile_free(py);
	return err;
}

/*
 * Where the first syntax error is (1-based line and byte column): a
 * missing token, or in the first error node that holds no other error,
 * its first child that is not a whole statement or definition.
 */
static void first_error(const struct tg_pyfile *py, uint32_t *line,
			uint32_t *col)
{
	TSNode n;
	TSPoint at = { 0, 0 };

	if (tg_node_find_error(ts_tree_root_node(py->tree), true, &n)) {
		at = ts_node_start_point(n);
		for (uint32_t i = 0; !ts_node_is_missing(n) &&
				     i < ts_node_child_count(n); i++) {
			TSNode c = ts_node_child(n, i);
			const char *t = ts_node_type(c);
			size_t l = strlen(t);

			if (!(l > 10 && !strcmp(t + l - 10, "_statement")) &&
			    !(l > 11 && !strcmp(t + l - 11, "_definition"))) {
				at = ts_node_start_point(c);
				break;
			}
		}
	}
	*line = at.row + 1;
	*col = at.column + 1;
}

static bool has_word(const char *src, size_t len, const char *w, size_t wlen)
{
	return wlen && memmem(src, len, w, wlen) != NULL;
}

static bool has_name(const char *src, size_t len, const char *name)
{
	const char *last = tg_node_last_part(name, strlen(name), NULL);

	return has_word(src, len, last, strlen(last));
}

/*
 * A literal pre-filter at memory speed. Every rule needs one of
 * these words in the file (`.begin` as written in `X.begin()`; a space
 * before the dot would hide it, which no formatter produces): TX001 a
 * .commit()/.rollback(); TX002 a session
 * factory (SQLAlchemy's Session/AsyncSession, sessionmaker or
 * scoped_session called in place, a configured factory; a variable
 * merely named session cannot fire without one of the others);
 * TX003 an owner (X.begin(), a configured owner), a factory or a commit;
 * TX004 a session from an owner or a Depends() parameter. A directive
 * (`txguard:`) keeps the file too, so unused ones are still reported.
 * The names of the repository's own owners, dependencies, aliases and
 * factories (opts->words, from the owner index) join the list.
 */
static bool can_matter(const char *src, size_t len,
		       const struct tg_engine_opts *opts)
{
	const struct tg_owner_table *owners = opts->owners;

	static const char *const words[] = {
		"commit", "rollback", ".begin", "Session", "Depends", "txguard:",
		/* a factory made and called in place: sessionmaker(...)() */
		"sessionmaker", "scoped_session",
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(words); i++)
		if (has_word(src, len, words[i], strlen(words[i])))
			return true;
	for (size_t i = 0; i < opts->nwords; i++)
		if (has_word(src, len, opts->words[i], strlen(opts->words[i])))
			return true;
	if (!owners)
		return false;
	for (size_t i = 0; i < owners->nowners; i++)
		if (has_name(src, len, owners->owners[i].name))
			return true;
	for (size_t i = 0; i < owners->nfactories; i++)
		if (has_name(src, len, owners->factories[i].name))
			return true;
	return false;
}

/*
 * The pre-filter, function by function: a finding sits at a call or
 * statement holding one of can_matter()'s words, in the unit that holds
 * it, so a function whose text (decorators to last line) has none of
 * them, no name imported under another name (`get_db as db`) whose own
 * name has one, and no `noqa` directive (whose disuse is reported)
 * cannot produce one: the analysis skips it and the functions nested in
 * it. The module unit spans the whole file, which passed. Such units
 * still count as checked.
 */
static void skip_silent_units(struct tg_units *units,
			      const struct tg_pyfile *py,
			      const struct tg_engine_opts *opts,
			      const struct tg_inferred *inf)
{
	const char **renamed;
	size_t nrenamed = 0;

	if (!inf)
		return; /* the file's imports unknown: analyse everything */
	/* the file's renamed imports that matter, once for all its units */
	renamed = tg_xcalloc(inf->nimports + 1, sizeof(*renamed));
	for (size_t i = 0; i < inf->nimports; i++) {
		const char *local = inf->imports[i].local;
		const char *fqn = inf->imports[i].fqn;
		const char *last = tg_node_last_part(fqn, strlen(fqn), NULL);

		if (strcmp(local, last) && can_matter(last, strlen(last), opts))
			renamed[nrenamed++] = local;
	}
	for (size_t i = 1; i < units->nr; i++) {
		struct tg_unit *u = &units->v[i];
		size_t len;
		const char *from = tg_pyfile_line(py, u->start_line, &len);
		bool keep;

		if (!u->changed || !from || u->end_byte > py->len ||
		    from > py->src + u->end_byte)
			continue;
		len = (size_t)(py->src + u->end_byte - from);
		keep = can_matter(from, len, opts) ||
		       has_word(from, len, "noqa", 4);
		for (size_t k = 0; !keep && k < nrenamed; k++)
			keep = has_word(from, len, renamed[k],
					strlen(renamed[k]));
		if (!keep)
			u->changed = false;
	}
	free(renamed);
}

/* [txguard "rule.ID"] severity: a configured severity, or off (dropped) */
static void apply_rule_config(struct tg_findings *list,
			      const struct tg_config *cfg)
{
	size_t kept = 0;

	if (!cfg)
		return;
	for (size_t i = 0; i < list->nr; i++) {
		struct tg_finding *f = &list->v[i];
		int sev = tg_config_rule_severity(cfg, f->rule);

		if (sev < 0) {
			tg_finding_release(f);
			continue;
		}
		f->severity = (enum tg_severity)sev;
		list->v[kept++] = *f;
	}
	list->nr = kept;
}

static int run_file(struct tg_report *r, const char *path,
		    const struct tg_oid *id, const char *src,
		    size_t len, const char *old, size_t old_len,
		    const struct tg_hunk *hunks, size_t nhunks, bool whole,
		    const struct tg_engine_opts *opts)
{
	struct tg_pyfile *py = NULL;
	struct tg_units units = TG_UNITS_INIT;
	struct tg_findings cur = TG_FINDINGS_INIT, prev = TG_FINDINGS_INIT;
	struct tg_analyze_opts aopts = { 0 };
	struct tg_suppressions unused = TG_SUPPRESSIONS_INIT;
	size_t changed = 0;
	int err;

	aopts.owners = opts->owners;
	aopts.resolver = opts->resolver;
	if (whole && opts->prefilter && !old &&
	    !can_matter(src, len, opts)) {
		r->files_checked++;
		r->prefiltered++;
		return 0;
	}
	err = tg_pyfile_parse(&py, path, src, len);
	if (err == TG_EBINARY) {
		r->skipped.binary++;
		err = 0;
		goto out;
	}
	if (err == TG_ETOODEEP) {
		/* Bounded, and said: never a crash, never a silent skip */
		r->skipped.too_complex++;
		tg_report_notice(r, "%s: skipped: %s", path, tg_error_last());
		err = 0;
		goto out;
	}
	if (err < 0)
		goto out;
	r->files_checked++;
	if (py->has_errors) {
		uint32_t eline, ecol;

		first_error(py, &eline, &ecol);
		r->partial_files++;
		tg_report_notice(r,
				 "%s:%u:%u: syntax error; only the parts whose structure is clear were analysed",
				 path, eline, ecol);
	}
	if ((err = tg_units_load(&units, py)) < 0)
		goto out;
	if (whole)
		tg_units_mark_all(&units);
	else
		tg_units_mark_changed(&units, hunks, nhunks);
	for (size_t i = 0; i < units.nr; i++)
		changed += units.v[i].changed;
	r->units_checked += changed;
	if (!changed)
		goto out;
	if (opts->record_units)
		for (size_t i = 0; i < units.nr; i++)
			if (units.v[i].changed)
				tg_report_add_unit(r, path, units.v[i].qualname);
	fill_resolver(opts->resolver, opts->infer, id, py);
	if (opts->resolver && tg_resolver_incomplete(opts->resolver, path)) {
		r->incomplete_files++;
		tg_report_notice(r,
				 "%s: too costly to analyse fully: its imports, definitions and uses were read in part",
				 path);
	}
	if (whole && opts->prefilter && !old && opts->resolver)
		skip_silent_units(&units, py, opts,
				  tg_resolver_file(opts->resolver, path));
	if ((err = tg_analyze(&cur, py, &units, &aopts)) < 0)
		goto out;
	apply_rule_config(&cur, opts->cfg);
	/* Inline directives; one that suppresses nothing is a notice */
	tg_suppress_apply(&cur, 0, py, &units, &unused);
	for (size_t i = 0; i < unused.nr; i++)
		tg_report_notice(r, "%s:%u: '# %s' suppresses nothing",
				 path, unused.v[i].line, unused.v[i].text);
	attach_snippets(&cur, 0, py);
	if (old && cur.nr) {
		/* The pre-image as it was, owners and factories included */
		if (opts->infer && tg_ownerscope_before(opts->infer))
			aopts.resolver = tg_ownerscope_before(opts->infer);
		if (old_len == len && !memcmp(old, src, len)) {
			/* a file re-checked for a definition it uses: its
			 * own parse, under the pre-image's definitions */
			fill_resolver(aopts.resolver, NULL, NULL, py);
			err = tg_analyze(&prev, py, &units, &aopts);
		} else {
			err = preimage_findings(&prev, path, old, old_len,
						&units, &aopts);
		}
		if (err < 0)
			goto out;
		tg_findings_match_preimage(&cur, &prev);
	}
	/* an owner's record that could not be read: never a silent miss */
	if ((opts->resolver && (err = tg_resolver_error(opts->resolver)) < 0) ||
	    (aopts.resolver != opts->resolver &&
	     (err = tg_resolver_error(aopts.resolver)) < 0))
		goto out;
	tg_findings_move(&r->findings, &cur);
out:
	if (opts->resolver)
		tg_resolver_done(opts->resolver, path);
	tg_suppressions_release(&unused);
	tg_findings_release(&prev);
	tg_findings_release(&cur);
	tg_units_release(&units);
	tg_pyfile_free(py);
	return err;
}

/*
 * Read a blob unless it is over the configured size limit, which skips
 * the file with a notice (maxFileSize). *out stays NULL then.
 */
static int read_limited(char **out, size_t *len, bool *too_large,
			struct tg_repo *repo, const struct tg_oid *id,
			size_t limit)
{
	size_t size;
	int err;

	*out = NULL;
	*too_large = false;
	if ((err = tg_repo_blob_size(&size, repo, id)) < 0)
		return err;
	if (limit && size > limit) {
		*too_large = true;
		return 0;
	}
	return tg_repo_read_blob(out, len, repo, id);
}

/*
 * One file's bytes, read by the main thread, analysed by a worker. The
 * job owns copies of the change's paths (a streamed source reuses its
 * buffers); the hunks are the source's, valid for the whole run.
 */
struct job {
	struct tg_change ch;
	char *src, *old;
	size_t len, old_len;
};

static void job_release(struct job *j)
{
	free(j->ch.path);
	free(j->ch.old_path);
	free(j->src);
	free(j->old);
}

/*
 * The scan's thread pool: libgit2 objects are not shared between threads,
 * so the calling thread alone reads blobs and hands them over through a
 * small bounded queue (memory stays a few files' worth); workers parse and
 * analyse into reports of their own, merged at the end.
 */
#define QUEUE_SLOTS 8

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct job queue[QUEUE_SLOTS];
	size_t head, count;
	bool done;
	const struct tg_engine_opts *opts;
	int err;        /* first worker error */
	char errmsg[1024];
};

struct worker {
	pthread_t thread;
	struct pool *pool;
	struct tg_report report;
};

static int run_job(struct tg_report *r, struct job *j,
		   const struct tg_engine_opts *opts)
{
	bool whole = j->ch.status == TG_CHANGE_ADDED ||
		     j->ch.status == TG_CHANGE_WHOLE || j->ch.whole_file;

	return run_file(r, j->ch.path, &j->ch.new_id, j->src, j->len, j->old,
			j->old_len, j->ch.hunks, j->ch.nhunks, whole, opts);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	for (;;) {
		struct job j;
		int err;

		pthread_mutex_lock(&p->lock);
		while (!p->count && !p->done)
			pthread_cond_wait(&p->not_empty, &p->lock);
		if (!p->count) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = p->queue[p->head];
		p->head = (p->head + 1) % QUEUE_SLOTS;
		p->count--;
		pthread_cond_signal(&p->not_full);
		pthread_mutex_unlock(&p->lock);

		err = p->err ? 0 : run_job(&w->report, &j, p->opts);
		job_release(&j);
		if (err < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->err) {
				p->err = err;
				snprintf(p->errmsg, sizeof(p->errmsg), "%s",
					 tg_error_last());
			}
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

static void pool_push(struct pool *p, struct job *j)
{
	pthread_mutex_lock(&p->lock);
	while (p->count == QUEUE_SLOTS)
		pthread_cond_wait(&p->not_full, &p->lock);
	p->queue[(p->head + p->count) % QUEUE_SLOTS] = *j;
	p->count++;
	pthread_cond_signal(&p->not_empty);
	pthread_mutex_unlock(&p->lock);
}

static void report_merge(struct tg_report *to, struct tg_report *from)
{
	tg_findings_move(&to->findings, &from->findings);
	for (size_t i = 0; i < from->nnotices; i++) {
		TG_ALLOC_GROW(to->notices, to->nnotices + 1, to->alloc_notices);
		to->notices[to->nnotices++] = from->notices[i];
	}
	from->nnotices = 0;
	for (size_t i = 0; i < from->nanalysed; i++) {
		TG_ALLOC_GROW(to->analysed, to->nanalysed + 1, to->alloc_analysed);
		to->analysed[to->nanalysed++] = from->analysed[i];
	}
	from->nanalysed = 0;
	to->files_checked += from->files_checked;
	to->units_checked += from->units_checked;
	to->partial_files += from->partial_files;
	to->incomplete_files += from->incomplete_files;
	to->prefiltered += from->prefiltered;
	to->skipped.binary += from->skipped.binary;
	to->skipped.too_large += from->skipped.too_large;
	to->skipped.too_complex += from->skipped.too_complex;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Read one change's blobs (the new one, and the pre-image unless the whole
 * file counts as changed) into a job that owns a copy of the change.
 * *skip is set when the new blob is over the size limit (counted and
 * noticed here).
 */
static int read_job(struct job *j, bool *skip, struct tg_report *report,
		    struct tg_repo *repo, const struct tg_change *ch,
		    size_t limit)
{
	bool too_large, whole;
	int err;

	memset(j, 0, sizeof(*j));
	*skip = false;
	err = read_limited(&j->src, &j->len, &too_large, repo, &ch->new_id,
			   limit);
	if (err < 0)
		return err;
	if (too_large) {
		report->skipped.too_large++;
		tg_report_notice(report,
				 "%s: skipped, larger than maxFileSize (%zu bytes)",
				 ch->path, limit);
		*skip = true;
		return 0;
	}
	whole = ch->status == TG_CHANGE_ADDED || ch->status == TG_CHANGE_WHOLE;
	if (!whole && ch->old_path &&
	    !memcmp(&ch->old_id, &ch->new_id, sizeof(ch->new_id))) {
		/* a file re-checked for a definition it uses: one read */
		j->old = tg_xmalloc(j->len + 1);
		memcpy(j->old, j->src, j->len + 1);
		j->old_len = j->len;
	} else if (!whole && ch->old_path &&
		   memcmp(&ch->old_id, &zero_oid, sizeof(zero_oid))) {
		err = read_limited(&j->old, &j->old_len, &too_large, repo,
				   &ch->old_id, limit);
		if (err < 0) {
			job_release(j);
			return err;
		}
	}
	j->ch = *ch;
	j->ch.path = tg_xstrdup(ch->path);
	j->ch.old_path = ch->old_path ? tg_xstrdup(ch->old_path) : NULL;
	return 0;
}

static int run_serial(struct tg_report *report, struct tg_repo *repo,
		      tg_engine_next_fn next, void *ctx,
		      const struct tg_engine_opts *opts, size_t limit)
{
	struct tg_change ch;
	int got;

	while ((got = next(ctx, &ch)) > 0) {
		struct job j;
		bool skip;
		int err = read_job(&j, &skip, report, repo, &ch, limit);

		if (err < 0)
			return err;
		if (skip)
			continue;
		err = run_job(report, &j, opts);
		job_release(&j);
		if (err < 0)
			return err;
	}
	return got;
}

static int run_threaded(struct tg_report *report, struct tg_repo *repo,
			tg_engine_next_fn next, void *ctx,
			const struct tg_engine_opts *opts, size_t limit)
{
	struct pool p = { .opts = opts };
	struct worker *w;
	struct tg_change ch;
	unsigned n = opts->threads, started = 0;
	int err = 0;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.not_empty, NULL);
	pthread_cond_init(&p.not_full, NULL);
	w = tg_xcalloc(n, sizeof(*w));
	for (; started < n; started++) {
		w[started].pool = &p;
		if (pthread_create(&w[started].thread, NULL, worker_main,
				   &w[started]))
			break;
	}
	if (!started) {
		err = tg_error_set(TG_ERROR, "cannot start worker threads");
		goto out;
	}
	while (!p.err && (err = next(ctx, &ch)) > 0) {
		struct job j;
		bool skip;

		if ((err = read_job(&j, &skip, report, repo, &ch, limit)) < 0)
			break;
		if (!skip)
			pool_push(&p, &j);
	}
	if (err > 0)
		err = 0; /* stopped by a worker's error */
	pthread_mutex_lock(&p.lock);
	p.done = true;
	pthread_cond_broadcast(&p.not_empty);
	pthread_mutex_unlock(&p.lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	if (!err && p.err)
		err = tg_error_set(p.err, "%s", p.errmsg);
out:
	for (unsigned i = 0; i < n; i++) {
		report_merge(report, &w[i].report);
		tg_report_release(&w[i].report);
	}
	free(w);
	if (report->nnotices > 1)
		qsort(report->notices, report->nnotices,
		      sizeof(*report->notices), cmp_str);
	pthread_cond_destroy(&p.not_full);
	pthread_cond_destroy(&p.not_empty);
	pthread_mutex_destroy(&p.lock);
	return err;
}

int tg_engine_run_source(struct tg_report *report, struct tg_repo *repo,
			 tg_engine_next_fn next, void *ctx,
			 const struct tg_engine_opts *opts)
{
	size_t limit = opts->cfg ? opts->cfg->max_file_size : 0;

	if (opts->threads > 1)
		return run_threaded(report, repo, next, ctx, opts, limit);
	return run_serial(report, repo, next, ctx, opts, limit);
}

struct cs_source {
	const struct tg_changeset *cs;
	size_t i;
};

static int cs_next(void *ctx, struct tg_change *ch)
{
	struct cs_source *src = ctx;

	if (src->i >= src->cs->nr)
		return 0;
	*ch = src->cs->files[src->i++];
	return 1;
}

int tg_engine_run(struct tg_report *report, struct tg_repo *repo,
		  const struct tg_changeset *cs,
		  const struct tg_engine_opts *opts)
{
	struct cs_source src = { cs, 0 };
	struct tg_engine_opts o = *opts;

	/* threads only pay off when there are files to share out */
	if (cs->nr < 2)
		o.threads = 1;
	return tg_engine_run_source(report, repo, cs_next, &src, &o);
}

int tg_engine_run_buffers(struct tg_report *report, const char *path,
			  const char *src, size_t len, const char *old,
			  size_t old_len, const struct tg_hunk *hunks,
			  size_t nhunks, const struct tg_engine_opts *opts)
{
	return run_file(report, path, NULL, src, len, old, old_len, hunks,
			nhunks, !hunks, opts);
}
