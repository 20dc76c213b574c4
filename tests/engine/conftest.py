import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models on a shared two-core machine: one torch thread is faster and steadier."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
