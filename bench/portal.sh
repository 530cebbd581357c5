#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The portal question: how does a two-node Sluice portal (inlet on n1, outlet
# on n2, a secure channel between them) compare with the tunnels people use
# instead, side by side in one run on this machine?
#
#   bench/portal.sh [compare.sh options: --quick, --runs N, --time S, --no-install, ...]
#
# Paths: direct (no tunnel), socat, OpenSSH -L with aes256-gcm (sshd on a
# loopback port with a throwaway key in a temp dir), stunnel (TLS 1.3
# AES-256-GCM), and the Sluice portal. Each path: iperf3 single stream and 8
# streams, the CPU seconds of its tunnel processes per GB (from
# /proc/PID/stat), and a 64-byte ping-pong. compare.sh does the set-up,
# measurement and report (Markdown table and JSON in bench/results/); this
# picks the paths and says what to read in the table: the goal is >= 1.3x
# OpenSSH -L throughput and <= 0.7x its CPU per GB.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec "$ROOT/bench/compare.sh" --paths direct,socat,ssh-aes,stunnel,sluice "$@"
