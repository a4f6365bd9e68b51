#!/bin/sh
# AgentTower activity for Codex CLI through its `notify` program
# (docs/activity.md). Codex runs the notify program with one extra argument,
# last, holding a JSON object; at the end of every turn it is
#   {"type":"agent-turn-complete","thread-id":"…","turn-id":"…","cwd":"…",
#    "input-messages":[…],"last-assistant-message":"…"}
# and this script then reports the pane's agent idle.
#
# Use it in ~/.codex/config.toml:
#   notify = ["/usr/local/share/agenttower/hooks/codex-notify.sh"]
# or for one launch (examples/launch_commands/codex.yaml does):
#   codex -c 'notify=["/usr/local/share/agenttower/hooks/codex-notify.sh"]'
#
# To keep a notifier you already have, put it after this script; it is run
# with the same JSON argument afterwards:
#   notify = ["/usr/local/share/agenttower/hooks/codex-notify.sh", "python3", "/home/me/notify.py"]
#
# The JSON is only matched as text, never evaluated. Errors are ignored:
# Codex does not wait for this program and never sees its output.

[ "$#" -ge 1 ] || exit 0

# The payload is the last argument.
for payload do :; done

case "$payload" in
    *'"type":"agent-turn-complete"'* | *'"type": "agent-turn-complete"'*)
        if command -v agenttower >/dev/null 2>&1; then
            agenttower agent report idle --message "turn complete" \
                </dev/null >/dev/null 2>&1 || :
        fi
        ;;
esac

# A chained notifier: everything before the payload, then the payload.
if [ "$#" -ge 2 ]; then
    exec "$@"
fi
exit 0
