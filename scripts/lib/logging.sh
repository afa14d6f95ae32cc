# shellcheck shell=sh
# scripts/lib/logging.sh — pkgrun's log line format (DESIGN §5) for shell scripts.
#
# Source it (bash, dash, busybox ash):   . scripts/lib/logging.sh
# Sourcing has no side effects: no `set` options, no traps, no output, no colour. It only
# defines functions, all named log_* / run_step, plus helpers named _pkgrun_log_*.
#
#   log_step|log_info|log_ok|log_warn|log_fail <message…>   one line on stderr
#   run_step <name> -- <cmd…>   step line, run the command with its output captured,
#                               then `ok <name> (took N.Ns)` or, on failure, the captured
#                               output and `fail <name> (took N.Ns): <reason>`; returns the
#                               command's exit status.
#
# Line: `[<LOG_PREFIX>] <RFC 3339 UTC, whole seconds> <level padded to 4> <message>`, the
# same bytes `pkgrun log` / `pkgrun step` print. Env: LOG_PREFIX (default packages:pkgrun),
# VERBOSE=1 (or true/yes/on) streams child output live. See scripts/lib/README.md.

# Timestamp. bash has a strftime builtin (no fork per line, which matters when a failed step
# replays thousands of captured lines); other shells fork `date -u`.
_pkgrun_log_ts() {
    if [ -n "${BASH_VERSION:-}" ]; then
        TZ=UTC0 printf '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    else
        date -u +%Y-%m-%dT%H:%M:%SZ
    fi
}

# _pkgrun_log_line <level> <message…>: message words are joined with single spaces (like
# echo). As in pkgrun, a message with several lines becomes one log line per line (one
# trailing newline ignored, an empty message is one line), every line loses its trailing
# CRs, and all lines of one call carry the same timestamp.
_pkgrun_log_line() {
    _pkgrun_log_level=$1
    shift
    _pkgrun_log_rest="$*"
    _pkgrun_log_at=$(_pkgrun_log_ts)
    [ -n "${_pkgrun_log_cr:-}" ] || _pkgrun_log_cr=$(printf '\r')
    _pkgrun_log_nl='
'
    _pkgrun_log_rest=${_pkgrun_log_rest%"$_pkgrun_log_nl"}
    while :; do
        case $_pkgrun_log_rest in
            *"$_pkgrun_log_nl"*)
                _pkgrun_log_msg=${_pkgrun_log_rest%%"$_pkgrun_log_nl"*}
                _pkgrun_log_rest=${_pkgrun_log_rest#*"$_pkgrun_log_nl"}
                ;;
            *)
                _pkgrun_log_msg=$_pkgrun_log_rest
                _pkgrun_log_rest=
                _pkgrun_log_nl=
                ;;
        esac
        while :; do
            case $_pkgrun_log_msg in
                *"$_pkgrun_log_cr") _pkgrun_log_msg=${_pkgrun_log_msg%"$_pkgrun_log_cr"} ;;
                *) break ;;
            esac
        done
        printf '[%s] %s %-4s %s\n' "${LOG_PREFIX:-packages:pkgrun}" "$_pkgrun_log_at" \
            "$_pkgrun_log_level" "$_pkgrun_log_msg" >&2
        [ -n "$_pkgrun_log_nl" ] || break
    done
}

log_step() { _pkgrun_log_line step "$@"; }
log_info() { _pkgrun_log_line info "$@"; }
log_ok() { _pkgrun_log_line ok "$@"; }
log_warn() { _pkgrun_log_line warn "$@"; }
log_fail() { _pkgrun_log_line fail "$@"; }

# A time in nanoseconds for durations: `date +%s%N` (GNU date); where `date` has no %N
# (busybox, e.g. golang:alpine) the uptime from /proc/uptime (centiseconds); else whole
# seconds * 10^9 (then the printed duration is whole seconds, e.g. `took 3.0s`).
_pkgrun_log_now_ns() {
    _pkgrun_log_ns=$(date +%s%N 2>/dev/null)
    case $_pkgrun_log_ns in
        '' | *[!0-9]*)
            _pkgrun_log_ns=
            if [ -r /proc/uptime ] && read -r _pkgrun_log_up _pkgrun_log_x </proc/uptime; then
                case $_pkgrun_log_up in
                    *[0-9].[0-9][0-9]) _pkgrun_log_ns="${_pkgrun_log_up%.*}${_pkgrun_log_up#*.}0000000" ;;
                esac
            fi
            [ -n "$_pkgrun_log_ns" ] || _pkgrun_log_ns="$(date +%s)000000000"
            ;;
    esac
    printf '%s' "$_pkgrun_log_ns"
}

# Seconds with one decimal, rounded, between two _pkgrun_log_now_ns values.
_pkgrun_log_took() {
    _pkgrun_log_tenths=$(( ($2 - $1 + 50000000) / 100000000 ))
    printf '%s.%s' "$((_pkgrun_log_tenths / 10))" "$((_pkgrun_log_tenths % 10))"
}

# Reads lines on stdin and logs each as `info | <line>` (trailing CRs are dropped by
# _pkgrun_log_line); a last line without a newline still counts.
_pkgrun_log_child_lines() {
    while IFS= read -r _pkgrun_log_l || [ -n "$_pkgrun_log_l" ]; do
        _pkgrun_log_line info "| $_pkgrun_log_l"
    done
}

# VERBOSE turns streaming on when it is 1, true, yes or on (any case), as in pkgrun.
_pkgrun_log_verbose() {
    case $(printf '%s' "${VERBOSE:-}" | tr -d ' \t\r\n' | tr 'A-Z' 'a-z') in
        1 | true | yes | on) return 0 ;;
    esac
    return 1
}

# run_step <name> -- <cmd…>
# The command's stdout and stderr go to ONE file (or pipe with VERBOSE=1), so the replay on
# failure keeps their interleaving in arrival order. Its stdin is /dev/null, as with
# `pkgrun step` (a step never waits for input). It may be a shell function; it runs in a
# subshell so an `exit` in it can't end the caller.
# Works under `set -eu` in the caller (the failure is captured, not fatal); note that, as
# everywhere in sh, `set -e` is not in force inside a command whose status is being tested.
# The shell's own "Killed" notice for such a child is not a log line: the subshell that
# waits has its stderr on /dev/null, which silences it in bash; dash and busybox ash write it
# while the command's redirection is still in place, so there it shows up as a captured
# `info | Killed` line.
# A status 129..192 is what a shell reports for a child killed by a signal, so it is printed
# as `killed by signal <status-128>` (sh can't tell that apart from a real `exit 137`).
run_step() {
    if [ "$#" -lt 3 ] || [ "$2" != "--" ]; then
        log_fail "run_step: usage: run_step <name> -- <command> [args…]"
        return 2
    fi
    _pkgrun_log_name=$1
    shift 2
    log_step "$_pkgrun_log_name"
    _pkgrun_log_start=$(_pkgrun_log_now_ns)
    _pkgrun_log_rc=0
    if _pkgrun_log_verbose; then
        # fd 3 carries the command's status out of the pipeline (no PIPESTATUS in sh) into
        # the command substitution; the command and the line reader don't get fd 3.
        _pkgrun_log_rc=$(
            {
                { ("$@" </dev/null 2>&1 3>&-; exit "$?") 2>/dev/null; echo "$?" >&3; } |
                    _pkgrun_log_child_lines 3>&-
            } 3>&1
        )
        # Nothing came back only if the pipeline itself was killed: count it as a failure.
        [ -n "$_pkgrun_log_rc" ] || _pkgrun_log_rc=1
        _pkgrun_log_out=
    else
        _pkgrun_log_out=$(mktemp "${TMPDIR:-/tmp}/pkgrun-step.XXXXXX") || {
            log_fail "$_pkgrun_log_name (took 0.0s): cannot create a temporary file"
            return 2
        }
        ("$@" </dev/null >"$_pkgrun_log_out" 2>&1; exit "$?") 2>/dev/null || _pkgrun_log_rc=$?
    fi
    # POSIX sh has no locals: positional parameters hold the values from here on.
    _pkgrun_log_end=$(_pkgrun_log_now_ns)
    set -- "$_pkgrun_log_name" "$_pkgrun_log_rc" "$(_pkgrun_log_took "$_pkgrun_log_start" "$_pkgrun_log_end")" "$_pkgrun_log_out"
    if [ "$2" -eq 0 ]; then
        [ -n "$4" ] && rm -f "$4"
        log_ok "$1 (took $3s)"
        return 0
    fi
    if [ -n "$4" ]; then
        _pkgrun_log_child_lines <"$4"
        rm -f "$4"
    fi
    if [ "$2" -gt 128 ] && [ "$2" -le 192 ]; then
        log_fail "$1 (took $3s): killed by signal $(($2 - 128))"
    else
        log_fail "$1 (took $3s): exit status $2"
    fi
    return "$2"
}
