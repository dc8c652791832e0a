#!/bin/sh
# Container entry point: runs happy-dashboard as PID 1 (exec, so SIGTERM reaches
# it directly) with /etc/happy-dashboard/config.json when that file is mounted,
# else with the embedded default config. Arguments go to happy-dashboard.
set -e
config=/etc/happy-dashboard/config.json
case " $* " in
  *" --config "* | *" --config="* | *" --check-config "* | *" --help "*) ;;
  *) if [ -f "$config" ]; then set -- --config "$config" "$@"; fi ;;
esac
exec /usr/local/bin/happy-dashboard "$@"
