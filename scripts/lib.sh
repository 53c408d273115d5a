# Shared helpers of chanos's scripts. Source it; do not run it.

# The repository's root, whatever the caller's working directory.
CHANOS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CHANOS_ROOT

# say MESSAGE: a progress line on stderr.
say() { printf '==> %s\n' "$*" >&2; }

# die STATUS MESSAGE: an error on stderr, then exit with STATUS.
die() {
    local status=$1
    shift
    printf 'error: %s\n' "$*" >&2
    exit "$status"
}

# The hosted build uses the machine's Rust toolchain (rustup's cargo).
ensure_host_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        die 69 "cargo was not found. Install Rust (https://rustup.rs, or 'apt-get install cargo rustc') and run this again."
    fi
}
