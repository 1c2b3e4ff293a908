/* The repository-wide owner index and its cache. */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/glob.h"
#include "txguard/infer.h"
#include "txguard/resolver.h"
#include "txguard/owner_table.h"
#include "txguard/ownerdb.h"
#include "txguard/pyparse.h"

#include "../helper/testrepo.h"

#include <stdarg.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <git2.h>

/*
 * Temporary: glob.c (another module) is not in the tree yet. A weak
 * stand-in keeps this test linkable; the real one wins once it exists.
 */
__attribute__((weak)) bool tg_glob_set_match(const struct tg_glob_set *set,
					     const char *path)
{
	size_t l = strlen(path);

	(void)set;
	return l >= 3 && !strcmp(path + l - 3, ".py");
}


static const char helpers[] =
	"from contextlib import asynccontextmanager\n"
	"from sqlalchemy.ext.asyncio import async_sessionmaker\n"
	"factory = async_sessionmaker(engine)\n"
	"@asynccontextmanager\n"
	"async def get_background_session():\n"
	"    s = factory()\n"
	"    try:\n"
	"        yield s\n"
	"        await s.commit()\n"
	"    finally:\n"
	"        await s.close()\n"
	"async def get_db():\n"
	"    async with get_background_session() as s:\n"
	"        yield s\n";

static const char jobs[] =
	"from .session_helpers import get_background_session\n"
	"async def run():\n"
	"    async with get_background_session() as s:\n"
	"        await s.commit()\n";

static const char routes[] =
	"from fastapi import Depends\n"
	"from app.session_helpers import get_db\n"
	"async def create(session=Depends(get_db)):\n"
	"    pass\n";

static const char util[] = "def add(a, b):\n    return a + b\n";

static void write_file(const char *path, const char *content)
{
	testrepo_write(path, content);
}

/* The cache's directory, its chain file, its top layer, its layers. */
#define CACHE ".git/txguard"
#define CHAIN CACHE "/ownerdb-v3.chain"
#define TOP CACHE "/$(tail -n 2 " CHAIN " | head -n 1)"
#define NLAYERS "$(grep -c '[.]layer$' " CHAIN ")"
#define EACH_LAYER_EXISTS                                                  \
	"for l in $(grep '[.]layer$' " CHAIN "); do "                      \
	"test -f " CACHE "/$l || exit 1; done"
#define NO_TMP "test -z \"$(ls " CACHE " | grep '[.]tmp-')\""

static char *cache_path(void)
{
	return tg_xasprintf("%s/" CHAIN, testrepo_dir());
}

static int setup(void **state)
{
	(void)state;
	if (testrepo_create("t-ownerdb") < 0)
		return -1;
	setenv("HOME", testrepo_dir(), 1);
	write_file("app/__init__.py", "");
	write_file("app/session_helpers.py", helpers);
	write_file("app/jobs.py", jobs);
	write_file("app/routes.py", routes);
	write_file("app/util.py", util);
	write_file("README.md", "with yield sessionmaker\n");
	testrepo_sh("git add -A");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return testrepo_remove();
}

/* The repository of the last build(): the db reads through it. */
static git_repository *cur_repo;

static struct tg_ownerdb *build(const struct tg_ownerdb_opts *opts)
{
	git_repository *repo = NULL;
	git_index *index = NULL;
	struct tg_ownerdb *db = NULL;

	assert_int_equal(git_repository_open(&repo, testrepo_dir()), 0);
	assert_int_equal(git_repository_index(&index, repo), 0);
	assert_int_equal(tg_ownerdb_from_index(&db, repo, index, NULL, opts),
			 0);
	git_index_free(index);
	cur_repo = repo;
	return db;
}

static void free_db(struct tg_ownerdb *db)
{
	tg_ownerdb_free(db);
	git_repository_free(cur_repo);
	cur_repo = NULL;
}

static void test_cold_then_warm(void **state)
{
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;
	char *cp = cache_path();
	struct stat sb;

	(void)state;
	testrepo_sh("rm -rf " CACHE);
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->files, 5);
	assert_int_equal(st->cached, 0);
	assert_int_equal(st->read, 5);
	/* util.py is filtered out, __init__.py is empty: 3 parses */
	assert_int_equal(st->parsed, 4);
	assert_false(st->cache_valid);
	assert_true(st->written);
	assert_int_equal(stat(cp, &sb), 0);
	assert_string_equal(tg_ownerdb_file(db, 0)->path, "app/__init__.py");
	free_db(db);

	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_true(st->cache_valid);
	assert_int_equal(st->cached, 5);
	assert_int_equal(st->read, 0);
	assert_int_equal(st->parsed, 0);
	assert_false(st->written);
	free_db(db);

	testrepo_sh("test " NLAYERS " = 1");
	/* one changed file: one read, one parse, a new layer */
	write_file("app/jobs.py", "from .session_helpers import get_db\n"
				  "with x():\n    pass\n");
	testrepo_sh("git add app/jobs.py");
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->cached, 4);
	assert_int_equal(st->read, 1);
	assert_int_equal(st->parsed, 1);
	assert_true(st->written);
	free_db(db);
	/* it went to a small layer on top, and is reused from there */
	testrepo_sh("test " NLAYERS " = 2");
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->cached, 5);
	assert_int_equal(st->read, 0);
	assert_false(st->written);
	free_db(db);
	/*
	 * Another change: the two small layers on top merge (the one
	 * below holds fewer than twice the new one's rows).
	 */
	write_file("app/jobs.py", "with y():\n    pass\n");
	testrepo_sh("git add app/jobs.py");
	db = build(NULL);
	free_db(db);
	testrepo_sh("test " NLAYERS " = 2");
	/* a torn top layer is left out, the rest used, it is made again */
	testrepo_sh("size=$(stat -c %%s " TOP ") && truncate -s $((size - 2)) " TOP);
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_false(st->cache_valid);
	assert_int_equal(st->cached, 4);
	assert_int_equal(st->read, 1);
	assert_true(st->written);
	free_db(db);
	db = build(NULL);
	assert_true(tg_ownerdb_stats(db)->cache_valid);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	free_db(db);
	/* garbage appended to a layer: the same */
	testrepo_sh("printf 'garbage garbage garbage garbage garbage!!' >> " TOP);
	db = build(NULL);
	assert_false(tg_ownerdb_stats(db)->cache_valid);
	assert_int_equal(tg_ownerdb_stats(db)->read, 1);
	free_db(db);
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	free_db(db);
	write_file("app/jobs.py", jobs);
	testrepo_sh("git add app/jobs.py");
	free(cp);
}

static void test_resolver_from_db(void **state)
{
	struct tg_ownerdb *db = build(NULL);
	struct tg_resolver *r = tg_ownerdb_resolver(db);
	const struct tg_owner *o;
	struct tg_resolution res;

	(void)state;
	/* the analyser adds the files it analyses, with their records */
	for (size_t i = 0; i < tg_ownerdb_count(db); i++) {
		const struct tg_ownerdb_file *f = tg_ownerdb_file(db, i);

		unsigned char *owned;

		if (!strcmp(f->path, "app/jobs.py") ||
		    !strcmp(f->path, "app/routes.py")) {
			tg_resolver_add(r, f->path, tg_ownerdb_load(f, &owned),
					f->len, true);
			free(owned);
		}
	}
	o = tg_resolver_owner(r, "app/jobs.py", "get_background_session", 22);
	assert_non_null(o);
	assert_string_equal(o->where, "app/session_helpers.py:5");
	tg_resolver_lookup(&res, r, "app/jobs.py", "get_background_session",
			   22);
	assert_false(res.fallback);
	o = tg_resolver_dependency(r, "app/routes.py", "get_db", 6);
	assert_non_null(o);
	assert_non_null(tg_resolver_factory(r, "app/session_helpers.py",
					    "factory", 7));
	/* files without definitions are left out of the resolver */
	assert_null(tg_resolver_file(r, "app/util.py"));
	/* a package goes in only when it imports (re-exports) something */
	assert_null(tg_resolver_file(r, "app/__init__.py"));
	free_db(db);
}

static void test_users_and_changed_names(void **state)
{
	struct tg_ownerdb *db = build(NULL);
	char name_buf[] = "get_background_session";
	char *name = name_buf;
	struct tg_ownerdb_file *users;
	size_t nr;
	struct tg_oid old_id, new_id;
	git_oid o;
	char **names = NULL;
	size_t nnames = 0, alloc = 0;
	bool jobs_found = false, routes_found = false;
	const char *before = "from contextlib import asynccontextmanager\n"
			     "@asynccontextmanager\nasync def g():\n"
			     "    s = F()\n    try:\n        yield s\n"
			     "    finally:\n        await s.close()\n";
	const char *after = "from contextlib import asynccontextmanager\n"
			    "@asynccontextmanager\nasync def g():\n"
			    "    s = F()\n    try:\n        yield s\n"
			    "        await s.commit()\n"
			    "    finally:\n        await s.close()\n";
	git_repository *repo;

	(void)state;
	assert_int_equal(tg_ownerdb_users(&users, &nr, db, &name, 1, NULL,
					  NULL), 0);
	/* jobs.py uses it; routes.py uses get_db, which wraps it */
	for (size_t i = 0; i < nr; i++) {
		const char *p = users[i].path;

		jobs_found |= !strcmp(p, "app/jobs.py");
		routes_found |= !strcmp(p, "app/routes.py");
		assert_string_not_equal(p, "app/util.py");
	}
	assert_true(jobs_found);
	assert_true(routes_found);
	tg_ownerdb_files_free(users, nr);

	/* blobs that are not in the index: read and inferred on demand */
	assert_int_equal(git_repository_open(&repo, testrepo_dir()), 0);
	assert_int_equal(git_blob_create_from_buffer(&o, repo, before,
						     strlen(before)),
			 0);
	memcpy(old_id.id, o.id, TG_OID_RAWSZ);
	assert_int_equal(git_blob_create_from_buffer(&o, repo, after,
						     strlen(after)),
			 0);
	memcpy(new_id.id, o.id, TG_OID_RAWSZ);
	git_repository_free(repo);
	assert_int_equal(tg_ownerdb_changed_names(&names, &nnames, &alloc, db,
						  "app/g.py", &old_id,
						  &new_id),
			 0);
	assert_int_equal(nnames, 1);
	assert_string_equal(names[0], "g");
	free(names[0]);
	free(names);
	free_db(db);
}

static void corrupt_and_check(const char *how)
{
	char *cp = cache_path();
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;

	testrepo_sh("rm -rf " CACHE);
	db = build(NULL); /* a good cache of one layer */
	free_db(db);
	testrepo_sh("test " NLAYERS " = 1");
	testrepo_sh("%s", how);
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_false(st->cache_valid);
	assert_int_equal(st->cached, 0);
	assert_int_equal(st->read, 5);
	assert_true(st->written);
	assert_non_null(tg_resolver_owner(tg_ownerdb_resolver(db),
					  "app/jobs.py",
					  "get_background_session", 22));
	free_db(db);
	db = build(NULL);
	assert_true(tg_ownerdb_stats(db)->cache_valid);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	free_db(db);
	free(cp);
}

static void test_corrupt_cache_ignored(void **state)
{
	(void)state;
	corrupt_and_check("truncate -s 40 " TOP);
	corrupt_and_check(": > " TOP);
	corrupt_and_check(": > " CHAIN);
	corrupt_and_check("printf 'not a cache at all, just text' > " TOP);
	corrupt_and_check("printf 'not a chain at all, just text\\n' > " CHAIN);
	/* one flipped byte in the table, in the header, in the chain */
	corrupt_and_check("size=$(stat -c %s " TOP ") && "
			  "printf '\\377' | dd of=" TOP " "
			  "bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null");
	corrupt_and_check("printf '\\377' | dd of=" TOP " "
			  "bs=1 seek=17 conv=notrunc 2>/dev/null");
	corrupt_and_check("printf 'x' | dd of=" CHAIN " "
			  "bs=1 seek=30 conv=notrunc 2>/dev/null");
	/* appended garbage */
	corrupt_and_check("printf 'xx' >> " TOP);
	/* a layer the chain lists is missing */
	corrupt_and_check("rm " TOP);
}

/*
 * The header's checksum covers the table only: a flipped byte inside a
 * record is found by that record's own checksum when it is used, and
 * only that record is made again. The earlier formats' files go.
 */
static void test_damaged_record_made_again(void **state)
{
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;

	(void)state;
	db = build(NULL);
	free_db(db);
	testrepo_sh("rm -rf " CACHE " && mkdir " CACHE);
	/* the earlier formats' files go */
	testrepo_sh("for f in ownerdb-v1 ownerdb-v1.log ownerdb-v2 ownerdb-v2.log "
	   "ownerdb-v2.tmp.1.0; do echo old >.git/txguard/$f; done");
	db = build(NULL); /* one layer */
	free_db(db);
	testrepo_sh("test -z \"$(ls .git/txguard | grep -v '^ownerdb-v3[.]')\"");
	/* the first record starts right after the 40-byte header */
	testrepo_sh("printf '\\377' | dd of=" TOP " bs=1 seek=42 conv=notrunc "
	   "2>/dev/null");
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_true(st->cache_valid);
	assert_int_equal(st->cached, 4);
	assert_int_equal(st->read, 1);
	assert_true(st->written);
	assert_non_null(tg_resolver_owner(tg_ownerdb_resolver(db),
					  "app/jobs.py",
					  "get_background_session", 22));
	free_db(db);
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	assert_int_equal(tg_ownerdb_stats(db)->read, 0);
	free_db(db);
}

/*
 * TG_OWNERDB_TARGETS_ONLY: a warm build keeps only the files a resolver
 * holds, counts the rest, and a rewrite of the cache still keeps the
 * records of the files it left out.
 */
static void test_targets_only(void **state)
{
	struct tg_ownerdb_opts opts = { .flags = TG_OWNERDB_TARGETS_ONLY };
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;

	(void)state;
	testrepo_sh("rm -rf " CACHE);
	db = build(NULL);
	free_db(db);
	db = build(&opts);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->files, 5);
	assert_int_equal(st->cached, 5);
	assert_int_equal(st->read, 0);
	/* session_helpers.py defines the owners; nothing else does */
	assert_int_equal(tg_ownerdb_count(db), 1);
	assert_string_equal(tg_ownerdb_file(db, 0)->path,
			    "app/session_helpers.py");
	{
		/* a file analysed joins the resolver with its own record */
		struct tg_resolver *r = tg_ownerdb_resolver(db);
		const unsigned char *d;
		size_t len;
		struct tg_oid id;
		git_index *index;

		assert_int_equal(git_repository_index(&index, cur_repo), 0);
		memcpy(id.id, git_index_get_bypath(index, "app/jobs.py", 0)->id.id,
		       TG_OID_RAWSZ);
		git_index_free(index);
		assert_int_equal(tg_ownerdb_record(&d, &len, db, "app/jobs.py",
						   &id), 0);
		assert_true(len > 0);
		tg_resolver_add(r, "app/jobs.py", d, len, false);
		assert_non_null(tg_resolver_owner(r, "app/jobs.py",
						  "get_background_session",
						  22));
	}
	free_db(db);
	/* a new file: a layer of its own, the rest stays */
	write_file("app/extra.py", "with open('x') as f:\n    pass\n");
	testrepo_sh("git add app/extra.py");
	db = build(&opts);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->files, 6);
	assert_int_equal(st->read, 1);
	assert_true(st->written);
	free_db(db);
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->cached, 6);
	assert_int_equal(st->read, 0);
	free_db(db);
	testrepo_sh("git rm -q --cached app/extra.py && rm app/extra.py");
}

/*
 * A warm TG_OWNERDB_TARGETS_ONLY build leaves the targets' records
 * in the cache's layers: it holds where each is and its first bytes. They
 * read back equal to a build that holds them, the resolver decodes them
 * on demand, they survive a rewrite of the cache under the open db, and
 * one damaged in place during the run is an error (exit 2), never an
 * empty record.
 */
static void test_records_left_in_file(void **state)
{
	struct tg_ownerdb_opts opts = { .flags = TG_OWNERDB_TARGETS_ONLY };
	struct tg_ownerdb_opts small = { .flags = TG_OWNERDB_TARGETS_ONLY,
					 .batch = 4 };
	struct tg_ownerdb *db, *held;
	const struct tg_ownerdb_file *f, *h = NULL;
	unsigned char *owned;
	const unsigned char *d;
	git_repository *held_repo;
	char path[64];

	(void)state;
	testrepo_sh("rm -rf " CACHE);
	held = build(NULL); /* cold: every record in memory */
	held_repo = cur_repo;
	for (size_t i = 0; i < tg_ownerdb_count(held); i++)
		if (!strcmp(tg_ownerdb_file(held, i)->path,
			    "app/session_helpers.py"))
			h = tg_ownerdb_file(held, i);
	assert_non_null(h);
	assert_non_null(h->data);
	assert_true(h->head[0] & TG_INFER_HAS_DEFS);
	assert_int_equal(h->head[0], h->data[0]);
	assert_int_equal(h->head[1], h->data[1]);

	db = build(&opts);
	assert_int_equal(tg_ownerdb_count(db), 1);
	f = tg_ownerdb_file(db, 0);
	assert_null(f->data);
	assert_int_equal(f->len, h->len);
	assert_memory_equal(f->head, h->head, 2);
	d = tg_ownerdb_load(f, &owned);
	assert_non_null(owned);
	assert_ptr_equal(d, owned);
	assert_memory_equal(d, h->data, h->len);
	free(owned);
	/* a held record is lent, not copied */
	assert_ptr_equal(tg_ownerdb_load(h, &owned), h->data);
	assert_null(owned);
	{
		/* decoded on demand, again after the file's analysis ends */
		struct tg_resolver *r = tg_ownerdb_resolver(db);
		char **names = NULL;
		size_t nr = 0, alloc = 0;

		for (int k = 0; k < 2; k++) {
			assert_non_null(tg_resolver_owner(
				r, "app/session_helpers.py",
				"get_background_session", 22));
			tg_resolver_done(r, "app/session_helpers.py");
		}
		tg_ownerdb_def_names(&names, &nr, &alloc, db);
		assert_int_equal(nr, 3);
		assert_string_equal(names[0], "factory");
		assert_string_equal(names[1], "get_background_session");
		assert_string_equal(names[2], "get_db");
		for (size_t i = 0; i < nr; i++)
			free(names[i]);
		free(names);
	}
	free_db(db);

	/*
	 * Found in the cache, then layers merged under the db (a build in
	 * batches) and the whole cache removed: the files stay open for it.
	 */
	for (int i = 0; i < 12; i++) {
		char src[32];

		snprintf(path, sizeof(path), "more/m%02d.py", i);
		snprintf(src, sizeof(src), "x = %d\n", i);
		write_file(path, src);
	}
	testrepo_sh("git add -A");
	db = build(&small);
	assert_true(tg_ownerdb_stats(db)->written);
	testrepo_sh("rm -rf " CACHE); /* gone from the tree too */
	f = tg_ownerdb_file(db, 0);
	assert_string_equal(f->path, "app/session_helpers.py");
	assert_null(f->data);
	d = tg_ownerdb_load(f, &owned);
	assert_memory_equal(d, h->data, h->len);
	free(owned);
	assert_non_null(tg_resolver_owner(tg_ownerdb_resolver(db),
					  "app/session_helpers.py",
					  "get_background_session", 22));
	free_db(db);

	/* damaged in place while the db reads it: an error that says why */
	db = build(&opts); /* the cache was removed: made again */
	assert_non_null(tg_ownerdb_file(db, 0)->data);
	free_db(db);
	db = build(&opts);
	f = tg_ownerdb_file(db, 0);
	assert_null(f->data);
	{
		char fdpath[64], layer[4096];
		ssize_t n;

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", f->fd);
		n = readlink(fdpath, layer, sizeof(layer) - 1);
		assert_true(n > 0);
		layer[n] = '\0';
		testrepo_sh("printf 'XXXX' | dd of='%s' bs=1 seek=%llu "
		   "conv=notrunc 2>/dev/null",
		   layer, (unsigned long long)f->pos);
	}
	assert_null(tg_ownerdb_load(f, &owned));
	assert_null(owned);
	assert_non_null(strstr(tg_error_last(), "changed in place"));
	tg_error_clear();
	free_db(db);
	/* the next run finds the damage and makes the record again */
	db = build(&opts);
	assert_int_equal(tg_ownerdb_stats(db)->read, 1);
	d = tg_ownerdb_load(tg_ownerdb_file(db, 0), &owned);
	assert_memory_equal(d, h->data, h->len);
	free(owned);
	free_db(db);

	tg_ownerdb_free(held);
	git_repository_free(held_repo);
	testrepo_sh("git rm -rq --cached more && rm -r more");
}

/*
 * A TG_OWNERDB_TARGETS_ONLY build keeps the packages whose imports
 * reach a definition, through other packages too, and leaves out those
 * that re-export nothing a query can find; a new layer merged with the
 * cache's still keeps the records of those it left out.
 */
static void test_live_packages(void **state)
{
	struct tg_ownerdb_opts opts = { .flags = TG_OWNERDB_TARGETS_ONLY |
						 TG_OWNERDB_LIVE_ONLY };
	struct tg_ownerdb_opts all = { .flags = TG_OWNERDB_TARGETS_ONLY };
	struct tg_ownerdb *db;
	struct tg_buf got = TG_BUF_INIT;

	(void)state;
	write_file("app/__init__.py",
		   "from .session_helpers import get_background_session\n");
	/* a chain: reaches app only once app is kept */
	write_file("app/api/__init__.py",
		   "from app import get_background_session as bg\n");
	/* one that sorts before the package it reaches through */
	write_file("app/aa/__init__.py", "from app.zz import bg\n");
	write_file("app/zz/__init__.py",
		   "from ..session_helpers import get_background_session as bg\n");
	write_file("app/models/__init__.py",
		   "import logging\nfrom .user import User\n");
	write_file("app/models/user.py", "class User:\n    pass\n");
	write_file("app/misc/__init__.py",
		   "import os\nfrom typing import Any\nfrom app.util import add\n");
	testrepo_sh("git add -A && rm -rf " CACHE);
	for (int warm = 0; warm < 2; warm++) {
		db = build(&opts);
		tg_buf_reset(&got);
		for (size_t i = 0; i < tg_ownerdb_count(db); i++)
			tg_buf_addf(&got, "%s\n", tg_ownerdb_file(db, i)->path);
		assert_string_equal(got.ptr, "app/__init__.py\n"
					     "app/aa/__init__.py\n"
					     "app/api/__init__.py\n"
					     "app/session_helpers.py\n"
					     "app/zz/__init__.py\n");
		assert_int_equal(tg_ownerdb_stats(db)->read, warm ? 0 : 11);
		{
			/* the resolver finds the owner through both */
			struct tg_resolver *r = tg_ownerdb_resolver(db);
			struct tg_buf b = TG_BUF_INIT;
			struct tg_pyfile *py = NULL;
			static const char src[] =
				"from app.aa import bg\n"
				"async def f():\n"
				"    async with bg() as s:\n"
				"        await s.commit()\n";

			assert_int_equal(tg_pyfile_parse(&py, "app/w.py", src,
							 strlen(src)), 0);
			tg_infer_pyfile(&b, py);
			tg_pyfile_free(py);
			tg_resolver_fill(r, "app/w.py", b.ptr, b.len);
			assert_non_null(tg_resolver_owner(r, "app/w.py", "bg",
							  2));
			tg_buf_release(&b);
		}
		free_db(db);
	}
	/* without LIVE_ONLY (a commit's check) every package stays */
	db = build(&all);
	assert_int_equal(tg_ownerdb_count(db), 7);
	free_db(db);
	/* merged layers keep what the list left out */
	for (int i = 0; i < 3; i++) {
		char src[32];

		snprintf(src, sizeof(src), "x = %d\n", i + 2);
		write_file("app/extra.py", src);
		testrepo_sh("git add -A");
		db = build(&opts);
		assert_int_equal(tg_ownerdb_stats(db)->read, 1);
		assert_true(tg_ownerdb_stats(db)->written);
		free_db(db);
	}
	testrepo_sh("test " NLAYERS " = 3");
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->read, 0);
	assert_int_equal(tg_ownerdb_stats(db)->cached,
			 tg_ownerdb_stats(db)->files);
	free_db(db);
	tg_buf_release(&got);
	write_file("app/__init__.py", "");
	testrepo_sh("git rm -rq --cached app/aa app/zz app/api app/models app/misc "
	   "app/extra.py && "
	   "rm -r app/aa app/zz app/api app/models app/misc app/extra.py && "
	   "git add app/__init__.py");
}

/*
 * Runs that each add a record stack small layers that merge by the
 * chain's rule: each layer holds at least twice the rows of the one
 * above, so there are never more than log2(rows) + 1 of them, and every
 * record stays reachable.
 */
static void test_layers_stay_few(void **state)
{
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;

	(void)state;
	testrepo_sh("rm -rf " CACHE);
	free_db(build(NULL));
	for (int i = 0; i < 20; i++) {
		char src[32];

		snprintf(src, sizeof(src), "x = %d\n", i);
		write_file("app/extra.py", src);
		testrepo_sh("git add app/extra.py");
		db = build(NULL);
		st = tg_ownerdb_stats(db);
		assert_int_equal(st->read, 1);
		assert_true(st->written);
		free_db(db);
		/* 5 + i + 1 rows: log2 of at most 26, plus one */
		testrepo_sh("n=" NLAYERS " && test $n -ge 1 && test $n -le 5");
		testrepo_sh(EACH_LAYER_EXISTS);
	}
	testrepo_sh(NO_TMP);
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->read, 0);
	assert_int_equal(st->cached, 6);
	assert_false(st->written);
	free_db(db);
	testrepo_sh("git rm -q --cached app/extra.py && rm app/extra.py");
}

static void test_concurrent_writers(void **state)
{
	char *cp = cache_path();
	pid_t pids[8];
	struct tg_ownerdb *db;

	(void)state;
	for (int round = 0; round < 3; round++) {
		int go[2];

		testrepo_sh("rm -rf " CACHE);
		/* the children start together when the pipe closes */
		assert_int_equal(pipe(go), 0);
		for (int i = 0; i < 8; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (!pids[i]) {
				git_repository *repo;
				git_index *index;
				struct tg_ownerdb *d;
				char c;
				int rc;

				close(go[1]);
				while (read(go[0], &c, 1) > 0)
					;
				git_libgit2_init();
				if (git_repository_open(&repo, testrepo_dir()) < 0 ||
				    git_repository_index(&index, repo) < 0)
					_exit(3);
				rc = tg_ownerdb_from_index(&d, repo, index,
							   NULL, NULL);
				_exit(rc == 0 ? 0 : 4);
			}
		}
		close(go[0]);
		close(go[1]);
		for (int i = 0; i < 8; i++) {
			int status;

			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		db = build(NULL);
		assert_true(tg_ownerdb_stats(db)->cache_valid);
		assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
		free_db(db);
	}
	/* no temporary file is left behind; the chain is complete */
	testrepo_sh("test -z \"$(ls .git/txguard | grep -v '^ownerdb-v3[.]')\"");
	testrepo_sh(NO_TMP);
	testrepo_sh(EACH_LAYER_EXISTS);
	free(cp);
}

static void test_seeded_records(void **state)
{
	static const char src[] = "with seeded():\n    pass\n";
	git_repository *repo;
	git_index *index;
	const git_index_entry *e;
	struct tg_ownerdb_file seed = { 0 };
	struct tg_ownerdb_opts opts = { 0 };
	struct tg_buf rec = TG_BUF_INIT;
	struct tg_ownerdb *db;
	bool parsed;

	(void)state;
	write_file("app/jobs.py", src);
	testrepo_sh("git add app/jobs.py");
	assert_int_equal(git_repository_open(&repo, testrepo_dir()), 0);
	assert_int_equal(git_repository_index(&index, repo), 0);
	e = git_index_get_bypath(index, "app/jobs.py", 0);
	assert_non_null(e);
	memcpy(seed.id.id, e->id.id, TG_OID_RAWSZ);
	seed.path = (char *)"app/jobs.py";
	tg_infer_blob(&rec, &parsed, "app/jobs.py", src, strlen(src));
	seed.data = (const unsigned char *)rec.ptr;
	seed.len = rec.len;
	opts.seed = &seed;
	opts.nseed = 1;
	assert_int_equal(tg_ownerdb_from_index(&db, repo, index, NULL, &opts),
			 0);
	assert_int_equal(tg_ownerdb_stats(db)->seeded, 1);
	assert_int_equal(tg_ownerdb_stats(db)->read, 0);
	assert_true(tg_ownerdb_stats(db)->written);
	tg_ownerdb_free(db);
	tg_buf_release(&rec);
	/* and it was saved */
	assert_int_equal(tg_ownerdb_from_index(&db, repo, index, NULL, NULL),
			 0);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	tg_ownerdb_free(db);
	git_index_free(index);
	git_repository_free(repo);
	write_file("app/jobs.py", jobs);
	testrepo_sh("git add app/jobs.py");
}

static void test_tree_duplicates_and_no_write(void **state)
{
	struct tg_ownerdb_opts opts = { 0 };
	git_repository *repo;
	struct tg_ownerdb *db;
	git_object *obj;
	struct tg_oid t;
	char *cp = tg_xasprintf("%s/other-cache", testrepo_dir());

	(void)state;
	write_file("copy/a.py", helpers);
	write_file("copy/b.py", helpers);
	testrepo_sh("git add -A && git commit -q -m one");
	assert_int_equal(git_repository_open(&repo, testrepo_dir()), 0);
	assert_int_equal(git_revparse_single(&obj, repo, "HEAD^{tree}"), 0);
	memcpy(t.id, git_object_id(obj)->id, TG_OID_RAWSZ);
	git_object_free(obj);
	opts.cache_path = cp;
	opts.flags = TG_OWNERDB_NO_WRITE;
	assert_int_equal(tg_ownerdb_from_tree(&db, repo, &t, NULL, &opts), 0);
	assert_int_equal(tg_ownerdb_stats(db)->files, 7);
	/* copy/a.py and copy/b.py share app/session_helpers.py's blob */
	assert_int_equal(tg_ownerdb_stats(db)->read, 5);
	assert_false(tg_ownerdb_stats(db)->written);
	assert_non_null(tg_resolver_owner(tg_ownerdb_resolver(db), "copy/b.py",
					  "get_background_session", 22));
	tg_ownerdb_free(db);
	testrepo_sh("test -z \"$(ls '%s'* 2>/dev/null)\"", cp);

	/* an unwritable cache location is not an error */
	opts.cache_path = "/proc/txguard-cannot-write/ownerdb-v3";
	opts.flags = 0;
	opts.threads = 1;
	assert_int_equal(tg_ownerdb_from_tree(&db, repo, &t, NULL, &opts), 0);
	assert_false(tg_ownerdb_stats(db)->written);
	assert_int_equal(tg_ownerdb_stats(db)->files, 7);
	tg_ownerdb_free(db);
	git_repository_free(repo);
	testrepo_sh("git rm -q -r copy && git commit -q -m two");
	free(cp);
}

/*
 * A list of (path, id) in any order builds the same db as the index; a
 * second resolver made from it answers alike; every definition's name is
 * listed once, sorted, for the scan's pre-filter.
 */
static void test_list_second_resolver_and_names(void **state)
{
	struct tg_ownerdb *a = build(NULL), *b = NULL;
	struct tg_ownerdb_file *list;
	size_t n = tg_ownerdb_count(a);
	struct tg_resolver *r2;
	char **names = NULL;
	size_t nnames = 0, alloc = 0;
	const struct tg_owner *o;

	(void)state;
	list = calloc(n, sizeof(*list));
	assert_non_null(list);
	for (size_t i = 0; i < n; i++) /* reversed: any order is fine */
		list[i] = *tg_ownerdb_file(a, n - 1 - i);
	assert_int_equal(tg_ownerdb_from_list(&b, cur_repo, list, n, NULL), 0);
	free(list);
	assert_int_equal(tg_ownerdb_count(b), n);
	for (size_t i = 0; i < n; i++) {
		const struct tg_ownerdb_file *x = tg_ownerdb_file(a, i);
		const struct tg_ownerdb_file *y = tg_ownerdb_file(b, i);

		unsigned char *ox = NULL, *oy = NULL;

		assert_string_equal(x->path, y->path);
		assert_int_equal(x->len, y->len);
		if (x->len)
			assert_memory_equal(tg_ownerdb_load(x, &ox),
					    tg_ownerdb_load(y, &oy), x->len);
		free(ox);
		free(oy);
	}
	/* b found every record in the cache a wrote */
	assert_int_equal(tg_ownerdb_stats(b)->parsed, 0);

	r2 = tg_ownerdb_new_resolver(b);
	assert_ptr_not_equal(r2, tg_ownerdb_resolver(b));
	o = tg_resolver_owner(r2, "app/session_helpers.py",
			      "get_background_session", 22);
	assert_non_null(o);
	assert_string_equal(o->where, "app/session_helpers.py:5");
	/* swapping a file in the second leaves the first alone */
	tg_resolver_add(r2, "app/session_helpers.py", NULL, 0, false);
	assert_null(tg_resolver_owner(r2, "app/session_helpers.py",
				      "get_background_session", 22));
	assert_non_null(tg_resolver_owner(tg_ownerdb_resolver(b),
					  "app/session_helpers.py",
					  "get_background_session", 22));
	tg_resolver_free(r2);

	tg_ownerdb_def_names(&names, &nnames, &alloc, b);
	assert_int_equal(nnames, 3);
	assert_string_equal(names[0], "factory");
	assert_string_equal(names[1], "get_background_session");
	assert_string_equal(names[2], "get_db");
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	tg_ownerdb_free(b);
	free_db(a);
}

/*
 * Hundreds of records: the warm lookup starts where the id's first bytes
 * say and must find every one (a miss would only cost a parse, so the
 * stats are what shows it). A package that imports goes in the resolver.
 */
static void test_many_records_warm(void **state)
{
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;
	char path[64], src[128];

	(void)state;
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "many/m%03d.py", i);
		snprintf(src, sizeof(src),
			 "def f%d():\n    with open('x') as fh:\n        yield fh\n",
			 i);
		write_file(path, src);
	}
	write_file("many/__init__.py", "from .m001 import f1\n");
	testrepo_sh("git add -A");
	db = build(NULL);
	free_db(db);
	db = build(NULL);
	st = tg_ownerdb_stats(db);
	assert_true(st->files > 300);
	assert_int_equal(st->cached, st->files);
	assert_int_equal(st->parsed, 0);
	assert_int_equal(st->read, 0);
	assert_non_null(tg_resolver_file(tg_ownerdb_resolver(db),
					 "many/__init__.py"));
	free_db(db);
	/*
	 * Windows of 1 to 8 rows: nearly every id is outside the rows
	 * read first, and the lookup bisects either side down to a window.
	 * One layer holds them all.
	 */
	testrepo_sh("rm -rf " CACHE);
	free_db(build(NULL));
	testrepo_sh("test " NLAYERS " = 1");
	for (size_t win = 1; win <= 8; win *= 2) {
		struct tg_ownerdb_opts o = { .window = win };

		db = build(&o);
		st = tg_ownerdb_stats(db);
		assert_int_equal(st->cached, st->files);
		assert_int_equal(st->read, 0);
		free_db(db);
	}
}

/* The targets of a build, path and record, one line each. */
static char *targets_of(struct tg_ownerdb *db)
{
	struct tg_buf b = TG_BUF_INIT;

	for (size_t i = 0; i < tg_ownerdb_count(db); i++) {
		const struct tg_ownerdb_file *f = tg_ownerdb_file(db, i);
		unsigned char *owned;
		const unsigned char *d = tg_ownerdb_load(f, &owned);

		tg_buf_addf(&b, "%s %zu:", f->path, f->len);
		for (size_t k = 0; k < f->len; k++)
			tg_buf_addf(&b, "%02x", d[k]);
		tg_buf_addch(&b, '\n');
		free(owned);
	}
	return tg_buf_detach(&b, NULL);
}

static void assert_targets(struct tg_ownerdb *db, const char *want)
{
	char *got = targets_of(db);

	assert_string_equal(got, want);
	free(got);
}

/* The record of `path` from the db, and whether it needed a read. */
static bool record_read(struct tg_ownerdb *db, const char *path)
{
	size_t before = tg_ownerdb_stats(db)->read, len;
	const unsigned char *d;
	struct tg_oid id;
	git_index *index;

	assert_int_equal(git_repository_index(&index, cur_repo), 0);
	memcpy(id.id, git_index_get_bypath(index, path, 0)->id.id,
	       TG_OID_RAWSZ);
	git_index_free(index);
	assert_int_equal(tg_ownerdb_record(&d, &len, db, path, &id), 0);
	return tg_ownerdb_stats(db)->read != before;
}

/*
 * A cold build of more files than a batch writes their records to a
 * layer a batch and keeps only the targets; it finds what a build in one
 * piece finds, the cache it writes is complete and of few layers, and
 * records are found afterwards from the new cache, from layers in TMPDIR
 * when the cache cannot be written, or (no file can be made) from memory.
 */
static void test_build_in_batches(void **state)
{
	struct tg_ownerdb_opts whole = { .flags = TG_OWNERDB_TARGETS_ONLY |
						  TG_OWNERDB_NO_CACHE,
					 .batch = 100000 };
	struct tg_ownerdb_opts small = { .flags = TG_OWNERDB_TARGETS_ONLY,
					 .batch = 16 };
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;
	char path[64], src[64], *want, *tmpdir;
	size_t files;

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "plain/p%03d.py", i);
		snprintf(src, sizeof(src), "x = %d\n", i);
		write_file(path, src);
	}
	testrepo_sh("git add -A");
	db = build(&whole);
	files = tg_ownerdb_stats(db)->files;
	assert_true(files > 400);
	assert_true(tg_ownerdb_count(db) > 300);
	assert_true(tg_ownerdb_count(db) < files);
	want = targets_of(db);
	free_db(db);

	/* cold, in batches of 16: the same targets, and a complete cache */
	testrepo_sh("rm -rf " CACHE);
	db = build(&small);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->files, files);
	assert_int_equal(st->read, files);
	assert_true(st->written);
	assert_targets(db, want);
	/* a left-out file's record comes from the new cache, not a read */
	assert_false(record_read(db, "plain/p042.py"));
	assert_false(record_read(db, "app/jobs.py"));
	/* some 27 batches merged as they came: log2(27) + 1 layers at most */
	testrepo_sh("n=" NLAYERS " && test $n -ge 1 && test $n -le 5");
	{
		/* a record released is read again, equal; a target's stays */
		const unsigned char *d, *again;
		size_t len, len2;
		const struct tg_ownerdb_file *t = tg_ownerdb_file(db, 0);
		unsigned char *keep;

		assert_int_equal(tg_ownerdb_record(&d, &len, db, t->path,
						   &t->id), 0);
		keep = tg_xmalloc(len);
		memcpy(keep, d, len);
		tg_ownerdb_record_done(db, d);
		tg_ownerdb_record_done(db, t->data); /* not a copy it made now */
		{
			unsigned char *owned;

			assert_memory_equal(tg_ownerdb_load(t, &owned), keep,
					    len);
			free(owned);
		}
		assert_int_equal(tg_ownerdb_record(&again, &len2, db, t->path,
						   &t->id), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(again, keep, len);
		tg_ownerdb_record_done(db, again);
		tg_ownerdb_record_done(db, NULL);
		free(keep);
	}
	free_db(db);
	testrepo_sh(NO_TMP);
	db = build(&small);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->cached, files);
	assert_int_equal(st->read, 0);
	assert_false(st->written);
	free_db(db);
	/* one new blob among many batches: a small layer of its own */
	write_file("plain/p000.py", "x = 'changed'\n");
	testrepo_sh("git add plain/p000.py");
	db = build(&small);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->read, 1);
	assert_int_equal(st->cached, files - 1);
	assert_true(st->written);
	free_db(db);
	testrepo_sh("test " NLAYERS " -ge 2");
	write_file("plain/p000.py", "x = 0\n");
	testrepo_sh("git add plain/p000.py");

	/* no cache to write: layers in TMPDIR serve lookups */
	small.flags |= TG_OWNERDB_NO_WRITE;
	testrepo_sh("rm -rf " CACHE);
	db = build(&small);
	st = tg_ownerdb_stats(db);
	assert_int_equal(st->read, files);
	assert_false(st->written);
	assert_targets(db, want);
	assert_false(record_read(db, "plain/p007.py"));
	free_db(db);
	testrepo_sh("test ! -e " CHAIN);

	/* no file can be made: the records stay in memory */
	tmpdir = getenv("TMPDIR") ? tg_xstrdup(getenv("TMPDIR")) : NULL;
	setenv("TMPDIR", "/nonexistent/txguard-test", 1);
	db = build(&small);
	assert_targets(db, want);
	assert_false(record_read(db, "plain/p099.py"));
	free_db(db);
	if (tmpdir)
		setenv("TMPDIR", tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(tmpdir);
	free(want);
	testrepo_sh("git rm -rq --cached plain many && rm -r plain many");
}

/*
 * Blobs over TG_BIG_PARSE are inferred one at a time by the build's
 * threads: several of them among many small ones all get their
 * records, and nothing waits forever.
 */
static void test_big_blobs(void **state)
{
	struct tg_ownerdb_opts o = { .threads = 4 };
	struct tg_ownerdb *db;
	const struct tg_ownerdb_stats *st;
	struct tg_buf big = TG_BUF_INIT;
	char path[64];

	(void)state;
	for (int i = 0; i < 4; i++) {
		tg_buf_reset(&big);
		tg_buf_addf(&big, "# big %d\n", i);
		while (big.len < TG_BIG_PARSE + 1024)
			tg_buf_addstr(&big, "def f():\n    with open('x') as fh:\n"
					    "        yield fh\n");
		snprintf(path, sizeof(path), "big/b%d.py", i);
		write_file(path, big.ptr);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "big/s%02d.py", i);
		write_file(path, "def g():\n    with open('x') as fh:\n"
				 "        yield fh\n");
	}
	testrepo_sh("git add -A");
	testrepo_sh("rm -rf " CACHE);
	db = build(&o);
	st = tg_ownerdb_stats(db);
	assert_true(st->parsed >= 4 + 1);
	for (size_t i = 0; i < tg_ownerdb_count(db); i++) {
		const struct tg_ownerdb_file *f = tg_ownerdb_file(db, i);

		if (!strncmp(f->path, "big/b", 5))
			assert_true(f->len > 0 && (f->head[0] & TG_INFER_HAS_DEFS));
	}
	free_db(db);
	tg_buf_release(&big);
	testrepo_sh("git rm -rq --cached big && rm -r big");
}

/* The record of `path` in a db that holds every file's, or NULL. */
static const struct tg_ownerdb_file *file_of(struct tg_ownerdb *db,
					     const char *path)
{
	for (size_t i = 0; i < tg_ownerdb_count(db); i++)
		if (!strcmp(tg_ownerdb_file(db, i)->path, path))
			return tg_ownerdb_file(db, i);
	return NULL;
}

/*
 * What inference extracts depends on the path: a package's __init__.py
 * is always parsed, another module only when it has a pre-filter word.
 * The same bytes first seen at another path, in an earlier run or
 * earlier in the same run, must not lend the package their empty
 * record: its re-export would be lost.
 */
static void test_record_keyed_by_role(void **state)
{
	static const char reexport[] =
		"from app.session_helpers import get_background_session\n";
	struct tg_ownerdb_opts nocache = { .flags = TG_OWNERDB_NO_CACHE };
	struct tg_ownerdb *db;
	const struct tg_ownerdb_file *f;

	(void)state;
	/* the bytes as a plain module: filtered out, an empty record */
	write_file("pkg/compat.py", reexport);
	testrepo_sh("rm -rf " CACHE " && git add -A");
	db = build(NULL);
	f = file_of(db, "pkg/compat.py");
	assert_non_null(f);
	assert_int_equal(f->len, 0);
	free_db(db);
	/* the same bytes become the package: parsed, whatever the cache */
	testrepo_sh("git mv pkg/compat.py pkg/__init__.py");
	db = build(NULL);
	f = file_of(db, "pkg/__init__.py");
	assert_non_null(f);
	assert_true(f->len > 0);
	assert_int_equal(tg_ownerdb_stats(db)->read, 1);
	assert_non_null(tg_resolver_owner(tg_ownerdb_resolver(db),
					  "pkg/__init__.py",
					  "get_background_session", 22));
	free_db(db);
	/* and warm, each role keeps its own record */
	write_file("pkg/compat.py", reexport);
	testrepo_sh("git add -A");
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->read, 0);
	assert_true(file_of(db, "pkg/__init__.py")->len > 0);
	assert_int_equal(file_of(db, "pkg/compat.py")->len, 0);
	free_db(db);
	/* in one run without a cache, a copy that sorts first */
	testrepo_sh("git mv pkg/compat.py pkg/Compat.py");
	db = build(&nocache);
	assert_true(file_of(db, "pkg/__init__.py")->len > 0);
	assert_int_equal(file_of(db, "pkg/Compat.py")->len, 0);
	free_db(db);
	testrepo_sh("git rm -rq --cached pkg && rm -r pkg");
}

/* The checksum of the cache's format (src/ownerdb-format.md). */
static uint64_t fmt_words(uint64_t h, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return h;
}

static uint64_t fmt_sum(const unsigned char *p, size_t len)
{
	size_t words = len & ~(size_t)7;
	uint64_t h = fmt_words(0x243f6a8885a308d3ULL ^ len, p, words);

	for (size_t i = words; i < len; i++) {
		h = (h ^ p[i]) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

/*
 * Rewrite the cache's one layer as another inference version would
 * have written it, every checksum and name right: only the version
 * tells it apart.
 */
static void relabel_layer(uint32_t infer_version)
{
	char *chain = tg_xasprintf("%s/" CHAIN, testrepo_dir()), *layer = NULL, *name;
	FILE *f = fopen(chain, "r");
	char line[256];
	struct tg_buf b = TG_BUF_INIT, text = TG_BUF_INIT;
	uint32_t nrows;
	uint64_t data_len, sum;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, ".layer\n")) {
			line[strlen(line) - 1] = '\0';
			layer = tg_xasprintf("%s/" CACHE "/%s", testrepo_dir(), line);
		}
	fclose(f);
	assert_non_null(layer);
	f = fopen(layer, "r");
	assert_non_null(f);
	for (;;) {
		char chunk[4096];
		size_t n = fread(chunk, 1, sizeof(chunk), f);

		if (!n)
			break;
		tg_buf_add(&b, chunk, n);
	}
	fclose(f);
	memcpy(b.ptr + 16, &infer_version, 4);
	memcpy(&nrows, b.ptr + 20, 4);
	memcpy(&data_len, b.ptr + 24, 8);
	memset(b.ptr + 32, 0, 8);
	sum = fmt_words(0x243f6a8885a308d3ULL ^ (40 + (uint64_t)nrows * 32),
			(const unsigned char *)b.ptr, 40);
	sum = fmt_words(sum, (const unsigned char *)b.ptr + 40 + data_len,
			(size_t)nrows * 32);
	memcpy(b.ptr + 32, &sum, 8);
	unlink(layer);
	name = tg_xasprintf("ownerdb-v3.%016llx.layer", (unsigned long long)sum);
	free(layer);
	layer = tg_xasprintf("%s/" CACHE "/%s", testrepo_dir(), name);
	f = fopen(layer, "w");
	assert_non_null(f);
	fwrite(b.ptr, 1, b.len, f);
	fclose(f);
	tg_buf_addf(&text, "txguard-ownerdb-chain 3\n%s\n", name);
	sum = fmt_sum((const unsigned char *)text.ptr, text.len);
	tg_buf_addf(&text, "sum %016llx\n", (unsigned long long)sum);
	f = fopen(chain, "w");
	assert_non_null(f);
	fwrite(text.ptr, 1, text.len, f);
	fclose(f);
	tg_buf_release(&b);
	tg_buf_release(&text);
	free(name);
	free(layer);
	free(chain);
}

/* A layer made by another inference version is never used. */
static void test_other_inference_version(void **state)
{
	struct tg_ownerdb *db;

	(void)state;
	testrepo_sh("rm -rf " CACHE);
	free_db(build(NULL));
	/* the same version, relabelled: still trusted (the test is sound) */
	relabel_layer(TG_INFER_VERSION);
	db = build(NULL);
	assert_true(tg_ownerdb_stats(db)->cache_valid);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	free_db(db);
	relabel_layer(TG_INFER_VERSION + 1);
	db = build(NULL);
	assert_false(tg_ownerdb_stats(db)->cache_valid);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 0);
	assert_int_equal(tg_ownerdb_stats(db)->read, 5);
	assert_true(tg_ownerdb_stats(db)->written);
	free_db(db);
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 5);
	free_db(db);
}

/*
 * A record inference left incomplete serves the run that made it but is
 * never saved, and the run counts it.
 */
static void test_incomplete_never_saved(void **state)
{
	static const char src[] = "with cut_short():\n    pass\n";
	struct tg_ownerdb_file seed = { 0 };
	struct tg_ownerdb_opts opts = { 0 };
	struct tg_buf rec = TG_BUF_INIT;
	const struct tg_ownerdb_file *f;
	struct tg_ownerdb *db;
	git_index *index;
	bool parsed;

	(void)state;
	write_file("app/cut.py", src);
	testrepo_sh("rm -rf " CACHE);
	free_db(build(NULL)); /* the other files' records */
	testrepo_sh("git add app/cut.py");
	tg_infer_blob(&rec, &parsed, "app/cut.py", src, strlen(src));
	assert_true(rec.len > 0);
	rec.ptr[0] |= TG_INFER_INCOMPLETE;
	/* the seed: the only record of app/cut.py this run has */
	{
		git_repository *repo;

		assert_int_equal(git_repository_open(&repo, testrepo_dir()), 0);
		assert_int_equal(git_repository_index(&index, repo), 0);
		memcpy(seed.id.id,
		       git_index_get_bypath(index, "app/cut.py", 0)->id.id,
		       TG_OID_RAWSZ);
		seed.path = (char *)"app/cut.py";
		seed.data = (const unsigned char *)rec.ptr;
		seed.len = rec.len;
		opts.seed = &seed;
		opts.nseed = 1;
		assert_int_equal(tg_ownerdb_from_index(&db, repo, index, NULL,
						       &opts), 0);
		assert_int_equal(tg_ownerdb_stats(db)->seeded, 1);
		assert_int_equal(tg_ownerdb_stats(db)->incomplete, 1);
		assert_int_equal(tg_ownerdb_stats(db)->read, 0);
		f = file_of(db, "app/cut.py");
		assert_non_null(f);
		assert_int_equal(f->len, rec.len);
		assert_true(f->data[0] & TG_INFER_INCOMPLETE);
		tg_ownerdb_free(db);
		git_index_free(index);
		git_repository_free(repo);
	}
	/* not in the cache: the next run reads and infers the blob */
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->read, 1);
	assert_int_equal(tg_ownerdb_stats(db)->incomplete, 0);
	f = file_of(db, "app/cut.py");
	assert_false(f->data[0] & TG_INFER_INCOMPLETE);
	free_db(db);
	tg_buf_release(&rec);
	testrepo_sh("git rm -q --cached app/cut.py && rm app/cut.py");
}

/*
 * A blob over max_file_size is never read, by the build or by a record
 * asked for later: it has no record, is counted, and nothing is cached
 * for it, so a larger limit later reads it.
 */
static void test_max_file_size(void **state)
{
	struct tg_ownerdb_opts small = { .max_file_size = 200 };
	struct tg_ownerdb_opts small_targets = {
		.max_file_size = 200, .flags = TG_OWNERDB_TARGETS_ONLY
	};
	struct tg_ownerdb *db;
	const struct tg_ownerdb_file *f;
	const unsigned char *d;
	size_t len;

	(void)state;
	testrepo_sh("rm -rf " CACHE);
	/* session_helpers.py is the one file over 200 bytes */
	db = build(&small);
	assert_int_equal(tg_ownerdb_stats(db)->too_big, 1);
	assert_int_equal(tg_ownerdb_stats(db)->read, 4);
	f = file_of(db, "app/session_helpers.py");
	assert_int_equal(f->len, 0);
	assert_null(tg_resolver_owner(tg_ownerdb_resolver(db), "app/jobs.py",
				      "get_background_session", 22));
	assert_int_equal(tg_ownerdb_record(&d, &len, db,
					   "app/session_helpers.py", &f->id),
			 0);
	assert_int_equal(len, 0);
	assert_int_equal(tg_ownerdb_stats(db)->read, 4);
	free_db(db);
	db = build(&small_targets);
	assert_int_equal(tg_ownerdb_stats(db)->too_big, 1);
	assert_int_equal(tg_ownerdb_count(db), 0);
	free_db(db);
	db = build(NULL);
	assert_int_equal(tg_ownerdb_stats(db)->too_big, 0);
	assert_int_equal(tg_ownerdb_stats(db)->read, 1);
	assert_int_equal(tg_ownerdb_stats(db)->cached, 4);
	free_db(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cold_then_warm),
		cmocka_unit_test(test_resolver_from_db),
		cmocka_unit_test(test_users_and_changed_names),
		cmocka_unit_test(test_corrupt_cache_ignored),
		cmocka_unit_test(test_damaged_record_made_again),
		cmocka_unit_test(test_targets_only),
		cmocka_unit_test(test_records_left_in_file),
		cmocka_unit_test(test_live_packages),
		cmocka_unit_test(test_layers_stay_few),
		cmocka_unit_test(test_concurrent_writers),
		cmocka_unit_test(test_seeded_records),
		cmocka_unit_test(test_tree_duplicates_and_no_write),
		cmocka_unit_test(test_list_second_resolver_and_names),
		cmocka_unit_test(test_many_records_warm),
		cmocka_unit_test(test_build_in_batches),
		cmocka_unit_test(test_big_blobs),
		cmocka_unit_test(test_record_keyed_by_role),
		cmocka_unit_test(test_other_inference_version),
		cmocka_unit_test(test_incomplete_never_saved),
		cmocka_unit_test(test_max_file_size),
	};
	int rc;

	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, setup, teardown);
	git_libgit2_shutdown();
	return rc;
}
