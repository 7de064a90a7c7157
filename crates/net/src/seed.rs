//! Seeded randomness: every random choice of a run comes from a generator
//! derived from the scenario seed and a stable name, so the same seed gives
//! the same run.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator type used everywhere.
pub type Rng = ChaCha8Rng;

/// A generator for `parts` (e.g. server name and incarnation) under `seed`.
/// Uses FNV-1a, which, unlike std's hasher, is stable across releases.
pub fn rng(seed: u64, parts: &[&str]) -> Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    ChaCha8Rng::seed_from_u64(h ^ seed.rotate_left(32))
}
