//! Tables of lazily allocated chunks that are never freed: any thread gets a
//! stable `&T` without a lock, and a table costs memory only for the part
//! in use. Descriptor state, request slots and claim words live in them.

use std::sync::atomic::{AtomicPtr, Ordering};

pub struct Chunks<T> {
    chunks: Box<[AtomicPtr<T>]>,
    chunk_len: usize,
}

impl<T> Chunks<T> {
    /// Room for `nchunks` chunks of `chunk_len` elements, none allocated.
    pub fn new(nchunks: usize, chunk_len: usize) -> Self {
        Chunks {
            chunks: (0..nchunks)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            chunk_len,
        }
    }

    /// Elements the table can hold.
    pub fn capacity(&self) -> usize {
        self.chunks.len() * self.chunk_len
    }

    /// The element at `index`, if its chunk exists.
    pub fn get(&self, index: usize) -> Option<&T> {
        let p = self
            .chunks
            .get(index / self.chunk_len)?
            .load(Ordering::Acquire);
        // SAFETY: a published chunk holds `chunk_len` elements and is never
        // freed; the index within it is below `chunk_len`.
        (!p.is_null()).then(|| unsafe { &*p.add(index % self.chunk_len) })
    }

    /// The element at `index`, its chunk made by `make` (once, whichever
    /// thread wins) if it does not exist yet; `None` beyond the table.
    pub fn get_or_make(&self, index: usize, make: impl Fn() -> T) -> Option<&T> {
        if let Some(v) = self.get(index) {
            return Some(v);
        }
        let slot = self.chunks.get(index / self.chunk_len)?;
        let fresh: Box<[T]> = (0..self.chunk_len).map(|_| make()).collect();
        let fresh = Box::into_raw(fresh) as *mut T;
        if slot
            .compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: `fresh` was never shared; rebuild the box to free it.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, self.chunk_len))
            });
        }
        self.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn elements_are_stable_and_bounded() {
        let t: Chunks<AtomicU64> = Chunks::new(4, 8);
        assert_eq!(t.capacity(), 32);
        assert!(t.get(9).is_none(), "no chunk yet");
        let a = t.get_or_make(9, || AtomicU64::new(7)).unwrap() as *const AtomicU64;
        assert_eq!(t.get(9).unwrap() as *const AtomicU64, a);
        assert_eq!(t.get(15).unwrap().load(Ordering::Relaxed), 7, "same chunk");
        assert!(t.get(16).is_none(), "another chunk");
        assert!(t.get_or_make(32, || AtomicU64::new(0)).is_none());
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let t = &t as *const Chunks<AtomicU64> as usize;
                std::thread::spawn(move || {
                    // SAFETY: `t` outlives the joined threads below.
                    let t = unsafe { &*(t as *const Chunks<AtomicU64>) };
                    t.get_or_make(20, || AtomicU64::new(1)).unwrap() as *const _ as usize
                })
            })
            .collect();
        let got: Vec<usize> = racers.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(got.iter().all(|&p| p == got[0]), "one chunk wins");
    }
}
