//! The C library's names paio defines besides the AIO ones, each handed on
//! unchanged to the C library's (the next definition in the lookup order),
//! then telling paio what changed:
//!
//! - `pthread_cancel`: `aio_suspend` is a cancellation point (POSIX; glibc
//!   acts on a cancel there), but a thread paio put to sleep waits in a
//!   plain `futex` or `ppoll`, which the C library's deferred cancellation
//!   never interrupts (it signals only threads inside its own cancellable
//!   wrappers). Every sleeper is woken, and the cancelled one acts on it
//!   where paio holds nothing ([`crate::submit::suspend`]).
//! - `setrlimit`, `prlimit` (and their `*64` names): a write at or past
//!   `RLIMIT_FSIZE` raises `SIGXFSZ` in the writing thread; paio writes in
//!   the program's thread only below the limit, which it reads again here
//!   when the program changes it ([`crate::sys::refresh_file_size_limit`]);
//!   and a change of `RLIMIT_NOFILE` waits while paio lifts the soft limit
//!   for a moment to place its own descriptors above it
//!   ([`crate::sys::dup_above_limit`]).
//! - `fcntl`, `fcntl64` (`F_SETLK`, `F_SETLKW`), `lockf`, `lockf64`
//!   (`F_LOCK`, `F_TLOCK`): a POSIX record lock is dropped when the process
//!   closes any descriptor of its file, paio's duplicates included; once the
//!   program takes one, paio stops closing them
//!   ([`crate::engine::record_locks`]).
//! - `ioctl` (`UFFDIO_REGISTER`, `UFFDIO_UNREGISTER`): a buffer in memory
//!   whose faults the program serves with `userfaultfd` is touched only by
//!   a worker ([`crate::submit::user_faults`]).

use once_cell::sync::OnceCell;

use crate::engine;
use crate::sys;

/// The next definition of `name` after this object's: the C library's. In
/// an object loaded by `dlopen` after the C library, `RTLD_NEXT` finds
/// nothing: the C library's own then, asked by its name.
fn next(name: &std::ffi::CStr) -> *mut libc::c_void {
    // SAFETY: NUL-terminated names; RTLD_NEXT skips this object; the C
    // library is loaded in every process this library runs in.
    unsafe {
        let p = libc::dlsym(libc::RTLD_NEXT, name.as_ptr());
        if !p.is_null() {
            return p;
        }
        let libc_handle = libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
        if libc_handle.is_null() {
            return p;
        }
        libc::dlsym(libc_handle, name.as_ptr())
    }
}

/// The next definition of a symbol, looked up once, as a function pointer
/// of type `$ty` (`None` when there is none).
macro_rules! next_fn {
    ($name:literal : $ty:ty) => {{
        static NEXT: OnceCell<Option<$ty>> = OnceCell::new();
        *NEXT.get_or_init(|| {
            let p = next($name);
            // SAFETY: the C library's symbol of that name has this type.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, $ty>(p) })
        })
    }};
}

/// [`pthread_cancel`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/pthread_cancel.html),
/// exactly the C library's, then a wake-up of every thread asleep in
/// `aio_suspend` (each looks whether the cancel is its own).
///
/// # Safety
/// As the C library's: `th` names a thread of this process that has not
/// been joined or detached-and-exited.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn pthread_cancel(th: libc::pthread_t) -> libc::c_int {
    let Some(cancel) =
        next_fn!(c"pthread_cancel": unsafe extern "C" fn(libc::pthread_t) -> libc::c_int)
    else {
        return libc::ENOSYS;
    };
    // SAFETY: forwarded under the caller's contract.
    let r = unsafe { cancel(th) };
    if r == 0 {
        if let Some(e) = engine::try_get() {
            e.wake_for_cancel();
        }
    }
    r
}

type SetRlimit = unsafe extern "C" fn(libc::c_int, *const libc::rlimit) -> libc::c_int;
type Prlimit = unsafe extern "C" fn(
    libc::pid_t,
    libc::c_int,
    *const libc::rlimit,
    *mut libc::rlimit,
) -> libc::c_int;

/// A change of `RLIMIT_NOFILE` waits while paio has lifted it for a moment
/// (`sys::dup_above_limit`), so that paio's putting it back cannot undo the
/// program's change. Bounded: a signal handler that changes the limit while
/// its own thread was inside that moment goes on after 10 ms.
fn nofile_window(resource: libc::c_int) -> Option<sys::NofileWindow> {
    (resource == libc::RLIMIT_NOFILE as libc::c_int)
        .then(|| sys::nofile_window(Some(std::time::Duration::from_millis(10))))
        .flatten()
}

/// After a successful change of `resource` in this process.
fn changed(resource: libc::c_int) {
    if resource == libc::RLIMIT_FSIZE as libc::c_int {
        sys::refresh_file_size_limit();
    }
    if resource == libc::RLIMIT_NOFILE as libc::c_int {
        sys::refresh_nofile_limit();
    }
}

export! {
    /// The C library's `setrlimit`; see the module.
    ///
    /// # Safety
    /// As the C library's: `rlim` is readable.
    fn setrlimit / setrlimit64 (resource: libc::c_int, rlim: *const libc::rlimit) -> libc::c_int {
        let next = next_fn!(c"setrlimit": SetRlimit);
        let _window = nofile_window(resource);
        let r = match next {
            // SAFETY: forwarded under the caller's contract.
            Some(f) => unsafe { f(resource, rlim) },
            // A static program (no `dlsym`): the system call the C library
            // makes, on this process.
            // SAFETY: as above.
            None => unsafe { libc::syscall(libc::SYS_prlimit64, 0, resource as libc::c_long, rlim, std::ptr::null_mut::<libc::rlimit>()) as libc::c_int },
        };
        if r == 0 {
            changed(resource);
        }
        r
    }
}

export! {
    /// The C library's `prlimit`; see the module.
    ///
    /// # Safety
    /// As the C library's: `new` is NULL or readable, `old` NULL or writable.
    fn prlimit / prlimit64 (pid: libc::pid_t, resource: libc::c_int, new: *const libc::rlimit, old: *mut libc::rlimit) -> libc::c_int {
        let next = next_fn!(c"prlimit": Prlimit);
        let _window = nofile_window(resource);
        let r = match next {
            // SAFETY: forwarded under the caller's contract.
            Some(f) => unsafe { f(pid, resource, new, old) },
            // A static program: the system call the C library makes.
            // SAFETY: as above.
            None => unsafe { libc::syscall(libc::SYS_prlimit64, pid as libc::c_long, resource as libc::c_long, new, old) as libc::c_int },
        };
        if r == 0 && !new.is_null() && (pid == 0 || pid == sys::pid()) {
            changed(resource);
        }
        r
    }
}

/// `fcntl` as the C library defines it is variadic; its one optional
/// argument (an integer or a pointer) arrives where a third integer argument
/// would, on the ABIs paio supports (x86_64, aarch64), and is passed on as
/// it came, whatever `cmd` is.
type Fcntl = unsafe extern "C-unwind" fn(libc::c_int, libc::c_int, usize) -> libc::c_int;
type Lockf = unsafe extern "C-unwind" fn(libc::c_int, libc::c_int, libc::off_t) -> libc::c_int;

/// `fcntl` as the system call, for a static program (linked with
/// `libpaio.a`: paio's definition replaces the C library's, and `dlsym`
/// finds nothing).
///
/// # Safety
/// As `fcntl(2)`, for `cmd`.
unsafe fn raw_fcntl(fd: libc::c_int, cmd: libc::c_int, arg: usize) -> libc::c_int {
    if cmd == libc::F_GETOWN {
        // As the C library answers it: a process group's owner as its
        // negative id, which the bare system call's return cannot carry
        // (it reads as an error).
        #[repr(C)]
        struct OwnerEx {
            kind: libc::c_int,
            pid: libc::pid_t,
        }
        const F_GETOWN_EX: libc::c_long = 16;
        const F_OWNER_PGRP: libc::c_int = 2;
        let mut owner = OwnerEx { kind: 0, pid: 0 };
        // SAFETY: a writable `struct f_owner_ex`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fcntl,
                fd as libc::c_long,
                F_GETOWN_EX,
                std::ptr::addr_of_mut!(owner),
            )
        };
        if r < 0 {
            return -1;
        }
        return if owner.kind == F_OWNER_PGRP {
            -owner.pid
        } else {
            owner.pid
        };
    }
    sys::fcntl_int(fd, cmd, arg).unwrap_or_else(|e| {
        crate::capi::set_errno(e);
        -1
    })
}

/// The C library's `fcntl`, told of a record lock first; see the module.
/// `extern "C-unwind"`: `F_SETLKW` is a cancellation point, and a cancel
/// unwinds through here (nothing held).
///
/// # Safety
/// As the C library's, for `cmd`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C-unwind" fn fcntl(
    fd: libc::c_int,
    cmd: libc::c_int,
    arg: usize,
) -> libc::c_int {
    if cmd == libc::F_SETLK || cmd == libc::F_SETLKW {
        crate::engine::record_locks::before_lock();
    }
    match next_fcntl() {
        // SAFETY: forwarded under the caller's contract.
        Some(f) => unsafe { f(fd, cmd, arg) },
        // SAFETY: as above.
        None => unsafe { raw_fcntl(fd, cmd, arg) },
    }
}

/// `fcntl64`: the same function as `fcntl` on 64-bit Linux (the C
/// library's two names are one).
///
/// # Safety
/// As for `fcntl`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C-unwind" fn fcntl64(
    fd: libc::c_int,
    cmd: libc::c_int,
    arg: usize,
) -> libc::c_int {
    // SAFETY: forwarded under the caller's contract.
    unsafe { fcntl(fd, cmd, arg) }
}

/// `lockf` as the C library makes it of `fcntl`, for a static program.
fn lockf_by_fcntl(fd: libc::c_int, cmd: libc::c_int, len: libc::off_t) -> libc::c_int {
    // One lock over `len` bytes from the file position, of `kind`, passed
    // to the system call as `fcntl(fd, command, &lock)`; the lock as it
    // came back.
    let call = |command: libc::c_int, kind: libc::c_int| {
        let mut fl = libc::flock {
            l_type: kind as libc::c_short,
            l_whence: libc::SEEK_CUR as libc::c_short,
            l_start: 0,
            l_len: len,
            l_pid: 0,
        };
        // SAFETY: a valid `struct flock`, read (and, by `F_GETLK`, written)
        // by the kernel during the call.
        let r = unsafe { raw_fcntl(fd, command, std::ptr::addr_of_mut!(fl) as usize) };
        (r, fl)
    };
    match cmd {
        libc::F_TEST => {
            let (r, fl) = call(libc::F_GETLK, libc::F_RDLCK);
            if r < 0 {
                return -1;
            }
            if fl.l_type == libc::F_UNLCK as libc::c_short || fl.l_pid == sys::pid() {
                return 0;
            }
            crate::capi::set_errno(libc::EACCES);
            -1
        }
        libc::F_ULOCK => call(libc::F_SETLK, libc::F_UNLCK).0,
        libc::F_LOCK => call(libc::F_SETLKW, libc::F_WRLCK).0,
        libc::F_TLOCK => call(libc::F_SETLK, libc::F_WRLCK).0,
        _ => {
            crate::capi::set_errno(libc::EINVAL);
            -1
        }
    }
}

/// The C library's `lockf`, told of a lock first; see the module.
/// `extern "C-unwind"`: `F_LOCK` is a cancellation point.
///
/// # Safety
/// As the C library's.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C-unwind" fn lockf(
    fd: libc::c_int,
    cmd: libc::c_int,
    len: libc::off_t,
) -> libc::c_int {
    if cmd == libc::F_LOCK || cmd == libc::F_TLOCK {
        crate::engine::record_locks::before_lock();
    }
    match next_lockf() {
        // SAFETY: forwarded under the caller's contract.
        Some(f) => unsafe { f(fd, cmd, len) },
        None => lockf_by_fcntl(fd, cmd, len),
    }
}

/// `lockf64`: the same function as `lockf` on 64-bit Linux.
///
/// # Safety
/// As for `lockf`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C-unwind" fn lockf64(
    fd: libc::c_int,
    cmd: libc::c_int,
    len: libc::off_t,
) -> libc::c_int {
    // SAFETY: forwarded under the caller's contract.
    unsafe { lockf(fd, cmd, len) }
}

/// `ioctl` as the C library defines it is variadic, its one optional
/// argument passed on as it came (see [`Fcntl`]).
type Ioctl = unsafe extern "C-unwind" fn(libc::c_int, libc::c_ulong, usize) -> libc::c_int;

/// `_IOWR(0xAA, 0x00, struct uffdio_register)` and
/// `_IOR(0xAA, 0x01, struct uffdio_range)` of `<linux/userfaultfd.h>`.
const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
const UFFDIO_UNREGISTER: libc::c_ulong = 0x8010_aa01;

/// The C library's `ioctl` (in a static program, the system call); see the
/// module.
///
/// # Safety
/// As the C library's, for `request`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C-unwind" fn ioctl(
    fd: libc::c_int,
    request: libc::c_ulong,
    arg: usize,
) -> libc::c_int {
    let next = next_ioctl();
    let r = match next {
        // SAFETY: forwarded under the caller's contract.
        Some(f) => unsafe { f(fd, request, arg) },
        // SAFETY: as above.
        None => unsafe {
            libc::syscall(libc::SYS_ioctl, fd as libc::c_long, request, arg) as libc::c_int
        },
    };
    // The kernel takes the request as 32 bits (a caller may have widened it
    // with its sign).
    let request = request as u32 as libc::c_ulong;
    if r >= 0 && (request == UFFDIO_REGISTER || request == UFFDIO_UNREGISTER) {
        // SAFETY: the kernel just read a `struct uffdio_range` (the start of
        // a `struct uffdio_register`) there.
        let (start, len) = unsafe {
            let range = arg as *const u64;
            (*range as usize, *range.add(1) as usize)
        };
        if request == UFFDIO_REGISTER {
            crate::submit::user_faults::registered(start, len);
        } else {
            crate::submit::user_faults::unregistered(start, len);
        }
    }
    r
}

// The C library's definitions of the names above that a signal handler may
// call (`fcntl` is async-signal-safe), looked up when the library is
// loaded: a first lookup inside a handler that interrupted the same lookup
// in its thread would wait for itself.
fn next_fcntl() -> Option<Fcntl> {
    next_fn!(c"fcntl": Fcntl)
}

fn next_lockf() -> Option<Lockf> {
    next_fn!(c"lockf": Lockf)
}

fn next_ioctl() -> Option<Ioctl> {
    next_fn!(c"ioctl": Ioctl)
}

#[cfg_attr(test, allow(dead_code))] // run by the dynamic linker only
extern "C" fn look_up_at_load() {
    let _ = (next_fcntl(), next_lockf(), next_ioctl());
}

/// Run by the dynamic linker when the library is loaded (no AIO state is
/// made: only the lookups).
#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static LOOK_UP_AT_LOAD: extern "C" fn() = look_up_at_load;
