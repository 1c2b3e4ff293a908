/*
 * index.c: the index file as git wrote it, read without libgit2.
 *
 * The format is git's (Documentation/gitformat-index.txt in git/git): a
 * 12-byte header, the entries, extensions, a 20-byte checksum. The file
 * is mapped, never copied; no checksum pass, no hashing. Versions 2, 3
 * and 4 are read, with the TREE extension (git's cache-tree); anything
 * else this reader does not handle leaves `usable` false and the caller
 * uses libgit2's index.
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/index.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Parse a decimal (possibly negative) number ending at `stop`. */
static bool parse_int(const unsigned char **pp, const unsigned char *end,
		      char stop, long *out)
{
	const unsigned char *p = *pp;
	bool neg = false;
	long v = 0;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9') {
		if (v > 100000000)
			return false;
		v = v * 10 + (*p++ - '0');
	}
	if (p >= end || *p != stop)
		return false;
	*pp = p + 1;
	*out = neg ? -v : v;
	return true;
}

/*
 * The TREE extension: nodes in pre-order, each "name NUL count SP nsub LF
 * [oid]". Parsed with an explicit stack of pending child counts, so a
 * hostile file cannot exhaust the C stack.
 */
static bool parse_cache_tree(struct tg_index *ix, const unsigned char *p,
			     const unsigned char *end)
{
	size_t n = 0, alloc = 0, i, nsubs = 0;
	struct tg_index_tree *nodes = NULL;
	size_t *parent = NULL, *want = NULL, depth = 0, sp_alloc = 0;
	size_t *stack = NULL;

	while (p < end) {
		const unsigned char *nul = memchr(p, '\0', (size_t)(end - p));
		struct tg_index_tree *t;
		long count, nsub;

		if (!nul)
			goto bad;
		if (n + 1 > alloc) {
			TG_ALLOC_GROW(nodes, n + 1, alloc);
			parent = tg_xrealloc(parent, alloc * sizeof(*parent));
			want = tg_xrealloc(want, alloc * sizeof(*want));
		}
		t = &nodes[n];
		memset(t, 0, sizeof(*t));
		t->name = (const char *)p;
		t->namelen = (size_t)(nul - p);
		p = nul + 1;
		if (!parse_int(&p, end, ' ', &count) ||
		    !parse_int(&p, end, '\n', &nsub) || nsub < 0)
			goto bad;
		t->entry_count = count < 0 ? -1 : (int)count;
		if (count >= 0) {
			if (end - p < TG_OID_RAWSZ)
				goto bad;
			memcpy(t->id.id, p, TG_OID_RAWSZ);
			p += TG_OID_RAWSZ;
		}
		want[n] = (size_t)nsub;
		nsubs += (size_t)nsub;
		/* attach to the node on top of the stack */
		while (depth && !want[stack[depth - 1]])
			depth--;
		if (n && !depth)
			goto bad; /* more nodes than announced */
		parent[n] = depth ? stack[depth - 1] : (size_t)-1;
		if (depth)
			want[stack[depth - 1]]--;
		TG_ALLOC_GROW(stack, depth + 1, sp_alloc);
		stack[depth++] = n;
		n++;
	}
	if (!n || nsubs != n - 1)
		goto bad; /* counts that do not add up */
	/* children arrays, in file order: count, then place */
	ix->subs = tg_xcalloc(nsubs ? nsubs : 1, sizeof(*ix->subs));
	for (i = 1; i < n; i++)
		want[parent[i]]++; /* every want[] is 0 here: reuse it */
	{
		size_t at = 0;

		for (i = 0; i < n; i++) {
			nodes[i].sub = ix->subs + at;
			at += want[i];
		}
		for (i = 1; i < n; i++) {
			struct tg_index_tree *pa = &nodes[parent[i]];

			pa->sub[pa->nsub++] = &nodes[i];
		}
	}
	ix->nodes = nodes;
	ix->root = &nodes[0];
	free(parent);
	free(want);
	free(stack);
	return true;
bad:
	free(nodes);
	free(parent);
	free(want);
	free(stack);
	return false;
}

/*
 * Version 4's prefix length: a varint where each continuation adds one
 * before shifting (gitformat-index: "offset" encoding). false on overflow
 * or truncation.
 */
static bool read_varint(const unsigned char **pp, const unsigned char *end,
			size_t *out)
{
	const unsigned char *p = *pp;
	size_t v;
	unsigned char c;

	if (p >= end)
		return false;
	c = *p++;
	v = c & 127;
	while (c & 128) {
		if (p >= end || v >= ((size_t)1 << (sizeof(size_t) * 8 - 8)))
			return false;
		v += 1;
		c = *p++;
		v = (v << 7) + (c & 127);
	}
	*pp = p;
	*out = v;
	return true;
}

/*
 * The fixed part of the entry at p (mode, id, flags, v3 extended flags):
 * the offset of its path, or 0 when it is cut short or malformed.
 */
static size_t entry_head(struct tg_index_entry *e, const unsigned char *p,
			 const unsigned char *end, uint32_t version)
{
	if (end - p < 62)
		return 0;
	e->mode = be32(p + 24);
	memcpy(e->id.id, p + 40, TG_OID_RAWSZ);
	e->flags = be16(p + 60);
	e->eflags = 0;
	if (!(e->flags & 0x4000))
		return 62;
	if (version < 3 || end - p < 64)
		return 0;
	e->eflags = be16(p + 62);
	return 64;
}

/*
 * A version 2 or 3 entry at *pp: its path is NUL-terminated in the buffer
 * and 1-8 NULs pad the entry to a multiple of 8. Advances *pp; false when
 * the entry is corrupt.
 */
static bool entry_v2(struct tg_index_entry *e, const unsigned char **pp,
		     const unsigned char *end, uint32_t version)
{
	const unsigned char *p = *pp, *nul;
	size_t off = entry_head(e, p, end, version);

	if (!off || !(nul = memchr(p + off, '\0', (size_t)(end - (p + off)))))
		return false;
	e->path = (const char *)(p + off);
	e->pathlen = (size_t)(nul - (p + off));
	off = (off + e->pathlen + 8) & ~(size_t)7;
	if ((size_t)(end - p) < off)
		return false;
	*pp = p + off;
	return true;
}

static int parse_index(struct tg_index *ix, const unsigned char *buf,
		       size_t len, const char *path)
{
	struct tg_index *raw = ix;
	const unsigned char *p, *end;
	uint32_t version, nr, i;
	size_t nlen = 0, nalloc = 0, prev_off = 0, prev_len = 0;

	raw->usable = true;
	if (len < 12 + TG_OID_RAWSZ || memcmp(buf, "DIRC", 4))
		return tg_error_set(TG_EPARSE, "%s: not a git index", path);
	version = be32(buf + 4);
	nr = be32(buf + 8);
	if (version < 2 || version > 4) {
		raw->usable = false;
		return 0;
	}
	end = buf + len - TG_OID_RAWSZ;
	p = buf + 12;
	if (nr > len / 62)
		return tg_error_set(TG_EPARSE, "%s: corrupt index", path);
	raw->entries = tg_xcalloc(nr ? nr : 1, sizeof(*raw->entries));
	for (i = 0; i < nr; i++) {
		struct tg_index_entry *e = &raw->entries[i];
		size_t off, namelen, strip, rest;
		const unsigned char *nul, *q;

		if (version < 4) {
			if (!entry_v2(e, &p, end, version))
				return tg_error_set(TG_EPARSE,
						    "%s: corrupt index", path);
			/* a conflict, or intent-to-add */
			if ((e->flags & 0x3000) || (e->eflags & 0x2000))
				raw->usable = false;
			continue;
		}
		if (!(off = entry_head(e, p, end, version)))
			return tg_error_set(TG_EPARSE, "%s: corrupt index",
					    path);
		if ((e->flags & 0x3000) || (e->eflags & 0x2000))
			raw->usable = false; /* conflict or intent-to-add */
		/* version 4: strip N bytes off the previous path, append
		 * the NUL-terminated rest; no padding */
		q = p + off;
		if (!read_varint(&q, end, &strip) || strip > prev_len)
			return tg_error_set(TG_EPARSE, "%s: corrupt index",
					    path);
		nul = memchr(q, '\0', (size_t)(end - q));
		if (!nul)
			return tg_error_set(TG_EPARSE, "%s: corrupt index",
					    path);
		rest = (size_t)(nul - q);
		namelen = prev_len - strip + rest;
		TG_ALLOC_GROW(ix->names, nlen + namelen + 1, nalloc);
		memmove(ix->names + nlen, ix->names + prev_off,
			prev_len - strip);
		memcpy(ix->names + nlen + prev_len - strip, q, rest);
		ix->names[nlen + namelen] = '\0';
		e->path = NULL; /* set below, once the arena stops moving */
		e->pathlen = namelen;
		prev_off = nlen;
		prev_len = namelen;
		nlen += namelen + 1;
		p = nul + 1;
	}
	if (version == 4) {
		size_t at = 0;

		for (i = 0; i < nr; i++) {
			raw->entries[i].path = ix->names + at;
			at += raw->entries[i].pathlen + 1;
		}
	}
	raw->nr = nr;
	while (end - p >= 8) {
		const unsigned char *sig = p;
		uint32_t sz = be32(p + 4);

		p += 8;
		if ((size_t)(end - p) < sz)
			return tg_error_set(TG_EPARSE, "%s: corrupt index",
					    path);
		if (!memcmp(sig, "TREE", 4)) {
			/* an unusable cache: the trees are read instead */
			if (!parse_cache_tree(ix, p, p + sz))
				raw->root = NULL;
		} else if (sig[0] < 'A' || sig[0] > 'Z') {
			/* a required extension (split "link", sparse "sdir") */
			raw->usable = false;
			if (!memcmp(sig, "link", 4))
				ix->split = true;
		}
		p += sz;
	}
	return 0;
}

int tg_index_peek(struct tg_index_entry *e, bool *found, const char *file,
		  const char *path)
{
	const unsigned char *buf, *p, *end;
	struct stat st;
	uint32_t version, nr;
	int fd, ret = 0;

	*found = false;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_size < 12 + TG_OID_RAWSZ) {
		close(fd);
		return 0;
	}
	buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (buf == MAP_FAILED)
		return 0;
	version = be32(buf + 4);
	nr = be32(buf + 8);
	p = buf + 12;
	end = buf + st.st_size - TG_OID_RAWSZ;
	if (memcmp(buf, "DIRC", 4) || version < 2 || version > 3)
		goto out;
	for (uint32_t i = 0; i < nr; i++) {
		struct tg_index_entry cur;

		if (!entry_v2(&cur, &p, end, version))
			goto out;
		if (strcmp(cur.path, path))
			continue;
		if ((cur.flags & 0x3000) || (cur.eflags & 0x2000))
			goto out; /* the full reader decides */
		*e = cur;
		*found = true;
	}
	/* a required extension (split "link", sparse "sdir"): the entries
	 * here are not the whole index */
	while (end - p >= 8) {
		uint32_t sz = be32(p + 4);

		if (p[0] < 'A' || p[0] > 'Z' || (size_t)(end - p - 8) < sz)
			goto out;
		p += 8 + sz;
	}
	ret = 1;
out:
	munmap((void *)buf, (size_t)st.st_size);
	return ret;
}

int tg_index_read(struct tg_index *ix, const char *path)
{
	struct stat st;
	int fd;

	memset(ix, 0, sizeof(*ix));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) { /* no index yet: empty */
			ix->usable = true;
			return 0;
		}
		return tg_error_set(TG_EIO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		int err = tg_error_set(TG_EIO, "%s: %s", path, strerror(errno));

		close(fd);
		return err;
	}
	ix->maplen = (size_t)st.st_size;
	ix->map = ix->maplen ? mmap(NULL, ix->maplen, PROT_READ, MAP_PRIVATE,
				    fd, 0)
			     : NULL;
	close(fd);
	if (ix->map == MAP_FAILED) {
		ix->map = NULL;
		return tg_error_set(TG_EIO, "%s: %s", path, strerror(errno));
	}
	if (parse_index(ix, ix->map, ix->maplen, path) < 0) {
		/* Not a format this reader knows: libgit2's reader decides
		 * (and names the problem if the file really is corrupt). */
		void *map = ix->map;
		size_t maplen = ix->maplen;
		bool split = ix->split;

		tg_error_clear();
		free(ix->entries);
		free(ix->names);
		free(ix->nodes);
		free(ix->subs);
		memset(ix, 0, sizeof(*ix));
		ix->map = map;
		ix->maplen = maplen;
		ix->split = split;
	}
	return 0;
}

void tg_index_release(struct tg_index *ix)
{
	free(ix->entries);
	free(ix->nodes);
	free(ix->subs);
	free(ix->names);
	if (ix->map)
		munmap(ix->map, ix->maplen);
	memset(ix, 0, sizeof(*ix));
}
