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

# ---- the bootable image ----

# run_as_root CMD...: runs CMD as root (directly, or through sudo).
run_as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

APT_UPDATED=""
# apt_install PACKAGE... : installs Debian packages, saying so first.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ -z "$APT_UPDATED" ]; then
        run_as_root apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive run_as_root apt-get install -y -qq "$@" >&2
}

# ensure_qemu: QEMU for x86_64 (Debian's qemu-system-x86).
ensure_qemu() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 && return 0
    say "installing QEMU (apt: qemu-system-x86) to boot images"
    apt_install qemu-system-x86 ||
        die 69 "QEMU is missing and could not be installed: install qemu-system-x86 (Debian) or qemu-system-x86_64, then run this again."
}

# ensure_uhyve: uhyve, built from the crate registry.
ensure_uhyve() {
    command -v uhyve >/dev/null 2>&1 && return 0
    [ -x "$HOME/.cargo/bin/uhyve" ] && return 0
    ensure_host_rust
    say "installing uhyve (cargo install uhyve --locked: a few minutes on 2 cores)"
    cargo install uhyve --locked --quiet >&2 ||
        die 69 "uhyve could not be installed: run 'cargo install uhyve --locked' and look at its errors."
}

uhyve_bin() {
    command -v uhyve 2>/dev/null || echo "$HOME/.cargo/bin/uhyve"
}

# The image toolchain, chosen once: rustup's target x86_64-unknown-none if it
# is installed, else Debian's rustc-web + cargo-web + rust-web-src (a matching
# compiler and library source, used with -Zbuild-std), installed when missing.
# Sets IMAGE_CARGO, IMAGE_RUSTC, IMAGE_BUILD_STD and IMAGE_LINKER.
ensure_image_toolchain() {
    if command -v rustup >/dev/null 2>&1 &&
        rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-none; then
        IMAGE_CARGO=cargo
        IMAGE_RUSTC=$(rustup which rustc)
        IMAGE_BUILD_STD=()
        say "image toolchain: rustup's $("$IMAGE_RUSTC" --version | cut -d' ' -f2) with its x86_64-unknown-none target"
    else
        if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library/core ]; then
            say "installing Debian's Rust with its library source (apt: rustc-web cargo-web rust-web-src), to build core and alloc for x86_64-unknown-none"
            apt_install rustc-web cargo-web rust-web-src ||
                die 69 "no image toolchain: either 'rustup target add x86_64-unknown-none', or install Debian's rustc-web, cargo-web and rust-web-src."
        fi
        IMAGE_CARGO=/usr/bin/cargo
        IMAGE_RUSTC=/usr/bin/rustc
        IMAGE_BUILD_STD=(-Zbuild-std=core,alloc -Zbuild-std-features=compiler-builtins-mem)
        say "image toolchain: Debian's $("$IMAGE_RUSTC" --version | cut -d' ' -f2) building core and alloc from /usr/lib/rustlib/src/rust"
    fi
    IMAGE_LINKER=""
    local sysroot
    for sysroot in "$("$IMAGE_RUSTC" --print sysroot 2>/dev/null)" "$(rustc +stable --print sysroot 2>/dev/null)"; do
        if [ -n "$sysroot" ] && [ -x "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld" ]; then
            IMAGE_LINKER="$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
            break
        fi
    done
    if [ -z "$IMAGE_LINKER" ]; then
        if ! command -v ld.lld >/dev/null 2>&1; then
            say "installing LLVM's linker (apt: lld): no rust-lld was found"
            apt_install lld || die 69 "no linker for the image: install rustup's stable toolchain (it ships rust-lld) or Debian's lld."
        fi
        IMAGE_LINKER=$(command -v ld.lld)
    fi
}

# build_images APP...: builds the images of the apps; they land in
# $CHANOS_ROOT/target/image/x86_64-unknown-none/release/APP.
build_images() {
    ensure_image_toolchain
    local packages=() app
    for app in "$@"; do packages+=(-p "$app"); done
    say "building image(s): $* (x86_64-unknown-none, release)"
    (
        cd "$CHANOS_ROOT" &&
            RUSTC="$IMAGE_RUSTC" RUSTC_BOOTSTRAP=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
                RUSTFLAGS="-C linker=$IMAGE_LINKER -C link-arg=-T$CHANOS_ROOT/runtime/chanos/link.ld -C relocation-model=static" \
                "$IMAGE_CARGO" build --quiet --release --target x86_64-unknown-none \
                ${IMAGE_BUILD_STD[@]+"${IMAGE_BUILD_STD[@]}"} \
                --target-dir "$CHANOS_ROOT/target/image" "${packages[@]}"
    ) || die 1 "building the image failed"
}

image_path() {
    echo "$CHANOS_ROOT/target/image/x86_64-unknown-none/release/$1"
}

# The host has hardware virtualisation: /dev/kvm, and it is not the software
# virtualiser kvm_pvm (under which guest kernel code runs ~200x slower than
# under QEMU's TCG).
have_hardware_kvm() {
    [ -e /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ]
}

# qemu_status_to_app STATUS [ERRORS_FILE]: maps QEMU's exit status back to
# the app's. The image writes code+1 to isa-debug-exit, so QEMU exits
# 2*code+3: odd, 3 to 255. Anything else (even) is said in one line on
# stderr, with QEMU's own message (from ERRORS_FILE, what QEMU wrote to
# stderr), and becomes 70.
qemu_status_to_app() {
    local q=$1 errors=${2:-} said=""
    if [ "$q" -ge 3 ] && [ $((q % 2)) -eq 1 ]; then
        echo $(((q - 3) / 2))
        return
    fi
    if [ -n "$errors" ] && [ -s "$errors" ]; then
        # Its first error line, or else its last line (QEMU also warns).
        said=$(grep -m1 -i 'error' "$errors" || tail -n1 "$errors")
    fi
    if [ "$q" -eq 0 ]; then
        printf 'error: the machine reset without an exit status (a triple fault?)\n' >&2
    elif [ "$q" -eq 124 ] && [ -n "${BOOT_TIMEOUT:-}" ]; then
        printf 'error: the image did not exit within %s s; QEMU was stopped\n' "$BOOT_TIMEOUT" >&2
    elif [ "$q" -ge 128 ]; then
        printf 'error: QEMU was killed by signal %s before the app could exit%s\n' "$((q - 128))" "${said:+: $said}" >&2
    else
        printf 'error: QEMU failed (status %s) before the app could exit%s\n' "$q" "${said:+: $said}" >&2
    fi
    echo 70
}

# QEMU_NET: the network part of QEMU's command line, set by
# `qemu_forward`; empty means no network card.
QEMU_NET=()

# qemu_forward [[udp:]HOST:GUEST...]: gives the image a virtio-net card on
# QEMU user networking (DHCP from QEMU: 10.0.2.15; the host is 10.0.2.2) with
# these ports of the host's 127.0.0.1 forwarded to the image's ports (none:
# the image can only connect out).
qemu_forward() {
    local netdev="user,id=net0" forward
    for forward in "$@"; do
        parse_forward "$forward"
        netdev+=",hostfwd=$FORWARD_PROTO:127.0.0.1:$FORWARD_HOST-:$FORWARD_GUEST"
    done
    QEMU_NET=(-netdev "$netdev" -device virtio-net-device,netdev=net0)
}

# parse_forward [tcp:|udp:]HOST:GUEST: sets FORWARD_PROTO, FORWARD_HOST and
# FORWARD_GUEST, or stops with status 64 when SPEC is not that.
parse_forward() {
    local spec=$1
    FORWARD_PROTO=tcp
    case "$spec" in udp:*) FORWARD_PROTO=udp spec=${spec#udp:} ;; tcp:*) spec=${spec#tcp:} ;; esac
    FORWARD_HOST=${spec%%:*} FORWARD_GUEST=${spec#*:}
    [[ "$FORWARD_HOST" =~ ^[0-9]+$ && "$FORWARD_GUEST" =~ ^[0-9]+$ && "$FORWARD_HOST" -le 65535 && "$FORWARD_GUEST" -le 65535 ]] ||
        die 64 "--forward wants [udp:]HOST_PORT:GUEST_PORT (e.g. 8080:80), not '$1'"
}

# A prefix that makes a command end when the shell that started it ends
# (Linux's parent-death signal, through util-linux's setpriv), so that a
# killed script or test leaves no QEMU or uhyve behind. Empty where
# setpriv is missing: the process group then is the only tie.
DIE_WITH_PARENT=()
if command -v setpriv >/dev/null 2>&1 && setpriv --pdeathsig KILL -- true 2>/dev/null; then
    DIE_WITH_PARENT=(setpriv --pdeathsig KILL --)
fi

# The CPU model for QEMU, under TCG and KVM alike. `max` offers the guest
# everything the accelerator can do; without IA32_ARCH_CAPABILITIES, since
# KVM on AMD hosts refuses that MSR and QEMU then aborts at start
# ("failed to set MSR 0x10a"); chanos does not read it.
QEMU_CPU=max,-arch-capabilities

# boot_qemu ACCEL IMAGE ARGS...: boots IMAGE under QEMU -M microvm; returns
# the app's exit status. With a network card (QEMU_NET), ACPI is off so
# that QEMU describes the card on the kernel command line. QEMU_ICOUNT=1
# (TCG only) runs the guest under `-icount shift=0,sleep=off`: its clock
# advances one nanosecond per instruction retired, and never by the host's
# time, so that the app's own timings count instructions. BOOT_TIMEOUT
# (seconds) stops QEMU if the image runs longer. BOOT_CPUS (default 1) is
# how many CPUs the image gets (one executor each). QEMU stays in the caller's
# process group (`timeout --foreground`), so that whoever stops the caller's
# group stops QEMU too.
boot_qemu() {
    local accel=$1 image=$2
    shift 2
    local status=0 machine=microvm net=(-nic none) icount=() errors errors_fd errors_pid
    if [ ${#QEMU_NET[@]} -gt 0 ]; then
        machine=microvm,acpi=off net=("${QEMU_NET[@]}")
    fi
    [ "${QEMU_ICOUNT:-}" = 1 ] && icount=(-icount shift=0,sleep=off)
    local run=(${DIE_WITH_PARENT[@]+"${DIE_WITH_PARENT[@]}"})
    if [ -n "${BOOT_TIMEOUT:-}" ]; then
        run+=(timeout --foreground "$BOOT_TIMEOUT" ${DIE_WITH_PARENT[@]+"${DIE_WITH_PARENT[@]}"})
    fi
    # QEMU's stderr goes through as it comes and is kept, to be quoted if QEMU fails.
    errors=$(mktemp "${TMPDIR:-/tmp}/chanos-qemu.XXXXXX")
    exec {errors_fd}> >(tee "$errors" >&2)
    errors_pid=$!
    # The group's 2>/dev/null silences bash's own "Aborted" line for a QEMU
    # killed by a signal: the line after it says so.
    {
        ${run[@]+"${run[@]}"} qemu-system-x86_64 \
            -M "$machine" -accel "$accel" ${icount[@]+"${icount[@]}"} -cpu "$QEMU_CPU" -m 256M -smp "${BOOT_CPUS:-1}" \
            -no-reboot -display none -nodefaults -serial stdio "${net[@]}" \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
            -kernel "$image" -append "$*" 2>&"$errors_fd" || status=$?
    } 2>/dev/null
    exec {errors_fd}>&-
    wait "$errors_pid" 2>/dev/null || true
    status=$(qemu_status_to_app "$status" "$errors")
    rm -f "$errors"
    return "$status"
}

# boot_uhyve IMAGE ARGS...: boots IMAGE under uhyve on BOOT_CPUS CPUs
# (default 1); returns the app's status.
boot_uhyve() {
    local image=$1
    shift
    local status=0
    # `--` so that arguments starting with a dash reach the app, not uhyve.
    ${DIE_WITH_PARENT[@]+"${DIE_WITH_PARENT[@]}"} "$(uhyve_bin)" --no-aslr -m 64MiB -c "${BOOT_CPUS:-1}" "$image" -- "$@" || status=$?
    return "$status"
}

# ensure_fuzz_toolchain: cargo fuzz and rustup's nightly (libFuzzer needs
# its sanitizer flags), installing cargo-fuzz from the crate registry when
# missing. Returns 1 with FUZZ_MISSING set to the reason when nightly is
# not there (it cannot be downloaded on every machine).
ensure_fuzz_toolchain() {
    FUZZ_MISSING=""
    if ! command -v rustup >/dev/null 2>&1 || ! rustup run nightly rustc --version >/dev/null 2>&1; then
        FUZZ_MISSING="rustup's nightly toolchain is missing (cargo fuzz needs it)"
        return 1
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        say "installing cargo-fuzz (cargo install cargo-fuzz --locked: a minute or two)"
        cargo install cargo-fuzz --locked --quiet >&2 ||
            die 69 "cargo-fuzz could not be installed: run 'cargo install cargo-fuzz --locked' and look at its errors."
    fi
}

# ensure_valgrind: valgrind (Debian's), whose callgrind counts instructions.
ensure_valgrind() {
    command -v valgrind >/dev/null 2>&1 && return 0
    say "installing valgrind (apt: valgrind): the benchmark counts instructions with callgrind"
    apt_install valgrind || die 69 "valgrind is missing and could not be installed: install valgrind."
}

# free_port: a TCP port of 127.0.0.1 that nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# serve_in_background APP WHERE PORT LOG [ARGS...]: starts the echo or http
# app with ARGS, hosted (WHERE: hosted, the release build) or booted under
# QEMU (WHERE: tcg or kvm) with the host's 127.0.0.1:PORT forwarded, TCP
# and UDP, to the app's port (echo 7, http 80), writing to LOG. It runs in
# a session of its own, QEMU included (boot_qemu keeps it in the group), so
# `kill -- -$SERVER_PID` stops all of it. BOOT_TIMEOUT, if set, bounds QEMU.
serve_in_background() {
    local app=$1 where=$2 port=$3 log=$4 guest=7
    shift 4
    [ "$app" = http ] && guest=80
    if [ "$where" = hosted ]; then
        setsid "${CARGO_TARGET_DIR:-$CHANOS_ROOT/target/hosted}/release/$app" --port "$port" "$@" >"$log" 2>&1 &
    else
        setsid bash -c 'source "$CHANOS_ROOT/scripts/lib.sh" && qemu_forward "$1:$2" "udp:$1:$2" && boot_qemu "$3" "${@:4}"' \
            _ "$port" "$guest" "$where" "$(image_path "$app")" "$@" >"$log" 2>&1 &
    fi
    SERVER_PID=$!
}

# stop_group PGID: stops every process of process group PGID (a server of
# serve_in_background, QEMU included) and returns once all have ended:
# TERM, then KILL for what is left after 10 s.
stop_group() {
    local group=$1
    kill -- "-$group" 2>/dev/null || return 0
    wait "$group" 2>/dev/null || true # the leader, our child: reaped here
    for _ in $(seq 100); do
        pgrep -g "$group" >/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$group" 2>/dev/null || true
}

# wait_until_serving LOG SECONDS: waits until the app writing LOG says it
# listens; returns 1 if it has not within SECONDS.
wait_until_serving() {
    local log=$1 tries=$(($2 * 10))
    for _ in $(seq "$tries"); do
        grep -qE 'listening on|serving on' "$log" && return 0
        sleep 0.1
    done
    return 1
}

# ensure_curl: curl, the network tests' HTTP client.
ensure_curl() {
    command -v curl >/dev/null 2>&1 && return 0
    say "installing curl (apt: curl): the network tests talk to the http app with it"
    apt_install curl || die 69 "curl is missing and could not be installed: install curl."
}

# ensure_go: Go, for the benchmark's Go peer (Debian's golang-go).
ensure_go() {
    command -v go >/dev/null 2>&1 && return 0
    say "installing Go (apt: golang-go) for the benchmark's Go peer"
    apt_install golang-go || die 69 "Go is missing and could not be installed: install golang-go."
}
