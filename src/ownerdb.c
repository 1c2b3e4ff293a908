#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/glob.h"
#include "txguard/infer.h"
#include "txguard/resolver.h"
#include "txguard/ownerdb.h"
#include "txguard/pyparse.h"
#include "txguard/watch.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <git2.h>

#define MAGIC "TXGODB\0\2"
#define HEADER_SIZE 32
#define ROW_SIZE 32
/* a row's u32 length keeps the record's hint (hint_of) in its top bits */
#define LEN_MASK 0x0fffffffu
#define HINT_SHIFT 28
#define ENDIAN_MARK 0x01020304u
/* records are small; a bigger one means a damaged or hostile file */
#define MAX_RECORD (64u << 20)
/* a journal entry: u32 magic, oid[20], u32 len, u64 checksum, data */
#define JMAGIC 0x314a4754u /* "TGJ1" */
#define JHEAD 36
/*
 * The journal is read whole: past this it is folded into the file even
 * when that is big, and a longer one is treated as damaged, so a run
 * holds at most this much of it (§11).
 */
#define JOURNAL_MAX (1u << 20)

/* A record made in this run (not in the cache file). */
struct fresh {
	struct tg_oid id;
	unsigned char *data;
	size_t len;
};
/* bisect() finds records by the oid they start with */
_Static_assert(offsetof(struct fresh, id) == 0, "fresh starts with its id");

/*
 * Rows { oid[20], u32 offset, u32 len | hint << 28, u32 checksum }
 * sorted by oid, whose records are read from fd at base + offset: the
 * cache's table, read from fd at rows_off (rows NULL), or the spill
 * file's, in memory.
 */
struct rtable {
	const unsigned char *rows;
	size_t n;
	int fd;
	off_t rows_off, base;
	size_t win; /* rows a lookup reads at once: WIN, less in tests */
};

/* A row's fields after its id: every reader and writer of rows uses these. */
struct rowf {
	uint32_t off, len, hint, sum;
};

static struct rowf row_get(const unsigned char *row)
{
	struct rowf f;
	uint32_t lenhint;

	memcpy(&f.off, row + 20, 4);
	memcpy(&lenhint, row + 24, 4);
	memcpy(&f.sum, row + 28, 4);
	f.len = lenhint & LEN_MASK;
	f.hint = lenhint >> HINT_SHIFT;
	return f;
}

static void row_put(unsigned char *row, const unsigned char *id,
		    struct rowf f)
{
	uint32_t lenhint = f.len | f.hint << HINT_SHIFT;

	memcpy(row, id, TG_OID_RAWSZ);
	memcpy(row + 20, &f.off, 4);
	memcpy(row + 24, &lenhint, 4);
	memcpy(row + 28, &f.sum, 4);
}

/* rows read at once from a table in the file: 8 KiB */
#define WIN 256

/*
 * A cold build pends this many files before it reads and infers them, and
 * writes the records of a batch that big to the spill file: it then holds
 * one row a blob, not its record (§11: memory does not follow the
 * repository). Fewer records than this stay in memory (fresh).
 */
#define BATCH 1024

struct tg_ownerdb {
	git_repository *repo;
	git_odb *odb;
	char *cache_path;
	unsigned flags;
	int threads;
	size_t file_len;
	/* the cache file: its table and records are read, not mapped, so
	 * a warm run holds what it reads, not the table (§11) */
	struct rtable cache;
	uint64_t data_len;
	/* records read from a file, valid as long as the db */
	unsigned char **copies;
	size_t ncopies, alloc_copies;
	/*
	 * The spill file (spill.fd; spill.n stays 0): each spilled batch's
	 * records, then its rows sorted, a run that runs[] describes. The
	 * build holds no row of it (§11); runs are searched once the build
	 * is over (nsealed of them).
	 */
	struct rtable spill;
	struct rtable *runs;
	size_t nruns, alloc_runs, nsealed;
	size_t nspill; /* rows in the runs */
	uint64_t spill_len;
	bool spill_failed;
	struct tg_ownerdb_file *files;
	size_t nfiles, alloc_files;
	size_t pending; /* files[pending..] still lack their records */
	size_t batch;   /* BATCH, or what the options say */
	size_t win;     /* WIN, or less (the options) */
	/* the build's blob reader (opts.read), NULL after it */
	int (*read)(void *ctx, char **buf, size_t *len,
		    const struct tg_oid *id);
	void *read_ctx;
	struct fresh *fresh;
	size_t nfresh, alloc_fresh;
	bool dirty;
	size_t nsaved; /* fresh[0..nsaved) are already on disk */
	char *log_path;
	unsigned char *log;
	size_t log_len;
	bool log_damaged; /* entries after a damaged one are unreachable */
	struct fresh *jrn; /* journal records, data borrowed from log */
	size_t njrn, alloc_jrn;
	struct tg_resolver *resolver;
	struct tg_ownerdb_stats stats;
	/* cache rows of this run's files that the list left out
	 * (TG_OWNERDB_TARGETS_ONLY): a rewrite keeps them */
	unsigned char *used;
	/* files whose records stay in the cache file (tg_ownerdb_load),
	 * and the cache files they are in, kept open when replaced */
	size_t nlazy;
	int *old_fds;
	size_t nold_fds, alloc_old_fds;
};

/*
 * What the first two bytes of a record say (infer.h): bit 0 it defines
 * something, bit 1 it uses something, bit 2 it imports something. Kept in
 * the table row too, so a warm run learns which files matter without
 * touching their records (§11: memory does not follow the repository).
 */
static unsigned hint_of(const unsigned char *data, size_t len)
{
	if (!len)
		return 0;
	return (data[0] & (TG_INFER_HAS_DEFS | TG_INFER_HAS_USES)) |
	       (len > 1 && data[1] ? 4u : 0u);
}

static int write_all(int fd, const void *p, size_t len);

#define SUM_SEED 0x243f6a8885a308d3ULL

/* The checksum's body over whole words: len is a multiple of 8. */
static uint64_t sum_words(uint64_t h, const unsigned char *p, size_t len)
{
	/* word at a time: the warm load checks every byte (§12) */
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return h;
}

static uint64_t checksum(const unsigned char *p, size_t len)
{
	size_t words = len & ~(size_t)7;
	uint64_t h = sum_words(SUM_SEED ^ len, p, words);

	for (size_t i = words; i < len; i++) {
		h = (h ^ p[i]) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

char *tg_ownerdb_default_path(struct git_repository *repo)
{
	const char *common = git_repository_commondir(repo);
	size_t l;

	if (!common)
		common = git_repository_path(repo);
	if (!common)
		return NULL;
	l = strlen(common);
	return tg_xasprintf("%s%stxguard/ownerdb-v2", common,
			    l && common[l - 1] == '/' ? "" : "/");
}

/* ---- the cache file --------------------------------------------------- */

static void close_cache(struct tg_ownerdb *db)
{
	if (db->cache.fd >= 0 && db->nlazy) {
		/* files still read their records from it */
		TG_ALLOC_GROW(db->old_fds, db->nold_fds + 1,
			      db->alloc_old_fds);
		db->old_fds[db->nold_fds++] = db->cache.fd;
	} else if (db->cache.fd >= 0) {
		close(db->cache.fd);
	}
	db->file_len = 0;
	memset(&db->cache, 0, sizeof(db->cache));
	db->cache.fd = -1;
	db->data_len = 0;
	free(db->used);
	db->used = NULL;
}

static bool read_at(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Rows [lo, hi) of a table (hi - lo <= WIN) into buf, or in memory. */
static const unsigned char *rows_at(const struct rtable *t, size_t lo,
				    size_t hi, unsigned char *buf)
{
	if (t->rows)
		return t->rows + lo * ROW_SIZE;
	if (!read_at(t->fd, buf, (hi - lo) * ROW_SIZE,
		     t->rows_off + (off_t)(lo * ROW_SIZE)))
		return NULL;
	return buf;
}

/*
 * Open and validate the cache, reading its table a window at a time;
 * any problem leaves it empty (§11).
 */
static void load_cache(struct tg_ownerdb *db)
{
	int fd = open(db->cache_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char hdr[HEADER_SIZE], buf[WIN * ROW_SIZE], last[TG_OID_RAWSZ];
	uint32_t mark, nrec;
	uint64_t data_len, sum, h;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size < HEADER_SIZE ||
	    !read_at(fd, hdr, HEADER_SIZE, 0)) {
		close(fd);
		return;
	}
	db->cache.fd = fd;
	memcpy(&mark, hdr + 8, 4);
	memcpy(&nrec, hdr + 12, 4);
	memcpy(&data_len, hdr + 16, 8);
	memcpy(&sum, hdr + 24, 8);
	if (memcmp(hdr, MAGIC, 8) || mark != ENDIAN_MARK ||
	    (uint64_t)nrec * ROW_SIZE + data_len + HEADER_SIZE !=
		    (uint64_t)st.st_size)
		goto bad;
	h = SUM_SEED ^ ((size_t)nrec * ROW_SIZE);
	for (size_t lo = 0; lo < nrec; lo += WIN) {
		size_t hi = lo + WIN < nrec ? lo + WIN : nrec;

		if (!read_at(fd, buf, (hi - lo) * ROW_SIZE,
			     HEADER_SIZE + (off_t)(lo * ROW_SIZE)))
			goto bad;
		h = sum_words(h, buf, (hi - lo) * ROW_SIZE);
		for (size_t i = lo; i < hi; i++) {
			const unsigned char *row = buf + (i - lo) * ROW_SIZE;
			struct rowf f = row_get(row);

			if ((uint64_t)f.off + f.len > data_len ||
			    f.len > MAX_RECORD ||
			    (i && memcmp(last, row, TG_OID_RAWSZ) >= 0))
				goto bad;
			memcpy(last, row, TG_OID_RAWSZ);
		}
	}
	if (h != sum)
		goto bad;
	db->cache.rows = NULL;
	db->cache.win = db->win;
	db->cache.n = nrec;
	db->cache.rows_off = HEADER_SIZE;
	db->cache.base = (off_t)(HEADER_SIZE + (size_t)nrec * ROW_SIZE);
	db->file_len = (size_t)st.st_size;
	db->data_len = data_len;
	db->stats.cache_valid = true;
	return;
bad:
	close_cache(db);
}

/* Where in a table of n rows `id` should be: ids are uniform. */
static size_t guess_row(size_t n, const struct tg_oid *id)
{
	uint32_t prefix = (uint32_t)id->id[0] << 24 | (uint32_t)id->id[1] << 16 |
			  (uint32_t)id->id[2] << 8 | id->id[3];

	return (size_t)(((uint64_t)prefix * n) >> 32);
}

/*
 * Bisect n items of `stride` bytes, sorted by the oid each starts with
 * (table rows, struct fresh), for id: its index, or -1.
 */
static long bisect(const void *items, size_t n, size_t stride,
		   const struct tg_oid *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp((const unsigned char *)items + mid * stride,
			       id->id, TG_OID_RAWSZ);

		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * The row of `id` in t (its index, the row copied to out), or -1. The
 * first four bytes of an id say where in the sorted table its row sits,
 * so the window of rows around there nearly always holds it: one read a
 * lookup. Otherwise the side it is on is bisected a row at a time down
 * to a window.
 */
/*
 * The window of rows a lookup read last, kept by a caller that looks up
 * ids in sorted order: most of them fall in it and need no read.
 */
struct wcache {
	size_t lo, hi; /* rows [lo, hi) are in buf; none when equal */
	unsigned char buf[WIN * ROW_SIZE];
};

static long table_find_in(unsigned char *out, const struct rtable *t,
			  const struct tg_oid *id, struct wcache *wc)
{
	unsigned char own[WIN * ROW_SIZE], *buf = wc ? wc->buf : own;
	const unsigned char *w;
	size_t n = t->n, win = t->win ? t->win : WIN, lo, hi;
	long k;

	if (!n)
		return -1;
	if (wc && wc->hi > wc->lo &&
	    memcmp(wc->buf, id->id, TG_OID_RAWSZ) <= 0 &&
	    memcmp(wc->buf + (wc->hi - wc->lo - 1) * ROW_SIZE, id->id,
		   TG_OID_RAWSZ) >= 0) {
		lo = wc->lo;
		hi = wc->hi;
		w = wc->buf;
		goto search;
	}
	lo = guess_row(n, id);
	lo = lo > win / 2 ? lo - win / 2 : 0;
	hi = lo + win < n ? lo + win : n;
	lo = hi > win ? hi - win : 0;
	if (!(w = rows_at(t, lo, hi, buf)))
		return -1;
	if (memcmp(w, id->id, TG_OID_RAWSZ) > 0) {
		hi = lo;
		lo = 0;
	} else if (memcmp(w + (hi - lo - 1) * ROW_SIZE, id->id,
			  TG_OID_RAWSZ) < 0) {
		lo = hi;
		hi = n;
	} else {
		goto found_window;
	}
	while (hi - lo > win) {
		size_t mid = lo + (hi - lo) / 2;
		unsigned char row[ROW_SIZE];
		const unsigned char *r = rows_at(t, mid, mid + 1, row);
		int c;

		if (!r)
			return -1;
		c = memcmp(r, id->id, TG_OID_RAWSZ);
		if (!c) {
			memcpy(out, r, ROW_SIZE);
			return (long)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= hi || !(w = rows_at(t, lo, hi, buf)))
		return -1;
found_window:
	if (wc && w == wc->buf) {
		wc->lo = lo;
		wc->hi = hi;
	}
search:
	if ((k = bisect(w, hi - lo, ROW_SIZE, id)) < 0)
		return -1;
	memcpy(out, w + (size_t)k * ROW_SIZE, ROW_SIZE);
	return (long)lo + k;
}

static long table_find(unsigned char *out, const struct rtable *t,
		       const struct tg_oid *id)
{
	return table_find_in(out, t, id, NULL);
}

/*
 * A row's record, checked against the row's own checksum: the header's
 * covers only the table, so a warm run reads just the records it uses
 * (§12), and a damaged one is found when it is used, then made again.
 */
/* A record of l bytes at pos in fd, checked: a fresh buffer, or NULL. */
static unsigned char *read_record(int fd, uint64_t pos, uint32_t l,
				  uint32_t sum)
{
	unsigned char *buf = tg_xmalloc(l);

	if (!read_at(fd, buf, l, (off_t)pos) ||
	    (uint32_t)checksum(buf, l) != sum) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool row_record(const unsigned char **data, size_t *len,
		       struct tg_ownerdb *db, const struct rtable *t,
		       const unsigned char *row)
{
	struct rowf f = row_get(row);
	unsigned char *buf;

	if (!f.len) {
		*data = NULL;
		*len = 0;
		return (uint32_t)checksum(NULL, 0) == f.sum;
	}
	if (!(buf = read_record(t->fd, (uint64_t)t->base + f.off, f.len,
				f.sum)))
		return false;
	TG_ALLOC_GROW(db->copies, db->ncopies + 1, db->alloc_copies);
	db->copies[db->ncopies++] = buf;
	*data = buf;
	*len = f.len;
	return true;
}

static long jrn_find(const struct tg_ownerdb *db, const struct tg_oid *id)
{
	return bisect(db->jrn, db->njrn, sizeof(*db->jrn), id);
}

static bool cache_find(const unsigned char **data, size_t *len,
		       struct tg_ownerdb *db, const struct tg_oid *id)
{
	unsigned char row[ROW_SIZE];
	long i;

	if (table_find(row, &db->cache, id) >= 0 &&
	    row_record(data, len, db, &db->cache, row))
		return true;
	for (size_t r = 0; r < db->nsealed; r++)
		if (table_find(row, &db->runs[r], id) >= 0 &&
		    row_record(data, len, db, &db->runs[r], row))
			return true;
	if ((i = jrn_find(db, id)) >= 0) {
		*data = db->jrn[i].data;
		*len = db->jrn[i].len;
		return true;
	}
	return false;
}

static int row_hint(const unsigned char *row)
{
	return (int)row_get(row).hint;
}

/* Where a record of the cache is: a table's row, or the journal's. */
struct hit {
	const struct rtable *t; /* NULL: the journal's entry j */
	long row;               /* the row's index in t */
	unsigned char bytes[ROW_SIZE];
	long j;
};

/*
 * The hint of a cached record without reading it; -1 when the cache
 * lacks it. *h says where it is.
 */
static int cache_hint(struct hit *h, const struct tg_ownerdb *db,
		      const struct tg_oid *id, struct wcache *wc)
{
	h->t = NULL;
	h->j = -1;
	if ((h->row = table_find_in(h->bytes, &db->cache, id, wc)) >= 0) {
		h->t = &db->cache;
		return row_hint(h->bytes);
	}
	for (size_t r = 0; r < db->nsealed; r++) {
		if ((h->row = table_find(h->bytes, &db->runs[r], id)) >= 0) {
			h->t = &db->runs[r];
			return row_hint(h->bytes);
		}
	}
	if ((h->j = jrn_find(db, id)) >= 0)
		return (int)hint_of(db->jrn[h->j].data, db->jrn[h->j].len);
	return -1;
}

/*
 * A target's record that cache_hint() found in the cache file: checked
 * now (a damaged one is made again), then left there, so a run holds
 * where each target's record is, not the record (§11). The resolver
 * and the readers below read it again with tg_ownerdb_load().
 */
static bool leave_record(struct tg_ownerdb_file *f, struct tg_ownerdb *db,
			 const struct hit *h)
{
	struct rowf r = row_get(h->bytes);
	unsigned char *buf;

	f->pos = (uint64_t)h->t->base + r.off;
	if (!(buf = read_record(h->t->fd, f->pos, r.len, r.sum)))
		return false;
	f->head[0] = buf[0];
	f->head[1] = r.len > 1 ? buf[1] : 0;
	free(buf);
	f->data = NULL;
	f->len = r.len;
	f->fd = h->t->fd;
	f->sum = r.sum;
	db->nlazy++;
	return true;
}

const unsigned char *tg_ownerdb_load(const struct tg_ownerdb_file *f,
				     unsigned char **owned)
{
	*owned = NULL;
	if (f->data || !f->len)
		return f->data;
	if (!(*owned = read_record(f->fd, f->pos, (uint32_t)f->len,
				   f->sum))) {
		fprintf(stderr,
			"txguard: the owner index cache was changed in place while this run read it (the record of %s)\n"
			"hint: run txguard again; if this repeats, remove .git/txguard/\n",
			f->path);
		exit(2); /* TG_EXIT_ERROR: never resolve without it */
	}
	return *owned;
}

/* The record cache_hint() found. */
static bool hit_record(const unsigned char **data, size_t *len,
		       struct tg_ownerdb *db, const struct hit *h)
{
	if (h->t)
		return row_record(data, len, db, h->t, h->bytes);
	*data = db->jrn[h->j].data;
	*len = db->jrn[h->j].len;
	return true;
}

static int cmp_fresh(const void *a, const void *b)
{
	return memcmp(((const struct fresh *)a)->id.id,
		      ((const struct fresh *)b)->id.id, TG_OID_RAWSZ);
}

static uint64_t entry_sum(const unsigned char *oid, const unsigned char *data,
			  size_t len)
{
	return checksum(oid, TG_OID_RAWSZ) ^ (checksum(data, len) * 31);
}

/*
 * The journal: records appended since the last full write, so a commit
 * that changes one file appends a few hundred bytes instead of
 * rewriting the whole cache (§12). Each entry carries its own checksum;
 * reading stops at the first damaged one (a torn append), and losing
 * entries only costs a parse.
 */
static void load_log(struct tg_ownerdb *db)
{
	int fd = open(db->log_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t off = 0, got = 0;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return;
	}
	if ((uint64_t)st.st_size > JOURNAL_MAX) {
		/* not ours to hold: its records are made again, and the
		 * next save rewrites the file without it */
		db->log_damaged = true;
		close(fd);
		return;
	}
	db->log = tg_xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, db->log + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	db->log_len = got;
	while (got - off >= JHEAD) {
		const unsigned char *e = db->log + off;
		uint32_t magic, len;
		uint64_t sum;
		struct fresh *j;

		memcpy(&magic, e, 4);
		memcpy(&len, e + 24, 4);
		memcpy(&sum, e + 28, 8);
		if (magic != JMAGIC || len > MAX_RECORD ||
		    len > got - off - JHEAD ||
		    entry_sum(e + 4, e + JHEAD, len) != sum)
			break;
		TG_ALLOC_GROW(db->jrn, db->njrn + 1, db->alloc_jrn);
		j = &db->jrn[db->njrn++];
		memcpy(j->id.id, e + 4, TG_OID_RAWSZ);
		j->data = (unsigned char *)e + JHEAD;
		j->len = len;
		off += JHEAD + len;
	}
	db->log_damaged = off != got;
	if (db->njrn)
		qsort(db->jrn, db->njrn, sizeof(*db->jrn), cmp_fresh);
}

/* Append fresh[nsaved..] to the journal in one write. */
static bool append_log(struct tg_ownerdb *db)
{
	struct tg_buf b = TG_BUF_INIT;
	uint32_t magic = JMAGIC;
	int fd;
	bool ok;

	for (size_t i = db->nsaved; i < db->nfresh; i++) {
		const struct fresh *f = &db->fresh[i];
		uint32_t len = (uint32_t)f->len;
		uint64_t sum = entry_sum(f->id.id, f->data ? f->data :
						     (const unsigned char *)"",
					 f->len);

		tg_buf_add(&b, &magic, 4);
		tg_buf_add(&b, f->id.id, TG_OID_RAWSZ);
		tg_buf_add(&b, &len, 4);
		tg_buf_add(&b, &sum, 8);
		if (f->len)
			tg_buf_add(&b, f->data, f->len);
	}
	fd = open(db->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		  0666);
	/* O_APPEND: concurrent runs never write over each other */
	ok = fd >= 0 && write_all(fd, b.ptr, b.len) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	tg_buf_release(&b);
	return ok;
}

/*
 * A record going into a rewritten cache: in memory (data), or len bytes
 * at off of fd (the old cache, the spill file), copied as they are: a
 * damaged one keeps its checksum and is made again when used.
 */
struct row {
	struct tg_oid id;
	const unsigned char *data;
	int fd;
	off_t off;
	uint32_t len, hint, sum;
	unsigned prio; /* of two rows of one blob, the lower is kept */
};

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = memcmp(x->id.id, y->id.id, TG_OID_RAWSZ);

	return c ? c : (x->prio > y->prio) - (x->prio < y->prio);
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void add_mem_row(struct row **rows, size_t *nr, size_t *alloc,
			const struct tg_oid *id, const unsigned char *data,
			size_t len, unsigned prio)
{
	struct row *r;

	if (len > MAX_RECORD)
		return; /* too big to keep: made again when used */
	TG_ALLOC_GROW(*rows, *nr + 1, *alloc);
	r = &(*rows)[(*nr)++];
	memset(r, 0, sizeof(*r));
	r->id = *id;
	r->data = data;
	r->fd = -1;
	r->len = (uint32_t)len;
	r->hint = hint_of(data, len);
	r->sum = (uint32_t)checksum(data, len);
	r->prio = prio;
}

/* Write a row's record through the buffer *w, flushed past 64 KiB. */
static int put_record(int fd, struct tg_buf *w, const struct row *r)
{
	if (r->data) {
		tg_buf_add(w, r->data, r->len);
	} else {
		size_t at = w->len;

		tg_buf_grow(w, r->len);
		if (pread(r->fd, w->ptr + at, r->len, r->off) != (ssize_t)r->len)
			return -1;
		w->len = at + r->len; /* grown for it: still terminated */
		w->ptr[w->len] = '\0';
	}
	if (w->len >= (64u << 10)) {
		if (write_all(fd, w->ptr, w->len) < 0)
			return -1;
		tg_buf_reset(w);
	}
	return 0;
}

/* Records to save past the journal's limit: write the whole file. */
static size_t unsaved_bytes(const struct tg_ownerdb *db)
{
	size_t add = 0;

	for (size_t i = db->nsaved; i < db->nfresh; i++)
		add += JHEAD + db->fresh[i].len;
	/* the spill holds the records of a build too big for memory */
	return db->nspill ? SIZE_MAX : add;
}

/* rows a merge source reads at once: a run costs 2 KiB while it is merged */
#define MWIN 64

/* A sorted source of rows for the merge that writes the cache. */
struct msrc {
	const struct rtable *t; /* NULL: the in-memory rows */
	size_t pos, end;
	unsigned prio;
	bool old; /* the old cache: used rows, unused ones within budget */
	size_t lo, hi; /* its rows [lo, hi) are in buf */
	unsigned char *buf;
	struct row cur;
};

struct merge {
	struct tg_ownerdb *db;
	const struct row *mem;
	struct msrc *src;
	size_t nsrc, *heap, nheap, budget0, budget;
	bool failed;
};

static bool src_next(struct merge *m, struct msrc *s)
{
	while (s->pos < s->end) {
		size_t i = s->pos++;
		const unsigned char *row;
		struct rowf f;

		if (!s->t) {
			s->cur = m->mem[i];
			return true;
		}
		if (i < s->lo || i >= s->hi) {
			size_t hi = i + MWIN < s->end ? i + MWIN : s->end;

			if (!rows_at(s->t, i, hi, s->buf)) {
				m->failed = true;
				return false;
			}
			s->lo = i;
			s->hi = hi;
		}
		row = s->buf + (i - s->lo) * ROW_SIZE;
		if (s->old && !(m->db->used && (m->db->used[i / 8] >> (i % 8) & 1))) {
			if (!m->budget)
				continue;
			m->budget--;
		}
		f = row_get(row);
		memset(&s->cur, 0, sizeof(s->cur));
		memcpy(s->cur.id.id, row, TG_OID_RAWSZ);
		s->cur.fd = s->t->fd;
		s->cur.off = s->t->base + (off_t)f.off;
		s->cur.len = f.len;
		s->cur.hint = f.hint;
		s->cur.sum = f.sum;
		s->cur.prio = s->prio;
		if (s->cur.len <= MAX_RECORD)
			return true; /* a bigger one is made again when used */
	}
	return false;
}

static bool heap_less(const struct merge *m, size_t a, size_t b)
{
	const struct row *x = &m->src[a].cur, *y = &m->src[b].cur;
	int c = memcmp(x->id.id, y->id.id, TG_OID_RAWSZ);

	return c ? c < 0 : x->prio < y->prio;
}

static void heap_down(struct merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, min = i, t;

		if (l < m->nheap && heap_less(m, m->heap[l], m->heap[min]))
			min = l;
		if (l + 1 < m->nheap && heap_less(m, m->heap[l + 1], m->heap[min]))
			min = l + 1;
		if (min == i)
			return;
		t = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

/*
 * One pass over the rows the cache will hold, in id order, each blob
 * once (of two rows of one blob, the lower prio): the merge of the
 * in-memory rows, the spill's runs and the old cache's table, read a
 * window at a time, so writing the cache holds no row a blob (§11).
 */
static int merge_pass(struct merge *m, int (*emit)(void *, const struct row *),
		      void *ctx)
{
	unsigned char last[TG_OID_RAWSZ];
	bool have_last = false;

	m->budget = m->budget0;
	m->nheap = 0;
	for (size_t i = 0; i < m->nsrc; i++) {
		m->src[i].pos = 0;
		m->src[i].lo = m->src[i].hi = 0;
		if (src_next(m, &m->src[i]))
			m->heap[m->nheap++] = i;
	}
	for (size_t i = m->nheap / 2; i-- > 0;)
		heap_down(m, i);
	while (m->nheap && !m->failed) {
		struct msrc *s = &m->src[m->heap[0]];

		if (!have_last || memcmp(last, s->cur.id.id, TG_OID_RAWSZ)) {
			if (emit(ctx, &s->cur) < 0)
				return -1;
			memcpy(last, s->cur.id.id, TG_OID_RAWSZ);
			have_last = true;
		}
		if (!src_next(m, s))
			m->heap[0] = m->heap[--m->nheap];
		heap_down(m, 0);
	}
	return m->failed ? -1 : 0;
}

struct table_out {
	int fd;
	size_t n;
	uint64_t data_len, sum;
	struct tg_buf w;
	bool count_only;
};

static int emit_table(void *ctx, const struct row *r)
{
	struct table_out *o = ctx;
	struct rowf f = { (uint32_t)o->data_len, r->len, r->hint, r->sum };
	unsigned char row[ROW_SIZE];

	o->n++;
	o->data_len += r->len;
	if (o->count_only)
		return 0;
	row_put(row, r->id.id, f);
	o->sum = sum_words(o->sum, row, ROW_SIZE);
	tg_buf_add(&o->w, row, ROW_SIZE);
	if (o->w.len >= (64u << 10)) {
		if (write_all(o->fd, o->w.ptr, o->w.len) < 0)
			return -1;
		tg_buf_reset(&o->w);
	}
	return 0;
}

static int emit_record(void *ctx, const struct row *r)
{
	struct table_out *o = ctx;

	return r->len ? put_record(o->fd, &o->w, r) : 0;
}

int tg_ownerdb_save(struct tg_ownerdb *db)
{
	struct row *rows = NULL;
	size_t nrows = 0, alloc = 0, keep_old, nused = 0;
	struct table_out o = { .fd = -1, .w = TG_BUF_INIT };
	struct merge m = { .db = db };
	unsigned char hdr[HEADER_SIZE];
	uint32_t mark = ENDIAN_MARK, n32;
	char *tmp = NULL, *dir = NULL, *slash;
	int fd = -1, err = 0;
	static unsigned counter;

	if (!db->dirty || (db->flags & (TG_OWNERDB_NO_WRITE |
					TG_OWNERDB_NO_CACHE)))
		return 0;
	{
		size_t add = unsaved_bytes(db), limit = db->file_len / 4;

		if (limit < (256u << 10))
			limit = 256u << 10;
		if (limit > JOURNAL_MAX)
			limit = JOURNAL_MAX;
		/* a small change goes to the journal; a big one, or a
		 * missing or damaged cache or journal, rewrites it all */
		if (db->stats.cache_valid && !db->log_damaged &&
		    add <= limit && db->log_len + add <= limit &&
		    append_log(db)) {
			db->nsaved = db->nfresh;
			db->dirty = false;
			db->stats.written = true;
			return 0;
		}
	}
	/* the records this run holds: the targets, fresh ones, the journal */
	for (size_t i = 0; i < db->nfiles; i++) {
		const struct tg_ownerdb_file *f = &db->files[i];
		struct row *r;

		if (f->data || !f->len) {
			add_mem_row(&rows, &nrows, &alloc, &f->id, f->data,
				    f->len, 0);
			continue;
		}
		/* left in the cache file (leave_record) */
		TG_ALLOC_GROW(rows, nrows + 1, alloc);
		r = &rows[nrows++];
		memset(r, 0, sizeof(*r));
		r->id = f->id;
		r->fd = f->fd;
		r->off = (off_t)f->pos;
		r->len = (uint32_t)f->len;
		r->hint = hint_of(f->head, f->len);
		r->sum = f->sum;
	}
	for (size_t i = 0; i < db->nfresh; i++)
		add_mem_row(&rows, &nrows, &alloc, &db->fresh[i].id,
			    db->fresh[i].data, db->fresh[i].len, 0);
	for (size_t i = 0; i < db->njrn; i++)
		add_mem_row(&rows, &nrows, &alloc, &db->jrn[i].id,
			    db->jrn[i].data, db->jrn[i].len, 2);
	if (nrows)
		qsort(rows, nrows, sizeof(*rows), cmp_row);
	/*
	 * Merged with the spill's runs and the old cache: of the old rows,
	 * this run's files the list left out, then the rest while the file
	 * stays within twice the tree (switching branches keeps most).
	 */
	m.mem = rows;
	m.src = tg_xcalloc(db->nruns + 2, sizeof(*m.src));
	m.heap = tg_xcalloc(db->nruns + 2, sizeof(*m.heap));
	m.src[m.nsrc].end = nrows;
	m.src[m.nsrc++].prio = 0;
	for (size_t r = 0; r < db->nruns; r++) {
		struct msrc *s = &m.src[m.nsrc++];

		s->t = &db->runs[r];
		s->end = db->runs[r].n;
		s->prio = 1;
	}
	if (db->cache.n) {
		struct msrc *s = &m.src[m.nsrc++];

		s->t = &db->cache;
		s->end = db->cache.n;
		s->prio = 3;
		s->old = true;
		for (size_t i = 0; db->used && i < db->cache.n; i++)
			nused += db->used[i / 8] >> (i % 8) & 1;
	}
	for (size_t i = 0; i < m.nsrc; i++)
		if (m.src[i].t)
			m.src[i].buf = tg_xmalloc(MWIN * ROW_SIZE);
	keep_old = 2 * db->stats.files + 1024;
	m.budget0 = keep_old > nrows + db->nspill + nused ?
			    keep_old - nrows - db->nspill - nused :
			    0;
	/* first the count and the size, which the table's checksum needs */
	o.count_only = true;
	if (merge_pass(&m, emit_table, &o) < 0 || o.data_len > UINT32_MAX)
		goto out; /* unreadable, or too big to index: no cache */

	dir = tg_xstrdup(db->cache_path);
	if ((slash = strrchr(dir, '/'))) {
		*slash = '\0';
		if (mkdir(dir, 0777) < 0 && errno != EEXIST)
			goto out; /* a read-only repository: no cache */
	}
	/* §11: a private temporary file renamed over the old one */
	tmp = tg_xasprintf("%s.tmp.%ld.%u", db->cache_path, (long)getpid(),
			   __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		goto out;
	/* the table, then the records, through a small buffer (§11) */
	n32 = (uint32_t)o.n;
	memcpy(hdr, MAGIC, 8);
	memcpy(hdr + 8, &mark, 4);
	memcpy(hdr + 12, &n32, 4);
	memcpy(hdr + 16, &o.data_len, 8);
	memset(hdr + 24, 0, 8);
	o.fd = fd;
	o.count_only = false;
	o.sum = SUM_SEED ^ (o.n * ROW_SIZE);
	o.n = 0;
	o.data_len = 0;
	if (write_all(fd, hdr, sizeof(hdr)) < 0 ||
	    merge_pass(&m, emit_table, &o) < 0 ||
	    write_all(fd, o.w.ptr, o.w.len) < 0)
		goto fail;
	tg_buf_reset(&o.w);
	if (o.n != n32 || merge_pass(&m, emit_record, &o) < 0 ||
	    write_all(fd, o.w.ptr, o.w.len) < 0)
		goto fail;
	/* the header's checksum covers the table alone */
	memcpy(hdr + 24, &o.sum, 8);
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, db->cache_path) < 0)
		goto fail;
	/* the journal is folded in; entries appended meanwhile by another
	 * run are lost, which only costs that run's blobs a parse */
	unlink(db->log_path);
	if (dir) {
		/* the first format's files, next to it, are dead weight */
		char *v1 = tg_xasprintf("%s/ownerdb-v1", dir);
		char *v1log = tg_xasprintf("%s.log", v1);

		unlink(v1);
		unlink(v1log);
		free(v1log);
		free(v1);
	}
	db->stats.written = true;
	db->dirty = false;
	db->nsaved = db->nfresh;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	/* failing to write a cache is never an error: the next run redoes it */
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	for (size_t i = 0; i < m.nsrc; i++)
		free(m.src[i].buf);
	free(m.src);
	free(m.heap);
	free(tmp);
	free(dir);
	free(rows);
	tg_buf_release(&o.w);
	return err;
}

/* ---- building --------------------------------------------------------- */

/*
 * tg_inferred_is_target() from a table row's hint, without the record: the
 * hint's bit 2 says the import count is not 0.
 */
static bool is_target_hint(const char *path, unsigned hint)
{
	return (hint & TG_INFER_HAS_DEFS) ||
	       ((hint & 4) && tg_infer_is_package(path));
}

static int fill_missing(struct tg_ownerdb *db);
static void drop_known(struct tg_ownerdb *db);

/*
 * One selected file. With TG_OWNERDB_TARGETS_ONLY files wait in a batch:
 * drop_known() then counts and drops those whose cached record makes
 * them no resolution target, so a warm run holds only the few files that
 * define something (§11, §12), and fill_missing() infers the rest.
 */
static int add_file(struct tg_ownerdb *db, const char *path,
		    const unsigned char *id)
{
	struct tg_ownerdb_file *f;

	db->stats.files++;
	TG_ALLOC_GROW(db->files, db->nfiles + 1, db->alloc_files);
	f = &db->files[db->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = db->flags & TG_OWNERDB_BORROW_PATHS ? (char *)path :
							 tg_xstrdup(path);
	memcpy(f->id.id, id, TG_OID_RAWSZ);
	if ((db->flags & TG_OWNERDB_TARGETS_ONLY) &&
	    db->nfiles - db->pending >= db->batch) {
		drop_known(db);
		return fill_missing(db);
	}
	return 0;
}

/*
 * TG_OWNERDB_TARGETS_ONLY: of files[pending..], drop those the cache
 * knows to be no target. Looked up in the order of their ids' first
 * byte (a counting sort: a comparison sort cost more than the reads it
 * saved), so one read of the table's rows serves the batch's ids that
 * fall among them.
 */
static void drop_known(struct tg_ownerdb *db)
{
	size_t from = db->pending, n = db->nfiles - from, kept = from;
	size_t *order;
	bool *drop;
	struct wcache *wc;

	if (!(db->flags & TG_OWNERDB_TARGETS_ONLY) || !n)
		return;
	order = tg_xmalloc(n * sizeof(*order));
	drop = tg_xcalloc(n, sizeof(*drop));
	wc = tg_xcalloc(1, sizeof(*wc));
	{
		size_t at[257] = { 0 };

		for (size_t i = from; i < db->nfiles; i++)
			at[db->files[i].id.id[0] + 1]++;
		for (int b = 1; b < 257; b++)
			at[b] += at[b - 1];
		for (size_t i = from; i < db->nfiles; i++)
			order[at[db->files[i].id.id[0]]++] = i;
	}
	for (size_t k = 0; k < n; k++) {
		struct tg_ownerdb_file *f = &db->files[order[k]];
		struct hit h;
		int hint = cache_hint(&h, db, &f->id, wc);

		if (hint < 0)
			continue;
		/* targets too: keep_live() may leave one out */
		if (h.t == &db->cache) {
			if (!db->used)
				db->used = tg_xcalloc(db->cache.n / 8 + 1, 1);
			db->used[h.row / 8] |=
				(unsigned char)(1u << (h.row % 8));
		}
		if (is_target_hint(f->path, (unsigned)hint)) {
			/* a target: its record, while the row is at hand */
			if (h.t == &db->cache ? leave_record(f, db, &h) :
						hit_record(&f->data, &f->len,
							   db, &h))
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
	free(wc);
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

static bool selected(const struct tg_glob_set *python, const char *path)
{
	size_t l;

	if (python)
		return tg_glob_set_match(python, path);
	l = strlen(path);
	return l >= 3 && !strcmp(path + l - 3, ".py");
}

/* Work for the parser threads: a bounded queue of read blobs. */
struct job {
	size_t slot;
	char *buf;
	size_t len;
	const char *path;
};

struct pool {
	pthread_mutex_t mu;
	/* held while a big blob is inferred: two big parses at once
	 * would double the peak (§11); a worker holds no other lock */
	pthread_mutex_t big;
	pthread_cond_t can_put, can_get;
	struct job ring[64];
	size_t head, count;
	bool done;
	struct fresh *out;
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
	p->out[j->slot].data = b.len ? (unsigned char *)tg_buf_detach(&b, NULL) :
				       NULL;
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

static int read_blob(char **buf, size_t *len, struct tg_ownerdb *db,
		     const struct tg_oid *id)
{
	git_odb_object *obj = NULL;
	git_oid oid;
	int err;

	if (db->read) {
		if ((err = db->read(db->read_ctx, buf, len, id)) < 0)
			return err;
		db->stats.read++;
		return 0;
	}
	memcpy(oid.id, id->id, TG_OID_RAWSZ);
	if (!db->odb && git_repository_odb(&db->odb, db->repo) < 0)
		return tg_error_git("cannot open the object database");
	tg_watch_begin("reading blob", oid.id);
	err = git_odb_read(&obj, db->odb, &oid);
	tg_watch_end();
	if (err < 0)
		return tg_error_git("cannot read a blob");
	if (git_odb_object_type(obj) != GIT_OBJECT_BLOB) {
		git_odb_object_free(obj);
		*buf = NULL;
		*len = 0;
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

static int cmp_missing(const void *a, const void *b, void *arg)
{
	const struct tg_ownerdb_file *f = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = memcmp(f[x].id.id, f[y].id.id, TG_OID_RAWSZ);

	return c ? c : (x < y ? -1 : x > y);
}

/* A record the caller gave: kept as a fresh record (saved later). */
static bool seeded(struct tg_ownerdb_file *f, struct tg_ownerdb *db)
{
	for (size_t i = 0; i < db->nfresh; i++) {
		if (memcmp(db->fresh[i].id.id, f->id.id, TG_OID_RAWSZ))
			continue;
		f->data = db->fresh[i].data;
		f->len = db->fresh[i].len;
		return true;
	}
	return false;
}

static void add_seeds(struct tg_ownerdb *db,
		      const struct tg_ownerdb_opts *opts)
{
	for (size_t i = 0; opts && i < opts->nseed; i++) {
		const struct tg_ownerdb_file *s = &opts->seed[i];
		struct fresh *f;

		TG_ALLOC_GROW(db->fresh, db->nfresh + 1, db->alloc_fresh);
		f = &db->fresh[db->nfresh++];
		f->id = s->id;
		f->len = s->len;
		f->data = NULL;
		if (s->len) {
			f->data = tg_xmalloc(s->len);
			memcpy(f->data, s->data, s->len);
		}
	}
}

/*
 * The spill file: unlinked at once, next to the cache (the same disk)
 * when the cache may be written, else in TMPDIR.
 */
static bool spill_open(struct tg_ownerdb *db)
{
	const char *tmpdir = getenv("TMPDIR");
	char *paths[2] = { NULL, NULL };

	if (db->cache_path &&
	    !(db->flags & (TG_OWNERDB_NO_WRITE | TG_OWNERDB_NO_CACHE))) {
		char *dir = tg_xstrdup(db->cache_path), *slash;

		if ((slash = strrchr(dir, '/'))) {
			*slash = '\0';
			mkdir(dir, 0777); /* failing shows in mkostemp */
		}
		free(dir);
		paths[0] = tg_xasprintf("%s.spill.XXXXXX", db->cache_path);
	}
	paths[1] = tg_xasprintf("%s/txguard-spill.XXXXXX",
				tmpdir && *tmpdir ? tmpdir : "/tmp");
	for (int i = 0; i < 2 && db->spill.fd < 0; i++) {
		int fd = paths[i] ? mkostemp(paths[i], O_CLOEXEC) : -1;

		if (fd >= 0) {
			unlink(paths[i]);
			db->spill.fd = fd;
		}
	}
	free(paths[0]);
	free(paths[1]);
	if (db->spill.fd < 0)
		db->spill_failed = true;
	return !db->spill_failed;
}

static int cmp_spill_row(const void *a, const void *b)
{
	return memcmp(a, b, TG_OID_RAWSZ);
}

/*
 * Write a batch's records to the spill file, then their rows sorted: a
 * run, which the cache's writer merges with the others (§11: a build
 * holds no row a blob).
 */
static bool spill_records(struct tg_ownerdb *db, const struct fresh *recs,
			  size_t n)
{
	struct tg_buf b = TG_BUF_INIT;
	uint64_t off = db->spill_len, rows_off;
	unsigned char *rows;
	struct rtable *run;

	if (db->spill_failed || (db->spill.fd < 0 && !spill_open(db)))
		return false;
	for (size_t k = 0; k < n; k++)
		if (recs[k].len)
			tg_buf_add(&b, recs[k].data, recs[k].len);
	rows_off = off + b.len;
	rows = tg_xmalloc((n ? n : 1) * ROW_SIZE);
	for (size_t k = 0; k < n; k++) {
		struct rowf f = {
			(uint32_t)off, (uint32_t)recs[k].len,
			hint_of(recs[k].data, recs[k].len),
			(uint32_t)checksum(recs[k].data, recs[k].len)
		};

		row_put(rows + k * ROW_SIZE, recs[k].id.id, f);
		off += f.len;
	}
	qsort(rows, n, ROW_SIZE, cmp_spill_row);
	tg_buf_add(&b, rows, n * ROW_SIZE);
	free(rows);
	if (rows_off > UINT32_MAX ||
	    write_all(db->spill.fd, b.ptr, b.len) < 0) {
		/* runs already made stay valid; no more are added */
		db->spill_failed = true;
		tg_buf_release(&b);
		return false;
	}
	TG_ALLOC_GROW(db->runs, db->nruns + 1, db->alloc_runs);
	run = &db->runs[db->nruns++];
	memset(run, 0, sizeof(*run));
	run->fd = db->spill.fd;
	run->n = n;
	run->rows_off = (off_t)rows_off;
	run->win = db->win;
	db->nspill += n;
	db->spill_len = rows_off + n * ROW_SIZE;
	tg_buf_release(&b);
	return true;
}

/* The build is over: the spilled runs become searchable. */
static void spill_seal(struct tg_ownerdb *db)
{
	db->nsealed = db->nruns;
}

static void spill_close(struct tg_ownerdb *db)
{
	if (db->spill.fd >= 0)
		close(db->spill.fd);
	free(db->runs);
	db->runs = NULL;
	db->nruns = db->alloc_runs = db->nsealed = db->nspill = 0;
	memset(&db->spill, 0, sizeof(db->spill));
	db->spill.fd = -1;
}

/* The record of `id` among a batch's, sorted by id; -1 if none. */
static long find_rec(const struct fresh *recs, size_t n,
		     const struct tg_oid *id)
{
	return bisect(recs, n, sizeof(*recs), id);
}

/* A copy the db owns (db->copies), for a kept file of a spilled batch. */
static const unsigned char *keep_copy(struct tg_ownerdb *db,
				      const unsigned char *data, size_t len)
{
	unsigned char *c = tg_xmalloc(len);

	memcpy(c, data, len);
	TG_ALLOC_GROW(db->copies, db->ncopies + 1, db->alloc_copies);
	db->copies[db->ncopies++] = c;
	return c;
}

/*
 * Infer the blobs the cache lacks among files[pending..]: read here,
 * parse in the threads. Once a build has made a batch's worth of
 * records, they go to the spill file and only the batch's targets keep
 * theirs in memory; before that they join db->fresh (so an ordinary
 * change still goes to the journal). Either way the batch then keeps
 * only its targets.
 */
static int fill_missing(struct tg_ownerdb *db)
{
	size_t *missing = NULL, nmissing = 0, alloc = 0;
	bool to_spill;
	size_t from = db->pending;
	struct fresh *recs;
	struct pool p;
	pthread_t th[4];
	int nth = db->threads > 0 ? db->threads : ncpus(), started = 0;
	int err = 0;

	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];

		if (f->len)
			continue; /* drop_known() read it */
		if (cache_find(&f->data, &f->len, db, &f->id)) {
			db->stats.cached++;
			continue;
		}
		if (seeded(f, db)) {
			db->stats.seeded++;
			continue;
		}
		TG_ALLOC_GROW(missing, nmissing + 1, alloc);
		missing[nmissing++] = i;
	}
	if (!nmissing) {
		/* seeds the cache lacked still need saving */
		db->dirty = db->dirty || db->stats.seeded;
		keep_targets(db, from);
		db->pending = db->nfiles;
		return 0;
	}
	/* one blob at many paths (copies, vendored trees) is read once */
	qsort_r(missing, nmissing, sizeof(*missing), cmp_missing, db->files);
	{
		size_t out = 0;

		for (size_t k = 0; k < nmissing; k++)
			if (!out || memcmp(db->files[missing[out - 1]].id.id,
					   db->files[missing[k]].id.id,
					   TG_OID_RAWSZ))
				missing[out++] = missing[k];
		nmissing = out;
	}
	db->dirty = true;
	/* more records than a batch: from here on they go to the spill */
	to_spill = db->nspill > 0 ||
		   ((db->flags & TG_OWNERDB_TARGETS_ONLY) &&
		    db->nfresh + nmissing >= db->batch);
	recs = tg_xcalloc(nmissing, sizeof(*recs));
	memset(&p, 0, sizeof(p));
	p.out = recs;
	pthread_mutex_init(&p.mu, NULL);
	pthread_mutex_init(&p.big, NULL);
	pthread_cond_init(&p.can_put, NULL);
	pthread_cond_init(&p.can_get, NULL);
	if (nth > 4)
		nth = 4;
	if (nmissing < 16)
		nth = 0; /* not worth a thread */
	for (int i = 0; i < nth; i++)
		if (!pthread_create(&th[i], NULL, worker, &p))
			started++;
	for (size_t k = 0; k < nmissing; k++) {
		struct tg_ownerdb_file *f = &db->files[missing[k]];
		struct job j = { k, NULL, 0, f->path };

		recs[k].id = f->id;
		if ((err = read_blob(&j.buf, &j.len, db, &f->id)) < 0)
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
	free(missing);
	if (err < 0) {
		/* unread blobs have no record: nothing of this batch is kept */
		for (size_t k = 0; k < nmissing; k++)
			free(recs[k].data);
		free(recs);
		return err;
	}
	if (to_spill)
		to_spill = spill_records(db, recs, nmissing);
	/* every file takes its blob's record, duplicates included */
	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];
		long k;

		if (f->data || f->len)
			continue;
		if ((k = find_rec(recs, nmissing, &f->id)) >= 0) {
			f->data = recs[k].data;
			f->len = recs[k].len;
		}
	}
	keep_targets(db, from);
	db->pending = db->nfiles;
	if (!to_spill) {
		/* fresh records are never moved: only the array grows */
		TG_ALLOC_GROW(db->fresh, db->nfresh + nmissing,
			      db->alloc_fresh);
		memcpy(db->fresh + db->nfresh, recs, nmissing * sizeof(*recs));
		db->nfresh += nmissing;
		free(recs);
		return 0;
	}
	/* spilled: the few files kept take copies, the batch goes */
	for (size_t i = from; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];
		long k = f->len ? find_rec(recs, nmissing, &f->id) : -1;

		if (k >= 0 && f->data == recs[k].data)
			f->data = keep_copy(db, f->data, f->len);
	}
	for (size_t k = 0; k < nmissing; k++)
		free(recs[k].data);
	free(recs);
	return 0;
}

static struct tg_ownerdb *db_new(struct git_repository *repo,
				 const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db = tg_xcalloc(1, sizeof(*db));

	db->cache.fd = -1;
	db->spill.fd = -1;
	db->repo = repo;
	db->batch = BATCH;
	if (opts) {
		db->flags = opts->flags;
		db->threads = opts->threads;
		if (opts->batch)
			db->batch = opts->batch;
		if (opts->window && opts->window < WIN)
			db->win = opts->window;
		db->read = opts->read;
		db->read_ctx = opts->read_ctx;
	}
	db->cache_path = opts && opts->cache_path ?
				 tg_xstrdup(opts->cache_path) :
				 tg_ownerdb_default_path(repo);
	if (!db->cache_path)
		db->flags |= TG_OWNERDB_NO_CACHE;
	add_seeds(db, opts);
	if (!(db->flags & TG_OWNERDB_NO_CACHE)) {
		db->log_path = tg_xasprintf("%s.log", db->cache_path);
		load_cache(db);
		if (db->stats.cache_valid)
			load_log(db);
	}
	return db;
}

static void sort_files(struct tg_ownerdb *db);

/*
 * After a build that spilled, the cache just written holds every record:
 * read it instead, so what follows runs as a warm run would (§11).
 */
static void reload(struct tg_ownerdb *db)
{
	close_cache(db);
	db->stats.cache_valid = false;
	load_cache(db);
	if (db->stats.cache_valid)
		spill_close(db);
	else
		db->stats.cache_valid = true; /* it was written; keep the spill */
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
 * every package of the repository (§11). The records read here go again
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

	drop_known(db);
	if ((err = fill_missing(db)) < 0) {
		tg_ownerdb_free(db);
		return err;
	}
	db->read = NULL; /* the caller's reader is for this thread only */
	spill_seal(db);
	sort_files(db);
	for (size_t i = 0; i < db->nfiles; i++) {
		struct tg_ownerdb_file *f = &db->files[i];

		if (f->data) {
			f->head[0] = f->data[0];
			f->head[1] = f->len > 1 ? f->data[1] : 0;
		}
	}
	tg_ownerdb_save(db);
	if (db->nspill && db->stats.written)
		reload(db);
	keep_live(db);
	*out = db;
	return 0;
}

int tg_ownerdb_from_index(struct tg_ownerdb **out,
			  struct git_repository *repo, struct git_index *index,
			  const struct tg_glob_set *python,
			  const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db;
	size_t n = git_index_entrycount(index);
	int err;

	*out = NULL;
	db = db_new(repo, opts);
	for (size_t i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(index, i);

		if (!e || GIT_INDEX_ENTRY_STAGE(e) != 0 ||
		    (e->mode != GIT_FILEMODE_BLOB &&
		     e->mode != GIT_FILEMODE_BLOB_EXECUTABLE) ||
		    !selected(python, e->path))
			continue;
		if ((err = add_file(db, e->path, e->id.id)) < 0) {
			tg_ownerdb_free(db);
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
	    (w->err = add_file(w->db, w->path.ptr,
			       git_tree_entry_id(e)->id)) < 0)
		return -1; /* stops the walk */
	return 0;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct tg_ownerdb_file *)a)->path,
		      ((const struct tg_ownerdb_file *)b)->path);
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
	db = db_new(repo, opts);
	memcpy(oid.id, tree->id, TG_OID_RAWSZ);
	if (memcmp(tree->id, zero, TG_OID_RAWSZ)) {
		tg_watch_begin("reading tree", oid.id);
		err = git_tree_lookup(&t, repo, &oid);
		tg_watch_end();
		if (err < 0) {
			tg_ownerdb_free(db);
			return tg_error_git("cannot read the tree");
		}
		w.db = db;
		if (git_tree_walk(t, GIT_TREEWALK_PRE, walk_cb, &w) < 0) {
			git_tree_free(t);
			tg_buf_release(&w.path);
			tg_ownerdb_free(db);
			return w.err < 0 ? w.err :
					   tg_error_git("cannot walk the tree");
		}
		git_tree_free(t);
		tg_buf_release(&w.path);
	}
	return finish(out, db);
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

int tg_ownerdb_from_list(struct tg_ownerdb **out, struct git_repository *repo,
			 const struct tg_ownerdb_file *files, size_t n,
			 const struct tg_ownerdb_opts *opts)
{
	struct tg_ownerdb *db;
	int err;

	*out = NULL;
	db = db_new(repo, opts);
	for (size_t i = 0; i < n; i++) {
		if ((err = add_file(db, files[i].path, files[i].id.id)) < 0) {
			tg_ownerdb_free(db);
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
	db = db_new(repo, opts);
	while ((got = next(ctx, &path, &id)) > 0)
		if ((got = add_file(db, path, id.id)) < 0)
			break;
	if (got < 0) {
		tg_ownerdb_free(db);
		return got;
	}
	return finish(out, db);
}

void tg_ownerdb_free(struct tg_ownerdb *db)
{
	if (!db)
		return;
	tg_resolver_free(db->resolver);
	if (!(db->flags & TG_OWNERDB_BORROW_PATHS))
		for (size_t i = 0; i < db->nfiles; i++)
			free(db->files[i].path);
	free(db->files);
	for (size_t i = 0; i < db->nfresh; i++)
		free(db->fresh[i].data);
	free(db->fresh);
	close_cache(db);
	for (size_t i = 0; i < db->nold_fds; i++)
		close(db->old_fds[i]);
	free(db->old_fds);
	spill_close(db);
	free(db->log);
	free(db->jrn);
	free(db->used);
	for (size_t i = 0; i < db->ncopies; i++)
		free(db->copies[i]);
	free(db->copies);
	free(db->log_path);
	git_odb_free(db->odb);
	free(db->cache_path);
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
	 * §12: only files that can be a resolution target go in: those
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
	struct tg_buf b = TG_BUF_INIT;
	struct fresh *f;
	char *buf = NULL;
	size_t blen = 0;
	bool parsed;
	int err;

	*data = NULL;
	*len = 0;
	if (!memcmp(id->id, zero, TG_OID_RAWSZ))
		return 0;
	if (cache_find(data, len, db, id))
		return 0;
	for (size_t i = 0; i < db->nfresh; i++) {
		if (!memcmp(db->fresh[i].id.id, id->id, TG_OID_RAWSZ)) {
			*data = db->fresh[i].data;
			*len = db->fresh[i].len;
			return 0;
		}
	}
	if ((err = read_blob(&buf, &blen, db, id)) < 0)
		return err;
	if (buf) {
		tg_infer_blob(&b, &parsed, path, buf, blen);
		if (parsed)
			db->stats.parsed++;
		free(buf);
	}
	/* fresh records are never moved: only the array of them grows */
	TG_ALLOC_GROW(db->fresh, db->nfresh + 1, db->alloc_fresh);
	f = &db->fresh[db->nfresh++];
	f->id = *id;
	f->len = b.len;
	f->data = b.len ? (unsigned char *)tg_buf_detach(&b, NULL) : NULL;
	tg_buf_release(&b);
	db->dirty = true;
	*data = f->data;
	*len = f->len;
	return 0;
}

void tg_ownerdb_release(struct tg_ownerdb *db, const unsigned char *data)
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
	 * §4: a wrapper or alias of a changed definition changes too. Every
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
				tg_ownerdb_release(db, d); /* §11 */
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
