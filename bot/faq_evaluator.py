"""Background evaluation of FAQ drafts, started by the FAQ API when a draft is proposed.

Held-out and dev accuracy of the draft and of the version it was based on, and PHI-like
text in changed answers; the evaluation's progress is written into the draft as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot.appkeys import ENGINE, FAQ, SETTINGS
from escalation.faq.store import Draft, FaqStore
from nlu.engine import TriageEngine
from nlu.faq_eval import DEFAULT_FOLDS, ContentScore, compare, evaluate_content, phi_flags
from nlu.faq_versions import FaqVersion

log = logging.getLogger("triagebot.faq_api")
# Folds of the held-out evaluation; read when the app starts (tests use fewer).
EVAL_FOLDS = DEFAULT_FOLDS
# The evaluation set beside the repository, as the benchmarks find it; skipped when absent.
DEV_PATH = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"
# Progress is written into the draft at most this often.
PROGRESS_EVERY_S = 0.5
CLOSE_WAIT_S = 3.0


class _Stopped(Exception):
    """Raised in the evaluation thread when the app is shutting down."""


class FaqEvaluator:
    """Background evaluation of drafts: one at a time (CPU-bound), live scores kept per version."""

    def __init__(
        self,
        store: FaqStore,
        engine: TriageEngine,
        threshold: float,
        dev_path: Path | None,
        folds: int,
    ) -> None:
        self.store, self.engine, self.threshold = store, engine, threshold
        self.dev_path, self.folds = dev_path, folds
        self._tasks: set[asyncio.Task[None]] = set()
        self._live_scores: dict[str, ContentScore] = {}
        self._one_at_a_time = asyncio.Lock()
        self._stop = threading.Event()

    def start(self, draft: Draft) -> asyncio.Task[None]:
        """Evaluate the draft in the background; the task is kept until it ends."""
        task = asyncio.create_task(self._evaluate(draft), name=f"faq-eval-{draft.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel running evaluations; a thread mid-way stops at its next progress report."""
        self._stop.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        # Bounded: one evaluation that ignores its cancellation must not hang the shutdown.
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
        if pending:
            log.error("faq evaluations did not stop in time", extra={"tasks": len(pending)})

    async def _evaluate(self, draft: Draft) -> None:
        progress: dict[str, object] = {"stage": "queued", "progress": 0.0}
        try:
            async with self._one_at_a_time:
                base = await self.store.version(draft.base_version)
                live_score = self._live_scores.get(base.version)
                parts = [("draft", draft.proposal)]
                if live_score is None:
                    parts.append(("live", base))
                scores: dict[str, ContentScore] = {}
                for index, (name, version) in enumerate(parts):
                    scores[name] = await self._score(
                        draft.id, version, name, (index, len(parts)), progress
                    )
                if live_score is None:
                    live_score = self._live_scores[base.version] = scores["live"]
                flags = compare(live_score, scores["draft"]) + await self._phi(draft, base)
                # Train the draft's model once now and keep it in the engine's model cache:
                # on approval every process loads it instead of training, and switches at once.
                await asyncio.to_thread(self.engine.prepare_content, draft.proposal.content())
            await self.store.record_evaluation(
                draft.id,
                {
                    "stage": "done",
                    "progress": 1.0,
                    "draft": scores["draft"].model_dump(),
                    "live": live_score.model_dump(),
                    "flags": flags,
                },
            )
            log.info(
                "faq draft evaluated",
                extra={"draft_id": draft.id, "flags": len(flags)},
            )
        except _Stopped:  # the app is shutting down
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("faq draft evaluation failed", extra={"draft_id": draft.id})
            with contextlib.suppress(Exception):
                await self.store.record_evaluation(
                    draft.id, {**progress, "stage": "failed", "error": type(exc).__name__}
                )

    async def _score(
        self,
        draft_id: str,
        version: FaqVersion,
        name: str,
        part: tuple[int, int],
        progress: dict[str, object],
    ) -> ContentScore:
        index, count = part
        latest: list[tuple[str, float]] = [(f"{name} training", index / count)]

        def report(stage: str, fraction: float) -> None:  # runs in the worker thread
            if self._stop.is_set():
                raise _Stopped
            latest[0] = (f"{name} {stage}", round((index + fraction) / count, 3))

        def run() -> ContentScore:
            return evaluate_content(
                version.content(),
                self.threshold,
                dev_path=self.dev_path,
                progress=report,
                folds=self.folds,
            )

        future = asyncio.ensure_future(asyncio.to_thread(run))
        written: tuple[str, float] | None = None
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=PROGRESS_EVERY_S)
                if done:
                    return future.result()
                if latest[0] != written:
                    written = latest[0]
                    progress.update(stage=written[0], progress=written[1])
                    await self.store.record_evaluation(draft_id, dict(progress))
        finally:
            future.cancel()

    async def _phi(self, draft: Draft, base: FaqVersion) -> list[str]:
        """A flag per PHI-like entity type in each new or changed answer."""
        before = base.content().intents
        after = draft.proposal.content().intents
        texts = [
            (f"answer for {key}", intent.answer)
            for key, intent in sorted(after.items())
            if key not in before or before[key].answer != intent.answer
        ]
        known = {(s.intent, s.answer) for s in base.schedules}
        texts += [
            (f"scheduled answer for {s.intent}", s.answer)
            for s in draft.proposal.schedules
            if (s.intent, s.answer) not in known
        ]
        flags = []
        for label, text in texts:
            found = await asyncio.to_thread(phi_flags, text, self.engine)
            flags += [f"{label}: looks like it contains {kind}" for kind in found]
        return flags


FAQ_EVALUATOR = web.AppKey("faq_evaluator", FaqEvaluator)


async def faq_evaluator_ctx(app: web.Application) -> AsyncIterator[None]:
    """The draft evaluator; its running evaluations are cancelled on shutdown."""
    settings = app[SETTINGS]
    evaluator = FaqEvaluator(
        app[FAQ],
        app[ENGINE],
        settings.intent_threshold,
        DEV_PATH if DEV_PATH.exists() else None,
        EVAL_FOLDS,
    )
    app[FAQ_EVALUATOR] = evaluator
    try:
        yield
    finally:
        await evaluator.close()
