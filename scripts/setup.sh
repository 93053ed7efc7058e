#!/usr/bin/env bash
# Install geobench and everything it needs (editable, all extras). Idempotent; about 6 minutes and
# 7 GB on a fresh machine (torch 2.14.1 + torchvision 0.29.1 must be pinned together).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
python -m pip install -q -e ".[all]"
