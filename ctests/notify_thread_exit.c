/* SIGEV_THREAD callbacks run "as if" they were the start routine of a new
 * thread (POSIX), and glibc gives each one a thread made with the default
 * attributes. So a callback may:
 *  - use the default thread stack (here 512 KiB of locals; paio's notifier
 *    threads once had a few KiB and crashed);
 *  - end its thread with pthread_exit, or cancel itself (paio's notifier
 *    thread then ends, and the next callbacks still run);
 *  - return normally, interleaved with those, one in four with
 *    cancellation disabled (as if its thread ended there: the next
 *    callback still starts with cancellation enabled and deferred).
 * Every callback must run exactly once, in 5 rounds of 12 requests, and
 * every one that cancels itself must end there. */
#include "common.h"

#define ROUNDS 5
#define PER_ROUND 12
#define BIG (512 * 1024)

static atomic_int calls, big_ok, survived_cancel;
static atomic_int seen[ROUNDS * PER_ROUND];

static void callback(union sigval v)
{
	int i = v.sival_int;
	atomic_fetch_add(&seen[i], 1);
	atomic_fetch_add(&calls, 1);
	switch (i % 4) {
	case 0:
		pthread_exit(NULL);
	case 1: {
		int old;
		pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
		pthread_cancel(pthread_self());
		pthread_testcancel();
		atomic_fetch_add(&survived_cancel, 1); /* not reached */
		break;
	}
	case 2: {
		volatile char big[BIG];
		memset((char *)big, i, sizeof big);
		if (big[BIG - 1] == (char)i)
			atomic_fetch_add(&big_ok, 1);
		break;
	}
	default: {
		int old;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		break;
	}
	}
}

int main(void)
{
	int fd = tmp_file("notify-exit");
	must_pwrite(fd, "0123456789abcdef", 16, 0);
	static char bufs[ROUNDS * PER_ROUND][16];
	static struct aiocb cbs[ROUNDS * PER_ROUND];
	for (int r = 0; r < ROUNDS; r++) {
		for (int k = 0; k < PER_ROUND; k++) {
			int i = r * PER_ROUND + k;
			prep(&cbs[i], fd, bufs[i], 16, 0, LIO_READ);
			cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
			cbs[i].aio_sigevent.sigev_notify_function = callback;
			cbs[i].aio_sigevent.sigev_value.sival_int = i;
			EXPECT_OK(aio_read(&cbs[i]));
		}
		int want = (r + 1) * PER_ROUND;
		long long t0 = now_ms();
		while (atomic_load(&calls) < want && now_ms() - t0 < WAIT_MS)
			sleep_ms(2);
		printf("round %d: %d callbacks\n", r, atomic_load(&calls));
		for (int k = 0; k < PER_ROUND; k++)
			EXPECT_DONE(&cbs[r * PER_ROUND + k], 16);
	}
	sleep_ms(50);
	int once = 1;
	for (int i = 0; i < ROUNDS * PER_ROUND; i++)
		once &= atomic_load(&seen[i]) == 1;
	printf("every callback ran exactly once: %s\n", once ? "yes" : "no");
	printf("callbacks that used %d KiB of stack: %d\n", BIG / 1024,
	       atomic_load(&big_ok));
	printf("callbacks that went on after cancelling themselves: %d\n",
	       atomic_load(&survived_cancel));
	return 0;
}
