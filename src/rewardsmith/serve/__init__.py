"""A reward server: score over HTTP for trainers in other processes and machines.

    rewardsmith serve --rules seed-tiered --port 8000            # uvicorn, one machine
    rewardsmith serve --rules code --ray --replicas 4            # Ray Serve deployment

``POST /score`` (rows -> reward, label, components, advantage), ``POST /get_reward`` (OpenRLHF's
``--remote_rm_url``), ``GET /health``, ``/ready``, ``/metrics``. Scoring runs on supervised worker
processes behind a bounded queue (429 with ``Retry-After`` when full), never on the event loop.
Clients: ``rewardsmith.integrations.remote``. See docs/serve.md.
"""

from rewardsmith.serve.app import DEADLINE_HEADER, TOKEN_ENV, ServeConfig, create_app
from rewardsmith.serve.pool import DeadlineExceeded, QueueFull, ScoringService
from rewardsmith.serve.server import LISTENING, run_server

__all__ = [
    "ServeConfig",
    "create_app",
    "run_server",
    "ScoringService",
    "QueueFull",
    "DeadlineExceeded",
    "DEADLINE_HEADER",
    "TOKEN_ENV",
    "LISTENING",
]
