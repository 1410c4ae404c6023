//! Latency histogram with fixed, preallocated log-linear buckets: recording
//! allocates nothing, so it costs every implementation the same.

/// Sub-buckets per power of two: about 3% resolution.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Values up to 2^40 ns (about 18 minutes).
const MAX_BITS: u32 = 40;
const BUCKETS: usize = SUB * 2 + (MAX_BITS as usize - SUB_BITS as usize - 1) * SUB;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < (2 * SUB) as u64 {
        return v as usize;
    }
    let v = v.min((1u64 << MAX_BITS) - 1);
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let sub = (v >> (exp - SUB_BITS)) as usize & (SUB - 1);
    2 * SUB + (exp - SUB_BITS - 1) as usize * SUB + sub
}

/// The lowest value that falls in bucket `i`.
fn lower_bound(i: usize) -> u64 {
    if i < 2 * SUB {
        return i as u64;
    }
    let j = i - 2 * SUB;
    let exp = (j / SUB) as u32 + SUB_BITS + 1;
    let sub = (j % SUB) as u64;
    (1u64 << exp) | (sub << (exp - SUB_BITS))
}

impl Histogram {
    pub fn record(&mut self, nanos: u64) {
        self.counts[index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1), as the middle of its bucket, in ns.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let lo = lower_bound(i);
                let hi = if i + 1 < BUCKETS {
                    lower_bound(i + 1)
                } else {
                    lo + 1
                };
                return ((lo + hi - 1) / 2).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_values() {
        for i in 1..BUCKETS {
            assert!(lower_bound(i) > lower_bound(i - 1), "bucket {i}");
        }
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            100,
            1000,
            4095,
            4096,
            123_456,
            10_000_000_000,
        ] {
            let i = index(v);
            assert!(lower_bound(i) <= v, "{v}");
            if i + 1 < BUCKETS {
                assert!(lower_bound(i + 1) > v, "{v}");
            }
        }
    }

    #[test]
    fn quantiles_within_three_percent() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 100);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.03, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.03, "{p99}");
        assert_eq!(h.count(), 10_000);
        let mut g = Histogram::default();
        g.merge(&h);
        assert_eq!(g.quantile(0.5), h.quantile(0.5));
    }
}
