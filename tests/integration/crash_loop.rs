//! Crash loops: with `--max-launches N --within D`, a program that dies at once is launched
//! N times in the window, then parked. One message says so and how to resume (`start`);
//! later checks launch nothing and print nothing; `status` says `parked:` (nonzero);
//! `start` or `restart` clears the park.

use crate::support::{QUICK_LADDER, Run, Sandbox, has_word};
use std::time::Duration;

fn dying_check(sb: &Sandbox, limit: &[&str]) -> Run {
    sb.check(&sb.prog("dies.sh", &["exit", "3"]))
        .args(limit)
        .run()
}

fn dies_launches(sb: &Sandbox) -> usize {
    sb.launches()
        .iter()
        .filter(|l| l.starts_with("dies "))
        .count()
}

/// Runs checks until the job is parked, checking each step on the way.
#[track_caller]
fn drive_into_park(sb: &Sandbox) {
    let limit = ["--max-launches", "3", "--within", "1h"];
    let mut runs = Vec::new();
    for n in 1..=3 {
        let run = dying_check(sb, &limit);
        run.expect_code(1);
        run.ensure(
            dies_launches(sb) == n,
            &format!("check number {n} launches"),
        );
        runs.push(run);
    }
    let fourth = dying_check(sb, &limit);
    fourth.expect_sane();
    fourth.ensure(
        dies_launches(sb) == 3,
        "after 3 launches within the window, check launches nothing",
    );
    // One message when it parks, saying how to resume: with the third failure or on the
    // next check, not both.
    let third_says = has_word(&runs[2].all(), "start");
    let fourth_says = has_word(&fourth.all(), "start");
    fourth.ensure(
        third_says != fourth_says,
        "exactly one message (on the third failure or the fourth check) says the job is parked and mentions `start`",
    );
    if third_says {
        fourth.expect_silent();
    }
    for _ in 0..2 {
        let later = dying_check(sb, &limit);
        later.expect_sane().expect_silent();
        later.ensure(dies_launches(sb) == 3, "a parked job launches nothing");
    }
    let status = sb.status().run();
    status.expect_sane();
    status.ensure(
        status.code() != Some(0),
        "status of a parked job is nonzero",
    );
    status.ensure(status.out().starts_with("parked:"), "status says `parked:`");
}

#[test]
fn crash_loop_parks_quietly_and_start_resumes() {
    let sb = Sandbox::new("crash_loop_start");
    drive_into_park(&sb);
    // The user fixes the program and resumes.
    sb.write("healthy", "");
    let prog = sb.prog("dies.sh", &["exit", "3"]);
    let run = sb.start(&prog).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("resumed program");
    run.ensure(dies_launches(&sb) == 4, "start launched it again");
    sb.status().run().expect_code(0);
    sb.check(&prog)
        .args(["--max-launches", "3", "--within", "1h"])
        .run()
        .expect_code(0)
        .expect_silent();
    run.ensure(sb.recorded_pid() == Some(pid), "and check keeps it");
}

#[test]
fn restart_also_clears_a_park() {
    let sb = Sandbox::new("crash_loop_restart");
    drive_into_park(&sb);
    sb.write("healthy", "");
    let prog = sb.prog("dies.sh", &["exit", "3"]);
    let run = sb
        .cmd("restart")
        .args(["--ladder", QUICK_LADDER, "--grace", "300ms"])
        .program(&prog)
        .run();
    run.expect_code(0);
    sb.expect_recorded("resumed program");
    sb.status().run().expect_code(0);
}

#[test]
fn launches_older_than_the_window_do_not_count() {
    let sb = Sandbox::new("crash_loop_window");
    let limit = ["--max-launches", "2", "--within", "2s"];
    dying_check(&sb, &limit).expect_code(1);
    // Not synchronisation: this lets the first launch fall out of the 2 s window under test.
    std::thread::sleep(Duration::from_millis(2300));
    dying_check(&sb, &limit).expect_code(1);
    let third = dying_check(&sb, &limit);
    third.expect_code(1);
    third.ensure(
        dies_launches(&sb) == 3,
        "the window slides: only the second launch was within the last 2 s, so a third is allowed",
    );
    let fourth = dying_check(&sb, &limit);
    fourth.expect_sane();
    fourth.ensure(dies_launches(&sb) == 3, "two launches within 2 s: parked");
}

/// The wall clock jumping (an NTP step, a wrong date fixed by hand) must neither shorten nor
/// stretch the crash-loop window: it is counted on CLOCK_BOOTTIME. Two launches are made at
/// the real time; the third check runs with the wall clock 2 hours ahead, then 2 hours
/// behind (libfaketime, monotonic and boot clocks left real). A window counted on the wall
/// clock would see no recent launch and relaunch; ours parks.
#[test]
fn a_wall_clock_jump_does_not_move_the_crash_loop_window() {
    if !std::path::Path::new("/usr/bin/faketime").exists() {
        eprintln!(
            "SKIPPED: /usr/bin/faketime is missing (Debian package faketime; scripts/test installs it)"
        );
        return;
    }
    for jump in ["+2h", "-2h"] {
        let sb = Sandbox::new("crash_loop_clock_jump");
        let limit = ["--max-launches", "2", "--within", "1h"];
        for _ in 0..2 {
            dying_check(&sb, &limit).expect_code(1);
        }
        assert_eq!(dies_launches(&sb), 2);
        let run = sb
            .check(&sb.prog("dies.sh", &["exit", "3"]))
            .args(limit)
            .wrap([
                "/usr/bin/env",
                "FAKETIME_DONT_FAKE_MONOTONIC=1",
                "/usr/bin/faketime",
                "-f",
                jump,
            ])
            .run();
        run.expect_code(1);
        run.ensure(
            has_word(&run.err(), "parked"),
            &format!("with the wall clock at {jump}, the third check must park"),
        );
        assert_eq!(
            dies_launches(&sb),
            2,
            "nothing may be launched after the jump ({jump})"
        );
    }
}
