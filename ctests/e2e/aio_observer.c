/* aio_observer.so — a pass-through LD_PRELOAD shim for the end-to-end tests
 * (ctests/tests/real_programs.rs). It records which library really serves a
 * program's POSIX AIO calls, for programs where paio's PAIO_STATS exit line
 * cannot appear:
 *   - stress-ng's stressor processes end with _exit(), which runs no exit
 *     handlers;
 *   - squid never exits normally once it has used its AIO disk module (it
 *     spins in AIODiskIOStrategy::sync() because it never reaps), so the test
 *     has to kill it.
 *
 * Preload it in front of the library under test:
 *   LD_PRELOAD="aio_observer.so libpaio.so"   (paio)
 *   LD_PRELOAD="aio_observer.so"              (glibc)
 * Every wrapper forwards to dlsym(RTLD_NEXT, name) unchanged, so the program
 * behaves as it would without the shim.
 *
 * AIO_OBSERVER_LOG=FILE (required; nothing is logged without it) receives one
 * line per event, each written with a single write(2) to an O_APPEND file so
 * lines survive _exit() and interleave whole across processes:
 *   first pid=P fn=NAME lib=PATH
 *       the first call of NAME in process P (again after fork), and the file
 *       that defines the function the call was forwarded to (dladdr);
 *   submit pid=P fn=NAME aiocb=0xA fd=F offset=O nbytes=N rc=R errno=E
 *       (AIO_OBSERVER_TRACK=1 only) every aio_write/aio_write64 submission;
 *   done pid=P aiocb=0xA offset=O nbytes=N error=E return=R
 *       (AIO_OBSERVER_TRACK=1 only) when aio_error() of a tracked request
 *       stops returning EINPROGRESS, found by a polling thread. The result is
 *       read from the aiocb (__return_value, written before the error code is
 *       published) instead of calling aio_return(), so the shim reaps nothing:
 *       a program that never reaps (squid) stays a program that never reaps.
 *       Only for programs that keep their aiocbs alive, as squid does (its
 *       128 aiocbs are a static array that is never reaped).
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static int track;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (log_fd < 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    int saved = errno;
    ssize_t w = write(log_fd, buf, (size_t)n);
    (void)w;
    errno = saved;
}

/* One slot per wrapped function: the forwarding target and whether this
 * process has logged its first call. */
enum { F_READ, F_READ64, F_WRITE, F_WRITE64, F_FSYNC, F_FSYNC64, F_CANCEL, F_CANCEL64,
       F_ERROR, F_ERROR64, F_RETURN, F_RETURN64, F_SUSPEND, F_SUSPEND64, F_LIO, F_LIO64, F_COUNT };
static const char *const names[F_COUNT] = {
    "aio_read", "aio_read64", "aio_write", "aio_write64", "aio_fsync", "aio_fsync64",
    "aio_cancel", "aio_cancel64", "aio_error", "aio_error64", "aio_return", "aio_return64",
    "aio_suspend", "aio_suspend64", "lio_listio", "lio_listio64",
};
static void *_Atomic next_fn[F_COUNT];
static atomic_int logged[F_COUNT];

static void reset_after_fork(void)
{
    for (int i = 0; i < F_COUNT; i++)
        atomic_store(&logged[i], 0);
}

__attribute__((constructor)) static void observer_init(void)
{
    const char *path = getenv("AIO_OBSERVER_LOG");
    if (path && *path)
        log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    const char *t = getenv("AIO_OBSERVER_TRACK");
    track = t && *t == '1';
    pthread_atfork(NULL, NULL, reset_after_fork);
}

static void *lookup(int f);

/* Look every target up now, so no wrapper calls dlsym later (aio_error,
 * aio_return and aio_suspend may be called from signal handlers). */
__attribute__((constructor)) static void observer_lookup_all(void)
{
    for (int i = 0; i < F_COUNT; i++)
        lookup(i);
}

static void *lookup(int f)
{
    void *p = atomic_load(&next_fn[f]);
    if (!p) {
        p = dlsym(RTLD_NEXT, names[f]);
        if (!p) {
            static const char msg[] = "aio_observer: dlsym(RTLD_NEXT) found no AIO function\n";
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            abort();
        }
        atomic_store(&next_fn[f], p);
    }
    return p;
}

/* The forwarding target of wrapper f; logs the first call per process. */
static void *resolve(int f)
{
    void *p = lookup(f);
    if (!atomic_exchange(&logged[f], 1)) {
        Dl_info info;
        const char *lib = dladdr(p, &info) && info.dli_fname ? info.dli_fname : "?";
        log_line("first pid=%d fn=%s lib=%s", (int)getpid(), names[f], lib);
    }
    return p;
}

/* ---- tracking of write completions (squid) ---- */

#define MAX_TRACKED 4096
struct tracked {
    const struct aiocb *cb;
    long long offset;
    size_t nbytes;
};
static struct tracked tracked[MAX_TRACKED];
static atomic_int n_tracked;   /* slots published */
static pthread_once_t poller_once = PTHREAD_ONCE_INIT;

static void *poller(void *arg)
{
    (void)arg;
    int (*err_fn)(const struct aiocb *) = (int (*)(const struct aiocb *))resolve(F_ERROR);
    static unsigned char done[MAX_TRACKED];
    const struct timespec tick = { 0, 5 * 1000 * 1000 };
    for (;;) {
        int n = atomic_load(&n_tracked);
        for (int i = 0; i < n; i++) {
            if (done[i] || !tracked[i].cb)
                continue;
            int e = err_fn(tracked[i].cb);
            if (e == EINPROGRESS)
                continue;
            /* aio_error() returned a final value: __return_value was stored before it. */
            long long r = (long long)((const volatile struct aiocb *)tracked[i].cb)->__return_value;
            done[i] = 1;
            log_line("done pid=%d aiocb=%p offset=%lld nbytes=%zu error=%d return=%lld", (int)getpid(),
                     (const void *)tracked[i].cb, tracked[i].offset, tracked[i].nbytes, e, r);
        }
        nanosleep(&tick, NULL);
    }
    return NULL;
}

static void start_poller(void)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, poller, NULL) != 0)
        log_line("poller pid=%d failed to start", (int)getpid());
    pthread_attr_destroy(&a);
}

static void track_write(const char *fn, const struct aiocb *cb, int rc, int err)
{
    log_line("submit pid=%d fn=%s aiocb=%p fd=%d offset=%lld nbytes=%zu rc=%d errno=%d", (int)getpid(), fn,
             (const void *)cb, cb->aio_fildes, (long long)cb->aio_offset, cb->aio_nbytes, rc, rc < 0 ? err : 0);
    if (rc != 0)
        return;
    int i = atomic_load(&n_tracked);
    if (i >= MAX_TRACKED)
        return;
    tracked[i].cb = cb;
    tracked[i].offset = (long long)cb->aio_offset;
    tracked[i].nbytes = cb->aio_nbytes;
    atomic_store(&n_tracked, i + 1);
    pthread_once(&poller_once, start_poller);
}

/* ---- the wrappers ---- */

typedef int (*cb_fn)(struct aiocb *);
typedef int (*cb64_fn)(struct aiocb64 *);

int aio_read(struct aiocb *cb) { return ((cb_fn)resolve(F_READ))(cb); }
int aio_read64(struct aiocb64 *cb) { return ((cb64_fn)resolve(F_READ64))(cb); }

/* squid submits from its single main thread; the tracking table is filled
 * from one thread at a time there. Other programs do not set TRACK. */
int aio_write(struct aiocb *cb)
{
    int rc = ((cb_fn)resolve(F_WRITE))(cb);
    int err = errno;
    if (track)
        track_write("aio_write", cb, rc, err);
    errno = err;
    return rc;
}

int aio_write64(struct aiocb64 *cb)
{
    int rc = ((cb64_fn)resolve(F_WRITE64))(cb);
    int err = errno;
    if (track)
        track_write("aio_write64", (const struct aiocb *)cb, rc, err);
    errno = err;
    return rc;
}

int aio_fsync(int op, struct aiocb *cb) { return ((int (*)(int, struct aiocb *))resolve(F_FSYNC))(op, cb); }
int aio_fsync64(int op, struct aiocb64 *cb)
{
    return ((int (*)(int, struct aiocb64 *))resolve(F_FSYNC64))(op, cb);
}
int aio_cancel(int fd, struct aiocb *cb) { return ((int (*)(int, struct aiocb *))resolve(F_CANCEL))(fd, cb); }
int aio_cancel64(int fd, struct aiocb64 *cb)
{
    return ((int (*)(int, struct aiocb64 *))resolve(F_CANCEL64))(fd, cb);
}
int aio_error(const struct aiocb *cb) { return ((int (*)(const struct aiocb *))resolve(F_ERROR))(cb); }
int aio_error64(const struct aiocb64 *cb)
{
    return ((int (*)(const struct aiocb64 *))resolve(F_ERROR64))(cb);
}
ssize_t aio_return(struct aiocb *cb) { return ((ssize_t (*)(struct aiocb *))resolve(F_RETURN))(cb); }
ssize_t aio_return64(struct aiocb64 *cb) { return ((ssize_t (*)(struct aiocb64 *))resolve(F_RETURN64))(cb); }
int aio_suspend(const struct aiocb *const list[], int n, const struct timespec *t)
{
    return ((int (*)(const struct aiocb *const[], int, const struct timespec *))resolve(F_SUSPEND))(list, n, t);
}
int aio_suspend64(const struct aiocb64 *const list[], int n, const struct timespec *t)
{
    return ((int (*)(const struct aiocb64 *const[], int, const struct timespec *))resolve(F_SUSPEND64))(list, n,
                                                                                                       t);
}
int lio_listio(int mode, struct aiocb *const list[], int n, struct sigevent *sev)
{
    return ((int (*)(int, struct aiocb *const[], int, struct sigevent *))resolve(F_LIO))(mode, list, n, sev);
}
int lio_listio64(int mode, struct aiocb64 *const list[], int n, struct sigevent *sev)
{
    return ((int (*)(int, struct aiocb64 *const[], int, struct sigevent *))resolve(F_LIO64))(mode, list, n, sev);
}
