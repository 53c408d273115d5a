//! The benchmark report writer turns recorded rounds into the report: the
//! goals judged from the medians, the table with ratios, and the plot.

use chanos_tests::{ends_with_test, workspace_root, Tag};
use std::process::Command;

#[test]
fn the_report_judges_goals_and_computes_ratios_from_the_rounds() {
    let dir = std::env::temp_dir().join(format!("chanos-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("rounds.csv");
    std::fs::write(
        &csv,
        "round,system,metric,value,unit\n\
         1,\"chanos (hosted)\",pingpong_rendezvous_rt,30,ns\n\
         2,\"chanos (hosted)\",pingpong_rendezvous_rt,50,ns\n\
         3,\"chanos (hosted)\",pingpong_rendezvous_rt,40,ns\n\
         1,\"Go GOMAXPROCS=1\",pingpong_rendezvous_rt,400,ns\n\
         2,\"Go GOMAXPROCS=1\",pingpong_rendezvous_rt,300,ns\n\
         3,\"Go GOMAXPROCS=1\",pingpong_rendezvous_rt,360,ns\n\
         1,\"chanos (hosted)\",throughput_1p,2000000,msg/s\n\
         1,\"Go GOMAXPROCS=1\",throughput_1p,1000000,msg/s\n\
         1,\"chanos (hosted)\",spawn_join,90,ns\n\
         1,\"chanos (hosted)\",primes_1_core,400,ms\n\
         1,\"chanos (hosted)\",primes_2_cores,200,ms\n\
         1,\"Go GOMAXPROCS=1\",primes_1_core,450,ms\n\
         1,\"Go GOMAXPROCS=2\",primes_2_cores,300,ms\n\
         1,\"chanos (hosted)\",http_requests_per_sec,60000,req/s\n\
         1,\"chanos (hosted, 1 core)\",http_requests_per_sec,50000,req/s\n\
         1,\"Go GOMAXPROCS=2\",http_requests_per_sec,40000,req/s\n\
         1,\"chanos (hosted)\",echo_throughput,450,MB/s\n\
         1,\"Go GOMAXPROCS=2\",echo_throughput,500,MB/s\n",
    )
    .unwrap();
    let (md, svg) = (dir.join("report.md"), dir.join("plot.svg"));
    let status = Command::new("python3")
        .arg(workspace_root().join("scripts/bench_report.py"))
        .args([
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            md.to_str().unwrap(),
        ])
        .args([
            "--svg",
            svg.to_str().unwrap(),
            "--command",
            "test",
            "--kvm-note",
            "none",
        ])
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let report = std::fs::read_to_string(&md).unwrap();
    // Medians: chanos 40 ns, Go 360 ns: 9.0x, and the 40 ns goal is met.
    assert!(
        report.contains("| hosted ping-pong round trip at most 40 ns | 40.0 ns | met |"),
        "{report}"
    );
    assert!(
        report.contains("| at least 6x faster than Go, GOMAXPROCS=1 | 9.0x | met |"),
        "{report}"
    );
    assert!(
        report.contains("| spawn + join at most 60 ns | 90.0 ns | **not met** |"),
        "{report}"
    );
    // Speed-ups: chanos 400 / 200 ms, Go 450 / 300 ms.
    assert!(
        report.contains(
            "| worker pool (primes) at least 1.8x faster on 2 cores than on 1 | 2.00x | met |"
        ),
        "{report}"
    );
    assert!(
        report.contains("| worker pool speed-up at least Go's (GOMAXPROCS=1 against 2) | 2.00x against 1.50x | met |"),
        "{report}"
    );
    assert!(
        report.contains("| http keep-alive requests per second, every core, at least Go's net/http (GOMAXPROCS=2) | 1.50x (60000 against 40000); 1.20x its own on 1 core | met |"),
        "{report}"
    );
    assert!(
        report.contains("| TCP echo throughput, every core, at least Go's echo server (GOMAXPROCS=2) | 0.90x (450 against 500) | **not met** |"),
        "{report}"
    );
    assert!(
        report.contains("| Go GOMAXPROCS=1 | 360 | 300-400 | ns | 9.0x |"),
        "{report}"
    );
    // For throughput, higher is better: the ratio is chanos over the peer.
    assert!(
        report.contains("| Go GOMAXPROCS=1 | 1.0 M | 1.0 M-1.0 M | msg/s | 2.0x |"),
        "{report}"
    );
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.contains("Go GOMAXPROCS=1"),
        "{plot}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `scripts/bench --quick` runs every system and writes the whole report
/// (one round, into a scratch directory: the numbers are not checked), and
/// leaves no process behind (its servers under QEMU included).
#[test]
fn the_quick_benchmark_runs_every_system() {
    let dir = std::env::temp_dir().join(format!("chanos-bench-quick-{}", std::process::id()));
    let tag = Tag::new();
    let mut bench = Command::new("bash");
    let out = ends_with_test(tag.apply(&mut bench))
        .arg(workspace_root().join("scripts/bench"))
        .args([
            "--quick",
            "--rounds",
            "1",
            "--out-dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .expect("bash runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("failed"), "{log}");
    tag.assert_all_ended(std::time::Duration::from_secs(10));
    let report = std::fs::read_to_string(dir.join("benchmarks.md")).unwrap();
    for system in [
        "chanos (hosted)",
        "chanos image, emulated (TCG)",
        "threads: std",
        "threads: crossbeam",
        "threads: Mutex+Condvar",
        "threads: socketpair",
        "processes: pipe",
        "Tokio current_thread",
        "Tokio multi_thread",
        "Go GOMAXPROCS=1",
        "Go GOMAXPROCS=2",
    ] {
        assert!(
            report.contains(&format!("| {system} |")),
            "{system} missing:\n{report}"
        );
    }
    assert!(report.contains("## Goals"), "{report}");
    // The image on 2 and 4 CPUs: its cross-core round trip, worker pool, boot.
    for metric in [
        "round trip between core 0 and core 1",
        "primes below N by a worker pool, 2 cores",
        "boot: first instruction to main, 4 CPUs all online",
    ] {
        let row = report.lines().any(|line| {
            line.starts_with(&format!("| {metric}"))
                && line.contains("| chanos image, emulated (TCG) |")
        });
        assert!(row, "{metric} for the image missing:\n{report}");
    }
    for metric in ["TCP echo throughput", "HTTP requests per second"] {
        for system in [
            "chanos (hosted)",
            "chanos (hosted, 1 core)",
            "chanos image, emulated (TCG)",
            "Go GOMAXPROCS=2",
        ] {
            let row = report.lines().any(|line| {
                line.starts_with(&format!("| {metric}")) && line.contains(&format!("| {system} |"))
            });
            assert!(row, "{metric} for {system} missing:\n{report}");
        }
    }
    // Instructions per operation, from callgrind, for chanos and for Tokio's round trip.
    for (metric, system) in [
        ("instructions: round trip, rendezvous", "chanos (hosted)"),
        (
            "instructions: round trip, capacity 1",
            "Tokio current_thread",
        ),
        (
            "instructions: select! over two ready arms",
            "chanos (hosted)",
        ),
        ("instructions: spawn + join", "chanos (hosted)"),
        ("instructions: prime sieve, 2000 primes", "chanos (hosted)"),
        (
            "instructions: round trip, rendezvous",
            "chanos image (QEMU -icount)",
        ),
        ("instructions: spawn + join", "chanos image (QEMU -icount)"),
        (
            "instructions: prime sieve, 2000 primes",
            "chanos image (QEMU -icount)",
        ),
    ] {
        let row = report.lines().any(|line| {
            line.starts_with(&format!("| {metric}"))
                && line.contains(&format!("| {system} |"))
                && line.contains("| instr |")
        });
        assert!(row, "{metric} for {system} missing:\n{report}");
    }
    assert!(
        report.contains("| round trip, rendezvous, at most 300 instructions (callgrind) |"),
        "{report}"
    );
    assert!(dir.join("benchmarks.svg").exists() && dir.join("benchmarks.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `scripts/profile` charges a round trip's instructions to the project's
/// files: they add up to the total it prints, and the channel and the
/// executor are among them.
#[test]
fn the_profile_accounts_for_every_instruction_of_a_round_trip() {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/profile"))
        .args(["--n", "5000", "pingpong", "@N", "rendezvous"])
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let total: f64 = lines
        .next()
        .and_then(|first| first.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a total first:\n{text}"));
    let by_file: Vec<(f64, &str)> = lines
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| {
            let (n, file) = line.trim().split_once("  ").expect("count, then file");
            (n.parse().expect("a count"), file.trim())
        })
        .collect();
    let sum: f64 = by_file.iter().map(|(n, _)| n).sum();
    assert!(
        total > 100.0 && (sum - total).abs() <= 0.05 * total,
        "{text}"
    );
    for file in [
        "runtime/chanos/src/chan/wait_queue.rs",
        "runtime/chanos/src/executor/mod.rs",
    ] {
        assert!(by_file.iter().any(|(_, f)| *f == file), "{file}:\n{text}");
    }
}
