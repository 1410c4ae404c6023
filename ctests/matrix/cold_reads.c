/* matrix: filesystems */
/* Uncached buffered reads, many in flight at once: the reads paio serves
 * with io_uring where it is allowed (the kernel's own AIO has no
 * asynchronous buffered read), and with read-ahead and a few pool threads
 * where it is not. The file's pages are evicted (fsync, then
 * posix_fadvise DONTNEED) before each round; where nothing can be evicted
 * (tmpfs, ramfs) the same reads are cached, and the output is the same;
 * on FUSE with direct_io every read goes to the daemon (where io_uring's
 * reads once repeated a short read's bytes).
 *
 * Rounds, each read checked byte for byte against the pattern:
 * - 48 aio_reads in flight: 4 KiB, 512 bytes at odd offsets, 64 KiB, 1 MiB,
 *   across end of file, at end of file, past it; results in order;
 * - one lio_listio(LIO_WAIT) of 16 reads;
 * - after the parent's rounds, the program sandboxes all its threads
 *   (SECCOMP_FILTER_FLAG_TSYNC) against io_uring_enter, with paio's ring
 *   set up: the reads that follow must still complete, from the pool;
 * - the same 48 reads from a child that runs in a seccomp sandbox that
 *   refuses io_uring_setup (EPERM, as Docker's default profile does), made
 *   before the parent's first AIO call (a child forked after it would
 *   inherit glibc's AIO state, see fork_child_aio): the fallback must read
 *   the same bytes. */
#include "matrix.h"

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_io_uring_enter
#define SYS_io_uring_enter 426
#endif

enum { SIZE = 8 << 20, NREADS = 48, NLIO = 16, SEED = 23 };

static unsigned char file_data[SIZE];
static unsigned char bufs[NREADS][(1 << 20) + 1];

/* Read i of a round: its offset and length (deterministic). */
static void plan(int i, off_t *off, size_t *len)
{
	unsigned long x = (unsigned long)i * 2654435761ul + 12345;
	switch (i % 6) {
	case 0: *len = 4096; *off = (off_t)(x % (SIZE / 4096)) * 4096; break;
	case 1: *len = 512; *off = (off_t)(x % (SIZE - 4096)) | 1; break;
	case 2: *len = 65536; *off = (off_t)(x % (SIZE / 65536)) * 65536; break;
	case 3: *len = 1 << 20; *off = (off_t)(x % (SIZE / 4096 - 256)) * 4096 + 100; break;
	case 4: *len = 10000; *off = (off_t)(x % (SIZE - 10000)); break;
	default: *len = 8192; *off = (off_t)(x % (SIZE / 8192)) * 8192; break;
	}
	if (i == 7) { *off = SIZE - 1000; *len = 4096; }   /* across EOF */
	if (i == 13) { *off = SIZE; *len = 4096; }          /* at EOF */
	if (i == 19) { *off = SIZE + 65536; *len = 4096; }  /* past EOF */
}

/* What a read of (off, len) must return. */
static ssize_t expected(off_t off, size_t len)
{
	if (off >= SIZE)
		return 0;
	return (ssize_t)(off + (off_t)len > SIZE ? SIZE - off : (off_t)len);
}

/* Evict the file's pages; the count left cached goes to a `~` line (not
 * compared: it depends on the filesystem). */
static void evict(int fd, const char *round)
{
	CHECK(fsync(fd) == 0);
	EXPECT_OK(posix_fadvise(fd, 0, SIZE, POSIX_FADV_DONTNEED));
	/* A FUSE file opened in direct_io mode has no page cache to map. */
	void *map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		printf("~%s: the file cannot be mapped (%s): no page cache\n", round, ename(errno));
		return;
	}
	CHECK(munmap(map, SIZE) == 0);
	static unsigned char vec[SIZE / 4096];
	page_residency(fd, SIZE, vec);
	int cached = 0;
	for (int p = 0; p < SIZE / 4096; p++)
		cached += vec[p] & 1;
	printf("~%s: %d of %d pages cached before\n", round, cached, SIZE / 4096);
}

/* Check read i's buffer: "ok" or where it differs. */
static void check(const char *round, int i, off_t off, ssize_t got)
{
	if (got <= 0)
		return;
	if (memcmp(bufs[i], file_data + off, (size_t)got) != 0) {
		size_t at = 0;
		while (bufs[i][at] == file_data[off + (off_t)at])
			at++;
		printf("%s read %d: data WRONG at byte %zu\n", round, i, at);
	}
}

/* NREADS reads in flight, then each waited for in order. */
static void round_in_flight(int fd, const char *round)
{
	static struct aiocb cbs[NREADS];
	evict(fd, round);
	for (int i = 0; i < NREADS; i++) {
		off_t off;
		size_t len;
		plan(i, &off, &len);
		memset(bufs[i], 0xee, len);
		prep(&cbs[i], fd, bufs[i], len, off, LIO_READ);
		if (aio_read(&cbs[i]) != 0)
			printf("%s read %d: refused %s\n", round, i, ename(errno));
	}
	int wrong = 0;
	for (int i = 0; i < NREADS; i++) {
		off_t off;
		size_t len;
		plan(i, &off, &len);
		const char *res = finish(&cbs[i], round);
		ssize_t got = strncmp(res, "ok ", 3) == 0 ? atol(res + 3) : -1;
		if (got != expected(off, len)) {
			printf("%s read %d (%zu at %lld): %s, expected %zd\n", round, i, len,
			       (long long)off, res, expected(off, len));
			wrong++;
		}
		check(round, i, off, got);
	}
	printf("%s: %d reads, %d results differ from the file\n", round, NREADS, wrong);
}

static void round_lio(int fd)
{
	static struct aiocb cbs[NLIO];
	struct aiocb *list[NLIO];
	evict(fd, "lio_listio");
	for (int i = 0; i < NLIO; i++) {
		off_t off;
		size_t len;
		plan(i, &off, &len);
		prep(&cbs[i], fd, bufs[i], len, off, LIO_READ);
		list[i] = &cbs[i];
	}
	printf("lio_listio wait: %d\n", lio_listio(LIO_WAIT, list, NLIO, NULL));
	int wrong = 0;
	for (int i = 0; i < NLIO; i++) {
		off_t off;
		size_t len;
		plan(i, &off, &len);
		ssize_t got = aio_error(&cbs[i]) == 0 ? aio_return(&cbs[i]) : -1;
		wrong += got != expected(off, len);
		check("lio_listio", i, off, got);
	}
	printf("lio_listio: %d reads, %d results differ from the file\n", NLIO, wrong);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	char path[PATH_MAX];
	int fd = tmp_file_flags("cold", path, 0);
	CHECK(fd >= 0);
	fill_pattern(file_data, SIZE, SEED, 0);
	for (size_t at = 0; at < SIZE; at += 65536)
		must_pwrite(fd, file_data + at, 65536, (off_t)at);

	/* Whether this process may have an io_uring at all (for the statistics
	 * check of ctests/tests/cold_reads.rs; not compared). */
	unsigned char params[120] = { 0 };
	long ring = syscall(SYS_io_uring_setup, 4, params);
	if (ring >= 0) {
		printf("~io_uring: allowed\n");
		close((int)ring);
	} else {
		printf("~io_uring: %s\n", ename(errno));
	}

	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		struct deny rules[] = { { SYS_io_uring_setup, EPERM, 0 } };
		sandbox(rules, 1);
		round_in_flight(fd, "sandboxed child");
		exit(0); /* at exit, paio's statistics line (PAIO_STATS) */
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		printf("~sandboxed child skipped\n");
	else
		printf("sandboxed child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "exit 0" : "failed");

	round_in_flight(fd, "in flight");
	round_lio(fd);
	round_in_flight(fd, "again");

	/* The program sandboxes itself now, every thread at once: paio's ring
	 * exists and its thread may no longer enter it. */
	struct deny later[] = { { SYS_io_uring_enter, EPERM, 0 } };
	fflush(stdout);
	sandbox_all_threads(later, 1);
	round_in_flight(fd, "io_uring_enter refused");
	round_lio(fd);
	CHECK(close(fd) == 0);
	return 0;
}
