/* matrix: filesystems */
/* Issue 11, defect 1: a descriptor number reused by another kind of file.
 *
 * Whatever a library remembers about descriptor N (O_DIRECT, "a stream",
 * what RWF_NOWAIT supports) belongs to the open file, not to the number:
 * after close(N) and a pipe()/socketpair()/open()/dup2() that hands out N
 * again, a request on N must behave as it does for the new file. Each case
 * completes a request on the first file, closes it (or dup2()s over it), makes
 * the lowest free number N refer to a file of another kind and uses it:
 *
 * - a pipe or socket: an aio_read submitted before any data exists must
 *   return at once with the request pending (paio once sat in io_submit
 *   reading the pipe: a hang), and complete with the bytes written after;
 *   one submitted after data was written returns those bytes;
 * - the same for writes: the stream's buffer is filled first, so an
 *   aio_write must return with the request pending and complete once the
 *   other end drains;
 * - a regular file: the read is positional (aio_offset honoured, the file
 *   position left at 0), buffered reads may be unaligned, O_DIRECT reads
 *   are aligned.
 *
 * Each case runs in its own child process (no AIO before the fork), with a
 * watchdog of its own, so a hang is named ("CASE: hung") and the others
 * still run. Usage: prog DIR (a scratch directory on the filesystem under
 * test; default $TMPDIR). Where the filesystem refuses O_DIRECT the cases
 * that need it are not run and a line says so (the same under glibc and paio).
 */
#include "../common.h"

#define BLK 4096
#define CASE_SECONDS 3

static const char *dir;
static int direct_ok; /* this filesystem accepts O_DIRECT */
static const char *current; /* name of the running case, for messages */
static int wrong; /* a request of this case gave a wrong result */

/* Note a wrong result: the case goes on, and its child exits 1. */
static void judge(int ok, const char *what)
{
	if (!ok) {
		wrong = 1;
		fprintf(stderr, "%s: %s: wrong result (see stdout)\n", current, what);
	}
}

/* A new file DIR/tag-PID-n, unlinked at once; extra: O_DIRECT or 0. */
static int scratch_file(const char *tag, int extra)
{
	static int counter;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/reuse-%s-%d-%d", dir, tag, (int)getpid(),
		 counter++);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | extra, 0600);
	if (fd < 0)
		return -1;
	CHECK(unlink(path) == 0);
	return fd;
}

static void *aligned(size_t len)
{
	void *p = NULL;
	CHECK(posix_memalign(&p, BLK, len) == 0);
	return p;
}

/* A regular file holding `blocks` blocks of pattern `seed`, buffered or
 * O_DIRECT; its number must be `want` (-1: any). */
static int pattern_file(int direct, unsigned seed, int blocks, int want)
{
	int fd = scratch_file(direct ? "direct" : "buffered", direct ? O_DIRECT : 0);
	CHECK(fd >= 0);
	if (want >= 0 && fd != want)
		FAIL("%s: open gave fd %d, expected the lowest free number %d",
		     current, fd, want);
	size_t len = (size_t)blocks * BLK;
	char *buf = aligned(len);
	fill_pattern(buf, len, seed, 0);
	must_pwrite(fd, buf, len, 0);
	free(buf);
	return fd;
}

/* aio_read, waited for; prints what it got. Direct: aligned 4096 bytes at
 * 4096; otherwise 300 bytes at 1001 into an unaligned buffer. The file
 * position must stay where it was (0). */
static void positional_read(const char *what, int fd, int direct, unsigned seed)
{
	size_t len = direct ? BLK : 300;
	off_t off = direct ? BLK : 1001;
	char *mem = aligned(2 * BLK);
	char *buf = direct ? mem : mem + 1;
	memset(mem, 0, 2 * BLK);
	struct aiocb cb;
	prep(&cb, fd, buf, len, off, LIO_READ);
	errno = 0;
	int r = aio_read(&cb);
	if (r != 0)
		FAIL("%s: %s: aio_read returned %d (%s)", current, what, r,
		     errname(errno));
	int e = wait_done(&cb);
	ssize_t got = aio_return(&cb);
	long long bad = e == 0 && got == (ssize_t)len ?
				find_mismatch(buf, len, seed, off) : -2;
	off_t pos = lseek(fd, 0, SEEK_CUR);
	printf("%s: %s: aio_read %zu at %lld -> %s %zd, data %s, position %lld\n",
	       current, what, len, (long long)off, errname(e), got,
	       bad == -1 ? "ok" : "WRONG", (long long)pos);
	judge(bad == -1 && pos == 0, what);
	free(mem);
}

/* A stream read on rfd, fed through wfd: first a request submitted before
 * any data (it must be pending when aio_read returns), then one submitted
 * after the data was written. */
static void stream_reads(const char *what, int rfd, int wfd, unsigned seed)
{
	char buf[64], data[64];
	struct aiocb cb;

	fill_pattern(data, sizeof data, seed, 0);
	memset(buf, 0, sizeof buf);
	prep(&cb, rfd, buf, sizeof buf, 0, LIO_READ);
	errno = 0;
	int r = aio_read(&cb);
	if (r != 0)
		FAIL("%s: %s: aio_read (no data yet) returned %d (%s)", current,
		     what, r, errname(errno));
	int pending = aio_error(&cb) == EINPROGRESS;
	must_write(wfd, data, sizeof data);
	int e = wait_done(&cb);
	ssize_t got = aio_return(&cb);
	int ok = e == 0 && got == (ssize_t)sizeof buf &&
		 memcmp(buf, data, sizeof buf) == 0;
	printf("%s: %s: aio_read before data: pending %s, then %s %zd, data %s\n",
	       current, what, pending ? "yes" : "no", errname(e), got,
	       ok ? "ok" : "WRONG");
	judge(ok && pending, what);

	fill_pattern(data, sizeof data, seed + 1, 0);
	memset(buf, 0, sizeof buf);
	must_write(wfd, data, sizeof data);
	prep(&cb, rfd, buf, sizeof buf, 0, LIO_READ);
	errno = 0;
	r = aio_read(&cb);
	if (r != 0)
		FAIL("%s: %s: aio_read (data waiting) returned %d (%s)", current,
		     what, r, errname(errno));
	e = wait_done(&cb);
	got = aio_return(&cb);
	ok = e == 0 && got == (ssize_t)sizeof buf &&
	     memcmp(buf, data, sizeof buf) == 0;
	printf("%s: %s: aio_read after data: %s %zd, data %s\n", current, what,
	       errname(e), got, ok ? "ok" : "WRONG");
	judge(ok, what);
}

/* aio_write of one aligned block at 8192 (inside the file), waited
 * for and read back; the position must stay 0. */
static void positional_write(const char *what, int fd, unsigned seed)
{
	char *buf = aligned(BLK), *back = aligned(BLK);
	fill_pattern(buf, BLK, seed, 2 * BLK);
	struct aiocb cb;
	prep(&cb, fd, buf, BLK, 2 * BLK, LIO_WRITE);
	errno = 0;
	int r = aio_write(&cb);
	if (r != 0)
		FAIL("%s: %s: aio_write returned %d (%s)", current, what, r,
		     errname(errno));
	int e = wait_done(&cb);
	ssize_t done = aio_return(&cb);
	must_pread(fd, back, BLK, 2 * BLK);
	int ok = e == 0 && done == BLK && find_mismatch(back, BLK, seed, 2 * BLK) < 0;
	off_t pos = lseek(fd, 0, SEEK_CUR);
	printf("%s: %s: aio_write %d at %d -> %s %zd, data %s, position %lld\n",
	       current, what, BLK, 2 * BLK, errname(e), done, ok ? "ok" : "WRONG",
	       (long long)pos);
	judge(ok && pos == 0, what);
	free(buf);
	free(back);
}

/* A stream write on wfd, drained through rfd: wfd's buffer is filled
 * first, so the request must be pending when aio_write returns, and it
 * completes once the reader drains. */
static void stream_write(const char *what, int wfd, int rfd, unsigned seed)
{
	int fl = fcntl(wfd, F_GETFL);
	CHECK(fl >= 0 && fcntl(wfd, F_SETFL, fl | O_NONBLOCK) == 0);
	static char junk[65536];
	size_t filled = 0;
	for (size_t chunk = sizeof junk; chunk > 0; chunk /= 2) {
		ssize_t w;
		while ((w = write(wfd, junk, chunk)) > 0)
			filled += (size_t)w;
		CHECK(errno == EAGAIN);
	}
	CHECK(fcntl(wfd, F_SETFL, fl) == 0);

	char data[64];
	fill_pattern(data, sizeof data, seed, 0);
	struct aiocb cb;
	prep(&cb, wfd, data, sizeof data, 0, LIO_WRITE);
	errno = 0;
	int r = aio_write(&cb);
	if (r != 0)
		FAIL("%s: %s: aio_write (buffer full) returned %d (%s)", current, what,
		     r, errname(errno));
	int pending = aio_error(&cb) == EINPROGRESS;
	size_t want = filled + sizeof data, got = 0;
	char *all = malloc(want);
	CHECK(all != NULL);
	while (got < want) {
		ssize_t n = read(rfd, all + got, want - got);
		CHECK(n > 0);
		got += (size_t)n;
	}
	int e = wait_done(&cb);
	ssize_t done = aio_return(&cb);
	int ok = e == 0 && done == (ssize_t)sizeof data &&
		 memcmp(all + filled, data, sizeof data) == 0;
	printf("%s: %s: aio_write with the buffer full: pending %s, then %s %zd, "
	       "data %s\n", current, what, pending ? "yes" : "no", errname(e), done,
	       ok ? "ok" : "WRONG");
	judge(ok && pending, what);
	free(all);
}

enum stream_kind { PIPE, SOCKET, FIFO };

static const char *stream_name(enum stream_kind k)
{
	return k == PIPE ? "pipe" : k == SOCKET ? "socket" : "fifo";
}

/* A stream whose reading end is number `want` (the lowest free one); *wfd
 * is the end to write to. */
static int open_stream(enum stream_kind k, int want, int *wfd)
{
	int p[2];
	if (k == PIPE) {
		CHECK(pipe(p) == 0);
	} else if (k == SOCKET) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
	} else {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/reuse-fifo-%d", dir, (int)getpid());
		CHECK(mkfifo(path, 0600) == 0);
		/* O_RDWR: neither open waits for the other end (Linux). */
		p[0] = open(path, O_RDWR);
		CHECK(p[0] >= 0);
		p[1] = open(path, O_WRONLY);
		CHECK(p[1] >= 0);
		CHECK(unlink(path) == 0);
	}
	if (p[0] != want)
		FAIL("%s: %s gave fd %d, expected the lowest free number %d", current,
		     stream_name(k), p[0], want);
	*wfd = p[1];
	return p[0];
}

/* A regular file (buffered or O_DIRECT) becomes a stream. */
static void file_to_stream(int direct, enum stream_kind k)
{
	int n = pattern_file(direct, 11, 3, -1);
	positional_read(direct ? "O_DIRECT file" : "buffered file", n, direct, 11);
	CHECK(close(n) == 0);
	int w;
	int r = open_stream(k, n, &w);
	stream_reads(stream_name(k), r, w, 12);
	close(r);
	close(w);
}

/* A stream becomes a regular file (buffered or O_DIRECT). */
static void stream_to_file(enum stream_kind k, int direct)
{
	int w;
	int r = open_stream(k, 3, &w);
	stream_reads(stream_name(k), r, w, 21);
	CHECK(close(r) == 0);
	CHECK(close(w) == 0);
	int n = pattern_file(direct, 22, 3, r);
	positional_read(direct ? "O_DIRECT file" : "buffered file", n, direct, 22);
	close(n);
}

/* One regular file becomes another of the other caching mode. */
static void file_to_file(int direct_first)
{
	int n = pattern_file(direct_first, 31, 3, -1);
	positional_read(direct_first ? "O_DIRECT file" : "buffered file", n,
			direct_first, 31);
	CHECK(close(n) == 0);
	int m = pattern_file(!direct_first, 32, 3, n);
	positional_read(direct_first ? "buffered file" : "O_DIRECT file", m,
			!direct_first, 32);
	close(m);
}

/* dup2() puts a pipe over an O_DIRECT file's number, then a buffered file
 * over the pipe's: no close() in between, the number never falls free. */
static void dup2_over(void)
{
	int n = pattern_file(direct_ok, 41, 3, -1);
	positional_read(direct_ok ? "O_DIRECT file" : "buffered file", n,
			direct_ok, 41);
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(dup2(p[0], n) == n);
	CHECK(close(p[0]) == 0);
	stream_reads("pipe by dup2", n, p[1], 42);
	int f = pattern_file(0, 43, 3, -1);
	CHECK(dup2(f, n) == n);
	CHECK(close(f) == 0);
	positional_read("buffered file by dup2", n, 0, 43);
	close(n);
	close(p[1]);
}

/* An O_DIRECT file written, then a socket or a pipe's writing end on its
 * number, written. */
static void direct_to_stream_write(enum stream_kind k)
{
	int hole = -1;
	if (k == PIPE) {
		/* pipe() gives the two lowest free numbers, reading end first:
		 * keep one number below the file's free for the reading end. */
		hole = open("/dev/null", O_RDONLY);
		CHECK(hole >= 0);
	}
	int n = pattern_file(1, 51, 3, -1);
	positional_write("O_DIRECT file", n, 51);
	if (hole >= 0)
		CHECK(close(hole) == 0);
	CHECK(close(n) == 0);
	int p[2];
	if (k == PIPE)
		CHECK(pipe(p) == 0);
	else
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
	int w = k == PIPE ? p[1] : p[0], r = k == PIPE ? p[0] : p[1];
	if (w != n)
		FAIL("%s: the %s's writing end is fd %d, expected %d", current,
		     stream_name(k), w, n);
	stream_write(stream_name(k), w, r, 52);
	close(p[0]);
	close(p[1]);
}

static void c_direct_socket_write(void) { direct_to_stream_write(SOCKET); }
static void c_direct_pipe_write(void) { direct_to_stream_write(PIPE); }
static void c_direct_pipe(void) { file_to_stream(1, PIPE); }
static void c_direct_socket(void) { file_to_stream(1, SOCKET); }
static void c_buffered_pipe(void) { file_to_stream(0, PIPE); }
static void c_buffered_socket(void) { file_to_stream(0, SOCKET); }
static void c_buffered_fifo(void) { file_to_stream(0, FIFO); }
static void c_direct_fifo(void) { file_to_stream(1, FIFO); }
static void c_pipe_buffered(void) { stream_to_file(PIPE, 0); }
static void c_pipe_direct(void) { stream_to_file(PIPE, 1); }
static void c_socket_direct(void) { stream_to_file(SOCKET, 1); }
static void c_socket_buffered(void) { stream_to_file(SOCKET, 0); }
static void c_direct_buffered(void) { file_to_file(1); }
static void c_buffered_direct(void) { file_to_file(0); }

static const struct {
	const char *name;
	void (*body)(void);
	int needs_direct;
} cases[] = {
	{ "O_DIRECT file -> pipe", c_direct_pipe, 1 },
	{ "O_DIRECT file -> socket", c_direct_socket, 1 },
	{ "O_DIRECT file -> fifo", c_direct_fifo, 1 },
	{ "buffered file -> pipe", c_buffered_pipe, 0 },
	{ "buffered file -> socket", c_buffered_socket, 0 },
	{ "buffered file -> fifo", c_buffered_fifo, 0 },
	{ "pipe -> buffered file", c_pipe_buffered, 0 },
	{ "pipe -> O_DIRECT file", c_pipe_direct, 1 },
	{ "socket -> O_DIRECT file", c_socket_direct, 1 },
	{ "socket -> buffered file", c_socket_buffered, 0 },
	{ "O_DIRECT file -> buffered file", c_direct_buffered, 1 },
	{ "buffered file -> O_DIRECT file", c_buffered_direct, 1 },
	{ "dup2 over a file, then over a pipe", dup2_over, 0 },
	{ "O_DIRECT file -> socket, written", c_direct_socket_write, 1 },
	{ "O_DIRECT file -> pipe, written", c_direct_pipe_write, 1 },
};

int main(int argc, char **argv)
{
	dir = argc > 1 ? argv[1] : tmp_dir();

	/* Descriptors 0..2 are the harness's; everything else is ours. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);

	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/reuse-probe-%d", dir, (int)getpid());
	int probe = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
	if (probe < 0 && errno != EINVAL)
		FAIL("open %s: %s", path, strerror(errno));
	direct_ok = probe >= 0;
	if (direct_ok) {
		close(probe);
		unlink(path);
	} else {
		printf("O_DIRECT: refused by this filesystem (EINVAL), its cases not run\n");
	}

	int failed = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].needs_direct && !direct_ok)
			continue;
		current = cases[i].name;
		fflush(NULL);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			alarm(CASE_SECONDS);
			cases[i].body();
			fflush(NULL);
			exit(wrong); /* exit, not _exit: paio writes PAIO_STATS at exit */
		}
		/* The parent's watchdog, re-armed per case: the child's fires first. */
		alarm(CASE_SECONDS + 5);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		failed = 1;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			printf("%s: hung\n", current);
		else if (WIFSIGNALED(status))
			printf("%s: killed by SIG%s\n", current,
			       sigabbrev_np(WTERMSIG(status)));
		else
			printf("%s: exited %d\n", current, WEXITSTATUS(status));
		fprintf(stderr, "case \"%s\" failed (see stdout)\n", current);
	}
	return failed;
}
