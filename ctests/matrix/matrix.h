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

/* A signal's name: "USR1", "RTMIN+2". */
static UNUSED const char *signame(int sig)
{
	static char buf[16];
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
