"""Fixtures of the dataset tests."""
import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run the data tests with one torch thread, like a DataLoader worker.

    The tensors here are small; on a loaded two-core machine intra-op
    threads only add synchronisation cost (seen: 20x slower).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
