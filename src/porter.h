/* porter.h: the Porter stemmer exactly as NLTK 3.8 implements it.
 *
 * rouge-score's use_stemmer runs nltk.stem.porter.PorterStemmer() in its
 * default mode, NLTK_EXTENSIONS, whose results differ from Martin Porter's
 * published algorithm and from Snowball's (libstemmer's) "porter" and
 * "english" stemmers on a few percent of English words; ROUGE with
 * stemming reproduces rouge-score only with this variant. */
#ifndef PARLEY_PORTER_H
#define PARLEY_PORTER_H

/* The longest word porter_stem() accepts, in bytes. */
#define PORTER_WORD_MAX_BYTES 65536

/* NLTK's PorterStemmer().stem(word) for a word of [a-z0-9] characters
 * (what rouge-score's tokeniser yields): -EINVAL for any other character,
 * -E2BIG past PORTER_WORD_MAX_BYTES.  *ret is a string to free(). */
int porter_stem(const char *word, char **ret);

#endif
