/* matrix: once */
/* posix_spawn and vfork with a request in flight: children run and report
 * their status (one of them uses AIO itself), and the parent's waiting read
 * completes with its own data afterwards. */
#include "matrix.h"
#include <spawn.h>

extern char **environ;

static int status_of(pid_t pid)
{
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	if (argc == 3 && strcmp(argv[2], "spawned") == 0) {
		int fd = tmp_file("spawned");
		one("spawned child write", LIO_WRITE, fd, "child", 5, 0);
		return 6;
	}
	int p[2];
	char buf[8] = { 0 };
	struct aiocb rd;
	pipe_read_pending(p, &rd, buf, 4);
	let_worker_start();
	fflush(NULL);

	pid_t pid;
	char *sh_argv[] = { "sh", "-c", "exit 3", NULL };
	int r = posix_spawn(&pid, "/bin/sh", NULL, NULL, sh_argv, environ);
	printf("posix_spawn sh: %s, status %d\n", ename(r), r == 0 ? status_of(pid) : -1);
	char *self_argv[] = { argv[0], (char *)dir, "spawned", NULL };
	r = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, self_argv, environ);
	printf("posix_spawn self: %s, status %d\n", ename(r), r == 0 ? status_of(pid) : -1);

	pid = vfork();
	if (pid == 0)
		_exit(4);
	printf("vfork _exit: status %d\n", status_of(pid));
	pid = vfork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
		_exit(127);
	}
	printf("vfork exec: status %d\n", status_of(pid));
	printf("read still waiting: %s\n", ename(aio_error(&rd)));
	must_write(p[1], "done", 4);
	printf("read: %s \"%s\"\n", finish(&rd, "read"), buf);
	return 0;
}
