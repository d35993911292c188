/* npz.c: .npz archives (zip, stored entries) of .npy float32 arrays and other bytes. */
#include "npz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"

#define ZIP_LOCAL 0x04034b50u
#define ZIP_CENTRAL 0x02014b50u
#define ZIP_END 0x06054b50u
#define ZIP_LOCAL_HEAD 30   /* bytes of a local header before the name */
#define ZIP_CENTRAL_HEAD 46 /* bytes of a central directory header before the name */
#define ZIP_END_SIZE 22
#define NPY_HEAD 128        /* magic, version, header length and header, padded */

struct npz_writer {
	FILE *f;
	char path[1024];
	int n;
	struct {
		char name[NPZ_NAME_MAX];
		uint32_t crc, size, offset;
	} entry[NPZ_MAX_ENTRIES];
	uint32_t at; /* bytes written */
	int failed;
};

/* ---- little-endian fields ---- */

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned get16(const unsigned char *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- writing ---- */

static int write_all(struct npz_writer *z, const void *data, size_t size)
{
	if (z->failed)
		return -1;
	if (size == 0)
		return 0;
	if (size > UINT32_MAX - z->at || fwrite(data, 1, size, z->f) != size) {
		z->failed = 1;
		return ds_fail("cannot write %s: %s", z->path,
			       size > UINT32_MAX - z->at ? "larger than 4 GiB" : strerror(errno));
	}
	z->at += (uint32_t)size;
	return 0;
}

struct npz_writer *npz_create(const char *path)
{
	struct npz_writer *z = calloc(1, sizeof(*z));
	if (!z) {
		ds_fail("out of memory writing %s", path);
		return NULL;
	}
	snprintf(z->path, sizeof(z->path), "%s", path);
	z->f = fopen(path, "wb");
	if (!z->f) {
		ds_fail("cannot create %s: %s", path, strerror(errno));
		free(z);
		return NULL;
	}
	return z;
}

/* A local header, then the entry's data in parts (a .npy header and its values). */
static int add_parts(struct npz_writer *z, const char *name, const void *a, size_t na,
		     const void *b, size_t nb)
{
	size_t len = strlen(name);
	if (z->n == NPZ_MAX_ENTRIES || len >= NPZ_NAME_MAX)
		return ds_fail("%s: more than %d entries or a name longer than %d: %s", z->path,
			       NPZ_MAX_ENTRIES, NPZ_NAME_MAX - 1, name);
	if (na + nb > UINT32_MAX)
		return ds_fail("%s: entry %s is larger than 4 GiB", z->path, name);
	uLong crc = crc32(0L, Z_NULL, 0);
	for (size_t off = 0; off < na; off += 1u << 30)
		crc = crc32(crc, (const Bytef *)a + off, (uInt)(na - off < (1u << 30) ? na - off : 1u << 30));
	for (size_t off = 0; off < nb; off += 1u << 30)
		crc = crc32(crc, (const Bytef *)b + off, (uInt)(nb - off < (1u << 30) ? nb - off : 1u << 30));
	unsigned char head[ZIP_LOCAL_HEAD] = { 0 };
	put32(head, ZIP_LOCAL);
	put16(head + 4, 20);       /* version needed: 2.0 */
	put32(head + 14, (uint32_t)crc);
	put32(head + 18, (uint32_t)(na + nb)); /* stored: compressed = uncompressed */
	put32(head + 22, (uint32_t)(na + nb));
	put16(head + 26, (unsigned)len);
	snprintf(z->entry[z->n].name, NPZ_NAME_MAX, "%s", name);
	z->entry[z->n].crc = (uint32_t)crc;
	z->entry[z->n].size = (uint32_t)(na + nb);
	z->entry[z->n].offset = z->at;
	if (write_all(z, head, sizeof(head)) || write_all(z, name, len) || write_all(z, a, na) ||
	    write_all(z, b, nb))
		return -1;
	z->n++;
	return 0;
}

int npz_add_bytes(struct npz_writer *z, const char *name, const void *data, size_t size)
{
	return add_parts(z, name, data, size, NULL, 0);
}

int npz_add_floats(struct npz_writer *z, const char *name, const float *data, int n_dims,
		   const size_t *shape)
{
	/* .npy 1.0: magic, version, a 16-bit header length, a Python dict padded with spaces
	 * and ended by a newline so that the data starts 64-byte aligned */
	char dict[NPY_HEAD], dims[96] = "";
	size_t count = 1, used = 0;
	for (int i = 0; i < n_dims; i++) {
		used += (size_t)snprintf(dims + used, sizeof(dims) - used, "%zu,%s", shape[i],
					 n_dims > 1 && i < n_dims - 1 ? " " : "");
		count *= shape[i];
	}
	if (n_dims > 1) /* (3, 4) rather than (3, 4,) */
		dims[strlen(dims) - 1] = '\0';
	int n = snprintf(dict, sizeof(dict), "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }",
			 dims);
	if (n < 0 || n + 11 > NPY_HEAD)
		return ds_fail("%s: the shape of %s is too long for its header", z->path, name);
	unsigned char head[NPY_HEAD];
	memcpy(head, "\x93NUMPY\x01\x00", 8);
	put16(head + 8, NPY_HEAD - 10);
	memset(head + 10, ' ', NPY_HEAD - 10);
	memcpy(head + 10, dict, (size_t)n);
	head[NPY_HEAD - 1] = '\n';
	char file[NPZ_NAME_MAX + 8];
	snprintf(file, sizeof(file), "%s.npy", name);
	return add_parts(z, file, head, sizeof(head), data, sizeof(float) * count);
}

int npz_close(struct npz_writer *z)
{
	uint32_t start = z->at;
	for (int i = 0; i < z->n && !z->failed; i++) {
		unsigned char c[ZIP_CENTRAL_HEAD] = { 0 };
		size_t len = strlen(z->entry[i].name);
		put32(c, ZIP_CENTRAL);
		put16(c + 4, 20);
		put16(c + 6, 20);
		put32(c + 16, z->entry[i].crc);
		put32(c + 20, z->entry[i].size);
		put32(c + 24, z->entry[i].size);
		put16(c + 28, (unsigned)len);
		put32(c + 42, z->entry[i].offset);
		if (write_all(z, c, sizeof(c)) == 0)
			write_all(z, z->entry[i].name, len);
	}
	unsigned char end[ZIP_END_SIZE] = { 0 };
	put32(end, ZIP_END);
	put16(end + 8, (unsigned)z->n);
	put16(end + 10, (unsigned)z->n);
	put32(end + 12, z->at - start);
	put32(end + 16, start);
	if (!z->failed)
		write_all(z, end, sizeof(end));
	int rc = z->failed ? -1 : 0;
	if (fclose(z->f) && !rc)
		rc = ds_fail("cannot write %s: %s", z->path, strerror(errno));
	free(z);
	return rc;
}

/* ---- reading ---- */

void npz_free(struct npz *z)
{
	free(z->bytes);
	memset(z, 0, sizeof(*z));
}

int npz_open(struct npz *z, const char *path)
{
	memset(z, 0, sizeof(*z));
	FILE *f = fopen(path, "rb");
	if (!f)
		return ds_fail("cannot open %s: %s", path, strerror(errno));
	long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	if (size < ZIP_END_SIZE || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return ds_fail("%s: not an .npz file (too short)", path);
	}
	z->size = (size_t)size;
	z->bytes = malloc(z->size);
	if (!z->bytes || fread(z->bytes, 1, z->size, f) != z->size) {
		fclose(f);
		npz_free(z);
		return ds_fail("cannot read %s: %s", path, errno ? strerror(errno) : "short read");
	}
	fclose(f);
	/* the end record, with no zip comment: the last 22 bytes */
	const unsigned char *end = z->bytes + z->size - ZIP_END_SIZE;
	size_t n = get16(end + 10), dir = get32(end + 16);
	if (get32(end) != ZIP_END || dir > z->size || n > NPZ_MAX_ENTRIES) {
		npz_free(z);
		return ds_fail("%s: not an .npz file written by dimsearch (no zip end record)", path);
	}
	for (size_t i = 0, at = dir; i < n; i++) {
		const unsigned char *c = z->bytes + at;
		if (at + ZIP_CENTRAL_HEAD > z->size || get32(c) != ZIP_CENTRAL)
			goto corrupt;
		size_t len = get16(c + 28), extra = get16(c + 30), comment = get16(c + 32);
		size_t local = get32(c + 42), data_size = get32(c + 24);
		if (get16(c + 10) != 0) {
			npz_free(z);
			return ds_fail("%s: entry %zu is compressed; dimsearch reads stored entries "
				       "(its own files)",
				       path, i);
		}
		if (len >= NPZ_NAME_MAX || at + ZIP_CENTRAL_HEAD + len > z->size ||
		    local + ZIP_LOCAL_HEAD > z->size)
			goto corrupt;
		const unsigned char *l = z->bytes + local;
		size_t data = local + ZIP_LOCAL_HEAD + get16(l + 26) + get16(l + 28);
		if (get32(l) != ZIP_LOCAL || data + data_size > z->size)
			goto corrupt;
		struct npz_entry *e = &z->entry[z->n++];
		memcpy(e->name, c + ZIP_CENTRAL_HEAD, len);
		e->name[len] = '\0';
		e->offset = data;
		e->size = data_size;
		uLong crc = crc32(0L, Z_NULL, 0);
		crc = crc32(crc, z->bytes + data, (uInt)data_size);
		if ((uint32_t)crc != get32(c + 16)) {
			npz_free(z);
			return ds_fail("%s: entry %s fails its CRC-32: the file is corrupt", path,
				       e->name);
		}
		at += ZIP_CENTRAL_HEAD + len + extra + comment;
	}
	return 0;
corrupt:
	npz_free(z);
	return ds_fail("%s: corrupt .npz file (a bad zip header)", path);
}

const unsigned char *npz_find(const struct npz *z, const char *name, size_t *size)
{
	for (int i = 0; i < z->n; i++)
		if (!strcmp(z->entry[i].name, name)) {
			*size = z->entry[i].size;
			return z->bytes + z->entry[i].offset;
		}
	return NULL;
}

const unsigned char *npz_floats(const struct npz *z, const char *name, size_t *count)
{
	char file[NPZ_NAME_MAX + 8];
	snprintf(file, sizeof(file), "%s.npy", name);
	size_t size;
	const unsigned char *p = npz_find(z, file, &size);
	if (!p) {
		ds_fail("no array %s in the file", name);
		return NULL;
	}
	if (size < 10 || memcmp(p, "\x93NUMPY", 6) || p[6] != 1) {
		ds_fail("%s is not a .npy 1.0 array", file);
		return NULL;
	}
	size_t head = 10 + get16(p + 8);
	if (head > size || (size - head) % sizeof(float)) {
		ds_fail("%s: a header longer than the entry, or a size not whole floats", file);
		return NULL;
	}
	char dict[NPY_HEAD * 4];
	snprintf(dict, sizeof(dict), "%.*s", (int)(head - 10 < sizeof(dict) - 1 ? head - 10 : sizeof(dict) - 1),
		 (const char *)p + 10);
	if (!strstr(dict, "'descr': '<f4'") || !strstr(dict, "'fortran_order': False")) {
		ds_fail("%s is not little-endian float32 in C order", file);
		return NULL;
	}
	*count = (size - head) / sizeof(float);
	return p + head;
}
