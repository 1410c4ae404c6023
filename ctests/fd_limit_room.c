/* Requests waiting for data take none of the program's descriptor numbers.
 * Under a soft limit of 512 open files (hard limit above it, as usual), 150
 * pipes (300 descriptors) each have a read waiting for data and a temporary
 * file has a write; then the program opens /dev/null until EMFILE, as a
 * server accepting connections near its limit would. It must get exactly as
 * many as on glibc, whose waiting reads hold no descriptor: paio's own
 * references to the waiting requests' files, and its own descriptors, sit
 * above the soft limit. All the reads then complete with their pipe's byte.
 * Run twice: the second time, paio's threads and descriptors exist
 * already. */
#include "common.h"
#include <sys/resource.h>

#define PIPES 150
#define LIMIT 512

static int opened_until_emfile(int *fds, int max)
{
	int n = 0;
	while (n < max) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != EMFILE)
				FAIL("open /dev/null: %s", errname(errno));
			break;
		}
		fds[n++] = fd;
	}
	return n;
}

static void round_of(const char *name)
{
	static int p[PIPES][2];
	static struct aiocb cbs[PIPES], w;
	static char got[PIPES];
	static int extra[LIMIT];
	for (int k = 0; k < PIPES; k++)
		CHECK(pipe(p[k]) == 0);
	int fd = tmp_file("room");
	for (int k = 0; k < PIPES; k++) {
		prep(&cbs[k], p[k][0], &got[k], 1, 0, LIO_READ);
		EXPECT_OK(aio_read(&cbs[k]));
	}
	prep(&w, fd, "data", 4, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	let_worker_start();
	int n = opened_until_emfile(extra, LIMIT);
	printf("%s: %d reads waiting, then %d more descriptors opened before EMFILE\n",
	       name, PIPES, n);
	for (int i = 0; i < n; i++)
		close(extra[i]);
	for (int k = 0; k < PIPES; k++) {
		char c = (char)('a' + k % 26);
		must_write(p[k][1], &c, 1);
	}
	for (int k = 0; k < PIPES; k++) {
		EXPECT_DONE(&cbs[k], 1);
		if (got[k] != (char)('a' + k % 26))
			FAIL("pipe %d: read '%c'", k, got[k]);
	}
	EXPECT_DONE(&w, 4);
	printf("%s: every read got its pipe's byte\n", name);
	for (int k = 0; k < PIPES; k++) {
		close(p[k][0]);
		close(p[k][1]);
	}
	close(fd);
}

int main(void)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max <= LIMIT)
		skip("hard limit on open files is %llu, no room above %d",
		     (unsigned long long)rl.rlim_max, LIMIT);
	rl.rlim_cur = LIMIT;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	round_of("first");
	round_of("second");
	return 0;
}
