/* npz.h: NumPy's .npz archives as dimsearch writes and reads them: a zip of entries stored
 * uncompressed (method 0, CRC-32 from zlib), each a .npy array (format 1.0, little-endian
 * float32, C order) or any other bytes (a JSON entry, a model's own record).
 *
 * The reader reads what the writer writes (stored entries, no zip64), which is all
 * dimsearch needs: numpy.load reads these files, and dimsearch reads its own. */
#ifndef DS_NPZ_H
#define DS_NPZ_H

#include <stddef.h>
#include <stdint.h>

#define NPZ_MAX_ENTRIES 256
#define NPZ_NAME_MAX 64

struct npz_writer;

/* Create path for writing; NULL with ds_errmsg() naming the file. */
struct npz_writer *npz_create(const char *path);
/* An entry of size bytes named name ("W0.npy", "metadata.json"): 0, or -1 with ds_errmsg(). */
int npz_add_bytes(struct npz_writer *z, const char *name, const void *data, size_t size);
/* A float32 array of n_dims dimensions shape[] as NAME.npy: 0, or -1 with ds_errmsg(). */
int npz_add_floats(struct npz_writer *z, const char *name, const float *data, int n_dims,
		   const size_t *shape);
/* Write the central directory and close: 0, or -1 with ds_errmsg() (the file is then
 * incomplete). Frees z either way. */
int npz_close(struct npz_writer *z);

/* An archive read whole into memory. */
struct npz {
	unsigned char *bytes;
	size_t size;
	int n;
	struct npz_entry {
		char name[NPZ_NAME_MAX];
		size_t offset, size;    /* of the entry's data in bytes */
	} entry[NPZ_MAX_ENTRIES];
};

/* Read path: 0, or -1 with ds_errmsg() naming the file and what is wrong (not a zip, a
 * compressed entry, a CRC mismatch). */
int npz_open(struct npz *z, const char *path);
void npz_free(struct npz *z);
/* The bytes of entry name, their count in *size; NULL when there is none. */
const unsigned char *npz_find(const struct npz *z, const char *name, size_t *size);
/* The float32 array NAME.npy: its data (into the archive's memory, possibly unaligned: copy
 * it with memcpy) and its count of values; NULL with ds_errmsg() when absent or not a
 * little-endian float32 C-order .npy. */
const unsigned char *npz_floats(const struct npz *z, const char *name, size_t *count);

#endif
