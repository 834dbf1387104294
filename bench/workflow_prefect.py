"""The Prefect side of bench/workflow.sh: one flow run of one case, timed from inside.

    python workflow_prefect.py CASE N [PARALLELISM]

CASE is one of
  independent  N no-op tasks with no dependencies, submitted at once to a thread pool of
               PARALLELISM workers (default 10, Baton's default --parallelism)
  chain-sleep  N tasks in a chain, each running `/bin/sh -c "sleep 0.01"` with subprocess.run
  chain-noop   N no-op tasks in a chain (each gets the previous one's result)

Run with PREFECT_API_URL unset and PREFECT_SERVER_EPHEMERAL_ENABLED=true (workflow.sh sets up
the environment): Prefect then starts its own temporary API server in a subprocess, with its
SQLite database in PREFECT_HOME, and stops it when this process exits. No network is used.

Prints one line on stdout:

  RESULT import=S server=S flow=S recorded=S n_recorded=K n=N state=STATE

  import     seconds to import prefect
  server     seconds to start the temporary API server (before the flow is called)
  flow       seconds from calling the flow until it returned
  recorded   seconds from calling the flow until all N task runs are COMPLETED in the API's
             database (Prefect records task-run states asynchronously, from events; the
             flow can return before they are written); polled through the API every 20 ms
             for a second after the flow returns, then every 100 ms
  n_recorded task runs of this flow run COMPLETED in the database when we stopped waiting
             (N unless the wait timed out: PREFECT_BENCH_RECORD_TIMEOUT, default 300 s)
"""

import os
import subprocess
import sys
import time

t_import = time.perf_counter()
from prefect import flow, task  # noqa: E402
from prefect.futures import wait  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

t_import = time.perf_counter() - t_import

CASE = sys.argv[1]
N = int(sys.argv[2])
PARALLELISM = int(sys.argv[3]) if len(sys.argv) > 3 else 10


@task
def noop(prev=None):
    return None


@task
def sleep_cmd(prev=None):
    subprocess.run(["/bin/sh", "-c", "sleep 0.01"], check=True)
    return None


@flow(task_runner=ThreadPoolTaskRunner(max_workers=PARALLELISM))
def independent(n: int):
    wait([noop.submit() for _ in range(n)])


@flow
def chain_sleep(n: int):
    prev = None
    for _ in range(n):
        prev = sleep_cmd(prev)


@flow
def chain_noop(n: int):
    prev = None
    for _ in range(n):
        prev = noop(prev)


FLOWS = {"independent": independent, "chain-sleep": chain_sleep, "chain-noop": chain_noop}


def completed_task_runs(client, flow_run_id):
    r = client.request(
        "POST",
        "/task_runs/count",
        json={
            "flow_runs": {"id": {"any_": [str(flow_run_id)]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        },
    )
    return int(r.json())


def main():
    from prefect.client.orchestration import get_client
    from prefect.server.api.server import SubprocessASGIServer

    t_server = time.perf_counter()
    SubprocessASGIServer().start()  # the server get_client() would start on first use
    t_server = time.perf_counter() - t_server

    t0 = time.perf_counter()
    state = FLOWS[CASE](N, return_state=True)
    t_flow = time.perf_counter() - t0

    deadline = time.monotonic() + float(os.environ.get("PREFECT_BENCH_RECORD_TIMEOUT", "300"))
    n_recorded = 0
    with get_client(sync_client=True) as client:
        while True:
            n_recorded = completed_task_runs(client, state.state_details.flow_run_id)
            if n_recorded >= N or time.monotonic() > deadline:
                break
            # Each poll is an API request that the server (on the same CPUs as the recorder
            # it waits for) must answer: poll often only at first.
            time.sleep(0.02 if time.perf_counter() - t0 - t_flow < 1 else 0.1)
    t_recorded = time.perf_counter() - t0

    print(
        f"RESULT import={t_import:.6f} server={t_server:.6f} flow={t_flow:.6f} "
        f"recorded={t_recorded:.6f} n_recorded={n_recorded} n={N} state={state.type.value}",
        flush=True,
    )


if __name__ == "__main__":
    main()
