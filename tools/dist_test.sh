#!/usr/bin/env bash
# Distributed testing with torchrun and mmengine's `pytorch` launcher.
#   bash tools/dist_test.sh CONFIG CKPT NUM_PROCS [test.py args...]
# NCCL on GPUs, gloo on CPU-only machines (chosen by tools/test.py).
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR, PORT as for torchrun.
set -euo pipefail
CONFIG=$1; CKPT=$2; NPROC=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
PYTHONPATH="$here/..:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$NPROC" "$here/test.py" "$CONFIG" "$CKPT" --launcher pytorch "$@"
