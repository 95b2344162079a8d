/* test-decode.c: the decoder's searches on models whose answers are known.
 *
 * A "chain" model is built by hand so that the decoder LSTM remembers
 * only the token it was last fed: its embedding is one-hot (E = V), its
 * gates are saturated (input and output gate 1, forget gate 0) and its
 * candidate is tanh(20 x), so after feeding token u the state is
 * h = tanh(1) * onehot(u).  The output layer then reads row u of a table
 * of log-probabilities: logits = chain[u][.].  The encoder's weights are
 * zero, so it hands the decoder a zero state and the prompt does not
 * matter.  Greedy, beam and sampling behaviour can then be set up exactly:
 * the probability of a reply is the product of table entries.
 *
 * Where the prompt must matter (batching, beam width 1, sampling against
 * greedy) a small randomly initialised model is used. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "macro.h"
#include "seq2seq.h"
#include "test.h"
#include "vocab.h"

enum { V = 12, A = 4, B, C, D, E, F, G, H_ };   /* H_: token "h" */

static const char *const chain_tokens[V] = {
        "<pad>", "<s>", "</s>", "<unk>", "a", "b", "c", "d", "e", "f", "g", "h",
};

/* log p(next | prev) of the chain model; unlisted transitions get
 * UNLIKELY. */
#define UNLIKELY (-20.0f)

struct transition {
        int32_t from, to;
        float p;
};

struct chain {
        struct seq2seq *model;
        struct vocab *vocab;
        float table[V][V];              /* logits after each token */
};

static void chain_free(struct chain *c)
{
        seq2seq_free(c->model);
        vocab_free(c->vocab);
}

static void chain_make(struct chain *c, const struct transition *t, size_t n)
{
        const struct seq2seq_config config = { .vocab_size = V, .embed_size = V,
                                               .hidden_size = V, .layers = 1 };
        struct seq2seq_weights *w;
        struct lstm *dec;

        *c = (struct chain){ 0 };
        if (seq2seq_new(&config, &c->model) < 0 ||
            vocab_new_from_tokens(chain_tokens, V, &c->vocab) < 0) {
                fprintf(stderr, "cannot make the chain model\n");
                exit(1);
        }
        w = &c->model->weights;
        dec = &w->decoder[0];

        for (int u = 0; u < V; u++)
                for (int v = 0; v < V; v++)
                        c->table[u][v] = UNLIKELY;
        for (size_t i = 0; i < n; i++)
                c->table[t[i].from][t[i].to] = logf(t[i].p);

        for (int u = 0; u < V; u++) {
                w->decoder_embedding[u * V + u] = 1.0f;
                /* gate rows i, f, g, o: g = tanh(20 x) */
                dec->weight_ih[(2 * V + u) * V + u] = 20.0f;
                dec->bias_ih[0 * V + u] = 30.0f;        /* input gate open */
                dec->bias_ih[1 * V + u] = -30.0f;       /* forget gate shut */
                dec->bias_ih[3 * V + u] = 30.0f;        /* output gate open */
        }
        /* h = tanh(1) onehot(u), so out_weight[v][u] = table[u][v] / tanh(1) */
        for (int v = 0; v < V; v++)
                for (int u = 0; u < V; u++)
                        w->out_weight[v * V + u] = c->table[u][v] / tanhf(1.0f);
}

/* The model's log-probability of ids (and END when ended) under the
 * chain's table, in double. */
static double chain_log_prob(const struct chain *c, const int32_t *ids, int n, bool ended)
{
        double total = 0.0;
        int32_t prev = TOKEN_START;

        for (int t = 0; t <= n; t++) {
                int32_t next = t < n ? ids[t] : TOKEN_END;
                double sum = 0.0;

                if (t == n && !ended)
                        break;
                for (int v = 0; v < V; v++)
                        sum += exp(c->table[prev][v]);
                total += c->table[prev][next] - log(sum);
                prev = next;
        }
        return total;
}

static struct decoder *decoder_make(const struct seq2seq *m, const struct vocab *v,
                                    const struct decoder_options *o, int max_batch)
{
        struct decoder *d = NULL;
        int r = decoder_new(m, v, o, max_batch, &d);

        if (r < 0) {
                fprintf(stderr, "decoder_new: %s\n", strerror(-r));
                exit(1);
        }
        return d;
}

/* Decodes one prompt; the result's ids stay valid until d's next call. */
static struct decoder_result decode_one(struct decoder *d, const int32_t *prompt, int length)
{
        struct decoder_result res = { 0 };
        int r = decoder_decode(d, &prompt, &length, 1, &res);

        CHECK_INT_EQ(r, 0);
        return res;
}

static bool ids_equal(const struct decoder_result *res, const int32_t *ids, int n)
{
        return res->length == n && memcmp(res->ids, ids, sizeof(int32_t) * n) == 0;
}

#define CHECK_IDS(res, ended_, ...)                                             \
        do {                                                                    \
                const int32_t _want[] = { __VA_ARGS__ };                        \
                int _n = (int)ELEMENTSOF(_want);                                \
                CHECK(ids_equal(&(res), _want, _n));                            \
                CHECK_INT_EQ((res).ended, ended_);                              \
                if (!ids_equal(&(res), _want, _n)) {                            \
                        fprintf(stderr, "  got:");                              \
                        for (int _i = 0; _i < (res).length; _i++)               \
                                fprintf(stderr, " %d", (res).ids[_i]);          \
                        fprintf(stderr, "\n");                                  \
                }                                                               \
        } while (0)

static const int32_t prompt_any[] = { A, B };

static void options_greedy(struct decoder_options *o)
{
        decoder_options_default(o);
        o->max_length = 10;
}

static void options_beam(struct decoder_options *o, int width, float alpha)
{
        options_greedy(o);
        o->method = DECODER_BEAM;
        o->beam_width = width;
        o->length_penalty = alpha;
}

/* Greedy: exact ids, log-probability, and END stopping the reply. */
static void test_greedy(void)
{
        static const struct transition t[] = {
                { TOKEN_START, A, 0.9f }, { TOKEN_START, B, 0.1f },
                { A, B, 0.9f }, { A, TOKEN_END, 0.1f },
                { B, C, 0.8f }, { B, TOKEN_END, 0.2f },
                { C, TOKEN_END, 0.7f }, { C, A, 0.3f },
        };
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result res;
        _cleanup_free_ char *text = NULL;

        chain_make(&c, t, ELEMENTSOF(t));
        options_greedy(&o);
        d = decoder_make(c.model, c.vocab, &o, 1);

        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, true, A, B, C);
        CHECK_NEAR(res.log_prob, chain_log_prob(&c, res.ids, 3, true), 1e-4);
        CHECK_NEAR(res.log_prob, log(0.9 * 0.9 * 0.8 * 0.7), 1e-4);
        /* alpha 0.6 over 4 tokens with END */
        CHECK_NEAR(res.score, res.log_prob / pow(9.0 / 6.0, 0.6), 1e-6);

        /* the text form: tokens joined for display */
        CHECK_INT_EQ(decoder_reply(d, "anything at all", &text), 0);
        CHECK_STR_EQ(text, "a b c");
        CHECK_INT_EQ(decoder_reply(d, "bad \xff byte", &text), -EILSEQ);

        decoder_free(d);
        chain_free(&c);
}

/* Ties go to the lower id wherever the tied tokens sit in the argmax's
 * eight-lane blocks (ids 0-7 in the block, 8-11 in the scalar tail): one
 * in the block and one in the tail, two in the block, two in the tail;
 * the text path (no scores) and decoder_decode() agree. */
static void test_greedy_ties(void)
{
        static const struct transition t[] = {
                { TOKEN_START, C, 0.45f }, { TOKEN_START, H_, 0.45f },
                { C, B, 0.45f }, { C, D, 0.45f },
                { B, F, 0.45f }, { B, G, 0.45f },
                { F, TOKEN_END, 0.9f },
        };
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result res;
        _cleanup_free_ char *text = NULL;

        chain_make(&c, t, ELEMENTSOF(t));
        options_greedy(&o);
        d = decoder_make(c.model, c.vocab, &o, 1);

        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, true, C, B, F);
        CHECK_NEAR(res.log_prob, chain_log_prob(&c, res.ids, 3, true), 1e-4);
        CHECK_NEAR(res.log_prob, 3 * log(0.5), 1e-3);   /* each tie halves, END ~1 */
        CHECK_INT_EQ(decoder_reply(d, "anything", &text), 0);
        CHECK_STR_EQ(text, "c b f");

        decoder_free(d);
        chain_free(&c);
}

/* The specials other than END are never emitted, however likely. */
static void test_specials_masked(void)
{
        static const struct transition t[] = {
                { TOKEN_START, TOKEN_UNKNOWN, 0.5f }, { TOKEN_START, TOKEN_PAD, 0.2f },
                { TOKEN_START, TOKEN_START, 0.15f }, { TOKEN_START, C, 0.1f },
                { TOKEN_START, D, 0.05f },
                { C, TOKEN_UNKNOWN, 0.9f }, { C, TOKEN_END, 0.1f },
        };
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result res;

        chain_make(&c, t, ELEMENTSOF(t));
        for (int method = 0; method < _DECODER_METHOD_MAX; method++) {
                options_greedy(&o);
                o.method = method;
                o.beam_width = 3;
                d = decoder_make(c.model, c.vocab, &o, 1);
                res = decode_one(d, prompt_any, 2);
                if (method != DECODER_SAMPLE) {
                        CHECK_IDS(res, true, C);
                        /* the probability is the model's, over the whole
                         * vocabulary */
                        CHECK_NEAR(res.log_prob, log(0.1 * 0.1), 1e-4);
                }
                for (int i = 0; i < res.length; i++)
                        CHECK(res.ids[i] >= TOKEN_SPECIAL_COUNT);
                decoder_free(d);
        }

        /* sampling many times never draws one either */
        options_greedy(&o);
        o.method = DECODER_SAMPLE;
        d = decoder_make(c.model, c.vocab, &o, 1);
        for (int i = 0; i < 200; i++) {
                res = decode_one(d, prompt_any, 2);
                for (int k = 0; k < res.length; k++)
                        CHECK(res.ids[k] >= TOKEN_SPECIAL_COUNT);
        }
        decoder_free(d);
        chain_free(&c);
}

/* max_length cuts a reply that would go on; min_length holds END back. */
static void test_lengths(void)
{
        static const struct transition t[] = {
                { TOKEN_START, TOKEN_END, 0.6f }, { TOKEN_START, A, 0.4f },
                { A, A, 0.95f }, { A, TOKEN_END, 0.05f },
        };
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result res;

        chain_make(&c, t, ELEMENTSOF(t));

        options_greedy(&o);
        o.max_length = 5;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, false, A, A, A, A, A);
        CHECK_NEAR(res.log_prob, log(0.4) + 4 * log(0.95), 1e-4);
        decoder_free(d);

        options_beam(&o, 4, 0.0f);
        o.max_length = 3;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK(res.length <= 3);
        decoder_free(d);

        /* min_length 0: END first is allowed, and most likely */
        options_greedy(&o);
        o.min_length = 0;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_INT_EQ(res.length, 0);
        CHECK_INT_EQ(res.ended, true);
        CHECK_NEAR(res.log_prob, log(0.6), 1e-4);
        decoder_free(d);

        /* min_length 3 */
        options_greedy(&o);
        o.min_length = 3;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, false, A, A, A, A, A, A, A, A, A, A);
        decoder_free(d);

        chain_free(&c);
}

/* Repeated n-grams are blocked; a hypothesis with nothing left stops. */
static void test_no_repeat_ngram(void)
{
        static const struct transition t[] = {
                { TOKEN_START, A, 0.9f }, { TOKEN_START, B, 0.1f },
                { A, A, 0.9f }, { A, B, 0.06f }, { A, TOKEN_END, 0.04f },
                { B, A, 0.9f }, { B, TOKEN_END, 0.1f },
        };
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result res;

        chain_make(&c, t, ELEMENTSOF(t));

        options_greedy(&o);
        o.max_length = 6;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, false, A, A, A, A, A, A);
        decoder_free(d);

        /* bigrams: a a, then a a again is blocked, so b; b a; then a a and
         * a b are both taken, END is left */
        o.no_repeat_ngram = 2;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, true, A, A, B, A);
        CHECK_NEAR(res.log_prob, log(0.9 * 0.9 * 0.06 * 0.9 * 0.04), 1e-4);
        decoder_free(d);

        /* unigrams: every token once */
        o.no_repeat_ngram = 1;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, true, A, B);
        decoder_free(d);

        /* the same in beam search */
        options_beam(&o, 3, 0.0f);
        o.max_length = 6;
        o.no_repeat_ngram = 2;
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        for (int i = 0; i + 1 < res.length; i++)
                for (int k = i + 1; k + 1 < res.length; k++)
                        CHECK(res.ids[i] != res.ids[k] || res.ids[i + 1] != res.ids[k + 1]);
        decoder_free(d);

        /* every token used once and END held back: the reply stops after
         * the eight ordinary tokens, not ended */
        for (int method = DECODER_GREEDY; method <= DECODER_BEAM; method++) {
                options_greedy(&o);
                o.method = method;
                o.beam_width = 2;
                o.no_repeat_ngram = 1;
                o.max_length = 12;
                o.min_length = 12;
                d = decoder_make(c.model, c.vocab, &o, 1);
                res = decode_one(d, prompt_any, 2);
                CHECK_INT_EQ(res.length, V - TOKEN_SPECIAL_COUNT);
                CHECK_INT_EQ(res.ended, false);
                decoder_free(d);
        }

        chain_free(&c);
}

/* Greedy takes c (0.5) and then its best follower (0.3): 0.1485 in all;
 * the best reply is d END (0.4 * 0.95 = 0.38), which beam search finds. */
static const struct transition myopic[] = {
        { TOKEN_START, C, 0.5f }, { TOKEN_START, D, 0.4f }, { TOKEN_START, E, 0.1f },
        { C, F, 0.3f }, { C, G, 0.3f }, { C, H_, 0.3f }, { C, TOKEN_END, 0.1f },
        { D, TOKEN_END, 0.95f }, { D, E, 0.05f },
        { E, TOKEN_END, 0.99f }, { E, A, 0.01f },
        { F, TOKEN_END, 0.99f }, { F, A, 0.01f },
        { G, TOKEN_END, 0.99f }, { G, A, 0.01f },
        { H_, TOKEN_END, 0.99f }, { H_, A, 0.01f },
        { A, TOKEN_END, 0.99f }, { A, B, 0.01f },
};

static void test_beam_beats_greedy(void)
{
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result greedy, beam;
        double greedy_log_prob;

        chain_make(&c, myopic, ELEMENTSOF(myopic));

        options_greedy(&o);
        d = decoder_make(c.model, c.vocab, &o, 1);
        greedy = decode_one(d, prompt_any, 2);
        CHECK_IDS(greedy, true, C, F);
        greedy_log_prob = greedy.log_prob;
        CHECK_NEAR(greedy_log_prob, log(0.5 * 0.3 * 0.99), 1e-4);
        decoder_free(d);

        /* width 1 is greedy */
        options_beam(&o, 1, 0.0f);
        d = decoder_make(c.model, c.vocab, &o, 1);
        beam = decode_one(d, prompt_any, 2);
        CHECK_IDS(beam, true, C, F);
        decoder_free(d);

        options_beam(&o, 2, 0.0f);
        d = decoder_make(c.model, c.vocab, &o, 1);
        beam = decode_one(d, prompt_any, 2);
        CHECK_IDS(beam, true, D);
        CHECK_NEAR(beam.log_prob, log(0.4 * 0.95), 1e-4);
        CHECK(beam.log_prob > greedy_log_prob + 0.9);
        CHECK_NEAR(beam.score, beam.log_prob, 1e-12);
        decoder_free(d);

        chain_free(&c);
}

/* a END: 0.6 * 0.6 = 0.36 in 2 tokens; b c d END: 0.4 * 0.95^3 = 0.343 in
 * 4.  By log-probability the short reply wins; with alpha 1 the penalty
 * ((5 + n) / 6) divides the long one's by 1.5 and the short one's by
 * 7/6, and the long one wins. */
static void test_length_penalty(void)
{
        static const struct transition t[] = {
                { TOKEN_START, A, 0.6f }, { TOKEN_START, B, 0.4f },
                { A, TOKEN_END, 0.6f }, { A, H_, 0.4f },
                { B, C, 0.95f }, { B, TOKEN_END, 0.05f },
                { C, D, 0.95f }, { C, TOKEN_END, 0.05f },
                { D, TOKEN_END, 0.95f }, { D, H_, 0.05f },
                { H_, TOKEN_END, 0.99f }, { H_, E, 0.01f },
        };
        struct chain c;
        struct decoder_options o;
        struct decoder *d;
        struct decoder_result res;

        chain_make(&c, t, ELEMENTSOF(t));

        options_beam(&o, 2, 0.0f);
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, true, A);
        CHECK_NEAR(res.log_prob, log(0.36), 1e-4);
        decoder_free(d);

        options_beam(&o, 2, 1.0f);
        d = decoder_make(c.model, c.vocab, &o, 1);
        res = decode_one(d, prompt_any, 2);
        CHECK_IDS(res, true, B, C, D);
        CHECK_NEAR(res.log_prob, log(0.4 * 0.95 * 0.95 * 0.95), 1e-4);
        CHECK_NEAR(res.score, res.log_prob / 1.5, 1e-6);
        decoder_free(d);

        chain_free(&c);
}

/* Sampling from START -> a 0.7, b 0.3 (each then END): the frequencies
 * follow temperature, top-k and top-p; the same seed draws the same. */
static void test_sampling_distribution(void)
{
        static const struct transition t[] = {
                { TOKEN_START, A, 0.7f }, { TOKEN_START, B, 0.3f },
                { A, TOKEN_END, 1.0f }, { B, TOKEN_END, 1.0f },
        };
        static const struct {
                float temperature;
                int top_k;
                float top_p;
                double p_a;
        } cases[] = {
                { 1.0f, 0, 1.0f, 0.7 },
                { 0.5f, 0, 1.0f, 0.49 / 0.58 },         /* p^2 renormalised */
                { 2.0f, 0, 1.0f, 0.6455 },              /* sqrt(.7)/(sqrt(.7)+sqrt(.3)) */
                { 1.0f, 1, 1.0f, 1.0 },
                { 1.0f, 2, 1.0f, 0.7 },
                { 1.0f, 0, 0.6f, 1.0 },                 /* a alone holds 0.6 */
                { 1.0f, 0, 0.8f, 0.7 },
        };
        enum { N = 2000, BATCH = 100 };
        struct chain c;
        struct decoder_options o;
        struct decoder_result res[BATCH];
        const int32_t *prompts[BATCH];
        int lengths[BATCH];

        chain_make(&c, t, ELEMENTSOF(t));
        for (int i = 0; i < BATCH; i++) {
                prompts[i] = prompt_any;
                lengths[i] = 2;
        }

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                struct decoder *d;
                int count_a = 0;

                options_greedy(&o);
                o.method = DECODER_SAMPLE;
                o.temperature = cases[k].temperature;
                o.top_k = cases[k].top_k;
                o.top_p = cases[k].top_p;
                o.seed = 7;
                d = decoder_make(c.model, c.vocab, &o, BATCH);
                for (int n = 0; n < N; n += BATCH) {
                        CHECK_INT_EQ(decoder_decode(d, prompts, lengths, BATCH, res), 0);
                        /* at temperature 2 the unlikely tokens (e^-20
                         * each) become e^-10: a few replies run on */
                        for (int i = 0; i < BATCH; i++) {
                                CHECK(res[i].length >= 1);
                                count_a += res[i].ids[0] == A;
                        }
                }
                /* 2000 draws: a standard deviation of at most 0.011 */
                CHECK_NEAR((double)count_a / N, cases[k].p_a, 0.035);
                decoder_free(d);
        }
        chain_free(&c);
}

/* ---- a random model, where the prompt matters ------------------------- */

enum { RV = 40, RPROMPTS = 8 };

static struct seq2seq *random_model(struct vocab **ret_vocab)
{
        const struct seq2seq_config config = { .vocab_size = RV, .embed_size = 8,
                                               .hidden_size = 16, .layers = 2 };
        const char *tokens[RV];
        char names[RV][8];
        struct seq2seq *m = NULL;

        for (int i = 0; i < RV; i++) {
                snprintf(names[i], sizeof(names[i]), "w%d", i);
                tokens[i] = i < V && i < TOKEN_SPECIAL_COUNT ? chain_tokens[i] : names[i];
        }
        if (seq2seq_new(&config, &m) < 0 || vocab_new_from_tokens(tokens, RV, ret_vocab) < 0)
                exit(1);
        seq2seq_init_random(m, 42);
        /* sharper distributions than the initialisation's, so that replies
         * differ between prompts, some end early and some run to
         * max_length */
        for (size_t i = 0; i < m->parameter_count; i++)
                m->parameters[i] *= 3.0f;
        for (int i = 0; i < RV * 16; i++)
                m->weights.out_weight[i] *= 10.0f;
        return m;
}

static int32_t random_prompts[RPROMPTS][12];
static int random_lengths[RPROMPTS];
static const int32_t *random_prompt_ptrs[RPROMPTS];

static void random_prompts_make(void)
{
        uint64_t x = 12345;

        for (int p = 0; p < RPROMPTS; p++) {
                random_lengths[p] = 1 + p % 12;
                for (int i = 0; i < random_lengths[p]; i++) {
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                        random_prompts[p][i] = TOKEN_SPECIAL_COUNT +
                                               (int32_t)((x >> 33) % (RV - TOKEN_SPECIAL_COUNT));
                }
                random_prompt_ptrs[p] = random_prompts[p];
        }
}

/* Copies of the replies to the random prompts. */
struct replies {
        int32_t ids[RPROMPTS][64];
        int length[RPROMPTS];
        bool ended[RPROMPTS];
        double log_prob[RPROMPTS];
};

static void replies_keep(struct replies *r, int p, const struct decoder_result *res)
{
        memcpy(r->ids[p], res->ids, sizeof(int32_t) * res->length);
        r->length[p] = res->length;
        r->ended[p] = res->ended;
        r->log_prob[p] = res->log_prob;
}

/* One by one (batch false) or all together. */
static void replies_decode(const struct seq2seq *m, const struct vocab *v,
                           const struct decoder_options *o, bool batch, struct replies *ret)
{
        struct decoder *d = decoder_make(m, v, o, RPROMPTS);
        struct decoder_result res[RPROMPTS];

        if (batch) {
                CHECK_INT_EQ(decoder_decode(d, random_prompt_ptrs, random_lengths, RPROMPTS,
                                            res), 0);
                for (int p = 0; p < RPROMPTS; p++)
                        replies_keep(ret, p, &res[p]);
        } else {
                for (int p = 0; p < RPROMPTS; p++) {
                        res[0] = decode_one(d, random_prompts[p], random_lengths[p]);
                        replies_keep(ret, p, &res[0]);
                }
        }
        decoder_free(d);
}

static int replies_differ(const struct replies *a, const struct replies *b)
{
        int n = 0;

        for (int p = 0; p < RPROMPTS; p++)
                n += a->length[p] != b->length[p] || a->ended[p] != b->ended[p] ||
                     memcmp(a->ids[p], b->ids[p], sizeof(int32_t) * a->length[p]) != 0;
        return n;
}

static void test_batch_equals_single(void)
{
        struct vocab *v = NULL;
        struct seq2seq *m = random_model(&v);
        struct decoder_options o;
        struct replies one, all, other;
        int distinct = 0;

        for (int method = 0; method < _DECODER_METHOD_MAX; method++) {
                options_greedy(&o);
                o.method = method;
                o.max_length = 20;
                o.beam_width = 3;
                o.no_repeat_ngram = method == DECODER_BEAM ? 2 : 0;
                replies_decode(m, v, &o, false, &one);
                replies_decode(m, v, &o, true, &all);
                CHECK_INT_EQ(replies_differ(&one, &all), 0);
                for (int p = 0; p < RPROMPTS; p++)
                        CHECK_NEAR(one.log_prob[p], all.log_prob[p], 1e-4);
        }

        /* the prompts matter: greedy replies are not all the same */
        options_greedy(&o);
        o.max_length = 20;
        replies_decode(m, v, &o, true, &all);
        for (int p = 1; p < RPROMPTS; p++)
                distinct += all.length[p] != all.length[0] ||
                            memcmp(all.ids[p], all.ids[0], sizeof(int32_t) * all.length[0]);
        CHECK(distinct > 0);

        /* beam width 1 (alpha 0) is greedy */
        o.method = DECODER_BEAM;
        o.beam_width = 1;
        o.length_penalty = 0.0f;
        replies_decode(m, v, &o, false, &one);
        o.method = DECODER_GREEDY;
        replies_decode(m, v, &o, false, &other);
        CHECK_INT_EQ(replies_differ(&one, &other), 0);

        seq2seq_free(m);
        vocab_free(v);
}

static void test_sampling_reproducible(void)
{
        struct vocab *v = NULL;
        struct seq2seq *m = random_model(&v);
        struct decoder_options o;
        struct replies greedy, a, b, c;

        options_greedy(&o);
        o.max_length = 20;
        replies_decode(m, v, &o, false, &greedy);

        o.method = DECODER_SAMPLE;
        o.seed = 3;
        replies_decode(m, v, &o, false, &a);
        replies_decode(m, v, &o, false, &b);
        CHECK_INT_EQ(replies_differ(&a, &b), 0);
        o.seed = 4;
        replies_decode(m, v, &o, false, &c);
        CHECK(replies_differ(&a, &c) > 0);
        /* at temperature 1 sampling strays from the greedy replies */
        CHECK(replies_differ(&a, &greedy) > 0);

        /* temperature towards 0, temperature 0 and top-k 1 are greedy */
        o.temperature = 1e-3f;
        replies_decode(m, v, &o, false, &a);
        CHECK_INT_EQ(replies_differ(&a, &greedy), 0);
        o.temperature = 0.0f;
        replies_decode(m, v, &o, false, &a);
        CHECK_INT_EQ(replies_differ(&a, &greedy), 0);
        o.temperature = 1.0f;
        o.top_k = 1;
        replies_decode(m, v, &o, false, &a);
        CHECK_INT_EQ(replies_differ(&a, &greedy), 0);
        o.top_k = 0;
        o.top_p = 1e-6f;
        replies_decode(m, v, &o, false, &a);
        CHECK_INT_EQ(replies_differ(&a, &greedy), 0);

        seq2seq_free(m);
        vocab_free(v);
}

/* Decoders on several threads share one model and vocabulary and give
 * what one thread gives. */
struct thread_job {
        const struct seq2seq *model;
        const struct vocab *vocab;
        struct decoder_options options;
        const struct replies *expected;
        int errors;             /* failed calls and differing replies, counted
                                 * here: CHECK is not thread-safe */
};

static void *thread_run(void *arg)
{
        struct thread_job *job = arg;
        struct decoder_result res[RPROMPTS];

        /* a new decoder each round, so sampling starts from the seed again;
         * every other round one prompt at a time */
        for (int round = 0; round < 20; round++) {
                int n = round % 2 ? 1 : RPROMPTS;
                struct decoder *d = NULL;

                if (decoder_new(job->model, job->vocab, &job->options, RPROMPTS, &d) < 0) {
                        job->errors++;
                        return NULL;
                }
                for (int p = 0; p < RPROMPTS; p += n) {
                        if (decoder_decode(d, random_prompt_ptrs + p, random_lengths + p, n,
                                           res) < 0)
                                job->errors++;
                        else
                                for (int i = 0; i < n; i++)
                                        job->errors += !ids_equal(&res[i],
                                                                  job->expected->ids[p + i],
                                                                  job->expected->length[p + i]);
                }
                decoder_free(d);
        }
        return NULL;
}

static void test_threads(void)
{
        enum { THREADS = 4 };
        struct vocab *v = NULL;
        struct seq2seq *m = random_model(&v);
        struct thread_job jobs[THREADS];
        pthread_t threads[THREADS];
        struct replies expected[THREADS];

        for (int i = 0; i < THREADS; i++) {
                jobs[i] = (struct thread_job){ .model = m, .vocab = v,
                                               .expected = &expected[i] };
                options_greedy(&jobs[i].options);
                jobs[i].options.method = i % _DECODER_METHOD_MAX;
                jobs[i].options.max_length = 20;
                jobs[i].options.seed = 100 + i;
                jobs[i].options.beam_width = 3;
                replies_decode(m, v, &jobs[i].options, true, &expected[i]);
        }

        for (int i = 0; i < THREADS; i++)
                CHECK_INT_EQ(pthread_create(&threads[i], NULL, thread_run, &jobs[i]), 0);
        for (int i = 0; i < THREADS; i++) {
                CHECK_INT_EQ(pthread_join(threads[i], NULL), 0);
                CHECK_INT_EQ(jobs[i].errors, 0);
        }

        seq2seq_free(m);
        vocab_free(v);
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
/* This binary's malloc family wraps the C library's and counts calls while
 * alloc_counting is set, so a test can see whether decoding steps
 * allocate. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static int alloc_counting;
static long alloc_count;

static void alloc_note(void)
{
        if (__atomic_load_n(&alloc_counting, __ATOMIC_RELAXED))
                __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
        alloc_note();
        return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
        alloc_note();
        return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
        alloc_note();
        return __libc_realloc(p, size);
}

/* Allocations during one decoder_decode() of the random prompts with
 * replies of exactly length tokens. */
static long decode_allocations(const struct seq2seq *m, const struct vocab *v,
                               struct decoder_options o, int length)
{
        struct decoder_result res[RPROMPTS];
        struct decoder *d;
        long count;

        o.max_length = length;
        o.min_length = length;
        d = decoder_make(m, v, &o, RPROMPTS);
        /* once untimed: OpenBLAS may set up buffers on first use */
        CHECK_INT_EQ(decoder_decode(d, random_prompt_ptrs, random_lengths, RPROMPTS, res), 0);

        alloc_count = 0;
        __atomic_store_n(&alloc_counting, 1, __ATOMIC_RELAXED);
        CHECK_INT_EQ(decoder_decode(d, random_prompt_ptrs, random_lengths, RPROMPTS, res), 0);
        __atomic_store_n(&alloc_counting, 0, __ATOMIC_RELAXED);
        count = alloc_count;

        CHECK_INT_EQ(res[0].length, length);
        decoder_free(d);
        return count;
}

/* Encoding allocates once per call; the steps after it allocate nothing,
 * so 40 steps allocate no more than 5. */
static void test_steps_allocation_free(void)
{
        struct vocab *v = NULL;
        struct seq2seq *m = random_model(&v);
        struct decoder_options o;

        for (int method = 0; method < _DECODER_METHOD_MAX; method++) {
                long short_run, long_run;

                options_greedy(&o);
                o.method = method;
                o.beam_width = 4;
                o.top_p = 0.9f;                 /* sampling through the sorted pool */
                o.no_repeat_ngram = 2;
                short_run = decode_allocations(m, v, o, 5);
                long_run = decode_allocations(m, v, o, 40);
                CHECK_INT_EQ(long_run, short_run);
                CHECK(short_run <= 4);
        }

        seq2seq_free(m);
        vocab_free(v);
}
#else
static void test_steps_allocation_free(void)
{
        fprintf(stderr, "allocation counting needs glibc and no AddressSanitizer; not checked\n");
}
#endif

/* Only the last DECODER_PROMPT_TOKENS_MAX tokens of a prompt are read. */
static void test_long_prompt(void)
{
        enum { N = DECODER_PROMPT_TOKENS_MAX + 300 };
        struct vocab *v = NULL;
        struct seq2seq *m = random_model(&v);
        _cleanup_free_ int32_t *prompt = calloc(N, sizeof(int32_t));
        struct decoder_options o;
        struct decoder *d;
        struct replies whole, tail;
        struct decoder_result res;

        for (int i = 0; i < N; i++)
                prompt[i] = TOKEN_SPECIAL_COUNT + (i * 7) % (RV - TOKEN_SPECIAL_COUNT);

        options_greedy(&o);
        d = decoder_make(m, v, &o, 1);
        res = decode_one(d, prompt, N);
        replies_keep(&whole, 0, &res);
        res = decode_one(d, prompt + 300, DECODER_PROMPT_TOKENS_MAX);
        replies_keep(&tail, 0, &res);
        CHECK_INT_EQ(whole.length[0], tail.length[0]);
        CHECK(memcmp(whole.ids[0], tail.ids[0], sizeof(int32_t) * tail.length[0]) == 0);
        decoder_free(d);

        seq2seq_free(m);
        vocab_free(v);
}

static void test_options(void)
{
        struct decoder_options o, before;
        char error[DECODER_ERROR_MAX];

        decoder_options_default(&o);
        CHECK_INT_EQ(o.method, DECODER_GREEDY);
        CHECK_INT_EQ(decoder_options_check(&o, error, sizeof(error)), 0);

        CHECK_INT_EQ(decoder_options_set(&o, "method", "beam", error, sizeof(error)), 0);
        CHECK_INT_EQ(o.method, DECODER_BEAM);
        CHECK_INT_EQ(decoder_options_set(&o, "beam-width", "8", error, sizeof(error)), 0);
        CHECK_INT_EQ(o.beam_width, 8);
        CHECK_INT_EQ(decoder_options_set(&o, "top_p", "0.9", error, sizeof(error)), 0);
        CHECK_NEAR(o.top_p, 0.9, 1e-7);
        CHECK_INT_EQ(decoder_options_set(&o, "seed", "18446744073709551615", error,
                                         sizeof(error)), 0);
        CHECK(o.seed == UINT64_MAX);

        before = o;
        CHECK_INT_EQ(decoder_options_set(&o, "top_p", "0", error, sizeof(error)), -EINVAL);
        CHECK_STR_EQ(error, "top_p is a number in (0, 1], not '0'");
        CHECK_INT_EQ(decoder_options_set(&o, "max-length", "2.5", error, sizeof(error)),
                     -EINVAL);
        CHECK_STR_EQ(error, "max-length is a whole number from 1 to 1000, not '2.5'");
        CHECK_INT_EQ(decoder_options_set(&o, "method", "nucleus", error, sizeof(error)),
                     -EINVAL);
        CHECK_STR_EQ(error, "method is greedy, beam or sample, not 'nucleus'");
        CHECK_INT_EQ(decoder_options_set(&o, "seed", "-1", error, sizeof(error)), -EINVAL);
        CHECK_INT_EQ(decoder_options_set(&o, "beam", "5", error, sizeof(error)), -ENOENT);
        CHECK_STR_EQ(error, "unknown decoding option 'beam'");
        CHECK(memcmp(&o, &before, sizeof(o)) == 0);

        o.min_length = 50;
        CHECK_INT_EQ(decoder_options_check(&o, error, sizeof(error)), -EINVAL);
        CHECK_STR_EQ(error, "min_length 50 is over max_length 40");
        o.min_length = 1;
        o.temperature = -1.0f;
        CHECK_INT_EQ(decoder_options_check(&o, error, sizeof(error)), -EINVAL);
        CHECK_STR_EQ(error, "temperature is a number in [0, 100], not -1");
}

static void test_errors(void)
{
        struct chain c;
        struct vocab *small = NULL;
        struct decoder_options o;
        struct decoder *d = NULL;
        struct decoder_result res;
        const int32_t bad[] = { A, V };
        const int32_t *prompt = bad;
        int length = 2;

        chain_make(&c, NULL, 0);
        options_greedy(&o);

        CHECK_INT_EQ(vocab_new_from_tokens(chain_tokens, V - 1, &small), 0);
        CHECK_INT_EQ(decoder_new(c.model, small, &o, 1, &d), -EINVAL);
        CHECK_INT_EQ(decoder_new(c.model, c.vocab, &o, 0, &d), -EINVAL);
        CHECK_INT_EQ(decoder_new(c.model, c.vocab, &o, DECODER_BATCH_MAX + 1, &d), -EINVAL);
        o.max_length = 0;
        CHECK_INT_EQ(decoder_new(c.model, c.vocab, &o, 1, &d), -EINVAL);
        CHECK(d == NULL);

        options_greedy(&o);
        d = decoder_make(c.model, c.vocab, &o, 2);
        CHECK_INT_EQ(decoder_decode(d, &prompt, &length, 1, &res), -EINVAL);
        CHECK_INT_EQ(decoder_decode(d, &prompt, &length, 0, &res), -EINVAL);
        CHECK_INT_EQ(decoder_decode(d, &prompt, &length, 3, &res), -EINVAL);
        length = -1;
        CHECK_INT_EQ(decoder_decode(d, &prompt, &length, 1, &res), -EINVAL);
        decoder_free(d);
        decoder_free(NULL);

        vocab_free(small);
        chain_free(&c);
}

/* decoder_model_load() on a saved model, a missing file and a file whose
 * vocabulary is not a parley vocabulary. */
static void test_model_load(void)
{
        char dir[] = "/tmp/test-decode-XXXXXX", path[64], error[DECODER_ERROR_MAX];
        struct chain c;
        struct seq2seq *m = NULL;
        struct vocab *v = NULL;
        _cleanup_free_ char *json = NULL;
        int r;

        CHECK(mkdtemp(dir) != NULL);
        chain_make(&c, myopic, ELEMENTSOF(myopic));
        snprintf(path, sizeof(path), "%s/m.model", dir);

        CHECK_INT_EQ(vocab_to_json(c.vocab, &json), 0);
        CHECK_INT_EQ(seq2seq_save(c.model, path, json, NULL, 0), 0);
        CHECK_INT_EQ(decoder_model_load(path, &m, &v, error, sizeof(error)), 0);
        if (m && v) {
                struct decoder_options o;
                struct decoder *d;
                struct decoder_result res;

                CHECK_INT_EQ(vocab_size(v), V);
                CHECK_STR_EQ(vocab_token(v, H_), "h");
                CHECK(memcmp(m->parameters, c.model->parameters,
                             sizeof(float) * m->parameter_count) == 0);
                options_greedy(&o);
                d = decoder_make(m, v, &o, 1);
                res = decode_one(d, prompt_any, 2);
                CHECK_IDS(res, true, C, F);
                decoder_free(d);
                seq2seq_free(m);
                vocab_free(v);
        }

        snprintf(path, sizeof(path), "%s/wrong.model", dir);
        /* the right length, but the first two specials swapped */
        CHECK_INT_EQ(seq2seq_save(c.model, path,
                                  "[\"<s>\",\"<pad>\",\"</s>\",\"<unk>\",\"a\",\"b\",\"c\","
                                  "\"d\",\"e\",\"f\",\"g\",\"h\"]", NULL, 0), 0);
        r = decoder_model_load(path, &m, &v, error, sizeof(error));
        CHECK_INT_EQ(r, -EBADMSG);
        CHECK(strstr(error, "wrong.model: metadata 'vocabulary' is not a parley vocabulary"));
        unlink(path);

        snprintf(path, sizeof(path), "%s/missing.model", dir);
        CHECK_INT_EQ(decoder_model_load(path, &m, &v, error, sizeof(error)), -ENOENT);
        CHECK(strstr(error, "missing.model") != NULL);

        snprintf(path, sizeof(path), "%s/m.model", dir);
        unlink(path);
        rmdir(dir);
        chain_free(&c);
}

int main(void)
{
        random_prompts_make();

        test_greedy();
        test_greedy_ties();
        test_specials_masked();
        test_lengths();
        test_no_repeat_ngram();
        test_beam_beats_greedy();
        test_length_penalty();
        test_sampling_distribution();
        test_batch_equals_single();
        test_sampling_reproducible();
        test_threads();
        test_steps_allocation_free();
        test_long_prompt();
        test_options();
        test_errors();
        test_model_load();
        return test_finish();
}
