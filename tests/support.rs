//! Helpers for the integration tests.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Builds every app once per test process (hosted, debug) and returns the
/// directory holding the binaries. Uses a target directory of its own, so
/// that it never waits for the lock of the `cargo test` that runs it.
pub fn app_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = workspace_root();
        let target = root.join("target/hosted-apps");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args([
                "build",
                "--quiet",
                "--release",
                "--bins",
                "--workspace",
                "--exclude",
                "chanos-tests",
            ])
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the apps failed");
        target.join("release")
    })
    .clone()
}

/// Builds the images of `apps` through the project's own script and
/// returns their directory. Fails if the build prints a warning: clippy
/// cannot check the bare-metal code here, the compiler can.
pub fn build_images(apps: &[&str]) -> PathBuf {
    let root = workspace_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/image"))
        .args(apps)
        .output()
        .expect("bash runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scripts/image failed:\n{log}");
    assert!(!log.contains("warning"), "the image build warns:\n{log}");
    root.join("target/image/x86_64-unknown-none/release")
}

/// The command that boots `image` with `args` through the project's own
/// shell functions, as `scripts/run` does: `setup` (e.g. `qemu_forward
/// 8080:80 &&`, or nothing) runs first, then `boot` (`boot_qemu tcg`,
/// `boot_qemu kvm`, `boot_uhyve`). With `limit`, it is stopped after that
/// many seconds.
pub fn boot_command(
    setup: &str,
    boot: &str,
    image: &Path,
    args: &[&str],
    limit: Option<u32>,
) -> Command {
    let script = format!(
        "source '{}/scripts/lib.sh' && {setup} {boot} \"$@\"",
        workspace_root().display()
    );
    let mut command = match limit {
        Some(seconds) => {
            let mut timeout = Command::new("timeout");
            timeout.arg(seconds.to_string()).arg("bash");
            timeout
        }
        None => Command::new("bash"),
    };
    command.args(["-c", &script, "boot"]).arg(image).args(args);
    ends_with_test(&mut command);
    command
}

/// Makes `command`'s process end when the test thread that starts it ends
/// (Linux's parent-death signal), even when the test process is killed and
/// cannot clean up. The project's scripts do the same for the QEMU or uhyve
/// they start (`DIE_WITH_PARENT` in scripts/lib.sh).
pub fn ends_with_test(command: &mut Command) -> &mut Command {
    // SAFETY: between fork and exec the closure only calls prctl, which is
    // async-signal-safe, and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// A mark in the environment of the processes a test starts (they pass it
/// on to theirs), so that the test can tell afterwards whether any of them
/// outlived it: QEMU behind a script, a server behind `timeout`.
#[derive(Debug)]
pub struct Tag(String);

const TAG_VARIABLE: &str = "CHANOS_TEST_TAG";

impl Tag {
    /// A tag no other test of any test process uses.
    #[allow(clippy::new_without_default)] // each one is different
    pub fn new() -> Tag {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Tag(format!("{}-{n}", std::process::id()))
    }

    /// Puts the tag into `command`'s environment.
    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.env(TAG_VARIABLE, &self.0)
    }

    /// The processes carrying the tag now: their pid and command line.
    pub fn running(&self) -> Vec<String> {
        let wanted = format!("{TAG_VARIABLE}={}", self.0);
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            // A zombie's environment reads empty: it has ended.
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                found.push(format!("{} {cmdline}", entry.file_name().to_string_lossy()));
            }
        }
        found
    }

    /// Waits up to `wait` for every tagged process to end; panics naming
    /// those still running.
    pub fn assert_all_ended(&self, wait: Duration) {
        let start = Instant::now();
        loop {
            let running = self.running();
            if running.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < wait,
                "processes outlived their test: {running:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs app `name` with `args`, with a time limit, and returns its output.
pub fn run_app(name: &str, args: &[&str]) -> Output {
    run_app_with_env(name, args, &[])
}

/// Like `run_app`, with extra environment variables.
pub fn run_app_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let binary = app_dir().join(name);
    Command::new("timeout")
        .arg("60")
        .arg(&binary)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()))
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
