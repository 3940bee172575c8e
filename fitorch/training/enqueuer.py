"""Background loading for `Sequence`s and generators, with the batch order kept.

`OrderedEnqueuer(sequence, workers, use_multiprocessing, max_queue_size).batches(indices)`
computes `sequence[i]` for the indices in a pool of `workers` threads (or processes with
`use_multiprocessing=True`), keeps at most `max_queue_size` batches in flight, and yields
them in the order of `indices`. A worker's exception is re-raised in the main process when
its batch is reached (for processes the worker's traceback is chained as the cause). The
pool lives for one pass: it is torn down when the pass ends, when the consumer stops early,
or when `close()` is called (the trainer calls it after fit, on Ctrl-C and on errors), so no
thread or process outlives the call that started it.

Processes are forked at the start of each pass, so each pass sees the state that the
Sequence's `on_epoch_end` left (e.g. a reshuffled index), as Keras 2's enqueuer did.

`GeneratorEnqueuer(iterator, max_queue_size)` prefetches a Python generator in one
background thread (a generator cannot be advanced from two places at once), order kept.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

__all__ = ["OrderedEnqueuer", "GeneratorEnqueuer"]

_WORKER_SEQUENCE = None  # the Sequence as seen by a worker process (set by the initializer)


def _init_process_worker(sequence) -> None:
    global _WORKER_SEQUENCE
    _WORKER_SEQUENCE = sequence
    # Ctrl-C goes to the whole process group; the main process handles it and tears down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)  # workers share the machine with the training step


def _process_getitem(index):
    return _WORKER_SEQUENCE[index]


class OrderedEnqueuer:
    """Loads `sequence[i]` in parallel, yielding batches in the order asked for."""

    def __init__(self, sequence, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):  # fmt: skip
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer; got {workers!r}.")
        if not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError(f"max_queue_size must be a positive integer; got {max_queue_size!r}.")
        self.sequence = sequence
        self.workers = workers
        self.use_multiprocessing = bool(use_multiprocessing)
        self.max_queue_size = max_queue_size
        self._pools: list = []  # pools of passes still running

    def _start_pool(self):
        """A pool and `submit(index) -> handle` with `handle()` returning the batch."""
        if self.use_multiprocessing:
            context = multiprocessing.get_context()
            pool = context.Pool(self.workers, _init_process_worker, (self.sequence,))

            def submit(index):
                return pool.apply_async(_process_getitem, (index,)).get
        else:
            # Threads hand results straight to the waiting future (one wake-up per batch,
            # not the two of multiprocessing's ThreadPool and its result-handler thread).
            pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fitorch-sequence")
            getitem = self.sequence.__getitem__

            def submit(index):
                return pool.submit(getitem, index).result

        self._pools.append(pool)
        return pool, submit

    def _stop_pool(self, pool) -> None:
        if pool in self._pools:
            self._pools.remove(pool)
        if isinstance(pool, ThreadPoolExecutor):
            pool.shutdown(wait=True, cancel_futures=True)  # running items finish, others drop
        else:
            pool.terminate()  # processes are killed, even inside a slow __getitem__
            pool.join()

    def batches(self, indices):
        """Yield `sequence[i]` for `i` in `indices`, in that order."""
        pool, submit = self._start_pool()
        todo = iter(indices)
        in_flight: deque = deque()
        try:
            for index in itertools.islice(todo, self.max_queue_size):
                in_flight.append(submit(index))
            while in_flight:
                result = in_flight.popleft()
                for index in itertools.islice(todo, 1):  # keep the window full
                    in_flight.append(submit(index))
                yield result()  # re-raises the worker's exception here, in order
        finally:
            self._stop_pool(pool)

    def close(self) -> None:
        """Stop every pool still running (a pass abandoned by an error or Ctrl-C)."""
        for pool in list(self._pools):
            self._stop_pool(pool)


_END = object()


class GeneratorEnqueuer:
    """Prefetches up to `max_queue_size` items of an iterator in one background thread."""

    def __init__(self, iterator, max_queue_size: int = 10):
        if not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError(f"max_queue_size must be a positive integer; got {max_queue_size!r}.")
        self.iterator = iterator
        self._queue: queue.Queue = queue.Queue(max_queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = False

    def _produce(self) -> None:
        try:
            for item in self.iterator:
                if not self._put((item, None)):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            self._put((_END, err))
            return
        self._put((_END, None))

    def _put(self, entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        if self._done:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._produce, name="fitorch-prefetch",
                                            daemon=True)  # fmt: skip
            self._thread.start()
        while True:
            item, err = self._queue.get()
            if item is _END:
                self._done = True
                if err is not None:
                    raise err
                return
            yield item

    def close(self, timeout: float = 10.0) -> None:
        """Stop the producer thread and wait for it: it stops before its next item (a
        generator blocked for longer than `timeout` is left to its daemon thread)."""
        self._stop.set()
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.get_nowait()  # unblock a producer waiting on a full queue
            except queue.Empty:
                self._thread.join(timeout=0.05)
