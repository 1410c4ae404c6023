/* matrix: once */
/* Issue 11, defect 4: the library's own resources are never a reason to
 * refuse a request glibc accepts.
 *
 * A program sizes RLIMIT_NOFILE for its own descriptors: N socketpairs, soft
 * limit = highest descriptor in use + 1 + 16. It submits one aio_read on the
 * reading end of every pair while nothing has been written (all N pending at
 * once), then writes one byte to every pair and waits for all. glibc accepts
 * every request (20 threads read, the rest wait in its queue) and completes
 * each with its byte; paio once answered EAGAIN once about 16 requests were
 * pending (the 16 spare descriptors), because each waiting request held a
 * private duplicate descriptor.
 *
 * Two rounds in one process: 600 pairs, then 2,000 (the hard limit is raised
 * where it is lower, which needs root, as in CI; where that is refused the
 * program skips). Both rounds run even when the first fails.
 *
 * Usage: prog [DIR] (DIR unused).
 */
#include <sys/resource.h>
#include "../common.h"

#define SPARE 16

static void set_nofile(rlim_t soft, rlim_t hard)
{
	struct rlimit rl = { soft, hard };
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		FAIL("setrlimit(RLIMIT_NOFILE, %llu, %llu): %s",
		     (unsigned long long)soft, (unsigned long long)hard,
		     strerror(errno));
}

/* Room for `need` descriptors, raising the hard limit if it is lower
 * (root only); skips the program where that is refused. */
static void make_room(rlim_t need)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rlim_t hard = rl.rlim_max;
	if (hard != RLIM_INFINITY && hard < need) {
		struct rlimit up = { need, need };
		if (setrlimit(RLIMIT_NOFILE, &up) != 0)
			skip("RLIMIT_NOFILE hard limit %llu is below the %llu this "
			     "program needs and cannot be raised (%s)",
			     (unsigned long long)hard, (unsigned long long)need,
			     errname(errno));
		hard = need;
	}
	set_nofile(need, hard);
}

/* One round; returns 1 when every request was accepted and completed right. */
static int round_of(int n)
{
	/* Up to the socketpairs, the limit is generous. */
	make_room((rlim_t)n * 2 + 64);
	int(*sv)[2] = calloc((size_t)n, sizeof *sv);
	struct aiocb *cbs = calloc((size_t)n, sizeof *cbs);
	unsigned char *got = calloc((size_t)n, 1);
	CHECK(sv != NULL && cbs != NULL && got != NULL);
	int highest = 2;
	for (int i = 0; i < n; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) == 0);
		for (int k = 0; k < 2; k++)
			if (sv[i][k] > highest)
				highest = sv[i][k];
	}
	/* What the program needs, and 16 more: nothing for a library. */
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rlim_t limit = (rlim_t)highest + 1 + SPARE;
	set_nofile(limit, rl.rlim_max);
	printf("%d socketpairs, RLIMIT_NOFILE soft limit = highest fd + 1 + %d\n", n,
	       SPARE);
	printf("~highest fd %d, soft limit %llu\n", highest, (unsigned long long)limit);

	int accepted = 0, again = 0, other = 0, first_refused = -1;
	for (int i = 0; i < n; i++) {
		prep(&cbs[i], sv[i][0], &got[i], 1, 0, LIO_READ);
		errno = 0;
		int r = aio_read(&cbs[i]);
		if (r == 0) {
			accepted++;
			continue;
		}
		if (first_refused < 0)
			first_refused = i;
		if (errno == EAGAIN)
			again++;
		else
			other++;
		cbs[i].aio_fildes = -1; /* not submitted */
	}
	printf("aio_read on %d empty sockets: %d accepted, %d EAGAIN, %d other errors\n",
	       n, accepted, again, other);
	if (first_refused >= 0)
		fprintf(stderr, "round of %d: request #%d (0-based) was the first refused\n",
			n, first_refused);

	for (int i = 0; i < n; i++) {
		unsigned char b = pattern_byte(77, i);
		must_write(sv[i][1], &b, 1);
	}
	int completed = 0, right = 0;
	long long deadline = now_ms() + WAIT_MS;
	for (int i = 0; i < n; i++) {
		if (cbs[i].aio_fildes < 0)
			continue;
		int e;
		while ((e = aio_error(&cbs[i])) == EINPROGRESS) {
			if (now_ms() > deadline)
				FAIL("round of %d: request #%d still in progress after %d ms",
				     n, i, WAIT_MS);
			const struct aiocb *one[1] = { &cbs[i] };
			struct timespec ts = { 0, 20 * 1000000L };
			aio_suspend(one, 1, &ts);
		}
		ssize_t r = aio_return(&cbs[i]);
		if (e == 0 && r == 1) {
			completed++;
			right += got[i] == pattern_byte(77, i);
		} else {
			fprintf(stderr, "round of %d: request #%d: %s, %zd\n", n, i,
				errname(e), r);
		}
	}
	printf("completed %d, with the right byte %d\n", completed, right);
	for (int i = 0; i < n; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
	free(sv);
	free(cbs);
	free(got);
	if (accepted == n && completed == n && right == n)
		return 1;
	fprintf(stderr, "round of %d: %d accepted, %d completed, %d right\n", n,
		accepted, completed, right);
	return 0;
}

int main(void)
{
	int ok = round_of(600);
	ok &= round_of(2000);
	return ok ? 0 : 1;
}
