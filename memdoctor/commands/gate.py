"""`memdoctor gate`: a CI memory regression gate on any command, PID or recorded trace."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from typing import Annotated

import typer
from click.core import ParameterSource

from memdoctor.commands.common import EXIT_JUDGEMENT_FAILED, CommandSpec, fail, handle_errors, parse_limit
from memdoctor.commands.recording_options import DetailEvery, Interval, NoChildren, Output, TargetOutputOpt

# The gate samples finely: a GC ramp's floor is only known to within what the ramp climbs in one
# interval, so 20 ms catches 98.7 % of >= 5 MiB/min leaks in 60 s where 200 ms caught 97.3 %, for
# ~0.25 % of a core (benchmarks/gate_families.py; docs/benchmarks.md, "The gate's default interval").
DEFAULT_INTERVAL = "20ms"

HELP = """Run a command (or watch --pid, or read --trace) and pass or fail it on its memory trend.

Checks: the command itself (fails if it cannot start, crashes or exits non-zero), the verdict
(--fail-on, default leak), and each threshold given. Growth is the trend of the memory floor,
so a healthy GC sawtooth passes. Exit 0 when every check passes, 1 when one fails, 2 on bad
options or a missing baseline. Writes JUnit XML (--junit) and appends a Markdown summary to
$GITHUB_STEP_SUMMARY when it is set.

Examples:

  memdoctor gate --duration 60s --max-growth 5MB/min -- python3 worker.py

  memdoctor gate --duration 2m --warmup 20s --load "python3 load.py" --junit mem.xml -- node server.js

  memdoctor gate --trace run.jsonl --baseline main.json --max-regression 10%

  memdoctor gate --duration 60s --update-baseline --baseline main.json -- python3 worker.py

  memdoctor gate --duration 90s --diagnose -o mem.jsonl --junit mem.xml -- node server.js
"""


@handle_errors
def gate_command(
    ctx: typer.Context,
    cmd: Annotated[list[str] | None, typer.Argument(help="The command to gate, after --.", show_default=False)] = None,
    pid: Annotated[int | None, typer.Option("--pid", help="Gate a running process instead (needs --duration).")] = None,
    trace: Annotated[str | None, typer.Option("--trace", help="Gate a recorded trace instead.")] = None,
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="How long to sample; default: until the "
                                                                          "command (or --load) exits.")] = None,
    warmup: Annotated[str, typer.Option("--warmup", help="Ignore the first part of the recording (start-up, cache "
                                                         "fill).")] = "0s",
    max_growth: Annotated[str | None, typer.Option("--max-growth", help="Fail when the floor grows faster "
                                                                        "(5MB/min).")] = None,
    max_rss: Annotated[str | None, typer.Option("--max-rss", help="Fail when memory peaks above (512MB).")] = None,
    max_time_to_limit: Annotated[str | None, typer.Option(
        "--max-time-to-limit", help="Fail when the limit would be reached sooner than this (24h); with --limit "
                                    "or a discovered limit.")] = None,
    limit: Annotated[str | None, typer.Option("--limit", help="The memory limit (512MB).")] = None,
    fail_on: Annotated[list[str] | None, typer.Option("--fail-on", help="Verdicts that fail the gate: leak, "
                                                                       "inconclusive (repeatable).")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="A stored result (JSON) or trace of the main "
                                                                    "branch to compare with.")] = None,
    max_regression: Annotated[str, typer.Option("--max-regression", help="Allowed growth over the baseline, "
                                                                         "beyond run-to-run noise.")] = "10%",
    update_baseline: Annotated[bool, typer.Option("--update-baseline", help="Write this run's result to "
                                                                            "--baseline.")] = False,
    load: Annotated[str | None, typer.Option("--load", help="A load generator run against the target while it is "
                                                            "sampled (a shell command line).")] = None,
    junit: Annotated[str | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    summary: Annotated[str | None, typer.Option("--summary", help="Append a Markdown summary here (default: "
                                                                  "$GITHUB_STEP_SUMMARY when set).")] = None,
    interval: Interval = DEFAULT_INTERVAL,
    detail_every: DetailEvery = "5s",
    output: Output = None,
    no_children: NoChildren = False,
    target_out: TargetOutputOpt = None,
    metric: Annotated[str, typer.Option("--metric", help="The series to judge, as `analyze --metric`: rss (the "
                                                         "tree's total), rss_root; pss, uss, swap, heap (V8's used "
                                                         "heap) every --detail-every; with --trace, any series of "
                                                         "the trace.")] = "rss",
    diagnose: Annotated[bool, typer.Option(
        "--diagnose", help="Take heap snapshots as `doctor` does once the diagnosis says leak, and on a failing "
                           "gate write the ranked leak report beside the trace (-o, default memdoctor-gate.jsonl) "
                           "and name it in the result, JUnit and summary. With --trace: the snapshots beside it.",
    )] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    from memdoctor.analysis.gate import Baseline, Thresholds, parse_share
    from memdoctor.units import parse_duration, parse_rate

    targets = sum(x is not None and x != [] for x in (cmd, pid, trace))
    if target_out is not None and not cmd:
        raise fail("--target-output applies to a command the gate launches (after --), not to --pid or --trace")
    if targets != 1:
        raise fail("give exactly one target: -- CMD ARGS..., --pid PID or --trace FILE")
    if pid is not None and duration is None:
        raise fail("--pid needs --duration: a running process has no end of its own")
    verdicts = {v.strip() for item in (fail_on or ["leak"]) for v in item.split(",") if v.strip()}
    unknown = verdicts - {"leak", "inconclusive"}
    if unknown:
        raise fail(f"--fail-on takes leak or inconclusive, not {', '.join(sorted(unknown))}")
    try:
        share = parse_share(max_regression)
    except ValueError as exc:
        raise fail(str(exc)) from None
    thresholds = Thresholds(
        max_growth_bytes_per_s=parse_rate(max_growth) if max_growth else None,
        max_rss_bytes=parse_limit(max_rss, "--max-rss"),  # 0 fails every run: refused as --limit 0 is
        min_time_to_limit_s=parse_duration(max_time_to_limit) if max_time_to_limit else None,
        fail_on=frozenset(verdicts),
        max_regression=share,
    )
    warmup_s = parse_duration(warmup)
    duration_s = parse_duration(duration) if duration else None
    interval_s = parse_duration(interval)
    if interval_s < 0.001:
        raise fail(f"--interval {interval!r} is too small: use at least 1ms")
    # With --trace, a given --interval is the input's time between samples (an input without timestamps, as
    # `analyze --interval` reads it): `gate --trace docker-stats.txt -i 5s` ignored it and judged 5x the growth
    # analyze gave for the same file and option (an end-to-end review, 2026-12-06).
    given = ctx.get_parameter_source("interval") not in (ParameterSource.DEFAULT, None)
    input_interval_s = interval_s if trace is not None and given else None  # and of a baseline trace, --diagnose
    limit_bytes = parse_limit(limit)
    if update_baseline and not baseline:
        raise fail("--update-baseline needs --baseline FILE to write")
    if trace is None:
        from memdoctor.commands.recording_options import check_metric
        from memdoctor.sampling.target import detect_runtime

        # A series the recording will have (V8's heap: a Node.js command the gate launches).
        check_metric(metric, detail=parse_duration(detail_every) > 0,
                     heap=bool(cmd) and detect_runtime(list(cmd or [])) != "python")
    base = None
    if baseline and not update_baseline:
        base = _load_baseline(baseline, Baseline, metric, input_interval_s)
    if (junit or output) and trace is None:
        for path in filter(None, (junit, output)):
            if os.path.isdir(path):
                raise fail(f"cannot write {path}: it is a directory")

    load_argv = shlex.split(load) if load else None
    if load_argv and trace is None and shutil.which(load_argv[0]) is None:
        # Checked before the target starts: a load generator that cannot run would leave an unloaded gate.
        raise fail(f"--load: command not found or not executable: {load_argv[0]}")
    if diagnose and trace is None and not output:
        output = "memdoctor-gate.jsonl"  # the report is built from a trace: --diagnose needs one on disk
    from memdoctor.pipelines.gate import run_gate

    result, title, memory, duration_taken = run_gate(
        cmd=list(cmd or []), pid=pid, trace=trace, duration_s=duration_s, warmup_s=warmup_s, interval_s=interval_s,
        detail_every=parse_duration(detail_every), output=output, follow_children=not no_children,
        limit_bytes=limit_bytes, load=load_argv, thresholds=thresholds, baseline=base,
        json_out=json_out, metric=metric, target_output_spec=target_out, diagnose=diagnose,
        input_interval_s=input_interval_s,
    )
    _write_outputs(result, title, memory, duration_taken, junit, summary, baseline if update_baseline else None)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        from memdoctor.report.console import stdout_console
        from memdoctor.report.gate_terminal import print_gate

        print_gate(stdout_console(), result, title)
    raise typer.Exit(0 if result.passed else EXIT_JUDGEMENT_FAILED)


def _load_baseline(path: str, baseline_cls, metric: str = "rss", input_interval_s: float | None = None):
    from memdoctor.pipelines.gate import baseline_from_trace

    if not os.path.exists(path):
        raise fail(f"baseline {path} does not exist: create it on the main branch with --update-baseline")
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)  # bytes: a binary file given by mistake is the trace reader's to refuse, in one line
    except OSError as exc:
        raise fail(f"cannot read baseline {path}: {exc.strerror}") from None
    if b'"memdoctor_gate_baseline"' in head:
        try:
            with open(path, encoding="utf-8") as fh:
                return baseline_cls.from_dict(json.load(fh), path)
        except ValueError as exc:
            raise fail(str(exc).splitlines()[0]) from None
    return baseline_from_trace(path, metric, input_interval_s)


def _write_outputs(result, title, memory, duration_taken, junit, summary, baseline_out) -> None:
    from memdoctor.output_files import reason_of
    from memdoctor.report.junit import gate_junit, write_junit
    from memdoctor.report.markdown_summary import append_summary, gate_markdown

    if junit:
        try:
            write_junit(junit, gate_junit(result, duration_s=duration_taken))
        except OSError as exc:
            raise fail(f"cannot write JUnit XML to {junit}: {reason_of(exc)}") from None
    summary_path = summary or os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            append_summary(summary_path, gate_markdown(result, title=title, memory=memory))
        except OSError as exc:
            raise fail(f"cannot append the summary to {summary_path}: {reason_of(exc)}") from None
    if baseline_out and result.measurements is not None:
        try:
            from memdoctor.output_files import open_output
            from memdoctor.redact import redact_command

            # 0600: a baseline names the command it measured (redacted, but still the user's business).
            with os.fdopen(open_output(baseline_out), "w", encoding="utf-8") as fh:
                json.dump(result.measurements.to_baseline(redact_command(title)), fh, indent=2)
                fh.write("\n")
        except OSError as exc:
            raise fail(f"cannot write baseline {baseline_out}: {reason_of(exc)}") from None


COMMAND = CommandSpec("gate", gate_command, HELP, order=60, context_settings={"allow_extra_args": True})
