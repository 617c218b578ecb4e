"""A Dask cluster is just another executor: the same sweep gives the same table on it."""

from __future__ import annotations

import pytest
from _factory import tiny

import sim

distributed = pytest.importorskip("distributed")

GRID = {"dialer.ratio": [1, 1.5], "agents.count": [1, 2, 3]}


def scenario():
    return tiny({"list.size": 24, "agents.count": 2, "customers.p_pickup": 0.6,
                 "customers.ring": {"dist": "uniform", "low": 3, "high": 12},
                 "script.stages[0].duration": {"dist": "lognormal", "median": 30,
                                               "sigma": 0.8}})


@pytest.fixture(scope="module")
def serial():
    return sim.sweep(scenario(), grid=GRID, replications=2, seed=5, workers=1, plans=())


@pytest.mark.parametrize("processes", [
    False,  # threads in this process: quick, and checks the worker caches are thread-safe
    pytest.param(True, marks=pytest.mark.slow),  # separate processes: real serialisation
])
def test_local_dask_cluster_gives_the_same_table(serial, processes, tmp_path):
    with distributed.LocalCluster(n_workers=2, processes=processes, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        res = sim.sweep(scenario(), grid=GRID, replications=2, seed=5,
                        executor=client.get_executor(), plans=(), out=tmp_path / "d")
        assert client.status == "running"  # the sweep leaves the user's cluster alone
    assert res.table == serial.table and res.failures == ()
    assert len(list((tmp_path / "d" / "runs").iterdir())) == 12


def test_command_line_on_a_dask_scheduler(tmp_path, capsys):
    from conftest import SCENARIOS

    from sim.cli import main

    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        code = main(["sweep", str(SCENARIOS / "baseline.toml"), "--quick", "--set",
                     "list.size=40", "--vary", "agents.count=2,3", "--reps", "1", "--no-plots",
                     "--dask", cluster.scheduler_address, "--out", str(tmp_path / "s")])
    assert code == 0, capsys.readouterr().err
    assert "on Dask" in capsys.readouterr().err
    assert len((tmp_path / "s" / "sweep.csv").read_text().splitlines()) == 3
