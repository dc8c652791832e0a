#!/bin/bash
# Container health check with no curl in the image: GET /healthz?js-enabled-only=true
# on the monitoring port (8222) over bash's /dev/tcp; healthy on HTTP 200, i.e. while
# the server runs with JetStream enabled.
exec 3<>/dev/tcp/127.0.0.1/8222 || exit 1
printf 'GET /healthz?js-enabled-only=true HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3 || exit 1
IFS= read -r -t 3 status <&3 || exit 1
[[ $status == HTTP/1.[01]" 200"* ]]
