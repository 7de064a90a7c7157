//! The allocator: mimalloc, told to keep the pages it frees.
//!
//! A run allocates and frees small buffers for every message (HTTP/2
//! frames, gRPC bodies) and keeps them close together, which is what
//! mimalloc is good at. By default it also hands pages that fall empty back
//! to the OS after a second (`purge_delay`); a large fleet empties and
//! refills pages all the time, so the kernel zeroed the same memory again
//! and again: 0.6 s of system time in the 6 s generated bench stage. Keeping
//! them costs no peak memory (the peak is what a run holds at once) and
//! takes that system time to 0.1 s.

/// The process's allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (the version
/// libmimalloc-sys builds by default): milliseconds before an empty page is
/// returned to the OS, -1 for never.
const PURGE_DELAY: std::ffi::c_int = 15;

// The workspace's only unsafe code: one option of the C allocator, set
// before the run allocates much.
#[allow(unsafe_code)]
mod ffi {
    unsafe extern "C" {
        #[cfg(test)]
        pub(super) safe fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
        pub(super) safe fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
}

/// Keeps freed pages for the rest of the process, unless the user chose a
/// purge delay of their own (`MIMALLOC_PURGE_DELAY`).
pub(crate) fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        ffi::mi_option_set(PURGE_DELAY, -1);
    }
}

/// The purge delay in force (ms; -1: never).
#[cfg(test)]
fn purge_delay() -> std::ffi::c_long {
    ffi::mi_option_get(PURGE_DELAY)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_defaults_to_a_second() {
        // Guards the enum index: mimalloc v3's purge delay defaults to
        // 1000 ms, and no neighbouring option does.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(super::purge_delay(), 1000);
        }
    }
}
