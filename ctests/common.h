/* Shared helpers for the C scenarios in ctests/.
 *
 * Each scenario is one behaviour, one file. It is compiled twice by
 * ctests/tests/scenarios.rs (plain, so glibc's AIO is used, and linked with
 * -lpaio) and run under glibc, under LD_PRELOAD=libpaio.so and linked to paio.
 * What a scenario prints on stdout is compared between glibc and paio, so print
 * only deterministic facts there; lines starting with '~' are informational and
 * left out of the comparison (timings, thread counts, which library runs).
 *
 * Exit status: 0 pass, 77 skipped (after printing "SKIP: reason"), anything
 * else is a failure; failures explain themselves on stderr.
 */
#ifndef PAIO_CTESTS_COMMON_H
#define PAIO_CTESTS_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <aio.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* Every scenario kills itself (SIGALRM, default action) after this long, so a
 * hang inside the process is reported even before the harness's own timeout. */
#define WATCHDOG_SECONDS 30
/* How long wait_done() waits for one request before failing. */
#define WAIT_MS 10000

#define UNUSED __attribute__((unused))

/* ---------------------------------------------------------------- failing */

static UNUSED __attribute__((noreturn, format(printf, 3, 4))) void
fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* Symbolic name of an errno value, for messages and for stdout lines that are
 * compared between glibc and paio. */
static UNUSED const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EPIPE: return "EPIPE";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ECANCELED: return "ECANCELED";
	case EINPROGRESS: return "EINPROGRESS";
	case EOVERFLOW: return "EOVERFLOW";
	case EFBIG: return "EFBIG";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "errno%d", e);
		return buf;
	}
	}
}

/* CHECK(cond): fail with the condition's text and the current errno. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			int e_ = errno;                                        \
			FAIL("CHECK(%s) failed (errno %s: %s)", #cond,         \
			     errname(e_), strerror(e_));                       \
		}                                                              \
	} while (0)

/* EXPECT_EQ(actual, expected): integer comparison with both values shown. */
#define EXPECT_EQ(actual, expected)                                            \
	do {                                                                   \
		long long a_ = (long long)(actual);                            \
		long long x_ = (long long)(expected);                          \
		if (a_ != x_)                                                  \
			FAIL("%s is %lld, expected %s (%lld)", #actual, a_,    \
			     #expected, x_);                                   \
	} while (0)

/* EXPECT_ERRNO(actual, expected): like EXPECT_EQ but prints errno names. */
#define EXPECT_ERRNO(actual, expected)                                         \
	do {                                                                   \
		int a_ = (int)(actual);                                        \
		int x_ = (int)(expected);                                      \
		if (a_ != x_)                                                  \
			FAIL("%s is %s, expected %s", #actual, errname(a_),    \
			     errname(x_));                                     \
	} while (0)

/* EXPECT_OK(call): the call returns 0. */
#define EXPECT_OK(call)                                                        \
	do {                                                                   \
		errno = 0;                                                     \
		long long r_ = (long long)(call);                              \
		int e_ = errno;                                                \
		if (r_ != 0)                                                   \
			FAIL("%s returned %lld (errno %s), expected 0", #call, \
			     r_, errname(e_));                                 \
	} while (0)

/* EXPECT_SYSERR(call, err): the call returns -1 with errno == err. */
#define EXPECT_SYSERR(call, err)                                               \
	do {                                                                   \
		errno = 0;                                                     \
		long long r_ = (long long)(call);                              \
		int e_ = errno;                                                \
		if (r_ != -1 || e_ != (err))                                   \
			FAIL("%s returned %lld errno %s, expected -1 errno %s", \
			     #call, r_, errname(e_), errname(err));            \
	} while (0)

/* Print "SKIP: reason" and exit 77; the harness shows the reason. */
static UNUSED __attribute__((noreturn, format(printf, 1, 2))) void
skip(const char *fmt, ...)
{
	va_list ap;
	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(NULL);
	_exit(77);
}

/* ------------------------------------------------------------ environment */

/* Line-buffered stdout (output survives _exit and is not duplicated by fork)
 * and the watchdog. Nothing AIO-related happens here: paio must start lazily. */
static void __attribute__((constructor)) scenario_setup(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(WATCHDOG_SECONDS);
}

/* True when aio_read resolves into libpaio (preloaded or linked). */
static UNUSED int is_paio(void)
{
	static int cached = -1;
	if (cached < 0) {
		Dl_info info;
		void *sym = dlsym(RTLD_DEFAULT, "aio_read");
		cached = sym != NULL && dladdr(sym, &info) != 0 &&
			 info.dli_fname != NULL &&
			 strstr(info.dli_fname, "libpaio") != NULL;
	}
	return cached;
}

static UNUSED const char *impl_name(void)
{
	return is_paio() ? "paio" : "glibc";
}

static UNUSED pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static UNUSED long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static UNUSED void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Give a just-submitted request time to be picked up by a worker (and block
 * there, for a read on an empty pipe) before the scenario relies on it being
 * "running" rather than "queued". There is no portable way to observe that. */
static UNUSED void let_worker_start(void)
{
	sleep_ms(100);
}

/* Number of threads in this process right now. */
static UNUSED int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ temp files */

/* Directory for scratch files: $TMPDIR (the harness gives every run its own,
 * on the real filesystem) or /tmp. */
static UNUSED const char *tmp_dir(void)
{
	const char *d = getenv("TMPDIR");
	return d != NULL && d[0] != '\0' ? d : "/tmp";
}

/* Create a new empty file in dir named after tag; its path goes to
 * path[PATH_MAX]. extra_flags are added to O_RDWR|O_CREAT|O_EXCL (O_DIRECT,
 * O_APPEND...); returns the fd or -1 with errno set (callers decide whether
 * that skips). */
static UNUSED int tmp_file_at(const char *dir, const char *tag, char *path,
			      int extra_flags)
{
	static int counter;
	snprintf(path, PATH_MAX, "%s/paio-%s-%d-%d", dir, tag, (int)getpid(),
		 counter++);
	return open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | extra_flags,
		    0600);
}

/* tmp_file_at in tmp_dir(). */
static UNUSED int tmp_file_flags(const char *tag, char *path, int extra_flags)
{
	return tmp_file_at(tmp_dir(), tag, path, extra_flags);
}

/* A scratch file in dir that is already unlinked: it vanishes with its last
 * fd. For a program in secure execution, whose dynamic linker drops TMPDIR,
 * dir is the one it was given. */
static UNUSED int tmp_file_in(const char *dir, const char *tag)
{
	char path[PATH_MAX];
	int fd = tmp_file_at(dir, tag, path, 0);
	CHECK(fd >= 0);
	CHECK(unlink(path) == 0);
	return fd;
}

/* tmp_file_in in tmp_dir(). */
static UNUSED int tmp_file(const char *tag)
{
	return tmp_file_in(tmp_dir(), tag);
}

/* Deterministic bytes: the value at file offset off for stream seed. */
static UNUSED unsigned char pattern_byte(unsigned seed, long long off)
{
	unsigned long long x = (unsigned long long)off * 2654435761u + seed * 40503u;
	return (unsigned char)(x ^ (x >> 13) ^ (x >> 29));
}

/* Which of the first `size` bytes' pages of fd are in the page cache:
 * vec[i] & 1 for page i (mincore on a shared mapping of the file). */
static UNUSED void page_residency(int fd, size_t size, unsigned char *vec)
{
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	CHECK(mincore(map, size, vec) == 0);
	CHECK(munmap(map, size) == 0);
}

static UNUSED void fill_pattern(void *buf, size_t len, unsigned seed,
				long long off)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(seed, off + (long long)i);
}

/* Index of the first byte that differs from the pattern, or -1. */
static UNUSED long long find_mismatch(const void *buf, size_t len,
				      unsigned seed, long long off)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_byte(seed, off + (long long)i))
			return (long long)i;
	return -1;
}

#define EXPECT_PATTERN(buf, len, seed, off)                                    \
	do {                                                                   \
		long long m_ = find_mismatch((buf), (len), (seed), (off));     \
		if (m_ >= 0)                                                   \
			FAIL("data mismatch at byte %lld of %s (offset %lld)", \
			     m_, #buf, (long long)(off) + m_);                 \
	} while (0)

/* pwrite/pread everything or fail. */
static UNUSED void must_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r = pwrite(fd, buf, len, off);
	if (r != (ssize_t)len)
		FAIL("pwrite(%d, %zu, %lld) = %zd (%s)", fd, len, (long long)off,
		     r, strerror(errno));
}

static UNUSED void must_pread(int fd, void *buf, size_t len, off_t off)
{
	ssize_t r = pread(fd, buf, len, off);
	if (r != (ssize_t)len)
		FAIL("pread(%d, %zu, %lld) = %zd (%s)", fd, len, (long long)off,
		     r, strerror(errno));
}

static UNUSED void must_write(int fd, const void *buf, size_t len)
{
	ssize_t r = write(fd, buf, len);
	if (r != (ssize_t)len)
		FAIL("write(%d, %zu) = %zd (%s)", fd, len, r, strerror(errno));
}

static UNUSED off_t file_size(int fd)
{
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	return st.st_size;
}

/* ------------------------------------------------------------ aiocbs */

/* Fill a zeroed aiocb. */
static UNUSED void prep(struct aiocb *cb, int fd, void *buf, size_t len,
			off_t off, int opcode)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_lio_opcode = opcode;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Wait (bounded) until cb is no longer EINPROGRESS and return its aio_error.
 * Uses aio_suspend with a short timeout, so it also exercises aio_suspend;
 * EINTR/EAGAIN from it are expected and ignored here. */
static UNUSED int wait_done_at(const struct aiocb *cb, int timeout_ms,
			       const char *what, const char *file, int line)
{
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		int e = aio_error(cb);
		if (e != EINPROGRESS)
			return e;
		if (now_ms() > deadline)
			fail_at(file, line, "%s still EINPROGRESS after %d ms",
				what, timeout_ms);
		const struct aiocb *list[1] = { cb };
		struct timespec ts = { 0, 20 * 1000000L };
		int r = aio_suspend(list, 1, &ts);
		if (r != 0 && errno != EAGAIN && errno != EINTR)
			fail_at(file, line, "aio_suspend while waiting for %s: %s",
				what, strerror(errno));
	}
}

#define wait_done(cb) wait_done_at((cb), WAIT_MS, #cb, __FILE__, __LINE__)

/* Wait until a request finished successfully with exactly `expect` bytes. */
#define EXPECT_DONE(cb, expect)                                                \
	do {                                                                   \
		int e_ = wait_done(cb);                                        \
		if (e_ != 0)                                                   \
			FAIL("%s finished with %s, expected success", #cb,     \
			     errname(e_));                                     \
		ssize_t r_ = aio_return(cb);                                   \
		if (r_ != (ssize_t)(expect))                                   \
			FAIL("aio_return(%s) = %zd, expected %lld", #cb, r_,   \
			     (long long)(expect));                             \
	} while (0)

/* Wait until a request failed with `err` and aio_return gives -1. */
#define EXPECT_FAILED(cb, err)                                                 \
	do {                                                                   \
		int e_ = wait_done(cb);                                        \
		if (e_ != (err))                                               \
			FAIL("%s finished with %s, expected %s", #cb,          \
			     errname(e_), errname(err));                       \
		ssize_t r_ = aio_return(cb);                                   \
		if (r_ != -1)                                                  \
			FAIL("aio_return(%s) = %zd, expected -1", #cb, r_);    \
	} while (0)

/* Write len bytes of pattern `seed` at offset 0 of fd with aio_write, read
 * them back with aio_read into `back`, and fail unless both complete in full
 * and the bytes match: the plain use of AIO that a process must be able to
 * make whatever its circumstances (a fork, a setuid start). */
static UNUSED void aio_write_read_back(int fd, void *data, void *back,
				       size_t len, unsigned seed)
{
	fill_pattern(data, len, seed, 0);
	struct aiocb w, r;
	prep(&w, fd, data, len, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	EXPECT_DONE(&w, len);
	prep(&r, fd, back, len, 0, LIO_READ);
	EXPECT_OK(aio_read(&r));
	EXPECT_DONE(&r, len);
	EXPECT_PATTERN(back, len, seed, 0);
}

/* Wait (bounded) until *flag reaches at least n. */
static UNUSED void wait_flag_at(atomic_int *flag, int n, int timeout_ms,
				const char *what, const char *file, int line)
{
	long long deadline = now_ms() + timeout_ms;
	while (atomic_load(flag) < n) {
		if (now_ms() > deadline)
			fail_at(file, line, "%s is %d after %d ms, expected >= %d",
				what, atomic_load(flag), timeout_ms, n);
		sleep_ms(1);
	}
}

#define wait_flag(flag, n) wait_flag_at((flag), (n), WAIT_MS, #flag, __FILE__, __LINE__)

/* ------------------------------------------------------------ signals */

/* Install a handler without SA_RESTART, so blocking calls see EINTR. */
static UNUSED void install_handler(int signo, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(signo, &sa, NULL) == 0);
}

static UNUSED void install_siginfo_handler(int signo,
					   void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(signo, &sa, NULL) == 0);
}

/* A thread that sends `signo` to `target` every `period_us` (20 ms unless
 * started with interrupter_start_every) until stopped: the target cannot
 * miss it by entering its blocking call late. */
struct interrupter {
	pthread_t thread;
	pthread_t target;
	int signo;
	long period_us;
	atomic_int stop;
};

static void *interrupter_main(void *arg)
{
	struct interrupter *it = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&it->stop)) {
		struct timespec ts = { it->period_us / 1000000,
				       (it->period_us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
		if (!atomic_load(&it->stop))
			pthread_kill(it->target, it->signo);
	}
	return NULL;
}

static UNUSED void interrupter_start_every(struct interrupter *it, int signo,
					   long period_us)
{
	it->target = pthread_self();
	it->signo = signo;
	it->period_us = period_us;
	atomic_store(&it->stop, 0);
	CHECK(pthread_create(&it->thread, NULL, interrupter_main, it) == 0);
}

static UNUSED void interrupter_start(struct interrupter *it, int signo)
{
	interrupter_start_every(it, signo, 20 * 1000);
}

static UNUSED void interrupter_stop(struct interrupter *it)
{
	atomic_store(&it->stop, 1);
	CHECK(pthread_join(it->thread, NULL) == 0);
}

/* ------------------------------------------------------------ probing */

/* Run fn in a forked child and describe what happened: "returned R errno E"
 * (the child reports through a pipe), "killed by SIGSEGV" or "hung". For
 * calls where glibc is known to crash; paio scenarios call directly. */
static UNUSED const char *probe_in_child(long (*fn)(void))
{
	static char desc[128];
	int p[2];
	CHECK(pipe(p) == 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		alarm(5);
		errno = 0;
		long r = fn();
		int e = errno;
		long msg[2] = { r, e };
		if (write(p[1], msg, sizeof msg) != (ssize_t)sizeof msg)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	long msg[2];
	ssize_t got = read(p[0], msg, sizeof msg);
	close(p[0]);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	if (got == (ssize_t)sizeof msg)
		snprintf(desc, sizeof desc, "returned %ld errno %s", msg[0],
			 errname((int)msg[1]));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(desc, sizeof desc, "hung");
	else if (WIFSIGNALED(status))
		snprintf(desc, sizeof desc, "killed by SIG%s",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(desc, sizeof desc, "exited %d", WEXITSTATUS(status));
	return desc;
}

/* Run body in a forked child with a watchdog of `seconds` and describe how it
 * ended: "exited 0", "exited 1", "killed by SIGSEGV", "hung". For the glibc
 * side of intentional differences, where glibc is known to crash or hang: the
 * outcome is printed, not judged. */
static UNUSED const char *run_in_child(void (*body)(void), int seconds)
{
	static char desc[64];
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm((unsigned)seconds);
		body();
		fflush(NULL);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(desc, sizeof desc, "hung");
	else if (WIFSIGNALED(status))
		snprintf(desc, sizeof desc, "killed by SIG%s",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(desc, sizeof desc, "exited %d", WEXITSTATUS(status));
	return desc;
}

/* Hide a NULL from the compiler's nonnull checks (aio.h marks arguments
 * __nonnull; passing NULL on purpose is the point of some scenarios). */
static UNUSED void *hidden_null(void)
{
	void *volatile p = NULL;
	return p;
}

#endif
