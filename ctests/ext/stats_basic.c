/* paio_stats: before any AIO call every counter is 0 and size/version are
 * set; after requests the counters grow by exactly what was done (requests,
 * reads, writes, fsyncs, errors; vectored requests count as reads and
 * writes), every request ran somewhere (inline + pool + kernel), a cancelled
 * request counts in cancelled and errors, and kernel_aio / fallback_errno
 * agree with the backend. */
#include "ext.h"

static int all_zero(const struct paio_stats *s)
{
	return s->requests == 0 && s->reads == 0 && s->writes == 0 && s->fsyncs == 0 &&
	       s->inline_completions == 0 && s->pool == 0 && s->kernel == 0 &&
	       s->retried == 0 && s->errors == 0 && s->cancelled == 0 && s->threads == 0;
}

#define DELTA(field) ((long long)(after.field - before.field))

int main(void)
{
	struct paio_stats before = stats_now();
	if (!all_zero(&before))
		FAIL("counters not 0 before the first AIO call (requests %llu)",
		     (unsigned long long)before.requests);
	printf("before any AIO call: version %u, size %u, counters 0\n",
	       before.version, before.size);

	int fd = tmp_file("stats");
	static char buf[8192];
	must_pwrite(fd, buf, sizeof buf, 0);
	struct aiocb cbs[9];
	struct iovec iov[2] = { { buf, 100 }, { buf + 100, 100 } };
	for (int i = 0; i < 3; i++) {
		prep(&cbs[i], fd, buf + 1000 * i, 1000, 1000 * i, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
	}
	for (int i = 3; i < 5; i++) {
		prep(&cbs[i], fd, buf + 1000 * i, 1000, 1000 * i, LIO_WRITE);
		EXPECT_OK(aio_write(&cbs[i]));
	}
	prepv(&cbs[5], fd, iov, 2, 0, LIO_READ);
	EXPECT_OK(aio_readv(&cbs[5]));
	prepv(&cbs[6], fd, iov, 2, 6000, LIO_WRITE);
	EXPECT_OK(aio_writev(&cbs[6]));
	prep(&cbs[7], -1, buf, 10, 0, LIO_READ);
	EXPECT_OK(aio_read(&cbs[7]));
	for (int i = 0; i < 8; i++)
		wait_done(&cbs[i]);
	prep(&cbs[8], fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &cbs[8]));
	EXPECT_DONE(&cbs[8], 0);

	struct paio_stats after = stats_now();
	EXPECT_EQ(DELTA(requests), 9);
	EXPECT_EQ(DELTA(reads), 5);
	EXPECT_EQ(DELTA(writes), 3);
	EXPECT_EQ(DELTA(fsyncs), 1);
	EXPECT_EQ(DELTA(errors), 1);
	EXPECT_EQ(DELTA(cancelled), 0);
	long long ran = DELTA(inline_completions) + DELTA(pool) + DELTA(kernel);
	if (ran < 9)
		FAIL("inline %lld + pool %lld + kernel %lld < 9 requests",
		     DELTA(inline_completions), DELTA(pool), DELTA(kernel));
	printf("9 requests: requests +9 reads +5 writes +3 fsyncs +1 errors +1\n");
	printf("~inline +%lld pool +%lld kernel +%lld retried +%lld threads %llu\n",
	       DELTA(inline_completions), DELTA(pool), DELTA(kernel), DELTA(retried),
	       (unsigned long long)after.threads);

	if (backend_is_threads()) {
		EXPECT_EQ(after.kernel_aio, 0);
		EXPECT_EQ(after.fallback_errno, 0);
		EXPECT_EQ(DELTA(kernel), 0);
		/* No inline attempts: at most the EBADF read completes in the call. */
		if (DELTA(inline_completions) > 1)
			FAIL("PAIO_BACKEND=threads but inline +%lld", DELTA(inline_completions));
	} else if (after.kernel_aio) {
		EXPECT_EQ(after.fallback_errno, 0);
	} else {
		CHECK(after.fallback_errno != 0);
	}
	printf("kernel_aio / fallback_errno agree with the backend\n");
	printf("~kernel_aio=%u fallback_errno=%d\n", after.kernel_aio, after.fallback_errno);

	/* A read waiting on a pipe, cancelled. */
	int p[2];
	CHECK(pipe(p) == 0);
	struct aiocb pr;
	char c;
	prep(&pr, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&pr));
	let_worker_start();
	before = stats_now();
	int rc = aio_cancel(p[0], &pr);
	if (rc == AIO_CANCELED) {
		EXPECT_FAILED(&pr, ECANCELED);
		after = stats_now();
		EXPECT_EQ(DELTA(cancelled), 1);
		EXPECT_EQ(DELTA(errors), 1);
	} else {
		EXPECT_EQ(rc, AIO_NOTCANCELED);
		must_write(p[1], "x", 1);
		EXPECT_DONE(&pr, 1);
		after = stats_now();
		EXPECT_EQ(DELTA(cancelled), 0);
	}
	EXPECT_EQ(DELTA(requests), 0);
	printf("cancel of a pending pipe read counted\n");
	printf("~aio_cancel: %s\n", rc == AIO_CANCELED ? "AIO_CANCELED" : "AIO_NOTCANCELED");
	close(fd);
	return 0;
}
