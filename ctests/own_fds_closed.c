/* A program that closes every descriptor it did not open, after AIO has
 * run (close_range, as daemons and sandboxes do), and then fills the
 * numbers with its own file, must find that file untouched: never read
 * (its offset moves), never written, never closed, and no thread may spin
 * on it; AIO must go on working. glibc's AIO keeps no descriptor of its
 * own; paio keeps a few (the eventfds its sleepers poll, the io_uring
 * ring), numbered from 3 up under the common 1024-descriptor limit.
 *
 * Before: O_DIRECT writes and reads waited for in aio_suspend, a request
 * with a signal (so a thread takes completions), an uncached buffered
 * read. Then close_range(3, ~0), a 4 KiB file dup2'd onto every free
 * number below 600, the same requests again on new descriptors, an idle
 * spell whose CPU time is measured, a fork whose child checks the numbers
 * are still open, and the file checked. */
#include "common.h"

#include <sys/resource.h>

#define BLK 4096
#define NBLK 8
#define FILL_TO 600
#define VICTIM_SEED 91

static int direct_ok = 1;

static void direct_round(int fd, char *buf, unsigned seed)
{
	struct aiocb cb[NBLK];
	const struct aiocb *list[NBLK];
	for (int i = 0; i < NBLK; i++) {
		fill_pattern(buf + i * BLK, BLK, seed, (long long)i * BLK);
		prep(&cb[i], fd, buf + i * BLK, BLK, (off_t)i * BLK, LIO_WRITE);
		EXPECT_OK(aio_write(&cb[i]));
		list[i] = &cb[i];
	}
	for (int i = 0; i < NBLK; i++)
		EXPECT_DONE(&cb[i], BLK);
	memset(buf, 0, NBLK * BLK);
	for (int i = 0; i < NBLK; i++) {
		prep(&cb[i], fd, buf + i * BLK, BLK, (off_t)i * BLK, LIO_READ);
		EXPECT_OK(aio_read(&cb[i]));
	}
	/* Sleep in aio_suspend until each is done (the sleepers' eventfd). */
	for (int left = NBLK; left > 0;) {
		int r = aio_suspend(list, NBLK, NULL);
		CHECK(r == 0 || errno == EINTR);
		left = 0;
		for (int i = 0; i < NBLK; i++) {
			if (!list[i])
				continue;
			if (aio_error(&cb[i]) == EINPROGRESS) {
				left++;
				continue;
			}
			EXPECT_EQ(aio_return(&cb[i]), BLK);
			list[i] = NULL;
		}
	}
	if (find_mismatch(buf, NBLK * BLK, seed, 0) >= 0)
		direct_ok = 0;
}

static void signalled_read(int fd, char *buf, int signo)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, signo);
	struct aiocb cb;
	prep(&cb, fd, buf, BLK, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = signo;
	cb.aio_sigevent.sigev_value.sival_ptr = &cb;
	EXPECT_OK(aio_read(&cb));
	struct timespec ts = {10, 0};
	siginfo_t si;
	EXPECT_EQ(sigtimedwait(&set, &si, &ts), signo);
	EXPECT_EQ(si.si_value.sival_ptr == &cb, 1);
	EXPECT_DONE(&cb, BLK);
}

/* A read of a file whose pages were just dropped from the cache. */
static int cold_read(int fd, char *buf, unsigned seed)
{
	fill_pattern(buf, 64 * 1024, seed, 0);
	must_pwrite(fd, buf, 64 * 1024, 0);
	CHECK(fdatasync(fd) == 0);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	memset(buf, 0, 64 * 1024);
	struct aiocb cb;
	prep(&cb, fd, buf, 64 * 1024, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, 64 * 1024);
	return find_mismatch(buf, 64 * 1024, seed, 0) < 0;
}

static long long cpu_us(void)
{
	struct rusage ru;
	CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int main(void)
{
	/* The common limit: paio numbers its own descriptors from 3 up. */
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max < 1024) {
		skip("RLIMIT_NOFILE hard limit below 1024");
	}
	rl.rlim_cur = 1024;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);

	int signo = SIGRTMIN + 1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, signo);
	CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

	char *buf;
	CHECK(posix_memalign((void **)&buf, BLK, 64 * 1024) == 0);
	char path[PATH_MAX], cpath[PATH_MAX];
	int d = tmp_file_flags("ownfd-direct", path, O_DIRECT);
	if (d < 0)
		skip("no O_DIRECT in %s", tmp_dir());
	int c = tmp_file_flags("ownfd-cold", cpath, 0);
	CHECK(c >= 0);

	direct_round(d, buf, 11);
	signalled_read(d, buf, signo);
	int cold_ok = cold_read(c, buf, 12);

	/* The program closes all it did not open, then fills the numbers. */
	if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	}
	char vpath[PATH_MAX];
	int v = tmp_file_flags("ownfd-victim", vpath, 0);
	CHECK(v >= 3 && v < FILL_TO);
	char vbuf[BLK];
	fill_pattern(vbuf, BLK, VICTIM_SEED, 0);
	must_pwrite(v, vbuf, BLK, 0);
	int filled = 0;
	for (int fd = 3; fd < FILL_TO; fd++) {
		if (fd == v)
			continue;
		CHECK(dup2(v, fd) == fd);
		filled++;
	}
	printf("filled %d numbers\n", filled);

	d = open(path, O_RDWR | O_DIRECT);
	c = open(cpath, O_RDWR);
	CHECK(d >= FILL_TO && c >= FILL_TO);

	for (int r = 0; r < 20; r++)
		direct_round(d, buf, 20 + r);
	for (int r = 0; r < 5; r++)
		signalled_read(d, buf, signo);
	cold_ok &= cold_read(c, buf, 13);
	cold_ok &= cold_read(c, buf, 14);
	printf("direct reads and writes: %s\n", direct_ok ? "ok" : "wrong data");
	printf("cold reads: %s\n", cold_ok ? "ok" : "wrong data");

	/* Idle: nothing may spin on a number that is the program's now. */
	long long before = cpu_us(), t0 = now_ms();
	sleep_ms(300);
	long long used = cpu_us() - before, wall = now_ms() - t0;
	printf("~ idle: %lld us of CPU in %lld ms\n", used, wall);
	EXPECT_EQ(used < 100000, 1);

	/* A forked child: whatever paio closes of its own there, it must not
	 * close the program's descriptors. */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		for (int fd = 3; fd < FILL_TO; fd++) {
			if (fcntl(fd, F_GETFD) < 0) {
				fprintf(stderr, "descriptor %d closed in the child\n", fd);
				_exit(1);
			}
		}
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("child found every number open: %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");

	/* The program's file: not read (one offset for all the numbers), not
	 * written, every number still open. */
	int open_left = 0;
	for (int fd = 3; fd < FILL_TO; fd++)
		open_left += fcntl(fd, F_GETFD) >= 0;
	printf("numbers still open: %d\n", open_left);
	printf("file offset: %lld\n", (long long)lseek(v, 0, SEEK_CUR));
	printf("file size: %lld\n", (long long)file_size(v));
	char back[BLK];
	must_pread(v, back, BLK, 0);
	printf("file content: %s\n",
	       find_mismatch(back, BLK, VICTIM_SEED, 0) < 0 ? "intact" : "changed");

	unlink(path);
	unlink(cpath);
	unlink(vpath);
	return 0;
}
