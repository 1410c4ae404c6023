/* Helpers for the scenarios of paio's extensions (the .c files of ctests/ext).
 *
 * These scenarios run only against paio (glibc has none of these functions):
 * ctests/tests/extensions.rs compiles each twice, linked with -lpaio and for
 * LD_PRELOAD, and runs both on both backends. What a scenario prints on stdout
 * must be the same in every run; lines starting with '~' are informational
 * (timings, backend-dependent counters) and not compared. Exit 0 pass, 77 skip
 * (after "SKIP: reason"), anything else fails. The watchdog of common.h
 * bounds every run. */
#ifndef PAIO_CTESTS_EXT_H
#define PAIO_CTESTS_EXT_H

#include "../common.h"
#include <paio.h>
#include <poll.h>
#include <sys/uio.h>

static const struct timespec ZERO_TIMEOUT = { 0, 0 };

/* A vectored request: aio_buf is the iovec array, aio_nbytes its count. */
static UNUSED void prepv(struct aiocb *cb, int fd, struct iovec *iov,
			 size_t iovcnt, off_t off, int opcode)
{
	prep(cb, fd, iov, iovcnt, off, opcode);
}

/* aio_waitcomplete with a timeout of `ms`; fails the scenario when nothing
 * completes in time. Returns its result; *err is 0, or errno when it
 * returned -1 for a failed request. */
static UNUSED ssize_t reap_at(struct aiocb **cbp, int *err, int ms,
			      const char *file, int line)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	*cbp = (struct aiocb *)(uintptr_t)0x1; /* must be overwritten */
	errno = 0;
	ssize_t r = aio_waitcomplete(cbp, &ts);
	int e = errno;
	if (*cbp == (struct aiocb *)(uintptr_t)0x1)
		fail_at(file, line, "aio_waitcomplete left *iocbp unwritten (%zd, %s)",
			r, errname(e));
	if (*cbp == NULL)
		fail_at(file, line, "aio_waitcomplete: nothing completed within %d ms "
			"(returned %zd, errno %s)", ms, r, errname(e));
	if (r < -1)
		fail_at(file, line, "aio_waitcomplete returned %zd", r);
	*err = r == -1 ? e : 0;
	if (r == -1 && e == 0)
		fail_at(file, line, "aio_waitcomplete returned -1 for a request "
			"with errno 0");
	return r;
}

#define reap(cbp, errp) reap_at((cbp), (errp), WAIT_MS, __FILE__, __LINE__)

/* Nothing is waiting: a zero-timeout poll fails with EAGAIN and *iocbp NULL. */
static UNUSED void expect_nothing_waiting_at(const char *file, int line)
{
	struct aiocb *cb = (struct aiocb *)(uintptr_t)0x1;
	errno = 0;
	ssize_t r = aio_waitcomplete(&cb, &ZERO_TIMEOUT);
	int e = errno;
	if (r != -1 || e != EAGAIN || cb != NULL)
		fail_at(file, line, "zero-timeout aio_waitcomplete = %zd errno %s "
			"iocb %p, expected -1 EAGAIN NULL (nothing should be waiting)",
			r, errname(e), (void *)cb);
}

#define EXPECT_NOTHING_WAITING() expect_nothing_waiting_at(__FILE__, __LINE__)

/* Turn the completion queue on (a zero-timeout poll with nothing waiting). */
#define ENABLE_QUEUE() EXPECT_NOTHING_WAITING()

/* poll() one descriptor for POLLIN: 1 readable, 0 not within ms. */
static UNUSED int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	CHECK(r >= 0);
	return r == 1 && (p.revents & POLLIN) != 0;
}

/* A snapshot of paio's counters (full structure). */
static UNUSED struct paio_stats stats_now(void)
{
	struct paio_stats s;
	memset(&s, 0, sizeof s);
	s.size = sizeof s;
	CHECK(paio_stats(&s) == 0);
	if (s.size != sizeof s || s.version != PAIO_STATS_VERSION)
		FAIL("paio_stats: size %u version %u", s.size, s.version);
	return s;
}

/* aio_suspend over cbs[0..n) (those still in progress) until every one is
 * done; fails the scenario after WAIT_MS. */
static UNUSED void suspend_all(struct aiocb *cbs, int n)
{
	const struct aiocb **list = calloc(n, sizeof *list);
	CHECK(list != NULL);
	long long deadline = now_ms() + WAIT_MS;
	for (;;) {
		int left = 0;
		for (int i = 0; i < n; i++) {
			list[i] = aio_error(&cbs[i]) == EINPROGRESS ? &cbs[i] : NULL;
			left += list[i] != NULL;
		}
		if (left == 0)
			break;
		if (now_ms() > deadline)
			FAIL("%d of %d requests still in progress", left, n);
		struct timespec ts = { 0, 100 * 1000000L };
		if (aio_suspend(list, n, &ts) != 0 && errno != EAGAIN && errno != EINTR)
			FAIL("aio_suspend: %s", strerror(errno));
	}
	free(list);
}

/* PAIO_BACKEND=threads (the worker pool only) is set for this run. */
static UNUSED int backend_is_threads(void)
{
	const char *b = getenv("PAIO_BACKEND");
	return b != NULL && (strcmp(b, "threads") == 0 || strcmp(b, "pool") == 0);
}

#endif
