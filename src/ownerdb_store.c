/*
 * ownerdb_store.c: the owner index's cache on disk, a chain of layers of
 * one format (ownerdb_store.h; src/ownerdb-format.md has the layout).
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/infer.h"
#include "txguard/ownerdb_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the layout --------------------------------------------------------- */

#define LAYER_MAGIC "TXGLAYER"
#define FORMAT_VERSION 3u
#define ENDIAN_MARK 0x01020304u

/* A layer starts with this header; all fields in the writer's byte order. */
struct layer_header {
	char magic[8];		/* LAYER_MAGIC */
	uint32_t endian;	/* ENDIAN_MARK: another byte order fails */
	uint32_t format;	/* FORMAT_VERSION */
	uint32_t infer_version; /* TG_INFER_VERSION of every record */
	uint32_t nrows;		/* rows in the table */
	uint64_t data_len;	/* bytes of records after the header */
	uint64_t table_sum;	/* checksum of this header (this field 0)
				 * followed by the table */
};
_Static_assert(sizeof(struct layer_header) == 40, "a layer header is 40 bytes");

/* A row of the table, which follows the records; rows are sorted by key. */
struct layer_row {
	unsigned char id[TG_OID_RAWSZ]; /* the blob id */
	uint32_t off;  /* the record, from the records' start */
	uint32_t bits; /* ROW_LEN_MASK | ROW_PACKAGE | hint */
	uint32_t sum;  /* low half of the record's checksum */
};
_Static_assert(sizeof(struct layer_row) == 32, "a layer row is 32 bytes");

#define HEADER_SIZE sizeof(struct layer_header)
#define ROW_SIZE sizeof(struct layer_row)
/* bits of a row's `bits` */
#define ROW_LEN_MASK 0x07ffffffu /* the record's length */
#define ROW_PACKAGE (1u << 27)	 /* key: made for a package's __init__.py */
#define ROW_HINT_SHIFT 28	 /* enum tg_ownerdb_hint, three bits */
#define ROW_HINT_MASK 0x7u
#define ROW_RESERVED (1u << 31) /* 0: a set bit fails the layer */

/* records are small; a bigger one means a damaged or hostile file */
#define MAX_RECORD (64u << 20)
/* rows a lookup reads at once: 8 KiB */
#define WIN 256
/* rows a merge source reads at once */
#define MWIN 64
/* more layers than this are merged whatever their sizes */
#define MAX_LAYERS 32

/*
 * The files, in the store's directory, all named after its prefix P
 * ("ownerdb-v3"): the chain "P.chain" (text, one line each), the layers
 * "P.<16 hex digits of the table checksum>.layer", temporary files
 * "P.tmp-<what>-<pid>-<n>-<random>".
 */
#define CHAIN_SUFFIX ".chain"
#define CHAIN_FIRST "txguard-ownerdb-chain 3\n"
#define CHAIN_MAX 8192
#define LAYER_SUFFIX ".layer"
#define TMP_INFIX ".tmp-"
/* a temporary or unlisted file older than this was left by a dead run */
#define STALE_SECONDS (10 * 60)

/* Files the earlier cache formats left next to the store. */
static const char *const old_prefixes[] = {"ownerdb-v1", "ownerdb-v2"};

struct tg_ownerdb_layer {
	int fd;
	char *name; /* its name in the directory once listed, else NULL */
	char *tmp;  /* its temporary name in the directory, else NULL */
	uint32_t nrows;
	uint64_t rows_off; /* where the table starts */
	uint64_t sum;	   /* the header's table_sum */
	bool batch;	   /* written by this run's build */
	bool synced;	   /* on disk: fsync'ed before the chain lists it */
	/* its first and last keys: a key outside needs no look; their
	 * ids' first eight bytes as numbers, for a quick test */
	struct tg_ownerdb_key first, last;
	uint64_t first8, last8;
};

/* The first eight bytes of an id as a number that sorts like them. */
static uint64_t prefix8(const unsigned char *id)
{
	uint64_t v;

	memcpy(&v, id, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static void set_bounds(struct tg_ownerdb_layer *l,
		       const struct tg_ownerdb_key *first,
		       const struct tg_ownerdb_key *last)
{
	l->first = *first;
	l->last = *last;
	l->first8 = prefix8(first->id.id);
	l->last8 = prefix8(last->id.id);
}

/* ---- checksums and keys ---------------------------------------------------
 */

#define SUM_SEED 0x243f6a8885a308d3ULL

/* The checksum's body over whole words: len is a multiple of 8. */
static uint64_t sum_words(uint64_t h, const unsigned char *p, size_t len)
{
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

struct tg_ownerdb_key tg_ownerdb_store_key(const char *path,
					   const struct tg_oid *id)
{
	struct tg_ownerdb_key k;

	k.id = *id;
	k.role = path && tg_infer_is_package(path) ? TG_OWNERDB_ROLE_PACKAGE
						   : TG_OWNERDB_ROLE_MODULE;
	return k;
}

int tg_ownerdb_store_key_cmp(const struct tg_ownerdb_key *a,
			     const struct tg_ownerdb_key *b)
{
	int c = memcmp(a->id.id, b->id.id, TG_OID_RAWSZ);

	return c ? c : (a->role > b->role) - (a->role < b->role);
}

unsigned tg_ownerdb_store_hint(const unsigned char *head, size_t len)
{
	if (!len)
		return 0;
	return (head[0] & (TG_INFER_HAS_DEFS | TG_INFER_HAS_USES)) |
	       (len > 1 && head[1] ? TG_OWNERDB_HINT_IMPORTS : 0u);
}

static struct layer_row row_at(const unsigned char *p)
{
	struct layer_row r;

	memcpy(&r, p, ROW_SIZE);
	return r;
}

static struct tg_ownerdb_key row_key(const struct layer_row *r)
{
	struct tg_ownerdb_key k;

	memcpy(k.id.id, r->id, TG_OID_RAWSZ);
	k.role = r->bits & ROW_PACKAGE ? TG_OWNERDB_ROLE_PACKAGE
				       : TG_OWNERDB_ROLE_MODULE;
	return k;
}

/* A row against a key, read in place: lookups make many of these. */
static int row_cmp(const unsigned char *row, const struct tg_ownerdb_key *k)
{
	int c = memcmp(row, k->id.id, TG_OID_RAWSZ);
	uint32_t bits;
	unsigned role;

	if (c)
		return c;
	memcpy(&bits, row + offsetof(struct layer_row, bits), sizeof(bits));
	role = bits & ROW_PACKAGE ? TG_OWNERDB_ROLE_PACKAGE
				  : TG_OWNERDB_ROLE_MODULE;
	return (role > k->role) - (role < k->role);
}

/* ---- files ----------------------------------------------------------------
 */

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
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

/*
 * Open a cache file for reading: never follows a symbolic link, never
 * blocks on a FIFO or device, and only a regular file is kept.
 */
static int open_regular(int dirfd, const char *name, struct stat *st)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A directory of the cache, `name` in `parent`: made when missing and
 * `create`, opened only when it is a real directory (a symbolic link
 * there is never followed). -1 otherwise.
 */
static int open_dir_at(int parent, const char *name, bool create)
{
	int fd;

	if (create && mkdirat(parent, name, 0777) < 0 && errno != EEXIST)
		return -1;
	fd = openat(parent, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/*
 * The store's directory `dir` (".../txguard"): made when missing and
 * `create`, and opened only when it is a real directory, never through a
 * symbolic link. The directory above it (git's) is opened as it is.
 */
static int open_store_dir(const char *dir, bool create)
{
	char *copy = tg_xstrdup(dir), *slash = strrchr(copy, '/');
	int pfd, fd = -1;

	if (!slash) {
		free(copy);
		return open_dir_at(AT_FDCWD, dir, create);
	}
	*slash = '\0';
	pfd = open(*copy ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		fd = open_dir_at(pfd, slash + 1, create);
		close(pfd);
	}
	free(copy);
	return fd;
}

/* A new temporary file in dirfd: its name in *name (caller frees). */
static int create_tmp(const struct tg_ownerdb_store *s, int dirfd,
		      const char *what, char **name)
{
	static unsigned counter;

	for (int tries = 0; tries < 16; tries++) {
		unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
		char *t = tg_xasprintf("%s" TMP_INFIX "%s-%ld-%u-%lx",
				       s->prefix, what, (long)getpid(), n,
				       (unsigned long)time(NULL) ^
					       (unsigned long)rand());
		int fd = openat(dirfd, t,
				O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
					O_CLOEXEC,
				0666);

		if (fd >= 0) {
			*name = t;
			return fd;
		}
		free(t);
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* An unlinked temporary file in TMPDIR, for a build that cannot write. */
static int create_spill(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char *path = tg_xasprintf("%s/txguard-layer.XXXXXX",
				  tmpdir && *tmpdir ? tmpdir : "/tmp");
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

/* ---- reading layers -------------------------------------------------------
 */

static void layer_free(struct tg_ownerdb_layer *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->name);
	free(l->tmp);
	free(l);
}

/*
 * Open and check a layer: header, size, the table's order, bounds and
 * checksum, read a window at a time. NULL when anything is wrong.
 */
static struct tg_ownerdb_layer *layer_open(int fd, uint64_t size)
{
	struct layer_header h;
	unsigned char buf[WIN * ROW_SIZE];
	struct tg_ownerdb_key first = {{{0}}, 0}, last = {{{0}}, 0};
	struct tg_ownerdb_layer *l;
	uint64_t sum, want;

	if (size < HEADER_SIZE || !read_at(fd, &h, HEADER_SIZE, 0) ||
	    memcmp(h.magic, LAYER_MAGIC, 8) || h.endian != ENDIAN_MARK ||
	    h.format != FORMAT_VERSION || h.infer_version != TG_INFER_VERSION ||
	    h.data_len > size ||
	    HEADER_SIZE + h.data_len + (uint64_t)h.nrows * ROW_SIZE != size)
		return NULL;
	want = h.table_sum;
	h.table_sum = 0;
	sum = sum_words(SUM_SEED ^ (HEADER_SIZE + (uint64_t)h.nrows * ROW_SIZE),
			(const unsigned char *)&h, HEADER_SIZE);
	for (uint64_t lo = 0; lo < h.nrows; lo += WIN) {
		uint64_t hi = lo + WIN < h.nrows ? lo + WIN : h.nrows;

		if (!read_at(fd, buf, (size_t)(hi - lo) * ROW_SIZE,
			     HEADER_SIZE + h.data_len + lo * ROW_SIZE))
			return NULL;
		sum = sum_words(sum, buf, (size_t)(hi - lo) * ROW_SIZE);
		for (uint64_t i = lo; i < hi; i++) {
			const unsigned char *p = buf + (i - lo) * ROW_SIZE;
			struct layer_row r = row_at(p);
			uint32_t len = r.bits & ROW_LEN_MASK;

			if ((uint64_t)r.off + len > h.data_len ||
			    len > MAX_RECORD || (r.bits & ROW_RESERVED) ||
			    (i && row_cmp(p, &last) <= 0))
				return NULL;
			last = row_key(&r);
			if (!i)
				first = last;
		}
	}
	if (sum != want)
		return NULL;
	l = tg_xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->nrows = h.nrows;
	l->rows_off = HEADER_SIZE + h.data_len;
	l->sum = want;
	set_bounds(l, &first, &last);
	return l;
}

static bool layer_name_ok(const struct tg_ownerdb_store *s, const char *name,
			  size_t len)
{
	size_t p = strlen(s->prefix);

	if (len != p + 1 + 16 + sizeof(LAYER_SUFFIX) - 1 ||
	    strncmp(name, s->prefix, p) || name[p] != '.' ||
	    strncmp(name + p + 1 + 16, LAYER_SUFFIX, sizeof(LAYER_SUFFIX) - 1))
		return false;
	for (size_t i = p + 1; i < p + 1 + 16; i++)
		if (!name[i] || !strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

static char *layer_name(const struct tg_ownerdb_store *s, uint64_t sum)
{
	return tg_xasprintf("%s.%016" PRIx64 LAYER_SUFFIX, s->prefix, sum);
}

static char *chain_name(const struct tg_ownerdb_store *s)
{
	return tg_xasprintf("%s" CHAIN_SUFFIX, s->prefix);
}

static void push_layer(struct tg_ownerdb_store *s, struct tg_ownerdb_layer *l)
{
	TG_ALLOC_GROW(s->layers, s->nlayers + 1, s->alloc_layers);
	s->layers[s->nlayers++] = l;
}

/* Read the chain file's text; false when it is not a sound chain. */
static bool read_chain(struct tg_buf *out, const struct tg_ownerdb_store *s,
		       int dirfd)
{
	struct stat st;
	char *name = chain_name(s);
	int fd = open_regular(dirfd, name, &st);
	char *text, *sumline;
	uint64_t want;
	bool ok = false;

	free(name);
	if (fd < 0)
		return false;
	if (st.st_size <= 0 || st.st_size > CHAIN_MAX)
		goto out;
	text = tg_xmalloc((size_t)st.st_size + 1);
	if (!read_at(fd, text, (size_t)st.st_size, 0)) {
		free(text);
		goto out;
	}
	text[st.st_size] = '\0';
	/* the last line: "sum <16 hex>\n" over all the lines before it */
	if ((size_t)st.st_size >= 21 && text[st.st_size - 1] == '\n' &&
	    !strncmp(sumline = text + st.st_size - 21, "sum ", 4) &&
	    (sumline == text || sumline[-1] == '\n') &&
	    sscanf(sumline + 4, "%16" SCNx64, &want) == 1 &&
	    checksum((const unsigned char *)text, (size_t)(sumline - text)) ==
		    want &&
	    !strncmp(text, CHAIN_FIRST, sizeof(CHAIN_FIRST) - 1)) {
		tg_buf_add(out, text + sizeof(CHAIN_FIRST) - 1,
			   (size_t)(sumline - text) -
				   (sizeof(CHAIN_FIRST) - 1));
		ok = true;
	}
	free(text);
out:
	close(fd);
	return ok;
}

static void sweep(struct tg_ownerdb_store *s, int sfd);

void tg_ownerdb_store_open(struct tg_ownerdb_store *s, const char *dir,
			   bool write, size_t win)
{
	struct tg_buf chain = TG_BUF_INIT;
	int dirfd;
	bool all = true;

	memset(s, 0, sizeof(*s));
	s->win = win && win < WIN ? win : WIN;
	s->write = write && dir;
	s->changed = true;
	if (!dir)
		return;
	{
		const char *slash = strrchr(dir, '/');

		s->dir = slash ? tg_xstrndup(dir, (size_t)(slash - dir))
			       : tg_xstrdup(".");
		if (!*s->dir) {
			free(s->dir);
			s->dir = tg_xstrdup("/");
		}
		s->prefix = tg_xstrdup(slash ? slash + 1 : dir);
	}
	if ((dirfd = open_store_dir(s->dir, false)) < 0)
		return;
	if (read_chain(&chain, s, dirfd)) {
		const char *p = chain.ptr, *end = chain.ptr + chain.len;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			char *name;
			struct stat st;
			struct tg_ownerdb_layer *l = NULL;
			int fd;

			if (!nl || !layer_name_ok(s, p, (size_t)(nl - p)) ||
			    s->nlayers >= 4 * MAX_LAYERS) {
				/* not a chain of ours: none of it is used */
				for (size_t i = 0; i < s->nlayers; i++)
					layer_free(s->layers[i]);
				s->nlayers = 0;
				all = false;
				break;
			}
			name = tg_xstrndup(p, (size_t)(nl - p));
			p = nl + 1;
			fd = open_regular(dirfd, name, &st);
			if (fd >= 0 &&
			    !(l = layer_open(fd, (uint64_t)st.st_size)))
				close(fd);
			if (l) {
				/* the name is the table's checksum */
				char *want = layer_name(s, l->sum);

				if (strcmp(want, name)) {
					layer_free(l);
					l = NULL;
				}
				free(want);
			}
			if (!l) {
				all = false; /* left out; the next save drops it
					      */
				free(name);
				continue;
			}
			l->name = name;
			push_layer(s, l);
		}
		s->loaded = all;
		s->changed = !all;
	}
	s->nchain = s->nsearch = s->nlayers;
	if (s->write)
		sweep(s, dirfd);
	close(dirfd);
	tg_buf_release(&chain);
}

void tg_ownerdb_store_close(struct tg_ownerdb_store *s)
{
	for (size_t i = 0; i < s->nlayers; i++) {
		/* a batch nobody listed: its temporary file goes */
		if (s->layers[i]->tmp && s->dir) {
			int dirfd = open_store_dir(s->dir, false);

			if (dirfd >= 0) {
				unlinkat(dirfd, s->layers[i]->tmp, 0);
				close(dirfd);
			}
		}
		layer_free(s->layers[i]);
	}
	for (size_t i = 0; i < s->nretired; i++)
		layer_free(s->retired[i]);
	free(s->layers);
	free(s->retired);
	free(s->dir);
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

/* ---- lookups ----------------------------------------------------------- */

/* The window of rows a lookup read last in one layer. */
struct wcache {
	size_t lo, hi; /* rows [lo, hi) are in buf; none when equal */
	unsigned char buf[WIN * ROW_SIZE];
};

struct tg_ownerdb_wcache {
	const struct tg_ownerdb_layer *layer[MAX_LAYERS * 4];
	struct wcache *w[MAX_LAYERS * 4];
};

struct tg_ownerdb_wcache *tg_ownerdb_store_wcache_new(void)
{
	return tg_xcalloc(1, sizeof(struct tg_ownerdb_wcache));
}

void tg_ownerdb_store_wcache_free(struct tg_ownerdb_wcache *wc)
{
	if (!wc)
		return;
	for (size_t i = 0; i < TG_ARRAY_SIZE(wc->w); i++)
		free(wc->w[i]);
	free(wc);
}

static const unsigned char *rows_at(const struct tg_ownerdb_layer *l, size_t lo,
				    size_t hi, unsigned char *buf)
{
	if (!read_at(l->fd, buf, (hi - lo) * ROW_SIZE,
		     l->rows_off + (uint64_t)lo * ROW_SIZE))
		return NULL;
	return buf;
}

/* Where in a table of n rows `id` should be: ids are uniform. */
static size_t guess_row(size_t n, const struct tg_oid *id)
{
	uint32_t prefix = (uint32_t)id->id[0] << 24 |
			  (uint32_t)id->id[1] << 16 | (uint32_t)id->id[2] << 8 |
			  id->id[3];

	return (size_t)(((uint64_t)prefix * n) >> 32);
}

static long bisect_rows(const unsigned char *rows, size_t n,
			const struct tg_ownerdb_key *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = row_cmp(rows + mid * ROW_SIZE, k);

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
 * The row of `k` in layer l, copied to out, or false. The first four
 * bytes of an id say where in the sorted table its row sits, so the
 * window of rows around there nearly always holds it: one read a
 * lookup. Otherwise the side it is on is bisected a row at a time down
 * to a window. `wc` keeps the last window read.
 */
static bool layer_find(unsigned char *out, const struct tg_ownerdb_layer *l,
		       size_t win, const struct tg_ownerdb_key *k,
		       struct wcache *wc)
{
	unsigned char own[WIN * ROW_SIZE], *buf = wc ? wc->buf : own;
	const unsigned char *w;
	size_t n = l->nrows, lo, hi;
	long i;

	if (!n)
		return false;
	if (wc && wc->hi > wc->lo) {
		bool before = row_cmp(wc->buf, k) > 0;
		bool after = row_cmp(wc->buf + (wc->hi - wc->lo - 1) * ROW_SIZE,
				     k) < 0;

		if (!before && !after) {
			lo = wc->lo;
			hi = wc->hi;
			w = wc->buf;
			goto search;
		}
		/* past either end of the table: no read needed */
		if ((before && !wc->lo) || (after && wc->hi == n))
			return false;
	}
	lo = guess_row(n, &k->id);
	lo = lo > win / 2 ? lo - win / 2 : 0;
	hi = lo + win < n ? lo + win : n;
	lo = hi > win ? hi - win : 0;
	if (!(w = rows_at(l, lo, hi, buf)))
		return false;
	if (wc) {
		wc->lo = lo;
		wc->hi = hi;
	}
	if (row_cmp(w, k) > 0) {
		if (!lo)
			return false;
		hi = lo;
		lo = 0;
	} else if (row_cmp(w + (hi - lo - 1) * ROW_SIZE, k) < 0) {
		if (hi == n)
			return false;
		lo = hi;
		hi = n;
	} else {
		goto search;
	}
	while (hi - lo > win) {
		size_t mid = lo + (hi - lo) / 2;
		unsigned char row[ROW_SIZE];
		int c;

		if (!rows_at(l, mid, mid + 1, row))
			return false;
		c = row_cmp(row, k);
		if (!c) {
			memcpy(out, row, ROW_SIZE);
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= hi || !(w = rows_at(l, lo, hi, buf)))
		return false;
	if (wc) {
		wc->lo = lo;
		wc->hi = hi;
	}
search:
	if ((i = bisect_rows(w, hi - lo, k)) < 0)
		return false;
	memcpy(out, w + (size_t)i * ROW_SIZE, ROW_SIZE);
	return true;
}

static void loc_of(struct tg_ownerdb_loc *loc, const struct tg_ownerdb_layer *l,
		   const unsigned char *row)
{
	struct layer_row r = row_at(row);

	loc->fd = l->fd;
	loc->pos = HEADER_SIZE + r.off;
	loc->len = r.bits & ROW_LEN_MASK;
	loc->sum = r.sum;
	loc->hint = r.bits >> ROW_HINT_SHIFT & ROW_HINT_MASK;
}

bool tg_ownerdb_store_find(struct tg_ownerdb_loc *loc,
			   struct tg_ownerdb_store *s,
			   const struct tg_ownerdb_key *key,
			   struct tg_ownerdb_wcache *wc)
{
	unsigned char row[ROW_SIZE];
	uint64_t k8 = prefix8(key->id.id);

	for (size_t i = s->nsearch; i-- > 0;) {
		const struct tg_ownerdb_layer *l = s->layers[i];
		struct wcache *w = NULL;

		/* a small layer (a run's few new records) is passed over
		 * without a look at its rows for nearly every key */
		if (!l->nrows ||
		    (l->nrows <= WIN &&
		     (k8 < l->first8 || k8 > l->last8 ||
		      tg_ownerdb_store_key_cmp(key, &l->first) < 0 ||
		      tg_ownerdb_store_key_cmp(key, &l->last) > 0)))
			continue;
		if (wc && i < TG_ARRAY_SIZE(wc->w)) {
			if (wc->layer[i] != l) {
				if (!wc->w[i])
					wc->w[i] =
						tg_xmalloc(sizeof(*wc->w[i]));
				wc->w[i]->lo = wc->w[i]->hi = 0;
				wc->layer[i] = l;
			}
			w = wc->w[i];
		}
		if (layer_find(row, l, s->win, key, w)) {
			loc_of(loc, l, row);
			return true;
		}
	}
	return false;
}

bool tg_ownerdb_store_read(unsigned char **out,
			   const struct tg_ownerdb_loc *loc)
{
	unsigned char *buf;

	*out = NULL;
	if (!loc->len)
		return (uint32_t)checksum(NULL, 0) == loc->sum;
	buf = tg_xmalloc(loc->len);
	if (!read_at(loc->fd, buf, loc->len, loc->pos) ||
	    (uint32_t)checksum(buf, loc->len) != loc->sum) {
		free(buf);
		return false;
	}
	*out = buf;
	return true;
}

size_t tg_ownerdb_store_rows(const struct tg_ownerdb_store *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nsearch; i++)
		n += s->layers[i]->nrows;
	return n;
}

/* ---- writing layers -------------------------------------------------------
 */

/* A record going into a new layer: in memory, or in a layer's file. */
struct out_rec {
	struct tg_ownerdb_key key;
	const unsigned char *data; /* NULL: at pos in fd */
	int fd;
	uint64_t pos;
	uint32_t len, sum, hint;
};

/* A sorted source of records; of two with one key, the newer is kept. */
struct src {
	const struct tg_ownerdb_layer *l; /* NULL: the records in memory */
	size_t pos, end;
	size_t lo, hi; /* rows [lo, hi) of l are in buf */
	unsigned char buf[MWIN * ROW_SIZE];
	struct out_rec cur;
	size_t age; /* 0 the newest */
};

struct merge {
	const struct tg_ownerdb_rec *recs;
	struct src *src;
	size_t nsrc;
	size_t *heap, nheap;
	bool failed;
};

static bool src_next(struct merge *m, struct src *s)
{
	while (s->pos < s->end) {
		size_t i = s->pos++;
		struct layer_row r;

		if (!s->l) {
			const struct tg_ownerdb_rec *rec = &m->recs[i];

			if (rec->len > MAX_RECORD)
				continue; /* too big to keep: made again */
			s->cur.key = rec->key;
			s->cur.data = rec->data;
			s->cur.fd = -1;
			s->cur.pos = 0;
			s->cur.len = (uint32_t)rec->len;
			s->cur.sum = (uint32_t)checksum(rec->data, rec->len);
			s->cur.hint =
				tg_ownerdb_store_hint(rec->data, rec->len);
			return true;
		}
		if (i < s->lo || i >= s->hi) {
			size_t hi = i + MWIN < s->end ? i + MWIN : s->end;

			if (!rows_at(s->l, i, hi, s->buf)) {
				m->failed = true;
				return false;
			}
			s->lo = i;
			s->hi = hi;
		}
		r = row_at(s->buf + (i - s->lo) * ROW_SIZE);
		s->cur.key = row_key(&r);
		s->cur.data = NULL;
		s->cur.fd = s->l->fd;
		s->cur.pos = HEADER_SIZE + r.off;
		s->cur.len = r.bits & ROW_LEN_MASK;
		s->cur.sum = r.sum;
		s->cur.hint = r.bits >> ROW_HINT_SHIFT & ROW_HINT_MASK;
		return true;
	}
	return false;
}

static bool heap_less(const struct merge *m, size_t a, size_t b)
{
	int c = tg_ownerdb_store_key_cmp(&m->src[a].cur.key,
					 &m->src[b].cur.key);

	return c ? c < 0 : m->src[a].age < m->src[b].age;
}

static void heap_down(struct merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, min = i, t;

		if (l < m->nheap && heap_less(m, m->heap[l], m->heap[min]))
			min = l;
		if (l + 1 < m->nheap &&
		    heap_less(m, m->heap[l + 1], m->heap[min]))
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
 * One pass over the merged records in key order, each key once (the
 * newest source's), read a window of rows at a time.
 */
static int merge_pass(struct merge *m,
		      int (*emit)(void *, const struct out_rec *), void *ctx)
{
	struct tg_ownerdb_key last;
	bool have_last = false;

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
		struct src *s = &m->src[m->heap[0]];

		if (!have_last ||
		    tg_ownerdb_store_key_cmp(&last, &s->cur.key)) {
			if (emit(ctx, &s->cur) < 0)
				return -1;
			last = s->cur.key;
			have_last = true;
		}
		if (!src_next(m, s))
			m->heap[0] = m->heap[--m->nheap];
		heap_down(m, 0);
	}
	return m->failed ? -1 : 0;
}

struct writer {
	int fd;
	struct tg_buf w;
	uint32_t nrows;
	uint64_t data_len;
	uint64_t sum;
	struct tg_ownerdb_key first, last; /* of the rows written */
	bool have_first;
};

static int flush_some(struct writer *o)
{
	if (o->w.len < (64u << 10))
		return 0;
	if (write_all(o->fd, o->w.ptr, o->w.len) < 0)
		return -1;
	tg_buf_reset(&o->w);
	return 0;
}

/* The first pass: the records, copied as they are (a damaged one keeps
 * its checksum and is made again when used). */
static int emit_record(void *ctx, const struct out_rec *r)
{
	struct writer *o = ctx;

	if (o->nrows == UINT32_MAX || o->data_len + r->len > UINT32_MAX)
		return -1;
	o->nrows++;
	if (!r->len)
		return 0;
	if (r->data) {
		tg_buf_add(&o->w, r->data, r->len);
	} else {
		size_t at = o->w.len;

		tg_buf_grow(&o->w, r->len);
		if (!read_at(r->fd, o->w.ptr + at, r->len, r->pos))
			return -1;
		o->w.len = at + r->len;
		o->w.ptr[o->w.len] = '\0';
	}
	o->data_len += r->len;
	return flush_some(o);
}

/* The second pass: the rows, whose offsets follow the records' order. */
static int emit_row(void *ctx, const struct out_rec *r)
{
	struct writer *o = ctx;
	struct layer_row row;

	memcpy(row.id, r->key.id.id, TG_OID_RAWSZ);
	row.off = (uint32_t)o->data_len;
	row.bits = r->len |
		   (r->key.role == TG_OWNERDB_ROLE_PACKAGE ? ROW_PACKAGE : 0) |
		   (r->hint & ROW_HINT_MASK) << ROW_HINT_SHIFT;
	row.sum = r->sum;
	if (!o->have_first)
		o->first = r->key;
	o->have_first = true;
	o->last = r->key;
	o->data_len += r->len;
	o->sum = sum_words(o->sum, (const unsigned char *)&row, ROW_SIZE);
	tg_buf_add(&o->w, &row, ROW_SIZE);
	return flush_some(o);
}

/*
 * Write a layer merging `n` records in memory (the newest) with the
 * layers `from` (oldest first) to fd: the header, the records, the
 * table (synced only before a chain lists it). NULL on failure.
 */
static struct tg_ownerdb_layer *
write_layer(int fd, const struct tg_ownerdb_rec *recs, size_t n,
	    struct tg_ownerdb_layer *const *from, size_t nfrom)
{
	struct merge m = {recs, NULL, 0, NULL, 0, false};
	struct writer o;
	struct layer_header h;
	struct tg_ownerdb_layer *l = NULL;
	uint64_t data_len;

	memset(&o, 0, sizeof(o));
	o.fd = fd;
	tg_buf_init(&o.w);
	m.src = tg_xcalloc(nfrom + 1, sizeof(*m.src));
	m.heap = tg_xcalloc(nfrom + 1, sizeof(*m.heap));
	if (n) {
		m.src[m.nsrc].end = n;
		m.src[m.nsrc++].age = 0;
	}
	for (size_t i = nfrom; i-- > 0;) {
		struct src *s = &m.src[m.nsrc++];

		s->l = from[i];
		s->end = from[i]->nrows;
		s->age = nfrom - i;
	}
	memset(&h, 0, sizeof(h));
	if (write_all(fd, &h, HEADER_SIZE) < 0 ||
	    merge_pass(&m, emit_record, &o) < 0 ||
	    write_all(fd, o.w.ptr, o.w.len) < 0)
		goto out;
	tg_buf_reset(&o.w);
	memcpy(h.magic, LAYER_MAGIC, 8);
	h.endian = ENDIAN_MARK;
	h.format = FORMAT_VERSION;
	h.infer_version = TG_INFER_VERSION;
	h.nrows = o.nrows;
	h.data_len = data_len = o.data_len;
	h.table_sum = 0;
	o.sum = sum_words(SUM_SEED ^
				  (HEADER_SIZE + (uint64_t)h.nrows * ROW_SIZE),
			  (const unsigned char *)&h, HEADER_SIZE);
	o.data_len = 0;
	if (merge_pass(&m, emit_row, &o) < 0 ||
	    write_all(fd, o.w.ptr, o.w.len) < 0 || o.data_len != data_len)
		goto out;
	h.table_sum = o.sum;
	if (pwrite(fd, &h, HEADER_SIZE, 0) != (ssize_t)HEADER_SIZE)
		goto out;
	l = tg_xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->nrows = h.nrows;
	l->rows_off = HEADER_SIZE + data_len;
	l->sum = h.table_sum;
	set_bounds(l, &o.first, &o.last);
out:
	free(m.src);
	free(m.heap);
	tg_buf_release(&o.w);
	return l;
}

/*
 * A new layer of `recs` merged with layers [at, nlayers) of the stack,
 * which it replaces: written to a temporary file in the directory (or
 * TMPDIR). The replaced layers stay open (records may be left in them).
 */
static bool replace_top(struct tg_ownerdb_store *s,
			const struct tg_ownerdb_rec *recs, size_t n, size_t at,
			bool batch)
{
	struct tg_ownerdb_layer *l;
	char *tmp = NULL;
	int dirfd = -1, fd = -1;

	if (s->write && !s->failed &&
	    (dirfd = open_store_dir(s->dir, true)) >= 0)
		fd = create_tmp(s, dirfd, "layer", &tmp);
	if (fd < 0) {
		if (!batch)
			goto fail; /* a save that cannot write: no cache */
		fd = create_spill();
	}
	if (fd < 0 ||
	    !(l = write_layer(fd, recs, n, s->layers + at, s->nlayers - at)))
		goto fail;
	l->tmp = tmp;
	l->batch = batch;
	for (size_t i = at; i < s->nlayers; i++) {
		struct tg_ownerdb_layer *old = s->layers[i];

		if (old->tmp && dirfd >= 0)
			unlinkat(dirfd, old->tmp, 0);
		/* a listed layer merged away stays a while for chains
		 * written by runs that read it (sweep() goes by age) */
		if (old->name)
			futimens(old->fd, NULL);
		free(old->tmp);
		old->tmp = NULL;
		TG_ALLOC_GROW(s->retired, s->nretired + 1, s->alloc_retired);
		s->retired[s->nretired++] = old;
	}
	if (s->nsearch > at)
		s->nsearch = at; /* the caller says when it answers */
	if (s->nchain > at)
		s->nchain = at;
	s->nlayers = at;
	push_layer(s, l);
	s->changed = true;
	if (dirfd >= 0)
		close(dirfd);
	return true;
fail:
	if (fd >= 0) {
		close(fd);
		if (tmp)
			unlinkat(dirfd, tmp, 0);
	}
	/* the directory took a file but not its bytes (a full disk): no
	 * more tries there in this run */
	if (tmp)
		s->failed = true;
	free(tmp);
	if (dirfd >= 0)
		close(dirfd);
	return false;
}

/*
 * The chain's rule: a layer is merged into the one below while that one
 * holds fewer than twice its rows, so each layer holds at least twice the
 * rows of the one above and a chain of n rows has at most log2(n) + 1
 * layers. `floor` is the lowest layer that may take part.
 */
static bool merge_rule(struct tg_ownerdb_store *s, size_t floor)
{
	while (s->nlayers >= floor + 2) {
		struct tg_ownerdb_layer *top = s->layers[s->nlayers - 1];
		struct tg_ownerdb_layer *below = s->layers[s->nlayers - 2];
		bool batch = top->batch && below->batch;

		if ((uint64_t)below->nrows >= 2 * (uint64_t)top->nrows &&
		    s->nlayers - floor <= MAX_LAYERS)
			break;
		if (!replace_top(s, NULL, 0, s->nlayers - 2, batch))
			return false;
	}
	return true;
}

bool tg_ownerdb_store_add_batch(struct tg_ownerdb_store *s,
				const struct tg_ownerdb_rec *recs, size_t n)
{
	size_t at = s->nlayers;

	if (!replace_top(s, recs, n, at, true))
		return false;
	/* batches merge among themselves: the chain's layers must keep
	 * answering the build's lookups */
	merge_rule(s, s->nsearch);
	return true;
}

void tg_ownerdb_store_seal(struct tg_ownerdb_store *s)
{
	s->nsearch = s->nlayers;
}

bool tg_ownerdb_store_pending(const struct tg_ownerdb_store *s)
{
	return s->nlayers > s->nchain;
}

/* Write the chain file listing every layer, each renamed into place. */
static bool write_chain(struct tg_ownerdb_store *s, int dirfd)
{
	struct tg_buf b = TG_BUF_INIT;
	char *tmp = NULL;
	int fd = -1;
	bool ok = false;
	size_t kept = 0;

	tg_buf_addstr(&b, CHAIN_FIRST);
	for (size_t i = 0; i < s->nlayers; i++) {
		struct tg_ownerdb_layer *l = s->layers[i];

		if (!l->name && l->tmp) {
			char *name = layer_name(s, l->sum);

			if ((!l->synced && fsync(l->fd) < 0) ||
			    renameat(dirfd, l->tmp, dirfd, name) < 0) {
				free(name);
				continue; /* gone: a later run makes it again */
			}
			free(l->tmp);
			l->tmp = NULL;
			l->name = name;
		}
		if (!l->name)
			continue; /* in TMPDIR: not for the chain */
		tg_buf_addstr(&b, l->name);
		tg_buf_addstr(&b, "\n");
		kept++;
	}
	{
		char line[32];

		snprintf(line, sizeof(line), "sum %016" PRIx64 "\n",
			 checksum((const unsigned char *)b.ptr, b.len));
		tg_buf_addstr(&b, line);
	}
	if ((fd = create_tmp(s, dirfd, "chain", &tmp)) < 0)
		goto out;
	if (write_all(fd, b.ptr, b.len) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		unlinkat(dirfd, tmp, 0);
		goto out;
	}
	fd = -1;
	{
		char *name = chain_name(s);
		int r = renameat(dirfd, tmp, dirfd, name);

		free(name);
		if (r < 0) {
			unlinkat(dirfd, tmp, 0);
			goto out;
		}
	}
	fsync(dirfd);
	ok = kept == s->nlayers;
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	tg_buf_release(&b);
	return ok;
}

static bool listed(const struct tg_ownerdb_store *s, const char *name)
{
	for (size_t i = 0; i < s->nlayers; i++)
		if (s->layers[i]->name && !strcmp(s->layers[i]->name, name))
			return true;
	return false;
}

/*
 * Remove what dead or concurrent runs left: temporary files, and layers
 * no chain lists any more, once older than STALE_SECONDS (a live run
 * renames its files within moments); and the earlier formats' files.
 * Only names of the store's own patterns, only in its directory.
 */
static void sweep(struct tg_ownerdb_store *s, int sfd)
{
	int dfd = dup(sfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;
	time_t now = time(NULL);
	char *tmp_start = tg_xasprintf("%s" TMP_INFIX, s->prefix);
	size_t own = strlen(s->prefix);

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		free(tmp_start);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;
		bool tmp = !strncmp(e->d_name, tmp_start, strlen(tmp_start));
		bool layer = layer_name_ok(s, e->d_name, strlen(e->d_name));
		bool old = false;

		for (size_t i = 0; i < TG_ARRAY_SIZE(old_prefixes); i++)
			old |= !strncmp(e->d_name, old_prefixes[i],
					strlen(old_prefixes[i])) &&
			       strncmp(e->d_name, s->prefix, own);
		if ((!tmp && !layer && !old) ||
		    (layer && listed(s, e->d_name)) ||
		    fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode) ||
		    (!old && now - st.st_mtime < STALE_SECONDS))
			continue;
		unlinkat(sfd, e->d_name, 0);
	}
	closedir(d);
	free(tmp_start);
}

int tg_ownerdb_store_save(struct tg_ownerdb_store *s,
			  const struct tg_ownerdb_rec *recs, size_t n)
{
	int dirfd;
	bool ok;

	if (!s->write || s->failed)
		return 0;
	if (!n && !s->changed && !tg_ownerdb_store_pending(s))
		return 0;
	if ((dirfd = open_store_dir(s->dir, true)) < 0)
		return 0; /* a read-only repository, or not a directory */
	if (n || s->nlayers > s->nchain + 1) {
		/*
		 * Everything this run made (its records, its build's batches)
		 * becomes one layer, which takes in the layers the rule would
		 * merge into it: one write, not one per layer.
		 */
		uint64_t size = n;
		size_t at = s->nchain;

		for (size_t i = at; i < s->nlayers; i++)
			size += s->layers[i]->nrows;
		while (at > 0 && s->layers[at - 1]->nrows < 2 * size) {
			size += s->layers[at - 1]->nrows;
			at--;
		}
		if (!replace_top(s, recs, n, at, false)) {
			close(dirfd);
			return 0;
		}
	}
	if (!merge_rule(s, 0)) {
		close(dirfd);
		return 0;
	}
	s->nsearch = s->nlayers;
	ok = write_chain(s, dirfd);
	if (ok) {
		s->nchain = s->nlayers;
		s->changed = false;
	}
	sweep(s, dirfd);
	close(dirfd);
	return ok ? 1 : 0;
}
