#!/bin/sh
# The image's ENTRYPOINT (exec form). SageMaker starts it as `train` for training jobs and
# `serve` for endpoints and batch transform; easy_sm adds `process FILE` and `run CMD...`.
# Each branch uses exec, so the program becomes PID 1's child no more: it receives SIGTERM itself.
# train and process write stderr into stdout (2>&1): one stream keeps the order in which the
# program wrote its lines (a print and a logging line), locally and in CloudWatch.
# Managed by easy_sm: `easy_sm update-scripts` refreshes this file. Put your code elsewhere.
set -eu
here="$(dirname "$(readlink -f "$0")")"

# `easy_sm train|process|run --code`: the job's `code` input (a training channel, or the
# processing input of that name) holds the app's code folder as a tar.gz. Run that code instead
# of the image's own copy, so a code change needs no rebuild and push (requirements still do).
for code_input in /opt/ml/input/data/code /opt/ml/processing/code; do
  for archive in "$code_input"/*.tar.gz; do
    [ -f "$archive" ] && [ -z "${EASY_SM_CODE_DIR:-}" ] || continue
    module="$(basename "$(dirname "$here")")"
    unpacked="${TMPDIR:-/tmp}/easy_sm_code"
    rm -rf "$unpacked" && mkdir -p "$unpacked/$module"
    python - "$archive" "$unpacked/$module" <<'PY'
import sys
import tarfile

with tarfile.open(sys.argv[1]) as archive:
    try:
        archive.extractall(sys.argv[2], filter="data")
    except TypeError:  # a Python without extraction filters
        archive.extractall(sys.argv[2])
PY
    echo "easy_sm: running the code of the job's code input ($(basename "$archive"))" >&2
    export EASY_SM_CODE_DIR="$unpacked/$module"
    export PYTHONPATH="$unpacked:$unpacked/$module${PYTHONPATH:+:$PYTHONPATH}"
    here="$unpacked/$module/easy_sm_base"
    cd "$unpacked/$module"
  done
done
command="${1:-serve}"
[ "$#" -gt 0 ] && shift
case "$command" in
  train)
    exec python "$here/training/train" "$@" 2>&1 ;;
  serve)
    exec python "$here/prediction/serve" "$@" ;;
  process)
    if [ "$#" -lt 1 ]; then
      echo "usage: process FILE [ARGS...]  (FILE is in easy_sm_base/processing/)" >&2
      exit 2
    fi
    file="$1"; shift
    cd "$here/processing"
    exec python "$file" "$@" 2>&1 ;;
  run)
    if [ "$#" -lt 1 ]; then echo "usage: run COMMAND [ARGS...]" >&2; exit 2; fi
    exec "$@" ;;
  *)
    exec "$command" "$@" ;;
esac
