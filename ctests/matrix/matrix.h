/* Helpers for the environment-matrix programs (the C files of ctests/matrix), run by
 * ctests/tests/matrix.rs on glibc and under paio, side by side.
 *
 * A matrix program is `prog DIR` (DIR on the filesystem under test, also
 * TMPDIR) and prints deterministic observations; see matrix.rs for the
 * environment it gets. These helpers print one line per request in a form
 * both implementations must agree on. */
#ifndef PAIO_MATRIX_H
#define PAIO_MATRIX_H

#include "../common.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* How long one request may take before the program reports a hang. */
#define MATRIX_WAIT_MS 5000

/* DIR from argv, and a watchdog shorter than the harness's timeout. */
static UNUSED const char *matrix_start(int argc, char **argv)
{
	if (argc < 2)
		FAIL("usage: %s DIR", argv[0]);
	alarm(15);
	return argv[1];
}

/* An errno's symbolic name (every one, unlike errname of common.h). */
static UNUSED const char *ename(int e)
{
	const char *n = e == 0 ? "0" : strerrorname_np(e);
	return n != NULL ? n : errname(e);
}

/* FNV-1a, for printing data as one number. */
static UNUSED unsigned long cksum(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned long h = 1469598103934665603ul;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ul;
	return h;
}

/* Submit one request (LIO_READ, LIO_WRITE, or O_SYNC/O_DSYNC for fsync). */
static UNUSED int submit(struct aiocb *cb, int op)
{
	switch (op) {
	case LIO_READ: return aio_read(cb);
	case LIO_WRITE: return aio_write(cb);
	default: return aio_fsync(op, cb);
	}
}

/* Wait for cb (a hang fails the program) and describe its result:
 * "ok N" or "error ENAME". */
static UNUSED const char *finish(struct aiocb *cb, const char *what)
{
	static char out[64];
	int e = wait_done_at(cb, MATRIX_WAIT_MS, what, __FILE__, __LINE__);
	ssize_t r = aio_return(cb);
	if (e == 0)
		snprintf(out, sizeof out, "ok %zd", r);
	else
		snprintf(out, sizeof out, "error %s", ename(e));
	return out;
}

/* One request, waited for; prints "WHAT: RESULT" and returns aio_return (or
 * -1 with the submission's errno printed when it was refused). */
static UNUSED ssize_t one(const char *what, int op, int fd, void *buf,
			  size_t len, off_t off)
{
	struct aiocb cb;
	prep(&cb, fd, buf, len, off, op == LIO_READ || op == LIO_WRITE ? op : LIO_NOP);
	errno = 0;
	if (submit(&cb, op) != 0) {
		printf("%s: refused %s\n", what, ename(errno));
		return -1;
	}
	const char *res = finish(&cb, what);
	printf("%s: %s\n", what, res);
	return strncmp(res, "ok ", 3) == 0 ? atol(res + 3) : -1;
}

/* Write len bytes of pattern `seed` at offset 0 of fd and read them back
 * into `back`, each request with one(); prints "LABELwrite: ..." and
 * "LABELread: ..." and then "LABELdata: ok" or "LABELdata: WRONG". */
static UNUSED void one_write_read_back(const char *label, int fd, void *data,
				       void *back, size_t len, unsigned seed)
{
	char what[64];
	fill_pattern(data, len, seed, 0);
	snprintf(what, sizeof what, "%swrite", label);
	one(what, LIO_WRITE, fd, data, len, 0);
	snprintf(what, sizeof what, "%sread", label);
	one(what, LIO_READ, fd, back, len, 0);
	printf("%sdata: %s\n", label, memcmp(data, back, len) == 0 ? "ok" : "WRONG");
}

/* A new pipe p and an aio_read of len bytes into buf that waits on its
 * empty read end. */
static UNUSED void pipe_read_pending(int p[2], struct aiocb *rd, char *buf,
				     size_t len)
{
	CHECK(pipe(p) == 0);
	prep(rd, p[0], buf, len, 0, LIO_READ);
	CHECK(aio_read(rd) == 0);
}

/* The file position of fd, printed: AIO never moves it on a seekable file. */
static UNUSED void print_pos(const char *what, int fd)
{
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if (pos < 0)
		printf("%s position: %s\n", what, ename(errno));
	else
		printf("%s position: %lld\n", what, (long long)pos);
}

/* Block every signal in the calling thread (helper threads of the program). */
static UNUSED void block_all_signals(void)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* ------------------------------------------------------------ draining */

/* A program thread (every signal blocked) that reads `want` bytes from fd
 * and sums them, so a large write on the other end can finish; the main
 * thread prints the result after drain_join, so the output's order is
 * fixed. */
struct drain {
	pthread_t thread;
	int fd;
	size_t want, got;
	unsigned long sum;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	block_all_signals();
	static char sink[65536];
	d->sum = 1469598103934665603ul;
	while (d->got < d->want) {
		ssize_t r = read(d->fd, sink, sizeof sink);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			d->sum = (d->sum ^ (unsigned char)sink[i]) * 1099511628211ul;
		d->got += (size_t)r;
	}
	return NULL;
}

static UNUSED void drain_start(struct drain *d, int fd, size_t want)
{
	d->fd = fd;
	d->want = want;
	d->got = 0;
	CHECK(pthread_create(&d->thread, NULL, drain_main, d) == 0);
}

static UNUSED void drain_join(struct drain *d, const char *indent)
{
	CHECK(pthread_join(d->thread, NULL) == 0);
	printf("%sdrained %zu bytes, sum %lx\n", indent, d->got, d->sum);
}

/* ------------------------------------------------------------ sandboxes */

#if defined(__x86_64__)
#define MATRIX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MATRIX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "matrix.h: add this architecture's AUDIT_ARCH value"
#endif

/* One system call a sandbox refuses with errno `err`; with `arg0_mask`, only
 * when the first argument has one of those bits (clone with CLONE_THREAD). */
struct deny {
	int nr;
	int err;
	unsigned arg0_mask;
};

/* Install a seccomp filter refusing `rules` in this thread and every thread
 * and process it creates afterwards (PR_SET_NO_NEW_PRIVS first, so no
 * privilege is needed); everything else, and other architectures, are
 * allowed. Installed inside the program, so glibc and paio run in the same
 * sandbox. Skips (exit 77) where seccomp is unavailable. */
static UNUSED void sandbox_flags(const struct deny *rules, int n, unsigned flags);

static UNUSED void sandbox(const struct deny *rules, int n)
{
	sandbox_flags(rules, n, 0);
}

/* sandbox() with SECCOMP_FILTER_FLAG_TSYNC: every thread the process has
 * now gets the filter too (as sandboxed browsers install theirs). */
static UNUSED void sandbox_all_threads(const struct deny *rules, int n)
{
	sandbox_flags(rules, n, SECCOMP_FILTER_FLAG_TSYNC);
}

static UNUSED void sandbox_flags(const struct deny *rules, int n, unsigned flags)
{
	struct sock_filter f[4 + 5 * 16];
	int k = 0;
	if (n > 16)
		FAIL("sandbox: %d rules, at most 16", n);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MATRIX_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++) {
		unsigned ret = SECCOMP_RET_ERRNO | ((unsigned)rules[i].err & SECCOMP_RET_DATA);
		if (rules[i].arg0_mask == 0) {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)rules[i].nr, 0, 1);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
		} else {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)rules[i].nr, 0, 3);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, rules[i].arg0_mask, 0, 1);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		}
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		skip("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0)
		skip("seccomp filter: %s", strerror(errno));
}

/* A signal's name: "USR1", "RTMIN+2". */
static UNUSED const char *signame(int sig)
{
	static char buf[32];
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		snprintf(buf, sizeof buf, "RTMIN+%d", sig - SIGRTMIN);
		return buf;
	}
	const char *n = sigabbrev_np(sig);
	return n != NULL ? n : "?";
}

/* si_code in words, for the codes a program sees here. */
static UNUSED const char *codename(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_ASYNCIO: return "SI_ASYNCIO";
	case SI_TKILL: return "SI_TKILL";
	default: return "other";
	}
}

#endif
