/*
 * imtfusion._bamwalk: the per-record loops of imtfusion.scan and imtfusion.evidence, compiled.
 *
 * scan.py finds the records of a decompressed stretch of a BAM file and reads their
 * fixed fields and CIGAR summaries into numpy arrays; evidence.py then sorts them
 * (counts, depth, and the few records worth a closer look) with these loops. This is
 * the one fast path beside the definition of what a record means: the record-by-record
 * code on pysam objects in evidence.py (about ten microseconds a record; one pass here
 * costs a few nanoseconds), which the tests hold this module to. The module is
 * optional: when it is not built (no C compiler at install time), or on a big-endian
 * machine, pysam reads the records and the results are the same.
 *
 * No function allocates: the caller passes numpy arrays (as writable buffers) that are
 * large enough (checked), and every length read from the data is checked against it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BAMWALK_BIG_ENDIAN 1
#endif

#define FIXED_BYTES 36 /* block_size plus the 32 bytes of fixed fields */

/* status codes returned to scan.py, which turns them into ScanError messages */
enum { WALK_OK = 0, WALK_SHORT_RECORD = 1, WALK_FIELDS_OVERFLOW = 2 };

static inline uint32_t u32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline int32_t i32_at(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t u16_at(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* ref-consuming operations (M D N = X) and their bit mask by code */
static const unsigned REF_CONSUMING = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 7) | (1u << 8);

static int get_buffers(Py_buffer *views, int n, PyObject **objs, const int *writable)
{
    for (int i = 0; i < n; i++) {
        int flags = writable[i] ? (PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) : PyBUF_C_CONTIGUOUS;
        if (PyObject_GetBuffer(objs[i], &views[i], flags) < 0) {
            for (int j = 0; j < i; j++) PyBuffer_Release(&views[j]);
            return -1;
        }
    }
    return 0;
}

static void release_buffers(Py_buffer *views, int n)
{
    for (int i = 0; i < n; i++) PyBuffer_Release(&views[i]);
}

/* The buffers of a call whose ``n`` positional arguments are all arrays. */
static int buffer_args(const char *name, PyObject *args, Py_buffer *views, int n, const int *writable)
{
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != n) {
        PyErr_Format(PyExc_TypeError, "%s takes %d arrays", name, n);
        return -1;
    }
    PyObject *objs[8];
    for (int i = 0; i < n && i < 8; i++) objs[i] = PyTuple_GET_ITEM(args, i);
    return get_buffers(views, n, objs, writable);
}

/*
 * walk(data, tid, end, offsets, rows, keys) -> (count, rest, ended, status)
 *
 * Follows the chain of records from the start of ``data``: each record's 4-byte size
 * gives the next one. For each complete record of contig ``tid`` starting before
 * ``end`` it stores the record's offset in ``offsets`` (int64), its first 36 bytes
 * in ``rows`` (36 bytes an item) and the key of its read name in ``keys`` (uint64: the
 * name's last 8 bytes as a little-endian word, the bytes before a shorter name zero,
 * XOR the 8 bytes before them (as far as the name reaches) times KEY_MIX2, XOR its
 * length times KEY_MIX: umi-tools names end in the UMI, which the copies of a molecule
 * share and other molecules repeat; scan.name_key computes the same). It stops at a record
 * cut by the end of ``data`` (``rest`` is where that record starts, ``ended`` is 0), at
 * a complete record of another contig or starting at or after ``end`` (the file is
 * sorted: the region is over, ``ended`` is 1, ``rest`` is that record's offset), or at a
 * record whose fields do not fit in it (``status`` non-zero: the stream is damaged).
 * ``offsets`` and ``keys`` must hold len(data) // 36 + 1 items and ``rows`` as many
 * 36-byte items.
 */
#define KEY_MIX 0x9E3779B97F4A7C15ULL
#define KEY_MIX2 0xC2B2AE3D27D4EB4FULL

static PyObject *walk(PyObject *self, PyObject *args)
{
    PyObject *objs[4];
    int tid;
    long long end;
    if (!PyArg_ParseTuple(args, "OiLOOO", &objs[0], &tid, &end, &objs[1], &objs[2], &objs[3])) return NULL;
    Py_buffer views[4];
    const int writable[4] = {0, 1, 1, 1};
    if (get_buffers(views, 4, objs, writable) < 0) return NULL;
    const uint8_t *data = (const uint8_t *)views[0].buf;
    Py_ssize_t n = views[0].len;
    int64_t *offsets = (int64_t *)views[1].buf;
    uint8_t *rows = (uint8_t *)views[2].buf;
    uint64_t *keys = (uint64_t *)views[3].buf;
    Py_ssize_t capacity = n / FIXED_BYTES + 1;
    if (views[1].len < capacity * (Py_ssize_t)sizeof(int64_t) || views[2].len < capacity * FIXED_BYTES
        || views[3].len < capacity * (Py_ssize_t)sizeof(uint64_t)) {
        release_buffers(views, 4);
        PyErr_SetString(PyExc_ValueError, "walk: output arrays too small for the data");
        return NULL;
    }
    Py_ssize_t p = 0, count = 0;
    int ended = 0, status = WALK_OK;
    Py_BEGIN_ALLOW_THREADS
    while (p + 4 <= n) {
        uint32_t size = u32_at(data + p);
        if ((Py_ssize_t)size > n - p - 4) break; /* cut by the end of the data */
        if (size < FIXED_BYTES - 4) { status = WALK_SHORT_RECORD; break; }
        const uint8_t *r = data + p;
        int32_t rec_tid = i32_at(r + 4), pos = i32_at(r + 8);
        if (rec_tid != tid || (long long)pos >= end) { ended = 1; break; }
        int64_t l_qname = r[12], n_cigar = u16_at(r + 16), l_seq = i32_at(r + 20);
        if (l_qname == 0 || l_seq < 0
            || 32 + l_qname + 4 * n_cigar + (l_seq + 1) / 2 + l_seq > (int64_t)size) {
            status = WALK_FIELDS_OVERFLOW;
            break;
        }
        offsets[count] = p;
        memcpy(rows + count * FIXED_BYTES, r, FIXED_BYTES);
        uint64_t word = 0;
        int64_t name_length = l_qname - 1, take = name_length < 8 ? name_length : 8;
        memcpy((uint8_t *)&word + (8 - take), r + FIXED_BYTES + name_length - take, (size_t)take);
        uint64_t before = 0;
        int64_t rest = name_length - take, take2 = rest < 8 ? rest : 8;
        memcpy((uint8_t *)&before + (8 - take2), r + FIXED_BYTES + rest - take2, (size_t)take2);
        keys[count] = word ^ (before * KEY_MIX2) ^ ((uint64_t)name_length * KEY_MIX);
        count++;
        p += 4 + (Py_ssize_t)size;
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, 4);
    return Py_BuildValue("nnii", count, p, ended, status);
}

/*
 * The summary of one record's CIGAR (``n_cigar`` operations at ``ops``, the record at
 * ``pos`` with ``flag``): one past its last reference base (pos + 1 when unmapped or
 * without a CIGAR) into ``*end``, and its row of five (first op code, length, last op code,
 * length, mask of the codes) into ``row``. cigar_columns and cigar_summary share it.
 */
static void summarize_cigar(const uint8_t *ops, int64_t n_cigar, int64_t pos, uint16_t flag, int64_t *end,
                            int64_t *row)
{
    int64_t ref = pos, mask = 0;
    for (int64_t j = 0; j < n_cigar; j++) {
        uint32_t raw = u32_at(ops + 4 * j);
        unsigned op = raw & 0xF;
        mask |= (int64_t)1 << op;
        if ((REF_CONSUMING >> op) & 1u) ref += raw >> 4;
    }
    *end = ((flag & 0x4) == 0 && n_cigar > 0 && ref > pos) ? ref : pos + 1;
    if (n_cigar > 0) {
        uint32_t first = u32_at(ops), last = u32_at(ops + 4 * (n_cigar - 1));
        row[0] = first & 0xF; row[1] = first >> 4; row[2] = last & 0xF; row[3] = last >> 4;
    } else {
        row[0] = -1; row[1] = 0; row[2] = -1; row[3] = 0;
    }
    row[4] = mask;
}

/*
 * cigar_columns(data, offsets, record, code, length, ref_start, end, summary) -> None
 *
 * For the records at ``offsets`` (int64; as given by walk, so their fields fit), writes
 * every CIGAR operation in record order: the index of its record, its code and length,
 * and the reference position where it starts (int64 arrays of the total number of
 * operations); and per record ``end``, one past its last reference base (pos + 1 when
 * unmapped, without a CIGAR or without reference-consuming operations), and a row of
 * ``summary`` (int64, 5 columns): code and length of the first operation, code and
 * length of the last (-1 and 0 without a CIGAR), and a bit mask of the codes present.
 */
static PyObject *cigar_columns(PyObject *self, PyObject *args)
{
    Py_buffer views[8];
    const int writable[8] = {0, 0, 1, 1, 1, 1, 1, 1};
    if (buffer_args("cigar_columns", args, views, 8, writable) < 0) return NULL;
    const uint8_t *data = (const uint8_t *)views[0].buf;
    Py_ssize_t n = views[0].len;
    const int64_t *offsets = (const int64_t *)views[1].buf;
    Py_ssize_t m = views[1].len / (Py_ssize_t)sizeof(int64_t);
    int64_t *record = (int64_t *)views[2].buf, *code = (int64_t *)views[3].buf;
    int64_t *length = (int64_t *)views[4].buf, *ref_start = (int64_t *)views[5].buf;
    int64_t *end = (int64_t *)views[6].buf;
    int64_t *summary = (int64_t *)views[7].buf;
    Py_ssize_t capacity = views[2].len / (Py_ssize_t)sizeof(int64_t);
    if (views[3].len / 8 < capacity) capacity = views[3].len / 8;
    if (views[4].len / 8 < capacity) capacity = views[4].len / 8;
    if (views[5].len / 8 < capacity) capacity = views[5].len / 8;
    if (views[6].len / 8 < m || views[7].len / 8 < 5 * m) {
        release_buffers(views, 8);
        PyErr_SetString(PyExc_ValueError, "cigar_columns: end or summary array shorter than the records");
        return NULL;
    }
    const char *error = NULL;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < m && !error; i++) {
        int64_t o = offsets[i];
        if (o < 0 || o + FIXED_BYTES > n) { error = "cigar_columns: a record offset outside the data"; break; }
        const uint8_t *r = data + o;
        int64_t pos = i32_at(r + 8), l_qname = r[12], n_cigar = u16_at(r + 16);
        uint16_t flag = u16_at(r + 18);
        if (o + FIXED_BYTES + l_qname + 4 * n_cigar > n) { error = "cigar_columns: a CIGAR beyond the data"; break; }
        if (k + n_cigar > capacity) { error = "cigar_columns: operation arrays too small"; break; }
        const uint8_t *ops = r + FIXED_BYTES + l_qname;
        int64_t ref = pos;
        for (int64_t j = 0; j < n_cigar; j++, k++) {
            uint32_t raw = u32_at(ops + 4 * j);
            unsigned op = raw & 0xF;
            int64_t len = raw >> 4;
            record[k] = i;
            code[k] = op;
            length[k] = len;
            ref_start[k] = ref;
            if ((REF_CONSUMING >> op) & 1u) ref += len;
        }
        summarize_cigar(ops, n_cigar, pos, flag, end + i, summary + 5 * i);
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, 8);
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * cigar_summary(data, offsets, end, summary) -> None
 *
 * cigar_columns without the operation columns: per record at ``offsets`` only ``end``
 * and the row of ``summary`` (the same values). The columns of a batch are written only
 * when asked for (scan.RecordBatch); the classification and the depth read the CIGARs
 * from ``data``.
 */
static PyObject *cigar_summary(PyObject *self, PyObject *args)
{
    Py_buffer views[4];
    const int writable[4] = {0, 0, 1, 1};
    if (buffer_args("cigar_summary", args, views, 4, writable) < 0) return NULL;
    const uint8_t *data = (const uint8_t *)views[0].buf;
    Py_ssize_t n = views[0].len;
    const int64_t *offsets = (const int64_t *)views[1].buf;
    Py_ssize_t m = views[1].len / (Py_ssize_t)sizeof(int64_t);
    int64_t *end = (int64_t *)views[2].buf, *summary = (int64_t *)views[3].buf;
    if (views[2].len / 8 < m || views[3].len / 8 < 5 * m) {
        release_buffers(views, 4);
        PyErr_SetString(PyExc_ValueError, "cigar_summary: end or summary array shorter than the records");
        return NULL;
    }
    const char *error = NULL;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t o = offsets[i];
        if (o < 0 || o + FIXED_BYTES > n) { error = "cigar_summary: a record offset outside the data"; break; }
        const uint8_t *r = data + o;
        int64_t pos = i32_at(r + 8), l_qname = r[12], n_cigar = u16_at(r + 16);
        uint16_t flag = u16_at(r + 18);
        if (o + FIXED_BYTES + l_qname + 4 * n_cigar > n) { error = "cigar_summary: a CIGAR beyond the data"; break; }
        summarize_cigar(r + FIXED_BYTES + l_qname, n_cigar, pos, flag, end + i, summary + 5 * i);
    }
    Py_END_ALLOW_THREADS
    release_buffers(views, 4);
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * record_depth(data, offsets, selected, diff, start, end, exon_starts, exon_ends) -> count
 *
 * gene_depth reading each selected record's CIGAR from ``data`` (records at ``offsets``,
 * as given by walk) instead of from the operation columns: the same blocks, the same
 * depth and the same count.
 */
static PyObject *record_depth(PyObject *self, PyObject *args)
{
    PyObject *objs[6];
    long long start, end;
    if (!PyArg_ParseTuple(args, "OOOOLLOO", &objs[0], &objs[1], &objs[2], &objs[3], &start, &end, &objs[4],
                          &objs[5]))
        return NULL;
    Py_buffer views[6];
    const int writable[6] = {0, 0, 0, 1, 0, 0};
    if (get_buffers(views, 6, objs, writable) < 0) return NULL;
    const uint8_t *data = views[0].buf;
    Py_ssize_t n = views[0].len;
    const int64_t *offsets = views[1].buf;
    const uint8_t *selected = views[2].buf;
    int64_t *diff = views[3].buf;
    const int64_t *exon_starts = views[4].buf, *exon_ends = views[5].buf;
    Py_ssize_t m = views[1].len / 8, n_exons = views[4].len / 8, count = 0;
    const char *error = NULL;
    if (views[2].len < m || end < start || views[3].len / 8 < (Py_ssize_t)(end - start) + 1
        || views[5].len / 8 != n_exons)
        error = "record_depth: arrays of different lengths, or a depth array that does not cover the gene";
    if (!error) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            if (!selected[i]) continue;
            int64_t o = offsets[i];
            if (o < 0 || o + FIXED_BYTES > n) { error = "record_depth: a record offset outside the data"; break; }
            const uint8_t *r = data + o;
            int64_t ref = i32_at(r + 8), l_qname = r[12], n_cigar = u16_at(r + 16);
            if (o + FIXED_BYTES + l_qname + 4 * n_cigar > n) { error = "record_depth: a CIGAR beyond the data"; break; }
            const uint8_t *ops = r + FIXED_BYTES + l_qname;
            int in_exon = 0;
            for (int64_t j = 0; j < n_cigar; j++) {
                uint32_t raw = u32_at(ops + 4 * j);
                unsigned op = raw & 0xF;
                int64_t len = raw >> 4;
                if (op == 0 || op == 7 || op == 8) {
                    int64_t b_start = ref, b_end = ref + len;
                    int64_t lo = b_start > start ? b_start : start, hi = b_end < end ? b_end : end;
                    if (hi > lo) {
                        diff[lo - start] += 1;
                        diff[hi - start] -= 1;
                    }
                    if (!in_exon) {
                        Py_ssize_t a = 0, b = n_exons; /* the first exon ending after b_start */
                        while (a < b) {
                            Py_ssize_t mid = (a + b) / 2;
                            if (exon_ends[mid] <= b_start) a = mid + 1; else b = mid;
                        }
                        in_exon = a < n_exons && exon_starts[a] < b_end;
                    }
                }
                if ((REF_CONSUMING >> op) & 1u) ref += len;
            }
            count += in_exon;
        }
        Py_END_ALLOW_THREADS
    }
    release_buffers(views, 6);
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

/*
 * aligned_blocks(op_record, op_code, op_length, op_ref_start, selected, out_record, out_start, out_end) -> count
 *
 * The aligned blocks (M, = and X operations) of the records whose ``selected`` byte is
 * non-zero, in operation order: their record index, reference start and end (int64
 * arrays, at least as long as the operations).
 */
static PyObject *aligned_blocks(PyObject *self, PyObject *args)
{
    Py_buffer views[8];
    const int writable[8] = {0, 0, 0, 0, 0, 1, 1, 1};
    if (buffer_args("aligned_blocks", args, views, 8, writable) < 0) return NULL;
    const int64_t *record = views[0].buf, *code = views[1].buf, *length = views[2].buf, *ref_start = views[3].buf;
    const uint8_t *selected = views[4].buf;
    int64_t *out_record = views[5].buf, *out_start = views[6].buf, *out_end = views[7].buf;
    Py_ssize_t n = views[0].len / 8, m = views[4].len, count = 0;
    int bad = views[1].len / 8 < n || views[2].len / 8 < n || views[3].len / 8 < n
              || views[5].len / 8 < n || views[6].len / 8 < n || views[7].len / 8 < n;
    if (!bad) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < n; k++) {
            int64_t i = record[k], op = code[k];
            if (i < 0 || i >= m) { bad = 1; break; }
            if (!selected[i] || !(op == 0 || op == 7 || op == 8)) continue;
            out_record[count] = i;
            out_start[count] = ref_start[k];
            out_end[count] = ref_start[k] + length[k];
            count++;
        }
        Py_END_ALLOW_THREADS
    }
    release_buffers(views, 8);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "aligned_blocks: arrays of different lengths or a record out of range");
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

/*
 * pile_up(diff, start, end, b_start, b_end) -> None
 *
 * Adds the blocks ``[b_start, b_end)`` (int64), clipped to ``[start, end)``, to the depth
 * difference array ``diff`` (int64, end - start + 1 items): +1 where a block starts and
 * -1 where it ends.
 */
static PyObject *pile_up(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    long long start, end;
    if (!PyArg_ParseTuple(args, "OLLOO", &objs[0], &start, &end, &objs[1], &objs[2])) return NULL;
    Py_buffer views[3];
    const int writable[3] = {1, 0, 0};
    if (get_buffers(views, 3, objs, writable) < 0) return NULL;
    int64_t *diff = views[0].buf;
    const int64_t *b_start = views[1].buf, *b_end = views[2].buf;
    Py_ssize_t n = views[1].len / 8;
    int bad = views[2].len / 8 != n || end < start || views[0].len / 8 < (Py_ssize_t)(end - start) + 1;
    if (!bad) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < n; k++) {
            int64_t lo = b_start[k] > start ? b_start[k] : start;
            int64_t hi = b_end[k] < end ? b_end[k] : end;
            if (hi > lo) {
                diff[lo - start] += 1;
                diff[hi - start] -= 1;
            }
        }
        Py_END_ALLOW_THREADS
    }
    release_buffers(views, 3);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "pile_up: the depth array does not cover the region, or block arrays differ");
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * gene_depth(op_record, op_code, op_length, op_ref_start, selected, diff, start, end, exon_starts, exon_ends)
 *     -> count
 *
 * For the records whose ``selected`` byte is non-zero: adds their aligned blocks (M, =
 * and X operations), clipped to ``[start, end)``, to the depth difference array ``diff``
 * (int64, end - start + 1 items; see pile_up), and counts the records with a block that
 * overlaps an exon. ``exon_starts`` and ``exon_ends`` (int64) are sorted, disjoint
 * exons: a block [s, e) overlaps the first exon ending after s if that exon starts
 * before e. The operation arrays are cigar_columns' (in record order).
 */
static PyObject *gene_depth(PyObject *self, PyObject *args)
{
    PyObject *objs[8];
    long long start, end;
    if (!PyArg_ParseTuple(args, "OOOOOOLLOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5], &start,
                          &end, &objs[6], &objs[7]))
        return NULL;
    Py_buffer views[8];
    const int writable[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    if (get_buffers(views, 8, objs, writable) < 0) return NULL;
    const int64_t *record = views[0].buf, *code = views[1].buf, *length = views[2].buf, *ref_start = views[3].buf;
    const uint8_t *selected = views[4].buf;
    int64_t *diff = views[5].buf;
    const int64_t *exon_starts = views[6].buf, *exon_ends = views[7].buf;
    Py_ssize_t n = views[0].len / 8, m = views[4].len, n_exons = views[6].len / 8, count = 0;
    int bad = views[1].len / 8 < n || views[2].len / 8 < n || views[3].len / 8 < n || end < start
              || views[5].len / 8 < (Py_ssize_t)(end - start) + 1 || views[7].len / 8 != n_exons;
    if (!bad) {
        Py_BEGIN_ALLOW_THREADS
        int64_t current = -1;
        int in_exon = 0;
        for (Py_ssize_t k = 0; k < n; k++) {
            int64_t i = record[k], op = code[k];
            if (i < 0 || i >= m) { bad = 1; break; }
            if (i != current) {
                count += in_exon;
                current = i;
                in_exon = 0;
            }
            if (!selected[i] || !(op == 0 || op == 7 || op == 8)) continue;
            int64_t b_start = ref_start[k], b_end = ref_start[k] + length[k];
            int64_t lo = b_start > start ? b_start : start, hi = b_end < end ? b_end : end;
            if (hi > lo) {
                diff[lo - start] += 1;
                diff[hi - start] -= 1;
            }
            if (!in_exon) {
                Py_ssize_t a = 0, b = n_exons; /* the first exon ending after b_start */
                while (a < b) {
                    Py_ssize_t mid = (a + b) / 2;
                    if (exon_ends[mid] <= b_start) a = mid + 1; else b = mid;
                }
                in_exon = a < n_exons && exon_starts[a] < b_end;
            }
        }
        count += in_exon;
        Py_END_ALLOW_THREADS
    }
    release_buffers(views, 8);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "gene_depth: arrays of different lengths, a record out of range, "
                                          "or a depth array that does not cover the gene");
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

/*
 * classify(data, offsets, ends, summary, settings, adapters, out, counts) -> None
 *
 * What imtfusion.evidence does with each record of a batch of a target locus, in one
 * pass (evidence._LocusScan.add_read is the definition, on pysam objects; the tests
 * compare the two record by record). For the records at ``offsets`` (int64, as given by walk),
 * with ``ends`` and ``summary`` from cigar_summary (or cigar_columns), writes a byte per record to ``out``:
 *   bit 0  worth a closer look: a usable record that is spliced beyond the gene, has a
 *          soft clip long enough to match a partner (unless every such clip reads as an
 *          adapter, possibly after a base or two), is discordant from its mate, or has
 *          clipped ends and an SA tag (a superset: evidence.py confirms each); or an
 *          unmapped read placed at its mate;
 *   bit 1  a primary alignment overlapping the gene (its blocks go into the depth);
 * and adds to ``counts`` (int64, 5 items) the duplicates, secondary alignments, QC
 * failures, primary alignments and alignments below the mapping quality.
 * ``settings`` (int64): contig id, gene start, gene end, locus start, locus end, minimum
 * mapping quality, minimum clip match, tiny block (evidence.TINY_BLOCK), adapter shift
 * (evidence.ADAPTER_SHIFT).
 * ``adapters`` (uint8): adapter starts as 4-bit base codes (the BAM's), ADAPTER_WIDTH each.
 */
#define ADAPTER_WIDTH 12 /* bases of a clip compared with an adapter's start */
#define ADAPTER_MIN 8 /* a clip shorter than this is never called an adapter */

enum { MARK_CHOSEN = 1, MARK_IN_GENE = 2 };

/* Whether the soft clip of ``clip`` bases at the left end of the read (``left``) or at
 * its right end reads, outward from the alignment, as one of the adapters' starts after
 * at most ADAPTER_SHIFT bases, over min(clip - shift, ADAPTER_WIDTH) >= ADAPTER_MIN
 * bases (evidence.looks_like_adapter). */
static int adapter_clip(const uint8_t *seq, int64_t l_seq, int64_t clip, int left, const uint8_t *adapters,
                        Py_ssize_t n_adapters, int64_t max_shift)
{
    for (int64_t shift = 0; shift <= max_shift; shift++) {
        int64_t head = clip - shift < ADAPTER_WIDTH ? clip - shift : ADAPTER_WIDTH;
        if (head < ADAPTER_MIN) return 0;
        for (Py_ssize_t a = 0; a < n_adapters; a++) {
            const uint8_t *code = adapters + a * ADAPTER_WIDTH;
            int64_t j = 0;
            for (; j < head; j++) {
                int64_t q = left ? clip - 1 - shift - j : l_seq - clip + shift + j;
                if (q < 0 || q >= l_seq) break;
                uint8_t packed = seq[q >> 1];
                if (((q & 1) ? (packed & 0xF) : (packed >> 4)) != code[j]) break;
            }
            if (j == head) return 1;
        }
    }
    return 0;
}

/* The read bases an end ``block`` and the ``gap`` beside it add to that end's clip
 * (evidence.clip_geometry): an aligned block (M = X) of at most ``tiny`` bases before an
 * intron gap (N), or, when the end is soft-clipped (``clipped``), before a deletion (D)
 * or an insertion (I, whose bases count too); 0 otherwise. */
static int64_t tiny_block(uint32_t block, uint32_t gap, int64_t tiny, int clipped)
{
    unsigned op = block & 0xF, gap_op = gap & 0xF;
    int64_t length = block >> 4;
    if (!(op == 0 || op == 7 || op == 8) || length > tiny) return 0;
    if (gap_op == 3 || (clipped && gap_op == 2)) return length;
    if (clipped && gap_op == 1) return length + (int64_t)(gap >> 4);
    return 0;
}

static int has_sa_tag(const uint8_t *aux, const uint8_t *stop)
{
    for (const uint8_t *p = aux; p + 3 <= stop; p++)
        if (p[0] == 'S' && p[1] == 'A' && p[2] == 'Z') return 1;
    return 0;
}

static PyObject *classify(PyObject *self, PyObject *args)
{
    Py_buffer views[8];
    const int writable[8] = {0, 0, 0, 0, 0, 0, 1, 1};
    if (buffer_args("classify", args, views, 8, writable) < 0) return NULL;
    const uint8_t *data = views[0].buf;
    Py_ssize_t n = views[0].len;
    const int64_t *offsets = views[1].buf, *ends = views[2].buf, *summary = views[3].buf, *settings = views[4].buf;
    const uint8_t *adapters = views[5].buf;
    uint8_t *out = views[6].buf;
    int64_t *counts = views[7].buf;
    Py_ssize_t m = views[1].len / 8, n_adapters = views[5].len / ADAPTER_WIDTH;
    const char *error = NULL;
    if (views[2].len / 8 < m || views[3].len / 8 < 5 * m || views[4].len / 8 < 9 || views[6].len < m
        || views[7].len / 8 < 5)
        error = "classify: arrays shorter than the records, or settings or counts too short";
    if (!error) {
        const int64_t chrom = settings[0], gene_start = settings[1], gene_end = settings[2];
        const int64_t locus_start = settings[3], locus_end = settings[4], min_mapq = settings[5];
        const int64_t min_clip = settings[6], tiny = settings[7], max_shift = settings[8];
        int64_t duplicates = 0, secondary = 0, qc_fail = 0, reads = 0, low_mapq = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            int64_t o = offsets[i];
            if (o < 0 || o + FIXED_BYTES > n) { error = "classify: a record offset outside the data"; break; }
            const uint8_t *r = data + o;
            int64_t stop = o + 4 + (int64_t)u32_at(r);
            int64_t pos = i32_at(r + 8), l_qname = r[12], mapq = r[13], n_cigar = u16_at(r + 16);
            int64_t l_seq = i32_at(r + 20), next_tid = i32_at(r + 24), next_pos = i32_at(r + 28);
            unsigned flag = u16_at(r + 18);
            int64_t seq_at = o + FIXED_BYTES + l_qname + 4 * n_cigar;
            int64_t aux_at = seq_at + (l_seq + 1) / 2 + l_seq;
            if (stop > n || l_seq < 0 || aux_at > stop) { error = "classify: a record's fields beyond its length"; break; }
            uint8_t mark = 0;
            if (flag & (0x4 | 0x100 | 0x200 | 0x400)) {
                if (flag & 0x400) duplicates++;
                else if (flag & 0x100) secondary++;
                else if (flag & 0x200) qc_fail++;
                else if ((flag & 0x1) && !(flag & 0x8) && l_seq > 0) mark = MARK_CHOSEN; /* unmapped, at its mate */
                out[i] = mark;
                continue;
            }
            int64_t end = ends[i];
            int primary = !(flag & 0x800);
            if (primary) {
                reads++;
                if (pos < gene_end && end > gene_start) mark |= MARK_IN_GENE;
            }
            if (mapq < min_mapq) {
                low_mapq++;
                out[i] = mark;
                continue;
            }
            const int64_t *row = summary + 5 * i;
            int64_t first_code = row[0], first_length = row[1], last_code = row[2], last_length = row[3];
            int spliced = ((row[4] >> 3) & 1) && (pos < gene_start || end > gene_end);
            int64_t lead = first_code == 4 ? first_length : 0, trail = last_code == 4 ? last_length : 0;
            int64_t longest = lead > trail ? lead : trail;
            /* a tiny aligned block between an end's clip and an intron gap, deletion or
             * insertion counts into the clip (evidence.clip_geometry) */
            int64_t left_slack = 0, right_slack = 0;
            if (row[4] & ((1 << 1) | (1 << 2) | (1 << 3))) {
                const uint8_t *ops = data + o + FIXED_BYTES + l_qname;
                int64_t j = lead > 0 ? 1 : 0, k = n_cigar - 1 - (trail > 0 ? 1 : 0);
                if (j + 1 < n_cigar)
                    left_slack = tiny_block(u32_at(ops + 4 * j), u32_at(ops + 4 * (j + 1)), tiny, lead > 0);
                if (k >= 1)
                    right_slack = tiny_block(u32_at(ops + 4 * k), u32_at(ops + 4 * (k - 1)), tiny, trail > 0);
            }
            int clipped = longest > 0 && (lead + left_slack >= min_clip || trail + right_slack >= min_clip);
            int discordant = 0;
            if (primary && (flag & 0x1) && !(flag & 0x8)) {
                int reverse = (flag & 0x10) != 0, mate_reverse = (flag & 0x20) != 0;
                discordant = next_tid != chrom || next_pos < locus_start || next_pos >= locus_end
                             || reverse == mate_reverse || (reverse && next_pos > end) || (!reverse && next_pos < pos);
            }
            int candidate = spliced || clipped || discordant;
            if (candidate && !spliced && !discordant && min_clip > tiny) {
                /* clipped only: nothing to take when every long clip reads as an adapter */
                const uint8_t *seq = data + seq_at;
                int left_done = lead + left_slack < min_clip
                                || adapter_clip(seq, l_seq, lead, 1, adapters, n_adapters, max_shift);
                int right_done = trail + right_slack < min_clip
                                 || adapter_clip(seq, l_seq, trail, 0, adapters, n_adapters, max_shift);
                if (left_done && right_done) candidate = 0;
            }
            if (!candidate && (first_code == 4 || first_code == 5 || last_code == 4 || last_code == 5))
                candidate = has_sa_tag(data + aux_at, data + stop);
            if (candidate) mark |= MARK_CHOSEN;
            out[i] = mark;
        }
        Py_END_ALLOW_THREADS
        if (!error) {
            counts[0] += duplicates; counts[1] += secondary; counts[2] += qc_fail;
            counts[3] += reads; counts[4] += low_mapq;
        }
    }
    release_buffers(views, 8);
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * kmer_hits(seq, offset, k, keys, table, counts, places)
 *
 * Every ``k``-mer (k <= 32) of the genome bases ``seq`` (bytes; a letter other than
 * ACGT, either case, ends the K-mers across it) whose 2-bit code (first base most
 * significant, A C G T = 0 1 2 3: imtfusion.boundaries.encode) is one of the sorted
 * uint64 ``keys``: its count in ``counts`` (uint32, one a key, saturating) goes up, and
 * while the count is below ``cap`` = len(places) / len(keys) its position (``offset``
 * plus its start in ``seq``) is stored in ``places`` (int64, ``cap`` a key). ``table``
 * (uint8, 2**21 bytes: a bit a 24-bit hash, imtfusion.copies builds it) holds the keys'
 * hashes, so most K-mers cost one look-up; the others are searched in ``keys``.
 */
#define KMER_TABLE_BITS 24
static PyObject *kmer_hits(PyObject *self, PyObject *args)
{
    PyObject *objs[5];
    long long offset;
    int k;
    if (!PyArg_ParseTuple(args, "OLiOOOO", &objs[0], &offset, &k, &objs[1], &objs[2], &objs[3], &objs[4])) return NULL;
    Py_buffer views[5];
    const int writable[5] = {0, 0, 0, 1, 1};
    if (get_buffers(views, 5, objs, writable) < 0) return NULL;
    const uint8_t *seq = views[0].buf;
    const uint64_t *keys = views[1].buf;
    const uint8_t *table = views[2].buf;
    uint32_t *counts = views[3].buf;
    int64_t *places = views[4].buf;
    Py_ssize_t n = views[0].len, n_keys = views[1].len / 8;
    Py_ssize_t cap = n_keys ? views[4].len / 8 / n_keys : 0;
    int bad = k < 1 || k > 32 || views[2].len != ((Py_ssize_t)1 << (KMER_TABLE_BITS - 3)) || views[3].len / 4 < n_keys;
    if (!bad && n_keys) {
        Py_BEGIN_ALLOW_THREADS
        static const uint64_t MULT = 0x9E3779B97F4A7C15ull;
        uint8_t code[256];
        memset(code, 255, sizeof code);
        code['A'] = code['a'] = 0; code['C'] = code['c'] = 1; code['G'] = code['g'] = 2; code['T'] = code['t'] = 3;
        const uint64_t mask = k == 32 ? ~0ull : ((1ull << (2 * k)) - 1);
        uint64_t value = 0;
        int run = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            uint8_t c = code[seq[i]];
            if (c == 255) { run = 0; value = 0; continue; }
            value = ((value << 2) | c) & mask;
            if (++run < k) continue;
            uint64_t h = (value * MULT) >> (64 - KMER_TABLE_BITS);
            if (!(table[h >> 3] & (1u << (h & 7)))) continue;
            Py_ssize_t lo = 0, hi = n_keys;
            while (lo < hi) {
                Py_ssize_t mid = lo + (hi - lo) / 2;
                if (keys[mid] < value) lo = mid + 1; else hi = mid;
            }
            if (lo < n_keys && keys[lo] == value) {
                uint32_t seen = counts[lo];
                if (seen < cap) places[lo * cap + seen] = offset + i - k + 1;
                if (seen != UINT32_MAX) counts[lo] = seen + 1;
            }
        }
        Py_END_ALLOW_THREADS
    }
    release_buffers(views, 5);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "kmer_hits: bad K, table size or counts array");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS, "Follow the chain of BAM records of one contig region in decompressed data."},
    {"cigar_columns", cigar_columns, METH_VARARGS, "CIGAR operations of BAM records as columns."},
    {"cigar_summary", cigar_summary, METH_VARARGS, "Reference ends and CIGAR summaries of BAM records."},
    {"record_depth", record_depth, METH_VARARGS, "Depth and exon overlap of selected records, from their CIGARs."},
    {"aligned_blocks", aligned_blocks, METH_VARARGS, "Aligned blocks of selected records."},
    {"pile_up", pile_up, METH_VARARGS, "Add blocks to a depth difference array."},
    {"gene_depth", gene_depth, METH_VARARGS, "Depth and exon overlap of the aligned blocks of selected records."},
    {"kmer_hits", kmer_hits, METH_VARARGS, "Count and place the genome's K-mers that are keys."},
    {"classify", classify, METH_VARARGS, "Sort the records of a target locus: counts, depth, and the few to examine."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bamwalk", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bamwalk(void)
{
#ifdef BAMWALK_BIG_ENDIAN
    PyErr_SetString(PyExc_ImportError, "imtfusion._bamwalk reads little-endian BAM fields natively");
    return NULL;
#else
    return PyModule_Create(&module);
#endif
}
