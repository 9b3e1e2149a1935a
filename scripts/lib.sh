# Shared by scripts/up and scripts/test: a Python 3.11+ virtualenv in .venv with the project installed.
# Sourced, not run.

PY=${PYTHON:-python3}

need_root_for_apt() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: $1 is missing and installing it needs root (try: sudo apt-get install -y $2)" >&2
        exit 1
    fi
}

apt_install() {
    # apt_install PACKAGE...: install the Debian packages that are not installed yet.
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    need_root_for_apt "${missing[*]}" "${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
}

ensure_venv() {
    if ! command -v "$PY" >/dev/null 2>&1; then
        apt_install python3
    fi
    if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: Python 3.11 or newer is needed ($("$PY" --version 2>&1) found)" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! "$PY" -m venv .venv >/dev/null 2>&1; then
            rm -rf .venv
            apt_install python3-venv
            "$PY" -m venv .venv
        fi
    fi
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
}
