"""How a running training job reports: its row in `training_jobs` and `training:progress` on /ws.

Every write is conditional on the job still being active, so a cancelled (or orphan-failed) job
is never brought back by a late progress line; the caller learns it from the False it gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from hub.clock import Clock
from hub.events import TRAINING_PROGRESS, EventBus
from storage.db import Database
from storage.training_models import ACTIVE_STATUSES, TrainingJob, TrainingStatus

MAX_LOSSES = 5000  # kept per job in metrics["loss"]


def update_active(conn: sa.Connection, job_id: str, values: dict[str, Any]) -> bool:
    result = conn.execute(sa.update(TrainingJob).where(TrainingJob.id == job_id,
                                                       TrainingJob.status.in_(ACTIVE_STATUSES)).values(**values))
    return result.rowcount == 1


@dataclass
class JobReporter:
    db: Database
    bus: EventBus
    clock: Clock
    job_id: str
    kind: str
    losses: list[float] = field(default_factory=list)
    progress: float = 0.0
    phase: str | None = None

    async def _write(self, values: dict[str, Any]) -> bool:
        return await self.db.write(update_active, self.job_id, {**values, "updated_at": self.clock.now()})

    def _publish(self, status: str, **fields: Any) -> None:
        self.bus.publish(TRAINING_PROGRESS, job_id=self.job_id, kind=self.kind, status=status,
                         progress=self.progress, phase=self.phase, **fields)

    async def begin(self) -> bool:
        """queued → training; False when the job is no longer active (cancelled meanwhile)."""
        started = await self._write({"status": TrainingStatus.TRAINING, "started_at": self.clock.now()})
        if started:
            self._publish(TrainingStatus.TRAINING)
        return started

    async def heartbeat(self) -> bool:
        return await self._write({})

    async def record_pid(self, pid: int) -> bool:
        return await self._write({"worker_pid": pid})

    async def update(self, progress: float, phase: str | None = None, **fields: Any) -> bool:
        """Record progress (0..100) and the phase; publish it. False when the job stopped being active."""
        self.progress, self.phase = max(self.progress, min(100.0, float(progress))), phase or self.phase
        values: dict[str, Any] = {"progress": self.progress, "phase": self.phase}
        if "loss" in fields:
            self.losses = [*self.losses, round(float(fields["loss"]), 5)][-MAX_LOSSES:]
            values["metrics"] = {"loss": self.losses}
        if not await self._write(values):
            return False
        self._publish(TrainingStatus.TRAINING, **fields)
        return True

    async def relay(self, event: dict[str, Any]) -> bool:
        """One line of brain.train_worker: a phase change or a training step."""
        if event["event"] == "progress":
            return await self.update(event.get("progress", self.progress), "training", step=event.get("step"),
                                     total_steps=event.get("total_steps"), epoch=event.get("epoch"),
                                     loss=event.get("loss"))
        if event["event"] == "phase":
            return await self.update(event.get("progress", self.progress), str(event.get("phase") or ""))
        return True

    async def finish(self, status: str, *, metrics: dict[str, Any] | None = None, error: str | None = None,
                     adapter_path: str | None = None, progress: float | None = None) -> bool:
        """The final state, written only if the job is still active (a cancel wins over a late finish)."""
        if progress is not None:
            self.progress = progress
        merged = {**(metrics or {}), "loss": (metrics or {}).get("loss") or self.losses}
        done = await self._write({"status": status, "metrics": merged, "error": error, "adapter_path": adapter_path,
                                  "progress": self.progress, "finished_at": self.clock.now(), "phase": None})
        if done:
            self.phase = None
            self._publish(status, error=error, **({"loss": merged["loss"][-1]} if merged["loss"] else {}))
        return done
