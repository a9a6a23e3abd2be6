#!/usr/bin/env bash
# Train the GPU recipe on a rented GPU machine that has Python with PyTorch or JAX and no network.
#
#   bash gpu/run.sh PACK OUT [more options of python -m helpers.train]
#
# PACK: FER2013 packed small (python -m helpers.pack --splits train public --out PACK; README "Training on a
# GPU"); OUT: a new folder for the model (best.keras), its metadata (result.json) and its log. What the machine
# lacks (Keras and two small dependencies) is installed from gpu/wheels/ (bash gpu/fetch_wheels.sh, run
# beforehand where there is a network), never from the network. Keras runs on the backend the machine has:
# $KERAS_BACKEND if set, else JAX, else torch, else TensorFlow.
set -euo pipefail
pack=${1:?usage: bash gpu/run.sh PACK OUT [options]}
out=${2:?usage: bash gpu/run.sh PACK OUT [options]}
shift 2
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}

if ! "$py" -c "import keras" 2>/dev/null; then
    [ -d gpu/wheels ] || { echo "Keras is missing and gpu/wheels/ is empty: run bash gpu/fetch_wheels.sh first" >&2; exit 2; }
    "$py" -m pip install --quiet --no-index --find-links gpu/wheels keras
fi
if [ -z "${KERAS_BACKEND:-}" ]; then
    for candidate in jax torch tensorflow; do
        if "$py" -c "import $candidate" 2>/dev/null; then export KERAS_BACKEND=$candidate; break; fi
    done
fi
echo "Python $("$py" -c 'import sys; print(sys.version.split()[0])'), Keras backend ${KERAS_BACKEND:-none}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"      # the helpers package, without installing it
"$py" -m helpers.train --recipe gpu --data "$pack" --out "$out" "$@"
