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
# OSMesa: MuJoCo renders recipe cameras offscreen on the CPU with it (tests/test_cameras.py skips without it, except in CI)
if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && $sudo apt-get install -y -qq libosmesa6 || echo "warning: could not install libosmesa6; the camera tests will skip"
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[genesis,mujoco,meshes,model,unity,cloud,dev,export,docs]'
# LeRobot's own loader for the export tests, in a venv of its own: lerobot 0.4.4 (the last for Python
# 3.11) needs torchvision, which fails beside torch 2.13.0 CPU, so it gets torch 2.14.1 (~5.9 GB, ~6 min).
# Opt-in with FACTORY_LEROBOT=1 (CI sets it); without it the test that needs it is skipped.
# Its videos decode through torchcodec (torchvision 0.29 has no video reader left), which loads the
# system's FFmpeg libraries (Debian 12: FFmpeg 5.1).
if [ "${FACTORY_LEROBOT:-0}" = 1 ] && [ ! -x .venv-lerobot/bin/python ]; then
  if ! ldconfig -p 2>/dev/null | grep -q libavcodec; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo apt-get install -y -qq libavcodec59 libavformat59 libavutil57 libswscale6 \
      libswresample4 libavdevice59 libavfilter8 || echo "warning: no FFmpeg libraries; LeRobot cannot decode videos"
  fi
  if ! { "$PYTHON" -m venv .venv-lerobot &&
         .venv-lerobot/bin/pip install -q torch==2.14.1 torchvision==0.29.1 &&
         .venv-lerobot/bin/pip install -q --no-deps lerobot==0.4.4 &&
         .venv-lerobot/bin/pip install -q "datasets<5" "huggingface-hub<0.36" pandas pyarrow packaging pillow \
             jsonlines draccus deepdiff einops imageio termcolor av accelerate torchcodec==0.17.0; }; then
    echo "note: no .venv-lerobot (lerobot could not be installed); the LeRobot loader test will be skipped" >&2
    rm -rf .venv-lerobot
  fi
fi
echo "setup done: $(.venv/bin/python --version), factory $(.venv/bin/python -c 'import factory; print(factory.__version__)')"
