"""Where the clips of a batch are analysed: in this process, on a local process pool (the default, no extra
dependency), or on Ray (an existing distributed engine: `pip install "fer-lens[ray]"`).

Every engine yields one `ClipOutcome` per clip as clips finish, retries a clip whose worker died or failed
for a reason that is not the clip itself (up to `MAX_ATTEMPTS` tries), and stops handing out clips once
`cancel` is set.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Protocol

from fer_core.batch.inputs import Clip
from fer_core.batch.settings import BatchSettings
from fer_core.batch.worker import ClipOutcome, ClipProgress, analyse_clip, analyse_clip_reporting, init_process

MAX_ATTEMPTS = 3


class Engine(Protocol):
    """Yields one outcome per clip; `progress(clip_id, seconds)` may be called while a clip is analysed."""

    def run(self, clips: list[Clip], settings: BatchSettings, cancel: threading.Event | None = None,
            progress: ClipProgress | None = None) -> Iterator[ClipOutcome]: ...


def _gave_up(clip: Clip, error: str) -> ClipOutcome:
    return ClipOutcome(clip, "failed", error=f"{error} (tried {MAX_ATTEMPTS} times)")


class InlineEngine:
    """One clip after another in this process, with a recognizer the caller already holds (the dashboard's
    shared model): no second copy of the model in memory."""

    def __init__(self, recognizer: Any = None) -> None:
        self.recognizer = recognizer

    def run(self, clips: list[Clip], settings: BatchSettings, cancel: threading.Event | None = None,
            progress: ClipProgress | None = None) -> Iterator[ClipOutcome]:
        for clip in clips:
            if cancel is not None and cancel.is_set():
                return
            for _ in range(MAX_ATTEMPTS):
                outcome = analyse_clip(clip, settings, self.recognizer, progress)
                if not outcome.retry:
                    break
            yield outcome if not outcome.retry else _gave_up(clip, outcome.error)


class LocalEngine:
    """A pool of `workers` processes on this machine, each with one torch thread and its own model. Processes
    are started fresh ("spawn"), never forked from a process that already runs torch's thread pool. A pool
    whose worker dies (killed, out of memory) is rebuilt and the clips it held are tried again."""

    def __init__(self, workers: int | None = None, task: Callable[..., ClipOutcome] | None = None) -> None:
        self.workers = max(1, workers or min(4, os.cpu_count() or 1))
        self.task = task  # what a worker runs per clip instead (module-level: it is sent by name); for tests

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_process, initargs=(1,))

    def run(self, clips: list[Clip], settings: BatchSettings, cancel: threading.Event | None = None,
            progress: ClipProgress | None = None) -> Iterator[ClipOutcome]:
        todo = list(clips)
        attempts = {c.clip_id: 0 for c in clips}
        context = multiprocessing.get_context("spawn")
        manager = context.Manager() if progress is not None and self.task is None else None
        queue = manager.Queue() if manager is not None else None

        def submit(pool: ProcessPoolExecutor, clip: Clip) -> Future:
            if self.task is not None:
                return pool.submit(self.task, clip, settings)
            if queue is not None:
                return pool.submit(analyse_clip_reporting, clip, settings, queue)
            return pool.submit(analyse_clip, clip, settings)

        def drain() -> None:
            while queue is not None and not queue.empty():
                progress(*queue.get_nowait())

        pool = self._pool()
        running: dict[Future, Clip] = {}
        try:
            while todo or running:
                while todo and len(running) < 2 * self.workers and not (cancel and cancel.is_set()):
                    clip = todo.pop(0)
                    attempts[clip.clip_id] += 1
                    running[submit(pool, clip)] = clip
                if not running:
                    return  # cancelled: the rest stays undone, a rerun finishes it
                finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                drain()
                broken = False
                for future in finished:
                    clip = running.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        outcome = ClipOutcome(clip, "failed", error="its worker process stopped", retry=True)
                    if outcome.retry and attempts[clip.clip_id] < MAX_ATTEMPTS:
                        todo.insert(0, clip)
                    else:
                        yield outcome if not outcome.retry else _gave_up(clip, outcome.error)
                if broken:  # every clip still in the broken pool gets another worker
                    for future, clip in running.items():
                        future.cancel()
                        todo.insert(0, clip)
                    running.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        finally:
            pool.shutdown(wait=not (cancel and cancel.is_set()), cancel_futures=True)
            if manager is not None:
                manager.shutdown()


class RayEngine:
    """Ray actors, each holding the model, one clip at a time. Without `address` a local Ray is started (and
    stopped afterwards); with one, the batch joins that cluster (`ray start --head` on one machine,
    `ray start --address ...` on the others; the clips must be on storage every node can read). Ray restarts
    an actor whose process or machine dies and retries its clip. Ray's usage statistics are switched off."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers = workers
        self.address = address

    def run(self, clips: list[Clip], settings: BatchSettings, cancel: threading.Event | None = None,
            progress: ClipProgress | None = None) -> Iterator[ClipOutcome]:
        """Progress comes per finished clip only (actors do not stream it back)."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError('the Ray engine needs Ray: pip install "fer-lens[ray]"') from exc
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     num_cpus=None if self.address else (self.workers or os.cpu_count()))
        try:
            yield from self._run(ray, clips, settings, cancel)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, clips: list[Clip], settings: BatchSettings,
             cancel: threading.Event | None) -> Iterator[ClipOutcome]:
        actor_class = ray.remote(num_cpus=1, max_restarts=MAX_ATTEMPTS - 1, max_task_retries=MAX_ATTEMPTS - 1)(
            _ClipActor)
        count = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = [actor_class.remote(settings) for _ in range(min(count, len(clips)) or 1)]
        lost = tuple(getattr(ray.exceptions, name) for name in ("RayActorError", "WorkerCrashedError",
                     "NodeDiedError", "ActorDiedError", "ActorUnavailableError") if hasattr(ray.exceptions, name))
        todo, idle, running = list(clips), list(actors), {}
        attempts = {c.clip_id: 0 for c in clips}
        while todo or running:
            while todo and idle and not (cancel and cancel.is_set()):
                clip, actor = todo.pop(0), idle.pop()
                attempts[clip.clip_id] += 1
                running[actor.analyse.remote(clip)] = (clip, actor)
            if not running:
                return
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                clip, actor = running.pop(ref)
                idle.append(actor)
                try:
                    outcome = ray.get(ref)
                except lost as exc:
                    outcome = ClipOutcome(clip, "failed", error=f"its Ray worker was lost ({type(exc).__name__})",
                                          retry=True)
                if outcome.retry and attempts[clip.clip_id] < MAX_ATTEMPTS:
                    todo.insert(0, clip)
                else:
                    yield outcome if not outcome.retry else _gave_up(clip, outcome.error)


class _ClipActor:
    """A Ray actor: the model, loaded once, for every clip sent to it."""

    def __init__(self, settings: BatchSettings) -> None:
        from fer_core.batch.worker import recognizer_for

        init_process(1)
        self.settings = settings
        self.recognizer = recognizer_for(settings)

    def analyse(self, clip: Clip) -> ClipOutcome:
        return analyse_clip(clip, self.settings, self.recognizer)
