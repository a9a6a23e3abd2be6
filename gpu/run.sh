#!/usr/bin/env bash
# Train the GPU recipe on a rented GPU machine that has Python with PyTorch or JAX and no network.
#
#   bash gpu/run.sh PACK OUT [more options of python -m helpers.train]
#
# PACK: FER2013 packed small (python -m helpers.pack --splits train public --out PACK; docs/commands.md,
# "Other backends and a GPU"); OUT: a new folder for the model (model.keras + model.json: the epoch chosen on
# PublicTest, float32, what ships), its metadata (result.json), its per-epoch log (log.csv) and the checkpoint
# with the optimizer's state (best.keras). Then that model is fine-tuned for 6 epochs on faces as the test sees
# them (mirror images only; seconds on a GPU; $FER_FINETUNE_EPOCHS to change) into OUT/finetune/, whose model is
# the epoch PublicTest prefers, the model as trained counting as epoch 0 (so it is never worse there). Copy
# OUT/finetune back (OUT itself if the fine-tuning did not finish), then, where the original FER2013 files are:
#   python -m helpers.train --ship-finished --out OUT/finetune
# scores it on them, PrivateTest included, and ships it if it beats the shipped model on PublicTest.
# What the machine lacks (Keras and two small dependencies) is installed from gpu/wheels/ ($FER_WHEELS if set; bash
# gpu/fetch_wheels.sh, run beforehand where there is a network), never from the network, into a folder of its
# own: the machine's Python is left as it was. Keras runs on the backend the machine has: $KERAS_BACKEND if
# set, else JAX, else torch, else TensorFlow.
set -euo pipefail
pack=${1:?usage: bash gpu/run.sh PACK OUT [options]}
out=${2:?usage: bash gpu/run.sh PACK OUT [options]}
shift 2
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
# Where the call's minutes go (a lent GPU's are few): the time since the start, at each stage
clock() { printf '[gpu/run.sh %d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

if [ -z "${KERAS_BACKEND:-}" ]; then
    for candidate in jax torch tensorflow; do
        if "$py" -c "import $candidate" 2>/dev/null; then export KERAS_BACKEND=$candidate; break; fi
    done
fi

wheels=${FER_WHEELS:-gpu/wheels}
if ! "$py" -c "import keras" 2>/dev/null; then          # (imported on the backend chosen above)
    compgen -G "$wheels/*.whl" >/dev/null || { echo "Keras is missing and $wheels/ has no wheels: run bash gpu/fetch_wheels.sh first" >&2; exit 2; }
    # --target: nothing of the machine's Python changes (its site-packages may be read-only); --no-deps: the
    # rest of what Keras needs (numpy, h5py, ml-dtypes, rich, absl-py) comes from the machine's own packages
    site=$(mktemp -d "${TMPDIR:-/tmp}/fer-keras.XXXXXX")
    "$py" -m pip install --quiet --no-index --no-deps --no-compile --target "$site" "$wheels"/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    "$py" -c "import keras; print('Keras', keras.__version__, 'installed from $wheels/ into $site')" \
        || { echo "Keras from $wheels/ does not import (above: what the machine lacks)" >&2; exit 2; }
fi
echo "Python $("$py" -c 'import sys; print(sys.version.split()[0])'), Keras backend ${KERAS_BACKEND:-none}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"      # the helpers package, without installing it
clock "training: helpers.train --recipe gpu"
"$py" -m helpers.train --recipe gpu --data "$pack" --out "$out" "$@"
clock "trained, batch-norm statistics refreshed, PublicTest scored; fine-tuning: helpers.finetune"
"$py" -m helpers.finetune --model "$out/model.keras" --data "$pack" --out "$out/finetune" \
    --epochs "${FER_FINETUNE_EPOCHS:-6}"
clock "fine-tuned: done"
