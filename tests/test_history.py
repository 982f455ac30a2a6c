"""`derive.history.History`: the forward sweep's sets of assigned names, past states included."""

from adgen.derive.history import History


def test_membership_now_and_at_earlier_points():
    h = History(["x"])
    start = h.point()
    h.add("a")
    after_a = h.point()
    h.discard("x")
    h.add("b")
    assert "a" in h and "b" in h and "x" not in h
    assert [h.had(start, n) for n in ("x", "a", "b")] == [True, False, False]
    assert [h.had(after_a, n) for n in ("x", "a", "b")] == [True, True, False]
    assert not h.had(None, "x")
    snapshot = h.at(after_a)
    assert "a" in snapshot and "b" not in snapshot


def test_since_lists_the_names_added_after_a_point_once():
    h = History(["x"])
    mark = h.point()
    h.add("b")
    h.add("a")
    h.add("b")  # already a member: no change
    h.discard("x")  # was there before the mark: not "added since"
    assert h.since(mark) == ["b", "a"]


def test_a_branch_undone_and_taken_again_keeps_every_span():
    h = History()
    h.add("v")
    first = h.point()
    h.discard("v")
    gone = h.point()
    h.add("v")
    assert h.had(first, "v") and not h.had(gone, "v") and "v" in h
    assert h.since(gone) == ["v"]
