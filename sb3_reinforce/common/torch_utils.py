"""Small tensor helpers of the episodic update."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch as th
from stable_baselines3.common.type_aliases import PyTorchObs


def select_rows(observations: PyTorchObs, indices: th.Tensor | slice) -> PyTorchObs:
    """
    The rows ``indices`` of a batch of (plain or ``Dict``) observations.

    :param observations: A tensor, or a dict of tensors, whose first axis is the batch
    :param indices: A slice or an index tensor into the first axis
    """
    if isinstance(observations, dict):
        return {key: value[indices] for key, value in observations.items()}
    return observations[indices]


def n_rows(observations: PyTorchObs) -> int:
    """
    The number of observations in a (plain or ``Dict``) batch.

    :param observations: A tensor, or a dict of tensors, whose first axis is the batch
    """
    return len(next(iter(observations.values())) if isinstance(observations, dict) else observations)


def chunk_slices(n_rows: int, chunk_rows: int) -> list[slice]:
    """
    Consecutive slices of at most ``chunk_rows`` rows that cover ``n_rows`` rows.

    :param n_rows: Number of rows to cover (0 gives no slice)
    :param chunk_rows: Most rows per slice, at least 1
    """
    return [slice(start, min(start + chunk_rows, n_rows)) for start in range(0, n_rows, chunk_rows)]


def standardize(values: th.Tensor) -> th.Tensor:
    """
    Zero mean, unit std over the batch; all zeros when the std is at most 1e-8 (equal values, or one value).

    :param values: The values, any shape (standardized over all their elements)
    """
    centered = values - values.mean()
    std = values.std(unbiased=False)
    return centered / std if std > 1e-8 else th.zeros_like(values)


def approx_kl_divergence(behaviour_log_prob: th.Tensor, log_prob: th.Tensor) -> float:
    """
    Low-variance estimate of KL(behaviour || current) from the log-probabilities of the taken
    actions: the mean of ``(r - 1) - log r``, ``r`` being the ratio of current to behaviour probabilities.

    :param behaviour_log_prob: Log-probabilities of the taken actions under the reference policy (REINFORCE:
        the one before the batch's first gradient step)
    :param log_prob: Log-probabilities of the same actions under the current policy, same shape
    """
    log_ratio = log_prob - behaviour_log_prob
    return th.mean(th.exp(log_ratio) - 1 - log_ratio).item()


# Samplers inside unvalidated_distributions, and the process's setting they restore when the last one leaves
_unvalidated_lock = threading.Lock()
_unvalidated_users = 0
_saved_validate_args = True


@contextmanager
def unvalidated_distributions() -> Iterator[None]:
    """
    Build torch distributions without their argument checks inside the block (about 17 us a step
    when sampling): the policy's parameters and the checked env outputs are finite, so the checks
    find nothing there. The process's setting comes back when the last thread inside such a block
    leaves it (models trained in several threads overlap); a distribution that another thread builds
    meanwhile is not checked either.
    """
    global _unvalidated_users, _saved_validate_args
    with _unvalidated_lock:
        if _unvalidated_users == 0:
            _saved_validate_args = th.distributions.Distribution._validate_args
            th.distributions.Distribution.set_default_validate_args(False)
        _unvalidated_users += 1
    try:
        yield
    finally:
        with _unvalidated_lock:
            _unvalidated_users -= 1
            if _unvalidated_users == 0:
                th.distributions.Distribution.set_default_validate_args(_saved_validate_args)
