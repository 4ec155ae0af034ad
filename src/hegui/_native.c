/* hegui._native: compiled inner loops, each the exact twin of a numpy reference in the package.
 *
 * Why C: the risk classifier's featurisation (hash every character 1..3-gram, drop duplicates,
 * gather and sum weight rows) was a third of a corpus shard's CPU time after every numpy trick
 * (see BENCHMARKS.md). Here one pass per text does it with no temporaries. The module is
 * optional: when it did not build, `hegui.detect.classifier.model` runs its numpy path, which
 * gives the same bits (tests compare the two on random and edge-case text).
 *
 * Bit-identity with numpy: the hash is the same uint64 arithmetic (wrapping), the row scale is
 * float32(1 / sqrt(count)) computed in double, each weight is multiplied by it in float32, and the
 * products are summed in float32 over the buckets in ascending order as `np.add.reduceat` sums a
 * segment (its first row, plus numpy's pairwise sum of the others); the bias is added last. The
 * build must not fuse a * b + c into one multiply-add (setup.py passes -ffp-contract=off).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

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
        res[h] = ((acc[0][h] + acc[1][h]) + (acc[2][h] + acc[3][h])) + ((acc[4][h] + acc[5][h]) + (acc[6][h] + acc[7][h]));
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

PyDoc_STRVAR(ngram_logits_doc,
"ngram_logits(texts, rows, heads, n_min, n_max, bits, out)\n\n"
"Add each text's hashed character n-gram score to its row of ``out``.\n\n"
"texts: a sequence of str. rows: a C-contiguous float32 buffer of 2**bits rows of at least\n"
"``heads`` floats (the padded weight matrix). out: a writable C-contiguous float32 buffer of\n"
"len(texts) * heads floats, holding the bias on entry and bias + sum on return.\n"
"Returns the number of unique features of each text as a list of ints.");

static PyObject *ngram_logits(PyObject *self, PyObject *args) {
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
    seq = PySequence_Fast(texts_obj, "ngram_logits: texts must be a sequence of str");
    if (seq == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
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
    views = PyMem_Calloc(n ? n : 1, sizeof(text_view));
    nfeat = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    if (views == NULL || nfeat == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t longest = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(t)) {
            PyErr_Format(PyExc_TypeError, "ngram_logits: texts[%zd] is %.100s, not str", i, Py_TYPE(t)->tp_name);
            goto done;
        }
        if (PyUnicode_READY(t) < 0) goto done;
        views[i].kind = PyUnicode_KIND(t);
        views[i].data = PyUnicode_DATA(t);
        views[i].len = PyUnicode_GET_LENGTH(t);
        if (views[i].len > longest) longest = views[i].len;
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

    /* The seq holds a reference to every text, and str is immutable: safe without the GIL. */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = views[i].len;
        const void *data = views[i].data;
        switch (views[i].kind) { /* code points, whatever the str's storage width */
        case PyUnicode_1BYTE_KIND:
            for (Py_ssize_t p = 0; p < len; p++) cps[p] = ((const Py_UCS1 *)data)[p];
            break;
        case PyUnicode_2BYTE_KIND:
            for (Py_ssize_t p = 0; p < len; p++) cps[p] = ((const Py_UCS2 *)data)[p];
            break;
        default:
            for (Py_ssize_t p = 0; p < len; p++) cps[p] = ((const Py_UCS4 *)data)[p];
        }
        Py_ssize_t m = 0; /* unique buckets of this text, in keys[0..m) */
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
        Py_ssize_t k = 0; /* the set bits in ascending order, clearing them for the next text */
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

static PyMethodDef methods[] = {
    {"ngram_logits", ngram_logits, METH_VARARGS, ngram_logits_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hegui._native", "Compiled twins of hegui's hottest numpy loops.", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
