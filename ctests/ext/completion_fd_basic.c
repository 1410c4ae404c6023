/* paio_completion_fd: the same descriptor every call; readable at once when
 * completions were already waiting when it was created; not readable while
 * nothing has completed (a read pending on a pipe); readable once a request
 * completes; reading 8 bytes resets it, aio_waitcomplete with a zero timeout
 * then drains every completion until EAGAIN, and it stays quiet until the
 * next completion. */
#include "ext.h"

/* Take every completion waiting now (zero-timeout polls until EAGAIN). */
static int drain_now(const char *what)
{
	int n = 0;
	for (;;) {
		struct aiocb *cb = (struct aiocb *)(uintptr_t)0x1;
		errno = 0;
		ssize_t r = aio_waitcomplete(&cb, &ZERO_TIMEOUT);
		if (cb == NULL) {
			if (r != -1 || errno != EAGAIN)
				FAIL("%s: drain ended with %zd %s", what, r, errname(errno));
			return n;
		}
		n++;
	}
}

static void reset(int fd, const char *what)
{
	uint64_t count = 0;
	if (read(fd, &count, sizeof count) != (ssize_t)sizeof count)
		FAIL("%s: read(completion fd): %s", what, strerror(errno));
	CHECK(count >= 1);
}

/* Wait until readable, reset, drain; again until `expect` completions came
 * (a completion may be taken by a drain before its own wake-up lands). Then
 * the descriptor goes quiet: at most one late wake-up whose drain finds
 * nothing, and after a reset it is not readable. */
static void collect(int fd, int expect, const char *what)
{
	int n = 0, wakeups = 0;
	long long deadline = now_ms() + WAIT_MS;
	while (n < expect) {
		long long left = deadline - now_ms();
		if (left <= 0 || !readable(fd, (int)left))
			FAIL("%s: %d of %d completions, then not readable", what, n, expect);
		reset(fd, what);
		wakeups++;
		n += drain_now(what);
	}
	if (n != expect)
		FAIL("%s: drained %d completions, expected %d", what, n, expect);
	sleep_ms(20);
	int late = 0;
	if (readable(fd, 0)) {
		late = 1;
		reset(fd, what);
		int extra = drain_now(what);
		if (extra != 0)
			FAIL("%s: %d completions more than the %d requests", what, extra, expect);
	}
	if (readable(fd, 0))
		FAIL("%s: still readable after reset and drain", what);
	printf("%s: readable; reset, %d drained, quiet\n", what, n);
	printf("~%s: %d wake-ups, %d late\n", what, wakeups, late);
}

int main(void)
{
	/* The queue is on before the descriptor exists; a completion waits. */
	ENABLE_QUEUE();
	int file = tmp_file("cfd");
	must_pwrite(file, "0123456789", 10, 0);
	char buf[16];
	struct aiocb a;
	prep(&a, file, buf, 10, 0, LIO_READ);
	EXPECT_OK(aio_read(&a));
	CHECK(wait_done(&a) == 0);

	int fd = paio_completion_fd();
	CHECK(fd >= 0);
	EXPECT_EQ(paio_completion_fd(), fd);
	if (!readable(fd, WAIT_MS))
		FAIL("a completion waited before the descriptor existed, but it is not readable");
	collect(fd, 1, "created with a completion waiting");

	int p[2];
	CHECK(pipe(p) == 0);
	char c;
	struct aiocb pr;
	prep(&pr, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&pr));
	if (readable(fd, 200))
		FAIL("readable while the only request is still waiting on a pipe");
	printf("quiet while a pipe read is pending\n");
	must_write(p[1], "c", 1);
	collect(fd, 1, "pipe read completed");

	enum { N = 5 };
	struct aiocb cbs[N];
	char bufs[N][2];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], file, bufs[i], 2, 2 * i, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
	}
	for (int i = 0; i < N; i++)
		CHECK(wait_done(&cbs[i]) == 0);
	collect(fd, N, "5 file reads completed");
	EXPECT_EQ(paio_completion_fd(), fd);
	close(file);
	return 0;
}
