/* aio_waitcomplete happy path: a write, a read, an fsync and a vectored read
 * come out once each with their aiocb and what aio_return gives (100, 50, 0,
 * 30); a NULL timeout waits until a request completes (a read on a pipe that
 * a thread fills 200 ms later); afterwards nothing is left (EAGAIN). */
#include "ext.h"

static int pipe_w;

static void *writer(void *arg)
{
	(void)arg;
	sleep_ms(200);
	must_write(pipe_w, "z", 1);
	return NULL;
}

int main(void)
{
	ENABLE_QUEUE();
	int fd = tmp_file("waitcomplete");
	static char src[100], dst[50], v1[10], v2[20];
	fill_pattern(src, sizeof src, 71, 0);
	must_pwrite(fd, src, sizeof src, 1000);

	struct aiocb w, r, s, rv;
	prep(&w, fd, src, sizeof src, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	prep(&r, fd, dst, sizeof dst, 1000, LIO_READ);
	EXPECT_OK(aio_read(&r));
	prep(&s, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &s));
	struct iovec iov[2] = { { v1, 10 }, { v2, 20 } };
	prepv(&rv, fd, iov, 2, 1010, LIO_READ);
	EXPECT_OK(aio_readv(&rv));

	struct aiocb *cbs[4] = { &w, &r, &s, &rv };
	const ssize_t want[4] = { 100, 50, 0, 30 };
	int seen[4] = { 0 };
	for (int n = 0; n < 4; n++) {
		struct aiocb *got;
		int err;
		ssize_t ret = reap(&got, &err);
		int i = 0;
		while (i < 4 && cbs[i] != got)
			i++;
		if (i == 4)
			FAIL("aio_waitcomplete returned unknown aiocb %p", (void *)got);
		if (seen[i]++)
			FAIL("request %d returned twice", i);
		if (ret != want[i])
			FAIL("request %d: %zd (%s), expected %zd", i, ret, errname(err), want[i]);
	}
	EXPECT_PATTERN(dst, sizeof dst, 71, 0);
	EXPECT_PATTERN(v1, 10, 71, 10);
	EXPECT_PATTERN(v2, 20, 71, 20);
	EXPECT_NOTHING_WAITING();
	printf("write 100, read 50, fsync 0, readv 30: each once, then EAGAIN\n");

	int p[2];
	CHECK(pipe(p) == 0);
	pipe_w = p[1];
	char c;
	struct aiocb pr;
	prep(&pr, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&pr));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	long long t0 = now_ms();
	struct aiocb *got = NULL;
	ssize_t ret = aio_waitcomplete(&got, NULL);
	long long waited = now_ms() - t0;
	CHECK(pthread_join(t, NULL) == 0);
	if (got != &pr || ret != 1 || c != 'z')
		FAIL("NULL timeout: got %p %zd '%c', expected %p 1 'z'",
		     (void *)got, ret, c, (void *)&pr);
	if (waited < 150)
		FAIL("NULL timeout returned after %lld ms, before the data came", waited);
	EXPECT_NOTHING_WAITING();
	printf("NULL timeout waits for the pipe read: 1\n");
	printf("~waited %lld ms\n", waited);
	close(fd);
	return 0;
}
