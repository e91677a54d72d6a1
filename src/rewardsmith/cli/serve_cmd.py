"""``rewardsmith serve``: the reward server (uvicorn on this machine, or a Ray Serve deployment)."""

from __future__ import annotations

from typing import Optional

import typer

from rewardsmith.cli._app import app


@app.command("serve")
def serve(
    rules: str = typer.Option("seed-tiered", "--rules", help="Preset name (seed-tiered, r1, binary, code, ...) or a YAML rule file."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port (0: any free port, printed at start)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Scoring processes (default: all cores)."),
    queue_size: int = typer.Option(64, "--queue-size", min=1, help="Requests accepted and unanswered at once; one more gets 429."),
    chunk_rows: int = typer.Option(64, "--chunk-rows", min=1, help="Rows per message to a worker."),
    row_timeout: Optional[float] = typer.Option(None, "--row-timeout", min=0.001, help="Hard seconds per row (default: the rule set's sample_timeout)."),
    max_body_mb: float = typer.Option(32.0, "--max-body-mb", min=0.001, help="Largest request body (413 beyond)."),
    max_rows: int = typer.Option(10_000, "--max-rows", min=1, help="Most rows in one request (413 beyond)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="REWARDSMITH_SERVE_TOKEN", show_envvar=True,
                                        help="Bearer token clients must send (default: none, no auth)."),
    unscored_reward: Optional[float] = typer.Option(None, "--unscored-reward", help="What /get_reward pays an unscored (NaN) row (default: the rule set's lowest tier reward)."),
    label_field: Optional[str] = typer.Option(None, "--label-field", help="Row field OpenRLHF's labels go to (default: answer; tests for code rules)."),
    ray: bool = typer.Option(False, "--ray", help="Run as a Ray Serve deployment instead of uvicorn."),
    replicas: int = typer.Option(1, "--replicas", min=1, help="Ray Serve: replicas (the lower autoscaling bound with --max-replicas)."),
    max_replicas: Optional[int] = typer.Option(None, "--max-replicas", min=1, help="Ray Serve: autoscale up to this many replicas."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local Ray)."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve a rule set over HTTP: POST /score, POST /get_reward (OpenRLHF), GET /health, /ready, /metrics."""
    from rewardsmith.rules import load_rules
    from rewardsmith.serve import ServeConfig, run_server

    try:
        ruleset = load_rules(rules)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rules") from None
    if max_replicas is not None and max_replicas < replicas:
        raise typer.BadParameter(f"expected >= --replicas ({replicas}), got {max_replicas}", param_hint="--max-replicas")
    cfg = ServeConfig(rules=ruleset, workers=workers, queue_size=queue_size, chunk_rows=chunk_rows,
                      row_timeout=row_timeout, max_body_mb=max_body_mb, max_rows=max_rows, token=token,
                      unscored_reward=unscored_reward, label_field=label_field)
    try:
        if ray:
            from rewardsmith.serve.ray_serve import run_ray_serve

            run_ray_serve(cfg, host=host, port=port, replicas=replicas, max_replicas=max_replicas, address=address)
        else:
            run_server(cfg, host=host, port=port, log_level=log_level)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
