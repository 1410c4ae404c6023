/* matrix: once */
/* A process ends with requests in flight (a read waiting on a pipe, a
 * notified write): by exit(), by _exit(), by returning from main, by exit()
 * in another thread, by the last thread's pthread_exit. None may hang, and
 * the pipe's data afterwards is all there (no request of the dead process
 * consumed it). */
#include "matrix.h"

static int rfd, wfd;
static struct aiocb rd, wr;
static char rbuf[8];

static void callback(union sigval v)
{
	(void)v;
}

static void start_requests(void)
{
	prep(&rd, rfd, rbuf, 5, 0, LIO_READ);
	rd.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	rd.aio_sigevent.sigev_signo = SIGUSR1;
	CHECK(aio_read(&rd) == 0);
	int fd = tmp_file("exit");
	static char big[1 << 20];
	prep(&wr, fd, big, sizeof big, 0, LIO_WRITE);
	wr.aio_sigevent.sigev_notify = SIGEV_THREAD;
	wr.aio_sigevent.sigev_notify_function = callback;
	CHECK(aio_write(&wr) == 0);
}

static void *exit_in_thread(void *arg)
{
	(void)arg;
	exit(0);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	sleep_ms(100);
	return NULL;
}

enum how { EXIT, UNDERSCORE_EXIT, RETURN, THREAD_EXIT, PTHREAD_EXIT, NHOW };
static const char *const names[NHOW] = { "exit", "_exit", "return from main",
					  "exit in a thread", "pthread_exit of main" };

static int child(enum how how)
{
	signal(SIGUSR1, SIG_IGN);
	start_requests();
	pthread_t t;
	switch (how) {
	case EXIT:
		exit(0);
	case UNDERSCORE_EXIT:
		_exit(0);
	case RETURN:
		return 0;
	case THREAD_EXIT:
		CHECK(pthread_create(&t, NULL, exit_in_thread, NULL) == 0);
		for (;;)
			pause();
	case PTHREAD_EXIT:
		CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0);
		pthread_exit(NULL);
	default:
		return 1;
	}
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	int p[2];
	CHECK(pipe(p) == 0);
	rfd = p[0], wfd = p[1];
	CHECK(fcntl(rfd, F_SETFL, O_NONBLOCK) == 0);
	for (int how = 0; how < NHOW; how++) {
		fflush(NULL);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			alarm(5);
			return child(how);
		}
		int st = 0;
		long long deadline = now_ms() + 8000;
		pid_t w;
		while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
			sleep_ms(5);
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			printf("%s: hung\n", names[how]);
		} else if (WIFSIGNALED(st)) {
			printf("%s: killed by SIG%s\n", names[how], signame(WTERMSIG(st)));
		} else {
			printf("%s: exit %d\n", names[how], WEXITSTATUS(st));
		}
		must_write(wfd, "after", 5);
		char buf[16] = { 0 };
		sleep_ms(20);
		ssize_t r = read(rfd, buf, sizeof buf);
		printf("  pipe afterwards: %zd \"%s\"\n", r, r > 0 ? buf : "");
	}
	return 0;
}
