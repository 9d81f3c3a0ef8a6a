//! Write sharding: each channel's connections are spread over S shards, by
//! a stable hash of the connection id, so that no single partition of the
//! channel index takes every join of a hot channel and a channel's members
//! can be read, and delivered to, S ways in parallel.

use std::fmt;

/// Most shards a deployment may use.
pub const MAX_SHARDS: u16 = 256;

/// How many shards every channel is spread over: 1 to [`MAX_SHARDS`], fixed
/// per deployment (changing it strands stored connections on the old
/// shards until they reconnect).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shards(u16);

impl Shards {
    /// One shard: no sharding.
    pub const ONE: Self = Self(1);

    /// `count` shards, if it is 1 to [`MAX_SHARDS`].
    pub fn new(count: u16) -> Option<Self> {
        (1..=MAX_SHARDS).contains(&count).then_some(Self(count))
    }

    pub fn count(self) -> u16 {
        self.0
    }

    /// Every shard number, `0..count`.
    pub fn all(self) -> std::ops::Range<u16> {
        0..self.0
    }

    /// The shard of a connection: FNV-1a (64 bit) of its id, modulo the
    /// count. Stable across processes, builds and platforms, unlike the
    /// standard library's randomly keyed hasher.
    pub fn of(self, connection_id: &str) -> u16 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in connection_id.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // The remainder is below `self.0`, a u16.
        u16::try_from(hash % u64::from(self.0)).unwrap_or(0)
    }
}

impl Default for Shards {
    fn default() -> Self {
        Self::ONE
    }
}

impl fmt::Display for Shards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_stable() {
        // Published FNV-1a 64 test vectors: "" and "a".
        let fnv = |s: &str| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for byte in s.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
            hash
        };
        assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
        let shards = Shards::new(16).unwrap();
        assert_eq!(shards.of("a"), (0xaf63_dc4c_8601_ec8c_u64 % 16) as u16);
        assert_eq!(shards.of("L0SM9cOFvHcCIhw="), shards.of("L0SM9cOFvHcCIhw="));
    }

    #[test]
    fn ids_spread_evenly_over_the_shards() {
        let shards = Shards::new(16).unwrap();
        let mut counts = [0u32; 16];
        for i in 0..160_000 {
            counts[usize::from(shards.of(&format!("conn-{i}=")))] += 1;
        }
        // 10,000 expected in each; a fair spread stays within a few percent.
        for (shard, n) in counts.iter().enumerate() {
            assert!((9_500..=10_500).contains(n), "shard {shard}: {n}");
        }
        assert_eq!(Shards::ONE.of("anything"), 0);
    }

    #[test]
    fn counts_are_bounded() {
        assert_eq!(Shards::new(0), None);
        assert_eq!(Shards::new(257), None);
        assert_eq!(Shards::new(256).map(Shards::count), Some(256));
    }
}
