/* matrix: once */
/* A character device whose every read returns one record, /dev/kmsg: each
 * aio_read completes with exactly one record, as glibc's one read gives it,
 * whether the record is there before the request or arrives while it
 * waits; a short read of a device is never continued where it stopped
 * (that merged records, or waited for a record that never came). Records
 * written by others meanwhile (the kernel's) are read and left out. */
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
	return 0;
}
