#!/usr/bin/env bash
# Estimate what deploy/Dockerfile adds to its base image: install the locked, non-dev
# dependencies and Campus for the image's platform (CPython 3.12, musl/Alpine, x86-64) into a
# temporary directory with bytecode compiled, strip the extensions as the image's strip stage
# does, and measure with du. The base image (python:3.12-alpine) is added in docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
uv export --frozen --no-dev --no-emit-project --no-hashes -q -o "$tmp/requirements.txt"
# The interpreter that compiles the bytecode: 3.12 when uv finds one, else any python3
# (the .pyc files are the same size within a few per cent).
python=${CAMPUS_SIZE_PYTHON:-$(UV_PYTHON_DOWNLOADS=never uv python find 3.12 2>/dev/null || command -v python3)}
uv pip install -q --python "$python" --python-platform x86_64-unknown-linux-musl \
    --python-version 3.12 --target "$tmp/site-packages" --compile-bytecode \
    -r "$tmp/requirements.txt" .
before=$(du -sm "$tmp/site-packages" | cut -f1)
find "$tmp/site-packages" -name '*.so' -exec strip --strip-unneeded {} +
after=$(du -sm "$tmp/site-packages" | cut -f1)
echo "image-size: site-packages for musl/CPython 3.12 with bytecode: ${before} MB, stripped: ${after} MB"
