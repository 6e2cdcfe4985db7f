"""fastinit.philox4x32 is Random123's Philox4x32-R, bit for bit."""

import numpy as np
import pytest

import fastinit
from conftest import load_kat

KAT = load_kat()


def test_kat_file_has_both_round_counts():
    assert {r for r, *_ in KAT} == {7, 10}
    assert len(KAT) == 6


@pytest.mark.parametrize("rounds, counter, key, expected", KAT)
def test_known_answers(rounds, counter, key, expected):
    out = fastinit.philox4x32(np.array(counter, np.uint32), np.array(key, np.uint32), rounds)
    assert out.dtype == np.uint32
    assert out.tolist() == expected


def test_vectorized_over_a_batch_with_broadcast_key():
    counters = np.array([row[1] for row in KAT if row[0] == 10], np.uint32)
    keys = np.array([row[2] for row in KAT if row[0] == 10], np.uint32)
    expected = [row[3] for row in KAT if row[0] == 10]
    assert fastinit.philox4x32(counters, keys).tolist() == expected
    batch = fastinit.philox4x32(np.zeros((2, 3, 4), np.uint32), np.zeros(2, np.uint32))
    assert batch.shape == (2, 3, 4)
    assert (batch == batch[0, 0]).all()


def test_default_is_ten_rounds():
    c, k = np.zeros(4, np.uint32), np.zeros(2, np.uint32)
    assert (fastinit.philox4x32(c, k) == fastinit.philox4x32(c, k, rounds=10)).all()


@pytest.mark.parametrize(
    "counter, key, rounds, error",
    [
        (np.zeros(3, np.uint32), np.zeros(2, np.uint32), 10, ValueError),
        (np.zeros(4, np.uint32), np.zeros(3, np.uint32), 10, ValueError),
        (np.zeros(4, np.float32), np.zeros(2, np.uint32), 10, TypeError),
        (np.full(4, -1), np.zeros(2, np.uint32), 10, TypeError),
        (np.zeros(4, np.uint32), np.zeros(2, np.uint32), 0, ValueError),
    ],
)
def test_bad_input(counter, key, rounds, error):
    with pytest.raises(error):
        fastinit.philox4x32(counter, key, rounds)
