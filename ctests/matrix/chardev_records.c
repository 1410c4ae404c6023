/* matrix: once */
/* A character device whose every read returns one record, /dev/kmsg: each
 * aio_read completes with exactly one record, as glibc's one read gives it,
 * whether the record is there before the request or arrives while it
 * waits; a short read of a device is never continued where it stopped
 * (that merged records, or waited for a record that never came). Records
 * written by others meanwhile (the kernel's) are read and left out.
 * And a device that is not read by records, /dev/zero, gives each read in
 * full while another thread keeps the CPUs busy (a non-blocking read of it
 * stops short when the CPU is wanted elsewhere; glibc's blocking read goes
 * on). */
#include "matrix.h"

static int reader;
static char buf[8192];

/* One aio_read of up to 8 KiB; the record's text (after ';'), or a
 * description of what was wrong with it. */
static const char *one_record(struct aiocb *cb, int submitted)
{
	static char out[256];
	if (!submitted) {
		prep(cb, reader, buf, sizeof buf, 0, LIO_READ);
		CHECK(aio_read(cb) == 0);
	}
	int e = wait_done_at(cb, MATRIX_WAIT_MS, "kmsg read", __FILE__, __LINE__);
	ssize_t n = aio_return(cb);
	if (e != 0)
		return ename(e);
	const char *nl = memchr(buf, '\n', (size_t)n);
	if (n <= 0 || nl == NULL || nl != buf + n - 1)
		return "not one record";
	const char *text = memchr(buf, ';', (size_t)n);
	snprintf(out, sizeof out, "%.*s", text ? (int)(nl - text - 1) : 0, text ? text + 1 : "");
	return out;
}

/* The next record of ours (starting with "paio-matrix"), reading past others. */
static const char *ours(struct aiocb *cb, int submitted)
{
	for (int i = 0; i < 100; i++) {
		const char *r = one_record(cb, submitted && i == 0);
		if (strncmp(r, "paio-matrix", 11) == 0 || strcmp(r, "not one record") == 0)
			return r;
	}
	return "none of ours in 100 records";
}

static void say(int w, const char *text)
{
	char line[128];
	int n = snprintf(line, sizeof line, "<6>%s\n", text);
	if (write(w, line, (size_t)n) != n)
		FAIL("write /dev/kmsg: %s", strerror(errno));
}

static atomic_int stop;

static void *spin(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		;
	return NULL;
}

/* Reads of /dev/zero, 256 KiB each, with threads spinning beside them. */
static void zero_reads(void)
{
	int z = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	CHECK(z >= 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, spin, NULL) == 0);
	static char big[256 << 10];
	int full = 0;
	for (int i = 0; i < 1000; i++) {
		struct aiocb cb;
		prep(&cb, z, big, sizeof big, 0, LIO_READ);
		CHECK(aio_read(&cb) == 0);
		int e = wait_done_at(&cb, MATRIX_WAIT_MS, "zero read", __FILE__, __LINE__);
		if (e == 0 && aio_return(&cb) == (ssize_t)sizeof big)
			full++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	printf("/dev/zero, 1000 reads of 256 KiB beside busy threads: %d in full\n", full);
	close(z);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	int w = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	reader = open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
	if (w < 0 || reader < 0)
		skip("/dev/kmsg: %s", strerror(errno));
	CHECK(lseek(reader, 0, SEEK_END) >= 0);
	struct aiocb cb;
	say(w, "paio-matrix record one");
	printf("a record there: %s\n", ours(&cb, 0));
	say(w, "paio-matrix record two");
	say(w, "paio-matrix record three");
	printf("two records there, first read: %s\n", ours(&cb, 0));
	printf("second read: %s\n", ours(&cb, 0));
	prep(&cb, reader, buf, sizeof buf, 0, LIO_READ);
	CHECK(aio_read(&cb) == 0);
	let_worker_start();
	say(w, "paio-matrix record four");
	printf("a record that comes while the read waits: %s\n", ours(&cb, 1));
	zero_reads();
	return 0;
}
