#!/usr/bin/env bash
# Download, where there is a network, the wheels gpu/run.sh installs on a GPU machine that has none: Keras and
# the two dependencies a PyTorch/JAX image usually lacks, for the GPU machine's Python (default 3.12).
#
#   bash gpu/fetch_wheels.sh [PYTHON_VERSION] [DEST]        (DEST: default gpu/wheels, where run.sh looks)
set -euo pipefail
version=${1:-3.12}
dest=${2:-$(dirname "$0")/wheels}
py=${PYTHON:-python3}
mkdir -p "$dest"
rm -f "$dest"/{keras,namex,optree}-*.whl          # one version of each: run.sh installs every wheel there
keras=$("$py" -c "import importlib.metadata as m; print(m.version('keras'))" 2>/dev/null || echo "")
"$py" -m pip download --quiet --dest "$dest" --only-binary=:all: --python-version "$version" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --no-deps \
    "keras${keras:+==$keras}" namex optree
ls -l "$dest"
