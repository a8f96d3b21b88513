//! A healthy check through the library with no clap at all (see src/hand.rs).
#[path = "../hand.rs"]
mod hand;

fn main() -> std::process::ExitCode {
    let a = hand::args();
    watchdog::sys::ensure_std_fds();
    match watchdog::commands::check::run(&a) {
        Ok(e) => e.into(),
        Err(_) => std::process::ExitCode::from(9),
    }
}
