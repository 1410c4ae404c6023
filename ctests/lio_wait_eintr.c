/* lio_listio(LIO_WAIT) interrupted by a signal (handler without SA_RESTART):
 * -1/EINTR while the request (a read on an empty pipe) is still in progress;
 * the request itself continues and completes once data arrives.
 *
 * Intentional difference: glibc 2.36 returns EINTR but leaves its on-stack
 * wait record linked to the request, so completing the request afterwards
 * crashes or hangs the process. Under glibc the body runs in a child and its
 * fate is printed. */
#include "common.h"

static atomic_int hits;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

static void body(void)
{
	install_handler(SIGUSR1, on_usr1);
	int p[2];
	CHECK(pipe(p) == 0);
	char buf[8];
	struct aiocb cb;
	prep(&cb, p[0], buf, sizeof buf, 0, LIO_READ);
	struct aiocb *list[1] = { &cb };
	struct interrupter it;
	interrupter_start(&it, SIGUSR1);
	errno = 0;
	int r = lio_listio(LIO_WAIT, list, 1, NULL);
	int e = errno;
	interrupter_stop(&it);
	if (r != -1 || e != EINTR)
		FAIL("LIO_WAIT returned %d errno %s, expected -1 EINTR", r, errname(e));
	CHECK(atomic_load(&hits) >= 1);
	EXPECT_ERRNO(aio_error(&cb), EINPROGRESS);
	must_write(p[1], "late", 4);
	EXPECT_DONE(&cb, 4);
	CHECK(memcmp(buf, "late", 4) == 0);
	printf("LIO_WAIT interrupted: -1/EINTR, request completed later\n");
}

int main(void)
{
	if (is_paio())
		body();
	else
		printf("glibc: %s\n", run_in_child(body, 3));
	return 0;
}
