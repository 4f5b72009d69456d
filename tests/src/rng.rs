//! A tiny deterministic PRNG for the tests' random inputs, so that no `rand` dependency is
//! needed and every failure replays from its seed.

/// xorshift64* (Vigna): small, seeded, good enough to pick bytes, paths and headers.
///
/// ```
/// let mut a = promenade_tests::Rng(42);
/// let mut b = promenade_tests::Rng(42);
/// assert_eq!(a.next(), b.next());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    ///
    /// ```
    /// assert_ne!(promenade_tests::Rng(1).next(), 0);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` must not be 0).
    ///
    /// ```
    /// assert!(promenade_tests::Rng(7).below(3) < 3);
    /// ```
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    ///
    /// ```
    /// assert!(promenade_tests::Rng(7).chance(100));
    /// ```
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One of `items` (which must not be empty).
    ///
    /// ```
    /// assert_eq!(*promenade_tests::Rng(7).pick(&["only"]), "only");
    /// ```
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` lowercase hex digits.
    ///
    /// ```
    /// assert_eq!(promenade_tests::Rng(7).hex(32).len(), 32);
    /// ```
    pub fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }
}
