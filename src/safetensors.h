/* safetensors.h: reading and writing float32 tensors in the safetensors
 * format (https://huggingface.co/docs/safetensors), which PyTorch and other
 * tools read and write.
 *
 * A file is: an 8-byte little-endian header length N, N bytes of JSON
 * header, then the tensor data.  The header is an object mapping each
 * tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte
 * offsets into the data after the header), plus an optional "__metadata__"
 * object of string to string.  parley stores only "F32" tensors, little
 * endian, laid out back to back in the order given.
 *
 * Reading validates the whole header before any tensor is handed out:
 * a header length beyond the file, JSON that does not parse or is not an
 * object, a non-string metadata value, a dtype other than F32, a shape
 * that is not a list of non-negative integers, data_offsets out of range,
 * not matching the shape, overlapping, or leaving bytes unaccounted for are
 * all -EBADMSG with a message that names the file and the problem. */
#ifndef PARLEY_SAFETENSORS_H
#define PARLEY_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_DIMS_MAX 4
#define SAFETENSORS_NAME_MAX 128
/* The reference implementation's limit on the header. */
#define SAFETENSORS_HEADER_MAX (100 * 1000 * 1000)
/* Enough for any message the reader produces, with a long path. */
#define SAFETENSORS_ERROR_MAX 512

/* A tensor to write: data holds the product of shape floats. */
struct safetensors_tensor {
        char name[SAFETENSORS_NAME_MAX];
        int ndim;
        int64_t shape[SAFETENSORS_DIMS_MAX];
        const float *data;
};

struct safetensors_pair {
        const char *key;
        const char *value;
};

/* Writes tensors and metadata to path through a temporary file in the same
 * directory that is synced and renamed over path, so a reader sees the old
 * file or the new one, never a part.  -EINVAL for a bad tensor
 * description, other negative errno from the file system. */
int safetensors_write(const char *path, const struct safetensors_tensor *tensors,
                      size_t n_tensors, const struct safetensors_pair *metadata,
                      size_t n_metadata);

struct safetensors;

/* Reads and validates the file.  On failure *error (of error_size bytes)
 * says what is wrong, beginning with the path: -EBADMSG for a file that is
 * not valid safetensors as above, -ENOENT, -EACCES... for one that cannot
 * be read, -ENOMEM. */
int safetensors_open(const char *path, struct safetensors **ret, char *error,
                     size_t error_size);
void safetensors_free(struct safetensors *st);

const char *safetensors_path(const struct safetensors *st);

/* Tensors in the header's order. */
size_t safetensors_tensor_count(const struct safetensors *st);
const char *safetensors_tensor_name(const struct safetensors *st, size_t index);

/* -ENOENT when there is no such tensor. */
int safetensors_tensor_shape(const struct safetensors *st, const char *name, int *ret_ndim,
                             int64_t ret_shape[SAFETENSORS_DIMS_MAX]);

/* Copies tensor name into dst after checking it has exactly the shape
 * given: -ENOENT when missing, -EBADMSG when the shape differs, with
 * *error saying so. */
int safetensors_tensor_read(const struct safetensors *st, const char *name, int ndim,
                            const int64_t *shape, float *dst, char *error, size_t error_size);

/* The metadata value for key, or NULL; valid while st lives. */
const char *safetensors_metadata_get(const struct safetensors *st, const char *key);

#endif
