/*
 * eventreg._cread: read rows of the SQLite events table and decode them in C.
 *
 * An optional accelerator for ``SQLLog.read_all`` on SQLite. It reads rows with
 * SQLite's C API and builds ``RecordedEvent`` tuples directly, decoding the JSON
 * columns with a decoder for the canonical text the log writes. Its Writer runs an
 * append's whole transaction (BEGIN IMMEDIATE, the guarded INSERTs, COMMIT) in C.
 *
 * SQLite is not linked: bind() resolves its functions at run time from the library
 * Python's own ``_sqlite3`` module has loaded (dlopen with RTLD_NOLOAD on that
 * module's file, then dlsym), so both use one copy of SQLite in the process (two
 * copies would not see each other's POSIX locks). The few SQLite declarations needed
 * are written out below, so building needs no sqlite3.h either.
 *
 * API (see the docstrings at the bottom):
 *   bind(sqlite3_so_path)            resolve the SQLite functions
 *   Reader(filename, uri, timeout_ms) a read-only (query_only) connection
 *   Reader.read(sql, lo, n, record_type, parse_timestamp, fallback) -> list
 *   Reader.close()
 *   decode(text, fallback)            the JSON decoder on its own (tests)
 *   Writer(filename, uri, timeout_ms, synchronous, wal_autocheckpoint)
 *                                     a read-write connection for appends (WAL only)
 *   Writer.append(chunks) -> bool     INSERT chunks in one BEGIN IMMEDIATE transaction
 *   Writer.pragma(name, value=None), Writer.close()
 *   Error                             SQLite errors; .code = extended result code
 *
 * JSON: the decoder accepts exactly the compact text json.dumps writes with
 * separators=(",", ":") (no whitespace anywhere), and gives the value json.loads
 * gives for it. Anything else (whitespace, invalid text, trailing text, nesting
 * deeper than MAX_DEPTH, ints json.loads refuses, ...) is handed to the caller's
 * fallback(text, position), whose result is used and whose exceptions propagate.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <structmember.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* -- SQLite: the declarations used, resolved at run time ----------------------- */

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long sq_int64;

#define SQ_OK 0
#define SQ_BUSY 5
#define SQ_LOCKED 6
#define SQ_ROW 100
#define SQ_DONE 101
#define SQ_INTEGER 1
#define SQ_FLOAT 2
#define SQ_TEXT 3
#define SQ_BLOB 4
#define SQ_NULL 5
#define SQ_OPEN_READWRITE 0x00000002
#define SQ_OPEN_URI 0x00000040
#define SQ_OPEN_NOMUTEX 0x00008000 /* each Reader serialises its own use */
#define SQ_CONSTRAINT 19
#define SQ_CONSTRAINT_PRIMARYKEY (SQ_CONSTRAINT | (6 << 8))
#define SQ_CONSTRAINT_TRIGGER (SQ_CONSTRAINT | (7 << 8))
#define SQ_CONSTRAINT_UNIQUE (SQ_CONSTRAINT | (8 << 8))
#define SQ_CONSTRAINT_ROWID (SQ_CONSTRAINT | (10 << 8))
#define SQ_ERROR 1
#define SQ_FCNTL_DATA_VERSION 35 /* since SQLite 3.26 */

typedef void (*sq_destructor)(void *);
#define SQ_STATIC ((sq_destructor)0) /* SQLite neither copies nor frees the bound bytes */

typedef struct {
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close_v2)(sqlite3 *);
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*finalize)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*bind_int64)(sqlite3_stmt *, int, sq_int64);
    int (*bind_parameter_count)(sqlite3_stmt *);
    int (*step)(sqlite3_stmt *);
    int (*column_count)(sqlite3_stmt *);
    int (*column_type)(sqlite3_stmt *, int);
    sq_int64 (*column_int64)(sqlite3_stmt *, int);
    double (*column_double)(sqlite3_stmt *, int);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    const char *(*errmsg)(sqlite3 *);
    int (*extended_errcode)(sqlite3 *);
    int (*busy_timeout)(sqlite3 *, int);
    int (*exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **);
    void (*free)(void *);
    const char *(*libversion)(void);
    /* the Writer's */
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, sq_destructor);
    int (*bind_blob)(sqlite3_stmt *, int, const void *, int, sq_destructor);
    int (*bind_double)(sqlite3_stmt *, int, double);
    int (*bind_null)(sqlite3_stmt *, int);
    int (*clear_bindings)(sqlite3_stmt *);
    int (*changes)(sqlite3 *);
    int (*get_autocommit)(sqlite3 *);
    int (*stmt_readonly)(sqlite3_stmt *);
    int (*file_control)(sqlite3 *, const char *, int, void *);
} SqliteApi;

static SqliteApi sq;
static void *sq_handle = NULL; /* non-NULL once bound */

#define SYM(field) {"sqlite3_" #field, offsetof(SqliteApi, field)}
static const struct {
    const char *name;
    size_t offset;
} sq_symbols[] = {
    SYM(open_v2), SYM(close_v2), SYM(prepare_v2), SYM(finalize), SYM(reset),
    SYM(bind_int64), SYM(bind_parameter_count), SYM(step), SYM(column_count),
    SYM(column_type), SYM(column_int64), SYM(column_double), SYM(column_text),
    SYM(column_blob), SYM(column_bytes), SYM(errmsg), SYM(extended_errcode),
    SYM(busy_timeout), SYM(exec), SYM(free), SYM(libversion),
    SYM(bind_text), SYM(bind_blob), SYM(bind_double), SYM(bind_null), SYM(clear_bindings),
    SYM(changes), SYM(get_autocommit), SYM(stmt_readonly), SYM(file_control),
};
#undef SYM

/* -- module globals ------------------------------------------------------------ */

static PyObject *ErrorType = NULL; /* _cread.Error */
static PyObject *NaN_obj = NULL, *Inf_obj = NULL, *NegInf_obj = NULL;

#define MAX_DEPTH 1000 /* deeper nesting goes to the fallback */

/* keeps rarely used buffers out of the recursive parser's stack frames */
#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

static void
set_sqlite_error(int code, const char *message)
{
    PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    if (text == NULL)
        return;
    PyObject *exc = PyObject_CallOneArg(ErrorType, text);
    Py_DECREF(text);
    if (exc == NULL)
        return;
    PyObject *value = PyLong_FromLong(code);
    if (value == NULL || PyObject_SetAttrString(exc, "code", value) < 0) {
        Py_XDECREF(value);
        Py_DECREF(exc);
        return;
    }
    Py_DECREF(value);
    PyErr_SetObject(ErrorType, exc);
    Py_DECREF(exc);
}

static void
set_db_error(sqlite3 *db)
{
    set_sqlite_error(sq.extended_errcode(db), sq.errmsg(db));
}

static int
require_bound(void)
{
    if (sq_handle == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "eventreg._cread: call bind() first");
        return -1;
    }
    return 0;
}

/* open an existing database file (never create one) with a busy timeout; NULL with an
 * exception set. filename: bytes (PyUnicode_FSConverter's). */
static sqlite3 *
open_db(PyObject *filename, int uri, int timeout_ms)
{
    int flags = SQ_OPEN_READWRITE | SQ_OPEN_NOMUTEX | (uri ? SQ_OPEN_URI : 0);
    sqlite3 *db = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.open_v2(PyBytes_AS_STRING(filename), &db, flags, NULL);
    Py_END_ALLOW_THREADS
    if (rc != SQ_OK) {
        if (db != NULL) {
            set_db_error(db);
            sq.close_v2(db);
        }
        else
            set_sqlite_error(rc, "cannot open the database (out of memory)");
        return NULL;
    }
    sq.busy_timeout(db, timeout_ms);
    return db;
}

typedef struct CallLock CallLock;

/* One call at a time on a Reader or Writer: other threads wait (without the GIL); the
 * same thread calling again from inside a call (a fallback that reads) is refused. */
struct CallLock {
    PyThread_type_lock lock;
    unsigned long owner;       /* the thread inside a call, while busy */
    int busy;
};

static int
call_lock_acquire(CallLock *l, const char *again)
{
    unsigned long me = PyThread_get_thread_ident();
    if (l->busy && l->owner == me) {
        PyErr_SetString(PyExc_RuntimeError, again);
        return -1;
    }
    if (!PyThread_acquire_lock(l->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(l->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    l->owner = me;
    l->busy = 1;
    return 0;
}

static void
call_lock_release(CallLock *l)
{
    l->busy = 0;
    PyThread_release_lock(l->lock);
}

/* a new Reader's or Writer's lock and connection; -1 with an exception. Releases
 * filename (bytes) either way; the caller's dealloc frees what was made. */
static int
connect_object(CallLock *calls, sqlite3 **db, PyObject *filename, int uri, int timeout_ms)
{
    calls->lock = PyThread_allocate_lock();
    if (calls->lock == NULL) {
        Py_DECREF(filename);
        PyErr_NoMemory();
        return -1;
    }
    *db = open_db(filename, uri, timeout_ms);
    Py_DECREF(filename);
    return *db == NULL ? -1 : 0;
}

/* -- JSON ------------------------------------------------------------------------ */

/* A direct-mapped cache of short ASCII strings (object keys, short values): repeated
 * keys cost a lookup instead of a new str, and their hash is already computed. */
#define STR_CACHE_SIZE 512
#define STR_CACHE_MAX_LEN 24

typedef struct {
    PyObject *slot[STR_CACHE_SIZE];
} StrCache;

static void
str_cache_clear(StrCache *cache)
{
    for (int i = 0; i < STR_CACHE_SIZE; i++)
        Py_CLEAR(cache->slot[i]);
}

typedef struct {
    const unsigned char *p;   /* next byte; the text ends with a NUL at `end` */
    const unsigned char *end;
    int depth;
    StrCache *cache;          /* may be NULL */
} Parser;

/* Every parse function returns a new reference, or NULL: with an exception set on a
 * real error (memory), without one when the text is not accepted (-> fallback). */
static PyObject *parse_value(Parser *ps);

/* bytes that end the fast scan of a string: '"', '\\', control characters, non-ASCII */
static unsigned char string_stop[256];

static void
init_tables(void)
{
    for (int c = 0; c < 256; c++)
        string_stop[c] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x80);
}

static PyObject *
ascii_str(const unsigned char *s, Py_ssize_t n)
{
    PyObject *o = PyUnicode_New(n, 127);
    if (o != NULL)
        memcpy(PyUnicode_1BYTE_DATA(o), s, (size_t)n);
    return o;
}

static PyObject *
cached_ascii_str(StrCache *cache, const unsigned char *s, Py_ssize_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)n;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    PyObject **slot = &cache->slot[(h ^ (h >> 15)) & (STR_CACHE_SIZE - 1)];
    PyObject *o = *slot;
    if (o != NULL && PyUnicode_GET_LENGTH(o) == n && memcmp(PyUnicode_1BYTE_DATA(o), s, (size_t)n) == 0) {
        Py_INCREF(o);
        return o;
    }
    o = ascii_str(s, n);
    if (o == NULL)
        return NULL;
    Py_INCREF(o);
    Py_XSETREF(*slot, o);
    return o;
}

/* strict UTF-8 (as Python's decoder): one code point from s, or -1 */
static inline int32_t
utf8_char(const unsigned char **sp)
{
    const unsigned char *s = *sp;
    unsigned c = s[0];
    if (c < 0x80) {
        *sp = s + 1;
        return (int32_t)c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if ((s[1] & 0xC0) != 0x80)
            return -1;
        *sp = s + 2;
        return (int32_t)(((c & 0x1F) << 6) | (s[1] & 0x3F));
    }
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no encoded surrogates */
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return -1;
        *sp = s + 3;
        return (int32_t)(((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F));
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return -1;
        *sp = s + 4;
        return (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F));
    }
    return -1;
}

static inline int
hex4(const unsigned char *s, Py_UCS4 *out)
{
    Py_UCS4 v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1; /* also stops at the closing quote or the final NUL */
    }
    *out = v;
    return 0;
}

/* A string with escapes, from the byte after its opening quote: decoded the way
 * json.loads does (a \uD8xx escape followed by a \uDCxx escape is one character,
 * any other surrogate escape stays a lone surrogate). */
static NOINLINE PyObject *
parse_escaped_string(Parser *ps, const unsigned char *start)
{
    const unsigned char *q = start;
    /* find the closing quote: the decoded length is at most the byte length */
    for (;;) {
        unsigned c = *q;
        if (c == '"')
            break;
        if (c < 0x20)
            return NULL; /* control character (or the final NUL) */
        if (c == '\\') {
            if (q[1] < 0x20)
                return NULL;
            q += 2;
        }
        else
            q++;
    }
    Py_ssize_t cap = q - start;
    Py_UCS4 *buf = PyMem_Malloc((size_t)(cap > 0 ? cap : 1) * sizeof(Py_UCS4));
    if (buf == NULL)
        return PyErr_NoMemory();
    Py_ssize_t n = 0;
    const unsigned char *s = start;
    while (s < q) {
        if (*s != '\\') {
            int32_t ch = utf8_char(&s);
            if (ch < 0)
                goto reject;
            buf[n++] = (Py_UCS4)ch;
            continue;
        }
        switch (s[1]) {
        case '"': buf[n++] = '"'; s += 2; break;
        case '\\': buf[n++] = '\\'; s += 2; break;
        case '/': buf[n++] = '/'; s += 2; break;
        case 'b': buf[n++] = '\b'; s += 2; break;
        case 'f': buf[n++] = '\f'; s += 2; break;
        case 'n': buf[n++] = '\n'; s += 2; break;
        case 'r': buf[n++] = '\r'; s += 2; break;
        case 't': buf[n++] = '\t'; s += 2; break;
        case 'u': {
            Py_UCS4 ch, low;
            if (hex4(s + 2, &ch) < 0)
                goto reject;
            s += 6;
            if (ch >= 0xD800 && ch <= 0xDBFF && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, &low) == 0
                    && low >= 0xDC00 && low <= 0xDFFF) {
                ch = 0x10000 + (((ch - 0xD800) << 10) | (low - 0xDC00));
                s += 6;
            }
            buf[n++] = ch;
            break;
        }
        default:
            goto reject;
        }
    }
    if (s != q) /* an escape ran over the closing quote */
        goto reject;
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n);
    PyMem_Free(buf);
    if (result != NULL)
        ps->p = q + 1;
    return result;
reject:
    PyMem_Free(buf);
    return NULL;
}

/* a string; ps->p is at its opening quote */
static PyObject *
parse_string(Parser *ps)
{
    const unsigned char *start = ps->p + 1, *q = start;
    int ascii = 1;
    for (;;) {
        while (!string_stop[*q])
            q++;
        unsigned c = *q;
        if (c == '"')
            break;
        if (c >= 0x80) {
            ascii = 0;
            q++;
            continue;
        }
        if (c == '\\')
            return parse_escaped_string(ps, start);
        return NULL; /* control character, or the final NUL: not accepted */
    }
    Py_ssize_t n = q - start;
    PyObject *result;
    if (ascii)
        result = (ps->cache != NULL && n <= STR_CACHE_MAX_LEN) ? cached_ascii_str(ps->cache, start, n)
                                                              : ascii_str(start, n);
    else {
        result = PyUnicode_DecodeUTF8((const char *)start, n, NULL);
        if (result == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            PyErr_Clear(); /* not UTF-8: the fallback decides */
    }
    if (result != NULL)
        ps->p = q + 1;
    return result;
}

/* a number token [start, stop) that is not a small int: as json.loads converts it */
static NOINLINE PyObject *
convert_number(const unsigned char *start, const unsigned char *stop, int is_float)
{
    char small[64];
    size_t n = (size_t)(stop - start);
    char *buf = n < sizeof(small) ? small : PyMem_Malloc(n + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    memcpy(buf, start, n);
    buf[n] = '\0';
    PyObject *result;
    if (is_float) {
        char *endp;
        double d = PyOS_string_to_double(buf, &endp, NULL); /* float(token) */
        if (d == -1.0 && PyErr_Occurred())
            result = NULL;
        else if (endp != buf + n)
            result = NULL; /* cannot happen for a checked token */
        else
            result = PyFloat_FromDouble(d);
    }
    else
        result = PyLong_FromString(buf, NULL, 10); /* refuses what json.loads refuses (digit limit) */
    if (result == NULL && PyErr_ExceptionMatches(PyExc_ValueError))
        PyErr_Clear(); /* the fallback decides (and gives json.loads' error) */
    if (buf != small)
        PyMem_Free(buf);
    return result;
}

static PyObject *
parse_number(Parser *ps)
{
    const unsigned char *start = ps->p, *p = start;
    int negative = 0, is_float = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    const unsigned char *digits = p;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9')
            p++;
    }
    else
        return NULL;
    Py_ssize_t ndigits = p - digits;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
        is_float = 1;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
        is_float = 1;
    }
    PyObject *result;
    if (!is_float && ndigits <= 18) {
        long long v = 0;
        for (const unsigned char *d = digits; d < p; d++)
            v = v * 10 + (*d - '0');
        result = PyLong_FromLongLong(negative ? -v : v);
    }
    else
        result = convert_number(start, p, is_float);
    if (result != NULL)
        ps->p = p;
    return result;
}

static PyObject *
parse_array(Parser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    ps->p++;
    if (*ps->p == ']') {
        ps->p++;
        ps->depth--;
        return list;
    }
    for (;;) {
        PyObject *item = parse_value(ps);
        if (item == NULL)
            goto fail;
        int rc = PyList_Append(list, item);
        Py_DECREF(item);
        if (rc < 0)
            goto fail;
        unsigned c = *ps->p;
        if (c == ',') {
            ps->p++;
            continue;
        }
        if (c == ']') {
            ps->p++;
            ps->depth--;
            return list;
        }
        goto fail;
    }
fail:
    Py_DECREF(list);
    return NULL;
}

static PyObject *
parse_object(Parser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return NULL;
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return NULL;
    ps->p++;
    if (*ps->p == '}') {
        ps->p++;
        ps->depth--;
        return dict;
    }
    for (;;) {
        if (*ps->p != '"')
            goto fail;
        PyObject *key = parse_string(ps);
        if (key == NULL)
            goto fail;
        if (*ps->p != ':') {
            Py_DECREF(key);
            goto fail;
        }
        ps->p++;
        PyObject *value = parse_value(ps);
        if (value == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        int rc = PyDict_SetItem(dict, key, value); /* a repeated key: the last value wins */
        Py_DECREF(key);
        Py_DECREF(value);
        if (rc < 0)
            goto fail;
        unsigned c = *ps->p;
        if (c == ',') {
            ps->p++;
            continue;
        }
        if (c == '}') {
            ps->p++;
            ps->depth--;
            return dict;
        }
        goto fail;
    }
fail:
    Py_DECREF(dict);
    return NULL;
}

static PyObject *
constant(Parser *ps, PyObject *value, Py_ssize_t length)
{
    ps->p += length;
    Py_INCREF(value);
    return value;
}

static PyObject *
parse_value(Parser *ps)
{
    const unsigned char *p = ps->p;
    switch (*p) {
    case '"':
        return parse_string(ps);
    case '{':
        return parse_object(ps);
    case '[':
        return parse_array(ps);
    case 't':
        if (p[1] == 'r' && p[2] == 'u' && p[3] == 'e')
            return constant(ps, Py_True, 4);
        return NULL;
    case 'f':
        if (p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e')
            return constant(ps, Py_False, 5);
        return NULL;
    case 'n':
        if (p[1] == 'u' && p[2] == 'l' && p[3] == 'l')
            return constant(ps, Py_None, 4);
        return NULL;
    case 'N':
        if (p[1] == 'a' && p[2] == 'N')
            return constant(ps, NaN_obj, 3);
        return NULL;
    case 'I':
        if (p[1] == 'n' && p[2] == 'f' && p[3] == 'i' && p[4] == 'n' && p[5] == 'i' && p[6] == 't' && p[7] == 'y')
            return constant(ps, Inf_obj, 8);
        return NULL;
    case '-':
        if (p[1] == 'I') {
            if (p[2] == 'n' && p[3] == 'f' && p[4] == 'i' && p[5] == 'n' && p[6] == 'i' && p[7] == 't' && p[8] == 'y')
                return constant(ps, NegInf_obj, 9);
            return NULL;
        }
        return parse_number(ps);
    default:
        if (*p >= '0' && *p <= '9')
            return parse_number(ps);
        return NULL;
    }
}

/* UTF-8 text s[0:n] (with s[n] == '\0') as JSON; NULL without an exception: not accepted */
static PyObject *
decode_utf8(const char *s, Py_ssize_t n, StrCache *cache)
{
    Parser ps = {(const unsigned char *)s, (const unsigned char *)s + n, 0, cache};
    PyObject *value = parse_value(&ps);
    if (value != NULL && ps.p != ps.end) { /* trailing text */
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

/* -- module functions ------------------------------------------------------------ */

static PyObject *
cread_decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "decode(text, fallback) takes 2 arguments");
        return NULL;
    }
    PyObject *text = args[0], *fallback = args[1];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "decode() needs a str");
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    PyObject *value = NULL;
    if (s == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return NULL;
        PyErr_Clear(); /* lone surrogates: not text the log stores */
    }
    else {
        StrCache cache;
        memset(&cache, 0, sizeof(cache));
        value = decode_utf8(s, n, &cache);
        str_cache_clear(&cache);
        if (value != NULL || PyErr_Occurred())
            return value;
    }
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL)
        return NULL;
    value = PyObject_CallFunctionObjArgs(fallback, text, zero, NULL);
    Py_DECREF(zero);
    return value;
}

static PyObject *
cread_bind(PyObject *module, PyObject *arg)
{
    (void)module;
    PyObject *path_bytes = NULL;
    if (!PyUnicode_FSConverter(arg, &path_bytes))
        return NULL;
    void *handle = dlopen(PyBytes_AS_STRING(path_bytes), RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL) {
        const char *why = dlerror();
        PyErr_Format(PyExc_ImportError, "eventreg._cread: %S is not loaded (%s)", arg, why ? why : "dlopen failed");
        Py_DECREF(path_bytes);
        return NULL;
    }
    Py_DECREF(path_bytes);
    if (sq_handle != NULL) {
        dlclose(handle); /* drops the reference just taken; the first stays */
        if (handle == sq_handle)
            Py_RETURN_NONE;
        PyErr_SetString(PyExc_ImportError, "eventreg._cread is already bound to another SQLite library");
        return NULL;
    }
    SqliteApi api;
    for (size_t i = 0; i < sizeof(sq_symbols) / sizeof(sq_symbols[0]); i++) {
        dlerror();
        void *fn = dlsym(handle, sq_symbols[i].name);
        if (fn == NULL) {
            PyErr_Format(PyExc_ImportError, "eventreg._cread: SQLite function %s not found in %S",
                         sq_symbols[i].name, arg);
            dlclose(handle);
            return NULL;
        }
        memcpy((char *)&api + sq_symbols[i].offset, &fn, sizeof(fn));
    }
    sq = api;
    sq_handle = handle; /* kept open for the life of the process */
    Py_RETURN_NONE;
}

static PyObject *
cread_sqlite_version(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (require_bound() < 0)
        return NULL;
    return PyUnicode_FromString(sq.libversion());
}

/* -- Reader ------------------------------------------------------------------------ */

#define N_COLUMNS 11
enum {
    C_POSITION, C_STREAM_ID, C_STREAM_VERSION, C_TYPE, C_SCHEMA_VERSION, C_RECORDED_AT,
    C_ACTOR, C_PAYLOAD, C_METADATA, C_PREV_HASH, C_HASH
};

typedef struct {
    PyObject_HEAD
    sqlite3 *db;
    sqlite3_stmt *stmt;
    PyObject *sql;             /* the text of stmt */
    CallLock calls;            /* one read (or close) at a time */
    char *stamp_buf;           /* the previous row's recorded_at text */
    Py_ssize_t stamp_cap;
    StrCache cache;
} Reader;

static int
reader_acquire(Reader *self)
{
    return call_lock_acquire(&self->calls, "eventreg._cread.Reader used again from inside its own read()");
}

static void
reader_release(Reader *self)
{
    call_lock_release(&self->calls);
}

static void
reader_close_db(Reader *self)
{
    if (self->stmt != NULL) {
        sq.finalize(self->stmt);
        self->stmt = NULL;
    }
    Py_CLEAR(self->sql);
    if (self->db != NULL) {
        sq.close_v2(self->db);
        self->db = NULL;
    }
}

static PyObject *
reader_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"filename", "uri", "timeout_ms", NULL};
    PyObject *filename = NULL;
    int uri = 0, timeout_ms = 5000;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|pi:Reader", keywords, PyUnicode_FSConverter,
                                     &filename, &uri, &timeout_ms))
        return NULL;
    if (require_bound() < 0) {
        Py_DECREF(filename);
        return NULL;
    }
    Reader *self = (Reader *)type->tp_alloc(type, 0);
    if (self == NULL || connect_object(&self->calls, &self->db, filename, uri, timeout_ms) < 0) {
        if (self == NULL)
            Py_DECREF(filename);
        Py_XDECREF(self);
        return NULL;
    }
    sqlite3 *db = self->db;
    char *message = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.exec(db, "PRAGMA query_only=1", NULL, NULL, &message);
    Py_END_ALLOW_THREADS
    if (rc != SQ_OK) {
        set_sqlite_error(sq.extended_errcode(db), message ? message : sq.errmsg(db));
        sq.free(message);
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
reader_dealloc(Reader *self)
{
    if (sq_handle != NULL)
        reader_close_db(self);
    Py_CLEAR(self->sql);
    str_cache_clear(&self->cache);
    PyMem_Free(self->stamp_buf);
    if (self->calls.lock != NULL)
        PyThread_free_lock(self->calls.lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
reader_close(Reader *self, PyObject *unused)
{
    (void)unused;
    if (reader_acquire(self) < 0)
        return NULL;
    reader_close_db(self);
    str_cache_clear(&self->cache);
    reader_release(self);
    Py_RETURN_NONE;
}

/* __enter__ and __exit__ of a Reader or a Writer: the object itself; its close() */
static PyObject *
enter_self(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *
exit_closing(PyObject *self, PyObject *args)
{
    (void)args;
    return PyObject_CallMethod(self, "close", NULL);
}

/* prepare sql unless it is the statement kept; -1 with an exception on failure */
static int
reader_prepare(Reader *self, PyObject *sql)
{
    if (self->stmt != NULL && (self->sql == sql || PyUnicode_Compare(self->sql, sql) == 0))
        return 0;
    if (PyErr_Occurred())
        return -1;
    if (self->stmt != NULL) {
        sq.finalize(self->stmt);
        self->stmt = NULL;
        Py_CLEAR(self->sql);
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(sql, &n);
    if (text == NULL)
        return -1;
    if (n >= INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "SQL text too long");
        return -1;
    }
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.prepare_v2(self->db, text, (int)n + 1, &stmt, &tail);
    Py_END_ALLOW_THREADS
    if (rc != SQ_OK) {
        set_db_error(self->db);
        sq.finalize(stmt);
        return -1;
    }
    const char *error = NULL;
    if (stmt == NULL)
        error = "the SQL text holds no statement";
    else if (sq.column_count(stmt) != N_COLUMNS)
        error = "read() needs a SELECT of the events table's 11 columns";
    else if (sq.bind_parameter_count(stmt) != 2)
        error = "read() needs a statement with exactly 2 parameters (lo, n)";
    else if (tail != NULL) {
        while (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';')
            tail++;
        if (*tail != '\0')
            error = "read() runs one statement: the SQL text holds more";
    }
    if (error != NULL) {
        sq.finalize(stmt);
        PyErr_SetString(PyExc_ValueError, error);
        return -1;
    }
    self->stmt = stmt;
    Py_INCREF(sql);
    self->sql = sql;
    return 0;
}

/* any column as Python's sqlite3 gives it (text_factory=str) */
static PyObject *
column_value(sqlite3_stmt *stmt, int i)
{
    switch (sq.column_type(stmt, i)) {
    case SQ_INTEGER:
        return PyLong_FromLongLong(sq.column_int64(stmt, i));
    case SQ_FLOAT:
        return PyFloat_FromDouble(sq.column_double(stmt, i));
    case SQ_TEXT: {
        const char *s = (const char *)sq.column_text(stmt, i);
        return PyUnicode_DecodeUTF8(s, sq.column_bytes(stmt, i), NULL);
    }
    case SQ_BLOB: {
        const void *b = sq.column_blob(stmt, i);
        return PyBytes_FromStringAndSize(b, sq.column_bytes(stmt, i));
    }
    default:
        Py_RETURN_NONE;
    }
}

static inline int
same_ascii(PyObject *o, const unsigned char *s, int n)
{
    return o != NULL && PyUnicode_CheckExact(o) && PyUnicode_IS_COMPACT_ASCII(o) && PyUnicode_GET_LENGTH(o) == n
           && memcmp(PyUnicode_1BYTE_DATA(o), s, (size_t)n) == 0;
}

/* a text column; the same str object as `previous` when the text is the same */
static PyObject *
text_column(sqlite3_stmt *stmt, int i, PyObject *previous)
{
    if (sq.column_type(stmt, i) != SQ_TEXT)
        return column_value(stmt, i);
    const unsigned char *s = sq.column_text(stmt, i);
    int n = sq.column_bytes(stmt, i);
    if (same_ascii(previous, s, n)) {
        Py_INCREF(previous);
        return previous;
    }
    return PyUnicode_DecodeUTF8((const char *)s, n, NULL);
}

/* a JSON column: decoded, or fallback(text, position) */
static PyObject *
json_column(Reader *self, sqlite3_stmt *stmt, int i, PyObject *position, PyObject *fallback, int empty_dict)
{
    PyObject *text;
    if (sq.column_type(stmt, i) == SQ_TEXT) {
        const char *s = (const char *)sq.column_text(stmt, i);
        int n = sq.column_bytes(stmt, i);
        if (s == NULL) /* only when out of memory: a TEXT value always has a (NUL-terminated) text */
            return PyErr_NoMemory();
        if (empty_dict && n == 2 && s[0] == '{' && s[1] == '}')
            return PyDict_New();
        PyObject *value = decode_utf8(s, n, &self->cache);
        if (value != NULL || PyErr_Occurred())
            return value;
        text = PyUnicode_DecodeUTF8(s, n, NULL);
    }
    else
        text = column_value(stmt, i);
    if (text == NULL)
        return NULL;
    PyObject *value = PyObject_CallFunctionObjArgs(fallback, text, position, NULL);
    Py_DECREF(text);
    return value;
}

static PyObject *
reader_read(Reader *self, PyObject *args)
{
    PyObject *sql, *record_type, *parse_timestamp, *fallback;
    long long lo, n;
    if (!PyArg_ParseTuple(args, "ULLOOO:read", &sql, &lo, &n, &record_type, &parse_timestamp, &fallback))
        return NULL;
    if (!PyType_Check(record_type) || !PyType_IsSubtype((PyTypeObject *)record_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "record_type must be a subclass of tuple");
        return NULL;
    }
    PyTypeObject *rtype = (PyTypeObject *)record_type;
    if (require_bound() < 0 || reader_acquire(self) < 0)
        return NULL;
    if (self->db == NULL) {
        reader_release(self);
        PyErr_SetString(PyExc_RuntimeError, "the Reader is closed");
        return NULL;
    }
    if (reader_prepare(self, sql) < 0) {
        reader_release(self);
        return NULL;
    }
    sqlite3_stmt *stmt = self->stmt;
    sq.reset(stmt);
    if (sq.bind_int64(stmt, 1, lo) != SQ_OK || sq.bind_int64(stmt, 2, n) != SQ_OK) {
        set_db_error(self->db);
        reader_release(self);
        return NULL;
    }
    /* as _decode_rows: no collector passes over the new objects meanwhile */
    int collecting = PyGC_Disable();
    PyObject *out = PyList_New(0);
    PyObject *stamp = NULL; /* parse_timestamp(text) for the text in stamp_buf */
    Py_ssize_t stamp_len = 0;
    PyObject *previous[N_COLUMNS] = {NULL};   /* borrowed: the items of the last record in out */
    PyObject *v[N_COLUMNS];
    int rc;
    if (out == NULL)
        goto fail;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        rc = sq.step(stmt);
        Py_END_ALLOW_THREADS
        if (rc != SQ_ROW)
            break;
        memset(v, 0, sizeof(v));
        v[C_POSITION] = column_value(stmt, C_POSITION);
        if (v[C_POSITION] == NULL)
            goto fail_row;
        if ((v[C_STREAM_ID] = text_column(stmt, C_STREAM_ID, previous[C_STREAM_ID])) == NULL
                || (v[C_STREAM_VERSION] = column_value(stmt, C_STREAM_VERSION)) == NULL
                || (v[C_TYPE] = text_column(stmt, C_TYPE, previous[C_TYPE])) == NULL
                || (v[C_SCHEMA_VERSION] = column_value(stmt, C_SCHEMA_VERSION)) == NULL)
            goto fail_row;
        /* recorded_at: parsed only when it differs from the previous row's */
        if (sq.column_type(stmt, C_RECORDED_AT) == SQ_TEXT) {
            const char *s = (const char *)sq.column_text(stmt, C_RECORDED_AT);
            Py_ssize_t len = sq.column_bytes(stmt, C_RECORDED_AT);
            if (stamp == NULL || len != stamp_len || memcmp(s, self->stamp_buf, (size_t)len) != 0) {
                Py_CLEAR(stamp);
                if (self->stamp_buf == NULL || len > self->stamp_cap) {
                    char *grown = PyMem_Realloc(self->stamp_buf, (size_t)len + 1);
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        goto fail_row;
                    }
                    self->stamp_buf = grown;
                    self->stamp_cap = len;
                }
                memcpy(self->stamp_buf, s, (size_t)len);
                PyObject *text = PyUnicode_DecodeUTF8(s, len, NULL);
                if (text == NULL)
                    goto fail_row;
                stamp = PyObject_CallOneArg(parse_timestamp, text);
                Py_DECREF(text);
                if (stamp == NULL)
                    goto fail_row;
                stamp_len = len;
            }
            Py_INCREF(stamp);
            v[C_RECORDED_AT] = stamp;
        }
        else {
            Py_CLEAR(stamp);
            PyObject *value = column_value(stmt, C_RECORDED_AT);
            if (value == NULL)
                goto fail_row;
            v[C_RECORDED_AT] = PyObject_CallOneArg(parse_timestamp, value);
            Py_DECREF(value);
            if (v[C_RECORDED_AT] == NULL)
                goto fail_row;
        }
        if ((v[C_ACTOR] = text_column(stmt, C_ACTOR, previous[C_ACTOR])) == NULL
                || (v[C_PAYLOAD] = json_column(self, stmt, C_PAYLOAD, v[C_POSITION], fallback, 0)) == NULL
                || (v[C_METADATA] = json_column(self, stmt, C_METADATA, v[C_POSITION], fallback, 1)) == NULL
                || (v[C_PREV_HASH] = text_column(stmt, C_PREV_HASH, previous[C_HASH])) == NULL
                || (v[C_HASH] = text_column(stmt, C_HASH, NULL)) == NULL)
            goto fail_row;
        /* what tuple.__new__(record_type, v) does: tuple_subtype_new allocates the
         * subtype with tp_alloc and fills in the items */
        PyObject *record = rtype == &PyTuple_Type ? PyTuple_New(N_COLUMNS) : rtype->tp_alloc(rtype, N_COLUMNS);
        if (record == NULL)
            goto fail_row;
        for (int i = 0; i < N_COLUMNS; i++) {
            PyTuple_SET_ITEM(record, i, v[i]); /* steals */
            previous[i] = v[i];
        }
        int appended = PyList_Append(out, record);
        Py_DECREF(record);
        if (appended < 0)
            goto fail;
    }
    if (rc != SQ_DONE) {
        set_db_error(self->db);
        goto fail;
    }
    sq.reset(stmt); /* ends the read transaction */
    Py_XDECREF(stamp);
    if (collecting)
        PyGC_Enable();
    reader_release(self);
    return out;

fail_row:
    for (int i = 0; i < N_COLUMNS; i++)
        Py_XDECREF(v[i]);
fail:
    sq.reset(stmt);
    Py_XDECREF(stamp);
    Py_XDECREF(out);
    if (collecting)
        PyGC_Enable();
    reader_release(self);
    return NULL;
}

static PyMethodDef reader_methods[] = {
    {"read", (PyCFunction)reader_read, METH_VARARGS,
     "read(sql, lo, n, record_type, parse_timestamp, fallback) -> list\n\n"
     "Run sql (a SELECT of the events table's 11 columns with 2 parameters, bound to lo\n"
     "and n; kept prepared for the next call with the same text) and return its rows as\n"
     "record_type tuples: recorded_at = parse_timestamp(text) (called once per run of equal\n"
     "texts), payload and metadata decoded JSON ('{}' metadata -> a new dict); JSON text the\n"
     "decoder does not accept goes to fallback(text, position), whose result is used and\n"
     "whose exceptions propagate. SQLite errors raise Error. One read or close at a time\n"
     "per Reader (others wait); the cyclic GC is paused during the call."},
    {"close", (PyCFunction)reader_close, METH_NOARGS, "Close the connection (idempotent)."},
    {"__enter__", enter_self, METH_NOARGS, NULL},
    {"__exit__", exit_closing, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "eventreg._cread.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(filename, uri=False, timeout_ms=5000)\n\n"
              "A SQLite connection for reading events: opened read-write without create (a\n"
              "missing file raises Error), busy timeout timeout_ms, PRAGMA query_only=1.",
    .tp_methods = reader_methods,
    .tp_new = reader_new,
};

/* -- Writer ------------------------------------------------------------------------ */

/*
 * A read-write connection that appends: append(chunks) runs BEGIN IMMEDIATE, one
 * INSERT per chunk and COMMIT, all in C. Each chunk's parameters are bound while the
 * GIL is held; the GIL is then released for BEGIN (the first chunk), the chunk's step
 * and COMMIT (the last chunk), so a one-chunk append releases it once. str and bytes
 * are bound SQLITE_STATIC (no copy): the Writer holds a reference to each bound object
 * until the statement is reset and its bindings cleared, so another thread changing
 * the caller's lists meanwhile cannot free them.
 */

#define WRITER_CACHE 16 /* prepared INSERT statements kept per Writer */
#define WRITER_MSG 512  /* an error message seen without the GIL, truncated to this */

typedef struct {
    PyObject *sql;            /* its text (a str); NULL: a free slot */
    sqlite3_stmt *stmt;
    int nparams;
    unsigned long long used;  /* tick of the last use: the least recent is replaced */
} CachedStatement;

typedef struct {
    PyObject_HEAD
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *rollback;
    CachedStatement cache[WRITER_CACHE];
    unsigned long long tick;
    PyObject **held;           /* the str/bytes bound to the statement being run */
    Py_ssize_t n_held, held_cap;
    CallLock calls;            /* one append (or pragma, close) at a time */
    int err_code;              /* the error met without the GIL: extended code, message */
    char err_msg[WRITER_MSG];
    /* the database's data version right after this Writer's last COMMIT (SQLite changes it
     * on every commit by any connection, this one included): while it is unchanged, the
     * database is as that commit left it */
    unsigned int data_version;
    int data_version_known;
    unsigned long long guards_skipped; /* for tests */
} Writer;

/* what writer_run met */
enum { RUN_OK, RUN_SHORT, RUN_CONFLICT, RUN_MORE, RUN_ROW, RUN_ERROR };

static int
writer_acquire(Writer *self)
{
    return call_lock_acquire(&self->calls, "eventreg._cread.Writer used again from inside its own call");
}

static void
writer_release(Writer *self)
{
    call_lock_release(&self->calls);
}

static int
writer_open_check(Writer *self)
{
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Writer is closed");
        return -1;
    }
    return 0;
}

static void
writer_close_db(Writer *self)
{
    for (int i = 0; i < WRITER_CACHE; i++) {
        CachedStatement *c = &self->cache[i];
        if (c->stmt != NULL)
            sq.finalize(c->stmt);
        c->stmt = NULL;
        Py_CLEAR(c->sql);
    }
    sqlite3_stmt **own[] = {&self->begin, &self->commit, &self->rollback};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        if (*own[i] != NULL)
            sq.finalize(*own[i]);
        *own[i] = NULL;
    }
    if (self->db != NULL) {
        sq.close_v2(self->db); /* rolls back a transaction left open */
        self->db = NULL;
    }
}

/* copy the connection's error (no Python objects: callable without the GIL) */
static void
writer_capture(Writer *self)
{
    const char *m = sq.errmsg(self->db);
    if (m == NULL)
        m = "unknown error";
    size_t n = strlen(m);
    if (n >= WRITER_MSG)
        n = WRITER_MSG - 1;
    memcpy(self->err_msg, m, n);
    self->err_msg[n] = '\0';
    self->err_code = sq.extended_errcode(self->db);
}

static void
writer_raise_captured(Writer *self)
{
    set_sqlite_error(self->err_code, self->err_msg);
}

/* ROLLBACK when a transaction is open; with the GIL (released meanwhile) */
static void
writer_rollback(Writer *self)
{
    if (sq.get_autocommit(self->db))
        return;
    Py_BEGIN_ALLOW_THREADS
    sq.step(self->rollback);
    sq.reset(self->rollback);
    if (!sq.get_autocommit(self->db)) /* once more, parsed afresh; else the next append retries */
        sq.exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    Py_END_ALLOW_THREADS
}

static void
writer_drop_held(Writer *self)
{
    for (Py_ssize_t i = 0; i < self->n_held; i++)
        Py_DECREF(self->held[i]);
    self->n_held = 0;
}

/* a statement of the Writer's own (BEGIN, COMMIT ...), prepared once; -1 with an exception */
static int
writer_prepare_own(Writer *self, const char *sql, sqlite3_stmt **out)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.prepare_v2(self->db, sql, -1, out, NULL);
    Py_END_ALLOW_THREADS
    if (rc != SQ_OK) {
        set_db_error(self->db);
        return -1;
    }
    return 0;
}

static int
writer_exec(Writer *self, const char *sql)
{
    char *message = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.exec(self->db, sql, NULL, NULL, &message);
    Py_END_ALLOW_THREADS
    if (rc != SQ_OK) {
        set_sqlite_error(sq.extended_errcode(self->db), message ? message : sq.errmsg(self->db));
        sq.free(message);
        return -1;
    }
    return 0;
}

static PyObject *
writer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"filename", "uri", "timeout_ms", "synchronous", "wal_autocheckpoint", NULL};
    static const char *levels[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
    PyObject *filename = NULL, *level = NULL;
    int uri = 0, timeout_ms = 5000, wal_autocheckpoint = 1000;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|piUi:Writer", keywords, PyUnicode_FSConverter,
                                     &filename, &uri, &timeout_ms, &level, &wal_autocheckpoint))
        return NULL;
    if (require_bound() < 0) {
        Py_DECREF(filename);
        return NULL;
    }
    const char *synchronous = "FULL";
    if (level != NULL) {
        synchronous = NULL;
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
            if (PyUnicode_CompareWithASCIIString(level, levels[i]) == 0)
                synchronous = levels[i];
        if (synchronous == NULL) {
            Py_DECREF(filename);
            PyErr_Format(PyExc_ValueError, "synchronous must be OFF, NORMAL, FULL or EXTRA, not %R", level);
            return NULL;
        }
    }
    Writer *self = (Writer *)type->tp_alloc(type, 0);
    if (self == NULL || connect_object(&self->calls, &self->db, filename, uri, timeout_ms) < 0) {
        if (self == NULL)
            Py_DECREF(filename);
        Py_XDECREF(self);
        return NULL;
    }
    sqlite3 *db = self->db;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", synchronous);
    if (writer_exec(self, sql) < 0)
        goto fail;
    snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint=%d", wal_autocheckpoint);
    if (writer_exec(self, sql) < 0)
        goto fail;
    /* the log puts its file in WAL mode once and for all; a Writer only checks */
    sqlite3_stmt *stmt = NULL;
    if (writer_prepare_own(self, "PRAGMA journal_mode", &stmt) < 0)
        goto fail;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.step(stmt);
    Py_END_ALLOW_THREADS
    if (rc != SQ_ROW) {
        set_db_error(db);
        sq.finalize(stmt);
        goto fail;
    }
    const char *mode = (const char *)sq.column_text(stmt, 0);
    int wal = mode != NULL && (mode[0] | 0x20) == 'w' && (mode[1] | 0x20) == 'a' && (mode[2] | 0x20) == 'l'
              && mode[3] == '\0';
    if (!wal) {
        char message[128];
        snprintf(message, sizeof(message), "the database is in journal_mode %.40s, not wal", mode ? mode : "?");
        set_sqlite_error(SQ_ERROR, message);
    }
    sq.finalize(stmt);
    if (!wal)
        goto fail;
    if (writer_prepare_own(self, "BEGIN IMMEDIATE", &self->begin) < 0
            || writer_prepare_own(self, "COMMIT", &self->commit) < 0
            || writer_prepare_own(self, "ROLLBACK", &self->rollback) < 0)
        goto fail;
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

static void
writer_dealloc(Writer *self)
{
    if (sq_handle != NULL)
        writer_close_db(self);
    writer_drop_held(self); /* empty: append drops them before it returns */
    PyMem_Free(self->held);
    if (self->calls.lock != NULL)
        PyThread_free_lock(self->calls.lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
writer_close(Writer *self, PyObject *unused)
{
    (void)unused;
    if (writer_acquire(self) < 0)
        return NULL;
    writer_close_db(self);
    writer_release(self);
    Py_RETURN_NONE;
}

/* the prepared statement for sql (kept in the cache); NULL with an exception */
static CachedStatement *
writer_statement(Writer *self, PyObject *sql, int query)
{
    CachedStatement *c, *end = self->cache + WRITER_CACHE;
    for (c = self->cache; c < end; c++)
        if (c->sql == sql)
            goto found;
    Py_ssize_t length = PyUnicode_GET_LENGTH(sql);
    for (c = self->cache; c < end; c++)
        if (c->sql != NULL && PyUnicode_GET_LENGTH(c->sql) == length && PyUnicode_Compare(c->sql, sql) == 0)
            goto found;
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(sql, &n);
    if (text == NULL)
        return NULL;
    if (n >= INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "SQL text too long");
        return NULL;
    }
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sq.prepare_v2(self->db, text, (int)n + 1, &stmt, &tail);
    Py_END_ALLOW_THREADS
    if (rc != SQ_OK) {
        writer_capture(self);
        sq.finalize(stmt);
        writer_raise_captured(self);
        return NULL;
    }
    const char *error = NULL;
    if (stmt == NULL)
        error = "the SQL text holds no statement";
    else if (sq.stmt_readonly(stmt) != query)
        error = query ? "append()'s guard is a query (SELECT ...)"
                      : "append() runs statements that write (INSERT ...), not queries or transaction control";
    else if (tail != NULL) {
        while (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';')
            tail++;
        if (*tail != '\0')
            error = "append() runs one statement per chunk: the SQL text holds more";
    }
    if (error != NULL) {
        sq.finalize(stmt);
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    /* a free slot, or the least recently used */
    CachedStatement *slot = self->cache;
    for (c = self->cache; c < end && slot->sql != NULL; c++)
        if (c->sql == NULL || c->used < slot->used)
            slot = c;
    if (slot->stmt != NULL)
        sq.finalize(slot->stmt);
    Py_INCREF(sql);
    Py_XSETREF(slot->sql, sql);
    slot->stmt = stmt;
    slot->nparams = sq.bind_parameter_count(stmt);
    c = slot;
found:
    if (sq.stmt_readonly(c->stmt) != query) { /* kept from a call that used it the other way */
        PyErr_SetString(PyExc_ValueError, query ? "append()'s guard is a query (SELECT ...)"
                                                : "append() runs statements that write (INSERT ...), not queries");
        return NULL;
    }
    c->used = ++self->tick;
    return c;
}

/* bind params[0:count] to stmt; -1 with an exception (bindings then cleared, none held) */
static int
writer_bind(Writer *self, sqlite3_stmt *stmt, PyObject *const *items, Py_ssize_t count, Py_ssize_t chunk)
{
    if (self->n_held + count > self->held_cap) { /* a guard's may be held already */
        PyObject **grown = PyMem_Realloc(self->held, (size_t)(self->n_held + count) * sizeof(PyObject *));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->held = grown;
        self->held_cap = self->n_held + count;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *v = items[k];
        int i = (int)k + 1, rc;
        if (PyUnicode_Check(v)) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(v, &n); /* kept by the str while it lives */
            if (s == NULL)
                goto fail;
            if (n > INT_MAX) {
                PyErr_SetString(PyExc_OverflowError, "str parameter too long to bind");
                goto fail;
            }
            Py_INCREF(v);
            self->held[self->n_held++] = v;
            rc = sq.bind_text(stmt, i, s, (int)n, SQ_STATIC);
        }
        else if (PyLong_Check(v)) {
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow) {
                PyErr_Format(PyExc_OverflowError, "parameter %zd of chunk %zd does not fit SQLite's 64-bit "
                             "INTEGER", k, chunk);
                goto fail;
            }
            if (x == -1 && PyErr_Occurred())
                goto fail;
            rc = sq.bind_int64(stmt, i, x);
        }
        else if (v == Py_None)
            rc = sq.bind_null(stmt, i);
        else if (PyFloat_Check(v))
            rc = sq.bind_double(stmt, i, PyFloat_AS_DOUBLE(v));
        else if (PyBytes_Check(v)) {
            if (PyBytes_GET_SIZE(v) > INT_MAX) {
                PyErr_SetString(PyExc_OverflowError, "bytes parameter too long to bind");
                goto fail;
            }
            Py_INCREF(v);
            self->held[self->n_held++] = v;
            rc = sq.bind_blob(stmt, i, PyBytes_AS_STRING(v), (int)PyBytes_GET_SIZE(v), SQ_STATIC);
        }
        else {
            PyErr_Format(PyExc_TypeError, "parameter %zd of chunk %zd is a %.200s: append() binds int, float, "
                         "str, bytes and None", k, chunk, Py_TYPE(v)->tp_name);
            goto fail;
        }
        if (rc != SQ_OK) {
            writer_capture(self);
            writer_raise_captured(self);
            goto fail;
        }
    }
    return 0;
fail:
    sq.clear_bindings(stmt);
    writer_drop_held(self);
    return -1;
}

/* BEGIN IMMEDIATE (when begin), the chunk's statement, COMMIT (when commit, and the
 * chunk changed exactly rows rows). Called WITHOUT the GIL: no Python objects here.
 * Every statement is reset, the chunk's bindings cleared, errors captured. */
static int
writer_run(Writer *self, sqlite3_stmt *stmt, int rows, int begin, int commit)
{
    int rc, outcome = RUN_OK;
    if (begin) {
        rc = sq.step(self->begin);
        if (rc != SQ_DONE)
            writer_capture(self);
        sq.reset(self->begin);
        if (rc != SQ_DONE) {
            sq.clear_bindings(stmt);
            return RUN_ERROR;
        }
    }
    rc = sq.step(stmt);
    if (rc == SQ_DONE) {
        int changed = sq.changes(self->db);
        if (changed != rows)
            outcome = changed < rows ? RUN_SHORT : RUN_MORE;
    }
    else if (rc == SQ_ROW)
        outcome = RUN_ROW;
    else {
        writer_capture(self);
        int code = self->err_code;
        outcome = (code == SQ_CONSTRAINT_PRIMARYKEY || code == SQ_CONSTRAINT_UNIQUE || code == SQ_CONSTRAINT_ROWID)
                      ? RUN_CONFLICT : RUN_ERROR;
    }
    sq.reset(stmt);
    sq.clear_bindings(stmt);
    if (outcome == RUN_OK && commit) {
        rc = sq.step(self->commit);
        if (rc != SQ_DONE) {
            writer_capture(self);
            outcome = RUN_ERROR;
        }
        sq.reset(self->commit);
        if (outcome == RUN_OK)
            self->data_version_known =
                sq.file_control(self->db, "main", SQ_FCNTL_DATA_VERSION, &self->data_version) == SQ_OK;
    }
    return outcome;
}

/* BEGIN IMMEDIATE, then the guard query: RUN_OK if its first row's first column is
 * exactly the expected text, RUN_SHORT if not (or no row). With skip_if_unchanged, the
 * query is not run (RUN_OK) when the data version shows that no connection has
 * committed since this Writer's last COMMIT. Called WITHOUT the GIL. */
static int
writer_run_guard(Writer *self, sqlite3_stmt *stmt, const char *expected, Py_ssize_t length,
                 int skip_if_unchanged)
{
    int rc = sq.step(self->begin), outcome;
    if (rc != SQ_DONE)
        writer_capture(self);
    sq.reset(self->begin);
    if (rc != SQ_DONE) {
        sq.clear_bindings(stmt);
        return RUN_ERROR;
    }
    unsigned int version;
    if (skip_if_unchanged && self->data_version_known   /* BEGIN IMMEDIATE has read it */
        && sq.file_control(self->db, "main", SQ_FCNTL_DATA_VERSION, &version) == SQ_OK
        && version == self->data_version) {
        self->guards_skipped++;
        sq.clear_bindings(stmt);
        return RUN_OK;
    }
    rc = sq.step(stmt);
    if (rc == SQ_ROW) {
        const unsigned char *text = sq.column_text(stmt, 0);
        outcome = text != NULL && sq.column_bytes(stmt, 0) == length && memcmp(text, expected, (size_t)length) == 0
                      ? RUN_OK : RUN_SHORT;
    }
    else if (rc == SQ_DONE)
        outcome = RUN_SHORT;
    else {
        writer_capture(self);
        outcome = RUN_ERROR;
    }
    sq.reset(stmt);
    sq.clear_bindings(stmt);
    return outcome;
}

/* one INSERT of a transaction: its SQL (a str), its parameters (a list or tuple, bound
 * under the GIL just before the statement runs) and the rows it must insert */
typedef struct {
    PyObject *sql, *params;
    int rows;
} WriteChunk;

/* the query run first in a transaction: its SQL, parameters (a list or tuple) and the
 * text its first row's first column must be (a str); see append's doc */
typedef struct {
    PyObject *sql, *params, *expected;
    int skip_if_unchanged;
} WriteGuard;

/* find chunk i's statement and bind its parameters; -1 with an exception (none bound) */
static int
writer_bind_chunk(Writer *self, const WriteChunk *chunk, Py_ssize_t i, sqlite3_stmt **stmt)
{
    CachedStatement *c = writer_statement(self, chunk->sql, 0);
    if (c == NULL)
        return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(chunk->params);
    if (count != c->nparams) {
        PyErr_Format(PyExc_ValueError, "chunk %zd has %zd parameters; its SQL takes %d", i, count, c->nparams);
        return -1;
    }
    if (writer_bind(self, c->stmt, PySequence_Fast_ITEMS(chunk->params), count, i) < 0)
        return -1;
    *stmt = c->stmt;
    return 0;
}

/* the transaction: BEGIN IMMEDIATE, the guard (if any), each chunk, COMMIT, holding the
 * Writer's call lock. 1: committed; 0: refused (the guard's text differs, a chunk
 * inserted fewer rows, a PRIMARY KEY or UNIQUE conflict), rolled back; -1 with an
 * exception, rolled back. */
static int
writer_transact(Writer *self, const WriteGuard *guard, const WriteChunk *chunks, Py_ssize_t n)
{
    if (writer_acquire(self) < 0)
        return -1;
    int result = -1;
    if (writer_open_check(self) < 0)
        goto done;
    writer_rollback(self); /* only after a ROLLBACK that failed: a transaction left open */
    int outcome = RUN_OK, begun = 0;
    if (guard != NULL) {
        CachedStatement *g = writer_statement(self, guard->sql, 1);
        if (g == NULL)
            goto fail;
        Py_ssize_t count = PySequence_Fast_GET_SIZE(guard->params);
        if (count != g->nparams) {
            PyErr_Format(PyExc_ValueError, "the guard has %zd parameters; its SQL takes %d", count, g->nparams);
            goto fail;
        }
        Py_ssize_t length;
        const char *expected = PyUnicode_AsUTF8AndSize(guard->expected, &length);
        if (expected == NULL)
            goto fail;
        if (writer_bind(self, g->stmt, PySequence_Fast_ITEMS(guard->params), count, -1) < 0)
            goto fail;
        sqlite3_stmt *stmt = g->stmt;
        int skip = guard->skip_if_unchanged;
        if (n == 1) {
            /* the common case, one chunk: the whole transaction in one release of the GIL */
            sqlite3_stmt *insert;
            if (writer_bind_chunk(self, &chunks[0], 0, &insert) < 0) {
                sq.clear_bindings(stmt);
                writer_drop_held(self);
                goto fail;
            }
            int rows = chunks[0].rows;
            Py_BEGIN_ALLOW_THREADS
            outcome = writer_run_guard(self, stmt, expected, length, skip);
            if (outcome == RUN_OK)
                outcome = writer_run(self, insert, rows, 0, 1);
            else
                sq.clear_bindings(insert);
            Py_END_ALLOW_THREADS
        }
        else {
            Py_BEGIN_ALLOW_THREADS
            outcome = writer_run_guard(self, stmt, expected, length, skip);
            Py_END_ALLOW_THREADS
        }
        writer_drop_held(self);
        begun = 1;
    }
    for (Py_ssize_t i = begun && n == 1 ? 1 : 0; i < n && outcome == RUN_OK; i++) {
        sqlite3_stmt *stmt;
        if (writer_bind_chunk(self, &chunks[i], i, &stmt) < 0)
            goto fail;
        int rows = chunks[i].rows, begin = i == 0 && !begun, commit = i == n - 1;
        Py_BEGIN_ALLOW_THREADS
        outcome = writer_run(self, stmt, rows, begin, commit);
        Py_END_ALLOW_THREADS
        writer_drop_held(self);
    }
    if (begun && n == 0 && outcome == RUN_OK)
        writer_rollback(self); /* a guard and nothing to insert: end the transaction */
    if (outcome != RUN_OK)
        self->data_version_known = 0; /* run the guard next time */
    switch (outcome) {
    case RUN_OK:
        result = 1;
        goto done;
    case RUN_SHORT:
    case RUN_CONFLICT: /* the head or the stream moved: the caller reads them again */
        writer_rollback(self);
        result = 0;
        goto done;
    case RUN_MORE:
        writer_rollback(self);
        PyErr_SetString(PyExc_ValueError, "a chunk changed more rows than it said");
        goto done;
    case RUN_ROW:
        writer_rollback(self);
        PyErr_SetString(PyExc_ValueError, "a chunk's statement returned rows");
        goto done;
    default:
        writer_rollback(self);
        writer_raise_captured(self);
        goto done;
    }
fail: /* an exception is set */
    {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        self->data_version_known = 0;
        writer_rollback(self);
        PyErr_Restore(type, value, traceback);
    }
done:
    writer_release(self);
    return result;
}

/* chunk i of append()'s argument, (sql, params, rows), as a WriteChunk (borrowed
 * references); -1 with an exception */
static int
writer_parse_chunk(PyObject *chunk, Py_ssize_t i, WriteChunk *out)
{
    if (!(PyTuple_Check(chunk) || PyList_Check(chunk)) || PySequence_Fast_GET_SIZE(chunk) != 3) {
        PyErr_Format(PyExc_TypeError, "chunk %zd is not a (sql, params, rows) tuple", i);
        return -1;
    }
    PyObject **parts = PySequence_Fast_ITEMS(chunk);
    PyObject *sql = parts[0], *params = parts[1], *rows_obj = parts[2];
    if (!PyUnicode_Check(sql) || !(PyList_Check(params) || PyTuple_Check(params)) || !PyLong_Check(rows_obj)) {
        PyErr_Format(PyExc_TypeError, "chunk %zd: (sql, params, rows) must be a str, a list and an int", i);
        return -1;
    }
    long rows = PyLong_AsLong(rows_obj);
    if (rows == -1 && PyErr_Occurred())
        return -1;
    if (rows < 0 || rows > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "chunk %zd: rows must be from 0 to %d", i, INT_MAX);
        return -1;
    }
    out->sql = sql;
    out->params = params;
    out->rows = (int)rows;
    return 0;
}

static PyObject *
writer_append(Writer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "append() takes from 1 to 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *chunks = args[0], *guard = nargs > 1 ? args[1] : Py_None;
    int skip_if_unchanged = nargs > 2 ? PyObject_IsTrue(args[2]) : 0;
    if (skip_if_unchanged < 0)
        return NULL;
    if (guard != Py_None && (!PyTuple_Check(guard) || PyTuple_GET_SIZE(guard) != 3
                             || !PyUnicode_Check(PyTuple_GET_ITEM(guard, 0))
                             || !(PyList_Check(PyTuple_GET_ITEM(guard, 1)) || PyTuple_Check(PyTuple_GET_ITEM(guard, 1)))
                             || !PyUnicode_Check(PyTuple_GET_ITEM(guard, 2)))) {
        PyErr_SetString(PyExc_TypeError, "guard must be None or a (sql, params, expected text) tuple");
        return NULL;
    }
    if (!PyList_Check(chunks) && !PyTuple_Check(chunks)) {
        PyErr_Format(PyExc_TypeError, "append() needs a list of (sql, params, rows), not %.200s",
                     Py_TYPE(chunks)->tp_name);
        return NULL;
    }
    /* a snapshot: the transaction ends with the chunk that was last when append began */
    PyObject *seq = PySequence_Tuple(chunks);
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    WriteChunk one[1], *parsed = n <= 1 ? one : PyMem_New(WriteChunk, (size_t)n);
    int done = -1;
    if (parsed == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (writer_parse_chunk(PyTuple_GET_ITEM(seq, i), i, &parsed[i]) < 0)
            goto end;
    WriteGuard g;
    if (guard != Py_None) {
        g.sql = PyTuple_GET_ITEM(guard, 0);
        g.params = PyTuple_GET_ITEM(guard, 1);
        g.expected = PyTuple_GET_ITEM(guard, 2);
        g.skip_if_unchanged = skip_if_unchanged;
    }
    done = writer_transact(self, guard != Py_None ? &g : NULL, parsed, n);
end:
    if (parsed != one)
        PyMem_Free(parsed);
    Py_DECREF(seq);
    return done < 0 ? NULL : PyBool_FromLong(done);
}

static PyObject *
writer_pragma(Writer *self, PyObject *args)
{
    PyObject *name, *value = Py_None;
    if (!PyArg_ParseTuple(args, "U|O:pragma", &name, &value))
        return NULL;
    long long number = 0;
    if (value != Py_None) {
        if (!PyLong_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "pragma() sets int values only");
            return NULL;
        }
        number = PyLong_AsLongLong(value);
        if (number == -1 && PyErr_Occurred())
            return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL)
        return NULL;
    int ok = n > 0 && n <= 64;
    for (Py_ssize_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_';
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "not a pragma name: %R", name);
        return NULL;
    }
    char sql[112];
    if (value == Py_None)
        snprintf(sql, sizeof(sql), "PRAGMA %s", s);
    else
        snprintf(sql, sizeof(sql), "PRAGMA %s=%lld", s, number);
    if (writer_acquire(self) < 0)
        return NULL;
    PyObject *result = NULL;
    sqlite3_stmt *stmt = NULL;
    if (writer_open_check(self) < 0 || writer_prepare_own(self, sql, &stmt) < 0)
        goto done;
    int rc = SQ_DONE;
    if (stmt != NULL) {
        Py_BEGIN_ALLOW_THREADS
        rc = sq.step(stmt);
        Py_END_ALLOW_THREADS
    }
    if (rc == SQ_ROW)
        result = column_value(stmt, 0);
    else if (rc == SQ_DONE)
        result = Py_NewRef(Py_None);
    else
        set_db_error(self->db);
done:
    if (stmt != NULL)
        sq.finalize(stmt);
    writer_release(self);
    return result;
}

static PyMethodDef writer_methods[] = {
    {"append", (PyCFunction)(void (*)(void))writer_append, METH_FASTCALL,
     "append(chunks, guard=None, skip_if_unchanged=False) -> bool\n\n"
     "guard: None or (sql, params, expected): a query run first in the transaction; unless\n"
     "its first row's first column is the text expected, append returns False (nothing\n"
     "written). skip_if_unchanged: the guard states what this Writer's last append left;\n"
     "it is not run when no connection has committed since (SQLite's data version, read\n"
     "after BEGIN IMMEDIATE, is what that COMMIT left; counted in guards_skipped).\n"
     "chunks: a list of (sql, params, rows): an INSERT, its parameters (a list of int,\n"
     "float, str, bytes or None, as many as the SQL takes) and the rows it must insert.\n"
     "Runs BEGIN IMMEDIATE, each chunk, COMMIT, and returns True. Returns False, having\n"
     "rolled back, when a chunk inserts fewer rows than it says (a guard refused it) or\n"
     "breaks a PRIMARY KEY or UNIQUE constraint (the log moved: read its head again).\n"
     "Raises, having rolled back, Error (.code: SQLite's extended result code) on any\n"
     "other SQLite error: busy after the timeout, I/O, a full disk, a read-only file, other\n"
     "constraints (NOT NULL, CHECK, a trigger's RAISE(ABORT) = SQLITE_CONSTRAINT_TRIGGER),\n"
     "a failed COMMIT; TypeError/OverflowError for a parameter that does not bind;\n"
     "ValueError for a malformed chunk (parameter count, a query, several statements).\n"
     "Nothing is written unless it returns True. Prepared statements are kept by SQL text\n"
     "(16 per Writer). One call at a time per Writer (others wait)."},
    {"pragma", (PyCFunction)writer_pragma, METH_VARARGS,
     "pragma(name, value=None) -> value\n\n"
     "Run PRAGMA name (or PRAGMA name=value, value an int) on the Writer's connection and\n"
     "return the first column of its first row, or None (for tests and diagnostics)."},
    {"close", (PyCFunction)writer_close, METH_NOARGS, "Close the connection (idempotent)."},
    {"__enter__", enter_self, METH_NOARGS, NULL},
    {"__exit__", exit_closing, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef writer_members[] = {
    {"guards_skipped", T_ULONGLONG, offsetof(Writer, guards_skipped), READONLY,
     "appends whose guard was not run: nothing was committed since this Writer's last (for tests)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "eventreg._cread.Writer",
    .tp_basicsize = sizeof(Writer),
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Writer(filename, uri=False, timeout_ms=5000, synchronous='FULL', wal_autocheckpoint=1000)\n\n"
              "A SQLite connection for appends: opened read-write without create (a missing file\n"
              "raises Error), busy timeout timeout_ms, PRAGMA synchronous (OFF, NORMAL, FULL or\n"
              "EXTRA, else ValueError) and wal_autocheckpoint; the database must already be in WAL\n"
              "mode (else Error).",
    .tp_methods = writer_methods,
    .tp_members = writer_members,
    .tp_new = writer_new,
};

/* -- Appender: a SQLite log's append state and its common append, in one call ----------- */

/* bumped in a forked child: a Writer opened before the fork is not used after it */
static unsigned long fork_generation;

static void
after_fork_in_child(void)
{
    fork_generation++;
}

typedef struct {
    PyObject_HEAD
    CallLock calls;           /* the log's write lock: the Python path takes it with `with` */
    PyObject *versions;       /* dict: stream id -> its version, known current at the head */
    long long position;       /* the head this log last committed (or read): position... */
    PyObject *hash;           /* ...and hash (a str); NULL: the head is not known */
    int own;                  /* the head is the writer's last commit: its guard may be skipped */
    int writes;               /* 0 once the writer could not be opened: append() passes */
    Writer *writer;           /* opened by opener() in this process, or NULL */
    unsigned long writer_generation;
    PyObject *opener, *prepare, *seal, *insert_texts, *insert_chunks, *guard_sql, *any;
    Py_ssize_t columns, hash_column, max_stream_id;
} Appender;

static PyObject *
appender_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"opener", "prepare", "seal", "insert_texts", "insert_chunks", "guard_sql", "any",
                               "columns", "hash_column", "max_stream_id", NULL};
    PyObject *opener, *prepare, *seal, *insert_texts, *insert_chunks, *guard_sql, *any;
    Py_ssize_t columns, hash_column, max_stream_id;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO!OUOnnn:Appender", keywords, &opener, &prepare, &seal,
                                     &PyTuple_Type, &insert_texts, &insert_chunks, &guard_sql, &any, &columns,
                                     &hash_column, &max_stream_id))
        return NULL;
    if (columns < 1 || hash_column < 0 || hash_column >= columns || max_stream_id < 1) {
        PyErr_SetString(PyExc_ValueError, "Appender: columns, hash_column or max_stream_id out of range");
        return NULL;
    }
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(insert_texts); i++)
        if (!PyUnicode_Check(PyTuple_GET_ITEM(insert_texts, i))) {
            PyErr_SetString(PyExc_TypeError, "Appender: insert_texts[n] must be the str of an n-row INSERT");
            return NULL;
        }
    Appender *self = (Appender *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->calls.lock = PyThread_allocate_lock();
    self->versions = PyDict_New();
    if (self->calls.lock == NULL || self->versions == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->writes = 1;
    self->opener = Py_NewRef(opener);
    self->prepare = Py_NewRef(prepare);
    self->seal = Py_NewRef(seal);
    self->insert_texts = Py_NewRef(insert_texts);
    self->insert_chunks = Py_NewRef(insert_chunks);
    self->guard_sql = Py_NewRef(guard_sql);
    self->any = Py_NewRef(any);
    self->columns = columns;
    self->hash_column = hash_column;
    self->max_stream_id = max_stream_id;
    return (PyObject *)self;
}

static void
appender_dealloc(Appender *self)
{
    /* a writer inherited through fork is closed in the child too (as before this type
     * existed): only the child's copies of its file descriptors and locks go */
    Py_XDECREF(self->writer);
    Py_XDECREF(self->versions);
    Py_XDECREF(self->hash);
    Py_XDECREF(self->opener);
    Py_XDECREF(self->prepare);
    Py_XDECREF(self->seal);
    Py_XDECREF(self->insert_texts);
    Py_XDECREF(self->insert_chunks);
    Py_XDECREF(self->guard_sql);
    Py_XDECREF(self->any);
    if (self->calls.lock != NULL)
        PyThread_free_lock(self->calls.lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
appender_acquire(Appender *self)
{
    return call_lock_acquire(&self->calls, "the log's write lock is already held by this thread");
}

/* this process's writer, opened if need be (holding the lock); NULL, with no exception,
 * if it cannot be: then append() passes from now on */
static Writer *
appender_writer(Appender *self)
{
    if (self->writer != NULL && self->writer_generation == fork_generation)
        return self->writer;
    Py_CLEAR(self->writer);
    self->own = 0;
    PyObject *writer = PyObject_CallNoArgs(self->opener);
    if (writer == NULL || !PyObject_TypeCheck(writer, &WriterType)) {
        /* e.g. an option only the stdlib connection understands: its path reports errors */
        PyErr_Clear();
        Py_XDECREF(writer);
        self->writes = 0;
        return NULL;
    }
    self->writer = (Writer *)writer;
    self->writer_generation = fork_generation;
    return self->writer;
}

/* whether stream_id is check_stream_id's common case: printable ASCII, 1 to max chars */
static int
plain_stream_id(PyObject *stream_id, Py_ssize_t max)
{
    if (!PyUnicode_CheckExact(stream_id) || !PyUnicode_IS_ASCII(stream_id))
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(stream_id);
    if (n < 1 || n > max)
        return 0;
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(stream_id);
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

/* the rows of params (as seal lists them) as WriteChunks of up to len(insert_texts) - 1
 * rows, made by insert_chunks(params) when more than one; NULL with an exception */
static PyObject *
appender_chunks(Appender *self, PyObject *params, Py_ssize_t count, WriteChunk *one, WriteChunk **out,
                Py_ssize_t *n)
{
    if (count < PyTuple_GET_SIZE(self->insert_texts)) { /* the common case: one statement */
        one->sql = PyTuple_GET_ITEM(self->insert_texts, count);
        one->params = params;
        one->rows = (int)count;
        *out = one;
        *n = 1;
        return Py_NewRef(params);
    }
    PyObject *chunks = PyObject_CallOneArg(self->insert_chunks, params);
    if (chunks == NULL)
        return NULL;
    if (!PyList_CheckExact(chunks)) {
        PyErr_SetString(PyExc_TypeError, "insert_chunks() must return a list");
        goto fail;
    }
    *n = PyList_GET_SIZE(chunks);
    *out = PyMem_New(WriteChunk, (size_t)(*n > 0 ? *n : 1));
    if (*out == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < *n; i++)
        if (writer_parse_chunk(PyList_GET_ITEM(chunks, i), i, &(*out)[i]) < 0) {
            PyMem_Free(*out);
            goto fail;
        }
    return chunks; /* keeps the chunks' objects alive */
fail:
    Py_DECREF(chunks);
    return NULL;
}

static PyObject *
appender_append(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "append() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *stream_id = args[0], *events = args[1], *expected = args[2], *actor = args[3];
    /* only the common case: anything else passes (None) before anything is done */
    if (!self->writes || !PyList_CheckExact(events) || !plain_stream_id(stream_id, self->max_stream_id)
            || !(expected == self->any || PyLong_CheckExact(expected)))
        Py_RETURN_NONE;
    if (appender_acquire(self) < 0)
        return NULL;
    PyObject *result = NULL, *pending = NULL, *recorded = NULL, *params = NULL, *chunks = NULL;
    PyObject *position = NULL, *first_position = NULL, *first_version = NULL, *guard_params = NULL;
    WriteChunk one, *parsed = NULL;
    int gc_was = -1;
    if (self->hash == NULL)
        goto pass; /* the head is not known */
    PyObject *current = PyDict_GetItemWithError(self->versions, stream_id);
    if (current == NULL)
        goto pass_or_fail; /* a stream not seen yet (or an error) */
    long long version = PyLong_AsLongLong(current);
    if (version == -1 && PyErr_Occurred())
        goto fail;
    if (expected != self->any) {
        int overflow;
        long long want = PyLong_AsLongLongAndOverflow(expected, &overflow);
        if (want == -1 && PyErr_Occurred())
            goto fail;
        if (overflow || want != version)
            goto pass; /* a conflict to confirm against the database, or a bad number */
    }
    Writer *writer = appender_writer(self);
    if (writer == NULL)
        goto pass;
    /* the cyclic GC paused for a batch, as BaseLog.append does */
    if (PyList_GET_SIZE(events) > 1)
        gc_was = PyGC_Disable();
    PyObject *call[7] = {events, actor};
    pending = PyObject_Vectorcall(self->prepare, call, 2, NULL);
    if (pending == NULL)
        goto fail; /* an invalid event: InvalidEvent, nothing written */
    if (!PyList_CheckExact(pending)) {
        PyErr_SetString(PyExc_TypeError, "prepare() must return a list");
        goto fail;
    }
    if (PyList_GET_SIZE(pending) == 0) {
        result = PyList_New(0);
        goto done;
    }
    position = PyLong_FromLongLong(self->position);
    first_position = PyLong_FromLongLong(self->position + 1);
    first_version = PyLong_FromLongLong(version + 1);
    params = PyList_New(0);
    guard_params = position ? PyTuple_Pack(1, position) : NULL;
    if (first_position == NULL || first_version == NULL || params == NULL || guard_params == NULL)
        goto fail;
    call[0] = stream_id;
    call[1] = pending;
    call[2] = first_position;
    call[3] = first_version;
    call[4] = self->hash;
    call[5] = Py_None; /* the clock */
    call[6] = params;
    recorded = PyObject_Vectorcall(self->seal, call, 7, NULL);
    if (recorded == NULL)
        goto fail;
    Py_ssize_t count = PyList_Check(recorded) ? PyList_GET_SIZE(recorded) : -1;
    if (count < 1 || PyList_GET_SIZE(params) != count * self->columns) {
        PyErr_SetString(PyExc_RuntimeError, "seal() returned records and rows that do not match");
        goto fail;
    }
    PyObject *last_hash = PyList_GET_ITEM(params, (count - 1) * self->columns + self->hash_column);
    if (!PyUnicode_CheckExact(last_hash)) {
        PyErr_SetString(PyExc_RuntimeError, "seal() put no hash where the hash column is");
        goto fail;
    }
    Py_ssize_t n;
    chunks = appender_chunks(self, params, count, &one, &parsed, &n);
    if (chunks == NULL)
        goto fail;
    WriteGuard guard = {self->guard_sql, guard_params, self->hash, self->own};
    int done = writer_transact(writer, &guard, parsed, n);
    if (done < 0)
        goto fail; /* e.g. Error (busy, I/O): the caller says what it means */
    if (!done)
        goto pass; /* another writer moved the head: the Python path reads it */
    PyObject *new_version = PyLong_FromLongLong(version + count);
    if (new_version == NULL || PyDict_SetItem(self->versions, stream_id, new_version) < 0) {
        /* committed, but the cache cannot say so: forget it (the next append reads) */
        Py_XDECREF(new_version);
        PyErr_Clear();
        PyDict_Clear(self->versions);
        Py_CLEAR(self->hash);
        self->own = 0;
    }
    else {
        Py_DECREF(new_version);
        Py_INCREF(last_hash);
        Py_SETREF(self->hash, last_hash);
        self->position += count;
        self->own = 1;
    }
    result = Py_NewRef(recorded);
    goto done;
pass_or_fail:
    if (PyErr_Occurred())
        goto fail;
pass:
    result = Py_NewRef(Py_None);
fail:
    if (result == NULL || result == Py_None)
        self->own = 0;
done:
    if (gc_was == 1)
        PyGC_Enable();
    call_lock_release(&self->calls);
    if (parsed != NULL && parsed != &one)
        PyMem_Free(parsed);
    Py_XDECREF(chunks);
    Py_XDECREF(recorded);
    Py_XDECREF(params);
    Py_XDECREF(guard_params);
    Py_XDECREF(first_version);
    Py_XDECREF(first_position);
    Py_XDECREF(position);
    Py_XDECREF(pending);
    return result;
}

static PyObject *
appender_enter(Appender *self, PyObject *unused)
{
    (void)unused;
    if (appender_acquire(self) < 0)
        return NULL;
    return Py_NewRef(self);
}

static PyObject *
appender_exit(Appender *self, PyObject *args)
{
    (void)args;
    if (!self->calls.busy || self->calls.owner != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "the log's write lock is not held by this thread");
        return NULL;
    }
    call_lock_release(&self->calls);
    Py_RETURN_FALSE;
}

static PyObject *
appender_close_writer(Appender *self, PyObject *unused)
{
    (void)unused;
    if (appender_acquire(self) < 0)
        return NULL;
    Writer *writer = self->writer;
    self->writer = NULL;
    self->own = 0;
    call_lock_release(&self->calls);
    if (writer != NULL && self->writer_generation == fork_generation) {
        PyObject *closed = writer_close(writer, NULL);
        Py_XDECREF(closed);
        if (closed == NULL) {
            Py_DECREF(writer);
            return NULL;
        }
    }
    Py_XDECREF(writer);
    Py_RETURN_NONE;
}

static PyObject *
appender_get_head(Appender *self, void *closure)
{
    (void)closure;
    if (self->hash == NULL)
        Py_RETURN_NONE;
    return Py_BuildValue("(LO)", self->position, self->hash);
}

static int
appender_set_head(Appender *self, PyObject *value, void *closure)
{
    (void)closure;
    long long position = 0;
    PyObject *hash = NULL;
    if (value != NULL && value != Py_None) {
        if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2 || !PyLong_Check(PyTuple_GET_ITEM(value, 0))
                || !PyUnicode_CheckExact(PyTuple_GET_ITEM(value, 1))) {
            PyErr_SetString(PyExc_TypeError, "head must be None or a (position, hash) tuple");
            return -1;
        }
        position = PyLong_AsLongLong(PyTuple_GET_ITEM(value, 0));
        if (position == -1 && PyErr_Occurred())
            return -1;
        hash = Py_NewRef(PyTuple_GET_ITEM(value, 1));
    }
    Py_XSETREF(self->hash, hash);
    self->position = position;
    self->own = 0; /* not the writer's commit */
    return 0;
}

static PyMethodDef appender_methods[] = {
    {"append", (PyCFunction)(void (*)(void))appender_append, METH_FASTCALL,
     "append(stream_id, events, expected_version, default_actor) -> list | None\n\n"
     "The common append in one call, holding the lock: a list of events to a stream whose\n"
     "version is known at the known head, expected_version `any` or that version. Prepares\n"
     "the events (prepare(events, default_actor): InvalidEvent raises, nothing written),\n"
     "seals them after the head (seal(stream_id, pending, position, version, prev_hash,\n"
     "None, params)), and runs the Writer's transaction guarded by guard_sql(position) =\n"
     "head hash (not run while nobody committed since the Writer's last commit). Returns\n"
     "the recorded events, the head and version moved. Returns None, having written\n"
     "nothing, for anything else: another stream id or events type, an unknown head or\n"
     "stream, another expected version, a head another writer moved, no writer (opener()\n"
     "failed once: from then on always). Raises Error for any other SQLite error."},
    {"close_writer", (PyCFunction)appender_close_writer, METH_NOARGS,
     "Close the writer opened in this process (one inherited through fork is dropped)."},
    {"__enter__", (PyCFunction)appender_enter, METH_NOARGS, "Take the lock (append takes it too)."},
    {"__exit__", (PyCFunction)appender_exit, METH_VARARGS, "Release the lock."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef appender_members[] = {
    {"versions", T_OBJECT, offsetof(Appender, versions), READONLY,
     "dict: stream id -> version, known current while the head is `head` (change it in place, "
     "holding the lock)"},
    {"writer", T_OBJECT, offsetof(Appender, writer), READONLY, "the Writer, or None (for tests)"},
    {"writes", T_INT, offsetof(Appender, writes), READONLY, "0 once the writer could not be opened"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef appender_getset[] = {
    {"head", (getter)appender_get_head, (setter)appender_set_head,
     "(position, hash) this log last committed or read, or None; set it holding the lock", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject AppenderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "eventreg._cread.Appender",
    .tp_basicsize = sizeof(Appender),
    .tp_dealloc = (destructor)appender_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Appender(opener, prepare, seal, insert_texts, insert_chunks, guard_sql, any, columns,\n"
              "         hash_column, max_stream_id)\n\n"
              "A SQLite log's append state: the head it last committed, the stream versions known\n"
              "at that head, the lock that guards them (`with appender:`), and its Writer (made by\n"
              "opener(), again in a forked child). insert_texts[n] is the INSERT of n rows (index\n"
              "0 unused); more rows go through insert_chunks(params) -> [(sql, params, rows)].",
    .tp_methods = appender_methods,
    .tp_members = appender_members,
    .tp_getset = appender_getset,
    .tp_new = appender_new,
};

/* -- module ------------------------------------------------------------------------ */

static PyMethodDef module_methods[] = {
    {"bind", (PyCFunction)cread_bind, METH_O,
     "bind(sqlite3_so_path)\n\nResolve the SQLite functions from the library the already loaded\n"
     "module at sqlite3_so_path (sqlite3's _sqlite3) uses. ImportError names a missing one."},
    {"decode", (PyCFunction)(void (*)(void))cread_decode, METH_FASTCALL,
     "decode(text, fallback)\n\nThe JSON value of text as json.loads gives it, or fallback(text, 0)\n"
     "for text the decoder does not accept (whitespace, invalid text, ...)."},
    {"sqlite_version", (PyCFunction)cread_sqlite_version, METH_NOARGS,
     "The version of the SQLite library bound to."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cread_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "eventreg._cread",
    .m_doc = "Reading the SQLite events table in C (optional accelerator).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__cread(void)
{
    init_tables();
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    if (PyType_Ready(&WriterType) < 0 || PyType_Ready(&AppenderType) < 0)
        return NULL;
    static int at_fork;
    if (!at_fork && pthread_atfork(NULL, NULL, after_fork_in_child) == 0)
        at_fork = 1;
    PyObject *module = PyModule_Create(&cread_module);
    if (module == NULL)
        return NULL;
    if (NaN_obj == NULL) {
        /* the very objects json.loads gives for NaN, Infinity and -Infinity: containers
         * compare items by identity first, so [nan] == [nan] holds only for the same NaN */
        PyObject *decoder = PyImport_ImportModule("json.decoder");
        if (decoder == NULL)
            goto fail;
        NaN_obj = PyObject_GetAttrString(decoder, "NaN");
        Inf_obj = PyObject_GetAttrString(decoder, "PosInf");
        NegInf_obj = PyObject_GetAttrString(decoder, "NegInf");
        Py_DECREF(decoder);
        if (NaN_obj == NULL || Inf_obj == NULL || NegInf_obj == NULL || !PyFloat_CheckExact(NaN_obj)
            || !PyFloat_CheckExact(Inf_obj) || !PyFloat_CheckExact(NegInf_obj)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ImportError, "json.decoder has no float NaN, PosInf, NegInf");
            Py_CLEAR(NaN_obj);
            Py_CLEAR(Inf_obj);
            Py_CLEAR(NegInf_obj);
            goto fail;
        }
    }
    if (ErrorType == NULL) {
        PyObject *attrs = Py_BuildValue("{s:O}", "code", Py_None);
        if (attrs == NULL)
            goto fail;
        ErrorType = PyErr_NewExceptionWithDoc(
            "eventreg._cread.Error",
            "A SQLite error: code is SQLite's extended result code (code & 0xFF == SQLITE_BUSY\n"
            "when the database stayed locked), the message is sqlite3_errmsg's.",
            PyExc_Exception, attrs);
        Py_DECREF(attrs);
        if (ErrorType == NULL)
            goto fail;
    }
    Py_INCREF(ErrorType);
    if (PyModule_AddObject(module, "Error", ErrorType) < 0) {
        Py_DECREF(ErrorType);
        goto fail;
    }
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(module, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        goto fail;
    }
    Py_INCREF(&WriterType);
    if (PyModule_AddObject(module, "Writer", (PyObject *)&WriterType) < 0) {
        Py_DECREF(&WriterType);
        goto fail;
    }
    Py_INCREF(&AppenderType);
    if (PyModule_AddObject(module, "Appender", (PyObject *)&AppenderType) < 0) {
        Py_DECREF(&AppenderType);
        goto fail;
    }
    if (PyModule_AddIntConstant(module, "SQLITE_BUSY", SQ_BUSY) < 0
            || PyModule_AddIntConstant(module, "SQLITE_LOCKED", SQ_LOCKED) < 0
            || PyModule_AddIntConstant(module, "SQLITE_CONSTRAINT", SQ_CONSTRAINT) < 0
            || PyModule_AddIntConstant(module, "SQLITE_CONSTRAINT_PRIMARYKEY", SQ_CONSTRAINT_PRIMARYKEY) < 0
            || PyModule_AddIntConstant(module, "SQLITE_CONSTRAINT_UNIQUE", SQ_CONSTRAINT_UNIQUE) < 0
            || PyModule_AddIntConstant(module, "SQLITE_CONSTRAINT_TRIGGER", SQ_CONSTRAINT_TRIGGER) < 0
            || PyModule_AddIntConstant(module, "MAX_DEPTH", MAX_DEPTH) < 0)
        goto fail;
    return module;
fail:
    Py_DECREF(module);
    return NULL;
}
