//! The apps booted as images: under QEMU TCG always; under uhyve and under
//! QEMU with KVM when the machine has /dev/kvm (and uhyve), with small
//! workloads, since /dev/kvm may be a slow software virtualiser.

use chanos_tests::{app_dir, boot_command, build_images};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const APPS: &[&str] = &[
    "hello", "sieve", "primes", "vending", "deadlock", "faults", "sleep", "args", "tour", "echo",
    "http", "pingpong", "kahn", "chorus",
];

/// Builds every image once per test process.
fn images() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_images(APPS)).clone()
}

struct Boot {
    status: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
}

/// Boots `app` with `args` the way `scripts/run` does (same QEMU command,
/// same exit-status mapping), under `how`: "tcg", "kvm" or "uhyve".
fn boot(how: &str, app: &str, args: &[&str]) -> Boot {
    boot_on_cpus(1, how, app, args)
}

/// [`boot`], with `cpus` CPUs (`scripts/run --cores`).
fn boot_on_cpus(cpus: u32, how: &str, app: &str, args: &[&str]) -> Boot {
    let boot = match how {
        "uhyve" => "boot_uhyve",
        accel => &format!("boot_qemu {accel}"),
    };
    let start = Instant::now();
    let setup = format!("BOOT_CPUS={cpus}");
    let out: Output = boot_command(&setup, boot, &images().join(app), args, Some(120))
        .output()
        .expect("bash runs");
    Boot {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall: start.elapsed(),
    }
}

fn tcg(app: &str, args: &[&str]) -> Boot {
    boot("tcg", app, args)
}

/// Asserts that the boot ended with `status` and printed each of `texts`.
fn assert_printed(b: &Boot, status: i32, texts: &[&str]) {
    assert_eq!(b.status, status, "{}{}", b.stdout, b.stderr);
    for text in texts {
        assert!(b.stdout.contains(text), "{text:?} missing:\n{}", b.stdout);
    }
}

#[test]
fn hello_boots_and_exits_0() {
    let b = tcg("hello", &[]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert_eq!(
        b.stdout,
        "Hello from chanos: a task said this over a channel.\n"
    );
}

#[test]
fn the_readme_api_screen_boots() {
    let b = tcg("tour", &[]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert!(b.stdout.starts_with("got 1\n"), "{}", b.stdout);
}

#[test]
fn sieve_100_ends_with_541() {
    let b = tcg("sieve", &["100"]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert_eq!(b.stdout.lines().count(), 100);
    assert_eq!(b.stdout.lines().last(), Some("541"));
}

#[test]
fn the_worker_pool_counts_right_on_1_and_2_cpus() {
    // How the chunks were shared on 2 depends on the host's load (a woken
    // CPU may come too late to take any): only the count must be right.
    for (cpus, said) in [(1, "one core only"), (2, "\n2 cores: ")] {
        let b = boot_on_cpus(cpus, "tcg", "primes", &["100000", "--rounds", "1"]);
        assert_eq!(b.status, 0, "{cpus} CPUs: {}{}", b.stdout, b.stderr);
        assert!(
            b.stdout.contains("primes below 100000: 9592\n") && b.stdout.contains(said),
            "{cpus} CPUs: {}",
            b.stdout
        );
    }
}

#[test]
fn every_cpu_runs_a_core_and_channels_cross_them_with_2_and_4_cpus() {
    for cpus in [2, 4] {
        let b = boot_on_cpus(cpus, "tcg", "pingpong", &["2000", "cross"]);
        assert_eq!(b.status, 0, "{cpus} CPUs: {}{}", b.stdout, b.stderr);
        assert!(
            b.stdout.starts_with("bench cross_core_rt "),
            "{cpus} CPUs: {}",
            b.stdout
        );
    }
}

/// Generated Kahn networks (the model-based test's, `kahn::strategy`),
/// booted on 2 and 4 CPUs with their tasks spread over the cores: every
/// task's outcomes are the model's, and a network the model blocks ends in
/// the deadlock report naming each blocked task, its core and its wait.
#[test]
fn kahn_networks_booted_on_several_cpus_match_the_model() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let seed = [7u8; 32];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let (mut ended, mut deadlocked, mut spread) = (0, 0, 0);
    for case in 0..40 {
        let net = kahn::strategy::network()
            .new_tree(&mut runner)
            .expect("a network")
            .current();
        spread += usize::from(net.placement.iter().any(|&core| core > 0));
        let model = net.model();
        let cpus = if case % 2 == 0 { 2 } else { 4 }.max(net.cores as u32);
        let args = net.to_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let b = boot_on_cpus(cpus, "tcg", "kahn", &args);
        let context = format!("{net:?} on {cpus} CPUs:\n{}{}", b.stdout, b.stderr);
        let mut seen = vec![Vec::new(); net.scripts.len()];
        for line in b.stdout.lines() {
            if let Some((task, outcome)) = line.strip_prefix('t').and_then(|l| l.split_once(' ')) {
                seen[task.parse::<usize>().expect(&context)].push(outcome.to_string());
            }
        }
        let expected: Vec<Vec<String>> = model
            .outcomes
            .iter()
            .map(|task| task.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(seen, expected, "{context}");
        let blocked = model.blocked(&net);
        if blocked.is_empty() {
            assert_eq!(b.status, 0, "{context}");
            assert!(b.stdout.ends_with("done\n"), "{context}");
            ended += 1;
            continue;
        }
        assert_eq!(b.status, 2, "{context}");
        // The report names cores once the blocked tasks are on several.
        let names_cores = b.stdout.contains("\" on core ");
        for t in blocked {
            let op = net.scripts[t][model.progress[t]];
            let core = net.placement[t];
            let said = match names_cores {
                true => format!("\"t{t}\" on core {core} waits to {}", kahn::describe(op)),
                false => format!("\"t{t}\" waits to {}", kahn::describe(op)),
            };
            assert!(
                names_cores || core == 0,
                "t{t} is on core {core}: {context}"
            );
            assert!(b.stdout.contains(&said), "{said} missing: {context}");
        }
        deadlocked += 1;
    }
    // The seed gives both kinds of network, and tasks off core 0.
    println!("{ended} ended, {deadlocked} deadlocked, {spread} spread over cores");
    assert!(
        ended > 0 && deadlocked > 0 && spread > 0,
        "{ended} ended, {deadlocked} deadlocked, {spread} spread over cores"
    );
}

#[test]
fn a_fault_on_a_secondary_cpu_ends_the_image_with_its_report() {
    let on_cpu_1 = |mode| boot_on_cpus(2, "tcg", "faults", &[mode, "1"]);
    assert_printed(
        &on_cpu_1("null"),
        102,
        &[
            "chanos: CPU exception on CPU 1: page fault (#PF)",
            "null pointer, in task 0 \"scribbler\" on core 1",
        ],
    );
    assert_printed(
        &on_cpu_1("overflow"),
        102,
        &["stack overflow: the kernel stack ran into its guard page, in task 0 \"recurser\" on core 1"],
    );
    assert_printed(
        &on_cpu_1("panic"),
        101,
        &["task 0 \"worker\" on core 1 panicked"],
    );
    assert_printed(
        &on_cpu_1("oom"),
        103,
        &[
            "chanos: out of memory on CPU 1: a request for",
            "  in task 0 \"hoarder\" on core 1",
        ],
    );
}

#[test]
fn a_deadlock_across_cpus_is_reported_with_each_tasks_core() {
    assert_printed(
        &boot_on_cpus(2, "tcg", "deadlock", &["1"]),
        2,
        &[
            "task 1 \"left\" on core 0 waits to receive on channel \"right to left\"",
            "task 0 \"right\" on core 1 waits to receive on channel \"left to right\"",
        ],
    );
}

#[test]
fn console_lines_from_4_cpus_at_once_never_mix() {
    let b = boot_on_cpus(4, "tcg", "chorus", &["300"]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    let mut seen = [0usize; 4];
    for line in b.stdout.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let whole = match words[..] {
            ["core", core, "line", _, tail] => core.parse::<usize>().ok().filter(|&c| {
                c < 4 && tail.len() == 60 && tail.bytes().all(|d| usize::from(d - b'0') == c)
            }),
            _ => None,
        };
        let core = whole.unwrap_or_else(|| panic!("a broken line: {line:?}"));
        seen[core] += 1;
    }
    assert_eq!(seen, [300; 4], "{}", b.stdout);
}

#[test]
fn idle_cpus_halt_an_idle_4_cpu_image_uses_next_to_no_host_cpu() {
    // `times` prints the CPU time of the shell's children: QEMU's.
    let script = format!(
        "source '{}/scripts/lib.sh' && BOOT_CPUS=4 boot_qemu tcg '{}' 2000; status=$?; times; exit $status",
        chanos_tests::workspace_root().display(),
        images().join("sleep").display()
    );
    let mut command = Command::new("timeout");
    command.args(["120", "bash", "-c", &script]);
    chanos_tests::ends_with_test(&mut command);
    let out = command.output().expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let children = text.lines().last().expect("times prints two lines");
    let seconds: f64 = children
        .split_whitespace()
        .map(|t| {
            let (minutes, rest) = t.split_once('m').expect("NmS.SSSs");
            minutes.parse::<f64>().unwrap() * 60.0
                + rest.trim_end_matches('s').parse::<f64>().unwrap()
        })
        .sum();
    // Four CPUs spinning for 2 s would take 4 s of this machine's 2 CPUs.
    assert!(
        seconds < 0.8,
        "an image idle on 4 CPUs for 2 s used {seconds} s of host CPU: {text}"
    );
}

#[test]
fn vending_machine_takes_coins_only() {
    let b = tcg("vending", &[]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert!(
        b.stdout.contains("VMS: coin 10 times, card 0 times"),
        "{}",
        b.stdout
    );
    assert!(b.stdout.contains("VMC: coin "), "{}", b.stdout);
}

#[test]
fn deadlock_exits_2_with_the_report() {
    let b = tcg("deadlock", &[]);
    assert_eq!(b.status, 2, "{}{}", b.stdout, b.stderr);
    assert!(
        b.stdout
            .contains("chanos: deadlock! all 3 tasks are asleep"),
        "{}",
        b.stdout
    );
    assert!(
        b.stdout
            .contains("task 1 \"left\" waits to receive on channel \"right to left\""),
        "{}",
        b.stdout
    );
    assert!(
        b.stdout.contains("task 2 \"right\" waits to receive"),
        "{}",
        b.stdout
    );
}

#[test]
fn a_panicking_task_is_reported_and_exits_101() {
    let b = tcg("faults", &["panic"]);
    assert_eq!(b.status, 101, "{}{}", b.stdout, b.stderr);
    assert!(
        b.stdout
            .contains("chanos: task 1 \"worker\" on core 0 panicked at apps/faults/src/main.rs"),
        "{}",
        b.stdout
    );
    assert!(b.stdout.contains("worker cannot handle 42"), "{}", b.stdout);
}

#[test]
fn main_returning_an_error_exits_1() {
    let b = tcg("faults", &["error"]);
    assert_eq!(b.status, 1, "{}{}", b.stdout, b.stderr);
    assert!(b.stdout.contains("main gave up on purpose"), "{}", b.stdout);
}

#[test]
fn a_null_pointer_write_is_a_readable_page_fault_report() {
    let b = tcg("faults", &["null"]);
    assert_eq!(b.status, 102, "{}{}", b.stdout, b.stderr);
    let report = b
        .stdout
        .lines()
        .find(|l| l.starts_with("chanos: CPU exception"))
        .expect(&b.stdout);
    assert!(report.contains("page fault (#PF) at RIP 0x"), "{report}");
    assert!(
        report.contains("writing address (CR2) 0x0: null pointer"),
        "{report}"
    );
    assert!(report.contains("in task 1 \"scribbler\""), "{report}");
}

#[test]
fn a_write_beyond_ram_faults_because_only_ram_is_mapped() {
    let b = tcg("faults", &["wild"]);
    assert_eq!(b.status, 102, "{}{}", b.stdout, b.stderr);
    assert!(
        b.stdout.contains(
            "writing address (CR2) 0xc0000000: address not mapped, in task 1 \"wanderer\""
        ),
        "{}",
        b.stdout
    );
}

#[test]
fn unbounded_recursion_is_reported_as_a_stack_overflow() {
    let b = tcg("faults", &["overflow"]);
    assert_eq!(b.status, 102, "{}{}", b.stdout, b.stderr);
    assert!(
        b.stdout
            .contains("stack overflow: the kernel stack ran into its guard page"),
        "{}",
        b.stdout
    );
    assert!(b.stdout.contains("in task 1 \"recurser\""), "{}", b.stdout);
    assert!(!b.stdout.contains("unreachable"));
}

#[test]
fn running_out_of_memory_reports_the_request_and_the_heap() {
    let b = tcg("faults", &["oom"]);
    assert_eq!(b.status, 103, "{}{}", b.stdout, b.stderr);
    let report = b
        .stdout
        .lines()
        .find(|l| l.starts_with("chanos: out of memory"))
        .expect(&b.stdout);
    assert!(report.contains("a request for "), "{report}");
    assert!(report.contains("the heap has "), "{report}");
    assert!(
        b.stdout.contains("  in task 1 \"hoarder\" on core 0"),
        "{}",
        b.stdout
    );
}

#[test]
fn sleeping_1s_takes_at_least_1s_and_exits_0() {
    let b = tcg("sleep", &["1000"]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert!(b.wall >= Duration::from_secs(1), "took {:?}", b.wall);
    let slept: u64 = b
        .stdout
        .trim()
        .strip_prefix("slept ")
        .and_then(|s| s.strip_suffix(" ms"))
        .and_then(|s| s.parse().ok())
        .expect(&b.stdout);
    assert!(slept >= 1000, "{}", b.stdout);
}

#[test]
fn arguments_reach_the_app() {
    let b = tcg("args", &["alpha", "--beta", "3"]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert_eq!(b.stdout, "3 arguments\n0: alpha\n1: --beta\n2: 3\n");
}

#[test]
fn an_image_writes_the_same_bytes_as_the_hosted_app() {
    let args = ["one", "-2", "three"];
    let hosted = Command::new(app_dir().join("args"))
        .args(args)
        .output()
        .expect("the hosted app runs");
    assert!(hosted.status.success());
    let b = tcg("args", &args);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert_eq!(
        b.stdout.as_bytes(),
        hosted.stdout.as_slice(),
        "booted: {:?}, hosted: {:?}",
        b.stdout,
        String::from_utf8_lossy(&hosted.stdout)
    );
    assert!(!b.stdout.contains('\r'), "{:?}", b.stdout);
}

#[test]
fn a_qemu_that_fails_to_start_is_said_in_one_line_with_its_message() {
    let missing = std::env::temp_dir().join("chanos-no-such-image");
    let out = boot_command("", "boot_qemu tcg", &missing, &[], Some(60))
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: QEMU failed"))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"));
    assert!(line.contains("before the app could exit: qemu"), "{line}");
    assert!(line.contains("could not open kernel file"), "{line}");
    assert!(!stderr.contains("Aborted"), "{stderr}");
}

#[test]
fn the_log_reaches_the_console_with_the_boot_time() {
    let b = tcg("hello", &["chanos.log=debug"]);
    assert_eq!(b.status, 0, "{}{}", b.stdout, b.stderr);
    assert!(
        b.stdout
            .contains("DEBUG chanos::__private] boot: first instruction to main in "),
        "{}",
        b.stdout
    );
    assert!(b.stdout.contains("Hello from chanos"), "{}", b.stdout);
}

// ---- uhyve and QEMU with KVM: where the machine has them ----

fn kvm_missing() -> Option<&'static str> {
    (!std::path::Path::new("/dev/kvm").exists()).then_some("there is no /dev/kvm")
}

fn uhyve_missing() -> Option<String> {
    if let Some(reason) = kvm_missing() {
        return Some(reason.into());
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let found = Command::new("bash")
        .args(["-c", "command -v uhyve"])
        .output()
        .is_ok_and(|o| o.status.success())
        || std::path::Path::new(&home)
            .join(".cargo/bin/uhyve")
            .exists();
    (!found)
        .then(|| "uhyve is not installed (scripts/test installs it where /dev/kvm exists)".into())
}

fn small_workloads(how: &str) {
    let b = boot(how, "hello", &[]);
    assert_eq!(b.status, 0, "{how}: {}{}", b.stdout, b.stderr);
    assert!(
        b.stdout.contains("Hello from chanos"),
        "{how}: {}",
        b.stdout
    );
    let b = boot(how, "sieve", &["20", "--last"]);
    assert_eq!(
        (b.status, b.stdout.trim()),
        (0, "71"),
        "{how}: {}",
        b.stderr
    );
    let b = boot(how, "args", &["one", "-2"]);
    assert_eq!(
        b.stdout, "2 arguments\n0: one\n1: -2\n",
        "{how}: {}",
        b.stderr
    );
    let b = boot(how, "deadlock", &[]);
    assert_eq!(b.status, 2, "{how}: {}{}", b.stdout, b.stderr);
    let b = boot_on_cpus(2, how, "pingpong", &["20", "cross"]);
    assert_eq!(b.status, 0, "{how}, 2 CPUs: {}{}", b.stdout, b.stderr);
    assert!(
        b.stdout.starts_with("bench cross_core_rt "),
        "{how}, 2 CPUs: {}",
        b.stdout
    );
}

/// How long `sleep 1000` sleeps by the host's clock under `how`: from the
/// line the image logs as `main` starts to the line it prints on waking,
/// each timed as it arrives (so boot time does not count).
fn host_time_of_a_1s_sleep(how: &str) -> Duration {
    use std::io::{BufRead, BufReader};
    let boot = match how {
        "uhyve" => "boot_uhyve".to_string(),
        accel => format!("boot_qemu {accel}"),
    };
    let image = images().join("sleep");
    let mut child = boot_command("", &boot, &image, &["1000", "chanos.log=debug"], Some(120))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs");
    let (mut started, mut woke) = (None, None);
    let mut seen = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map_while(Result::ok)
    {
        if line.contains("first instruction to main") {
            started = Some(Instant::now());
        }
        if line.starts_with("slept ") {
            woke = Some(Instant::now());
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(child.wait().expect("bash ends").success(), "{how}: {seen}");
    match (started, woke) {
        (Some(started), Some(woke)) => woke - started,
        _ => panic!("{how}: no start or wake-up line in {seen}"),
    }
}

#[test]
fn the_clock_keeps_the_hosts_time_under_kvm_and_uhyve() {
    let mut places = Vec::new();
    match kvm_missing() {
        Some(reason) => println!("QEMU with KVM skipped: {reason}"),
        None => places.push("kvm"),
    }
    match uhyve_missing() {
        Some(reason) => println!("uhyve skipped: {reason}"),
        None => places.push("uhyve"),
    }
    for how in places {
        let slept = host_time_of_a_1s_sleep(how);
        assert!(
            slept >= Duration::from_millis(900) && slept <= Duration::from_millis(1100),
            "{how}: a 1000 ms sleep took {slept:?} of host time"
        );
    }
}

#[test]
fn uhyve_boots_small_workloads() {
    if let Some(reason) = uhyve_missing() {
        println!("skipped: {reason}");
        return;
    }
    small_workloads("uhyve");
}

#[test]
fn qemu_with_kvm_boots_small_workloads() {
    if let Some(reason) = kvm_missing() {
        println!("skipped: {reason}");
        return;
    }
    small_workloads("kvm");
}
