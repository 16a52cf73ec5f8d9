#!/bin/sh
# The image's ENTRYPOINT (exec form). SageMaker starts it as `train` for training jobs and
# `serve` for endpoints and batch transform; easy_sm adds `process FILE` and `run CMD...`.
# Each branch uses exec, so the program becomes PID 1's child no more: it receives SIGTERM itself.
# train and process write stderr into stdout (2>&1): one stream keeps the order in which the
# program wrote its lines (a print and a logging line), locally and in CloudWatch.
# Managed by easy_sm: `easy_sm update-scripts` refreshes this file. Put your code elsewhere.
set -eu
here="$(dirname "$(readlink -f "$0")")"
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
