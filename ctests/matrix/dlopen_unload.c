/* matrix: once */
/* The AIO library loaded as a plugin is: dlopen, every call through dlsym,
 * dlclose, four times over, with work still in flight across each dlclose
 * (a pipe read waiting for data, a SIGEV_THREAD callback to come), and the
 * process going on for a while after the last dlclose. glibc's AIO lives in
 * libc.so.6, which dlclose never unmaps; the library under test must not be
 * unmapped under its own threads either.
 *
 * The plain run re-executes itself and loads libc.so.6. A run with paio in
 * LD_PRELOAD re-executes itself without it and loads that libpaio.so by its
 * path instead, so that paio is loaded only by dlopen (nothing else holds
 * it) and the program never names an AIO function at link time. */
#include "matrix.h"

struct api {
	int (*read)(struct aiocb *);
	int (*write)(struct aiocb *);
	int (*fsync)(int, struct aiocb *);
	int (*error)(const struct aiocb *);
	ssize_t (*ret)(struct aiocb *);
	int (*suspend)(const struct aiocb *const[], int, const struct timespec *);
};

static atomic_int callbacks;

static void callback(union sigval v)
{
	(void)v;
	atomic_fetch_add(&callbacks, 1);
}

static void *must_sym(void *h, const char *name)
{
	void *s = dlsym(h, name);
	if (s == NULL)
		FAIL("dlsym %s: %s", name, dlerror());
	return s;
}

static void *load(const char *lib, struct api *a)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		FAIL("dlopen %s: %s", lib, dlerror());
	a->read = (int (*)(struct aiocb *))must_sym(h, "aio_read");
	a->write = (int (*)(struct aiocb *))must_sym(h, "aio_write");
	a->fsync = (int (*)(int, struct aiocb *))must_sym(h, "aio_fsync");
	a->error = (int (*)(const struct aiocb *))must_sym(h, "aio_error");
	a->ret = (ssize_t(*)(struct aiocb *))must_sym(h, "aio_return");
	a->suspend = (int (*)(const struct aiocb *const[], int,
			      const struct timespec *))must_sym(h, "aio_suspend");
	return h;
}

/* Wait for cb through the api (a hang fails the program); "ok N" or
 * "error ENAME". */
static const char *done(const struct api *a, struct aiocb *cb)
{
	static char out[64];
	long long deadline = now_ms() + MATRIX_WAIT_MS;
	const struct aiocb *list[1] = { cb };
	int e;
	while ((e = a->error(cb)) == EINPROGRESS) {
		if (now_ms() > deadline)
			FAIL("request still in progress after %d ms", MATRIX_WAIT_MS);
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		a->suspend(list, 1, &ts);
	}
	ssize_t r = a->ret(cb);
	if (e == 0)
		snprintf(out, sizeof out, "ok %zd", r);
	else
		snprintf(out, sizeof out, "error %s", ename(e));
	return out;
}

static void unload(void *h)
{
	fflush(NULL);
	CHECK(dlclose(h) == 0);
	/* The library's threads, if it left any, run now. */
	sleep_ms(200);
}

static void plugin(const char *lib)
{
	static char data[65536], back[65536];
	static struct aiocb a, b;
	char pa[8] = { 0 }, pb[8] = { 0 };
	int p[2];
	struct api api;
	CHECK(pipe(p) == 0);
	int fd = tmp_file("plugin");

	printf("round 1:\n");
	void *h = load(lib, &api);
	fill_pattern(data, sizeof data, 1, 0);
	prep(&a, fd, data, sizeof data, 0, LIO_WRITE);
	printf("  write: %d\n", api.write(&a));
	printf("  write: %s\n", done(&api, &a));
	prep(&a, fd, back, sizeof back, 0, LIO_READ);
	printf("  read: %d\n", api.read(&a));
	const char *res = done(&api, &a);
	printf("  read: %s, data %s\n", res,
	       memcmp(data, back, sizeof data) == 0 ? "ok" : "WRONG");
	unload(h);

	printf("round 2:\n");
	h = load(lib, &api);
	prep(&a, fd, back, sizeof back, 0, LIO_READ);
	a.aio_sigevent.sigev_notify = SIGEV_THREAD;
	a.aio_sigevent.sigev_notify_function = callback;
	printf("  read with a callback: %d\n", api.read(&a));
	printf("  read with a callback: %s\n", done(&api, &a));
	wait_flag(&callbacks, 1);
	prep(&a, p[0], pa, 4, 0, LIO_READ);
	printf("  pipe read: %d\n", api.read(&a));
	let_worker_start();
	unload(h);

	printf("round 3:\n");
	h = load(lib, &api);
	printf("  pipe read still waiting: %s\n", ename(api.error(&a)));
	must_write(p[1], "abcd", 4);
	printf("  pipe read: %s \"%s\"\n", done(&api, &a), pa);
	prep(&a, fd, NULL, 0, 0, LIO_NOP);
	printf("  fsync: %d\n", api.fsync(O_SYNC, &a));
	printf("  fsync: %s\n", done(&api, &a));
	prep(&b, p[0], pb, 4, 0, LIO_READ);
	b.aio_sigevent.sigev_notify = SIGEV_THREAD;
	b.aio_sigevent.sigev_notify_function = callback;
	printf("  pipe read with a callback: %d\n", api.read(&b));
	let_worker_start();
	unload(h);

	/* The read completes while no handle is open; its callback runs. */
	must_write(p[1], "efgh", 4);
	wait_flag(&callbacks, 2);
	printf("between rounds: callbacks %d\n", atomic_load(&callbacks));

	printf("round 4:\n");
	h = load(lib, &api);
	printf("  pipe read: %s \"%s\"\n", done(&api, &b), pb);
	prep(&a, fd, back, 4096, 4096, LIO_READ);
	printf("  read: %d\n", api.read(&a));
	res = done(&api, &a);
	printf("  read: %s, data %s\n", res,
	       memcmp(data + 4096, back, 4096) == 0 ? "ok" : "WRONG");
	unload(h);
	/* paio's idle threads look around once a second. */
	sleep_ms(1500);
	printf("alive after the last dlclose, callbacks %d\n", atomic_load(&callbacks));
	close(fd);
}

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	if (argc == 3 && strcmp(argv[2], "plugin") == 0) {
		const char *lib = getenv("DLOPEN_UNLOAD_LIB");
		plugin(lib != NULL ? lib : "libc.so.6");
		return 0;
	}
	/* Find libpaio in LD_PRELOAD (entries are separated by spaces or
	 * colons), and take it out: the re-executed program loads it itself. */
	const char *pre = getenv("LD_PRELOAD");
	if (pre != NULL && strstr(pre, "libpaio") != NULL) {
		char list[PATH_MAX * 2];
		snprintf(list, sizeof list, "%s", pre);
		for (char *save = NULL, *t = strtok_r(list, " :", &save); t != NULL;
		     t = strtok_r(NULL, " :", &save))
			if (strstr(t, "libpaio") != NULL)
				CHECK(setenv("DLOPEN_UNLOAD_LIB", t, 1) == 0);
		CHECK(unsetenv("LD_PRELOAD") == 0);
	}
	fflush(NULL);
	char *self_argv[] = { argv[0], (char *)dir, "plugin", NULL };
	execv("/proc/self/exe", self_argv);
	FAIL("exec self: %s", strerror(errno));
}
