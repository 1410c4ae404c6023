/* pthread_cancel and aio_suspend, a cancellation point (POSIX; glibc acts
 * on a cancel there when the call sleeps or would sleep):
 *  1. a thread asleep in aio_suspend is cancelled: it unwinds (its cleanup
 *     handler runs), and the request it waited for still completes;
 *  2. a cancel pending when aio_suspend finds a request done: it returns 0
 *     and the thread goes on (glibc acts only where it would sleep);
 *  3. a cancel pending when aio_suspend would sleep: the thread unwinds;
 *  4. cancellation disabled: aio_suspend sleeps to its timeout (EAGAIN);
 *  5. lio_listio(LIO_WAIT) is not a cancellation point in glibc: the
 *     thread stays until its list is done, then returns normally;
 *  6. the cancel of another thread leaves a sleeper in aio_suspend asleep:
 *     it returns 0 only once its own request is done, no EINTR. */
#include "common.h"

#include <sched.h>

static int p[2];
static atomic_int go, cleaned, returned;
static char rbuf[4];

static void cleanup(void *arg)
{
	(void)arg;
	atomic_store(&cleaned, 1);
}

struct job {
	int part;
	struct aiocb *cb;   /* a request on the pipe, in flight */
	struct aiocb *done; /* a finished request */
	int ret, err;
};

static void *body(void *arg)
{
	struct job *j = arg;
	int old;
	if (j->part == 4)
		CHECK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old) == 0);
	/* Wait for the go without passing a cancellation point. */
	while (!atomic_load(&go))
		sched_yield();
	pthread_cleanup_push(cleanup, NULL);
	const struct aiocb *list[2] = {j->cb, j->done};
	errno = 0;
	if (j->part == 5) {
		struct aiocb *l[1] = {j->cb};
		j->ret = lio_listio(LIO_WAIT, l, 1, NULL);
	} else if (j->part == 4) {
		struct timespec ts = {0, 300 * 1000 * 1000};
		j->ret = aio_suspend(list, 1, &ts);
	} else {
		j->ret = aio_suspend(list, j->done ? 2 : 1, NULL);
	}
	j->err = errno;
	atomic_store(&returned, 1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *idle_body(void *arg)
{
	(void)arg;
	for (;;)
		pause(); /* a cancellation point */
	return NULL;
}

/* Join within 5 s; on failure, feed the pipe so the thread can end. */
static const char *join(pthread_t t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	void *res = NULL;
	int r = pthread_timedjoin_np(t, &res, &ts);
	if (r != 0) {
		must_write(p[1], "x", 1);
		CHECK(pthread_join(t, &res) == 0);
		return "still running after 5 s";
	}
	return res == PTHREAD_CANCELED ? "cancelled" : "returned";
}

static void run(int part)
{
	CHECK(pipe(p) == 0);
	atomic_store(&go, 0);
	atomic_store(&cleaned, 0);
	atomic_store(&returned, 0);

	struct aiocb cb, done;
	prep(&cb, p[0], rbuf, 1, 0, LIO_READ);
	if (part != 5)
		EXPECT_OK(aio_read(&cb));
	static char dbuf[4];
	int f = tmp_file("cancel");
	must_pwrite(f, "abcd", 4, 0);
	prep(&done, f, dbuf, 4, 0, LIO_READ);
	EXPECT_OK(aio_read(&done));
	EXPECT_DONE(&done, 4);

	struct job j = {part, &cb, part == 2 ? &done : NULL, -2, 0};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, body, &j) == 0);
	if (part == 2 || part == 3) {
		CHECK(pthread_cancel(t) == 0);
		atomic_store(&go, 1);
	} else {
		atomic_store(&go, 1);
		sleep_ms(150); /* asleep by now */
		if (part == 6) {
			pthread_t idle;
			CHECK(pthread_create(&idle, NULL, idle_body, NULL) == 0);
			CHECK(pthread_cancel(idle) == 0);
			printf("part 6: the other thread %s\n", join(idle));
			sleep_ms(150);
			printf("part 6: sleeper returned before its request: %s\n",
			       atomic_load(&returned) ? "yes" : "no");
			must_write(p[1], "x", 1);
		} else {
			CHECK(pthread_cancel(t) == 0);
		}
	}
	if (part == 5) {
		sleep_ms(150);
		must_write(p[1], "x", 1);
	}
	printf("part %d: thread %s", part, join(t));
	if (atomic_load(&returned))
		printf(", aio_suspend/lio_listio gave %d (%s)", j.ret,
		       j.ret == 0 ? "0" : errname(j.err));
	printf(", cleanup handler %s\n", atomic_load(&cleaned) ? "ran" : "did not run");

	/* Nothing is lost: the request on the pipe completes once fed. */
	if (part != 5) {
		if (aio_error(&cb) == EINPROGRESS)
			must_write(p[1], "y", 1);
		EXPECT_DONE(&cb, 1);
	}
	close(p[0]);
	close(p[1]);
	close(f);
}

int main(void)
{
	for (int part = 1; part <= 6; part++)
		run(part);
	return 0;
}
