/* matrix: once */
/* A thread submits requests (a read waiting on a pipe with SIGEV_THREAD, a
 * write, an fsync) and exits; the requests complete as if it were alive, its
 * notification runs, and the data is right. */
#include "matrix.h"

static int p[2], fd;
static struct aiocb rd, wr, fs;
static char rbuf[16];
static char wbuf[65536];
static atomic_int notified;

static void callback(union sigval v)
{
	atomic_fetch_add(&notified, v.sival_int);
}

static void *submitter(void *arg)
{
	(void)arg;
	prep(&rd, p[0], rbuf, 6, 0, LIO_READ);
	rd.aio_sigevent.sigev_notify = SIGEV_THREAD;
	rd.aio_sigevent.sigev_notify_function = callback;
	rd.aio_sigevent.sigev_value.sival_int = 1;
	CHECK(aio_read(&rd) == 0);
	fill_pattern(wbuf, sizeof wbuf, 4, 0);
	prep(&wr, fd, wbuf, sizeof wbuf, 0, LIO_WRITE);
	CHECK(aio_write(&wr) == 0);
	prep(&fs, fd, NULL, 0, 0, LIO_NOP);
	CHECK(aio_fsync(O_SYNC, &fs) == 0);
	return NULL;
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	CHECK(pipe(p) == 0);
	fd = tmp_file("thread-exit");
	pthread_t t;
	CHECK(pthread_create(&t, NULL, submitter, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("thread gone; read: %s\n", ename(aio_error(&rd)));
	must_write(p[1], "thread", 6);
	printf("read: %s \"%s\"\n", finish(&rd, "read"), rbuf);
	printf("write: %s\n", finish(&wr, "write"));
	printf("fsync: %s\n", finish(&fs, "fsync"));
	wait_flag(&notified, 1);
	printf("notified: %d\n", atomic_load(&notified));
	static char back[65536];
	must_pread(fd, back, sizeof back, 0);
	printf("data: %s\n", find_mismatch(back, sizeof back, 4, 0) < 0 ? "ok" : "WRONG");
	printf("~threads now: %d\n", count_tasks());
	return 0;
}
