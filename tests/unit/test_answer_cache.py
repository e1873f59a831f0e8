from normgraph.answer_cache import AnswerCache


def test_bounded_by_bytes_least_recently_used_out_first():
    cache = AnswerCache(80)
    for i in range(4):
        cache.put(i, b"x" * 10)
    assert cache.get(0) == b"x" * 10  # 0 is now the most recently used
    for i in range(4, 9):
        cache.put(i, b"y" * 10)
    assert cache.used <= 80
    assert cache.get(0) is not None and cache.get(1) is None


def test_generation_mismatch_is_a_miss_and_oversized_answers_are_not_kept():
    cache = AnswerCache(800)
    cache.put("q", b"answer", generation=3)
    assert cache.get("q", 3) == b"answer" and cache.get("q", 4) is None
    cache.put("big", b"z" * 101)  # more than an eighth of the budget
    assert cache.get("big") is None
    cache.put("q", b"new", generation=3)
    assert cache.get("q", 3) == b"new" and cache.used == 3
    cache.clear()
    assert cache.get("q", 3) is None and cache.used == 0


def test_zero_budget_keeps_nothing():
    cache = AnswerCache(0)
    cache.put("q", b"a")
    assert cache.get("q") is None
