/* hegui._native: compiled inner loops, each the exact twin of a numpy reference in the package.
 *
 * Why C: the risk classifier's featurisation (hash every character 1..3-gram, drop duplicates,
 * gather and sum weight rows) was a third of a corpus shard's CPU time after every numpy trick,
 * and the MinHash sketch and the signal counts a tenth each (see BENCHMARKS.md). Here one pass
 * per text does each, with no temporaries. The module is optional: when it did not build,
 * `hegui.native.get()` is None and the callers run their numpy paths, which give the same bits
 * (tests compare the two on random and edge-case text and in hypothesis property tests).
 *
 * ngram_logits is bit-identical to numpy: the hash is the same uint64 arithmetic (wrapping), the
 * row scale is float32(1 / sqrt(count)) computed in double, each weight is multiplied by it in
 * float32, and the products are summed in float32 over the buckets in ascending order as
 * `np.add.reduceat` sums a segment (its first row, plus numpy's pairwise sum of the others); the
 * bias is added last. The build must not fuse a * b + c into one multiply-add (setup.py passes
 * -ffp-contract=off). minhash_bands and text_signals are integer arithmetic, equal by
 * construction.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MUL 1000003ULL
#define MIX1 0xFF51AFD7ED558CCDULL
#define MIX2 0xC4CEB9FE1A85EC53ULL
#define MAX_HEADS 64
#define MAX_ORDER 8

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= MIX1;
    h ^= h >> 33;
    h *= MIX2;
    return h ^ (h >> 33);
}

/* numpy's float32 pairwise summation (`pairwise_sum` in numpy/_core/src/umath/loops_utils.h.src),
 * lane by lane, of the products w[idx[i]][h] * scale: what `np.add.reduceat(c, starts, axis=0)`
 * adds to a segment's first row. Same blocks, same eight accumulators, same combination order, so
 * the same float32 result. ``lanes`` is a constant in each caller below, so the compiler unrolls
 * and vectorises the lane loops; ``pf`` rows ahead are prefetched, since the rows are scattered
 * over a weight table larger than the cache and their loads are the cost. */
static inline __attribute__((always_inline)) void pairwise_block(const float *w, Py_ssize_t width, const int lanes,
                                                                 float scale, const uint32_t *idx, Py_ssize_t n,
                                                                 float *res) {
    enum { pf = 16 };
    if (n < 8) {
        for (int h = 0; h < lanes; h++) res[h] = -0.0f;
        for (Py_ssize_t i = 0; i < n; i++) {
            const float *r = w + (Py_ssize_t)idx[i] * width;
            for (int h = 0; h < lanes; h++) res[h] += r[h] * scale;
        }
        return;
    }
    float acc[8][MAX_HEADS];
    for (int j = 0; j < 8; j++) {
        const float *r = w + (Py_ssize_t)idx[j] * width;
        for (int h = 0; h < lanes; h++) acc[j][h] = r[h] * scale;
    }
    Py_ssize_t i;
    for (i = 8; i < n - (n % 8); i += 8) {
        for (int j = 0; j < 8; j++) {
            if (i + j + pf < n) __builtin_prefetch(w + (Py_ssize_t)idx[i + j + pf] * width);
            const float *r = w + (Py_ssize_t)idx[i + j] * width;
            for (int h = 0; h < lanes; h++) acc[j][h] += r[h] * scale;
        }
    }
    for (int h = 0; h < lanes; h++)
        res[h] = ((acc[0][h] + acc[1][h]) + (acc[2][h] + acc[3][h])) +
                 ((acc[4][h] + acc[5][h]) + (acc[6][h] + acc[7][h]));
    for (; i < n; i++) {
        const float *r = w + (Py_ssize_t)idx[i] * width;
        for (int h = 0; h < lanes; h++) res[h] += r[h] * scale;
    }
}

/* Rows padded to 8 floats (the shipped model's six heads): eight lanes, the padding's sums dropped. */
static void pairwise_sum8(const float *w, float scale, const uint32_t *idx, Py_ssize_t n, float *res) {
    if (n <= 128) {
        pairwise_block(w, 8, 8, scale, idx, n, res);
        return;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    float right[8];
    pairwise_sum8(w, scale, idx, n2, res);
    pairwise_sum8(w, scale, idx + n2, n - n2, right);
    for (int h = 0; h < 8; h++) res[h] += right[h];
}

/* Any other row width: ``heads`` lanes. */
static void pairwise_sum(const float *w, Py_ssize_t width, int heads, float scale, const uint32_t *idx, Py_ssize_t n,
                         float *res) {
    if (n <= 128) {
        pairwise_block(w, width, heads, scale, idx, n, res);
        return;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    float right[MAX_HEADS];
    pairwise_sum(w, width, heads, scale, idx, n2, res);
    pairwise_sum(w, width, heads, scale, idx + n2, n - n2, right);
    for (int h = 0; h < heads; h++) res[h] += right[h];
}

typedef struct {
    unsigned int kind;
    const void *data;
    Py_ssize_t len;
} text_view;

/* The texts as a fast sequence (a new reference, or NULL with an exception set), their number, a
 * view of each one's storage (PyMem memory the caller frees) and the longest length, checking that
 * every item is a str. The sequence keeps the texts alive, and str is immutable, so the views stay
 * valid while the GIL is released. */
static PyObject *open_texts(PyObject *texts_obj, const char *fn, Py_ssize_t *n, text_view **views, Py_ssize_t *longest) {
    PyObject *seq = PySequence_Fast(texts_obj, "texts must be a sequence of str");
    if (seq == NULL) return NULL;
    *n = PySequence_Fast_GET_SIZE(seq);
    *longest = 0;
    *views = PyMem_Calloc(*n ? *n : 1, sizeof(text_view));
    if (*views == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(t)) {
            PyErr_Format(PyExc_TypeError, "%s: texts[%zd] is %.100s, not str", fn, i, Py_TYPE(t)->tp_name);
            goto fail;
        }
        if (PyUnicode_READY(t) < 0) goto fail;
        text_view *v = *views + i;
        v->kind = PyUnicode_KIND(t);
        v->data = PyUnicode_DATA(t);
        v->len = PyUnicode_GET_LENGTH(t);
        if (v->len > *longest) *longest = v->len;
    }
    return seq;
fail:
    PyMem_Free(*views);
    *views = NULL;
    Py_DECREF(seq);
    return NULL;
}

/* A text's code points, whatever the str's storage width (a lone surrogate is one, as numpy's
 * utf-32 "surrogatepass" view gives it). */
static void read_codepoints(const text_view *v, uint64_t *cps) {
    Py_ssize_t len = v->len;
    switch (v->kind) {
    case PyUnicode_1BYTE_KIND:
        for (Py_ssize_t p = 0; p < len; p++) cps[p] = ((const Py_UCS1 *)v->data)[p];
        break;
    case PyUnicode_2BYTE_KIND:
        for (Py_ssize_t p = 0; p < len; p++) cps[p] = ((const Py_UCS2 *)v->data)[p];
        break;
    default:
        for (Py_ssize_t p = 0; p < len; p++) cps[p] = ((const Py_UCS4 *)v->data)[p];
    }
}

PyDoc_STRVAR(ngram_logits_doc,
"ngram_logits(texts, rows, heads, n_min, n_max, bits, out)\n\n"
"Add each text's hashed character n-gram score to its row of ``out``.\n\n"
"texts: a sequence of str. rows: a C-contiguous float32 buffer of 2**bits rows of at least\n"
"``heads`` floats (the padded weight matrix). out: a writable C-contiguous float32 buffer of\n"
"len(texts) * heads floats, holding the bias on entry and bias + sum on return.\n"
"Returns the number of unique features of each text as a list of ints.");

static PyObject *ngram_logits(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts_obj;
    Py_buffer rows, out;
    int heads, n_min, n_max, bits;
    if (!PyArg_ParseTuple(args, "Oy*iiiiw*", &texts_obj, &rows, &heads, &n_min, &n_max, &bits, &out)) return NULL;
    PyObject *seq = NULL, *counts = NULL;
    text_view *views = NULL;
    uint32_t *keys = NULL;
    uint64_t *seen = NULL, *summary = NULL, *cps = NULL;
    Py_ssize_t *nfeat = NULL;

    if (heads < 1 || heads > MAX_HEADS || n_min < 1 || n_min > n_max || n_max > MAX_ORDER || bits < 1 || bits > 24) {
        PyErr_SetString(PyExc_ValueError, "ngram_logits: heads, n-gram orders or bucket bits out of range");
        goto done;
    }
    Py_ssize_t n, longest;
    seq = open_texts(texts_obj, "ngram_logits", &n, &views, &longest);
    if (seq == NULL) goto done;
    Py_ssize_t n_buckets = (Py_ssize_t)1 << bits;
    if (rows.len % ((Py_ssize_t)sizeof(float) * n_buckets) != 0) {
        PyErr_SetString(PyExc_ValueError, "ngram_logits: rows is not 2**bits rows of float32");
        goto done;
    }
    Py_ssize_t width = rows.len / ((Py_ssize_t)sizeof(float) * n_buckets);
    if (width < heads) {
        PyErr_SetString(PyExc_ValueError, "ngram_logits: rows are narrower than heads");
        goto done;
    }
    if (out.len != n * heads * (Py_ssize_t)sizeof(float)) {
        PyErr_SetString(PyExc_ValueError, "ngram_logits: out must hold len(texts) * heads float32");
        goto done;
    }
    nfeat = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    if (nfeat == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t cap = longest * (n_max - n_min + 1);
    keys = PyMem_Malloc((cap ? cap : 1) * sizeof(uint32_t));
    cps = PyMem_Malloc((longest ? longest : 1) * sizeof(uint64_t));
    /* One bit per bucket, and one summary bit per word of those: reading the set bits in order
     * gives a text's unique buckets sorted, with no sort, and the summary skips the empty words. */
    Py_ssize_t n_words = (n_buckets + 63) / 64;
    seen = PyMem_Calloc((size_t)n_words, sizeof(uint64_t));
    summary = PyMem_Calloc((size_t)(n_words + 63) / 64, sizeof(uint64_t));
    if (keys == NULL || seen == NULL || summary == NULL || cps == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const float *w = (const float *)rows.buf;
    float *o = (float *)out.buf;
    uint64_t mask = (uint64_t)n_buckets - 1;
    uint64_t offset[MAX_ORDER + 1];
    for (int k = 0; k <= MAX_ORDER; k++) offset[k] = (uint64_t)k * MIX2;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = views[i].len;
        read_codepoints(&views[i], cps);
        Py_ssize_t m = 0; /* unique buckets of this text, marked in seen/summary */
        for (Py_ssize_t p = 0; p < len; p++) {
            uint64_t poly = 0;
            for (int k = 1; k <= n_max && p + k <= len; k++) {
                uint64_t cp = cps[p + k - 1];
                poly = k == 1 ? cp : poly * MUL + cp;
                if (k < n_min) continue;
                uint32_t b = (uint32_t)(mix(poly + offset[k]) & mask);
                uint64_t bit = 1ULL << (b & 63);
                if (!(seen[b >> 6] & bit)) {
                    seen[b >> 6] |= bit;
                    summary[b >> 12] |= 1ULL << ((b >> 6) & 63);
                    m++;
                }
            }
        }
        nfeat[i] = m;
        if (m == 0) continue;
        Py_ssize_t k = 0; /* keys[0..m): the set bits in ascending order, cleared for the next text */
        for (Py_ssize_t sw = 0; k < m; sw++) {
            uint64_t words = summary[sw];
            summary[sw] = 0;
            while (words) {
                Py_ssize_t wi = sw * 64 + __builtin_ctzll(words);
                words &= words - 1;
                uint64_t bitsw = seen[wi];
                seen[wi] = 0;
                while (bitsw) {
                    keys[k++] = (uint32_t)(wi * 64 + __builtin_ctzll(bitsw));
                    bitsw &= bitsw - 1;
                }
            }
        }
        const uint32_t *sorted = keys;
        float scale = (float)(1.0 / sqrt((double)m));
        float acc[MAX_HEADS], rest[MAX_HEADS];
        const float *r0 = w + (Py_ssize_t)sorted[0] * width;
        for (int h = 0; h < heads; h++) acc[h] = r0[h] * scale;
        if (m > 1) {
            if (width == 8)
                pairwise_sum8(w, scale, sorted + 1, m - 1, rest);
            else
                pairwise_sum(w, width, heads, scale, sorted + 1, m - 1, rest);
            for (int h = 0; h < heads; h++) acc[h] += rest[h];
        }
        float *oi = o + i * heads;
        for (int h = 0; h < heads; h++) oi[h] += acc[h];
    }
    Py_END_ALLOW_THREADS

    counts = PyList_New(n);
    if (counts == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = PyLong_FromSsize_t(nfeat[i]);
        if (c == NULL) {
            Py_CLEAR(counts);
            goto done;
        }
        PyList_SET_ITEM(counts, i, c);
    }

done:
    PyMem_Free(views);
    PyMem_Free(nfeat);
    PyMem_Free(keys);
    PyMem_Free(summary);
    PyMem_Free(seen);
    PyMem_Free(cps);
    Py_XDECREF(seq);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&out);
    return counts;
}

/* ---- MinHash band keys (the twin of hegui.datascan.minhash: shingle_hashes, sketch, band_keys) ---- */

#define ODD 0x9E3779B97F4A7C15ULL
#define MASK32 0xFFFFFFFFULL
#define EMPTY 0xFFFFFFFFFFFFFFFFULL

static inline uint64_t splitmix(uint64_t x) { /* minhash.mix64 */
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* One round's bin and value from a 32-bit half u: bin u*k >> 32, value u*k mod 2^32 under the round. */
static inline void place(uint64_t *sig, uint64_t u, uint64_t k, uint64_t round, Py_ssize_t *filled) {
    uint64_t prod = u * k;
    uint64_t bin = prod >> 32, val = (prod & MASK32) | (round << 32);
    if (val < sig[bin]) {
        if (sig[bin] == EMPTY) (*filled)++;
        sig[bin] = val;
    }
}

PyDoc_STRVAR(minhash_bands_doc,
"minhash_bands(texts, solid, n, seed, k, salt, bands, rows, out) -> list[bool]\n\n"
"Each text's LSH band keys, as `MinHashStep` computes them in numpy: character n-grams of the\n"
"text without whitespace (``solid``: one byte per code point, non-zero where it is not a space),\n"
"hashed as `minhash.hash_columns`, the ``k``-bin fast similarity sketch (``salt``: the 2k uint64\n"
"salts of `minhash.sketch`) and `minhash.band_keys`. ``out``: a writable uint64 buffer of\n"
"len(texts) * bands. Returns whether each text has an n-gram (only those rows are written).");

static PyObject *minhash_bands(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts_obj;
    Py_buffer solid, salt, out;
    int n, k, bands, rows;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "Oy*iKiy*iiw*", &texts_obj, &solid, &n, &seed, &k, &salt, &bands, &rows, &out)) return NULL;
    PyObject *seq = NULL, *result = NULL;
    text_view *views = NULL;
    uint64_t *cps = NULL, *grams = NULL, *sig = NULL;
    char *has = NULL;

    if (n < 1 || k < 1 || bands < 1 || rows < 1 || (Py_ssize_t)bands * rows > k) {
        PyErr_SetString(PyExc_ValueError, "minhash_bands: n-gram size, bins, bands or rows out of range");
        goto done;
    }
    if (solid.len != 0x110000 || salt.len != 2 * (Py_ssize_t)k * (Py_ssize_t)sizeof(uint64_t)) {
        PyErr_SetString(PyExc_ValueError, "minhash_bands: solid must have 0x110000 bytes and salt 2k uint64");
        goto done;
    }
    Py_ssize_t nd, longest;
    seq = open_texts(texts_obj, "minhash_bands", &nd, &views, &longest);
    if (seq == NULL) goto done;
    if (out.len != nd * bands * (Py_ssize_t)sizeof(uint64_t)) {
        PyErr_SetString(PyExc_ValueError, "minhash_bands: out must hold len(texts) * bands uint64");
        goto done;
    }
    has = PyMem_Calloc(nd ? nd : 1, 1);
    if (has == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    cps = PyMem_Malloc((longest ? longest : 1) * sizeof(uint64_t));
    grams = PyMem_Malloc((longest ? longest : 1) * sizeof(uint64_t));
    sig = PyMem_Malloc((size_t)k * sizeof(uint64_t));
    if (cps == NULL || grams == NULL || sig == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *is_solid = (const unsigned char *)solid.buf;
    const uint64_t *salts = (const uint64_t *)salt.buf;
    uint64_t *o = (uint64_t *)out.buf;
    uint64_t h0 = splitmix(seed + ODD), k64 = (uint64_t)k;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nd; i++) {
        Py_ssize_t len = views[i].len, m = 0;
        read_codepoints(&views[i], cps);
        for (Py_ssize_t p = 0; p < len; p++) /* whitespace removed */
            if (is_solid[cps[p]]) cps[m++] = cps[p];
        Py_ssize_t ng = m - n + 1;
        if (ng <= 0) continue;
        has[i] = 1;
        for (Py_ssize_t p = 0; p < ng; p++) { /* hash_columns: three code points of 21 bits a step */
            uint64_t h = h0;
            for (int g = 0; g < n; g += 3) {
                uint64_t packed = cps[p + g];
                for (int c = g + 1; c < g + 3 && c < n; c++) packed = (packed << 21) | cps[p + c];
                h = splitmix(packed + h);
            }
            grams[p] = h;
        }
        /* Rounds r < k two at a time (one 64-bit hash, one round per half), stopping once every
         * bin holds a value: later rounds only bring larger values, so the sketch is that of all
         * rounds (as in numpy, which stops at other points). */
        for (int b = 0; b < k; b++) sig[b] = EMPTY;
        Py_ssize_t filled = 0;
        for (int r = 0; r < k && filled < k; r += 2) {
            uint64_t s = salts[r / 2];
            int second = r + 1 < k;
            for (Py_ssize_t p = 0; p < ng; p++) {
                uint64_t x = r ? splitmix(grams[p] ^ s) : grams[p];
                place(sig, x >> 32, k64, (uint64_t)r, &filled);
                if (second) place(sig, x & MASK32, k64, (uint64_t)r + 1, &filled);
            }
        }
        for (int j = 0; j < k && filled < k; j++) { /* round k + j: every n-gram to bin j */
            if (sig[j] != EMPTY) continue;
            uint64_t best = EMPTY, hi = (uint64_t)(k + j) << 32;
            for (Py_ssize_t p = 0; p < ng; p++) {
                uint64_t v = (splitmix(grams[p] ^ salts[k + j]) & MASK32) | hi;
                if (v < best) best = v;
            }
            sig[j] = best;
        }
        for (int b = 0; b < bands; b++) { /* band_keys */
            uint64_t h = splitmix((uint64_t)b + ODD);
            for (int j = 0; j < rows; j++) h = splitmix(h * ODD + sig[b * rows + j]);
            o[i * bands + b] = h;
        }
    }
    Py_END_ALLOW_THREADS

    result = PyList_New(nd);
    if (result == NULL) goto done;
    for (Py_ssize_t i = 0; i < nd; i++) {
        PyObject *v = has[i] ? Py_True : Py_False;
        Py_INCREF(v);
        PyList_SET_ITEM(result, i, v);
    }

done:
    PyMem_Free(views);
    PyMem_Free(has);
    PyMem_Free(cps);
    PyMem_Free(grams);
    PyMem_Free(sig);
    Py_XDECREF(seq);
    PyBuffer_Release(&solid);
    PyBuffer_Release(&salt);
    PyBuffer_Release(&out);
    return result;
}

/* ---- Language and quality counts (the twin of hegui.datascan.signals.analyse_batch's numpy part) ---- */

enum { SIG_S0, SIG_S1, SIG_SYMBOLS, SIG_DIGITS, SIG_NONSPACE, SIG_SCRIPT0, SIG_NLINES = SIG_SCRIPT0 + 6, SIG_LINE_CHARS,
       SIG_MAYBE_DUP, SIG_REP_COVERED, SIG_REP_LEN, SIG_COLUMNS };
#define LUT_SYM 1
#define LUT_DIGIT 2
#define LUT_SPACE 4
#define LUT_BREAK 64

/* A hash of a run of code points, for finding candidates only: every use compares the code points
 * (or leaves the comparison to Python) when two hashes are equal. */
static inline uint64_t hash_span(const uint64_t *cps, Py_ssize_t len) {
    uint64_t h = (uint64_t)len;
    for (Py_ssize_t j = 0; j < len; j++) h = (h + cps[j]) * ODD;
    return splitmix(h);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Characters of s (length len) covered by an n-gram at a multiple of n/2 equal to an earlier one:
 * `signals._repeated_ngram_ratio`'s numerator, exactly (equal hashes are compared code point by
 * code point). ``table`` has ``tsize`` (a power of two, > 2x the grams) slots of gram index + 1. */
static Py_ssize_t repeated_cover(const uint64_t *s, Py_ssize_t len, int n, unsigned char *covered, uint64_t *hashes,
                                 Py_ssize_t *table, Py_ssize_t tsize) {
    int step = n / 2;
    Py_ssize_t m = (len - n) / step + 1, count = 0;
    memset(covered, 0, (size_t)len);
    memset(table, 0, (size_t)tsize * sizeof(Py_ssize_t));
    for (Py_ssize_t g = 0; g < m; g++) {
        const uint64_t *gram = s + g * step;
        uint64_t h = hash_span(gram, n);
        hashes[g] = h;
        Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)(tsize - 1));
        int seen = 0;
        while (table[slot]) {
            Py_ssize_t other = table[slot] - 1;
            if (hashes[other] == h && memcmp(s + other * step, gram, (size_t)n * sizeof(uint64_t)) == 0) {
                seen = 1;
                break;
            }
            slot = (slot + 1) & (tsize - 1);
        }
        if (seen) {
            memset(covered + g * step, 1, (size_t)n);
        } else {
            table[slot] = g + 1;
        }
    }
    for (Py_ssize_t j = 0; j < len; j++) count += covered[j];
    return count;
}

PyDoc_STRVAR(text_signals_doc,
"text_signals(texts, lut, sample, n, cap, out)\n\n"
"Per text, the counts `signals.analyse_batch` turns into language and quality signals, one row\n"
"of ``out`` (a writable int64 buffer of len(texts) * 16) each: where text.strip() starts and\n"
"ends, symbol, digit and non-space counts, the six script counts over the first ``sample``\n"
"characters, the number and total length of the non-empty stripped lines of splitlines(),\n"
"whether two of those lines may be equal (1: compare them), and the characters of the stripped\n"
"text's first ``cap`` covered by a repeated ``n``-gram, with that length. ``lut`` is the\n"
"combined code-point table (0x110000 bytes: break bit 64, script << 3, symbol 1, digit 2,\n"
"space 4).");

static PyObject *text_signals(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts_obj;
    Py_buffer lut, out;
    Py_ssize_t sample, cap;
    int n;
    if (!PyArg_ParseTuple(args, "Oy*ninw*", &texts_obj, &lut, &sample, &n, &cap, &out)) return NULL;
    PyObject *seq = NULL, *result = NULL;
    text_view *views = NULL;
    uint64_t *cps = NULL, *hashes = NULL, *lines = NULL;
    unsigned char *covered = NULL;
    Py_ssize_t *table = NULL;

    if (n < 2 || sample < 0 || cap < 0) {
        PyErr_SetString(PyExc_ValueError, "text_signals: n must be >= 2, sample and cap >= 0");
        goto done;
    }
    if (lut.len != 0x110000) {
        PyErr_SetString(PyExc_ValueError, "text_signals: lut must have 0x110000 bytes");
        goto done;
    }
    Py_ssize_t nd, longest;
    seq = open_texts(texts_obj, "text_signals", &nd, &views, &longest);
    if (seq == NULL) goto done;
    if (out.len != nd * SIG_COLUMNS * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "text_signals: out must hold len(texts) * 16 int64");
        goto done;
    }
    Py_ssize_t span = longest < cap ? longest : cap, tsize = 16;
    while (tsize < 2 * (span / (n / 2) + 1)) tsize <<= 1;
    cps = PyMem_Malloc((longest ? longest : 1) * sizeof(uint64_t));
    lines = PyMem_Malloc((longest ? longest : 1) * sizeof(uint64_t));
    hashes = PyMem_Malloc((span / (n / 2) + 1) * sizeof(uint64_t));
    covered = PyMem_Malloc(span ? span : 1);
    table = PyMem_Malloc((size_t)tsize * sizeof(Py_ssize_t));
    if (cps == NULL || lines == NULL || hashes == NULL || covered == NULL || table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *cls = (const unsigned char *)lut.buf;
    int64_t *o = (int64_t *)out.buf;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nd; i++) {
        Py_ssize_t len = views[i].len;
        int64_t *row = o + i * SIG_COLUMNS;
        memset(row, 0, SIG_COLUMNS * sizeof(int64_t));
        read_codepoints(&views[i], cps);
        Py_ssize_t first = -1, last = -1, nlines = 0, line_chars = 0, line_start = -1;
        int after_break = 0;
        for (Py_ssize_t p = 0; p < len; p++) {
            unsigned c = cls[cps[p]];
            row[SIG_NONSPACE] += !(c & LUT_SPACE);
            row[SIG_SYMBOLS] += c & LUT_SYM;
            row[SIG_DIGITS] += (c & LUT_DIGIT) >> 1;
            if (p < sample && ((c >> 3) & 7) < 6) row[SIG_SCRIPT0 + ((c >> 3) & 7)]++;
            if (c & LUT_SPACE) {
                if (c & LUT_BREAK) after_break = 1;
                continue;
            }
            /* A stripped line of splitlines() runs from the first non-space character after a
             * break (or of the text) to the last non-space one before the next such start. */
            if (line_start < 0 || after_break) {
                if (line_start >= 0) {
                    lines[nlines++] = hash_span(cps + line_start, last - line_start + 1);
                    line_chars += last - line_start + 1;
                }
                line_start = p;
                after_break = 0;
            }
            if (first < 0) first = p;
            last = p;
        }
        if (line_start >= 0) {
            lines[nlines++] = hash_span(cps + line_start, last - line_start + 1);
            line_chars += last - line_start + 1;
        }
        row[SIG_S0] = first < 0 ? 0 : first;
        row[SIG_S1] = first < 0 ? 0 : last + 1;
        row[SIG_NLINES] = nlines;
        row[SIG_LINE_CHARS] = line_chars;
        if (nlines > 1) { /* equal lines have equal hashes: a repeated hash sends the text to the exact check */
            qsort(lines, (size_t)nlines, sizeof(uint64_t), cmp_u64);
            for (Py_ssize_t j = 1; j < nlines; j++)
                if (lines[j] == lines[j - 1]) row[SIG_MAYBE_DUP] = 1;
        }
        if (first >= 0) {
            Py_ssize_t slen = last + 1 - first < cap ? last + 1 - first : cap;
            row[SIG_REP_LEN] = slen;
            if (slen >= 2 * n) row[SIG_REP_COVERED] = repeated_cover(cps + first, slen, n, covered, hashes, table, tsize);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);

done:
    PyMem_Free(views);
    PyMem_Free(cps);
    PyMem_Free(lines);
    PyMem_Free(hashes);
    PyMem_Free(covered);
    PyMem_Free(table);
    Py_XDECREF(seq);
    PyBuffer_Release(&lut);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"ngram_logits", ngram_logits, METH_VARARGS, ngram_logits_doc},
    {"minhash_bands", minhash_bands, METH_VARARGS, minhash_bands_doc},
    {"text_signals", text_signals, METH_VARARGS, text_signals_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hegui._native", "Compiled twins of hegui's hottest numpy loops.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
