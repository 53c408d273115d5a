//! The apps behave as their docs say, run as hosted programs.

use chanos_tests::{run_app, run_app_with_env, stderr, stdout};

#[test]
fn hello_prints_the_greeting_it_received() {
    let out = run_app("hello", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Hello from chanos: a task said this over a channel.\n"
    );
}

#[test]
fn sieve_2000_ends_with_17389() {
    let out = run_app("sieve", &["2000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2000);
    assert_eq!(&lines[..5], ["2", "3", "5", "7", "11"]);
    assert_eq!(lines.last(), Some(&"17389"));
}

#[test]
fn sieve_100_ends_with_541_and_rejects_bad_arguments() {
    let out = run_app("sieve", &["100", "--last"]);
    assert_eq!(stdout(&out), "541\n");
    let bad = run_app("sieve", &["many"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(stderr(&bad).contains("usage: sieve"), "{}", stderr(&bad));
}

#[test]
fn sieve_spread_over_cores_prints_the_same_primes() {
    let alone = run_app("sieve", &["300"]);
    for cores in ["2", "3"] {
        let out = run_app_with_env("sieve", &["300", "--spread"], &[("CHANOS_CORES", cores)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&alone), "on {cores} cores");
    }
}

#[test]
fn primes_counts_alike_on_one_core_and_on_every_core_and_prints_the_speed_up() {
    // 9592 primes below 100000; both sides' counts are checked by the app.
    let out = run_app_with_env(
        "primes",
        &["100000", "--chunk", "1000", "--rounds", "2", "--bench"],
        &[("CHANOS_CORES", "3")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("primes below 100000: 9592\n"), "{text}");
    assert!(text.contains("bench primes_1_core "), "{text}");
    assert!(text.contains("bench primes_3_cores "), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("3 cores: "))
        .unwrap_or_else(|| panic!("no 3-core line: {text}"));
    assert!(line.contains("speed-up"), "{line}");
    // Every chunk was counted once, wherever it went: 100 in all.
    let chunks = line
        .split("chunks [")
        .nth(1)
        .and_then(|r| r.split(']').next());
    let total: u32 = chunks
        .unwrap_or_else(|| panic!("no chunk counts: {line}"))
        .split(", ")
        .map(|n| n.parse::<u32>().unwrap())
        .sum();
    assert_eq!(total, 100, "{line}");

    let one = run_app_with_env("primes", &["1000"], &[("CHANOS_CORES", "1")]);
    assert!(
        stdout(&one).contains("primes below 1000: 168\n"),
        "{}",
        stdout(&one)
    );
    assert!(stdout(&one).contains("one core only"), "{}", stdout(&one));
    for bad in [
        &["lots"][..],
        &["--chunk", "0"],
        &["10", "20"],
        &["4294967295"],
    ] {
        let out = run_app("primes", bad);
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        assert!(stderr(&out).contains("usage: primes"), "{}", stderr(&out));
    }
}

#[test]
fn the_read_mostly_table_runs_through_its_owner_and_through_copies_on_3_cores() {
    // The replicas mode checks that every copy ends equal to the writer's.
    for (mode, metric) in [
        ("table-owner", "table_via_task_3"),
        ("table-replicas", "table_replicas_3"),
    ] {
        let out = run_app_with_env("microbench", &[mode, "3000"], &[("CHANOS_CORES", "3")]);
        let text = stdout(&out);
        assert!(out.status.success(), "{mode}: {text}{}", stderr(&out));
        assert!(text.contains(&format!("bench {metric} ")), "{text}");
    }
}

#[test]
fn deadlock_exits_2_naming_both_tasks_and_their_channels() {
    let out = run_app("deadlock", &[]);
    assert_eq!(out.status.code(), Some(2));
    let report = stderr(&out);
    assert!(report.contains("deadlock!"), "{report}");
    assert!(
        report.contains("task 0 \"main\" waits to join task 1 \"left\""),
        "{report}"
    );
    assert!(
        report.contains("\"left\" waits to receive on channel \"right to left\" (capacity 0, made at apps/deadlock/src/main.rs:"),
        "{report}"
    );
    assert!(
        report.contains("\"right\" waits to receive on channel \"left to right\""),
        "{report}"
    );
    assert!(!stdout(&out).contains("unreachable"));
}

#[test]
fn a_panicking_task_ends_the_program_with_its_name_and_message() {
    let out = run_app("faults", &["panic"]);
    assert_eq!(out.status.code(), Some(101));
    let report = stderr(&out);
    assert!(
        report.contains("task 1 \"worker\" on core 0 panicked at apps/faults/src/main.rs"),
        "{report}"
    );
    assert!(report.contains("worker cannot handle 42"), "{report}");
}

#[test]
fn main_returning_an_error_exits_1() {
    let out = run_app("faults", &["error"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("main gave up on purpose"));
}

#[test]
fn vending_machine_never_takes_a_card_and_a_card_only_customer_deadlocks() {
    let out = run_app("vending", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("VMS: coin 10 times, card 0 times"), "{text}");
    let both = text
        .lines()
        .find(|l| l.starts_with("VMC:"))
        .expect("a VMC line");
    let counts: Vec<u32> = both
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{both}");
    assert_eq!(counts[0] + counts[1], 1000, "{both}");
    assert!(
        counts[0] > 350 && counts[1] > 350,
        "choice is not fair: {both}"
    );

    let stuck = run_app("vending", &["card-only"]);
    assert_eq!(stuck.status.code(), Some(2));
    let report = stderr(&stuck);
    assert!(
        report.contains("\"customer\" waits to send on channel \"card\""),
        "{report}"
    );
    assert!(
        report.contains("\"VMS\" waits to receive on channel \"coin\""),
        "{report}"
    );
}

#[test]
fn pingpong_prints_both_round_trips() {
    let out = run_app("pingpong", &["1000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for metric in ["pingpong_rendezvous_rt", "pingpong_cap1_rt"] {
        let line = text.lines().find(|l| l.contains(metric)).expect(metric);
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], "bench");
        assert_eq!(fields[3], "ns");
        let ns: f64 = fields[2].parse().expect("a number");
        assert!(ns > 0.0, "{line}");
    }
}

#[test]
fn the_log_level_comes_from_chanos_log_and_a_bad_one_is_named() {
    let out = run_app_with_env("hello", &[], &[("CHANOS_LOG", "loud")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("log level \"loud\" is not one of"),
        "{}",
        stderr(&out)
    );
    let debug = run_app_with_env("hello", &[], &[("CHANOS_LOG", "debug")]);
    assert_eq!(debug.status.code(), Some(0));
    let log = stderr(&debug);
    assert!(
        log.contains("DEBUG chanos::__private] platform: hosted"),
        "{log}"
    );
    let quiet = run_app("hello", &[]);
    assert_eq!(stderr(&quiet), "", "warn is the default: nothing to say");
}

#[test]
fn the_readme_api_screen_runs() {
    let out = run_app("tour", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("got 1\n"), "{}", stdout(&out));
}
