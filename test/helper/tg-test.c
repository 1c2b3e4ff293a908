/*
 * tg-test: the analysis internals for shell tests (git's t/helper).
 *
 *   tg-test analyze [--long] [--config FILE] [--owner NAME]...
 *                   [--factory NAME]... FILE...
 *   tg-test units FILE
 *   tg-test changed FILE OLDSTART,OLDLINES,NEWSTART,NEWLINES...
 *   tg-test infer FILE
 *
 * analyze prints `PATH:LINE: RULE` per finding that is not suppressed,
 * sorted; --long adds the unit, call text, owner text, fingerprint and
 * message. Like the engine, it first adds every FILE's inference to one
 * resolver (infer.h), so owners, dependencies, aliases and factories
 * defined in one file resolve in the others through their imports;
 * module names come from the paths as given. Exit 2 with a message on
 * any error. infer prints the definitions of FILE's inference record,
 * one per line: kind, qualname, line, then the fields that are set.
 */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/buf.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/infer.h"
#include "txguard/resolver.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/suppress.h"
#include "txguard/units.h"

#include <errno.h>
#include <git2.h>

static int die(const char *fmt, const char *arg)
{
	fprintf(stderr, "tg-test: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

static int read_file(char **out, size_t *len, const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, alloc = 0, got;

	*out = NULL;
	if (!fp)
		return tg_error_set(TG_EIO, "cannot open '%s': %s", path,
				    strerror(errno));
	do {
		TG_ALLOC_GROW(buf, n + 65536, alloc);
		got = fread(buf + n, 1, alloc - n, fp);
		n += got;
	} while (got);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		return tg_error_set(TG_EIO, "cannot read '%s'", path);
	}
	fclose(fp);
	*out = buf;
	*len = n;
	return 0;
}

static int load(struct tg_pyfile **py, struct tg_units *units,
		const char *path)
{
	char *src;
	size_t len = 0;
	int err;

	*py = NULL;
	if ((err = read_file(&src, &len, path)) < 0)
		return err;
	err = tg_pyfile_parse(py, path, src, len);
	free(src);
	if (err < 0)
		return err;
	if ((err = tg_units_load(units, *py)) < 0) {
		tg_pyfile_free(*py);
		*py = NULL;
	}
	return err;
}

static int cmd_analyze(int argc, char **argv)
{
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	struct tg_findings all = TG_FINDINGS_INIT;
	struct tg_analyze_opts opts = { 0 };
	struct tg_resolver *resolver = NULL;
	struct tg_pyfile **pys = NULL;
	struct tg_units *units = NULL;
	size_t nfiles = 0;
	bool is_long = false;
	int i, ret = 0;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--long")) {
			is_long = true;
		} else if (!strcmp(argv[i], "--owner") && i + 1 < argc) {
			tg_owner_table_add_owner(&owners, argv[++i],
					    TG_OWNER_CONFIGURED, NULL, NULL);
		} else if (!strcmp(argv[i], "--factory") && i + 1 < argc) {
			tg_owner_table_add_factory(&owners, argv[++i],
					      TG_OWNER_CONFIGURED, NULL);
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			struct tg_config cfg;
			int err;

			tg_config_init(&cfg);
			err = tg_config_load_file(&cfg, argv[++i]);
			for (size_t k = 0; !err && k < cfg.nowners; k++)
				tg_owner_table_add_owner(&owners, cfg.owners[k],
						    TG_OWNER_CONFIGURED, NULL,
						    NULL);
			for (size_t k = 0; !err && k < cfg.nfactories; k++)
				tg_owner_table_add_factory(&owners, cfg.factories[k],
						      TG_OWNER_CONFIGURED,
						      NULL);
			tg_config_release(&cfg);
			if (err < 0) {
				ret = die("%s", tg_error_last());
				goto out;
			}
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			ret = die("analyze: unknown option '%s'", argv[i]);
			goto out;
		}
	}
	if (i >= argc) {
		ret = die("%s", "analyze: no files given");
		goto out;
	}
	opts.owners = &owners;
	opts.flags = TG_ANALYZE_ALL_UNITS;
	opts.resolver = resolver = tg_resolver_new();
	nfiles = (size_t)(argc - i);
	pys = tg_xcalloc(nfiles, sizeof(*pys));
	units = tg_xcalloc(nfiles, sizeof(*units));
	/* the engine's order: every file in the resolver before any query */
	for (size_t k = 0; k < nfiles; k++) {
		struct tg_buf rec = TG_BUF_INIT;

		if (load(&pys[k], &units[k], argv[i + (int)k]) < 0) {
			ret = die("%s", tg_error_last());
			goto out;
		}
		tg_infer_pyfile(&rec, pys[k]);
		tg_resolver_add(resolver, pys[k]->path, rec.ptr, rec.len, true);
		tg_buf_release(&rec);
	}
	for (size_t k = 0; k < nfiles; k++) {
		size_t from = all.nr;
		int err;

		tg_units_mark_all(&units[k]);
		err = tg_analyze(&all, pys[k], &units[k], &opts);
		if (!err)
			err = tg_suppress_apply(&all, from, pys[k], &units[k],
						NULL);
		if (err < 0) {
			ret = die("%s", tg_error_last());
			goto out;
		}
	}
	tg_findings_sort(&all);
	for (size_t k = 0; k < all.nr; k++) {
		const struct tg_finding *f = &all.v[k];

		if (f->status == TG_STATUS_SUPPRESSED)
			continue;
		printf("%s:%u: %s\n", f->path, f->line, f->rule->id);
		if (!is_long)
			continue;
		printf("\tcol %u-%u:%u unit %s\n\tcall %s\n\towner_text %s\n"
		       "\towner %s\n\tfingerprint %s\n\tmessage %s\n\thelp %s\n",
		       f->column, f->end_line, f->end_column, f->unit,
		       f->call_text, f->owner_text ? f->owner_text : "",
		       f->owner ? f->owner : "(null)", f->fingerprint,
		       f->message ? f->message : "(null)",
		       f->help ? f->help : "(null)");
	}
out:
	for (size_t k = 0; k < nfiles; k++) {
		tg_units_release(&units[k]);
		tg_pyfile_free(pys[k]);
	}
	free(pys);
	free(units);
	tg_resolver_free(resolver);
	tg_findings_release(&all);
	tg_owner_table_release(&owners);
	return ret;
}

static int cmd_units(int argc, char **argv)
{
	struct tg_pyfile *py;
	struct tg_units units = TG_UNITS_INIT;

	if (argc != 1)
		return die("%s", "usage: tg-test units FILE");
	if (load(&py, &units, argv[0]) < 0)
		return die("%s", tg_error_last());
	for (size_t i = 0; i < units.nr; i++)
		printf("%u-%u %s\n", units.v[i].start_line, units.v[i].end_line,
		       units.v[i].qualname);
	tg_units_release(&units);
	tg_pyfile_free(py);
	return 0;
}

static int cmd_changed(int argc, char **argv)
{
	struct tg_pyfile *py;
	struct tg_units units = TG_UNITS_INIT;
	struct tg_hunk *hunks;
	int n = argc - 1;

	if (argc < 1)
		return die("%s", "usage: tg-test changed FILE HUNK...");
	hunks = tg_xcalloc(n ? n : 1, sizeof(*hunks));
	for (int i = 0; i < n; i++) {
		struct tg_hunk *h = &hunks[i];

		if (sscanf(argv[i + 1], "%u,%u,%u,%u", &h->old_start,
			   &h->old_lines, &h->new_start, &h->new_lines) != 4) {
			free(hunks);
			return die("changed: bad hunk '%s'", argv[i + 1]);
		}
	}
	if (load(&py, &units, argv[0]) < 0) {
		free(hunks);
		return die("%s", tg_error_last());
	}
	tg_units_mark_changed(&units, hunks, (size_t)n);
	for (size_t i = 0; i < units.nr; i++)
		if (units.v[i].changed)
			printf("%s\n", units.v[i].qualname);
	tg_units_release(&units);
	tg_pyfile_free(py);
	free(hunks);
	return 0;
}

static int cmd_infer(int argc, char **argv)
{
	static const char *const kinds[] = { "?",     "cm",	 "gen",
					     "factory", "alias", "instance",
					     "commits", "decorator" };
	struct tg_pyfile *py = NULL;
	struct tg_units units;
	struct tg_buf rec = TG_BUF_INIT;
	struct tg_inferred *inf;

	if (argc != 1)
		return die("%s", "usage: tg-test infer FILE");
	if (load(&py, &units, argv[0]) < 0)
		return die("%s", tg_error_last());
	tg_infer_pyfile(&rec, py);
	if (tg_inferred_decode(&inf, argv[0], rec.ptr, rec.len) < 0) {
		tg_buf_release(&rec);
		tg_units_release(&units);
		tg_pyfile_free(py);
		return die("%s", tg_error_last());
	}
	for (size_t i = 0; i < inf->ndefs; i++) {
		const struct tg_def *d = &inf->defs[i];

		printf("%s %s:%u%s", kinds[d->kind], d->qualname,
		       (unsigned)d->line, d->owns ? " owns" : "");
		if (d->target)
			printf(" target=%s", d->target);
		if (d->how)
			printf(" how=%s", d->how);
		if (d->param)
			printf(" param=%s#%d", d->param, (int)d->param_index);
		if (d->arg)
			printf(" arg=%s", d->arg);
		if (d->guard)
			printf(" guard=%s", d->guard);
		putchar('\n');
	}
	for (size_t i = 0; i < inf->nuses; i++)
		printf("use %s\n", inf->uses[i]);
	tg_inferred_free(inf);
	tg_buf_release(&rec);
	tg_units_release(&units);
	tg_pyfile_free(py);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc < 2)
		return die("%s", "usage: tg-test (analyze|units|changed|infer) ...");
	/* the config reader (--config) parses with libgit2 */
	git_libgit2_init();
	if (!strcmp(argv[1], "analyze"))
		ret = cmd_analyze(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "units"))
		ret = cmd_units(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "changed"))
		ret = cmd_changed(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "infer"))
		ret = cmd_infer(argc - 2, argv + 2);
	else
		ret = die("unknown command '%s'", argv[1]);
	git_libgit2_shutdown();
	if (fflush(stdout) || ferror(stdout))
		ret = die("%s", "write error on stdout");
	return ret;
}
