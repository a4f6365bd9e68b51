# shellcheck shell=bash
# AgentTower activity hooks for an interactive bash or zsh (docs/activity.md).
#
#   the prompt is shown   -> agenttower agent report idle
#   a command starts      -> agenttower agent report working
#
# Source this file in the shell that runs in an AgentTower pane:
#   bash  at the end of ~/.bashrc:  . /usr/local/share/agenttower/hooks/shell-prompt.sh
#         or start `bash --rcfile /usr/local/share/agenttower/hooks/bashrc -i`
#         (examples/launch_commands/shell-hooks.yaml does)
#   zsh   in ~/.zshrc:              source /usr/local/share/agenttower/hooks/shell-prompt.sh
#
# It never slows the prompt: each report runs in the background as a child
# of this shell (the daemon recognises the pane by walking up the reporting
# process's ancestors, so the reporter must stay this shell's child), and
# every error is ignored. Nothing runs when `agenttower` is not on PATH;
# outside an AgentTower pane the daemon refuses the report
# (caller_not_in_agent_pane), silently here. (The very first prompt may
# come before the daemon has registered the pane; detection covers it.)
#
# Side effect: at the prompt `$!` is the reporter's pid, not your last
# background job's (use `jobs -l` or `%1`).
#
# bash needs the DEBUG trap for `working`. With bash-preexec loaded, its
# precmd_functions/preexec_functions are used instead. If another DEBUG trap
# is already set it is left alone and only `idle` is reported (output
# detection still sees a command that prints as working).

if [ -z "${__agenttower_hooks_loaded-}" ]; then
__agenttower_hooks_loaded=1
__agenttower_pid=

# __agenttower_report ACTIVITY: report ACTIVITY in the background.
__agenttower_report() {
    command -v agenttower >/dev/null 2>&1 || return 0
    # No job-control message ("[1] 1234", "Done") for this job: zsh leaves
    # it out of job control, bash forgets it.
    [ -z "${ZSH_VERSION-}" ] || setopt local_options no_monitor
    __agenttower_spawn "$1" "$__agenttower_pid" &
    __agenttower_pid=$!
    disown 2>/dev/null
    return 0
}

# __agenttower_spawn ACTIVITY PREVIOUS_PID, in the background: reports reach
# the daemon in order (a quick command's `working` must not land after the
# next prompt's `idle`), so each first waits, at most about a second, for
# the previous reporter to finish.
__agenttower_spawn() {
    local n=0
    while [ -n "$2" ] && [ "$n" -lt 100 ] && kill -0 "$2" 2>/dev/null; do
        sleep 0.01 2>/dev/null || break
        n=$((n + 1))
    done
    exec agenttower agent report "$1" </dev/null >/dev/null 2>&1
}
__agenttower_idle() { __agenttower_report idle; }
__agenttower_working() { __agenttower_report working; }

if [ -n "${ZSH_VERSION-}" ]; then
    autoload -Uz add-zsh-hook
    add-zsh-hook precmd __agenttower_idle
    add-zsh-hook preexec __agenttower_working
elif [ -n "${BASH_VERSION-}" ]; then
    if declare -p preexec_functions >/dev/null 2>&1 \
        && declare -p precmd_functions >/dev/null 2>&1; then
        # bash-preexec owns the DEBUG trap and PROMPT_COMMAND.
        precmd_functions+=(__agenttower_idle)
        preexec_functions+=(__agenttower_working)
    else
        # Set from the end of PROMPT_COMMAND until the next command starts.
        __agenttower_at_prompt=

        # First in PROMPT_COMMAND: what PROMPT_COMMAND runs is not a command
        # of yours. Keeps $? and, through its argument, $_.
        __agenttower_prompt_start() {
            local rc=$?
            __agenttower_at_prompt=
            return "$rc"
        }
        # Last in PROMPT_COMMAND.
        __agenttower_prompt_end() {
            local rc=$?
            __agenttower_idle
            __agenttower_at_prompt=1
            return "$rc"
        }
        # The DEBUG trap: the first command after the prompt means working
        # (not one run by completion).
        __agenttower_debug() {
            [ -n "$__agenttower_at_prompt" ] || return 0
            [ -z "${COMP_LINE-}" ] || return 0
            case "$BASH_COMMAND" in __agenttower_*) return 0 ;; esac
            __agenttower_at_prompt=
            __agenttower_working
        }

        # The single quotes are meant: PROMPT_COMMAND expands "$_" each time.
        # shellcheck disable=SC2016,SC2128,SC2178
        if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
            # bash 5.1+: an array of commands.
            PROMPT_COMMAND=('__agenttower_prompt_start "$_"' "${PROMPT_COMMAND[@]}"
                '__agenttower_prompt_end "$_"')
        else
            PROMPT_COMMAND='__agenttower_prompt_start "$_"'"${PROMPT_COMMAND:+
$PROMPT_COMMAND}"'
__agenttower_prompt_end "$_"'
        fi
        if [ -z "$(trap -p DEBUG)" ]; then
            trap '__agenttower_debug "$_"' DEBUG
        fi
    fi
fi
fi
