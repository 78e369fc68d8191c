"""Tests of the counter-based Philox random numbers in mcsim.rng."""

import numba
import numpy as np
import pytest
from scipy import stats

from mcsim import rng

U64_MAX = 2**64 - 1

# (counter as numpy stores it, key); numpy increments the counter before each block.
NUMPY_CASES = [
    ((0, 0, 0, 0), (0, 0)),
    ((5, 0, 0, 0), (123, 456)),
    ((U64_MAX, 7, 0, 0), (1, 2)),                         # carry from word 0 into word 1
    ((U64_MAX, U64_MAX, 3, 0), (2**63, 99)),               # carry across two words
    ((U64_MAX, U64_MAX, U64_MAX, 11), (U64_MAX, U64_MAX)),  # carry into the top word
    ((2**40 + 3, 2**33, 2**62, 2**50), (0xDEADBEEF, 0xCAFEF00D)),
]


def _as_u64(words):
    return tuple(np.uint64(w) for w in words)


def _add_one(counter):
    """256-bit little-endian increment, as numpy's Philox does before a block."""
    value = sum(int(w) << (64 * i) for i, w in enumerate(counter)) + 1
    value &= (1 << 256) - 1
    return tuple((value >> (64 * i)) & U64_MAX for i in range(4))


@pytest.mark.parametrize("counter, key", NUMPY_CASES)
def test_philox_block_is_bit_identical_to_numpy(counter, key):
    bit_gen = np.random.Philox(counter=np.array(counter, dtype=np.uint64),
                               key=np.array(key, dtype=np.uint64))
    expected = bit_gen.random_raw(8)
    first = rng.philox4x64(*_as_u64(_add_one(counter)), *_as_u64(key))
    second = rng.philox4x64(*_as_u64(_add_one(_add_one(counter))), *_as_u64(key))
    assert [int(w) for w in first + second] == [int(w) for w in expected]


@pytest.mark.parametrize("counter, key, expected", [
    ((0, 0, 0, 0), (0, 0),
     (0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B)),
    ((U64_MAX,) * 4, (U64_MAX,) * 2,
     (0x87B092C3013FE90B, 0x438C3C67BE8D0224, 0x9CC7D7C69CD777B6, 0xA09CAEBF594F0BA0)),
])
def test_philox_matches_published_known_answers(counter, key, expected):
    out = rng.philox4x64(*_as_u64(counter), *_as_u64(key))
    assert tuple(int(w) for w in out) == expected


def test_uniform4_uses_key_seed_stream_and_counter_index_step():
    seed, stream, index, step = 42, rng.STREAM_LITHIATION, 2**35 + 17, 1234
    words = rng.philox4x64(np.uint64(index), np.uint64(step), np.uint64(0), np.uint64(0),
                           np.uint64(seed), np.uint64(stream))
    expected = tuple((int(w) >> 11) * 2.0**-53 for w in words)
    assert rng.uniform4(seed, stream, index, step) == expected
    assert rng.uniform(seed, stream, index, step) == expected[0]
    assert rng.uniform_sub(seed, stream, index, step, 0) == expected


def test_uniform_sub_counters_give_different_numbers():
    blocks = {rng.uniform_sub(3, rng.STREAM_SINTER, 10, 5, sub) for sub in range(50)}
    assert len(blocks) == 50


def test_uniform_array_equals_scalar_uniform():
    index = np.array([0, 1, 2, 2**32 + 5, 2**40, 77], dtype=np.int64)
    values = rng.uniform_array(9, rng.STREAM_SOURCE, index, 3)
    assert values.tolist() == [rng.uniform(9, rng.STREAM_SOURCE, int(i), 3) for i in index]


def test_uniform_array_rejects_negative_inputs():
    with pytest.raises(ValueError):
        rng.uniform_array(-1, 1, np.arange(3), 0)
    with pytest.raises(ValueError):
        rng.uniform_array(1, 1, np.array([0, -2]), 0)


def test_uniforms_pass_chi_square_with_100_bins():
    values = rng.uniform_array(2024, rng.STREAM_TRANSPORT, np.arange(1_000_000), 0)
    counts, _ = np.histogram(values, bins=100, range=(0.0, 1.0))
    _, p_value = stats.chisquare(counts)
    assert p_value > 1e-3


def test_uniforms_pass_kolmogorov_smirnov():
    values = rng.uniform_array(77, rng.STREAM_DISORDER, np.arange(200_000), 12)
    assert stats.kstest(values, "uniform").pvalue > 1e-3


def test_all_four_words_are_uniform():
    @numba.njit
    def draw_all(n):
        out = np.empty((n, 4))
        for i in range(n):
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = rng.uniform4(5, 2, i, 8)
        return out

    values = draw_all(100_000)
    for column in range(4):
        assert stats.kstest(values[:, column], "uniform").pvalue > 1e-3
    # words within one block are uncorrelated with each other
    corr = np.corrcoef(values.T)
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 0.02)


def test_adjacent_indices_and_steps_are_uncorrelated():
    n = 200_000
    index = np.arange(n + 1)
    step0 = rng.uniform_array(11, rng.STREAM_ROCKSALT, index, 0)
    step1 = rng.uniform_array(11, rng.STREAM_ROCKSALT, index, 1)
    limit = 5.0 / np.sqrt(n)  # five standard errors of a correlation coefficient
    assert abs(np.corrcoef(step0[:-1], step0[1:])[0, 1]) < limit
    assert abs(np.corrcoef(step0, step1)[0, 1]) < limit


def test_different_streams_give_different_numbers():
    index = np.arange(10_000)
    by_stream = [rng.uniform_array(5, s, index, 0) for s in range(1, 9)]
    for a in range(len(by_stream)):
        for b in range(a + 1, len(by_stream)):
            assert np.count_nonzero(by_stream[a] == by_stream[b]) == 0
            assert abs(np.corrcoef(by_stream[a], by_stream[b])[0, 1]) < 0.05


def test_different_seeds_give_different_numbers():
    index = np.arange(10_000)
    a = rng.uniform_array(1, rng.STREAM_SOURCE, index, 0)
    b = rng.uniform_array(2, rng.STREAM_SOURCE, index, 0)
    assert np.count_nonzero(a == b) == 0


def test_voxel_value_does_not_depend_on_chunking_or_order():
    index = np.arange(2**33, 2**33 + 10_001, dtype=np.int64)
    whole = rng.uniform_array(8, rng.STREAM_DEHYDRATION, index, 40)
    halves = np.concatenate([rng.uniform_array(8, rng.STREAM_DEHYDRATION, index[:4000], 40),
                             rng.uniform_array(8, rng.STREAM_DEHYDRATION, index[4000:], 40)])
    order = np.random.default_rng(0).permutation(index.size)
    shuffled = rng.uniform_array(8, rng.STREAM_DEHYDRATION, index[order], 40)
    assert np.array_equal(whole, halves)
    assert np.array_equal(whole[order], shuffled)


def test_callable_inside_prange_of_another_kernel():
    @numba.njit(parallel=True)
    def fill(n, step):
        out = np.empty(n)
        for i in numba.prange(n):
            out[i] = rng.uniform(3, rng.STREAM_GENERATOR, i, step)
        return out

    n = 5000
    assert np.array_equal(fill(n, 2), rng.uniform_array(3, rng.STREAM_GENERATOR, np.arange(n), 2))


def test_values_lie_in_unit_interval_and_never_reach_one():
    values = rng.uniform_array(0, 1, np.arange(500_000), 0)
    assert values.min() >= 0.0
    assert values.max() < 1.0
    # the largest possible word maps strictly below one
    assert (U64_MAX >> 11) * 2.0**-53 < 1.0


def test_stream_constants_are_distinct():
    names = ["STREAM_GENERATOR", "STREAM_SOURCE", "STREAM_TRANSPORT", "STREAM_LITHIATION",
             "STREAM_DEHYDRATION", "STREAM_ROCKSALT", "STREAM_DISORDER", "STREAM_SINTER"]
    values = [getattr(rng, name) for name in names]
    assert values == list(range(1, 9))
