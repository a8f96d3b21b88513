//! As `hand`, and without std's runtime start-up (`#![no_main]`).
#![no_main]

#[path = "../hand.rs"]
mod hand;

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let a = hand::args();
    watchdog::sys::ensure_std_fds();
    match watchdog::commands::check::run(&a) {
        Ok(watchdog::exit::Exit::Ok) => 0,
        Ok(_) => 1,
        Err(_) => 9,
    }
}
