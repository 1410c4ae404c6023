/* 10,000 aio_reads pending on sockets at once (2,500 stream socketpairs, 4
 * reads queued on each), with no data anywhere: every one stays EINPROGRESS.
 * While they are pending, paio's process must stay small in threads (< 64:
 * its kernel AIO backend waits for socket readiness with IOCB_CMD_POLL, and
 * its pool is bounded); under glibc the count is only printed (its bounded
 * pool queues the rest, one request per fd at a time). Then each peer gets
 * one write holding its socket's 4 records, and every read must complete
 * with exactly one record, the k-th read on a socket with the k-th record.
 *
 * Descriptors: 5,000 for the sockets, and paio holds a duplicate of the fd
 * for each pending request (so that a close cannot redirect it), 10,000 more.
 * The scenario needs RLIMIT_NOFILE >= 16,384 (it raises the soft limit up to
 * the hard one if needed) and skips otherwise. */
#include "common.h"
#include <sys/resource.h>

#define PAIRS 2500
#define PER_SOCKET 4
#define N (PAIRS * PER_SOCKET)
#define REC 16
#define NOFILE_NEEDED 16384
#define PAIO_MAX_THREADS 64

static int sv[PAIRS][2];
static struct aiocb cbs[PAIRS][PER_SOCKET];
static unsigned char bufs[PAIRS][PER_SOCKET][REC];

/* Record k of socket s: REC bytes that name both. */
static void record(int s, int k, unsigned char *out)
{
	fill_pattern(out, REC, 47 + (unsigned)k, (long long)s * REC);
}

/* The "Threads:" line of /proc/self/status. */
static int status_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	CHECK(f != NULL);
	char line[256];
	int n = -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	if (n < 0)
		FAIL("no Threads: line in /proc/self/status");
	return n;
}

int main(void)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < NOFILE_NEEDED && rl.rlim_max >= NOFILE_NEEDED) {
		rl.rlim_cur = NOFILE_NEEDED;
		CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	if (rl.rlim_cur < NOFILE_NEEDED)
		skip("RLIMIT_NOFILE is %llu (hard %llu), %d needed",
		     (unsigned long long)rl.rlim_cur,
		     (unsigned long long)rl.rlim_max, NOFILE_NEEDED);
	printf("~ RLIMIT_NOFILE soft %llu hard %llu\n",
	       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);

	for (int s = 0; s < PAIRS; s++)
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[s]) == 0);
	int before = status_threads();

	long long t0 = now_ms();
	for (int k = 0; k < PER_SOCKET; k++)
		for (int s = 0; s < PAIRS; s++) {
			prep(&cbs[s][k], sv[s][1], bufs[s][k], REC, 0, LIO_READ);
			errno = 0;
			if (aio_read(&cbs[s][k]) != 0)
				FAIL("aio_read socket %d #%d: %s", s, k,
				     errname(errno));
		}
	long long submitted = now_ms() - t0;

	/* Let whatever threads the library starts for them start. */
	sleep_ms(300);
	int pending = 0;
	for (int s = 0; s < PAIRS; s++)
		for (int k = 0; k < PER_SOCKET; k++)
			pending += aio_error(&cbs[s][k]) == EINPROGRESS;
	int during = status_threads();
	printf("%d socket reads submitted (%d socketpairs x %d), %d pending\n",
	       N, PAIRS, PER_SOCKET, pending);
	printf("~ threads: %d before, %d while %d reads pending; submitting took %lld ms (%s)\n",
	       before, during, pending, submitted, impl_name());
	if (pending != N)
		FAIL("%d of %d reads finished with no data sent", N - pending, N);
	if (is_paio() && during >= PAIO_MAX_THREADS)
		FAIL("%d threads while %d socket reads pend, expected < %d",
		     during, N, PAIO_MAX_THREADS);

	/* One write per peer: the socket's records back to back. */
	t0 = now_ms();
	for (int s = 0; s < PAIRS; s++) {
		unsigned char all[PER_SOCKET * REC];
		for (int k = 0; k < PER_SOCKET; k++)
			record(s, k, all + k * REC);
		must_write(sv[s][0], all, sizeof all);
	}
	for (int s = 0; s < PAIRS; s++)
		for (int k = 0; k < PER_SOCKET; k++) {
			struct aiocb *cb = &cbs[s][k];
			int e = wait_done(cb);
			if (e != 0)
				FAIL("read socket %d #%d failed: %s", s, k, errname(e));
			ssize_t n = aio_return(cb);
			if (n != REC)
				FAIL("read socket %d #%d returned %zd, expected %d",
				     s, k, n, REC);
			unsigned char want[REC];
			record(s, k, want);
			if (memcmp(bufs[s][k], want, REC) != 0)
				FAIL("read socket %d #%d got another record "
				     "(out of order?)", s, k);
		}
	printf("all %d reads completed in per-socket order\n", N);
	printf("~ completing took %lld ms\n", now_ms() - t0);

	for (int s = 0; s < PAIRS; s++) {
		close(sv[s][0]);
		close(sv[s][1]);
	}
	return 0;
}
