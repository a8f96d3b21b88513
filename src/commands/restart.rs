//! `watchdog restart`: stop, then start, under one hold of the lock so that no check can
//! slip in between. If the stop fails, nothing is started: two copies would be worse than
//! one stuck one (monit's "only start if stop succeeded").

use crate::cli::RestartArgs;
use crate::error::Result;
use crate::exit::Exit;
use crate::lock::{self, Access};

pub fn run(a: &RestartArgs) -> Result<Exit> {
    let paths = super::launch_paths(&a.launch);
    // A readiness wait (--ready-when-*) happens after the lock is released.
    let mut waiting = None;
    let exit = lock::with_lock(&paths.lock, Access::Exclusive, a.launch.job.wait, |held| {
        let command = super::stop_command::of_launch(&a.launch);
        super::stop::stop_locked(&paths, &a.ladder, command.as_ref(), held, "restart", false)?;
        super::start::start_locked(&a.launch, &paths, held, "restart", &mut waiting)
    })?;
    match waiting {
        Some(p) => super::ready::after_start(&a.launch, &paths, p, "restart"),
        None => Ok(exit),
    }
}
