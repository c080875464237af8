# Shared by scripts/test and scripts/run (sourced, not run): the build cache and the
# "install it if it is missing" helper that later issues use for their apt and npm tools.

# Builds go to a cache outside the clone, so a fresh clone (CI, a second worktree) reuses
# what an earlier one compiled. Set CARGO_TARGET_DIR yourself to put them elsewhere.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/imserver-target}"

# rustup installs cargo here; a non-login shell may not have it on PATH yet.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# need_apt COMMAND PACKAGE: apt-get installs PACKAGE when COMMAND is not on PATH.
# Uses sudo when not root; never prompts (CI has no stdin).
need_apt() {
    local command=$1 package=$2
    command -v "$command" >/dev/null 2>&1 && return 0
    echo "scripts: '$command' is missing; installing the Debian package '$package'"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "scripts: need root or sudo to install '$package'; install it and re-run" >&2
            return 1
        fi
        sudo=(sudo -n)
    fi
    if [ -z "${SCRIPTS_APT_UPDATED:-}" ]; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        SCRIPTS_APT_UPDATED=1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package"
}

# need_rust: cargo, a linker, rustfmt and clippy. The Rust toolchain itself is a
# prerequisite (https://rustup.rs); everything else is installed here.
need_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "scripts: cargo not found; install the Rust toolchain first: https://rustup.rs" >&2
        return 1
    fi
    need_apt cc gcc    # rustc links through the system C compiler
    if ! cargo fmt --version >/dev/null 2>&1; then rustup component add rustfmt; fi
    if ! cargo clippy --version >/dev/null 2>&1; then rustup component add clippy; fi
}
