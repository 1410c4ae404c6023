/* Thread creation denied (a pids cgroup whose limit the program moves
 * itself under): a submission that needs a thread paio cannot start returns
 * -1/EAGAIN and its aiocb shows EAGAIN (a SIGEV_THREAD request too, before
 * any transfer, as glibc; on kernel AIO, a plain aio_fsync
 * needs none: it may be accepted); everything accepted still completes
 * with the right result, and submissions succeed again once threads can be
 * made.
 *
 *   nothreads CGROUP_DIR [strict]
 *
 * CGROUP_DIR is an empty pids cgroup (v1 or v2) made by the harness; the
 * program joins it. "strict" (PAIO_BACKEND=threads, where nothing completes
 * inside the submitting call) requires EAGAIN where, with inline completion,
 * a cached read may legitimately succeed at once instead. Run with
 * PAIO_IDLE_MS small so idle workers exit quickly. */
#include "faults.h"

static const char *cg;
static int strict;
static int accepted, refused;

static void cg_write(const char *file, const char *fmt, long v)
{
	char path[PATH_MAX], val[64];
	snprintf(path, sizeof path, "%s/%s", cg, file);
	snprintf(val, sizeof val, fmt, v);
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(write(fd, val, strlen(val)) == (ssize_t)strlen(val));
	close(fd);
}

static long cg_read(const char *file)
{
	char path[PATH_MAX], val[64] = { 0 };
	snprintf(path, sizeof path, "%s/%s", cg, file);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, val, sizeof val - 1) > 0);
	close(fd);
	return atol(val);
}

/* No thread may start from now on. */
static void clamp(void)
{
	cg_write("pids.max", "%ld", cg_read("pids.current"));
}

/* A submission while threads are denied: either refused with EAGAIN
 * (required when `must_refuse`), or accepted, and then it must complete. */
static int submit_or_refused(struct aiocb *cb, int must_refuse, const char *what)
{
	errno = 0;
	int r = cb->aio_lio_opcode == LIO_WRITE ? aio_write(cb) : aio_read(cb);
	if (r == 0) {
		if (must_refuse)
			FAIL("%s was accepted with no thread to run it", what);
		accepted++;
		return 1;
	}
	if (r != -1 || errno != EAGAIN)
		FAIL("%s returned %d errno %s, expected 0 or -1/EAGAIN", what, r, errname(errno));
	EXPECT_ERRNO(aio_error(cb), EAGAIN);
	refused++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		FAIL("usage: nothreads CGROUP_DIR [strict]");
	cg = argv[1];
	strict = argc > 2 && strcmp(argv[2], "strict") == 0;
	cg_write("cgroup.procs", "%ld", (long)getpid());
	int fd = tmp_file("nothreads");
	static char data[65536], got[65536];
	fill_pattern(data, sizeof data, 12, 0);
	must_pwrite(fd, data, sizeof data, 0);
	int p[2];
	CHECK(pipe(p) == 0);

	/* 1. No thread at all (paio not started yet). */
	clamp();
	printf("~pids.max = %ld\n", cg_read("pids.max"));
	struct aiocb a, b, c, d;
	prep(&a, fd, got, 4096, 0, LIO_READ);
	if (submit_or_refused(&a, strict, "a file read")) {
		EXPECT_DONE(&a, 4096);
		EXPECT_PATTERN(got, 4096, 12, 0);
	}
	prep(&b, p[0], got, 100, 0, LIO_READ);
	submit_or_refused(&b, 1, "a pipe read");
	/* On kernel AIO an fsync without notification needs no thread: the
	 * kernel runs it and this thread takes its completion. */
	prep(&c, fd, NULL, 0, 0, 0);
	if (strict) {
		EXPECT_REFUSED(aio_fsync(O_SYNC, &c), &c, EAGAIN);
	} else if (aio_fsync(O_SYNC, &c) == 0) {
		accepted++;
		EXPECT_DONE(&c, 0);
	} else {
		EXPECT_ERRNO(errno, EAGAIN);
		EXPECT_ERRNO(aio_error(&c), EAGAIN);
		refused++;
	}
	struct aiocb n;
	prep(&n, fd, NULL, 0, 0, 0);
	n.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	n.aio_sigevent.sigev_signo = SIGURG;
	EXPECT_REFUSED(aio_fsync(O_SYNC, &n), &n, EAGAIN);
	struct aiocb l1, l2;
	prep(&l1, p[0], got, 10, 0, LIO_READ);
	prep(&l2, fd, data, 4096, 65536, LIO_WRITE);
	struct aiocb *list[] = { &l1, &l2 };
	EXPECT_SYSERR(lio_listio(LIO_NOWAIT, list, 2, NULL), EAGAIN);
	EXPECT_ERRNO(aio_error(&l1), EAGAIN);
	int l2e = aio_error(&l2);
	if (l2e == EINPROGRESS || l2e == 0)
		EXPECT_DONE(&l2, 4096);
	else
		EXPECT_ERRNO(l2e, EAGAIN);
	/* A cached read with a SIGEV_THREAD callback: refused before it is
	 * made, as glibc refuses it (its callback could run only inside this
	 * call, under whatever lock the caller holds). */
	struct aiocb t;
	prep(&t, fd, got, 4096, 0, LIO_READ);
	t.aio_sigevent.sigev_notify = SIGEV_THREAD;
	t.aio_sigevent.sigev_notify_function = count_callback;
	EXPECT_REFUSED(aio_read(&t), &t, EAGAIN);
	printf("no thread can start: pipe read, aio_fsync with a signal, lio_listio and a read with a callback -> -1/EAGAIN, aio_error EAGAIN\n");

	/* 2. Two threads allowed: everything is accepted and completes. */
	cg_write("pids.max", "%ld", cg_read("pids.current") + 2);
	int q[2];
	CHECK(pipe(q) == 0);
	static char pb[4][64];
	struct aiocb pr[4], fr[8], fw[4], fs, cbt;
	/* The callback's request first: its notifier thread is started when it
	 * is submitted (as glibc starts its thread then), and ends after the
	 * callback; the pipe reads below may then take both. */
	int before = count_tasks();
	prep(&cbt, fd, got + 60000, 100, 0, LIO_READ);
	cbt.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cbt.aio_sigevent.sigev_notify_function = count_callback;
	SUBMIT(&cbt);
	EXPECT_DONE(&cbt, 100);
	wait_flag(&callbacks, 1);
	long long waited = now_ms();
	while (count_tasks() > before && now_ms() - waited < 5000)
		sleep_ms(5);
	for (int i = 0; i < 3; i++) {
		prep(&pr[i], p[0], pb[i], 64, 0, LIO_READ);
		SUBMIT(&pr[i]);
	}
	prep(&pr[3], q[0], pb[3], 64, 0, LIO_READ);
	SUBMIT(&pr[3]);
	for (int i = 0; i < 8; i++) {
		prep(&fr[i], fd, got + i * 4096, 4096, (off_t)i * 4096, LIO_READ);
		SUBMIT(&fr[i]);
	}
	for (int i = 0; i < 4; i++) {
		prep(&fw[i], fd, data + i * 4096, 4096, 65536 + (off_t)i * 4096, LIO_WRITE);
		SUBMIT(&fw[i]);
	}
	prep(&fs, fd, NULL, 0, 0, 0);
	EXPECT_OK(aio_fsync(O_DSYNC, &fs));
	static char stream[256];
	fill_pattern(stream, sizeof stream, 13, 0);
	must_write(p[1], stream, 192);
	must_write(q[1], stream + 192, 64);
	for (int i = 0; i < 4; i++) {
		EXPECT_DONE(&pr[i], 64);
		EXPECT_PATTERN(pb[i], 64, 13, (long long)i * 64);
	}
	for (int i = 0; i < 8; i++)
		EXPECT_DONE(&fr[i], 4096);
	EXPECT_PATTERN(got, 8 * 4096, 12, 0);
	for (int i = 0; i < 4; i++)
		EXPECT_DONE(&fw[i], 4096);
	EXPECT_DONE(&fs, 0);
	printf("two threads allowed: 18 requests accepted, all complete correctly, SIGEV_THREAD delivered\n");

	/* 3. The workers idle out, and no new thread may start again. */
	long t0 = now_ms();
	while (count_tasks() > 1 && now_ms() - t0 < 10000)
		sleep_ms(20);
	printf("~threads after idling: %d\n", count_tasks());
	clamp();
	struct aiocb e1, e2;
	prep(&e1, q[0], got, 10, 0, LIO_READ);
	if (count_tasks() == 1)
		submit_or_refused(&e1, 1, "a pipe read after the workers exited");
	prep(&e2, fd, got, 4096, 4096, LIO_READ);
	if (submit_or_refused(&e2, strict && count_tasks() == 1, "a file read after the workers exited"))
		EXPECT_DONE(&e2, 4096);

	/* 4. Threads allowed again: submissions succeed. */
	cg_write("pids.max", "%ld", 1000);
	prep(&d, q[0], got, 10, 0, LIO_READ);
	SUBMIT(&d);
	must_write(q[1], "0123456789", 10);
	EXPECT_DONE(&d, 10);
	CHECK(memcmp(got, "0123456789", 10) == 0);
	printf("threads allowed again: submissions succeed\n");
	printf("~accepted while denied: %d, refused: %d\n", accepted, refused);
	return 0;
}
