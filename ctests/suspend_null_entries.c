/* aio_suspend skips NULL entries: a list of NULLs around a request that
 * completes later wakes on it; what a list of only NULL entries gives (with a
 * short timeout) is printed and compared. */
#include "common.h"

static int wfd;

static void *writer(void *arg)
{
	(void)arg;
	sleep_ms(30);
	must_write(wfd, "w", 1);
	return NULL;
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	wfd = p[1];
	char a[8];
	struct aiocb cb;
	prep(&cb, p[0], a, sizeof a, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	const struct aiocb *list[5] = { NULL, NULL, &cb, NULL, NULL };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	int r;
	while ((r = aio_suspend(list, 5, NULL)) != 0 && errno == EINTR)
		;
	EXPECT_EQ(r, 0);
	EXPECT_DONE(&cb, 1);
	CHECK(pthread_join(t, NULL) == 0);

	const struct aiocb *nulls[3] = { NULL, NULL, NULL };
	struct timespec ts = { 0, 20 * 1000000L };
	errno = 0;
	r = aio_suspend(nulls, 3, &ts);
	printf("only NULL entries: %d %s\n", r, r ? errname(errno) : "");
	errno = 0;
	r = aio_suspend(nulls, 0, &ts);
	printf("nent 0: %d %s\n", r, r ? errname(errno) : "");
	printf("NULL entries skipped\n");
	return 0;
}
