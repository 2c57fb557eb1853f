"""Tuning of a serving process (`lendgraph serve`, `uvicorn graph.asgi:app`), never of the app factory:
tests and tools build many apps in one process and keep Python's defaults."""

import gc


def tune_garbage_collector(first_threshold: int) -> None:
    """Collect young objects every `first_threshold` allocations instead of every 700.

    A worker holding thousands of WebSockets keeps millions of long-lived objects
    (about 330 per connection). At the default threshold young collections run so
    often that full ones follow every 25% of growth and stall the event loop for
    seconds: bench P3's p99 at 10,000 subscribers went from about 2 s to about 0.5 s
    at 50,000. 0 keeps the default.
    """
    if first_threshold > 0:
        _, second, third = gc.get_threshold()
        gc.set_threshold(first_threshold, second, third)
