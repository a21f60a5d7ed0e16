"""A small per-session memo in `st.session_state`, so reruns (a click on a picker, a download) reuse
detections and heatmaps instead of recomputing them. Per session, so one visitor's photos are never
served to another; bounded, so a long session does not pile up images in memory."""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

import streamlit as st

from .settings import current_model

T = TypeVar("T")


def memo(bucket: str, key: Hashable, compute: Callable[[], T], max_items: int = 16) -> T:
    """The value stored under `key` in this session's `bucket`, computing and storing it on a miss. Keys
    include the sidebar's model, so switching models never shows another model's results."""
    key = stored_key(key)
    store = bucket_store(bucket)
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = compute()
    store[key] = value
    while len(store) > max_items:
        store.popitem(last=False)
    return value


def memo_many(bucket: str, keys: list[Hashable], compute_missing: Callable[[list[int]], list[T]],
              max_items: int = 16) -> list[T]:
    """`memo` for several keys at once: `compute_missing(positions)` computes, in one call, the values of the
    keys (by position in `keys`) this session does not hold yet, e.g. every face of a photo in shared
    batches."""
    store = bucket_store(bucket)
    stored = [stored_key(k) for k in keys]
    missing = [i for i, k in enumerate(stored) if k not in store]
    if missing:
        for i, value in zip(missing, compute_missing(missing)):
            store[stored[i]] = value
    values = [store[k] for k in stored]
    for k in stored:
        store.move_to_end(k)
    while len(store) > max_items:
        store.popitem(last=False)
    return values


def stored_key(key: Hashable) -> tuple:
    """The key `memo` files `key` under in this session (it includes the sidebar's model)."""
    return current_model(), key


def bucket_store(bucket: str) -> OrderedDict:
    """This session's store behind `memo(bucket, ...)`. Fetch it in the script run; code that runs later
    outside it (a download's deferred callable, which cannot reach Session State) may then read it with
    `store.get(stored_key(key))`, seeing what the rest of the run has computed meanwhile."""
    return st.session_state.setdefault(f"_memo_{bucket}", OrderedDict())
