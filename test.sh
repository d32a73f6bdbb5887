#!/usr/bin/env bash
# The project's test command (README, "Two commands"; .ci/run runs it in a fresh clone).
# It sets up what the tests need, runs every test, and says at the end what it set up and
# which tests it skipped and why. It needs only Go (1.26+) on a Debian 12 machine:
#
#   as root, with apt-get: installs what is missing of the packages below (no system sshd is
#     started), creates the test user libsshtest with its password and /run/sshd, and runs the
#     suite with LIBSSH_INTEROP=1 (every interop test required) under -race;
#   without root: installs nothing and runs the suite with LIBSSH_INTEROP=nonroot: sshd and
#     Dropbear run as you, on free ports of 127.0.0.1, with public-key logins; the cases that
#     need root (passwords through PAM or /etc/shadow, and on some machines a pty, or a server
#     that is not installed) are skipped and listed;
#   without a C compiler (go test -race needs cgo on Linux): runs without -race and says so.
#
# Arguments go to go test instead of ./... (for example: ./test.sh -run Dropbear ./ssh/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# internal/interop expects exactly this user and password (interop.TestUser, TestPassword;
# TestScriptTestUser checks that they agree).
readonly test_user=libsshtest
readonly test_password=libsshtest-pw
readonly packages=(openssh-server openssh-client xauth tmux gcc libc6-dev dropbear-bin tinysshd ca-certificates)

installed=()   # packages this run installed
setup=()       # other set-up this run did
warnings=()    # what this run did not do, repeated at the end
remove=()      # files and directories to remove on exit
trap 'rm -rf "${remove[@]}"' EXIT

say() { printf '\n==> %s\n' "$*"; }
warn() {
	warnings+=("$*")
	printf '\n!!! %s\n' "$*" >&2
}

# quietly runs a noisy command and shows its output only when it fails.
quietly() {
	local log
	log=$(mktemp)
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "FAILED: $*" >&2
		return 1
	fi
	rm -f "$log"
}

export PATH="$PATH:/usr/local/go/bin"
# go needs a home for its build and module caches; CI shells may not set one.
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
if ! command -v go >/dev/null 2>&1; then
	echo "go not found on PATH (looked in /usr/local/go/bin too); install Go 1.26 or later: https://go.dev/dl/" >&2
	exit 1
fi

install_packages() {
	local missing=() p
	for p in "${packages[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return
	fi
	say "Installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Keep openssh-server's postinst from starting a system sshd on port 22 (and the others
	# from starting theirs): the tests start their own servers on 127.0.0.1. A policy-rc.d
	# that exits 101 means "action forbidden" to invoke-rc.d.
	local policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		remove+=("$policy")
	fi
	quietly apt-get update -q
	quietly apt-get install -y -q --no-install-recommends "${missing[@]}"
	installed+=("${missing[@]}")
}

prepare_test_user() {
	say "Preparing test user $test_user and /run/sshd"
	if ! id -u "$test_user" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/bash "$test_user"
		setup+=("created user $test_user")
	fi
	# Dropbear and sshd refuse a login shell missing from /etc/shells.
	if [ "$(getent passwd "$test_user" | cut -d: -f7)" != /bin/bash ]; then
		usermod --shell /bin/bash "$test_user"
		setup+=("set $test_user's shell to /bin/bash")
	fi
	local home
	home=$(getent passwd "$test_user" | cut -d: -f6)
	if [ ! -d "$home" ]; then
		mkdir -p "$home"
		chown "$test_user:" "$home"
		setup+=("created $home")
	fi
	printf '%s:%s\n' "$test_user" "$test_password" | chpasswd
	setup+=("set $test_user's password")
	# sshd's privilege-separation directory; as root it refuses to start without it.
	if [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd
		chmod 0755 /run/sshd
		setup+=("created /run/sshd")
	fi
}

if [ "$(id -u)" -eq 0 ]; then
	if command -v apt-get >/dev/null 2>&1; then
		install_packages
	else
		warn "No apt-get: installed nothing. With LIBSSH_INTEROP=1 a missing server fails its tests; install: ${packages[*]}"
	fi
	prepare_test_user
	mode=1
else
	warn "Not root: installed nothing and runs the servers as $(id -un) (LIBSSH_INTEROP=nonroot). The password and keyboard-interactive cases (PAM, /etc/shadow) need root and are SKIPPED; run ./test.sh as root to run them."
	mode=nonroot
fi

race=(-race)
cc=$(go env CC)
no_race=
if ! command -v "${cc%% *}" >/dev/null 2>&1; then
	no_race="no C compiler ('$cc' not found)"
elif [ "$(go env CGO_ENABLED)" != 1 ]; then
	no_race="cgo is off (CGO_ENABLED=$(go env CGO_ENABLED))"
fi
if [ -n "$no_race" ]; then
	race=()
	# Nothing can build with cgo then; without this an explicit CC that is missing would
	# still make go try it.
	export CGO_ENABLED=0
	warn "NO RACE DETECTOR: $no_race, and go test -race needs cgo on Linux. The tests run WITHOUT -race, so data races go undetected. Install gcc and libc6-dev, or run ./test.sh as root, which installs them."
fi

go version
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
	args=(./...)
fi
printf -v command 'LIBSSH_INTEROP=%s go test %s-count=1 -timeout 30m %s' "$mode" "${race[*]:+${race[*]} }" "$(printf '%q ' "${args[@]}")"

tmp=$(mktemp -d)
remove+=("$tmp")
go build -o "$tmp/testreport" ./internal/cmd/testreport

say "$command"
status=0
LIBSSH_INTEROP=$mode go test "${race[@]}" -count=1 -timeout 30m -json "${args[@]}" | "$tmp/testreport" || status=$?

say "Set-up done by this run"
if [ ${#installed[@]} -gt 0 ]; then
	echo "  installed: ${installed[*]}"
else
	echo "  installed: nothing"
fi
for s in "${setup[@]}"; do
	echo "  $s"
done
echo "  ran: $command"
for w in "${warnings[@]}"; do
	printf '\n!!! %s\n' "$w"
done
if [ "$status" -ne 0 ]; then
	echo
	echo "FAIL"
	exit "$status"
fi
echo
echo "PASS"
