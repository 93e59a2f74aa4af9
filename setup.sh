#!/usr/bin/env bash
# Create .venv and install the factory with every engine and the test tools.
# torch is pinned and installed first: an open range would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
# Mono's C# compiler: tests/test_unity_kit.py compiles the Unity kit with it (skipped without it, except in CI)
if ! command -v mcs >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && $sudo apt-get install -y -qq mono-mcs || echo "warning: could not install mono-mcs; the Unity kit compile test will skip"
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[genesis,model,unity,cloud,dev]'
echo "setup done: $(.venv/bin/python --version), factory $(.venv/bin/python -c 'import factory; print(factory.__version__)')"
