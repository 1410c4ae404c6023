/* aio_waitcomplete interrupted by a signal (handler without SA_RESTART),
 * with a NULL timeout and with a long one: -1/EINTR and *iocbp NULL; the
 * request in flight is unaffected and is returned once it completes. */
#include "ext.h"

static atomic_int hits;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

static void expect_eintr(const struct timespec *ts, const char *what)
{
	struct aiocb *cb = (struct aiocb *)(uintptr_t)0x1;
	errno = 0;
	ssize_t r = aio_waitcomplete(&cb, ts);
	int e = errno;
	if (r != -1 || e != EINTR || cb != NULL)
		FAIL("%s: %zd %s %p, expected -1 EINTR NULL", what, r, errname(e),
		     (void *)cb);
	printf("%s: -1/EINTR, *iocbp NULL\n", what);
}

int main(void)
{
	install_handler(SIGUSR1, on_usr1);
	ENABLE_QUEUE();
	int p[2];
	CHECK(pipe(p) == 0);
	char c;
	struct aiocb r;
	prep(&r, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&r));

	struct interrupter it;
	interrupter_start(&it, SIGUSR1);
	expect_eintr(NULL, "NULL timeout");
	struct timespec ts = { 20, 0 };
	expect_eintr(&ts, "20 s timeout");
	interrupter_stop(&it);
	CHECK(atomic_load(&hits) >= 2);

	EXPECT_ERRNO(aio_error(&r), EINPROGRESS);
	must_write(p[1], "s", 1);
	struct aiocb *got;
	int err;
	EXPECT_EQ(reap(&got, &err), 1);
	CHECK(got == &r && c == 's');
	EXPECT_NOTHING_WAITING();
	printf("the request completes afterwards and is returned once\n");
	return 0;
}
