/* aio_suspend with no timeout blocks until a listed request completes: a read
 * on an empty pipe, completed by a write from another thread. */
#include "common.h"

static int wfd;

static void *writer(void *arg)
{
	(void)arg;
	sleep_ms(50);
	must_write(wfd, "hello", 5);
	return NULL;
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	wfd = p[1];
	char buf[16];
	struct aiocb cb;
	prep(&cb, p[0], buf, sizeof buf, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_ERRNO(aio_error(&cb), EINPROGRESS);

	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	const struct aiocb *list[1] = { &cb };
	int r;
	do {
		r = aio_suspend(list, 1, NULL);
	} while (r != 0 && errno == EINTR);
	EXPECT_EQ(r, 0);
	EXPECT_ERRNO(aio_error(&cb), 0);
	EXPECT_EQ(aio_return(&cb), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("aio_suspend woke on completion\n");
	return 0;
}
