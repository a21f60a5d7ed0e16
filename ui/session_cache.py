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
    key = (current_model(), key)
    store: OrderedDict = st.session_state.setdefault(f"_memo_{bucket}", OrderedDict())
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = compute()
    store[key] = value
    while len(store) > max_items:
        store.popitem(last=False)
    return value
