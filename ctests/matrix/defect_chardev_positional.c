/* matrix: once */
/* Issue 11, defect 2: only FIFOs and sockets are streams.
 *
 * Character devices, /proc and /sys files are read and written at
 * aio_offset with pread/pwrite semantics, whatever RWF_NOWAIT answers for
 * them: the request returns what pread(fd, .., aio_offset) returns and the
 * file position does not move. paio once read /dev/vcsa at its current
 * position (the 4-byte header instead of the screen at offset 4) and moved
 * the position to the end of the transfer.
 *
 * Files: the first of /dev/vcsa, /dev/vcsa1, /dev/vcs1, /dev/vcs that opens
 * and reads (a line says when none does: containers have no console); the
 * memory devices /dev/zero, /dev/null, /dev/full (reads, and writes, which
 * glibc does with pwrite: /dev/full gives ENOSPC); /proc/version,
 * /proc/filesystems, /sys/class/net/lo/address (printed as absent where
 * missing); /proc/self/mem (no read_iter either, and there the offset is an
 * address: a read at the position would read address 0), read from and
 * written into the program's own buffers. Before each request the position is set to 0, so a read at the
 * position instead of at aio_offset shows, and it is printed after.
 * Console contents may change between runs: for /dev/vcs* only "same as
 * pread" is compared, the checksum is on a '~' line.
 *
 * Usage: prog [DIR] (DIR unused).
 */
#include "../common.h"

#define LEN 60

/* Set when a request differs from pread/pwrite or moved the position. */
static int wrong;

static unsigned long checksum(const unsigned char *p, size_t n)
{
	unsigned long h = 5381;
	for (size_t i = 0; i < n; i++)
		h = h * 33 + p[i];
	return h;
}

/* What one request did: aio_return, aio_error, and the file position
 * before it (set to 0) and after it. */
struct outcome {
	ssize_t ret;
	int err;
	off_t start, after;
};

/* aio_read or aio_write of len bytes at off, waited for, made with the file
 * position set to 0 first, so a request made at the position shows. */
static struct outcome aio_rw(int fd, void *buf, size_t len, off_t off, int op)
{
	struct outcome o;
	o.start = lseek(fd, 0, SEEK_SET);
	struct aiocb cb;
	prep(&cb, fd, buf, len, off, op);
	errno = 0;
	int r = op == LIO_READ ? aio_read(&cb) : aio_write(&cb);
	if (r != 0)
		FAIL("aio_%s(fd %d, %zu at %lld) returned %d (%s)",
		     op == LIO_READ ? "read" : "write", fd, len, (long long)off, r,
		     errname(errno));
	o.err = wait_done(&cb);
	o.ret = aio_return(&cb);
	o.after = lseek(fd, 0, SEEK_CUR);
	return o;
}

/* Read `name` at `off` with pread and with aio_read from position 0. */
static void read_at(const char *name, int fd, off_t off, int volatile_data)
{
	unsigned char want[LEN], got[LEN];
	memset(want, 0xa5, sizeof want);
	memset(got, 0x5a, sizeof got);
	errno = 0;
	ssize_t pr = pread(fd, want, LEN, off);
	int perr = pr < 0 ? errno : 0;
	struct outcome a = aio_rw(fd, got, LEN, off, LIO_READ);
	int same = a.ret == pr && a.err == perr &&
		   (a.ret <= 0 || memcmp(want, got, (size_t)a.ret) == 0);
	if (!same && volatile_data) {
		/* The console may have changed under us: read again. */
		ssize_t again = pread(fd, want, LEN, off);
		same = a.ret == again && a.err == 0 &&
		       (a.ret <= 0 || memcmp(want, got, (size_t)a.ret) == 0);
	}
	printf("%s: pread %zu at %lld -> %zd %s; aio_read -> %zd %s, same as pread: %s; "
	       "position %lld before, %lld after\n",
	       name, (size_t)LEN, (long long)off, pr, errname(perr), a.ret, errname(a.err),
	       same ? "yes" : "NO", (long long)a.start, (long long)a.after);
	if (!same || a.after != a.start) {
		wrong = 1;
		fprintf(stderr, "%s: aio_read at %lld differs from pread, or moved "
			"the position\n", name, (long long)off);
	}
	printf("%saio_read checksum %lu (pread %lu)\n", volatile_data ? "~" : "",
	       a.ret > 0 ? checksum(got, (size_t)a.ret) : 0,
	       pr > 0 ? checksum(want, (size_t)pr) : 0);
}

static void write_at(const char *name, int fd, off_t off)
{
	unsigned char data[LEN];
	fill_pattern(data, sizeof data, 5, 0);
	errno = 0;
	ssize_t pw = pwrite(fd, data, LEN, off);
	int perr = pw < 0 ? errno : 0;
	struct outcome a = aio_rw(fd, data, LEN, off, LIO_WRITE);
	printf("%s: pwrite %zu at %lld -> %zd %s; aio_write -> %zd %s; "
	       "position %lld before, %lld after\n",
	       name, (size_t)LEN, (long long)off, pw, errname(perr), a.ret, errname(a.err),
	       (long long)a.start, (long long)a.after);
	if (a.ret != pw || a.err != perr || a.after != a.start) {
		wrong = 1;
		fprintf(stderr, "%s: aio_write at %lld differs from pwrite, or "
			"moved the position\n", name, (long long)off);
	}
}

static void console(void)
{
	static const char *const names[] = { "/dev/vcsa", "/dev/vcsa1", "/dev/vcs1",
					     "/dev/vcs" };
	char why[256] = "";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int fd = open(names[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(why + strlen(why), sizeof why - strlen(why),
				 "%s%s: %s", why[0] ? ", " : "", names[i],
				 errname(errno));
			continue;
		}
		char b[LEN];
		if (pread(fd, b, sizeof b, 4) != (ssize_t)sizeof b) {
			snprintf(why + strlen(why), sizeof why - strlen(why),
				 "%s%s: pread %s", why[0] ? ", " : "", names[i],
				 errname(errno));
			close(fd);
			continue;
		}
		printf("~console device: %s\n", names[i]);
		read_at("console", fd, 4, 1);
		read_at("console", fd, 64, 1);
		close(fd);
		return;
	}
	printf("console: no /dev/vcs* device readable here\n");
	printf("~why: %s\n", why);
}

static void file(const char *name, int flags, int do_write)
{
	int fd = open(name, flags | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: absent (%s)\n", name, errname(errno));
		return;
	}
	read_at(name, fd, 4, 0);
	read_at(name, fd, 4096, 0);
	if (do_write) {
		write_at(name, fd, 4);
		write_at(name, fd, 1 << 20);
	}
	close(fd);
}

/* Through fd, /proc/self/mem: aio_read into `to` at the address `from`
 * (LIO_READ), or aio_write of `from` at the address `to` (LIO_WRITE), LEN
 * bytes; either way `to` must then hold `from`'s bytes. */
static void mem_copy(int fd, int op, unsigned char *to, unsigned char *from)
{
	int reading = op == LIO_READ;
	struct outcome a = aio_rw(fd, reading ? to : from, LEN,
				  (off_t)(uintptr_t)(reading ? from : to), op);
	int same = a.ret == LEN && memcmp(to, from, LEN) == 0;
	printf("/proc/self/mem: aio_%s %d at a buffer's address -> %zd %s, data %s; "
	       "position %lld before, %lld after\n", reading ? "read" : "write", LEN,
	       a.ret, errname(a.err), same ? "ok" : "WRONG", (long long)a.start,
	       (long long)a.after);
	if (!same || a.after != a.start) {
		wrong = 1;
		fprintf(stderr, "/proc/self/mem: aio_%s did not %s at aio_offset\n",
			reading ? "read" : "write", reading ? "read" : "write");
	}
}

/* /proc/self/mem: the offset is an address in this process. */
static void own_memory(void)
{
	static unsigned char source[LEN], target[LEN], got[LEN];
	fill_pattern(source, sizeof source, 7, 0);
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("/proc/self/mem: cannot open (%s)\n", errname(errno));
		return;
	}
	mem_copy(fd, LIO_READ, got, source);
	mem_copy(fd, LIO_WRITE, target, source);
	close(fd);
}

int main(void)
{
	console();
	file("/dev/zero", O_RDWR, 1);
	file("/dev/null", O_RDWR, 1);
	file("/dev/full", O_RDWR, 1);
	file("/proc/version", O_RDONLY, 0);
	file("/proc/filesystems", O_RDONLY, 0);
	file("/sys/class/net/lo/address", O_RDONLY, 0);
	own_memory();
	return wrong;
}
