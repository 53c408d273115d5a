//! Helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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
    command
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
