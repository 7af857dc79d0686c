"""The k largest of each row, chosen as torch.topk chooses them on the CPU, ties included.

A router picks each token's top-k experts. Between equal values torch.topk does not prefer the lower index: its
CPU kernel (ATen's TopKImpl.h, `topk_impl_loop`) fills a queue of (value, index) pairs and runs libstdc++'s
std::partial_sort (when k·64 ≤ n) or std::nth_element on the k-th place followed by std::sort of the first k − 1
(otherwise), comparing values only, and those algorithms move equal values around. So a row whose k-th and
(k+1)-th largest values are equal (a routing tie: two experts with the same router weights) goes through a port
of those algorithms here (`torch_order`); every other row's choice is the same whatever breaks ties, and takes
numpy's stable argsort (the order inside the k only changes the order of a sum).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 16  # libstdc++'s _S_threshold: std::sort leaves runs this short to insertion sort


def topk(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Values and indices (m, k) of the k largest of each row of x (m, E), largest first, as torch.topk(x, k)."""
    order = np.argsort(-x, axis=-1, kind="stable")  # (m, E)
    idx = order[:, :k].copy()
    if k < x.shape[1]:
        ranked = np.take_along_axis(x, order, axis=-1)
        for r in np.nonzero(ranked[:, k - 1] == ranked[:, k])[0]:  # a tie across the k-th place
            idx[r] = torch_order(x[r].tolist(), k)
    return np.take_along_axis(x, idx, axis=-1), idx


def torch_order(values: list[float], k: int) -> list[int]:
    """The indices torch.topk(values, k, largest=True, sorted=True) gives on the CPU (see the module docstring)."""
    q = [(v, i) for i, v in enumerate(values)]
    n = len(q)
    if k * 64 <= n:
        _heap_select(q, 0, k, n)
        _sort_heap(q, 0, k)
    else:
        _introselect(q, 0, k - 1, n, 2 * _lg(n))
        _sort(q, 0, k - 1)
    return [i for _, i in q[:k]]


def _less(a: tuple[float, int], b: tuple[float, int]) -> bool:
    """torch's comparator for largest=True: a goes before b when a's value is larger (NaN first)."""
    return (a[0] != a[0] and b[0] == b[0]) or a[0] > b[0]


def _lg(n: int) -> int:
    return n.bit_length() - 1


def _swap(q: list, a: int, b: int) -> None:
    q[a], q[b] = q[b], q[a]


def _move_median_to_first(q: list, result: int, a: int, b: int, c: int) -> None:
    if _less(q[a], q[b]):
        if _less(q[b], q[c]):
            _swap(q, result, b)
        elif _less(q[a], q[c]):
            _swap(q, result, c)
        else:
            _swap(q, result, a)
    elif _less(q[a], q[c]):
        _swap(q, result, a)
    elif _less(q[b], q[c]):
        _swap(q, result, c)
    else:
        _swap(q, result, b)


def _unguarded_partition(q: list, first: int, last: int, pivot: int) -> int:
    while True:
        while _less(q[first], q[pivot]):
            first += 1
        last -= 1
        while _less(q[pivot], q[last]):
            last -= 1
        if not first < last:
            return first
        _swap(q, first, last)
        first += 1


def _partition_pivot(q: list, first: int, last: int) -> int:
    mid = first + (last - first) // 2
    _move_median_to_first(q, first, first + 1, mid, last - 1)
    return _unguarded_partition(q, first + 1, last, first)


def _unguarded_linear_insert(q: list, last: int) -> None:
    val = q[last]
    nxt = last - 1
    while _less(val, q[nxt]):
        q[last] = q[nxt]
        last = nxt
        nxt -= 1
    q[last] = val


def _insertion_sort(q: list, first: int, last: int) -> None:
    if first == last:
        return
    for i in range(first + 1, last):
        if _less(q[i], q[first]):
            val = q[i]
            q[first + 1: i + 1] = q[first:i]
            q[first] = val
        else:
            _unguarded_linear_insert(q, i)


def _introselect(q: list, first: int, nth: int, last: int, depth: int) -> None:
    """std::nth_element's loop (libstdc++ __introselect)."""
    while last - first > 3:
        if depth == 0:
            _heap_select(q, first, nth + 1, last)
            _swap(q, first, nth)
            return
        depth -= 1
        cut = _partition_pivot(q, first, last)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(q, first, last)


def _sort(q: list, first: int, last: int) -> None:
    """std::sort (libstdc++ __introsort_loop, then __final_insertion_sort)."""
    if first == last:
        return
    _introsort_loop(q, first, last, 2 * _lg(last - first))
    if last - first > THRESHOLD:
        _insertion_sort(q, first, first + THRESHOLD)
        for i in range(first + THRESHOLD, last):
            _unguarded_linear_insert(q, i)
    else:
        _insertion_sort(q, first, last)


def _introsort_loop(q: list, first: int, last: int, depth: int) -> None:
    while last - first > THRESHOLD:
        if depth == 0:
            _heap_select(q, first, last, last)
            _sort_heap(q, first, last)
            return
        depth -= 1
        cut = _partition_pivot(q, first, last)
        _introsort_loop(q, cut, last, depth)
        last = cut


# ---- libstdc++'s heap (std::partial_sort = __heap_select + __sort_heap)

def _push_heap(q: list, first: int, hole: int, top: int, val: tuple) -> None:
    parent = (hole - 1) // 2
    while hole > top and _less(q[first + parent], val):
        q[first + hole] = q[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    q[first + hole] = val


def _adjust_heap(q: list, first: int, hole: int, length: int, val: tuple) -> None:
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _less(q[first + child], q[first + child - 1]):
            child -= 1
        q[first + hole] = q[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        q[first + hole] = q[first + child - 1]
        hole = child - 1
    _push_heap(q, first, hole, top, val)


def _make_heap(q: list, first: int, last: int) -> None:
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _adjust_heap(q, first, parent, length, q[first + parent])
        if parent == 0:
            return
        parent -= 1


def _pop_heap(q: list, first: int, last: int, result: int) -> None:
    val = q[result]
    q[result] = q[first]
    _adjust_heap(q, first, 0, last - first, val)


def _heap_select(q: list, first: int, middle: int, last: int) -> None:
    _make_heap(q, first, middle)
    for i in range(middle, last):
        if _less(q[i], q[first]):
            _pop_heap(q, first, middle, i)


def _sort_heap(q: list, first: int, last: int) -> None:
    while last - first > 1:
        last -= 1
        _pop_heap(q, first, last, last)
