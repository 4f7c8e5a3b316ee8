import random

from tunewise.training.batching import eval_batches, padding_stats, plan_batches, shard


def _lengths(n=1000, seed=0):
    rng = random.Random(seed)
    return [rng.randint(3, 120) for _ in range(n)]


def test_plan_is_a_deterministic_permutation():
    lens = _lengths()
    a = plan_batches(lens, 32, seed=1, epoch=0)
    assert a == plan_batches(lens, 32, seed=1, epoch=0)
    assert a != plan_batches(lens, 32, seed=1, epoch=1)
    flat = sorted(i for b in a for i in b)
    assert flat == list(range(len(lens)))
    assert all(len(b) <= 32 for b in a)


def test_length_grouping_wastes_far_less_on_padding():
    lens = _lengths()
    real_g, tot_g = padding_stats(plan_batches(lens, 32, 1, 0, group_by_length=True), lens)
    real_r, tot_r = padding_stats(plan_batches(lens, 32, 1, 0, group_by_length=False), lens)
    assert real_g == real_r == sum(lens)
    assert real_g / tot_g > 0.9
    assert real_r / tot_r < 0.7


def test_shards_cover_every_batch_with_equal_counts():
    batches = [[i] for i in range(7)]
    parts = [shard(batches, r, 2) for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 4
    assert {b[0] for p in parts for b in p} == set(range(7))


def test_eval_batches_cover_each_row_once():
    lens = _lengths(101)
    rows = [i for b in eval_batches(lens, 16) for i in b]
    assert sorted(rows) == list(range(101))


def test_inference_batches_end_before_too_much_padding():
    from tunewise.training.batching import eval_batches

    lengths = [50, 10, 12, 48, 11, 30, 10, 10]
    plain = eval_batches(lengths, 8)
    assert plain == [[0, 3, 5, 2, 4, 1, 6, 7]]  # one batch padded to 50
    tight = eval_batches(lengths, 8, max_pad=0.2)
    assert sorted(i for b in tight for i in b) == list(range(8))  # every row once
    for b in tight:
        longest = max(lengths[i] for i in b)
        assert 1 - sum(lengths[i] for i in b) / (longest * len(b)) <= 0.2
    assert [len(b) for b in tight] == [3, 5]  # 50, 48, 30 (15% padding), then the short ones
    # rows of one length still fill whole batches
    assert eval_batches([7] * 10, 4, max_pad=0.2) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
