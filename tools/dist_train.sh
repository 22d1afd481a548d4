#!/usr/bin/env bash
# Distributed training with torchrun and mmengine's `pytorch` launcher.
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# NCCL on GPUs, gloo on CPU-only machines (chosen by tools/train.py).
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR, PORT as for torchrun.
set -euo pipefail
CONFIG=$1; NPROC=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
PYTHONPATH="$here/..:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$NPROC" "$here/train.py" "$CONFIG" --launcher pytorch "$@"
