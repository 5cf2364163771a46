"""The run's progress shown to the engineer: every step counted once, the running step's
count lines on the bar, nothing but step keys, seconds and the steps' own lines."""

from __future__ import annotations

import io
import logging
import logging.config
import re

import dagster as dg
import pytest

from pipelines.run_progress import LOGGERS, StepProgress, progress_run_config


@dg.asset
def first(context) -> int:
    context.log.info("read 3 of 3 communes")
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


@dg.asset
def reconfigures_logging(second: int) -> int:
    # What a Dagster instance with ``python_logs`` does as a run starts: dictConfig
    # shuts every handler down (logging.shutdown calls close()).
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    return second


@dg.asset
def after_reconfiguring(reconfigures_logging: int) -> int:
    return reconfigures_logging


@dg.asset
def broken(second: int) -> int:
    raise ValueError("this step fails")


@dg.asset
def after_broken(broken: int) -> int:
    return broken


def _run(assets: list, *, bar: bool, stream: io.StringIO, monkeypatch) -> dg.ExecuteInProcessResult:
    # The logger writes to sys.stderr; the test reads it from ``stream``.
    monkeypatch.setattr("sys.stderr", stream)
    job = dg.Definitions(
        assets=assets, jobs=[dg.define_asset_job("j")], loggers=LOGGERS
    ).resolve_job_def("j")
    return job.execute_in_process(
        run_config={
            "loggers": {
                "console": {"config": {"log_level": "CRITICAL"}},
                **progress_run_config(job, bar=bar),
            }
        },
        raise_on_error=False,
    )


def test_lines_name_every_step_once_with_its_seconds_failures_and_skips(monkeypatch):
    stream = io.StringIO()
    result = _run(
        [first, second, broken, after_broken], bar=False, stream=stream, monkeypatch=monkeypatch
    )
    assert not result.success
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\[1/4\] first \d+\.\d s", lines[0]), lines
    assert re.fullmatch(r"\[2/4\] second \d+\.\d s", lines[1]), lines
    assert re.fullmatch(r"\[3/4\] broken failed after \d+\.\d s", lines[2]), lines
    # A step whose upstream failed has no event of its own: counted at the run's end.
    assert lines[3] == "1 step not run (the run failed)", lines
    assert len(lines) == 4


def test_the_bar_reaches_the_total_and_shows_the_running_steps_count(monkeypatch):
    stream = io.StringIO()
    result = _run([first, second], bar=True, stream=stream, monkeypatch=monkeypatch)
    assert result.success
    shown = stream.getvalue()
    assert "2/2 steps" in shown
    assert "first: read 3 of 3 communes" in shown
    assert "[1/2]" not in shown  # a bar, not lines


def test_the_bar_outlives_a_logging_reconfiguration_during_the_run(monkeypatch):
    stream = io.StringIO()
    assets = [first, second, reconfigures_logging, after_reconfiguring]
    result = _run(assets, bar=True, stream=stream, monkeypatch=monkeypatch)
    assert result.success
    shown = stream.getvalue()
    assert "4/4 steps" in shown
    assert "] after_reconfiguring" not in shown  # still the bar, not lines


@pytest.mark.parametrize("bar", [True, False])
def test_a_record_without_a_step_is_not_counted(bar):
    stream = io.StringIO()
    handler = StepProgress(3, bar=bar, stream=stream)
    handler.emit(logging.LogRecord("x", logging.INFO, "", 0, "not a run's event", None, None))
    handler.close()
    assert handler.finished == 0
