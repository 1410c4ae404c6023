/* The request-slot pool exhausted (run with PAIO_MAX_REQUESTS=1024): 1024
 * reads wait on an empty pipe; then a pipe read, aio_fsync and lio_listio in
 * both modes are refused with -1/EAGAIN (each aiocb shows EAGAIN) while the
 * 1024 stay intact; once data arrives the 1024 complete in order, and after
 * they drain new requests succeed. */
#include "faults.h"

#define N 1024
#define LEN 16

static struct aiocb cbs[N];
static char bufs[N][LEN];
static char stream[N * LEN];

/* Queue N reads on the empty pipe. In the first round every one must be
 * accepted at once. In a later round, right after the previous requests were
 * seen complete, a slot may still be on its way back to the free list (paio
 * publishes a result before it recycles the slot): a refusal is retried for
 * up to 1 s and counted. */
static int fill(int rfd, int round)
{
	int retries = 0;
	long t0 = now_ms();
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], rfd, bufs[i], LEN, 0, LIO_READ);
		errno = 0;
		while (aio_read(&cbs[i]) != 0) {
			if (round == 0 || errno != EAGAIN)
				FAIL("round %d: read %d of %d refused: %s", round, i, N, errname(errno));
			if (now_ms() - t0 > 1000)
				FAIL("round %d: read %d still refused 1 s after the earlier requests completed", round, i);
			retries++;
			sleep_ms(1);
		}
	}
	return retries;
}

int main(void)
{
	int p[2], q[2];
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	int fd = tmp_file("slots");
	static char fbuf[4096];
	must_pwrite(fd, fbuf, sizeof fbuf, 0);
	fill_pattern(stream, sizeof stream, 14, 0);

	fill(p[0], 0);
	struct aiocb x, y, l1, l2, l3;
	prep(&x, q[0], fbuf, 10, 0, LIO_READ);
	EXPECT_REFUSED(aio_read(&x), &x, EAGAIN);
	prep(&y, fd, NULL, 0, 0, 0);
	EXPECT_REFUSED(aio_fsync(O_SYNC, &y), &y, EAGAIN);
	prep(&l1, q[0], fbuf, 10, 0, LIO_READ);
	prep(&l2, q[0], fbuf, 10, 0, LIO_READ);
	struct aiocb *list[] = { &l1, &l2 };
	EXPECT_SYSERR(lio_listio(LIO_NOWAIT, list, 2, NULL), EAGAIN);
	EXPECT_ERRNO(aio_error(&l1), EAGAIN);
	EXPECT_ERRNO(aio_error(&l2), EAGAIN);
	prep(&l3, q[0], fbuf, 10, 0, LIO_READ);
	struct aiocb *list3[] = { &l3 };
	EXPECT_SYSERR(lio_listio(LIO_WAIT, list3, 1, NULL), EAGAIN);
	EXPECT_ERRNO(aio_error(&l3), EAGAIN);
	/* A cached file read may still complete inside the call (no slot). */
	struct aiocb z;
	prep(&z, fd, fbuf, 4096, 0, LIO_READ);
	errno = 0;
	int zr = aio_read(&z);
	if (zr == 0)
		EXPECT_DONE(&z, 4096);
	else
		EXPECT_ERRNO(errno, EAGAIN);
	printf("~cached file read with every slot taken: %s\n", zr == 0 ? "completed inline" : "EAGAIN");
	for (int i = 0; i < N; i++)
		EXPECT_ERRNO(aio_error(&cbs[i]), EINPROGRESS);
	printf("%d requests in flight: pipe read, aio_fsync, lio_listio NOWAIT and WAIT -> -1/EAGAIN, aio_error EAGAIN\n", N);

	must_write(p[1], stream, sizeof stream);
	for (int i = 0; i < N; i++) {
		EXPECT_DONE(&cbs[i], LEN);
		EXPECT_PATTERN(bufs[i], LEN, 14, (long long)i * LEN);
	}
	printf("the %d earlier requests complete in order\n", N);

	/* Drained: a new request succeeds (allow the last slots a moment to be
	 * returned after their results were published). */
	long t0 = now_ms();
	int tries = 0;
	for (;;) {
		prep(&x, q[0], fbuf, 10, 0, LIO_READ);
		errno = 0;
		if (aio_read(&x) == 0)
			break;
		EXPECT_ERRNO(errno, EAGAIN);
		tries++;
		if (now_ms() - t0 > 1000)
			FAIL("still EAGAIN 1 s after every request completed");
		sleep_ms(1);
	}
	printf("~new submission refused %d time(s) right after draining\n", tries);
	must_write(q[1], "abcdefghij", 10);
	EXPECT_DONE(&x, 10);
	/* And a full second round fits again. */
	int retries = fill(p[0], 1);
	printf("~second round: %d refusal(s) retried\n", retries);
	must_write(p[1], stream, sizeof stream);
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], LEN);
	printf("after draining, new requests succeed (a second round of %d too)\n", N);
	return 0;
}
