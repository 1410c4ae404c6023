/* matrix: once */
/* Seccomp sandboxes as containers set them: io_setup denied (EPERM),
 * fs.aio-max-nr exhausted (io_setup EAGAIN, simulated by the filter: the
 * real sysctl is left alone), no kernel AIO (ENOSYS), io_uring_setup,
 * process_vm_readv or clone3 denied, and all of them at once; and calls
 * glibc's AIO never makes, as an allow-list written for it would refuse
 * them: preadv2, pwritev2, ppoll (and poll), kcmp and statx. Each runs in
 * a child that installs its filter before its first AIO call and does the
 * same work: file reads and writes (buffered and O_DIRECT), fsync, a pipe
 * read waiting for data, lio_listio, signal and thread notifications. */
#include "matrix.h"

static const char *dir;
static atomic_int callbacks;

static void callback(union sigval v)
{
	(void)v;
	atomic_fetch_add(&callbacks, 1);
}

static void work(void)
{
	/* The pipe first: a descriptor number reused after the O_DIRECT file
	 * is fd_reuse's subject, not this program's. */
	int p[2];
	CHECK(pipe(p) == 0);
	int fd = tmp_file("sandbox");
	static char data[65536], back[65536];
	one_write_read_back("  ", fd, data, back, sizeof data, 8);
	one("  fsync", O_DSYNC, fd, NULL, 0, 0);

	char path[PATH_MAX];
	int dfd = tmp_file_flags("sandbox-direct", path, O_DIRECT);
	if (dfd < 0) {
		printf("  O_DIRECT: %s\n", ename(errno));
	} else {
		unlink(path);
		void *abuf;
		CHECK(posix_memalign(&abuf, 4096, 8192) == 0);
		memcpy(abuf, data, 8192);
		one("  direct write", LIO_WRITE, dfd, abuf, 8192, 4096);
		memset(abuf, 0, 8192);
		one("  direct read", LIO_READ, dfd, abuf, 8192, 4096);
		printf("  direct data: %s\n", memcmp(abuf, data, 8192) == 0 ? "ok" : "WRONG");
		close(dfd);
		free(abuf);
	}

	char pbuf[8] = { 0 };
	struct aiocb rd;
	prep(&rd, p[0], pbuf, 4, 0, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	let_worker_start();
	must_write(p[1], "pipe", 4);
	printf("  pipe read: %s \"%s\"\n", finish(&rd, "pipe read"), pbuf);

	struct aiocb a, b, *list[2] = { &a, &b };
	prep(&a, fd, back, 100, 0, LIO_READ);
	prep(&b, fd, data, 100, 100, LIO_WRITE);
	printf("  lio_listio WAIT: %d\n", lio_listio(LIO_WAIT, list, 2, NULL));

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	struct aiocb cb;
	prep(&cb, fd, back, 100, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIGUSR1;
	cb.aio_sigevent.sigev_value.sival_int = 5;
	CHECK(aio_read(&cb) == 0);
	printf("  SIGEV_SIGNAL read: %s\n", finish(&cb, "signal read"));
	siginfo_t si;
	struct timespec ts = { 5, 0 };
	int sig = sigtimedwait(&set, &si, &ts);
	printf("  signal: %s %s value %d\n", sig > 0 ? signame(sig) : ename(errno),
	       codename(si.si_code), si.si_value.sival_int);

	prep(&cb, fd, back, 100, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = callback;
	CHECK(aio_read(&cb) == 0);
	printf("  SIGEV_THREAD read: %s\n", finish(&cb, "thread read"));
	wait_flag(&callbacks, 1);
	printf("  callbacks: %d\n", atomic_load(&callbacks));
	close(fd);
}

struct box {
	const char *name;
	struct deny rules[4];
	int n;
};

static const struct box *current;

/* The child: its sandbox, the work, and exit() (which writes paio's exit
 * line; run_in_child would _exit). */
static void in_box(void)
{
	sandbox(current->rules, current->n);
	work();
	fflush(NULL);
	exit(0);
}

int main(int argc, char **argv)
{
	dir = matrix_start(argc, argv);
	alarm(60);
	const struct box boxes[] = {
		{ "io_setup EPERM", { { SYS_io_setup, EPERM, 0 } }, 1 },
		{ "io_setup EAGAIN (fs.aio-max-nr exhausted)", { { SYS_io_setup, EAGAIN, 0 } }, 1 },
		{ "io_setup ENOSYS (no kernel AIO)", { { SYS_io_setup, ENOSYS, 0 } }, 1 },
		{ "io_uring_setup EPERM", { { SYS_io_uring_setup, EPERM, 0 } }, 1 },
		{ "process_vm_readv EPERM", { { SYS_process_vm_readv, EPERM, 0 } }, 1 },
		{ "clone3 ENOSYS", { { SYS_clone3, ENOSYS, 0 } }, 1 },
		/* Calls glibc's AIO never makes, which an allow-list written
		 * for it (or an older kernel) refuses: paio makes glibc's. */
		{ "preadv2 EPERM", { { SYS_preadv2, EPERM, 0 } }, 1 },
		{ "pwritev2 ENOSYS", { { SYS_pwritev2, ENOSYS, 0 } }, 1 },
		{ "ppoll EPERM", { { SYS_ppoll, EPERM, 0 } }, 1 },
#ifdef SYS_poll
		{ "ppoll and poll ENOSYS", { { SYS_ppoll, ENOSYS, 0 }, { SYS_poll, ENOSYS, 0 } }, 2 },
#endif
		{ "kcmp and statx EPERM", { { SYS_kcmp, EPERM, 0 }, { SYS_statx, EPERM, 0 } }, 2 },
		{ "all of them",
		  { { SYS_io_setup, EPERM, 0 },
		    { SYS_io_uring_setup, EPERM, 0 },
		    { SYS_process_vm_readv, EPERM, 0 },
		    { SYS_clone3, ENOSYS, 0 } },
		  4 },
	};
	for (unsigned i = 0; i < sizeof boxes / sizeof boxes[0]; i++) {
		printf("%s:\n", boxes[i].name);
		current = &boxes[i];
		printf("  child: %s\n", run_in_child(in_box, 10));
	}
	return 0;
}
