/* safetensors.c: the safetensors container for float32 tensors. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c stores floats in host order, which must be little endian"
#endif

struct entry {
        const char *name;       /* points into the parsed header */
        int ndim;
        int64_t shape[SAFETENSORS_DIMS_MAX];
        uint64_t begin, end;    /* byte offsets into data */
};

struct safetensors {
        char *path;
        int fd;                 /* open until safetensors_free(): tensors are
                                 * read from it, so loading a model never holds
                                 * the file and the model in memory at once */
        uint64_t data_offset;   /* where the data begins: after the header */
        uint64_t data_size;
        json_object *header;
        json_object *metadata;  /* or NULL */
        struct entry *entries;
        size_t n_entries;
};

static _printf_(3, 4) void error_set(char *error, size_t size, const char *format, ...)
{
        va_list ap;

        if (!error || size == 0)
                return;

        va_start(ap, format);
        vsnprintf(error, size, format, ap);
        va_end(ap);
}

/* ---- writing --------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
        const uint8_t *b = p;

        while (n > 0) {
                ssize_t k = write(fd, b, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                b += k;
                n -= (size_t)k;
        }
        return 0;
}

static int tensor_bytes(const struct safetensors_tensor *t, uint64_t *ret)
{
        uint64_t n = sizeof(float);

        if (t->ndim < 0 || t->ndim > SAFETENSORS_DIMS_MAX || t->name[0] == '\0')
                return -EINVAL;

        for (int d = 0; d < t->ndim; d++) {
                if (t->shape[d] < 0 || (t->shape[d] > 0 && n > UINT64_MAX / 2 / t->shape[d]))
                        return -EINVAL;
                n *= (uint64_t)t->shape[d];
        }

        *ret = n;
        return 0;
}

/* The JSON header padded with spaces to a multiple of 8 bytes, so the data
 * after it is aligned, as the reference implementation does. */
static int header_build(const struct safetensors_tensor *tensors, size_t n_tensors,
                        const struct safetensors_pair *metadata, size_t n_metadata,
                        char **ret, size_t *ret_size)
{
        json_object *root = json_object_new_object();
        uint64_t offset = 0;
        const char *text;
        size_t n, padded;
        char *header;
        int r = -ENOMEM;

        if (!root)
                return -ENOMEM;

        if (n_metadata > 0) {
                json_object *meta = json_object_new_object();

                if (!meta || json_object_object_add(root, "__metadata__", meta) < 0)
                        goto out;
                for (size_t i = 0; i < n_metadata; i++)
                        if (json_object_object_add(meta, metadata[i].key,
                                                   json_object_new_string(metadata[i].value)) < 0)
                                goto out;
        }

        for (size_t i = 0; i < n_tensors; i++) {
                const struct safetensors_tensor *t = &tensors[i];
                json_object *entry, *shape, *offsets;
                uint64_t bytes;

                r = tensor_bytes(t, &bytes);
                if (r < 0)
                        goto out;

                r = -ENOMEM;
                entry = json_object_new_object();
                shape = json_object_new_array();
                offsets = json_object_new_array();
                if (!entry || !shape || !offsets) {
                        json_object_put(entry);
                        json_object_put(shape);
                        json_object_put(offsets);
                        goto out;
                }
                for (int d = 0; d < t->ndim; d++)
                        json_object_array_add(shape, json_object_new_int64(t->shape[d]));
                json_object_array_add(offsets, json_object_new_int64((int64_t)offset));
                json_object_array_add(offsets, json_object_new_int64((int64_t)(offset + bytes)));
                json_object_object_add(entry, "dtype", json_object_new_string("F32"));
                json_object_object_add(entry, "shape", shape);
                json_object_object_add(entry, "data_offsets", offsets);
                if (json_object_object_add(root, t->name, entry) < 0)
                        goto out;
                offset += bytes;
        }

        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                goto out;

        n = strlen(text);
        padded = (n + 7) / 8 * 8;
        header = malloc(padded);
        if (!header)
                goto out;
        memcpy(header, text, n);
        memset(header + n, ' ', padded - n);

        *ret = header;
        *ret_size = padded;
        r = 0;
out:
        json_object_put(root);
        return r;
}

static int fsync_directory_of(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int fd = -1;

        if (!copy)
                return -ENOMEM;

        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int safetensors_write(const char *path, const struct safetensors_tensor *tensors,
                      size_t n_tensors, const struct safetensors_pair *metadata,
                      size_t n_metadata)
{
        _cleanup_free_ char *header = NULL, *temp = NULL;
        _cleanup_close_ int fd = -1;
        size_t header_size;
        uint64_t length;
        int r;

        r = header_build(tensors, n_tensors, metadata, n_metadata, &header, &header_size);
        if (r < 0)
                return r;

        if (asprintf(&temp, "%s.tmp-XXXXXX", path) < 0) {
                temp = NULL;
                return -ENOMEM;
        }

        fd = mkostemp(temp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        /* mkostemp creates 0600; a model file is for reading by others */
        if (fchmod(fd, 0644) < 0) {
                r = -errno;
                goto fail;
        }

        length = header_size;
        r = write_all(fd, &length, sizeof(length));
        if (r >= 0)
                r = write_all(fd, header, header_size);
        for (size_t i = 0; r >= 0 && i < n_tensors; i++) {
                uint64_t bytes = 0;

                /* header_build() has checked every description */
                tensor_bytes(&tensors[i], &bytes);
                r = write_all(fd, tensors[i].data, bytes);
        }
        if (r < 0)
                goto fail;

        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }

        if (rename(temp, path) < 0) {
                r = -errno;
                goto fail;
        }

        return fsync_directory_of(path);

fail:
        unlink(temp);
        return r;
}

/* ---- reading --------------------------------------------------------- */

/* Reads size bytes at offset; -EBADMSG when the file ends first. */
static int pread_full(int fd, void *buf, size_t size, uint64_t offset)
{
        size_t got = 0;

        while (got < size) {
                ssize_t k = pread(fd, (uint8_t *)buf + got, size - got, (off_t)(offset + got));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EBADMSG;
                got += (size_t)k;
        }
        return 0;
}

static bool json_nonnegative_int(json_object *o, int64_t *ret)
{
        if (!json_object_is_type(o, json_type_int))
                return false;

        /* json-c keeps integers up to UINT64_MAX; anything above INT64_MAX
         * is no sensible size here */
        errno = 0;
        *ret = json_object_get_int64(o);
        return errno == 0 && *ret >= 0 && *ret < INT64_MAX;
}

static int entry_parse(struct safetensors *st, const char *name, json_object *o,
                       struct entry *e, char *error, size_t error_size)
{
        json_object *dtype, *shape, *offsets;
        uint64_t bytes = sizeof(float);
        int64_t begin, end;

        if (!json_object_is_type(o, json_type_object)) {
                error_set(error, error_size, "%s: tensor '%s' is not a JSON object", st->path,
                          name);
                return -EBADMSG;
        }

        if (!json_object_object_get_ex(o, "dtype", &dtype) ||
            !json_object_is_type(dtype, json_type_string)) {
                error_set(error, error_size, "%s: tensor '%s' has no dtype", st->path, name);
                return -EBADMSG;
        }
        if (strcmp(json_object_get_string(dtype), "F32") != 0) {
                error_set(error, error_size, "%s: tensor '%s' has dtype '%s', parley reads F32",
                          st->path, name, json_object_get_string(dtype));
                return -EBADMSG;
        }

        if (!json_object_object_get_ex(o, "shape", &shape) ||
            !json_object_is_type(shape, json_type_array) ||
            json_object_array_length(shape) > SAFETENSORS_DIMS_MAX) {
                error_set(error, error_size,
                          "%s: tensor '%s' has no shape of at most %d dimensions", st->path,
                          name, SAFETENSORS_DIMS_MAX);
                return -EBADMSG;
        }

        e->name = name;
        e->ndim = (int)json_object_array_length(shape);
        for (int d = 0; d < e->ndim; d++) {
                int64_t n;

                if (!json_nonnegative_int(json_object_array_get_idx(shape, d), &n)) {
                        error_set(error, error_size,
                                  "%s: tensor '%s' has a shape entry that is not a "
                                  "non-negative integer", st->path, name);
                        return -EBADMSG;
                }
                e->shape[d] = n;
                if (n > 0 && bytes > UINT64_MAX / 2 / (uint64_t)n) {
                        error_set(error, error_size, "%s: tensor '%s' is impossibly large",
                                  st->path, name);
                        return -EBADMSG;
                }
                bytes *= (uint64_t)n;
        }

        if (!json_object_object_get_ex(o, "data_offsets", &offsets) ||
            !json_object_is_type(offsets, json_type_array) ||
            json_object_array_length(offsets) != 2 ||
            !json_nonnegative_int(json_object_array_get_idx(offsets, 0), &begin) ||
            !json_nonnegative_int(json_object_array_get_idx(offsets, 1), &end)) {
                error_set(error, error_size,
                          "%s: tensor '%s' has no data_offsets [begin, end] of non-negative "
                          "integers", st->path, name);
                return -EBADMSG;
        }

        if (begin > end) {
                error_set(error, error_size,
                          "%s: tensor '%s' data_offsets [%" PRId64 ", %" PRId64 "] end before "
                          "they begin", st->path, name, begin, end);
                return -EBADMSG;
        }

        if ((uint64_t)end > st->data_size) {
                error_set(error, error_size,
                          "%s: tensor '%s' data_offsets [%" PRId64 ", %" PRId64 "] outside "
                          "the %" PRIu64 " bytes of data (file truncated?)",
                          st->path, name, begin, end, st->data_size);
                return -EBADMSG;
        }

        if ((uint64_t)(end - begin) != bytes) {
                error_set(error, error_size,
                          "%s: tensor '%s' holds %" PRId64 " bytes, its shape needs %" PRIu64,
                          st->path, name, end - begin, bytes);
                return -EBADMSG;
        }

        e->begin = (uint64_t)begin;
        e->end = (uint64_t)end;
        return 0;
}

static int entry_compare_begin(const void *a, const void *b)
{
        const struct entry *x = a, *y = b;

        if (x->begin != y->begin)
                return x->begin < y->begin ? -1 : 1;
        return x->end < y->end ? -1 : x->end > y->end;
}

/* Tensors must tile the data exactly: no overlap, no gap, nothing after. */
static int entries_check_tiling(struct safetensors *st, char *error, size_t error_size)
{
        _cleanup_free_ struct entry *sorted = NULL;
        uint64_t expected = 0;

        if (st->n_entries > 0) {
                sorted = malloc(st->n_entries * sizeof(*sorted));
                if (!sorted) {
                        error_set(error, error_size, "%s: out of memory", st->path);
                        return -ENOMEM;
                }
                memcpy(sorted, st->entries, st->n_entries * sizeof(*sorted));
                qsort(sorted, st->n_entries, sizeof(*sorted), entry_compare_begin);
        }

        for (size_t i = 0; i < st->n_entries; i++) {
                if (sorted[i].begin < expected) {
                        error_set(error, error_size, "%s: tensors '%s' and '%s' overlap",
                                  st->path, sorted[i - 1].name, sorted[i].name);
                        return -EBADMSG;
                }
                if (sorted[i].begin > expected) {
                        error_set(error, error_size,
                                  "%s: bytes %" PRIu64 "..%" PRIu64 " of the data belong to "
                                  "no tensor", st->path, expected, sorted[i].begin);
                        return -EBADMSG;
                }
                expected = sorted[i].end;
        }

        if (expected != st->data_size) {
                error_set(error, error_size,
                          "%s: %" PRIu64 " bytes after the last tensor's data", st->path,
                          st->data_size - expected);
                return -EBADMSG;
        }
        return 0;
}

static int header_parse(struct safetensors *st, const char *text, size_t length, char *error,
                        size_t error_size)
{
        json_tokener *tok = json_tokener_new();
        size_t n_keys, i = 0;
        int r;

        if (!tok) {
                error_set(error, error_size, "%s: out of memory", st->path);
                return -ENOMEM;
        }

        if (memchr(text, '\0', length)) {
                json_tokener_free(tok);
                error_set(error, error_size, "%s: header contains a NUL byte", st->path);
                return -EBADMSG;
        }

        st->header = json_tokener_parse_ex(tok, text, (int)length);
        if (!st->header || json_tokener_get_error(tok) != json_tokener_success) {
                enum json_tokener_error e = json_tokener_get_error(tok);

                error_set(error, error_size, "%s: header is not valid JSON (%s)", st->path,
                          e == json_tokener_continue ? "unexpected end" :
                                                       json_tokener_error_desc(e));
                json_tokener_free(tok);
                return -EBADMSG;
        }
        /* only the padding spaces may follow the JSON */
        for (size_t k = json_tokener_get_parse_end(tok); k < length; k++)
                if (text[k] != ' ') {
                        json_tokener_free(tok);
                        error_set(error, error_size, "%s: text after the JSON header",
                                  st->path);
                        return -EBADMSG;
                }
        json_tokener_free(tok);

        if (!json_object_is_type(st->header, json_type_object)) {
                error_set(error, error_size, "%s: header is not a JSON object", st->path);
                return -EBADMSG;
        }

        n_keys = (size_t)json_object_object_length(st->header);
        st->entries = calloc(n_keys ? n_keys : 1, sizeof(*st->entries));
        if (!st->entries) {
                error_set(error, error_size, "%s: out of memory", st->path);
                return -ENOMEM;
        }

        json_object_object_foreach(st->header, key, value) {
                if (strcmp(key, "__metadata__") == 0) {
                        if (!json_object_is_type(value, json_type_object)) {
                                error_set(error, error_size,
                                          "%s: __metadata__ is not a JSON object", st->path);
                                return -EBADMSG;
                        }
                        json_object_object_foreach(value, mkey, mvalue)
                                if (!json_object_is_type(mvalue, json_type_string)) {
                                        error_set(error, error_size,
                                                  "%s: metadata '%s' is not a string",
                                                  st->path, mkey);
                                        return -EBADMSG;
                                }
                        st->metadata = value;
                        continue;
                }

                r = entry_parse(st, key, value, &st->entries[i], error, error_size);
                if (r < 0)
                        return r;
                i++;
        }
        st->n_entries = i;

        return entries_check_tiling(st, error, error_size);
}

int safetensors_open(const char *path, struct safetensors **ret, char *error,
                     size_t error_size)
{
        _cleanup_free_ char *header = NULL;
        struct safetensors *st;
        struct stat stat_buf;
        uint64_t size, length;
        int r;

        st = calloc(1, sizeof(*st));
        if (!st || !(st->path = strdup(path))) {
                free(st);
                error_set(error, error_size, "%s: out of memory", path);
                return -ENOMEM;
        }

        st->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (st->fd < 0) {
                r = -errno;
                error_set(error, error_size, "%s: %s", path, strerror(-r));
                goto fail;
        }
        if (fstat(st->fd, &stat_buf) < 0 || !S_ISREG(stat_buf.st_mode)) {
                error_set(error, error_size, "%s: not a regular file", path);
                r = -EBADMSG;
                goto fail;
        }
        size = (uint64_t)stat_buf.st_size;

        if (size < sizeof(length)) {
                error_set(error, error_size,
                          "%s: truncated: %" PRIu64 " bytes, not even the 8-byte header length",
                          path, size);
                r = -EBADMSG;
                goto fail;
        }

        r = pread_full(st->fd, &length, sizeof(length), 0);
        if (r < 0)
                goto read_failed;
        if (length > size - sizeof(length)) {
                error_set(error, error_size,
                          "%s: header length %" PRIu64 " runs past the end of the file "
                          "(%" PRIu64 " bytes; truncated or not safetensors)",
                          path, length, size);
                r = -EBADMSG;
                goto fail;
        }
        if (length < 2 || length > SAFETENSORS_HEADER_MAX) {
                error_set(error, error_size, "%s: implausible header length %" PRIu64, path,
                          length);
                r = -EBADMSG;
                goto fail;
        }

        header = malloc((size_t)length);
        if (!header) {
                error_set(error, error_size, "%s: out of memory", path);
                r = -ENOMEM;
                goto fail;
        }
        r = pread_full(st->fd, header, (size_t)length, sizeof(length));
        if (r < 0)
                goto read_failed;

        st->data_offset = sizeof(length) + length;
        st->data_size = size - sizeof(length) - length;

        r = header_parse(st, header, (size_t)length, error, error_size);
        if (r < 0)
                goto fail;

        *ret = st;
        return 0;

read_failed:
        if (r == -EBADMSG)
                error_set(error, error_size, "%s: the file shrank while it was read", path);
        else
                error_set(error, error_size, "%s: %s", path, strerror(-r));
fail:
        safetensors_free(st);
        return r;
}

void safetensors_free(struct safetensors *st)
{
        if (!st)
                return;

        json_object_put(st->header);
        free(st->entries);
        if (st->fd >= 0)
                close(st->fd);
        free(st->path);
        free(st);
}

const char *safetensors_path(const struct safetensors *st)
{
        return st->path;
}

size_t safetensors_tensor_count(const struct safetensors *st)
{
        return st->n_entries;
}

const char *safetensors_tensor_name(const struct safetensors *st, size_t index)
{
        return index < st->n_entries ? st->entries[index].name : NULL;
}

static const struct entry *entry_find(const struct safetensors *st, const char *name)
{
        for (size_t i = 0; i < st->n_entries; i++)
                if (strcmp(st->entries[i].name, name) == 0)
                        return &st->entries[i];
        return NULL;
}

int safetensors_tensor_shape(const struct safetensors *st, const char *name, int *ret_ndim,
                             int64_t ret_shape[SAFETENSORS_DIMS_MAX])
{
        const struct entry *e = entry_find(st, name);

        if (!e)
                return -ENOENT;

        *ret_ndim = e->ndim;
        memcpy(ret_shape, e->shape, sizeof(e->shape));
        return 0;
}

static void shape_format(char *buf, size_t size, int ndim, const int64_t *shape)
{
        size_t n = 0;

        n += snprintf(buf + n, size - n, "[");
        for (int d = 0; d < ndim && n < size; d++)
                n += snprintf(buf + n, size - n, "%s%" PRId64, d ? ", " : "", shape[d]);
        if (n < size)
                snprintf(buf + n, size - n, "]");
}

int safetensors_tensor_read(const struct safetensors *st, const char *name, int ndim,
                            const int64_t *shape, float *dst, char *error, size_t error_size)
{
        const struct entry *e = entry_find(st, name);
        char want[96], have[96];
        bool same;
        int r;

        if (!e) {
                error_set(error, error_size, "%s: tensor '%s' is missing", st->path, name);
                return -ENOENT;
        }

        same = e->ndim == ndim;
        for (int d = 0; same && d < ndim; d++)
                same = e->shape[d] == shape[d];

        if (!same) {
                shape_format(want, sizeof(want), ndim, shape);
                shape_format(have, sizeof(have), e->ndim, e->shape);
                error_set(error, error_size, "%s: tensor '%s' has shape %s, expected %s",
                          st->path, name, have, want);
                return -EBADMSG;
        }

        r = pread_full(st->fd, dst, (size_t)(e->end - e->begin), st->data_offset + e->begin);
        if (r == -EBADMSG) {
                error_set(error, error_size, "%s: the file shrank while tensor '%s' was read",
                          st->path, name);
                return r;
        }
        if (r < 0) {
                error_set(error, error_size, "%s: reading tensor '%s': %s", st->path, name,
                          strerror(-r));
                return r;
        }
        return 0;
}

const char *safetensors_metadata_get(const struct safetensors *st, const char *key)
{
        json_object *v;

        if (!st->metadata || !json_object_object_get_ex(st->metadata, key, &v))
                return NULL;
        return json_object_get_string(v);
}
