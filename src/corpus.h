/* corpus.h: reading prompt/reply pairs from training corpora.
 *
 * Formats:
 *  - TSV: "prompt<TAB>reply" per line, no header, no quoting; a final
 *    line without newline counts.  Blank lines are skipped silently.
 *  - JSON lines: one object per line with string fields "prompt" and
 *    "reply" (other fields ignored); blank lines skipped.
 *  - chatterbot YAML: a mapping with "conversations:", a list of lists of
 *    strings (and optional "categories:"); within one conversation turn i
 *    and turn i+1 form a pair.
 *
 * Every record is checked: invalid UTF-8, a missing or empty side, a wrong
 * shape.  A bad record is reported through the malformed callback with its
 * line and skipped; reading goes on.  Two things end a YAML file early,
 * each reported with its line: invalid UTF-8 anywhere (the whole file is
 * skipped, since libyaml cannot read past it) and a syntax error (what
 * came before it was read). */
#ifndef PARLEY_CORPUS_H
#define PARLEY_CORPUS_H

#include <stddef.h>

/* Limits: a longer line (TSV, JSONL) or YAML turn is malformed; a YAML
 * file, which is parsed whole, may not be larger than CORPUS_YAML_MAX_BYTES
 * (-EFBIG). */
#define CORPUS_LINE_MAX_BYTES (64 * 1024)
#define CORPUS_YAML_MAX_BYTES (64 * 1024 * 1024)

struct corpus_pair {
        const char *prompt;
        const char *reply;
        const char *file;
        size_t line;            /* 1-based; YAML: the line of the reply */
};

enum corpus_format {
        CORPUS_AUTO,
        CORPUS_TSV,
        CORPUS_JSONL,
        CORPUS_YAML,
};

/* pair: called for every good pair; strings valid only during the call.
 * malformed: called for every bad record, what says what is wrong (without
 * file and line, which come separately; callers print "FILE:LINE: what").
 * Either may be NULL.  A pair callback returning negative stops reading
 * and corpus_read() returns that value. */
struct corpus_callbacks {
        int (*pair)(const struct corpus_pair *p, void *userdata);
        void (*malformed)(const char *file, size_t line, const char *what, void *userdata);
};

/* "auto", "tsv", "jsonl", "yaml" -> format; -EINVAL otherwise. */
int corpus_format_from_string(const char *s, enum corpus_format *ret);

/* CORPUS_AUTO picks by extension: .tsv/.txt, .jsonl/.json, .yml/.yaml;
 * another extension is -EINVAL.  Returns 0 when the file was read (even
 * with malformed records), a negative errno when it could not be opened or
 * read (-ENOENT, -EACCES, -EIO...), or the pair callback's error. */
int corpus_read(const char *path, enum corpus_format format,
                const struct corpus_callbacks *cb, void *userdata);

#endif
