"""Worker Pools

A worker pool: a few goroutines take jobs from one channel and send their
results on another.

Port of https://gobyexample.com/worker-pools; durations are Go's divided by
10. Which worker takes which job, and the order in which lines mix, vary
from run to run (in Go too).
"""

import sys

from goroutines import Chan, go, run, sleep


def println(line: str) -> None:
    """Write a whole line in one call, as Go's fmt.Println does.

    print() writes its text and its newline in two calls: goroutines printing
    at the same moment on several Ps could mix up their lines.
    """
    sys.stdout.write(line + "\n")


async def worker(id: int, jobs: Chan[int], results: Chan[int]) -> None:
    """Receive work on jobs and send the results on results.

    Several instances run concurrently. Each job sleeps 0.1 s to simulate
    an expensive task.
    """
    async for j in jobs:
        println(f"worker {id} started  job {j}")
        await sleep(0.1)
        println(f"worker {id} finished job {j}")
        await results.send(j * 2)


async def main() -> None:
    # To use the pool, send it work and collect the results: two channels.
    num_jobs = 5
    jobs = Chan[int](num_jobs)
    results = Chan[int](num_jobs)

    # Start 3 workers, blocked at first since there are no jobs yet.
    for w in range(1, 4):
        go(worker, w, jobs, results)

    # Send 5 jobs, then close the channel to say that is all the work.
    for j in range(1, num_jobs + 1):
        await jobs.send(j)
    jobs.close()

    # Collect all the results, which also makes sure that the workers have
    # finished. The 5 jobs of 0.1 s take about 0.2 s in all: 3 workers run
    # at the same time.
    for _ in range(num_jobs):
        await results.recv()


if __name__ == "__main__":
    run(main)
