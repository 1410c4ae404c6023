/* The completion queue starts with the first aio_waitcomplete (or
 * paio_completion_fd): requests submitted before it are never returned, even
 * those that complete after it; every request submitted after it is. */
#include "ext.h"

int main(void)
{
	int fd = tmp_file("before-enable");
	static char buf[64];
	must_pwrite(fd, "0123456789", 10, 0);

	/* Done and reaped before the queue exists. */
	struct aiocb early;
	prep(&early, fd, buf, 10, 0, LIO_READ);
	EXPECT_OK(aio_read(&early));
	EXPECT_DONE(&early, 10);
	/* Done but never reaped before the queue exists. */
	struct aiocb early2;
	prep(&early2, fd, buf + 10, 5, 0, LIO_READ);
	EXPECT_OK(aio_read(&early2));
	CHECK(wait_done(&early2) == 0);
	/* Pending when the queue starts, completes after. */
	int p[2];
	CHECK(pipe(p) == 0);
	struct aiocb pending;
	prep(&pending, p[0], buf + 20, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&pending));

	ENABLE_QUEUE();
	printf("first aio_waitcomplete: EAGAIN (earlier requests not queued)\n");
	must_write(p[1], "p", 1);
	EXPECT_DONE(&pending, 1);
	sleep_ms(50);
	EXPECT_NOTHING_WAITING();

	/* Had `pending` been queued, it would come out before `late`. */
	struct aiocb late;
	prep(&late, fd, buf + 30, 4, 6, LIO_READ);
	EXPECT_OK(aio_read(&late));
	struct aiocb *got;
	int err;
	ssize_t r = reap(&got, &err);
	if (got != &late)
		FAIL("aio_waitcomplete returned %p (%zd), expected the later request %p"
		     " (earlier ones: %p %p %p)", (void *)got, r, (void *)&late,
		     (void *)&early, (void *)&early2, (void *)&pending);
	EXPECT_EQ(r, 4);
	EXPECT_NOTHING_WAITING();
	printf("a request submitted before, completed after: not returned\n");
	printf("a request submitted after: returned once\n");
	close(fd);
	return 0;
}
