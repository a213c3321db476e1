"""A Ray cluster for the tests that need one: started once per session, loopback only, with
its files in a temp folder and its auth token in the environment (not in ~/.ray)."""

import os
import secrets

import pytest


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN",
                                            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}  # fmt: skip
    os.environ.update({
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    })  # fmt: skip
    # Imported only now: Ray reads its auth settings once, at import.
    ray = pytest.importorskip("ray")
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                       _temp_dir=str(tmp_path_factory.mktemp("ray")))  # fmt: skip
    yield context
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
