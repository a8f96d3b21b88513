//! Fuzzes `watchdog::state::State::parse`, which reads the companion state file leniently
//! (anything malformed is "no state", never a panic).
//!
//! Invariant checked: whatever parses re-renders (`State::render`) to text that parses
//! back to an equal `State`. A failure means `check` would write a state file it then reads
//! differently on its next run (a lost launch time, a forged key, a changed mode).

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchdog::state::State;

const BOOT: &str = "boot";

fuzz_target!(|data: &[u8]| {
    if let Some(state) = State::parse(data, BOOT) {
        let text = state.render(BOOT);
        let again = State::parse(text.as_bytes(), BOOT);
        assert_eq!(
            again.as_ref(),
            Some(&state),
            "parsed state does not survive render + parse; rendered as {text:?}"
        );
    }
});
