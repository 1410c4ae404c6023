/* matrix: filesystems */
/* A FUSE server that stops answering (SIGSTOP here; a server that hung, a
 * network gone): glibc's aio_read, aio_write and aio_fsync return at once,
 * their requests waiting on its helper thread, and complete once the server
 * answers again. None may wait inside the call: not a write made in the
 * submitting thread, not a look at the file's attributes that the kernel
 * asks the server for (its attribute cache expired: the stop lasts longer
 * than bindfs's second). On every other filesystem it says so and passes. */
#include "matrix.h"
#include <dirent.h>
#include <sys/vfs.h>

#define FUSE_SUPER_MAGIC 0x65735546

static pid_t server;

/* A bindfs process whose arguments name the directory the test runs in
 * (its mount point), or -1. */
static pid_t find_server(const char *dir)
{
	char want[PATH_MAX];
	if (realpath(dir, want) == NULL)
		return -1;
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -1;
	pid_t found = -1;
	struct dirent *e;
	while (found < 0 && (e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], args[4096];
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, args, sizeof args - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = 0;
		const char *base = strrchr(args, '/');
		if (strcmp(base ? base + 1 : args, "bindfs") != 0)
			continue;
		for (char *a = args; a < args + n; a += strlen(a) + 1) {
			char real[PATH_MAX];
			if (realpath(a, real) != NULL && strncmp(want, real, strlen(real)) == 0 &&
			    (want[strlen(real)] == 0 || want[strlen(real)] == '/') && strlen(real) > 1)
				found = pid;
		}
	}
	closedir(d);
	return found;
}

static void on_alarm(int sig)
{
	(void)sig;
	if (server > 0)
		kill(server, SIGCONT);
	static const char msg[] = "a call waited for the stopped server\n";
	if (write(1, msg, sizeof msg - 1) < 0)
		_exit(2);
	_exit(1);
}

/* Milliseconds a submission took. */
static long timed(int (*call)(struct aiocb *), struct aiocb *cb)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(call(cb) == 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static int fsync_sync(struct aiocb *cb)
{
	return aio_fsync(O_SYNC, cb);
}

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	char path[PATH_MAX];
	int fd = tmp_file_flags("stopped", path, 0);
	CHECK(fd >= 0);
	static char data[4096], back[4096];
	fill_pattern(data, sizeof data, 3, 0);
	/* Known to paio (and glibc) before the server stops. */
	one("write", LIO_WRITE, fd, data, sizeof data, 0);
	one("read", LIO_READ, fd, back, sizeof back, 0);
	struct statfs fs;
	CHECK(statfs(dir, &fs) == 0);
	if (fs.f_type != FUSE_SUPER_MAGIC) {
		printf("not FUSE: nothing to stop\n");
		unlink(path);
		return 0;
	}
	server = find_server(dir);
	if (server < 0) {
		printf("SKIP: no bindfs process serves %s\n", dir);
		unlink(path);
		return 77;
	}

	/* Whatever becomes of this process (a call that waits for the server
	 * cannot be interrupted), the server runs again in 8 s: a guard. */
	fflush(stdout);
	pid_t guard = fork();
	CHECK(guard >= 0);
	if (guard == 0) {
		sleep(8);
		kill(server, SIGCONT);
		_exit(0);
	}
	signal(SIGALRM, on_alarm);
	alarm(10);
	CHECK(kill(server, SIGSTOP) == 0);
	/* Past the attribute cache's second. */
	struct timespec pause = { 1, 200000000 };
	nanosleep(&pause, NULL);
	struct aiocb w, r, f;
	prep(&w, fd, data, sizeof data, 4096, LIO_WRITE);
	prep(&r, fd, back, sizeof back, 0, LIO_READ);
	prep(&f, fd, NULL, 0, 0, LIO_NOP);
	long tw = timed(aio_write, &w);
	long tr = timed(aio_read, &r);
	long tf = timed(fsync_sync, &f);
	printf("aio_write returned while stopped: %s\n", tw < 500 ? "yes" : "no");
	printf("aio_read returned while stopped: %s\n", tr < 500 ? "yes" : "no");
	printf("aio_fsync returned while stopped: %s\n", tf < 500 ? "yes" : "no");
	printf("~ calls took %ld, %ld, %ld ms\n", tw, tr, tf);
	CHECK(kill(server, SIGCONT) == 0);
	kill(guard, SIGKILL);
	waitpid(guard, NULL, 0);
	alarm(15);
	printf("write: %s\n", finish(&w, "write"));
	printf("read: %s\n", finish(&r, "read"));
	printf("fsync: %s\n", finish(&f, "fsync"));
	printf("data: %s\n", memcmp(back, data, sizeof back) == 0 ? "ok" : "WRONG");
	close(fd);
	unlink(path);
	return 0;
}
