/* matrix: once */
/* A descriptor number reused by another kind of file: for every pair of
 * kinds (O_DIRECT file, buffered file, pipe, socket, FIFO, /dev/zero, and
 * /dev/vcs1, a character device read at the offset, where present), the
 * first is used at number N, closed, and the second made at N and used,
 * with data checked; then the same with a read still in flight on a stream
 * when N is closed (or dup2'd over) and reused. Each pair runs in a child
 * of its own, so a hang is reported for that pair and the others still run. */
#include "matrix.h"

#define N 200
#define BS 4096

enum kind { DIRECT, BUFFERED, PIPE, SOCKET, FIFO, ZERO, VCS, NKINDS };
static const char *const names[NKINDS] = { "direct", "buffered", "pipe", "socket",
					   "fifo",   "zero",     "vcs" };
static const char *dir;

struct obj {
	enum kind kind;
	int peer;
};

static int is_stream(enum kind k)
{
	return k == PIPE || k == SOCKET || k == FIFO;
}

/* A new descriptor of kind k (its peer, for streams, in o->peer). */
static int make(enum kind k, struct obj *o)
{
	static int counter;
	char path[PATH_MAX];
	int fd = -1, p[2];
	o->kind = k;
	o->peer = -1;
	switch (k) {
	case DIRECT:
	case BUFFERED:
		snprintf(path, sizeof path, "%s/file-%d", dir, counter++);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | (k == DIRECT ? O_DIRECT : 0), 0600);
		CHECK(fd >= 0);
		unlink(path);
		break;
	case PIPE:
		CHECK(pipe(p) == 0);
		fd = p[0];
		o->peer = p[1];
		break;
	case SOCKET:
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
		fd = p[0];
		o->peer = p[1];
		break;
	case FIFO:
		snprintf(path, sizeof path, "%s/fifo-%d", dir, counter++);
		CHECK(mkfifo(path, 0600) == 0);
		fd = open(path, O_RDONLY | O_NONBLOCK);
		CHECK(fd >= 0);
		o->peer = open(path, O_WRONLY);
		CHECK(o->peer >= 0);
		CHECK(fcntl(fd, F_SETFL, 0) == 0);
		unlink(path);
		break;
	case ZERO:
		fd = open("/dev/zero", O_RDWR);
		CHECK(fd >= 0);
		break;
	case VCS:
		fd = open("/dev/vcs1", O_RDONLY);
		CHECK(fd >= 0);
		break;
	default:
		FAIL("kind %d", k);
	}
	return fd;
}

/* Move fd to number n. */
static void place(int fd, int n)
{
	if (fd != n) {
		CHECK(dup2(fd, n) == n);
		close(fd);
	}
}

static void *aligned(void)
{
	void *p;
	CHECK(posix_memalign(&p, BS, BS) == 0);
	return p;
}

/* Use the file of kind o->kind at number n; describe what it did. */
static const char *use(int n, struct obj *o, unsigned seed)
{
	static char out[128];
	unsigned char *buf = aligned(), *data = aligned();
	struct aiocb cb;
	fill_pattern(data, BS, seed, 0);
	memset(buf, 0x55, BS);
	if (o->kind == DIRECT || o->kind == BUFFERED) {
		prep(&cb, n, data, BS, BS, LIO_WRITE);
		CHECK(aio_write(&cb) == 0);
		char w[64];
		snprintf(w, sizeof w, "%s", finish(&cb, "write"));
		prep(&cb, n, buf, BS, BS, LIO_READ);
		CHECK(aio_read(&cb) == 0);
		const char *r = finish(&cb, "read");
		snprintf(out, sizeof out, "write %s, read %s, data %s", w, r,
			 memcmp(buf, data, BS) == 0 ? "ok" : "WRONG");
	} else if (o->kind == VCS) {
		/* Positional: the read is at aio_offset, not at the position. */
		CHECK(lseek(n, 60, SEEK_SET) == 60);
		char want[16];
		ssize_t w = pread(n, want, sizeof want, 4);
		prep(&cb, n, buf, sizeof want, 4, LIO_READ);
		CHECK(aio_read(&cb) == 0);
		const char *r = finish(&cb, "read");
		snprintf(out, sizeof out, "read %s, same as pread %s, position %lld", r,
			 w > 0 && memcmp(buf, want, (size_t)w) == 0 ? "yes" : "no",
			 (long long)lseek(n, 0, SEEK_CUR));
	} else if (o->kind == ZERO) {
		prep(&cb, n, buf, BS, 4, LIO_READ);
		CHECK(aio_read(&cb) == 0);
		const char *r = finish(&cb, "read");
		int zero = 1;
		for (int i = 0; i < BS; i++)
			zero &= buf[i] == 0;
		snprintf(out, sizeof out, "read %s, zeros %s", r, zero ? "yes" : "no");
	} else {
		prep(&cb, n, buf, BS, 0, LIO_READ);
		CHECK(aio_read(&cb) == 0);
		sleep_ms(20);
		must_write(o->peer, data, BS);
		const char *r = finish(&cb, "read");
		snprintf(out, sizeof out, "read %s, data %s", r,
			 memcmp(buf, data, BS) == 0 ? "ok" : "WRONG");
	}
	free(buf);
	free(data);
	return out;
}

static void release(int n, struct obj *o)
{
	close(n);
	if (o->peer >= 0)
		close(o->peer);
}

/* Run body(a, b) in a child with a watchdog; print its line or "hung". */
static void pair(const char *how, enum kind a, enum kind b, void (*body)(enum kind, enum kind))
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(3);
		body(a, b);
		exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		printf("%s %s -> %s: %s\n", how, names[a], names[b],
		       WTERMSIG(st) == SIGALRM ? "hung" : sigabbrev_np(WTERMSIG(st)));
	else if (WEXITSTATUS(st) != 0)
		printf("%s %s -> %s: exit %d\n", how, names[a], names[b], WEXITSTATUS(st));
}

/* a used and finished, closed; b made at the same number. */
static void after_finished(enum kind a, enum kind b)
{
	struct obj oa, ob;
	place(make(a, &oa), N);
	char ra[128];
	snprintf(ra, sizeof ra, "%s", use(N, &oa, 1));
	release(N, &oa);
	place(make(b, &ob), N);
	printf("reuse %s -> %s: %s; ", names[a], names[b], ra);
	printf("then %s\n", use(N, &ob, 2));
	release(N, &ob);
}

/* A read in flight on stream a when N is closed (or dup2'd over, below)
 * and b takes the number; a's read must still get a's data. */
static void in_flight(enum kind a, enum kind b, int by_dup2)
{
	struct obj oa, ob;
	place(make(a, &oa), N);
	static char buf[64];
	struct aiocb cb;
	prep(&cb, N, buf, 5, 0, LIO_READ);
	CHECK(aio_read(&cb) == 0);
	let_worker_start();
	if (by_dup2) {
		int fd = make(b, &ob);
		CHECK(dup2(fd, N) == N);
		close(fd);
	} else {
		close(N);
		place(make(b, &ob), N);
	}
	must_write(oa.peer, "old!!", 5);
	char r[64];
	snprintf(r, sizeof r, "%s", finish(&cb, "in-flight read"));
	printf("%s %s -> %s: in-flight read %s \"%.5s\"; ", by_dup2 ? "dup2" : "close",
	       names[a], names[b], r, buf);
	printf("then %s\n", use(N, &ob, 3));
	close(oa.peer);
	release(N, &ob);
}

static void in_flight_close(enum kind a, enum kind b)
{
	in_flight(a, b, 0);
}

static void in_flight_dup2(enum kind a, enum kind b)
{
	in_flight(a, b, 1);
}

int main(int argc, char **argv)
{
	dir = matrix_start(argc, argv);
	alarm(28);
	struct obj probe;
	int fd = make(DIRECT, &probe);
	close(fd);
	int kinds = NKINDS;
	if (access("/dev/vcs1", R_OK) != 0) {
		printf("~no readable /dev/vcs1: its pairs are left out\n");
		kinds = VCS;
	}
	for (int a = 0; a < kinds; a++)
		for (int b = 0; b < kinds; b++)
			pair("reuse", a, b, after_finished);
	for (int a = 0; a < kinds; a++)
		for (int b = 0; b < kinds; b++)
			if (is_stream(a)) {
				pair("close", a, b, in_flight_close);
				pair("dup2", a, b, in_flight_dup2);
			}
	return 0;
}
