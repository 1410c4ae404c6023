/* matrix: once */
/* The program's own real-time signals (sigqueue from a thread of its own)
 * beside AIO notifications on other real-time signals, all taken with
 * sigwaitinfo: every signal arrives once, with its value, its code
 * (SI_QUEUE for the program's, SI_ASYNCIO for AIO's) and this pid. */
#include "matrix.h"

enum { OWN1 = 200, OWN3 = 100, AIO2 = 100 };

static void *sender(void *arg)
{
	(void)arg;
	block_all_signals();
	for (int i = 0; i < OWN1 || i < OWN3; i++) {
		union sigval v = { .sival_int = i };
		if (i < OWN1)
			CHECK(sigqueue(getpid(), SIGRTMIN + 1, v) == 0);
		if (i < OWN3)
			CHECK(sigqueue(getpid(), SIGRTMIN + 3, v) == 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	sigset_t set;
	sigemptyset(&set);
	for (int s = SIGRTMIN; s <= SIGRTMIN + 4; s++)
		sigaddset(&set, s);
	CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
	int fd = tmp_file("rt");
	static char buf[AIO2][256];
	static struct aiocb cbs[AIO2];
	pthread_t t;
	CHECK(pthread_create(&t, NULL, sender, NULL) == 0);
	for (int i = 0; i < AIO2; i++) {
		prep(&cbs[i], fd, buf[i], sizeof buf[i], 256 * i, LIO_WRITE);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cbs[i].aio_sigevent.sigev_signo = SIGRTMIN + 2;
		cbs[i].aio_sigevent.sigev_value.sival_int = i;
		CHECK(aio_write(&cbs[i]) == 0);
	}
	struct aiocb l1, l2, *list[2] = { &l1, &l2 };
	static char lb[2][64];
	prep(&l1, fd, lb[0], 64, 0, LIO_READ);
	prep(&l2, fd, lb[1], 64, 64, LIO_READ);
	struct sigevent lsev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 4 };
	lsev.sigev_value.sival_int = 4444;
	CHECK(lio_listio(LIO_NOWAIT, list, 2, &lsev) == 0);

	int total = OWN1 + OWN3 + AIO2 + 1;
	static int seen[5][OWN1];
	int count[5] = { 0 }, bad_code[5] = { 0 }, bad_pid[5] = { 0 }, bad_value[5] = { 0 };
	struct timespec ts = { 5, 0 };
	for (int n = 0; n < total; n++) {
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);
		if (sig < 0) {
			printf("only %d of %d signals arrived (%s)\n", n, total, ename(errno));
			break;
		}
		int k = sig - SIGRTMIN, v = si.si_value.sival_int;
		count[k]++;
		int want_code = k == 2 || k == 4 ? SI_ASYNCIO : SI_QUEUE;
		bad_code[k] += si.si_code != want_code;
		bad_pid[k] += si.si_pid != getpid();
		if (k == 4)
			bad_value[k] += v != 4444;
		else if (v >= 0 && v < OWN1)
			seen[k][v]++;
		else
			bad_value[k]++;
	}
	CHECK(pthread_join(t, NULL) == 0);
	for (int i = 0; i < AIO2; i++)
		finish(&cbs[i], "write");
	finish(&l1, "l1");
	finish(&l2, "l2");
	int expect[5] = { 0, OWN1, AIO2, OWN3, 1 };
	for (int k = 1; k <= 4; k++) {
		int dup = 0, missing = 0;
		for (int v = 0; k != 4 && v < expect[k]; v++) {
			dup += seen[k][v] > 1;
			missing += seen[k][v] == 0;
		}
		printf("SIGRTMIN+%d: %d signals (%s), wrong code %d, wrong pid %d, wrong value %d, missing %d, twice %d\n",
		       k, count[k], k == 2 || k == 4 ? "AIO" : "own", bad_code[k], bad_pid[k],
		       bad_value[k], missing, dup);
	}
	close(fd);
	return 0;
}
