//! The bytes of the run: the pattern a write carries, each file's initial
//! content, and the hash that prints what was read as one token.

use crate::ffi::Rng;
use crate::gen::FILE_SIZE;

/// FNV-1a, for printing what was read as one short token.
pub(super) fn hash(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in b {
        h = (h ^ x as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

pub(super) fn pattern(buf: &mut [u8], seed: u64) {
    let mut r = Rng(seed);
    for c in buf.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        c.copy_from_slice(&v[..c.len()]);
    }
}

/// Initial content of file `f`.
pub(super) fn file_content(f: usize) -> Vec<u8> {
    let mut v = vec![0u8; FILE_SIZE as usize];
    pattern(&mut v, 0xf11e ^ f as u64);
    v
}
