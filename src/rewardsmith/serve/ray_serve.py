"""The reward server as a Ray Serve deployment: the same app and endpoints, on N replicas.

Each replica builds the FastAPI app of :func:`rewardsmith.serve.create_app` itself (Ray Serve's
ingress builder runs on the replica, so nothing unpicklable crosses) and starts its own worker
pool; Ray Serve's proxy spreads requests over the replicas. ``replicas`` fixed, or autoscaling
between ``replicas`` and ``max_replicas`` on ongoing requests.

    rewardsmith serve --rules code --ray --replicas 2 --max-replicas 8 --address auto
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from typing import Any

from rewardsmith.serve.app import ServeConfig, create_app

__all__ = ["build_deployment", "run_ray_serve", "DEPLOYMENT_NAME"]

DEPLOYMENT_NAME = "rewardsmith"


def _replica_app(cfg: ServeConfig):
    """Runs on each replica: the app, with its worker pool started."""
    app = create_app(cfg, start=False)
    app.state.rs.service.start()
    return app


def build_deployment(cfg: ServeConfig, replicas: int = 1, max_replicas: int | None = None,
                     num_cpus: float = 0.5, target_ongoing_requests: int | None = None) -> Any:
    """A bound Ray Serve application serving ``cfg`` (``serve.run(build_deployment(cfg))``).

    ``num_cpus``: what each replica reserves from Ray (its worker processes are its own; give
    each replica ``cfg.workers`` cores on a real cluster). Autoscaling when ``max_replicas`` >
    ``replicas``: between the two, on ``target_ongoing_requests`` per replica (default
    ``cfg.queue_size // 2``).
    """
    from ray import serve

    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas: expected an integer >= 1, got {replicas!r}")
    if max_replicas is not None and max_replicas < replicas:
        raise ValueError(f"max_replicas: expected >= replicas ({replicas}), got {max_replicas!r}")
    if cfg.workers is None:  # each replica scores on one process unless told otherwise
        cfg = dataclasses.replace(cfg, workers=1)
    opts: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "ray_actor_options": {"num_cpus": num_cpus},
        "max_ongoing_requests": cfg.queue_size,
    }
    if max_replicas is not None and max_replicas > replicas:
        opts["autoscaling_config"] = {
            "min_replicas": replicas, "max_replicas": max_replicas,
            "target_ongoing_requests": target_ongoing_requests or max(1, cfg.queue_size // 2),
        }
    else:
        opts["num_replicas"] = replicas
    ingress = serve.ingress(lambda: _replica_app(cfg))()
    return serve.deployment(ingress, **opts).bind()


def run_ray_serve(cfg: ServeConfig, host: str = "127.0.0.1", port: int = 8000, replicas: int = 1,
                  max_replicas: int | None = None, address: str | None = None, num_cpus: float = 0.5,
                  block: bool = True) -> str:
    """Start (or join, with ``address``) Ray, deploy, print the URL; with ``block`` wait for
    SIGTERM / SIGINT, then shut the deployment down. Returns the URL."""
    import ray
    from ray import serve

    from rewardsmith.serve.server import LISTENING

    if port == 0:
        raise ValueError("--port: Ray Serve needs a fixed port (0 is not supported with --ray)")
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kw["address"] = address
        ray.init(**kw)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_deployment(cfg, replicas, max_replicas, num_cpus), name=DEPLOYMENT_NAME, route_prefix="/")
    url = f"http://{host}:{port}"
    print(f"{LISTENING} {url} (Ray Serve, {replicas}{'-' + str(max_replicas) if max_replicas else ''} replicas)",
          flush=True)
    if block:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        serve.shutdown()
        ray.shutdown()
    return url
