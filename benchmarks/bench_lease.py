"""What a Dask export's cluster-wide request budget costs a request.

A Dask task runs its own event loop; the budget is a ``distributed.Semaphore`` whose
comms live on the worker's loop. Measured inside a task on a ``LocalCluster`` of two
worker processes (the scheduler in this process), microseconds per request:

* ``ClusterBudget`` (what the engine uses): ``acquire()`` hops to the worker's loop,
  which asks the scheduler; ``release()`` hands the return to the worker's loop and does
  not wait for the scheduler. Once with one request at a time, once with four;
* the sync ``Semaphore.acquire()`` / ``release()`` in a thread (``anyio.to_thread``),
  the other way a task's loop could use the semaphore without blocking;
* for scale, an ``asyncio.Semaphore`` (what one process's in-flight limit costs).

Each figure is the median of ``--rounds`` tasks of ``--requests`` requests (after 50
unmeasured). No targets: the figures are for the record. Run:
``python benchmarks/bench_lease.py`` (about 20 seconds here).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

WARM_UP = 50


def leased(name: str, size: int, requests: int, concurrency: int) -> float:
    """Seconds per acquire + release through a ClusterBudget (runs in a Dask task)."""
    from postpress_async.ingest.engines._budget import ClusterBudget

    async def main() -> float:
        async with ClusterBudget(name, size) as budget:

            async def one() -> None:
                await budget.acquire()
                budget.release()

            async def some(count: int) -> None:
                for _ in range(count):
                    await one()

            await some(WARM_UP)
            started = time.perf_counter()
            await asyncio.gather(*(some(requests // concurrency) for _ in range(concurrency)))
            return (time.perf_counter() - started) / requests

    return asyncio.run(main())


def threaded(name: str, size: int, requests: int) -> float:
    """Seconds per acquire + release with the sync API in a thread (runs in a Dask task)."""
    import anyio.to_thread
    from distributed import Semaphore

    semaphore = Semaphore(max_leases=size, name=name)

    async def main() -> float:
        async def one() -> None:
            await anyio.to_thread.run_sync(semaphore.acquire)
            await anyio.to_thread.run_sync(semaphore.release)

        for _ in range(WARM_UP):
            await one()
        started = time.perf_counter()
        for _ in range(requests):
            await one()
        return (time.perf_counter() - started) / requests

    try:
        return asyncio.run(main())
    finally:
        semaphore.refresh_callback.stop()


async def local(requests: int) -> float:
    """Seconds per acquire + release of an asyncio.Semaphore."""
    semaphore = asyncio.Semaphore(4)
    started = time.perf_counter()
    for _ in range(requests):
        async with semaphore:
            pass
    return (time.perf_counter() - started) / requests


async def measure(requests: int, rounds: int) -> None:
    import dask
    from distributed import Client, LocalCluster, Semaphore

    from postpress_async.ingest.engines._budget import LEASE_CONFIG

    with dask.config.set(LEASE_CONFIG):
        async with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                asynchronous=True,
                dashboard_address=None,
                worker_dashboard_address=None,
            ) as cluster,
            Client(cluster, asynchronous=True) as client,
        ):
            semaphore = Semaphore(
                max_leases=4, name="bench", scheduler_rpc=client.scheduler, loop=client.loop
            )
            await semaphore

            async def median(function: object, *args: object) -> float:
                runs = [await client.submit(function, *args, pure=False) for _ in range(rounds)]
                return statistics.median(runs) * 1e6

            for concurrency in (1, 4):
                figure = await median(leased, "bench", 4, requests, concurrency)
                print(f"ClusterBudget, {concurrency} at a time:   {figure:7.0f} us a request")
            figure = await median(threaded, "bench", 4, requests)
            print(f"sync API in a thread, 1 at a time: {figure:7.0f} us a request")
            print(
                f"asyncio.Semaphore:                 {await local(requests) * 1e6:7.2f} us a request"
            )
            await semaphore.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.requests, args.rounds))


if __name__ == "__main__":
    main()
