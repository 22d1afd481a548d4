"""Orderly end of a distributed run."""
import torch.distributed as dist


def finish_distributed() -> None:
    """Wait for every rank, then destroy the default process group.

    Call it once a run has succeeded (not on an error path: a barrier there
    would wait for ranks that died). Without it a gloo process group is torn
    down during interpreter finalisation, where its worker threads may still
    free tensors and need the GIL: the process then aborts (SIGABRT) after
    its work was done, and torchrun reports the job as failed. A no-op when
    no process group is initialised.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    dist.destroy_process_group()
