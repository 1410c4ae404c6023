//! The io_uring ABI (`<linux/io_uring.h>`): the submission entry `Sqe`, the
//! completion entry `Cqe`, the setup parameters, the raw syscalls, and
//! [`Uring`], the one type that owns a ring's file descriptor and the three
//! regions the kernel maps for it. No policy here: what to submit, when to
//! wait and what a completion means belong to the caller.
//!
//! # The two queues
//! The submission queue (SQ) has one producer, the process, and one
//! consumer, the kernel: the process writes an `Sqe` into a free slot,
//! writes the slot's index into the index array, then publishes the SQ tail
//! (release); the kernel takes entries between its head and that tail during
//! `io_uring_enter` and moves the SQ head on (the process reads it with
//! acquire before it reuses a slot). The completion queue (CQ) is the
//! mirror: the kernel writes a `Cqe` and publishes the CQ tail, the process
//! reads it (acquire on the tail) and gives the slot back by storing the CQ
//! head (release).
//!
//! The kernel is one side of each queue; the process must be exactly one
//! other. So [`Uring::push`] (the SQ producer) and [`Uring::pop`] (the CQ
//! consumer) are `unsafe fn`: callers serialise pushes among themselves and
//! pops among themselves. A push and a pop may run at the same time on
//! different threads, since they touch disjoint words. `enter`, `submit`,
//! `wait` and the counters are safe from any thread: the kernel serialises
//! concurrent `io_uring_enter` calls itself and only ever reads entries that
//! were published.
//!
//! # When the CQ is full
//! Each request in flight will post one `Cqe`. If more completions arrive
//! than the CQ has free slots, a kernel with `IORING_FEAT_NODROP` (5.5 and
//! later) keeps the extras on an internal overflow list, sets
//! `IORING_SQ_CQ_OVERFLOW` in the SQ flags, and moves them into the CQ when
//! room is made and the ring is entered with `IORING_ENTER_GETEVENTS` (for
//! example by [`Uring::wait`]); while it holds them, `io_uring_enter` may
//! refuse new submissions with `EBUSY` (older kernels do; newer ones
//! accept). The caller must then pop completions before submitting more.
//! Only if the kernel cannot allocate the overflow entry is a completion
//! lost, and [`Uring::cq_overflow`] counts it. A kernel without NODROP drops
//! the extras silently, so [`Uring::new`] refuses such kernels: a caller
//! that waits for a completion must never wait for one that was thrown away.
//! Keeping the requests in flight at or below [`Uring::cq_entries`] avoids
//! overflow altogether.
//!
//! # Offsets
//! For `READ`, `WRITE`, `READV` and `WRITEV` the kernel reads an offset of
//! `-1` (`u64::MAX`) as "the file's current position, then move it", like
//! `read(2)`; the builders below pass any offset through untouched.

use std::sync::atomic::{AtomicU32, Ordering};

pub const IORING_OP_NOP: u8 = 0;
pub const IORING_OP_READV: u8 = 1;
pub const IORING_OP_WRITEV: u8 = 2;
pub const IORING_OP_FSYNC: u8 = 3;
/// Readiness of a file: `rw_flags` holds the `poll(2)` events (`poll32_events`).
pub const IORING_OP_POLL_ADD: u8 = 6;
pub const IORING_OP_READ: u8 = 22;
pub const IORING_OP_WRITE: u8 = 23;

/// `Sqe::rw_flags` of `IORING_OP_FSYNC`: `fdatasync` rather than `fsync`.
pub const IORING_FSYNC_DATASYNC: u32 = 1 << 0;

/// `io_uring_enter` flag: wait for `min_complete` completions.
pub const IORING_ENTER_GETEVENTS: u32 = 1 << 0;

/// `io_uring_setup` flag: clamp a too-large entry count to the kernel's
/// maximum rather than fail with `EINVAL`.
pub const IORING_SETUP_CLAMP: u32 = 1 << 4;

/// `IoUringParams::features`: the SQ and CQ rings share one mapping.
pub const IORING_FEAT_SINGLE_MMAP: u32 = 1 << 0;
/// `IoUringParams::features`: completions beyond the CQ's room are kept,
/// not dropped (see the module's "When the CQ is full").
pub const IORING_FEAT_NODROP: u32 = 1 << 1;

/// SQ flags word: the kernel holds completions the CQ had no room for.
pub const IORING_SQ_CQ_OVERFLOW: u32 = 1 << 1;

/// `mmap` offsets on the ring fd that select which region is mapped.
pub const IORING_OFF_SQ_RING: u64 = 0;
pub const IORING_OFF_CQ_RING: u64 = 0x800_0000;
pub const IORING_OFF_SQES: u64 = 0x1000_0000;

/// `struct io_uring_sqe`, with the unions reduced to the member this crate
/// uses (all of each union is the same size, so the layout is the kernel's).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Sqe {
    pub opcode: u8,
    /// `IOSQE_*` flags.
    pub flags: u8,
    pub ioprio: u16,
    pub fd: i32,
    /// File offset (union with `addr2`).
    pub off: u64,
    /// Buffer or iovec array address (union with `splice_off_in`).
    pub addr: u64,
    /// Byte count, or iovec count for the vectored opcodes.
    pub len: u32,
    /// Per-opcode flags: `RWF_*` for reads and writes, `IORING_FSYNC_*`
    /// for fsync (a union of `u32`s in the header).
    pub rw_flags: u32,
    /// Returned untouched in the `Cqe`.
    pub user_data: u64,
    /// Registered buffer index (union with `buf_group`).
    pub buf_index: u16,
    pub personality: u16,
    /// Union with `file_index`.
    pub splice_fd_in: i32,
    pub addr3: u64,
    pub pad: u64,
}

/// `struct io_uring_cqe` (without `IORING_SETUP_CQE32`, which is not used).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    /// What the syscall would have returned, or `-errno`.
    pub res: i32,
    /// `IORING_CQE_F_*`.
    pub flags: u32,
}

/// `struct io_sqring_offsets`: where each word of the SQ ring lies in its
/// mapping.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct SqRingOffsets {
    pub head: u32,
    pub tail: u32,
    pub ring_mask: u32,
    pub ring_entries: u32,
    pub flags: u32,
    pub dropped: u32,
    pub array: u32,
    pub resv1: u32,
    pub user_addr: u64,
}

/// `struct io_cqring_offsets`: where each word of the CQ ring lies in its
/// mapping.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct CqRingOffsets {
    pub head: u32,
    pub tail: u32,
    pub ring_mask: u32,
    pub ring_entries: u32,
    pub overflow: u32,
    pub cqes: u32,
    pub flags: u32,
    pub resv1: u32,
    pub user_addr: u64,
}

/// `struct io_uring_params`: `flags` (and the `sq_thread_*`, `cq_entries`
/// and `wq_fd` they enable) in, everything else out.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct IoUringParams {
    pub sq_entries: u32,
    pub cq_entries: u32,
    pub flags: u32,
    pub sq_thread_cpu: u32,
    pub sq_thread_idle: u32,
    pub features: u32,
    pub wq_fd: u32,
    pub resv: [u32; 3],
    pub sq_off: SqRingOffsets,
    pub cq_off: CqRingOffsets,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Sqe>() == 64);
    assert!(offset_of!(Sqe, fd) == 4);
    assert!(offset_of!(Sqe, off) == 8);
    assert!(offset_of!(Sqe, addr) == 16);
    assert!(offset_of!(Sqe, len) == 24);
    assert!(offset_of!(Sqe, rw_flags) == 28);
    assert!(offset_of!(Sqe, user_data) == 32);
    assert!(offset_of!(Sqe, buf_index) == 40);
    assert!(offset_of!(Sqe, splice_fd_in) == 44);
    assert!(offset_of!(Sqe, addr3) == 48);
    assert!(size_of::<Cqe>() == 16);
    assert!(offset_of!(Cqe, res) == 8);
    assert!(size_of::<SqRingOffsets>() == 40);
    assert!(size_of::<CqRingOffsets>() == 40);
    assert!(size_of::<IoUringParams>() == 120);
    assert!(offset_of!(IoUringParams, sq_off) == 40);
    assert!(offset_of!(IoUringParams, cq_off) == 80);
};

/// Building an `Sqe` only records addresses and is safe; handing it to the
/// kernel ([`Uring::push`]) is where the memory it names must be kept valid.
impl Sqe {
    fn rw(opcode: u8, fd: i32, addr: u64, len: u32, off: u64, user_data: u64) -> Sqe {
        Sqe {
            opcode,
            fd,
            addr,
            len,
            off,
            user_data,
            ..Sqe::default()
        }
    }

    /// A request that does nothing and completes with `res = 0`.
    pub fn nop(user_data: u64) -> Sqe {
        Sqe {
            opcode: IORING_OP_NOP,
            user_data,
            ..Sqe::default()
        }
    }

    /// `preadv(fd, iov, iovcnt, off)`; `off = u64::MAX` reads at the file
    /// position.
    pub fn readv(fd: i32, iov: *const libc::iovec, iovcnt: u32, off: u64, user_data: u64) -> Sqe {
        Sqe::rw(IORING_OP_READV, fd, iov as u64, iovcnt, off, user_data)
    }

    /// `pwritev(fd, iov, iovcnt, off)`; `off = u64::MAX` writes at the file
    /// position.
    pub fn writev(fd: i32, iov: *const libc::iovec, iovcnt: u32, off: u64, user_data: u64) -> Sqe {
        Sqe::rw(IORING_OP_WRITEV, fd, iov as u64, iovcnt, off, user_data)
    }

    /// `pread(fd, buf, len, off)`; `off = u64::MAX` reads at the file
    /// position.
    pub fn read(fd: i32, buf: *mut u8, len: u32, off: u64, user_data: u64) -> Sqe {
        Sqe::rw(IORING_OP_READ, fd, buf as u64, len, off, user_data)
    }

    /// `pwrite(fd, buf, len, off)`; `off = u64::MAX` writes at the file
    /// position.
    pub fn write(fd: i32, buf: *const u8, len: u32, off: u64, user_data: u64) -> Sqe {
        Sqe::rw(IORING_OP_WRITE, fd, buf as u64, len, off, user_data)
    }

    /// `fsync(fd)`, or `fdatasync(fd)` when `datasync`; the whole file
    /// (`off` and `len` 0).
    pub fn fsync(fd: i32, datasync: bool, user_data: u64) -> Sqe {
        Sqe {
            opcode: IORING_OP_FSYNC,
            fd,
            rw_flags: if datasync { IORING_FSYNC_DATASYNC } else { 0 },
            user_data,
            ..Sqe::default()
        }
    }
}

/// Every integer passed through the variadic `syscall()` is widened to a
/// full register, as the kernel reads it.
type L = libc::c_long;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `io_uring_setup(entries, params)`: a new ring's fd. Prefer [`Uring::new`],
/// which also maps it.
pub fn io_uring_setup(entries: u32, params: &mut IoUringParams) -> Result<i32, i32> {
    // SAFETY: the kernel reads and writes `params`, a live, exclusively
    // borrowed struct of the layout it expects (asserted above).
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_setup,
            entries as L,
            params as *mut IoUringParams,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as i32)
    }
}

/// The ring's file descriptor, closed on drop.
struct RingFd(i32);

impl Drop for RingFd {
    fn drop(&mut self) {
        // SAFETY: this value owns the fd (it came from io_uring_setup and
        // was never handed out for closing).
        unsafe { libc::close(self.0) };
    }
}

/// One shared mapping of the ring fd, unmapped on drop.
struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(fd: i32, len: usize, offset: u64) -> Result<Mapping, i32> {
        // SAFETY: a fresh mapping chosen by the kernel (no address given),
        // so no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                offset as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Mapping {
            base: base as *mut u8,
            len,
        })
    }

    /// The address of `count` values of `T` at byte `offset`, checked to lie
    /// inside the mapping and be aligned: the offsets come from the kernel,
    /// and a wrong one must fail `Uring::new`, not corrupt memory later.
    fn at<T>(&self, offset: u32, count: u32) -> Result<*mut T, i32> {
        let start = offset as usize;
        let end = (count as usize)
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|n| n.checked_add(start));
        match end {
            Some(end) if end <= self.len && start % std::mem::align_of::<T>() == 0 => {
                // SAFETY: start <= end <= len: inside the mapping (the base
                // is page-aligned, so the check above aligns the result).
                Ok(unsafe { self.base.add(start) } as *mut T)
            }
            _ => Err(libc::EINVAL),
        }
    }

    /// A 32-bit word of a ring that the kernel and the process share.
    fn word(&self, offset: u32) -> Result<*const AtomicU32, i32> {
        self.at::<AtomicU32>(offset, 1)
            .map(|p| p as *const AtomicU32)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, and nothing
        // derived from them outlives the `Uring` that owns this mapping.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}

/// An io_uring instance: the fd, the SQ and CQ rings, and the SQE array,
/// unmapped and closed on drop.
///
/// The ring's shared words are `std` atomics on mapped memory, never the
/// `crate::sync` facade: loom cannot model the kernel's side.
pub struct Uring {
    // Into `sq_map`: the kernel moves `sq_head`, the producer `sq_tail`.
    sq_head: *const AtomicU32,
    sq_tail: *const AtomicU32,
    sq_flags: *const AtomicU32,
    /// The index array: slot `i` of the SQ ring names SQE `sq_array[i]`.
    sq_array: *mut u32,
    /// Into `sqe_map`; `sq_entries` of them.
    sqes: *mut Sqe,
    sq_mask: u32,
    sq_entries: u32,
    // Into the CQ mapping: the kernel moves `cq_tail`, the consumer
    // `cq_head`.
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_overflow: *const AtomicU32,
    /// `cq_entries` of them.
    cqes: *const Cqe,
    cq_mask: u32,
    cq_entries: u32,
    features: u32,
    // Dropped in this order, after every pointer above is dead: the
    // mappings, then the fd (a mapping holds its own reference to the ring,
    // so the order is for tidiness, not correctness).
    _sqe_map: Mapping,
    /// `None` when the CQ ring shares `sq_map` (`IORING_FEAT_SINGLE_MMAP`).
    _cq_map: Option<Mapping>,
    _sq_map: Mapping,
    fd: RingFd,
}

// SAFETY: the pointers name mappings this value owns until drop. Words
// shared with the kernel are only accessed atomically. The SQE slots and
// index array are written only in `push`, the CQE slots read only in `pop`;
// both are `unsafe fn` whose callers guarantee one producer at a time and one
// consumer at a time (e.g. a mutex around pushes, one completion thread),
// which is all that moving or sharing the ring across threads requires.
unsafe impl Send for Uring {}
unsafe impl Sync for Uring {}

impl Uring {
    /// Set up a ring of at least `entries` SQ slots (rounded up to a power of
    /// two, clamped to the kernel's maximum; the CQ gets twice as many) and
    /// map it. `Err(errno)` on any failure, with nothing left open or mapped:
    /// `EPERM`/`ENOSYS` where io_uring is disabled or filtered, `EINVAL` for
    /// 0 entries, `ENOMEM`, `EMFILE`, and `EOPNOTSUPP` on kernels without
    /// `IORING_FEAT_NODROP` (before 5.5), which may drop completions.
    pub fn new(entries: u32) -> Result<Uring, i32> {
        let mut p = IoUringParams {
            flags: IORING_SETUP_CLAMP,
            ..IoUringParams::default()
        };
        // Owned from here on: every early return below closes it.
        let fd = RingFd(io_uring_setup(entries, &mut p)?);
        set_cloexec(fd.0)?;
        if p.features & IORING_FEAT_NODROP == 0 {
            return Err(libc::EOPNOTSUPP);
        }
        // Indices are `position & mask`; a power of two makes every index
        // land inside the arrays mapped below.
        if !p.sq_entries.is_power_of_two() || !p.cq_entries.is_power_of_two() {
            return Err(libc::EINVAL);
        }

        let sq_len = p.sq_off.array as usize + p.sq_entries as usize * 4;
        let cq_len = p.cq_off.cqes as usize + p.cq_entries as usize * std::mem::size_of::<Cqe>();
        let single = p.features & IORING_FEAT_SINGLE_MMAP != 0;
        let sq_map = Mapping::new(
            fd.0,
            if single { sq_len.max(cq_len) } else { sq_len },
            IORING_OFF_SQ_RING,
        )?;
        let cq_map = if single {
            None
        } else {
            Some(Mapping::new(fd.0, cq_len, IORING_OFF_CQ_RING)?)
        };
        let sqe_map = Mapping::new(
            fd.0,
            p.sq_entries as usize * std::mem::size_of::<Sqe>(),
            IORING_OFF_SQES,
        )?;
        let cq = cq_map.as_ref().unwrap_or(&sq_map);

        let sq_mask = sq_map.word(p.sq_off.ring_mask)?;
        let cq_mask = cq.word(p.cq_off.ring_mask)?;
        // SAFETY: both words were just checked to lie in live mappings.
        let (sq_mask, cq_mask) = unsafe {
            (
                (*sq_mask).load(Ordering::Relaxed),
                (*cq_mask).load(Ordering::Relaxed),
            )
        };
        if sq_mask != p.sq_entries - 1 || cq_mask != p.cq_entries - 1 {
            return Err(libc::EINVAL);
        }

        Ok(Uring {
            sq_head: sq_map.word(p.sq_off.head)?,
            sq_tail: sq_map.word(p.sq_off.tail)?,
            sq_flags: sq_map.word(p.sq_off.flags)?,
            sq_array: sq_map.at(p.sq_off.array, p.sq_entries)?,
            sqes: sqe_map.at(0, p.sq_entries)?,
            sq_mask,
            sq_entries: p.sq_entries,
            cq_head: cq.word(p.cq_off.head)?,
            cq_tail: cq.word(p.cq_off.tail)?,
            cq_overflow: cq.word(p.cq_off.overflow)?,
            cqes: cq.at::<Cqe>(p.cq_off.cqes, p.cq_entries)?,
            cq_mask,
            cq_entries: p.cq_entries,
            features: p.features,
            _sqe_map: sqe_map,
            _cq_map: cq_map,
            _sq_map: sq_map,
            fd,
        })
    }

    /// Move the ring's descriptor out of the program's way (close-on-exec,
    /// above its soft descriptor limit, else at or above `min`:
    /// [`crate::sys::dup_aside`]), closing the old one: the mappings stay
    /// valid, since they hold the ring, not the number. The numbers a
    /// program expects from `open` stay free. Where no such number is free,
    /// the ring keeps the one it has.
    pub fn move_fd_up(&mut self, min: i32) {
        if let Ok(aside) = crate::sys::dup_aside(self.fd.0, min) {
            // The old number is closed by the replaced value's drop.
            self.fd = RingFd(aside);
        }
    }

    pub fn fd(&self) -> i32 {
        self.fd.0
    }

    /// Slots in the SQ (a power of two).
    pub fn sq_entries(&self) -> u32 {
        self.sq_entries
    }

    /// Slots in the CQ (a power of two).
    pub fn cq_entries(&self) -> u32 {
        self.cq_entries
    }

    /// The kernel's `IORING_FEAT_*` bits.
    pub fn features(&self) -> u32 {
        self.features
    }

    fn word(&self, w: *const AtomicU32) -> &AtomicU32 {
        // SAFETY: every word pointer was checked in `new` to lie, aligned,
        // in a mapping that lives as long as `self`.
        unsafe { &*w }
    }

    /// Write `sqe` into a free slot and publish it to the kernel; `false`
    /// when the SQ is full (submit, then push again). The kernel sees it at
    /// the next `enter` with `to_submit` covering it (e.g. [`Uring::submit`]).
    ///
    /// # Safety
    /// - One producer at a time: no other `push` on this ring runs
    ///   concurrently (hold a lock around pushes); `pop`, `enter`, `submit`
    ///   and `wait` may run concurrently on other threads.
    /// - Every address in `sqe` (buffer, iovec array and the buffers it
    ///   names) stays valid, and is not otherwise accessed where the kernel
    ///   writes, until this request's `Cqe` has been popped: the kernel may
    ///   read the iovec array or buffers at any time until then.
    /// - `sqe.fd` may be any value: a bad one completes with `-EBADF`.
    pub unsafe fn push(&self, sqe: &Sqe) -> bool {
        // Relaxed: only this producer writes the tail. Acquire on the head:
        // the kernel is done reading the slots below it, so they may be
        // overwritten.
        let tail = self.word(self.sq_tail).load(Ordering::Relaxed);
        let head = self.word(self.sq_head).load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= self.sq_entries {
            return false;
        }
        let idx = tail & self.sq_mask;
        // SAFETY: idx <= sq_mask < sq_entries, the length of both arrays;
        // the slot lies outside [head, tail), which the kernel may be
        // reading, and the caller guarantees no other producer writes it.
        unsafe {
            self.sqes.add(idx as usize).write(*sqe);
            self.sq_array.add(idx as usize).write(idx);
        }
        // Release: the SQE and index are whole before the kernel sees them.
        self.word(self.sq_tail)
            .store(tail.wrapping_add(1), Ordering::Release);
        true
    }

    /// Free SQ slots: how many `push` calls would succeed now.
    pub fn sq_space(&self) -> u32 {
        // Saturating: the head is the kernel's to move, and a wrong one must
        // not panic here.
        self.sq_entries.saturating_sub(self.sq_pending())
    }

    /// Entries pushed that the kernel has not taken yet. Counted from the
    /// ring itself (tail minus the kernel's head), so entries a short
    /// submission left behind are still counted and submitted next time.
    pub fn sq_pending(&self) -> u32 {
        let tail = self.word(self.sq_tail).load(Ordering::Acquire);
        let head = self.word(self.sq_head).load(Ordering::Acquire);
        tail.wrapping_sub(head)
    }

    /// The SQ flags word (`IORING_SQ_*`), e.g. `IORING_SQ_CQ_OVERFLOW`.
    pub fn sq_flags(&self) -> u32 {
        self.word(self.sq_flags).load(Ordering::Acquire)
    }

    /// Raw `io_uring_enter(fd, to_submit, min_complete, flags, NULL, 0)`:
    /// how many entries the kernel took. Every error is returned as its
    /// errno, `EINTR` included (the caller decides whether to retry), and
    /// `EBUSY`/`EAGAIN` when the kernel wants completions popped first.
    pub fn enter(&self, to_submit: u32, min_complete: u32, flags: u32) -> Result<u32, i32> {
        // SAFETY: no signal mask or extended argument is passed (NULL, 0);
        // the kernel reads only SQEs published by `push`, whose memory the
        // pusher vouched for.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.fd.0 as L,
                to_submit as L,
                min_complete as L,
                flags as L,
                std::ptr::null::<libc::sigset_t>(),
                0 as L,
            )
        };
        if r < 0 {
            Err(errno())
        } else {
            Ok(r as u32)
        }
    }

    /// Submit everything pushed and not yet taken; `Ok(0)` without a syscall
    /// when there is nothing.
    pub fn submit(&self) -> Result<u32, i32> {
        match self.sq_pending() {
            0 => Ok(0),
            n => self.enter(n, 0, 0),
        }
    }

    /// Take the oldest completion, if any.
    ///
    /// # Safety
    /// One consumer at a time: no other `pop` on this ring runs concurrently
    /// (two would read the same slot and free it twice, which lets the
    /// kernel overwrite a slot being read). `push`, `enter`, `submit` and
    /// `wait` may run concurrently on other threads.
    pub unsafe fn pop(&self) -> Option<Cqe> {
        // Relaxed: only this consumer writes the head. Acquire on the tail:
        // the CQEs below it are whole.
        let head = self.word(self.cq_head).load(Ordering::Relaxed);
        let tail = self.word(self.cq_tail).load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        // SAFETY: the index is < cq_entries, the array's length; the slot
        // lies in [head, tail), which the kernel does not write until the
        // head passes it, and the caller guarantees no other consumer moves
        // the head meanwhile.
        let cqe = unsafe { self.cqes.add((head & self.cq_mask) as usize).read() };
        // Release: the copy is done before the kernel may reuse the slot.
        self.word(self.cq_head)
            .store(head.wrapping_add(1), Ordering::Release);
        Some(cqe)
    }

    /// Completions ready to pop.
    pub fn cq_ready(&self) -> u32 {
        let tail = self.word(self.cq_tail).load(Ordering::Acquire);
        let head = self.word(self.cq_head).load(Ordering::Acquire);
        tail.wrapping_sub(head)
    }

    /// Completions the kernel had to drop (it could not even hold them on
    /// its overflow list); should stay 0.
    pub fn cq_overflow(&self) -> u32 {
        self.word(self.cq_overflow).load(Ordering::Acquire)
    }

    /// Block until at least `min` completions are ready (0: do not block,
    /// only move any held overflow into the CQ); submits nothing.
    pub fn wait(&self, min: u32) -> Result<u32, i32> {
        self.enter(0, min, IORING_ENTER_GETEVENTS)
    }
}

/// Make sure `fd` is close-on-exec: the kernel has created io_uring fds
/// `O_CLOEXEC` since the start, but a ring inherited by an exec'd program
/// would keep its memory and requests alive, so it is checked, not assumed.
fn set_cloexec(fd: i32) -> Result<(), i32> {
    // SAFETY: fcntl on an fd this module owns; no pointers are passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(errno());
    }
    if flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
            return Err(errno());
        }
    }
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::fs::{File, OpenOptions};
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::path::PathBuf;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    /// A ring, or `None` (with the reason printed) where io_uring is not
    /// available to this process, so sandboxed CI skips rather than fails.
    fn ring(entries: u32) -> Option<Uring> {
        match Uring::new(entries) {
            Ok(r) => Some(r),
            Err(e) if e == libc::EPERM || e == libc::ENOSYS || e == libc::EOPNOTSUPP => {
                eprintln!(
                    "skipped: io_uring unavailable ({}): disabled by \
                     kernel.io_uring_disabled, filtered by seccomp, or a kernel \
                     before 5.5",
                    std::io::Error::from_raw_os_error(e)
                );
                None
            }
            Err(e) => panic!("io_uring_setup: {}", std::io::Error::from_raw_os_error(e)),
        }
    }

    /// A file in the temp dir, removed on drop.
    struct TempFile {
        path: PathBuf,
        file: File,
    }

    impl TempFile {
        fn new(tag: &str) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("paio-uring-sys-{}-{tag}", std::process::id()));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .expect("temp file");
            TempFile { path, file }
        }

        fn fd(&self) -> i32 {
            self.file.as_raw_fd()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn retry_eintr(f: impl Fn() -> Result<u32, i32>) -> u32 {
        loop {
            match f() {
                Err(libc::EINTR) => continue,
                Err(e) => panic!("io_uring_enter: {}", std::io::Error::from_raw_os_error(e)),
                Ok(n) => return n,
            }
        }
    }

    /// Push `sqes`, submit them, and take exactly that many completions.
    ///
    /// # Safety
    /// As `Uring::push`; the calling test is the ring's only user.
    unsafe fn run(r: &Uring, sqes: &[Sqe]) -> Vec<Cqe> {
        for sqe in sqes {
            // SAFETY: the caller's.
            assert!(unsafe { r.push(sqe) }, "SQ full");
        }
        assert_eq!(retry_eintr(|| r.submit()) as usize, sqes.len());
        let mut out = Vec::new();
        while out.len() < sqes.len() {
            // SAFETY: this thread is the only consumer.
            match unsafe { r.pop() } {
                Some(c) => out.push(c),
                None => {
                    retry_eintr(|| r.wait(1));
                }
            }
        }
        out
    }

    #[test]
    fn reports_kernel_features() {
        let Some(r) = ring(8) else { return };
        let f = r.features();
        let names = [
            "SINGLE_MMAP",
            "NODROP",
            "SUBMIT_STABLE",
            "RW_CUR_POS",
            "CUR_PERSONALITY",
            "FAST_POLL",
            "POLL_32BITS",
            "SQPOLL_NONFIXED",
            "EXT_ARG",
            "NATIVE_WORKERS",
            "RSRC_TAGS",
            "CQE_SKIP",
            "LINKED_FILE",
            "REG_REG_RING",
            "RECVSEND_BUNDLE",
            "MIN_TIMEOUT",
            "RW_ATTR",
            "NO_IOWAIT",
        ];
        let set: Vec<&str> = (0..names.len())
            .filter(|b| f & (1 << b) != 0)
            .map(|b| names[b])
            .collect();
        let unknown = f & !((1u32 << names.len()) - 1);
        println!(
            "io_uring: features {f:#x} {set:?} unknown bits {unknown:#x}; \
             asked 8: sq_entries {} cq_entries {}",
            r.sq_entries(),
            r.cq_entries()
        );
        assert_eq!(r.sq_entries(), 8);
        assert_eq!(r.cq_entries(), 16);
        assert_ne!(f & IORING_FEAT_NODROP, 0);
        // SAFETY: fcntl on the ring's own fd, which `r` keeps open.
        let fd_flags = unsafe { libc::fcntl(r.fd(), libc::F_GETFD) };
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0, "ring fd not close-on-exec");
    }

    #[test]
    fn zero_entries_is_einval() {
        if ring(1).is_none() {
            return;
        }
        assert_eq!(Uring::new(0).err(), Some(libc::EINVAL));
    }

    #[test]
    fn ring_moved_to_a_high_number_still_works() {
        let Some(mut r) = ring(4) else { return };
        r.move_fd_up(300);
        assert!(r.fd() >= 300, "fd {} after the move", r.fd());
        // SAFETY: F_GETFD as above.
        let flags = unsafe { libc::fcntl(r.fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        // SAFETY: a NOP names no memory; this test is the ring's only user.
        let c = unsafe { run(&r, &[Sqe::nop(7)]) };
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].user_data, c[0].res), (7, 0));
    }

    #[test]
    fn nop_round_trip() {
        let Some(r) = ring(4) else { return };
        // SAFETY: a NOP names no memory; this test is the ring's only user.
        let c = unsafe { run(&r, &[Sqe::nop(0xdead_beef_0bad_cafe)]) };
        assert_eq!(
            c,
            [Cqe {
                user_data: 0xdead_beef_0bad_cafe,
                res: 0,
                flags: 0
            }]
        );
        assert_eq!(r.cq_ready(), 0);
        assert_eq!(r.sq_space(), r.sq_entries());
    }

    #[test]
    fn read_and_readv_at_offset() {
        let Some(r) = ring(4) else { return };
        let f = TempFile::new("read");
        let data = pattern(8192);
        (&f.file).write_all(&data).expect("write");

        let mut buf = vec![0u8; 100];
        let mut a = vec![0u8; 50];
        let mut b = vec![0u8; 70];
        let iov = [
            libc::iovec {
                iov_base: a.as_mut_ptr().cast(),
                iov_len: a.len(),
            },
            libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            },
        ];
        let sqes = [
            Sqe::read(f.fd(), buf.as_mut_ptr(), 100, 1000, 1),
            Sqe::readv(f.fd(), iov.as_ptr(), 2, 4097, 2),
        ];
        // SAFETY: `buf`, `a`, `b` and `iov` outlive `run`, which returns only
        // after both completions are popped.
        let mut c = unsafe { run(&r, &sqes) };
        c.sort_by_key(|c| c.user_data);
        assert_eq!((c[0].user_data, c[0].res), (1, 100));
        assert_eq!((c[1].user_data, c[1].res), (2, 120));
        assert_eq!(buf, data[1000..1100]);
        assert_eq!(a, data[4097..4147]);
        assert_eq!(b, data[4147..4217]);
    }

    #[test]
    fn write_then_read_back() {
        let Some(r) = ring(4) else { return };
        let f = TempFile::new("write");
        let data = pattern(4096);
        // SAFETY: `data` outlives `run`.
        let c = unsafe { run(&r, &[Sqe::write(f.fd(), data.as_ptr(), 4096, 512, 7)]) };
        assert_eq!((c[0].user_data, c[0].res), (7, 4096));
        assert_eq!(f.file.metadata().expect("stat").len(), 512 + 4096);

        let mut back = vec![0u8; 4096];
        let iov = [libc::iovec {
            iov_base: back.as_mut_ptr().cast(),
            iov_len: 4096,
        }];
        // SAFETY: `back` and `iov` outlive `run`.
        let c = unsafe { run(&r, &[Sqe::readv(f.fd(), iov.as_ptr(), 1, 512, 8)]) };
        assert_eq!((c[0].user_data, c[0].res), (8, 4096));
        assert_eq!(back, data);

        let disk = std::fs::read(&f.path).expect("read");
        assert_eq!(disk[..512], [0u8; 512]);
        assert_eq!(disk[512..], data[..]);
    }

    #[test]
    fn writev_then_fsync() {
        let Some(r) = ring(4) else { return };
        let f = TempFile::new("fsync");
        let data = pattern(300);
        let iov = [
            libc::iovec {
                iov_base: data.as_ptr() as *mut _,
                iov_len: 100,
            },
            libc::iovec {
                iov_base: data[100..].as_ptr() as *mut _,
                iov_len: 200,
            },
        ];
        // SAFETY: `data` and `iov` outlive `run`; the kernel only reads them.
        let c = unsafe { run(&r, &[Sqe::writev(f.fd(), iov.as_ptr(), 2, 0, 1)]) };
        assert_eq!(c[0].res, 300);
        // SAFETY: fsync names no memory.
        let mut c = unsafe {
            run(
                &r,
                &[Sqe::fsync(f.fd(), false, 2), Sqe::fsync(f.fd(), true, 3)],
            )
        };
        c.sort_by_key(|c| c.user_data);
        assert_eq!(
            c.iter().map(|c| (c.user_data, c.res)).collect::<Vec<_>>(),
            [(2, 0), (3, 0)]
        );
        assert_eq!(std::fs::read(&f.path).expect("read"), data);
    }

    #[test]
    fn bad_fd_completes_with_ebadf() {
        let Some(r) = ring(4) else { return };
        let mut buf = [0u8; 16];
        let sqe = Sqe::read(-1, buf.as_mut_ptr(), 16, 0, 42);
        // SAFETY: `buf` outlives `run`. `run` asserts that submission itself
        // succeeded: the error must arrive in the CQE.
        let c = unsafe { run(&r, &[sqe]) };
        assert_eq!((c[0].user_data, c[0].res), (42, -libc::EBADF));
    }

    #[test]
    fn full_sq_then_drain_loses_nothing() {
        let Some(r) = ring(8) else { return };
        // Three rounds, so the ring indices wrap past sq_entries.
        for round in 0..3u64 {
            let mut pushed = 0u64;
            // SAFETY: NOPs name no memory; this test is the only producer.
            while unsafe { r.push(&Sqe::nop(round * 100 + pushed)) } {
                pushed += 1;
            }
            assert_eq!(pushed, r.sq_entries() as u64);
            assert_eq!(r.sq_space(), 0);
            assert_eq!(r.sq_pending(), r.sq_entries());
            assert_eq!(retry_eintr(|| r.submit()), r.sq_entries());
            assert_eq!(r.sq_pending(), 0);

            let mut seen = HashSet::new();
            while (seen.len() as u64) < pushed {
                // SAFETY: this thread is the only consumer.
                match unsafe { r.pop() } {
                    Some(c) => {
                        assert_eq!(c.res, 0);
                        assert!(seen.insert(c.user_data), "duplicate {}", c.user_data);
                    }
                    None => {
                        retry_eintr(|| r.wait(1));
                    }
                }
            }
            let want: HashSet<u64> = (0..pushed).map(|i| round * 100 + i).collect();
            assert_eq!(seen, want);
            // SAFETY: as above.
            assert!(unsafe { r.pop() }.is_none());
        }
    }

    #[test]
    fn cq_overflow_is_held_not_dropped() {
        let Some(r) = ring(4) else { return };
        let (sq, cq) = (r.sq_entries() as u64, r.cq_entries() as u64);
        // Twice the CQ's room, never popping while submitting.
        let total = 2 * cq;
        let mut pushed = 0u64;
        let mut seen = HashSet::new();
        let mut ebusy = 0;
        while pushed < total {
            for _ in 0..sq {
                // SAFETY: NOPs name no memory; this test is the only producer.
                if !unsafe { r.push(&Sqe::nop(pushed)) } {
                    break;
                }
                pushed += 1;
            }
            match r.submit() {
                Ok(_) | Err(libc::EINTR) => {}
                // The documented answer while completions are held: pop
                // some, then submit again.
                Err(libc::EBUSY) | Err(libc::EAGAIN) => {
                    ebusy += 1;
                    // SAFETY: this thread is the only consumer.
                    while let Some(c) = unsafe { r.pop() } {
                        assert!(seen.insert(c.user_data));
                    }
                }
                Err(e) => panic!("submit: {e}"),
            }
        }
        while r.sq_pending() > 0 {
            retry_eintr(|| r.submit());
        }
        let overflowed = r.sq_flags() & IORING_SQ_CQ_OVERFLOW != 0;
        while (seen.len() as u64) < total {
            // SAFETY: this thread is the only consumer.
            match unsafe { r.pop() } {
                Some(c) => assert!(seen.insert(c.user_data), "duplicate {}", c.user_data),
                None => {
                    retry_eintr(|| r.wait(1));
                }
            }
        }
        println!(
            "io_uring overflow: {total} NOPs into a CQ of {cq}: CQ_OVERFLOW flag seen {overflowed}, \
             EBUSY/EAGAIN on submit {ebusy} times, cq_overflow (dropped) {}",
            r.cq_overflow()
        );
        assert_eq!(seen, (0..total).collect::<HashSet<_>>());
        assert_eq!(r.cq_overflow(), 0);
        assert_eq!(r.sq_flags() & IORING_SQ_CQ_OVERFLOW, 0);
    }

    #[test]
    fn producer_thread_and_consumer_thread() {
        const N: u64 = 10_000;
        let Some(r) = ring(64) else { return };
        let r = Arc::new(r);
        // In flight (pushed, not yet popped) stays at most half the CQ, so
        // the CQ never overflows.
        let limit = r.cq_entries() as u64 / 2;
        let taken = Arc::new(AtomicU64::new(0));

        let producer = {
            let (r, taken) = (r.clone(), taken.clone());
            std::thread::spawn(move || {
                let mut next = 0u64;
                while next < N {
                    if next - taken.load(Ordering::Acquire) >= limit {
                        retry_eintr(|| r.submit());
                        std::thread::yield_now();
                        continue;
                    }
                    // SAFETY: this thread is the only producer; a NOP names
                    // no memory.
                    if unsafe { r.push(&Sqe::nop(next)) } {
                        next += 1;
                        if next % 16 == 0 {
                            retry_eintr(|| r.submit());
                        }
                    } else {
                        retry_eintr(|| r.submit());
                    }
                }
                while r.sq_pending() > 0 {
                    retry_eintr(|| r.submit());
                }
            })
        };

        let mut seen = vec![false; N as usize];
        let mut count = 0u64;
        while count < N {
            // SAFETY: this thread is the only consumer.
            match unsafe { r.pop() } {
                Some(c) => {
                    assert_eq!(c.res, 0);
                    let slot = &mut seen[c.user_data as usize];
                    assert!(!*slot, "user_data {} seen twice", c.user_data);
                    *slot = true;
                    count += 1;
                    taken.store(count, Ordering::Release);
                }
                None => {
                    retry_eintr(|| r.wait(1));
                }
            }
        }
        producer.join().expect("producer thread");
        assert!(seen.iter().all(|s| *s));
        assert_eq!(r.cq_overflow(), 0);
        assert_eq!(r.cq_ready(), 0);
    }
}
