/* matrix: once */
/* Thread creation fails, before the first AIO call, in two children: a
 * seccomp filter (clone with CLONE_THREAD gets EAGAIN, clone3 ENOSYS, as a
 * used-up pids cgroup gives), and RLIMIT_NPROC at 0 as an unprivileged user. glibc refuses every request with
 * EAGAIN (it cannot start a helper thread); an implementation that needs
 * no thread for a request may run it instead. So each request prints
 * "refused or right": refused with EAGAIN at submission, or completed with
 * the right result and its notification delivered once; the details are
 * `~` lines. Never a hang, a wrong result or a lost notification. */
#include "matrix.h"
#include <grp.h>

static atomic_int callbacks;

static void callback(union sigval v)
{
	(void)v;
	atomic_fetch_add(&callbacks, 1);
}

/* Submit cb (op), feed a stream if `feed` is given, and judge it. */
static void judge(const char *what, struct aiocb *cb, int op, ssize_t want,
		  int feed_fd, const char *feed)
{
	int before = atomic_load(&callbacks);
	errno = 0;
	if (submit(cb, op) != 0) {
		int e = errno;
		printf("~%s: refused %s\n", what, ename(e));
		printf("%s: %s\n", what, e == EAGAIN ? "refused or right" : ename(e));
		if (feed != NULL)
			must_write(feed_fd, feed, strlen(feed));
		return;
	}
	if (feed != NULL)
		must_write(feed_fd, feed, strlen(feed));
	int e = wait_done_at(cb, MATRIX_WAIT_MS, what, __FILE__, __LINE__);
	ssize_t r = aio_return(cb);
	printf("~%s: error %s return %zd\n", what, ename(e), r);
	int notified = 1;
	if (cb->aio_sigevent.sigev_notify == SIGEV_THREAD) {
		long long deadline = now_ms() + 2000;
		while (atomic_load(&callbacks) == before && now_ms() < deadline)
			sleep_ms(1);
		notified = atomic_load(&callbacks) == before + 1;
	}
	if (e == 0 && r == want && notified)
		printf("%s: refused or right\n", what);
	else
		printf("%s: error %s return %zd notified %d\n", what, ename(e), r, notified);
}

/* The same requests, in a process that can create no thread. */
static void work(int fd, int p[2])
{
	pthread_t t;
	printf("pthread_create: %s\n", ename(pthread_create(&t, NULL, (void *(*)(void *))callback, NULL)));
	static char buf[4096], back[4096];
	fill_pattern(buf, sizeof buf, 2, 0);
	must_pwrite(fd, buf, sizeof buf, 0);
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 4096, LIO_WRITE);
	judge("file write", &cb, LIO_WRITE, sizeof buf, -1, NULL);
	prep(&cb, fd, back, sizeof back, 0, LIO_READ);
	judge("file read", &cb, LIO_READ, sizeof back, -1, NULL);
	printf("~data: %s\n", memcmp(buf, back, sizeof buf) == 0 ? "ok" : "WRONG");
	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	judge("fsync", &cb, O_SYNC, 0, -1, NULL);
	char pbuf[8] = { 0 };
	prep(&cb, p[0], pbuf, 4, 0, LIO_READ);
	judge("pipe read", &cb, LIO_READ, 4, p[1], "pipe");
	prep(&cb, fd, back, 100, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = callback;
	judge("SIGEV_THREAD read", &cb, LIO_READ, 100, -1, NULL);
	prep(&cb, fd, back, 100, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIGURG;
	judge("SIGEV_SIGNAL read", &cb, LIO_READ, 100, -1, NULL);
}

/* Thread creation denied by seccomp: clone3 ENOSYS (glibc then uses
 * clone), clone with CLONE_THREAD EAGAIN. */
static void by_seccomp(int fd, int p[2])
{
	struct deny rules[] = {
		{ SYS_clone3, ENOSYS, 0 },
		{ SYS_clone, EAGAIN, CLONE_THREAD },
	};
	sandbox(rules, 2);
	work(fd, p);
}

/* RLIMIT_NPROC used up: as an unprivileged user (root is exempt; the
 * child of a root run becomes nobody), with the limit at 0. */
static void by_rlimit_nproc(int fd, int p[2])
{
	if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
		printf("cannot become nobody: %s\n", ename(errno));
		return;
	}
	struct rlimit none = { 0, 0 };
	CHECK(setrlimit(RLIMIT_NPROC, &none) == 0);
	work(fd, p);
}

static void (*current)(int, int *);
static int current_fd, current_pipe[2];

/* The child: no thread from here on, the requests, and exit() (which
 * writes paio's exit line; run_in_child would _exit). */
static void without_threads(void)
{
	current(current_fd, current_pipe);
	fflush(NULL);
	exit(0);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	void (*how[])(int, int *) = { by_seccomp, by_rlimit_nproc };
	const char *names[] = { "seccomp: clone EAGAIN, clone3 ENOSYS", "RLIMIT_NPROC 0" };
	for (int i = 0; i < 2; i++) {
		printf("%s:\n", names[i]);
		/* Opened before the child drops its privileges. */
		current_fd = tmp_file("nothreads");
		CHECK(pipe(current_pipe) == 0);
		current = how[i];
		printf("  child: %s\n", run_in_child(without_threads, 10));
		close(current_fd), close(current_pipe[0]), close(current_pipe[1]);
	}
	return 0;
}
