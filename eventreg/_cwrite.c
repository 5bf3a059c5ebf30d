/*
 * eventreg._cwrite: the append path's hot loops in C (optional accelerator).
 *
 * prepare() and seal() do what eventreg.log.prepare_events and eventreg.log.seal do,
 * byte for byte, for the common case: exact dicts, lists, str, int, float, bool and None,
 * names already known to be valid, list or tuple input. Anything else makes them return
 * None, and the Python code (the reference, which also words every error) does the whole
 * call. tests/test_cwrite.py compares both on generated and hostile input.
 *
 * SHA-256 comes from the OpenSSL copy Python's own _hashlib module loaded (resolved with
 * dlsym by bind()), so building needs no OpenSSL headers or link flags.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <dlfcn.h>
#include <string.h>
#include <time.h>

/* OpenSSL's low-level SHA-256 (its one-shot SHA256() looks the algorithm up on every
 * call since OpenSSL 3, which costs more than hashing an event) */
typedef int (*sha256_init_fn)(void *ctx);
typedef int (*sha256_update_fn)(void *ctx, const void *data, size_t n);
typedef int (*sha256_final_fn)(unsigned char *md, void *ctx);
static sha256_init_fn sha256_init = NULL;
static sha256_update_fn sha256_update = NULL;
static sha256_final_fn sha256_final = NULL;

typedef union {
    unsigned char bytes[512]; /* SHA256_CTX is 112 bytes; room to spare */
    long double align;
} Sha256Ctx;

static void sha256_oneshot(const unsigned char *data, size_t n, unsigned char md[32]) {
    Sha256Ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, data, n);
    sha256_final(md, &ctx);
}

#define MAX_DEPTH 200

/* -- a growable byte buffer ---------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
    int ascii; /* no byte >= 0x80 written */
    char small[1024];
} Buf;

static void buf_init(Buf *b) {
    b->data = b->small;
    b->len = 0;
    b->cap = (Py_ssize_t)sizeof(b->small);
    b->ascii = 1;
}

static void buf_free(Buf *b) {
    if (b->data != b->small) PyMem_Free(b->data);
    b->data = b->small;
}

static int buf_reserve(Buf *b, Py_ssize_t more) {
    if (b->len + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->len + more) cap *= 2;
    char *data;
    if (b->data == b->small) {
        data = PyMem_Malloc((size_t)cap);
        if (data) memcpy(data, b->small, (size_t)b->len);
    } else {
        data = PyMem_Realloc(b->data, (size_t)cap);
    }
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static inline int buf_char(Buf *b, char c) {
    if (b->len >= b->cap && buf_reserve(b, 1) < 0) return -1;
    b->data[b->len++] = c;
    return 0;
}

static int buf_int(Buf *b, long long v) {
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    return buf_put(b, p, end - p);
}

/* -- the canonical JSON encoder ---------------------------------------------------------
 * Returns 0 on success, -1 with a Python error set, 1 for "not the common case" (no error
 * set: the caller falls back to the Python code).
 */

static const char HEX[] = "0123456789abcdef";

/* a JSON string from UTF-8 bytes, escaped as json.encoder.encode_basestring does */
static int put_json_utf8(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, n + 2) < 0) return -1;
    b->data[b->len++] = '"';
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (c >= 0x80) b->ascii = 0;
            continue;
        }
        if (i > start && buf_put(b, s + start, i - start) < 0) return -1;
        start = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        int len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = HEX[c >> 4]; esc[5] = HEX[c & 0xf];
            len = 6;
        }
        if (buf_put(b, esc, len) < 0) return -1;
    }
    if (n > start && buf_put(b, s + start, n - start) < 0) return -1;
    return buf_char(b, '"');
}

/* UTF-8 of an exact str; 1 (fallback) for lone surrogates */
static int utf8_of(PyObject *text, const char **s, Py_ssize_t *n) {
    *s = PyUnicode_AsUTF8AndSize(text, n);
    if (*s == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return 1;
        }
        return -1;
    }
    return 0;
}

static int put_json_str(Buf *b, PyObject *text) {
    const char *s;
    Py_ssize_t n;
    int rc = utf8_of(text, &s, &n);
    if (rc) return rc;
    return put_json_utf8(b, s, n);
}

static int encode_value(Buf *b, PyObject *v, int depth);

typedef struct {
    const char *s;
    Py_ssize_t n;
    PyObject *value;
} Item;

/* UTF-8 byte order is code point order: the order of sorted(dict.items()) */
static int item_cmp(const void *pa, const void *pb) {
    const Item *a = pa, *b = pb;
    Py_ssize_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, (size_t)n);
    if (c) return c;
    return (a->n > b->n) - (a->n < b->n);
}

static int encode_dict(Buf *b, PyObject *d, int depth) {
    Py_ssize_t size = PyDict_GET_SIZE(d);
    if (size == 0) return buf_put(b, "{}", 2);
    Item small[16];
    Item *items = small;
    if (size > 16) {
        items = PyMem_Malloc(sizeof(Item) * (size_t)size);
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int rc = 0;
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (i >= size || !PyUnicode_CheckExact(key)) {  /* i >= size: changed meanwhile */
            rc = 1;
            goto done;
        }
        rc = utf8_of(key, &items[i].s, &items[i].n);
        if (rc) goto done;
        items[i].value = value;
        i++;
    }
    if (i != size) {
        rc = 1;
        goto done;
    }
    if (size > 1) {
        /* insertion sort for the usual handful of keys */
        if (size <= 16) {
            for (Py_ssize_t j = 1; j < size; j++) {
                Item t = items[j];
                Py_ssize_t k = j;
                while (k > 0 && item_cmp(&items[k - 1], &t) > 0) {
                    items[k] = items[k - 1];
                    k--;
                }
                items[k] = t;
            }
        } else {
            qsort(items, (size_t)size, sizeof(Item), item_cmp);
        }
    }
    if ((rc = buf_char(b, '{'))) goto done;
    for (i = 0; i < size; i++) {
        if (i && (rc = buf_char(b, ','))) goto done;
        if ((rc = put_json_utf8(b, items[i].s, items[i].n))) goto done;
        if ((rc = buf_char(b, ':'))) goto done;
        if ((rc = encode_value(b, items[i].value, depth + 1))) goto done;
    }
    rc = buf_char(b, '}');
done:
    if (items != small) PyMem_Free(items);
    return rc;
}

static int encode_float(Buf *b, double x) {
    if (Py_IS_NAN(x)) return buf_put(b, "NaN", 3);
    if (Py_IS_INFINITY(x)) return x > 0 ? buf_put(b, "Infinity", 8) : buf_put(b, "-Infinity", 9);
    /* what float.__repr__ (and so json) writes */
    char *text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!text) return -1;
    int rc = buf_put(b, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return rc;
}

static int encode_value(Buf *b, PyObject *v, int depth) {
    if (depth > MAX_DEPTH) return 1;
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type) return put_json_str(b, v);
    if (v == Py_None) return buf_put(b, "null", 4);
    if (v == Py_True) return buf_put(b, "true", 4);
    if (v == Py_False) return buf_put(b, "false", 5);
    if (t == &PyFloat_Type) return encode_float(b, PyFloat_AS_DOUBLE(v));
    if (t == &PyLong_Type) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow) {
            if (x == -1 && PyErr_Occurred()) return -1;
            return buf_int(b, x);
        }
        PyObject *text = PyLong_Type.tp_repr(v);  /* as json does; may refuse a huge int */
        if (!text) {
            PyErr_Clear();
            return 1;  /* let the Python code raise what it raises */
        }
        const char *s;
        Py_ssize_t n;
        int rc = utf8_of(text, &s, &n);
        if (!rc) rc = buf_put(b, s, n);
        Py_DECREF(text);
        return rc;
    }
    if (t == &PyDict_Type) return encode_dict(b, v, depth);
    if (t == &PyList_Type) {
        if (buf_char(b, '[') < 0) return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            if (i && buf_char(b, ',') < 0) return -1;
            PyObject *item = PyList_GET_ITEM(v, i);
            Py_INCREF(item);  /* the list may not change under us, but be safe */
            int rc = encode_value(b, item, depth + 1);
            Py_DECREF(item);
            if (rc) return rc;
        }
        return buf_char(b, ']');
    }
    return 1;
}

static PyObject *buf_text(Buf *b) {
    if (b->ascii) {
        PyObject *s = PyUnicode_New(b->len, 127);
        if (s) memcpy(PyUnicode_1BYTE_DATA(s), b->data, (size_t)b->len);
        return s;
    }
    return PyUnicode_DecodeUTF8(b->data, b->len, "strict");
}

/* a new tuple of an exact tuple subclass (a NamedTuple), stealing the n references */
static PyObject *make_tuple(PyTypeObject *type, Py_ssize_t n, PyObject **items) {
    PyObject *t = type->tp_alloc(type, n);
    if (!t) {
        for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(items[i]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(t, i, items[i]);
    return t;
}

static int check_tuple_type(PyObject *type, const char *what) {
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)
        || ((PyTypeObject *)type)->tp_itemsize != PyTuple_Type.tp_itemsize
        || ((PyTypeObject *)type)->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_Format(PyExc_TypeError, "%s must be a NamedTuple class", what);
        return -1;
    }
    return 0;
}

/* -- prepare ------------------------------------------------------------------------- */

static PyObject *s_type, *s_payload, *s_schema_version, *s_actor, *s_metadata;
static PyObject *empty_object_text;

/* (events, default_actor, good_types, good_actors, NewEvent, PendingEvent, max_bytes)
 * -> list of PendingEvent, or None: the Python code does it (see cw_prepare). */
static PyObject *prepare_or_none(PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_Format(PyExc_TypeError, "prepare() takes 8 arguments (%zd given)", nargs + 1);
        return NULL;
    }
    PyObject *events = args[0], *default_actor = args[1], *good_types = args[2], *good_actors = args[3];
    PyObject *new_event = args[4], *pending_type = args[5];
    if (!PySet_Check(good_types) || !PySet_Check(good_actors) || !PyType_Check(new_event)) {
        PyErr_SetString(PyExc_TypeError, "prepare(): good_types and good_actors must be sets, NewEvent a class");
        return NULL;
    }
    Py_ssize_t max_bytes = PyLong_AsSsize_t(args[6]);
    if (max_bytes == -1 && PyErr_Occurred()) return NULL;
    if (check_tuple_type(pending_type, "PendingEvent") < 0) return NULL;
    if (!PyList_CheckExact(events) && !PyTuple_CheckExact(events)) Py_RETURN_NONE;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(events);
    PyObject *out = PyList_New(count);
    if (!out) return NULL;
    Buf b;
    buf_init(&b);
    PyObject *f[7] = {NULL};
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *event = PySequence_Fast_GET_ITEM(events, i);
        if (Py_TYPE(event) != (PyTypeObject *)new_event) goto fallback;
        for (int k = 0; k < 7; k++) f[k] = NULL;
        if (!(f[0] = PyObject_GetAttr(event, s_type))) goto error;
        if (!PyUnicode_CheckExact(f[0])) goto fallback;
        int known = PySet_Contains(good_types, f[0]);
        if (known < 0) goto error;
        if (!known) goto fallback;
        if (!(f[1] = PyObject_GetAttr(event, s_schema_version))) goto error;
        if (!PyLong_CheckExact(f[1])) goto fallback;
        int overflow = 0;
        long long schema = PyLong_AsLongLongAndOverflow(f[1], &overflow);
        if (overflow || schema < 1) goto fallback;
        if (!(f[2] = PyObject_GetAttr(event, s_actor))) goto error;
        if (f[2] == Py_None) {
            Py_DECREF(f[2]);
            Py_INCREF(default_actor);
            f[2] = default_actor;
        }
        if (f[2] != Py_None) {
            if (!PyUnicode_CheckExact(f[2])) goto fallback;
            known = PySet_Contains(good_actors, f[2]);
            if (known < 0) goto error;
            if (!known) goto fallback;
        }
        if (!(f[3] = PyObject_GetAttr(event, s_payload))) goto error;
        if (!PyDict_CheckExact(f[3])) goto fallback;
        if (!(f[4] = PyObject_GetAttr(event, s_metadata))) goto error;
        if (f[4] == Py_None || (PyDict_CheckExact(f[4]) && PyDict_GET_SIZE(f[4]) == 0)) {
            Py_DECREF(f[4]);
            if (!(f[4] = PyDict_New())) goto error;
        } else if (!PyDict_CheckExact(f[4])) {
            goto fallback;
        }
        b.len = 0;
        b.ascii = 1;
        int rc = encode_dict(&b, f[3], 0);
        if (rc < 0) goto error;
        if (rc) goto fallback;
        Py_ssize_t size = b.len;
        if (!(f[5] = buf_text(&b))) goto error;
        if (PyDict_GET_SIZE(f[4]) == 0) {
            Py_INCREF(empty_object_text);
            f[6] = empty_object_text;
            size += 2;
        } else {
            b.len = 0;
            b.ascii = 1;
            rc = encode_dict(&b, f[4], 0);
            if (rc < 0) goto error;
            if (rc) goto fallback;
            size += b.len;
            if (!(f[6] = buf_text(&b))) goto error;
        }
        if (size > max_bytes) goto fallback;
        PyObject *item = make_tuple((PyTypeObject *)pending_type, 7, f);
        for (int k = 0; k < 7; k++) f[k] = NULL;
        if (!item) goto error;
        PyList_SET_ITEM(out, i, item);
    }
    buf_free(&b);
    return out;
fallback:
    for (int k = 0; k < 7; k++) Py_XDECREF(f[k]);
    buf_free(&b);
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    for (int k = 0; k < 7; k++) Py_XDECREF(f[k]);
    buf_free(&b);
    Py_DECREF(out);
    return NULL;
}

/* encode(value) -> canonical text, or None for what only the Python code handles (tests) */
static PyObject *cw_encode(PyObject *self, PyObject *value) {
    Buf b;
    buf_init(&b);
    int rc = encode_value(&b, value, 0);
    PyObject *out = NULL;
    if (rc == 0) out = buf_text(&b);
    else if (rc == 1) out = Py_NewRef(Py_None);
    buf_free(&b);
    return out;
}

/* -- seal ---------------------------------------------------------------------------- */

static int hex_to_bytes(PyObject *text, unsigned char out[32]) {
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text) || PyUnicode_GET_LENGTH(text) != 64) return 1;
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    for (int i = 0; i < 64; i++) {
        unsigned char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return 1;
        if (i % 2 == 0) out[i / 2] = (unsigned char)(v << 4);
        else out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

static PyObject *hex_text(const unsigned char digest[32]) {
    PyObject *s = PyUnicode_New(64, 127);
    if (!s) return NULL;
    Py_UCS1 *p = PyUnicode_1BYTE_DATA(s);
    for (int i = 0; i < 32; i++) {
        p[2 * i] = (Py_UCS1)HEX[digest[i] >> 4];
        p[2 * i + 1] = (Py_UCS1)HEX[digest[i] & 0xf];
    }
    return s;
}

/* recorded_at as eventreg.log.format_timestamp writes a UTC datetime: digits put by
 * hand (snprintf's machinery is most of the cost once the caches are cold) */
static void put_digits(char *at, long v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        at[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static PyObject *utc_stamp(PyObject *moment) {
    char t[] = "0000-00-00T00:00:00.000000Z";
    const long field[7] = {PyDateTime_GET_YEAR(moment), PyDateTime_GET_MONTH(moment), PyDateTime_GET_DAY(moment),
                           PyDateTime_DATE_GET_HOUR(moment), PyDateTime_DATE_GET_MINUTE(moment),
                           PyDateTime_DATE_GET_SECOND(moment), PyDateTime_DATE_GET_MICROSECOND(moment)};
    static const int at[7] = {0, 5, 8, 11, 14, 17, 20}, width[7] = {4, 2, 2, 2, 2, 2, 6};
    for (int i = 0; i < 7; i++)
        put_digits(t + at[i], field[i], width[i]);
    return PyUnicode_FromStringAndSize(t, 27);
}

/* the UTC datetime of a Unix time (secs, microseconds): the civil date from the days since
 * 1970 (H. Hinnant's days_from_civil, inverted) */
static PyObject *utc_datetime(long long secs, int micros) {
    long long days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;                                 /* [0, 146096] */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* [0, 365] */
    long long mp = (5 * doy + 2) / 153;                                /* [0, 11] */
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400 + (month <= 2));
    return PyDateTimeAPI->DateTime_FromDateAndTime(year, month, day, (int)(rem / 3600), (int)(rem / 60 % 60),
                                                   (int)(rem % 60), micros, PyDateTime_TimeZone_UTC,
                                                   PyDateTimeAPI->DateTimeType);
}

/* datetime.now(timezone.utc), made directly: the clock's time floored to microseconds, as
 * datetime.now does */
static PyObject *utc_now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    return utc_datetime((long long)ts.tv_sec, (int)(ts.tv_nsec / 1000));
}

/* utc_datetime(seconds, microseconds) (for tests) */
static PyObject *cw_utc_datetime(PyObject *self, PyObject *args) {
    long long secs;
    int micros;
    if (!PyArg_ParseTuple(args, "Li:utc_datetime", &secs, &micros))
        return NULL;
    if (micros < 0 || micros > 999999) {
        PyErr_SetString(PyExc_ValueError, "microseconds must be from 0 to 999999");
        return NULL;
    }
    return utc_datetime(secs, micros);
}

/* (stream_id, pending, first_position, first_stream_version, prev_hash, moment,
 *  RecordedEvent, Prepared[, params]) -> list of Prepared (of RecordedEvent when Prepared
 * is None), or None: the Python code does it (see cw_seal). moment: a datetime, in UTC
 * (timezone.utc) for this code to take it. params: a list the stored columns are
 * appended to. */
static PyObject *seal_or_none(PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8 && nargs != 9) {
        PyErr_Format(PyExc_TypeError, "seal() takes 9 or 10 arguments (%zd given)", nargs + 1);
        return NULL;
    }
    PyObject *stream_id = args[0], *pending = args[1], *prev_hash = args[4], *moment = args[5];
    PyObject *record_type = args[6], *prepared_type = args[7], *params = nargs == 9 ? args[8] : Py_None;
    if (!PyUnicode_Check(stream_id) || !PyUnicode_Check(prev_hash) || !PyDateTime_Check(moment)
        || !PyType_Check(record_type) || (prepared_type != Py_None && !PyType_Check(prepared_type))) {
        PyErr_SetString(PyExc_TypeError, "seal(): stream_id and prev_hash must be str, moment a datetime, "
                                         "RecordedEvent and Prepared classes (or Prepared None)");
        return NULL;
    }
    long long position = PyLong_AsLongLong(args[2]);
    if (position == -1 && PyErr_Occurred()) return NULL;
    long long version = PyLong_AsLongLong(args[3]);
    if (version == -1 && PyErr_Occurred()) return NULL;
    if (!PyDateTime_CheckExact(moment) || ((PyDateTime_DateTime *)moment)->hastzinfo == 0
        || ((PyDateTime_DateTime *)moment)->tzinfo != PyDateTime_TimeZone_UTC) {
        Py_RETURN_NONE;
    }
    if (params != Py_None && !PyList_CheckExact(params)) {
        PyErr_SetString(PyExc_TypeError, "params must be a list or None");
        return NULL;
    }
    Py_ssize_t params_start = params == Py_None ? 0 : PyList_GET_SIZE(params);
    if (check_tuple_type(record_type, "RecordedEvent") < 0) return NULL;
    if (prepared_type != Py_None && check_tuple_type(prepared_type, "Prepared") < 0) return NULL;
    if (sha256_final == NULL || !PyList_CheckExact(pending)) Py_RETURN_NONE;
    unsigned char prev[32];
    if (hex_to_bytes(prev_hash, prev)) Py_RETURN_NONE;
    PyObject *stamp = utc_stamp(moment);
    if (!stamp) return NULL;
    const char *stamp_s = (const char *)PyUnicode_1BYTE_DATA(stamp);
    Py_ssize_t stamp_n = PyUnicode_GET_LENGTH(stamp);

    Py_ssize_t count = PyList_GET_SIZE(pending);
    PyObject *out = PyList_New(count);
    if (!out) {
        Py_DECREF(stamp);
        return NULL;
    }
    Buf b;
    buf_init(&b);
    /* "[position," then the stream id's JSON: written once, the position patched in */
    Buf sid;
    buf_init(&sid);
    int rc = put_json_str(&sid, stream_id);
    if (rc) goto stop;
    Py_INCREF(prev_hash);
    PyObject *prev_text = prev_hash;  /* owned */
    PyObject *last_type = NULL, *last_actor = NULL;
    long long last_schema = -1;
    Buf around;  /* ",type,schema,"stamp",actor," for the last (type, schema, actor) */
    buf_init(&around);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(pending, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 7) {
            rc = 1;
            break;
        }
        PyObject *type_ = PyTuple_GET_ITEM(item, 0), *schema = PyTuple_GET_ITEM(item, 1);
        PyObject *actor = PyTuple_GET_ITEM(item, 2), *payload = PyTuple_GET_ITEM(item, 3);
        PyObject *metadata = PyTuple_GET_ITEM(item, 4), *payload_text = PyTuple_GET_ITEM(item, 5);
        PyObject *metadata_text = PyTuple_GET_ITEM(item, 6);
        if (!PyUnicode_CheckExact(type_) || !PyLong_CheckExact(schema) || !PyUnicode_CheckExact(payload_text)
            || !PyUnicode_CheckExact(metadata_text) || (actor != Py_None && !PyUnicode_CheckExact(actor))) {
            rc = 1;
            break;
        }
        int overflow = 0;
        long long schema_v = PyLong_AsLongLongAndOverflow(schema, &overflow);
        if (overflow) {
            rc = 1;
            break;
        }
        if (type_ != last_type || actor != last_actor || schema_v != last_schema) {
            around.len = 0;
            if ((rc = buf_char(&around, ','))) break;
            if ((rc = put_json_str(&around, type_))) break;
            if ((rc = buf_char(&around, ','))) break;
            if ((rc = buf_int(&around, schema_v))) break;
            if ((rc = buf_put(&around, ",\"", 2))) break;
            if ((rc = buf_put(&around, stamp_s, stamp_n))) break;
            if ((rc = buf_put(&around, "\",", 2))) break;
            if (actor == Py_None) rc = buf_put(&around, "null", 4);
            else rc = put_json_str(&around, actor);
            if (rc || (rc = buf_char(&around, ','))) break;
            last_type = type_;
            last_actor = actor;
            last_schema = schema_v;
        }
        const char *ps, *ms;
        Py_ssize_t pn, mn;
        if ((rc = utf8_of(payload_text, &ps, &pn)) || (rc = utf8_of(metadata_text, &ms, &mn))) break;
        /* prev digest || "[position,sid,version" around "payload,metadata]" */
        b.len = 0;
        if ((rc = buf_put(&b, (const char *)prev, 32))) break;
        if ((rc = buf_char(&b, '['))) break;
        if ((rc = buf_int(&b, position))) break;
        if ((rc = buf_char(&b, ','))) break;
        if ((rc = buf_put(&b, sid.data, sid.len))) break;
        if ((rc = buf_char(&b, ','))) break;
        if ((rc = buf_int(&b, version))) break;
        if ((rc = buf_put(&b, around.data, around.len))) break;
        if ((rc = buf_put(&b, ps, pn))) break;
        if ((rc = buf_char(&b, ','))) break;
        if ((rc = buf_put(&b, ms, mn))) break;
        if ((rc = buf_char(&b, ']'))) break;
        sha256_oneshot((const unsigned char *)b.data, (size_t)b.len, prev);
        PyObject *digest = hex_text(prev);
        if (!digest) {
            rc = -1;
            break;
        }
        PyObject *r[11];
        r[0] = PyLong_FromLongLong(position);
        Py_INCREF(stream_id); r[1] = stream_id;
        r[2] = PyLong_FromLongLong(version);
        Py_INCREF(type_); r[3] = type_;
        Py_INCREF(schema); r[4] = schema;
        Py_INCREF(moment); r[5] = moment;
        Py_INCREF(actor); r[6] = actor;
        Py_INCREF(payload); r[7] = payload;
        Py_INCREF(metadata); r[8] = metadata;
        r[9] = prev_text;  /* the reference moves into the record */
        Py_INCREF(digest); r[10] = digest;
        prev_text = digest;  /* owned: the one taken for the next record */
        if (!r[0] || !r[2]) {
            for (int k = 0; k < 11; k++) Py_XDECREF(r[k]);  /* prev_text keeps its own */
            rc = -1;
            break;
        }
        PyObject *record = make_tuple((PyTypeObject *)record_type, 11, r);
        if (!record) {
            rc = -1;
            break;
        }
        if (params != Py_None) {
            /* the stored columns: the record's, with the texts in place of the decoded values */
            PyObject *stamp_or_text[3] = {stamp, payload_text, metadata_text};
            for (int k = 0; k < 11 && !rc; k++) {
                PyObject *v = k == 5 ? stamp_or_text[0] : k == 7 ? stamp_or_text[1]
                            : k == 8 ? stamp_or_text[2] : PyTuple_GET_ITEM(record, k);
                rc = PyList_Append(params, v);
            }
            if (rc) {
                Py_DECREF(record);
                break;
            }
        }
        if (prepared_type == Py_None) {
            PyList_SET_ITEM(out, i, record);
            position++;
            version++;
            continue;
        }
        PyObject *p[4] = {record, payload_text, metadata_text, stamp};
        Py_INCREF(payload_text);
        Py_INCREF(metadata_text);
        Py_INCREF(stamp);
        PyObject *sealed = make_tuple((PyTypeObject *)prepared_type, 4, p);
        if (!sealed) {
            rc = -1;
            break;
        }
        PyList_SET_ITEM(out, i, sealed);
        position++;
        version++;
    }
    Py_XDECREF(prev_text);
    buf_free(&around);
stop:
    buf_free(&sid);
    buf_free(&b);
    Py_DECREF(stamp);
    if (rc) {
        Py_DECREF(out);
        if (rc < 0) return NULL;
        /* the Python code starts again: take back what this call added */
        if (params != Py_None && PyList_SetSlice(params, params_start, PyList_GET_SIZE(params), NULL) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return out;
}

/* The module's functions take the constants first (so that functools.partial binds them
 * once) and a fallback: the Python function called with the remaining arguments when the
 * C code hands the call back (None: return None instead). METH_FASTCALL: these run once
 * per append. */

/* prepare(good_types, good_actors, NewEvent, PendingEvent, max_bytes, fallback, events,
 *         default_actor) */
static PyObject *cw_prepare(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "prepare() takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *own[7] = {args[6], args[7], args[0], args[1], args[2], args[3], args[4]};
    PyObject *result = prepare_or_none(own, 7);
    if (result != Py_None || args[5] == Py_None) return result;
    Py_DECREF(result);
    return PyObject_Vectorcall(args[5], args + 6, 2, NULL);
}

/* seal(RecordedEvent, Prepared, fallback, stream_id, pending, first_position,
 *      first_stream_version, prev_hash, moment[, params]); moment None: now */
static PyObject *cw_seal(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9 && nargs != 10) {
        PyErr_Format(PyExc_TypeError, "seal() takes 9 or 10 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *moment = args[8] == Py_None ? utc_now() : Py_NewRef(args[8]);
    if (!moment) return NULL;
    PyObject *own[9] = {args[3], args[4], args[5], args[6], args[7], moment, args[0], args[1],
                        nargs == 10 ? args[9] : Py_None};
    PyObject *result = seal_or_none(own, nargs - 1);
    Py_DECREF(moment);
    if (result != Py_None || args[2] == Py_None) return result;
    Py_DECREF(result);
    return PyObject_Vectorcall(args[2], args + 3, (size_t)(nargs - 3), NULL);
}

/* -- binding OpenSSL ------------------------------------------------------------------ */

/* bind(path of the loaded _hashlib extension) -> None: find SHA256 in its OpenSSL */
static PyObject *cw_bind(PyObject *self, PyObject *arg) {
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(arg, &bytes)) return NULL;
    void *handle = dlopen(PyBytes_AS_STRING(bytes), RTLD_NOW | RTLD_NOLOAD);
    Py_DECREF(bytes);
    if (!handle) {
        PyErr_Format(PyExc_ImportError, "cannot find the loaded module: %s", dlerror());
        return NULL;
    }
    void *init = dlsym(handle, "SHA256_Init"), *update = dlsym(handle, "SHA256_Update");
    void *final = dlsym(handle, "SHA256_Final");
    dlclose(handle);  /* RTLD_NOLOAD took a reference; the module stays loaded by Python */
    if (!init || !update || !final) {
        PyErr_SetString(PyExc_ImportError, "no SHA256_Init/Update/Final in the loaded OpenSSL");
        return NULL;
    }
    sha256_init = (sha256_init_fn)init;
    sha256_update = (sha256_update_fn)update;
    sha256_final = (sha256_final_fn)final;
    unsigned char md[32];
    static const unsigned char abc_sha256[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    sha256_oneshot((const unsigned char *)"abc", 3, md);
    if (memcmp(md, abc_sha256, 32) != 0) {
        sha256_init = NULL;
        sha256_update = NULL;
        sha256_final = NULL;
        PyErr_SetString(PyExc_ImportError, "SHA-256 of the loaded OpenSSL gives a wrong digest");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", cw_bind, METH_O, "Find SHA256 in the OpenSSL that the given loaded module uses."},
    {"prepare", (PyCFunction)(void (*)(void))cw_prepare, METH_FASTCALL,
     "eventreg.log.prepare_events for the common case, or None."},
    {"seal", (PyCFunction)(void (*)(void))cw_seal, METH_FASTCALL, "eventreg.log.seal's loop, or None."},
    {"utc_datetime", cw_utc_datetime, METH_VARARGS,
     "The UTC datetime of a Unix time in seconds and microseconds, as seal makes now's (for tests)."},
    {"encode", cw_encode, METH_O, "Canonical JSON text of a value, or None (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cwrite", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cwrite(void) {
    if (!(s_type = PyUnicode_InternFromString("type"))) return NULL;
    if (!(s_payload = PyUnicode_InternFromString("payload"))) return NULL;
    if (!(s_schema_version = PyUnicode_InternFromString("schema_version"))) return NULL;
    if (!(s_actor = PyUnicode_InternFromString("actor"))) return NULL;
    if (!(s_metadata = PyUnicode_InternFromString("metadata"))) return NULL;
    if (!(empty_object_text = PyUnicode_InternFromString("{}"))) return NULL;
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    return PyModule_Create(&module);
}
