/* The hot stretch of the sampling loop in C: sleep to the next tick, pread a lone root's statm,
 * note (elapsed, rss), with the GIL released, until the recorder has something to do.
 *
 * Why it exists (issue 18, docs/benchmarks.md "Light and lean"): at 10 ms a tick of the Python
 * loop costs ~140-160 us of CPU on the 2-core machines, most of it Python's own wake-up and the
 * code around the read running with cold caches; psrecord costs ~450 us, and the target is a
 * quarter of that. This loop does per tick only what a sample needs (clock_nanosleep on the
 * start + k * interval grid, pread, parse two numbers) and gives the batch back to Python at the
 * next flush, detail sample, rescan of the tree, the end, a signal, or anything unusual (a failed
 * or empty read, a process without memory): Python then does exactly what it did before.
 * It is an optional extension: without a C compiler memdoctor installs and samples in Python.
 *
 * The tick grid and the rule for missed ticks are the recorder's (memdoctor/sampling/recorder.py):
 * a tick whose time is past is skipped, never caught up in a burst.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What ended a call; the names are mirrored in recorder.py. */
#define TICKS_HANDBACK 0 /* the next tick is at or past `handback_at`: Python sleeps to it */
#define TICKS_UNUSUAL 1  /* the read at `now` failed or showed no memory: Python samples it */
#define TICKS_END 2      /* the next tick is past the duration */
#define TICKS_SIGNAL 3   /* a signal cut the sleep short: Python runs its handler, then sleeps */
/* A signal that arrives while the loop runs rather than sleeps (its handler only sets a flag in
 * C) is seen by Python at the next hand-back: at most one flush later (recorder.FLUSH_EVERY_S). */

/* A call never takes more ticks than this (memory for the batch is on the stack): 0.1 s at the
 * shortest interval the CLI accepts (1 ms) is 100; 512 leaves room and costs 8 KiB. */
#define MAX_BATCH 512

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The resident pages: the second field of statm ("size resident shared ..."); -1 if unreadable. */
static long long resident_pages(const char *buf, ssize_t len)
{
    ssize_t i = 0;
    long long pages = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9')
        i++;
    if (i == 0 || i >= len || buf[i] != ' ')
        return -1;
    i++;
    if (i >= len || buf[i] < '0' || buf[i] > '9')
        return -1;
    while (i < len && buf[i] >= '0' && buf[i] <= '9')
        pages = pages * 10 + (buf[i++] - '0');
    return pages;
}

PyDoc_STRVAR(run_doc,
"run(fd, page_size, start, interval, k, now, handback_at, duration) -> (k, now, status, samples)\n\n"
"Sample the statm descriptor `fd` at `now` (tick k of the grid start + k * interval) and at every\n"
"following tick until the next one is at or past `handback_at`, past `duration` (seconds after\n"
"start; inf for none), a signal arrives, or a read is unusual. `samples` is a list of\n"
"(elapsed, (rss, rss, 1)); on return `k` is the next tick not yet taken and `now` the clock\n"
"(with TICKS_UNUSUAL, the tick at `now` that Python must take itself).");

static PyObject *ticks_run(PyObject *self, PyObject *args)
{
    int fd;
    long long page_size, k;
    double start, interval, now, handback_at, duration;
    (void)self;
    if (!PyArg_ParseTuple(args, "iLddLddd", &fd, &page_size, &start, &interval, &k, &now, &handback_at,
                          &duration))
        return NULL;
    if (!isfinite(interval) || interval <= 0.0 || !isfinite(start) || !isfinite(now)) {
        PyErr_SetString(PyExc_ValueError, "interval must be positive and finite, start and now finite");
        return NULL;
    }
    double elapsed[MAX_BATCH];
    long long rss[MAX_BATCH];
    int n = 0;
    int status = TICKS_HANDBACK;
    char buf[128];

    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        ssize_t got = pread(fd, buf, sizeof buf, 0);
        long long pages = got > 0 ? resident_pages(buf, got) : -1;
        if (pages <= 0 || (got >= 4 && memcmp(buf, "0 0 ", 4) == 0)) {
            status = TICKS_UNUSUAL;
            break;
        }
        elapsed[n] = now - start;
        rss[n] = pages * page_size;
        n++;
        if (k >= LLONG_MAX - 1) { /* never in a recording (2^63 ticks); no overflow, whatever the caller */
            status = TICKS_HANDBACK;
            break;
        }
        k++;
        double target = start + (double)k * interval;
        now = monotonic_s();
        if (target < now) {
            k = (long long)((now - start) / interval) + 1;
            target = start + (double)k * interval;
        }
        if (target - start >= duration - 1e-9) {
            status = TICKS_END;
            break;
        }
        if (target >= handback_at || n >= MAX_BATCH) {
            status = TICKS_HANDBACK;
            break;
        }
        struct timespec ts;
        ts.tv_sec = (time_t)target;
        ts.tv_nsec = (long)((target - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        now = monotonic_s();
        if (rc == EINTR) {
            status = TICKS_SIGNAL;
            break;
        }
        if (rc != 0) { /* EINVAL and the like: Python sleeps to the tick itself, and says what failed */
            status = TICKS_HANDBACK;
            break;
        }
    }
    Py_END_ALLOW_THREADS

    PyObject *samples = PyList_New(n);
    if (samples == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *item = Py_BuildValue("(d(LLi))", elapsed[i], rss[i], rss[i], 1);
        if (item == NULL) {
            Py_DECREF(samples);
            return NULL;
        }
        PyList_SET_ITEM(samples, i, item);
    }
    return Py_BuildValue("(LdiN)", k, now, status, samples);
}

static PyMethodDef ticks_methods[] = {
    {"run", ticks_run, METH_VARARGS, run_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ticks_module = {
    PyModuleDef_HEAD_INIT, "_ticks",
    "The sampling loop's hot stretch in C (see memdoctor/sampling/recorder.py).", -1, ticks_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ticks(void)
{
    PyObject *module = PyModule_Create(&ticks_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddIntConstant(module, "HANDBACK", TICKS_HANDBACK) < 0 ||
        PyModule_AddIntConstant(module, "UNUSUAL", TICKS_UNUSUAL) < 0 ||
        PyModule_AddIntConstant(module, "END", TICKS_END) < 0 ||
        PyModule_AddIntConstant(module, "SIGNAL", TICKS_SIGNAL) < 0 ||
        PyModule_AddIntConstant(module, "MAX_BATCH", MAX_BATCH) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
