//! A pseudo-random generator that produces exactly the sequence of Go's `math/rand`
//! (`rand.New(rand.NewSource(seed))`): the additive lagged Fibonacci generator
//! `x[n] = x[n-607] + x[n-273] mod 2^64`, seeded by a Park–Miller generator mixed with a fixed
//! "cooked" state, and Go's `Int31n`/`Int63n`/`Intn`/`Perm` on top of it. hashicorp/random
//! seeds it with the CRC-64 (ISO polynomial) of the `seed` argument, so the same seed gives
//! the same `random_integer` and `random_shuffle` results as Terraform.
//!
//! The cooked state is Go's generator seeded with 1 after 7.8e12 steps. Rather than carrying a
//! table, it is computed once, on first use, by jumping the linear recurrence ahead with
//! polynomial arithmetic modulo its characteristic polynomial `x^607 - x^334 - 1` over the
//! integers mod 2^64 (about 43 polynomial squarings).
//!
//! Not for secrets: like Go's, this generator is predictable.

use std::sync::OnceLock;

const LEN: usize = 607;
const TAP: usize = 273;
const FEED: usize = LEN - TAP;
const INT32_MAX: i64 = (1 << 31) - 1;
/// How many steps Go ran its generator (seeded with 1) to produce the cooked state.
const COOKED_STEPS: u64 = 7_800_000_000_000;

/// Go's `math/rand` source and the derived methods hashicorp/random uses.
pub(super) struct GoRand {
    tap: usize,
    feed: usize,
    vec: [u64; LEN],
}

impl GoRand {
    /// `rand.New(rand.NewSource(seed))`.
    pub(super) fn new(seed: i64) -> GoRand {
        let cooked = cooked();
        let mut vec = [0u64; LEN];
        let mut x = seed_start(seed);
        for i in -20..LEN as i64 {
            x = seedrand(x);
            if let Ok(i) = usize::try_from(i) {
                let mut u = i64::from(x) << 40;
                x = seedrand(x);
                u ^= i64::from(x) << 20;
                x = seedrand(x);
                u ^= i64::from(x);
                vec[i] = (u as u64) ^ cooked[i];
            }
        }
        GoRand {
            tap: 0,
            feed: FEED,
            vec,
        }
    }

    /// hashicorp/random's `NewRand`: the CRC-64/ISO checksum of a non-empty seed, or a random
    /// seed (Go uses the clock) when it is empty.
    pub(super) fn from_seed_str(seed: &str) -> GoRand {
        if seed.is_empty() {
            GoRand::new(rand::random::<i64>())
        } else {
            GoRand::new(crc64_iso(seed.as_bytes()) as i64)
        }
    }

    pub(super) fn uint64(&mut self) -> u64 {
        self.tap = if self.tap == 0 { LEN - 1 } else { self.tap - 1 };
        self.feed = if self.feed == 0 {
            LEN - 1
        } else {
            self.feed - 1
        };
        let x = self.vec[self.feed].wrapping_add(self.vec[self.tap]);
        self.vec[self.feed] = x;
        x
    }

    pub(super) fn int63(&mut self) -> i64 {
        (self.uint64() & (u64::MAX >> 1)) as i64
    }

    fn int31(&mut self) -> i32 {
        (self.int63() >> 32) as i32
    }

    /// Go's `Int31n` (rejection sampling), for `n > 0`.
    fn int31n(&mut self, n: i32) -> i32 {
        if n & (n - 1) == 0 {
            return self.int31() & (n - 1);
        }
        let max = i32::MAX - ((1u32 << 31) % n as u32) as i32;
        let mut v = self.int31();
        while v > max {
            v = self.int31();
        }
        v % n
    }

    /// Go's `Int63n`, for `n > 0`.
    fn int63n(&mut self, n: i64) -> i64 {
        if n & (n - 1) == 0 {
            return self.int63() & (n - 1);
        }
        let max = i64::MAX - ((1u64 << 63) % n as u64) as i64;
        let mut v = self.int63();
        while v > max {
            v = self.int63();
        }
        v % n
    }

    /// Go's `Intn` on a 64-bit platform; `n` must be positive (Go panics otherwise; this
    /// returns 0).
    pub(super) fn intn(&mut self, n: i64) -> i64 {
        if n <= 0 {
            return 0;
        }
        if n <= INT32_MAX {
            i64::from(self.int31n(n as i32))
        } else {
            self.int63n(n)
        }
    }

    /// Go's `Perm(n)`: a permutation of `0..n`.
    pub(super) fn perm(&mut self, n: usize) -> Vec<usize> {
        let mut m = vec![0usize; n];
        for i in 0..n {
            let j = self.intn(i as i64 + 1) as usize;
            m[i] = m[j];
            m[j] = i;
        }
        m
    }
}

/// Go's `Seed` reduction of a 64-bit seed to a Park–Miller state.
fn seed_start(seed: i64) -> i32 {
    let mut s = seed % INT32_MAX;
    if s < 0 {
        s += INT32_MAX;
    }
    if s == 0 {
        s = 89_482_311;
    }
    s as i32
}

/// One step of `x = 48271 * x mod (2^31 - 1)` (Schrage's method, as Go computes it).
fn seedrand(x: i32) -> i32 {
    const A: i32 = 48271;
    const Q: i32 = 44488;
    const R: i32 = 3399;
    let hi = x / Q;
    let lo = x % Q;
    let mut x = A.wrapping_mul(lo).wrapping_sub(R.wrapping_mul(hi));
    if x < 0 {
        x = x.wrapping_add(INT32_MAX as i32);
    }
    x
}

/// Go's `rngCooked`, computed on first use.
fn cooked() -> &'static [u64; LEN] {
    static COOKED: OnceLock<[u64; LEN]> = OnceLock::new();
    COOKED.get_or_init(compute_cooked)
}

/// The generator of Go's `gen_cooked.go` — seeded with 1, mixing `x<<20 ^ x<<10 ^ x`, no
/// cooked state — advanced by [`COOKED_STEPS`] steps; its register, as Go prints it.
fn compute_cooked() -> [u64; LEN] {
    let mut init = [0u64; LEN];
    let mut x = seed_start(1);
    for i in -20..LEN as i64 {
        x = seedrand(x);
        if let Ok(i) = usize::try_from(i) {
            let mut u = i64::from(x) << 20;
            x = seedrand(x);
            u ^= i64::from(x) << 10;
            x = seedrand(x);
            u ^= i64::from(x);
            init[i] = u as u64;
        }
    }
    // Step k (k = 1, 2, ...) writes y[k] = y[k-607] + y[k-273] at register index
    // (FEED - k) mod 607, so the initial register holds y[-606..=0] with
    // y[k] = init[(FEED - k) mod 607]. Window element i is y[i - 606].
    let window: Vec<u64> = (0..LEN).map(|i| init[(FEED + LEN - 1 - i) % LEN]).collect();
    // After N steps the register holds y[N-606..=N], y[j] at index (FEED - j) mod 607.
    // y[j] = y[-606 + n] with n = j + 606, and x^n mod P gives its coefficients over the window.
    let mut coeffs = x_pow_mod(COOKED_STEPS);
    let mut out = [0u64; LEN];
    for step in 0..LEN as u64 {
        let j = COOKED_STEPS - (LEN as u64 - 1) + step;
        let y = coeffs
            .iter()
            .zip(&window)
            .fold(0u64, |acc, (c, w)| acc.wrapping_add(c.wrapping_mul(*w)));
        let idx = ((FEED as u64 + LEN as u64 * 2) - j % LEN as u64) as usize % LEN;
        out[idx] = y;
        coeffs = times_x(&coeffs);
    }
    out
}

/// `x^n mod (x^607 - x^334 - 1)` as coefficients of `1, x, ..., x^606`.
fn x_pow_mod(n: u64) -> Vec<u64> {
    let mut r = vec![0u64; LEN];
    r[0] = 1;
    for bit in (0..64).rev() {
        r = square(&r);
        if (n >> bit) & 1 == 1 {
            r = times_x(&r);
        }
    }
    r
}

fn square(a: &[u64]) -> Vec<u64> {
    let mut p = vec![0u64; 2 * LEN - 1];
    for (i, &x) in a.iter().enumerate() {
        if x == 0 {
            continue;
        }
        for (j, &y) in a.iter().enumerate() {
            p[i + j] = p[i + j].wrapping_add(x.wrapping_mul(y));
        }
    }
    reduce(p)
}

fn times_x(a: &[u64]) -> Vec<u64> {
    let mut p = vec![0u64; LEN + 1];
    p[1..].copy_from_slice(a);
    reduce(p)
}

/// Reduces modulo `x^607 - x^334 - 1`: `x^d = x^(d-273) + x^(d-607)` for `d >= 607`.
fn reduce(mut p: Vec<u64>) -> Vec<u64> {
    for d in (LEN..p.len()).rev() {
        let c = p[d];
        if c != 0 {
            p[d - LEN] = p[d - LEN].wrapping_add(c);
            p[d - TAP] = p[d - TAP].wrapping_add(c);
            p[d] = 0;
        }
    }
    p.truncate(LEN);
    p
}

/// Go's `crc64.Checksum(data, crc64.MakeTable(crc64.ISO))`.
pub(super) fn crc64_iso(data: &[u8]) -> u64 {
    const POLY: u64 = 0xD800_0000_0000_0000;
    let mut crc = !0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_math_rand_seeded_with_one() {
        // The first values of rand.New(rand.NewSource(1)).Int63() in Go.
        let mut r = GoRand::new(1);
        assert_eq!(r.int63(), 5_577_006_791_947_779_410);
        assert_eq!(r.int63(), 8_674_665_223_082_153_551);
        assert_eq!(r.int63(), 6_129_484_611_666_145_821);
    }

    #[test]
    fn crc64_iso_known_value() {
        // CRC-64/GO-ISO check value ("123456789").
        assert_eq!(crc64_iso(b"123456789"), 0xB909_56C7_75A4_1001);
        assert_eq!(crc64_iso(b""), 0);
    }

    #[test]
    fn perm_is_a_permutation_and_deterministic() {
        let p = GoRand::new(42).perm(10);
        let mut s = p.clone();
        s.sort_unstable();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
        assert_eq!(p, GoRand::new(42).perm(10));
        assert!(GoRand::new(7).perm(0).is_empty());
    }

    #[test]
    fn intn_stays_in_range() {
        let mut r = GoRand::from_seed_str("abc");
        for n in [1i64, 2, 3, 10, 1 << 31, (1 << 40) + 3, i64::MAX] {
            for _ in 0..50 {
                let v = r.intn(n);
                assert!((0..n).contains(&v));
            }
        }
        assert_eq!(r.intn(0), 0);
        assert_eq!(r.intn(-5), 0);
    }
}
