/* matrix: once */
/* Issue 11, defect 3: the library's threads never take the program's signals.
 *
 * The usual design of a daemon: main blocks its signals before creating any
 * thread (so every thread inherits the mask) and one thread takes them with
 * sigtimedwait. Here the signals are SIGUSR1, SIGUSR2 and SIGRTMIN+3, none of
 * them handled: a delivery to any other thread kills the process (default
 * action), which is what paio's notifier threads, left with an empty signal
 * mask after running a SIGEV_THREAD callback, made happen.
 *
 * Steps, each waited for so the order is deterministic:
 * 1. one aio_write with SIGEV_THREAD; the callback prints which of the
 *    program's signals are blocked in its thread, and whether every signal
 *    is (the callback's mask is part of the contract: paio must give the
 *    mask glibc gives: glibc 2.36 starts each notification thread with an
 *    empty mask, __aio_start_notify_thread in sysdeps/unix/sysv/linux/
 *    aio_misc.h, so the callback runs with nothing blocked);
 * 2. lio_listio(LIO_NOWAIT) of two writes with a SIGEV_SIGNAL SIGUSR1 list
 *    notification (sival_int 111);
 * 3. kill(getpid(), SIGUSR2);
 * 4. sigqueue(getpid(), SIGRTMIN+3, 333);
 * then the signal thread's receipts are printed (signal, si_code, value),
 * and /proc/self/task/STAR/status is read: every thread except the signal
 * thread (sigtimedwait unblocks its set while it waits) must have all three
 * in SigBlk.
 *
 * Usage: prog [DIR] (scratch files in DIR, default $TMPDIR).
 */
#include "../common.h"

#define RT_OFFSET 3
#define MAX_GOT 16

static int rt_signo;
static sigset_t program_set;

/* What the signal thread received. */
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static siginfo_t got[MAX_GOT];
static atomic_int n_got;
static atomic_int stop;
static atomic_int waiter_tid;

static void *signal_thread(void *arg)
{
	(void)arg;
	atomic_store(&waiter_tid, gettid_());
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, 50 * 1000000L };
		siginfo_t si;
		int s = sigtimedwait(&program_set, &si, &ts);
		if (s < 0) {
			if (errno != EAGAIN && errno != EINTR)
				FAIL("sigtimedwait: %s", strerror(errno));
			continue;
		}
		pthread_mutex_lock(&got_lock);
		int n = atomic_load(&n_got);
		if (n < MAX_GOT)
			got[n] = si;
		atomic_store(&n_got, n + 1);
		pthread_mutex_unlock(&got_lock);
	}
	return NULL;
}

static const char *signame(int s)
{
	static char buf[16];
	if (s == SIGUSR1)
		return "SIGUSR1";
	if (s == SIGUSR2)
		return "SIGUSR2";
	if (s == rt_signo)
		return "SIGRTMIN+3";
	snprintf(buf, sizeof buf, "signal %d", s);
	return buf;
}

static const char *codename(int c)
{
	static char buf[16];
	switch (c) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_ASYNCIO: return "SI_ASYNCIO";
	case SI_TKILL: return "SI_TKILL";
	default:
		snprintf(buf, sizeof buf, "code %d", c);
		return buf;
	}
}

static atomic_int callback_done;

static void callback(union sigval v)
{
	(void)v;
	sigset_t cur;
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0);
	int all = 1;
	for (int s = 1; s < NSIG; s++) {
		/* SIGKILL, SIGSTOP and glibc's internal signals (32, 33)
		 * cannot be blocked or reported. */
		if (s == SIGKILL || s == SIGSTOP || (s >= 32 && s < SIGRTMIN))
			continue;
		if (!sigismember(&cur, s))
			all = 0;
	}
	printf("callback: SIGUSR1 blocked %s, SIGUSR2 blocked %s, SIGRTMIN+3 blocked %s, "
	       "every signal blocked %s\n",
	       sigismember(&cur, SIGUSR1) ? "yes" : "no",
	       sigismember(&cur, SIGUSR2) ? "yes" : "no",
	       sigismember(&cur, rt_signo) ? "yes" : "no", all ? "yes" : "no");
	atomic_store(&callback_done, 1);
}

/* SigBlk of one thread, as a 64-bit mask (bit s-1 for signal s). */
static int sigblk_of(const char *tid, unsigned long long *mask)
{
	char path[PATH_MAX], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1; /* the thread exited meanwhile */
	int found = 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "SigBlk: %llx", mask) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	return found ? 0 : -1;
}

/* Every thread but the signal thread blocks the program's signals. */
static int other_threads_block_now(int report)
{
	unsigned long long want = (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGUSR2 - 1)) |
				  (1ULL << (rt_signo - 1));
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	struct dirent *e;
	int ok = 1, threads = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == atomic_load(&waiter_tid))
			continue;
		unsigned long long m;
		if (sigblk_of(e->d_name, &m) != 0)
			continue;
		threads++;
		if ((m & want) != want) {
			ok = 0;
			if (report)
				fprintf(stderr, "thread %s: SigBlk %016llx leaves some of the "
				"program's signals (%016llx) unblocked\n", e->d_name, m, want);
		}
	}
	closedir(d);
	if (report)
		printf("~threads checked: %d\n", threads);
	return ok;
}

/* The same, allowing 300 ms for a thread that ran a callback to finish
 * exiting (glibc runs each SIGEV_THREAD callback in a thread of its own,
 * with every signal unblocked, which exits after the callback). */
static int other_threads_block(void)
{
	for (int i = 0; i < 30; i++) {
		if (other_threads_block_now(0))
			return other_threads_block_now(1);
		sleep_ms(10);
	}
	return other_threads_block_now(1);
}

static void wait_got(int n)
{
	long long deadline = now_ms() + WAIT_MS;
	while (atomic_load(&n_got) < n) {
		if (now_ms() > deadline)
			FAIL("the signal thread received %d signals after %d ms, expected %d",
			     atomic_load(&n_got), WAIT_MS, n);
		sleep_ms(1);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		setenv("TMPDIR", argv[1], 1);
	rt_signo = SIGRTMIN + RT_OFFSET;
	sigemptyset(&program_set);
	sigaddset(&program_set, SIGUSR1);
	sigaddset(&program_set, SIGUSR2);
	sigaddset(&program_set, rt_signo);
	CHECK(pthread_sigmask(SIG_BLOCK, &program_set, NULL) == 0);

	pthread_t waiter;
	CHECK(pthread_create(&waiter, NULL, signal_thread, NULL) == 0);
	while (atomic_load(&waiter_tid) == 0)
		sleep_ms(1);

	int fd = tmp_file("sigmask");
	static char data[3][512];
	for (int i = 0; i < 3; i++)
		fill_pattern(data[i], sizeof data[i], 60 + i, 0);

	/* 1. A SIGEV_THREAD callback. */
	struct aiocb cb;
	prep(&cb, fd, data[0], sizeof data[0], 0, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = callback;
	cb.aio_sigevent.sigev_notify_attributes = NULL;
	EXPECT_OK(aio_write(&cb));
	wait_flag(&callback_done, 1);
	EXPECT_DONE(&cb, sizeof data[0]);

	/* 2. A list notification. */
	struct aiocb l0, l1;
	prep(&l0, fd, data[1], sizeof data[1], 512, LIO_WRITE);
	prep(&l1, fd, data[2], sizeof data[2], 1024, LIO_WRITE);
	struct aiocb *list[2] = { &l0, &l1 };
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	sev.sigev_value.sival_int = 111;
	EXPECT_OK(lio_listio(LIO_NOWAIT, list, 2, &sev));
	wait_got(1);
	EXPECT_DONE(&l0, 512);
	EXPECT_DONE(&l1, 512);

	/* 3. and 4. The program's own signals. */
	CHECK(kill(getpid(), SIGUSR2) == 0);
	wait_got(2);
	union sigval v = { .sival_int = 333 };
	CHECK(sigqueue(getpid(), rt_signo, v) == 0);
	wait_got(3);
	sleep_ms(50); /* anything more would show up as a fourth receipt */

	printf("process alive after the signals\n");
	int blocked = other_threads_block();
	atomic_store(&stop, 1);
	CHECK(pthread_join(waiter, NULL) == 0);

	int n = atomic_load(&n_got);
	printf("signal thread received %d signals\n", n);
	for (int i = 0; i < n && i < MAX_GOT; i++) {
		const siginfo_t *si = &got[i];
		int with_value = si->si_code == SI_QUEUE || si->si_code == SI_ASYNCIO;
		printf("  %s %s", signame(si->si_signo), codename(si->si_code));
		if (with_value)
			printf(" value %d", si->si_value.sival_int);
		printf("\n");
	}
	printf("every thread but the signal thread blocks the program's signals: %s\n",
	       blocked ? "yes" : "no");
	static char back[1536], want[1536];
	must_pread(fd, back, sizeof back, 0);
	memcpy(want, data, sizeof want);
	CHECK(memcmp(back, want, sizeof back) == 0);
	close(fd);
	return blocked && n == 3 ? 0 : 1;
}
