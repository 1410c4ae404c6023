/* aio_suspend interrupted by a signal (handler without SA_RESTART): -1/EINTR;
 * the request is unaffected and completes later. Also with a timeout. */
#include "common.h"

static atomic_int hits;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

int main(void)
{
	install_handler(SIGUSR1, on_usr1);
	int p[2];
	CHECK(pipe(p) == 0);
	char a[8];
	struct aiocb pending;
	prep(&pending, p[0], a, sizeof a, 0, LIO_READ);
	EXPECT_OK(aio_read(&pending));
	const struct aiocb *list[1] = { &pending };

	struct interrupter it;
	interrupter_start(&it, SIGUSR1);
	EXPECT_SYSERR(aio_suspend(list, 1, NULL), EINTR);
	struct timespec ts = { 20, 0 };
	EXPECT_SYSERR(aio_suspend(list, 1, &ts), EINTR);
	interrupter_stop(&it);
	CHECK(atomic_load(&hits) >= 2);

	EXPECT_ERRNO(aio_error(&pending), EINPROGRESS);
	must_write(p[1], "k", 1);
	EXPECT_DONE(&pending, 1);
	printf("aio_suspend interrupted -> EINTR\n");
	return 0;
}
