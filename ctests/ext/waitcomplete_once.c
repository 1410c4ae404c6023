/* Issue 11, defect 5: a request is handed to the program once, by aio_return
 * or by aio_waitcomplete, whichever comes first (FreeBSD's rule: there
 * aio_return frees the request, and aio_waitcomplete "also serves the
 * function of aio_return"). A program that mixes both styles may free or
 * reuse an aiocb right after aio_return; aio_waitcomplete must not hand it
 * back later. paio once returned such requests again.
 *
 * - lio_listio(LIO_WAIT) entries, each reaped with aio_return: a later
 *   aio_waitcomplete finds nothing (zero timeout and 100 ms: EAGAIN, NULL);
 * - the same for LIO_NOWAIT entries and single requests waited for with
 *   aio_error/aio_suspend and reaped with aio_return, a failed one included;
 * - requests only looked at with aio_error (which does not take them), or
 *   not looked at: aio_waitcomplete returns each once, with its result;
 *   aio_return afterwards gives the value again (paio's documented choice:
 *   the state lives in the aiocb; FreeBSD answers EINVAL there);
 * - an aiocb reaped with aio_return and reused at once for a new request:
 *   only the new request comes out.
 */
#include "ext.h"

static void expect_nothing_within(int ms, const char *after)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	struct aiocb *cb = (struct aiocb *)(uintptr_t)0x1;
	errno = 0;
	ssize_t r = aio_waitcomplete(&cb, &ts);
	int e = errno;
	if (r != -1 || e != EAGAIN || cb != NULL)
		FAIL("after %s: aio_waitcomplete(%d ms) = %zd errno %s iocb %p, expected "
		     "-1 EAGAIN NULL (every request was already taken by aio_return)",
		     after, ms, r, errname(e), (void *)cb);
	EXPECT_NOTHING_WAITING();
}

int main(void)
{
	ENABLE_QUEUE();
	int fd = tmp_file("wc-once");
	static char data[8192];
	fill_pattern(data, sizeof data, 17, 0);
	must_pwrite(fd, data, sizeof data, 0);
	static char buf[8][512];

	/* lio_listio(LIO_WAIT), every entry reaped with aio_return. */
	struct aiocb l[3];
	struct aiocb *list[3];
	for (int i = 0; i < 3; i++) {
		prep(&l[i], fd, buf[i], 512, (off_t)i * 512, LIO_READ);
		list[i] = &l[i];
	}
	EXPECT_OK(lio_listio(LIO_WAIT, list, 3, NULL));
	for (int i = 0; i < 3; i++) {
		EXPECT_ERRNO(aio_error(&l[i]), 0);
		EXPECT_EQ(aio_return(&l[i]), 512);
		EXPECT_PATTERN(buf[i], 512, 17, (long long)i * 512);
	}
	expect_nothing_within(100, "lio_listio(LIO_WAIT) and aio_return");
	printf("lio_listio(LIO_WAIT) entries reaped with aio_return: not returned by "
	       "aio_waitcomplete\n");

	/* LIO_NOWAIT entries, a single read, and a failed one, all waited for
	 * and reaped with aio_return. */
	for (int i = 0; i < 3; i++)
		prep(&l[i], fd, buf[i], 256, 4096 + (off_t)i * 256, LIO_READ);
	EXPECT_OK(lio_listio(LIO_NOWAIT, list, 3, NULL));
	struct aiocb one, bad;
	prep(&one, fd, buf[3], 100, 7000, LIO_READ);
	EXPECT_OK(aio_read(&one));
	prep(&bad, -1, buf[4], 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&bad));
	for (int i = 0; i < 3; i++)
		EXPECT_DONE(&l[i], 256);
	EXPECT_DONE(&one, 100);
	EXPECT_FAILED(&bad, EBADF);
	sleep_ms(20);
	expect_nothing_within(100, "LIO_NOWAIT, aio_read and a failed aio_read, "
			      "reaped with aio_return");
	printf("lio_listio(LIO_NOWAIT) entries, a read and a failed read reaped with "
	       "aio_return: not returned\n");

	/* Reaped and reused at once: only the second request comes out. */
	struct aiocb reused;
	prep(&reused, fd, buf[5], 300, 0, LIO_READ);
	EXPECT_OK(aio_read(&reused));
	EXPECT_DONE(&reused, 300);
	prep(&reused, fd, buf[5], 200, 1000, LIO_READ);
	EXPECT_OK(aio_read(&reused));
	/* Looked at with aio_error only, and not looked at. */
	struct aiocb peeked, unwatched;
	prep(&peeked, fd, buf[6], 50, 2000, LIO_READ);
	EXPECT_OK(aio_read(&peeked));
	EXPECT_ERRNO(wait_done(&peeked), 0);
	prep(&unwatched, fd, data, 10, 8192, LIO_WRITE);
	EXPECT_OK(aio_write(&unwatched));

	int n_reused = 0, n_peeked = 0, n_unwatched = 0;
	for (int n = 0; n < 3; n++) {
		struct aiocb *got;
		int err;
		ssize_t r = reap(&got, &err);
		if (got == &reused) {
			n_reused++;
			if (r != 200)
				FAIL("reused aiocb: %zd (%s), expected its second request's 200",
				     r, errname(err));
		} else if (got == &peeked) {
			n_peeked++;
			EXPECT_EQ(r, 50);
		} else if (got == &unwatched) {
			n_unwatched++;
			EXPECT_EQ(r, 10);
		} else {
			FAIL("aio_waitcomplete returned %p (%zd %s), none of the requests "
			     "not yet taken (%p %p %p)", (void *)got, r, errname(err),
			     (void *)&reused, (void *)&peeked, (void *)&unwatched);
		}
	}
	expect_nothing_within(100, "three requests returned by aio_waitcomplete");
	if (n_reused != 1 || n_peeked != 1 || n_unwatched != 1)
		FAIL("returned %d, %d, %d times, expected once each", n_reused, n_peeked,
		     n_unwatched);
	EXPECT_PATTERN(buf[5], 200, 17, 1000);
	EXPECT_PATTERN(buf[6], 50, 17, 2000);
	printf("reused aiocb: only its second request (200); aio_error-only (50) and "
	       "unwatched (10) requests: once each\n");

	/* aio_return on requests aio_waitcomplete returned: the value again. */
	EXPECT_ERRNO(aio_error(&peeked), 0);
	EXPECT_EQ(aio_return(&peeked), 50);
	EXPECT_EQ(aio_return(&unwatched), 10);
	expect_nothing_within(0, "aio_return on returned requests");
	printf("aio_return after aio_waitcomplete: 50 and 10 again\n");
	close(fd);
	return 0;
}
