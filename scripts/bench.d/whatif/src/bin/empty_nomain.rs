//! The floor without std's runtime start-up (no lang_start: no stack-guard probe of
//! /proc/self/maps, no SIGPIPE/SIGSEGV set-up, no poll of fds 0-2).
#![no_main]

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    0
}
