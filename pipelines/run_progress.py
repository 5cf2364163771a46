"""A run's progress as the engineer at the terminal sees it: which step of how many, for
how long, and the last count the running step logged.

At 14 M persons a province's run takes some twenty minutes; without this, the terminal
shows nothing between the first and the last line. ``progress_logger`` is a Dagster
logger a run's config switches on (``progress_run_config``). It reads only the run's
events and the steps' own log lines (counts, never record values). On a terminal it
draws a bar that advances with each finished step and shows the running step and its
latest count ("quality__record_issues: 60 of 120 communes"). Elsewhere (CI, a file) it
writes one line per finished step with its seconds, which a log keeps readable.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO

import dagster as dg
from tqdm import tqdm

PROGRESS_LOGGER = "progress"
# Events that end a step: each advances the count by one.
_STEP_ENDS = {
    "STEP_SUCCESS": "",
    "STEP_FAILURE": "failed after ",
    "STEP_SKIPPED": "skipped",
}
_RUN_ENDS = {
    "PIPELINE_SUCCESS": "succeeded",
    "PIPELINE_FAILURE": "failed",
    "PIPELINE_CANCELED": "was cancelled",
}


class StepProgress(logging.Handler):
    """Counts a run's finished steps out of ``total_steps`` and shows them on ``stream``
    as a bar (``bar``) or as one line per finished step."""

    def __init__(self, total_steps: int, *, bar: bool, stream: IO[str] | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.ended = False
        self.total_steps = total_steps
        self.finished = 0
        self._stream = stream or sys.stderr
        self._started: dict[str, float] = {}
        self._bar = (
            tqdm(
                total=total_steps,
                unit="step",
                file=self._stream,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}]{postfix}",
            )
            if bar
            else None
        )

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key")
        event = meta.get("dagster_event")
        if event is None:
            # A step's own line (context.log.info): its latest count, on the bar only.
            if self._bar is not None and step and record.levelno >= logging.INFO:
                self._bar.set_postfix_str(f"{step}: {meta.get('orig_message', '')}"[:100])
            return
        kind = event.event_type_value
        if kind == "STEP_START" and step:
            self._started[step] = time.monotonic()
            if self._bar is not None:
                self._bar.set_postfix_str(str(step))
        elif kind in _STEP_ENDS and step:
            self._step_ended(str(step), kind)
        elif kind in _RUN_ENDS and not self.ended:
            self._run_ended(_RUN_ENDS[kind])

    def _step_ended(self, step: str, kind: str) -> None:
        self.finished += 1
        started = self._started.pop(step, None)
        seconds = "" if started is None else f"{time.monotonic() - started:.1f} s"
        if self._bar is not None:
            self._bar.update(1)
            return
        how = _STEP_ENDS[kind]
        said = f"{how}{seconds}" if kind != "STEP_SKIPPED" else how
        self._stream.write(f"[{self.finished}/{self.total_steps}] {step} {said}\n")
        self._stream.flush()

    def _run_ended(self, how: str) -> None:
        """Steps whose upstream failed emit no event of their own: say how many."""
        left = self.total_steps - self.finished
        if left > 0:
            said = f"{left} step{'s' if left > 1 else ''} not run (the run {how})"
            if self._bar is not None:
                self._bar.set_postfix_str(said)
            else:
                self._stream.write(f"{said}\n")
                self._stream.flush()
        self.ended = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        """What ``logging.shutdown`` calls, and so ``logging.config.dictConfig``, which a
        Dagster instance with ``python_logs`` runs while the run starts: the bar lives on
        until the run's end (``_run_ended``)."""
        super().close()


@dg.logger(
    config_schema={"total_steps": int, "bar": bool},
    description="The run's finished steps out of its total: a bar on a terminal, else a "
    "line per step.",
)
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    # Dagster builds a run's loggers more than once (the run, its steps, its end): one
    # handler per run keeps one count, and says the run's end once.
    run_id = init_context.run_id or ""
    handler = _BY_RUN.get(run_id)
    if handler is None:
        config = init_context.logger_config
        handler = _BY_RUN[run_id] = StepProgress(config["total_steps"], bar=config["bar"])
    logger = logging.Logger(PROGRESS_LOGGER, level=logging.DEBUG)
    logger.addHandler(handler)
    return logger


_BY_RUN: dict[str, StepProgress] = {}


LOGGERS = {"console": dg.colored_console_logger, PROGRESS_LOGGER: progress_logger}


def progress_run_config(job: dg.JobDefinition, *, bar: bool) -> dict[str, object]:
    """The ``loggers`` entry that shows ``job``'s progress: one step per op of its graph
    (the in-process executor runs each op as one step)."""
    return {PROGRESS_LOGGER: {"config": {"total_steps": len(job.graph.node_dict), "bar": bar}}}
