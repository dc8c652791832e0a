#!/bin/bash
# Container health check with no curl in the image: GET /healthz over bash's
# /dev/tcp on the listening port ($PORT, 8080 by default); healthy on HTTP 200.
exec 3<>"/dev/tcp/127.0.0.1/${PORT:-8080}" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3 || exit 1
IFS= read -r -t 3 status <&3 || exit 1
[[ $status == HTTP/1.[01]" 200"* ]]
