"""accelplan's command line: thin Click commands over the ``optimizer`` library.

Exit codes (shared/design/interface.md): 0 a plan was found; 1 no plan exists or none was found
(in time, or HiGHS failed); 2 bad input or usage; 3 an internal error (a bug: the message says
how to report it); 130 interrupted (Ctrl-C or SIGTERM; the best plan so far is kept unless
``--discard-on-interrupt``). No traceback reaches the user (set ACCELPLAN_DEBUG=1 to see one).
"""
from __future__ import annotations

import time

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402


def _process_seconds() -> float:
    """Seconds since this process started (interpreter start-up included), from /proc; 0
    where there is no /proc."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return max(float(uptime.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


STARTED_AT = time.perf_counter() - _process_seconds()
"""When this process started: a --time-limit is for the whole command, start-up included."""


def _interrupted_at_once(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM before any work that could be kept: stop now, nothing written."""
    os.write(2, b"error: interrupted; nothing was written\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_at_once)      # from the very start of the command
signal.signal(signal.SIGTERM, _interrupted_at_once)
import faulthandler  # noqa: E402

faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: every thread's stack

import functools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import threading  # noqa: E402
from typing import Any, Callable  # noqa: E402

import click

from optimizer.errors import (  # noqa: E402
    AccelplanError, InfeasibleError, InstanceError, Interrupted, SolverError, UsageError,
)
from optimizer.instance.overrides import parse_assignment  # noqa: E402

EXIT_OK, EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    finish(code)


def _release_process_resources() -> None:
    """What multiprocessing releases at a normal exit (its semaphores, its resource tracker),
    so that ending at once leaves nothing behind and no warning about leaked semaphores."""
    if "multiprocessing" not in sys.modules:
        return
    try:
        from multiprocessing import util
        util._run_finalizers(0)    # the finalizers its own atexit hook runs
    except Exception:  # noqa: BLE001 - best effort on the way out
        pass


def finish(code: int) -> None:
    """End the command with ``code``. Run as a program, it ends at once once its output is
    flushed: freeing a large model object by object takes seconds that no time limit counts
    (its results are already written, its children already ended). Called in-process (tests,
    a library's CliRunner), it raises SystemExit as usual."""
    if sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__ and \
            os.environ.get("ACCELPLAN_DEBUG") is None:
        sys.stdout.flush()
        sys.stderr.flush()
        _release_process_resources()
        os._exit(code)
    sys.exit(code)


def guarded(command: Callable) -> Callable:
    """Turn library errors into one-line messages and the contract's exit codes."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Interrupted as exc:
            _fail(str(exc), EXIT_INTERRUPTED)
        except InstanceError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except (InfeasibleError, SolverError) as exc:
            _fail(str(exc), EXIT_NO_PLAN)
        except UsageError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except AccelplanError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            _fail("interrupted before a plan was found; nothing was written", EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("ACCELPLAN_DEBUG"):
                raise
            _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with ACCELPLAN_DEBUG=1 "
                  "for a traceback and report it", EXIT_INTERNAL)
    return wrapper


# ---- options declared once, reused by every command that needs them -------------------------

class FiniteFloat(click.ParamType):
    """A finite number within bounds (NaN and infinities refused)."""

    name = "number"

    def __init__(self, low: float, high: float | None = None, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if number < self.low or (self.low_open and number == self.low):
            self.fail(f"{value} must be {'>' if self.low_open else '>='} {self.low:g}", param,
                      ctx)
        if self.high is not None and number > self.high:
            self.fail(f"{value} must be <= {self.high:g}", param, ctx)
        return number


def instance_options(command: Callable) -> Callable:
    """``--set PATH=VALUE``, ``--override FILE`` (both repeatable), ``--data-dir DIR`` and
    ``--max-input-mb N``."""
    command = click.option("--max-input-mb", type=FiniteFloat(0, low_open=True),
                           default=None, metavar="MB",
                           help="Largest instance or override file read (default 16 MB).")(
        command)
    command = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                           help="Also read CSV tables the instance names from this folder "
                                "(default: only the instance's own folder).")(command)
    command = click.option("--override", "override_files", multiple=True,
                           type=click.Path(dir_okay=False),
                           help="YAML fragment merged over the instance (repeatable).")(command)
    command = click.option("--set", "assignments", multiple=True, metavar="PATH=VALUE",
                           help="Override one field, e.g. sites.s1.grid_mw=80 or "
                                "demand_scale=1.5 (repeatable).")(command)
    return command


def solver_options(command: Callable) -> Callable:
    """Options every solving command takes."""
    for decorator in reversed([
        click.option("--time-limit", type=FiniteFloat(0, low_open=True), default=None,
                     help="Wall time of the whole command, in seconds; the best plan found "
                          "by then is returned."),
        click.option("--mip-gap", type=FiniteFloat(0, 1), default=1e-4,
                     show_default=True, help="Relative optimality gap to stop at."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Solver threads (default: HiGHS's choice)."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Solver random seed."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the summary as JSON on stdout, nothing else."),
    ]):
        command = decorator(command)
    return command


def parallel_options(command: Callable) -> Callable:
    """``--workers N``, ``--backend local|dask`` and ``--scheduler ADDRESS``."""
    for decorator in reversed([
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Solves at once: worker processes, or Dask workers (default: the "
                          "cores)."),
        click.option("--backend", type=click.Choice(["local", "dask"]), default="local",
                     show_default=True,
                     help="Run independent solves (sweep variants, scenario pieces) in local "
                          "processes or on a Dask cluster (no shared filesystem needed)."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler address (tcp://host:8786); none: a LocalCluster."),
    ]):
        command = decorator(command)
    return command


def parse_overrides(assignments: tuple[str, ...]) -> dict[str, Any]:
    """``("a.b=1", "demand_scale=2")`` -> ``{"a.b": 1, "demand_scale": 2}``."""
    return dict(parse_assignment(text) for text in assignments)


def _load(path: str, assignments: tuple[str, ...], override_files: tuple[str, ...],
          data_dir: str | None = None, max_input_mb: float | None = None):
    from optimizer.instance.loader import load_instance
    return load_instance(path, overrides=parse_overrides(assignments),
                         override_files=override_files, data_dir=data_dir,
                         max_bytes=None if max_input_mb is None else int(max_input_mb * 2**20))


STOP_GRACE_SECONDS = 4.2
"""After Ctrl-C or SIGTERM, how long the command may take to keep its best plan before it
ends anyway (with nothing written): it exits within this and a second's margin."""


def stop_on_signals(cancel: Any, output: str | None = None) -> None:
    """Ctrl-C and SIGTERM set ``cancel``: HiGHS stops at its next check and returns its best
    plan, the stages between check it too, and the plan so far is written. Nothing is raised
    inside the running code (an exception thrown into Pyomo or HiGHS's callbacks leaves them
    broken). Should the command not end within ``STOP_GRACE_SECONDS``, or a second signal
    come, it ends at once: a results directory half written is removed (it was staged beside
    ``output``, never in place), and the child processes end with it."""
    def leave() -> None:
        if output is not None:
            from pathlib import Path
            import shutil
            target = Path(output)
            for staging in target.parent.glob(f".{target.name}.*.tmp*"):
                shutil.rmtree(staging, ignore_errors=True)
        os.write(2, b"error: interrupted; stopped before the plan could be kept, nothing was "
                    b"written\n")
        os._exit(EXIT_INTERRUPTED)

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            leave()
        cancel.set()
        watchdog = threading.Timer(STOP_GRACE_SECONDS, leave)
        watchdog.daemon = True
        watchdog.start()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="accelplan")
def main() -> None:
    """accelplan: which accelerators to buy, where and how to cool them, period by period,
    so that forecast token demand is met at minimum total cost of ownership."""


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@instance_options
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@guarded
def validate(file: str, assignments: tuple[str, ...], override_files: tuple[str, ...],
             data_dir: str | None, max_input_mb: float | None, as_json: bool) -> None:
    """Load and check an instance FILE; print what it holds."""
    from optimizer.instance.describe import describe_instance
    description = describe_instance(_load(file, assignments, override_files, data_dir,
                                          max_input_mb))
    if as_json:
        click.echo(json.dumps(description, indent=2))
        return
    from optimizer.output.display import print_description
    print_description(description)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), default=None,
              help="Results directory to write (summary.json and CSV tables).")
@click.option("--force", is_flag=True,
              help="Replace an existing results directory (only a previous results "
                   "directory: a folder with other files is refused).")
@click.option("--report", "with_report", is_flag=True,
              help="Also write report.html into the results directory.")
@click.option("--keep-on-interrupt/--discard-on-interrupt", default=True, show_default=True,
              help="On Ctrl-C or SIGTERM, write the best plan found so far (marked "
                   "interrupted) or nothing.")
@click.option("--stochastic", "stochastic_method",
              type=click.Choice(["extensive", "decomposed", "ph"]), default="extensive",
              show_default=True,
              help="Scenario instances: one MILP of all scenarios; scenarios solved apart in "
                   "bundles (wait-and-see bound, candidate first stages evaluated in every "
                   "scenario); or Progressive Hedging on mpi-sppy in --workers MPI ranks "
                   "(a Lagrangian bound from 2 ranks, an xhat spoke from 3).")
@click.option("--scenarios", "scenario_count", type=click.IntRange(min=1), default=None,
              help="Sampled futures to plan against (replaces scenarios.sample.count).")
@click.option("--evaluate-count", type=click.IntRange(min=1), default=None,
              help="Futures of the independent draw a sampled plan is evaluated on "
                   "(default: as many as it was planned against).")
@click.option("--write-model", type=click.Path(dir_okay=False), default=None,
              metavar="FILE.mps|FILE.lp",
              help="Also write the exact matrix handed to the solver, with readable names, "
                   "as MPS or CPLEX LP (objective in the summary's scaling.money_unit); "
                   "--force replaces an existing file.")
@parallel_options
@click.option("--bundle-size", type=click.IntRange(min=1), default=3, show_default=True,
              help="Scenarios per bundle for --stochastic decomposed (1: wait-and-see bound "
                   "and EVPI).")
@instance_options
@solver_options
@guarded
def solve(file: str, output: str | None, force: bool, with_report: bool,
          keep_on_interrupt: bool, stochastic_method: str, scenario_count: int | None,
          evaluate_count: int | None, write_model: str | None, workers: int | None,
          backend: str, scheduler: str | None, bundle_size: int,
          assignments: tuple[str, ...], override_files: tuple[str, ...],
          data_dir: str | None, max_input_mb: float | None, time_limit: float | None,
          mip_gap: float, threads: int | None, seed: int | None, as_json: bool) -> None:
    """Build and solve the plan of instance FILE; print a summary; write the results directory."""
    from optimizer.planning import solve as solve_plan
    if with_report and output is None:
        raise UsageError("--report needs a results directory (-o DIR)")
    loading = time.perf_counter()
    if scenario_count is not None:
        assignments = assignments + (f"scenarios.sample.count={scenario_count}",)
    instance = _load(file, assignments, override_files, data_dir, max_input_mb)
    loaded = time.perf_counter()
    block = instance.spec.scenarios
    if scenario_count is not None and (block is None or block.sample is None):
        raise UsageError(f"--scenarios {scenario_count}: {file} has no scenarios.sample to "
                         "draw futures from")
    if evaluate_count is not None and (block is None or block.sample is None):
        raise UsageError(f"--evaluate-count: {file} has no sampled futures to evaluate")
    _warn(instance)
    if write_model is not None:
        check_model_file(write_model, force)

    def make_plan(cancel: Any) -> Any:
        plan = solve_plan(instance, time_limit=time_limit, mip_gap=mip_gap, threads=threads,
                          write_model=write_model,
                          seed=seed, stochastic_method=stochastic_method, workers=workers,
                          bundle_size=bundle_size, started_at=STARTED_AT, cancel=cancel,
                          evaluate_count=evaluate_count,
                          backend=backend, scheduler=scheduler)
        record_start_up(plan, loading, loaded)
        written = plan.summary.get("model_file")
        if written is not None:
            click.echo(f"model: wrote {written['path']} ({written['rows']:,} rows, "
                       f"{written['columns']:,} columns; objective in units of "
                       f"{written['objective_unit']:g} {instance.spec.currency})", err=True)
        elif write_model is not None:
            click.echo(f"model: not written to {write_model}: the pre-check found that no "
                       "plan can exist before a model was built", err=True)
        return plan
    _plan_and_write(make_plan, output, force, with_report, keep_on_interrupt, as_json)


def check_model_file(path: str, force: bool) -> None:
    """Refuse, before any work, a model file that cannot be written: a suffix other than
    .mps or .lp, a missing folder, an existing file without --force."""
    from pathlib import Path

    from optimizer.solver.highs import MODEL_FILE_SUFFIXES
    target = Path(path)
    if target.suffix.lower() not in MODEL_FILE_SUFFIXES:
        raise UsageError(f"--write-model {path}: the file must end in .mps or .lp")
    if not target.parent.is_dir():
        raise UsageError(f"--write-model {path}: folder {target.parent} does not exist")
    if target.exists() and not force:
        raise UsageError(f"--write-model {path}: exists; use --force to replace it")


def _warn(instance: Any) -> None:
    """What looks like a slip in the instance, on stderr (the summary records it too)."""
    from optimizer.instance.warnings import instance_warnings
    for warning in instance_warnings(instance.spec):
        click.echo(f"warning: {warning}", err=True)


def record_start_up(plan: Any, loading: float, loaded: float) -> None:
    """The command's own seconds in the summary's timings: the interpreter's start and the
    imports (from the process start to the load), and the instance's load."""
    timings = plan.summary.setdefault("timings", {})
    timings["imports_seconds"] = max(loading - STARTED_AT, 0.0)
    timings["load_seconds"] = loaded - loading


def _plan_and_write(make_plan: Callable[[Any], Any], output: str | None, force: bool,
                    with_report: bool, keep_on_interrupt: bool, as_json: bool) -> None:
    """Check the destination, run ``make_plan(cancel)`` with Ctrl-C and SIGTERM stopping it,
    write the results directory, print the summary and exit with the plan's code."""
    from optimizer.cancel import Cancel
    from optimizer.output.directories import check_destination
    from optimizer.output.results import summary_json
    if output is not None:
        check_destination(output, force)          # before any work: nothing is lost later
    cancel = Cancel()
    stop_on_signals(cancel, output)
    try:
        plan = make_plan(cancel)
    except InfeasibleError as exc:
        plan = getattr(exc, "plan", None)
        if output is not None and plan is not None:
            _write(plan, output, force)
        if as_json and plan is not None:
            click.echo(summary_json(plan.summary))
        raise
    interrupted = cancel.is_set()
    if interrupted:
        plan.summary["interrupted"] = True
    # interrupted, a run keeps its best plan or writes nothing (never a folder without one)
    keep = not interrupted or (keep_on_interrupt and plan.status.has_plan)
    if output is not None and keep:
        _write(plan, output, force, with_report and not interrupted)
    if as_json:
        click.echo(summary_json(plan.summary))
    else:
        from optimizer.output.display import print_plan
        print_plan(plan, output if keep else None)
    if interrupted:
        _fail("interrupted: " + ("the best plan found so far is kept" if plan.status.has_plan
                                 and output is not None and keep_on_interrupt
                                 else "no plan was written"), EXIT_INTERRUPTED)
    finish(plan.status.exit_code)


@main.command()
@click.argument("previous", type=click.Path(file_okay=False))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "from_period", required=True, metavar="PERIOD",
              help="First period of the new plan: what the previous plan did before it is "
                   "fact.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), default=None,
              help="Results directory to write.")
@click.option("--write-instance", type=click.Path(dir_okay=False), default=None,
              help="Also write the rolled-forward instance as YAML (to read and edit).")
@click.option("--force", is_flag=True, help="Replace an existing results directory.")
@click.option("--report", "with_report", is_flag=True, help="Also write report.html.")
@click.option("--keep-on-interrupt/--discard-on-interrupt", default=True, show_default=True,
              help="On Ctrl-C or SIGTERM, write the best plan found so far or nothing.")
@instance_options
@solver_options
@guarded
def replan(previous: str, file: str, from_period: str, output: str | None,
           write_instance: str | None, force: bool, with_report: bool, keep_on_interrupt: bool,
           assignments: tuple[str, ...], override_files: tuple[str, ...], data_dir: str | None,
           max_input_mb: float | None, time_limit: float | None, mip_gap: float,
           threads: int | None, seed: int | None, as_json: bool) -> None:
    """Re-plan today's instance FILE from --from PERIOD on, with what the plan in PREVIOUS
    (a results directory) delivered, ordered, built and opened before PERIOD as fact."""
    from optimizer.output.results import read_plan
    from optimizer.planning import solve as solve_plan
    from optimizer.studies.replan import attach_changes, rolled_instance, rolled_yaml
    if with_report and output is None:
        raise UsageError("--report needs a results directory (-o DIR)")
    from pathlib import Path
    if output is not None and Path(output).resolve() == Path(previous).resolve():
        raise UsageError(f"-o {output}: the previous plan's own directory; the re-plan would "
                         "replace the baseline it re-plans from (write it elsewhere)")
    earlier = read_plan(previous)
    instance = _load(file, assignments, override_files, data_dir, max_input_mb)
    today, rolled = rolled_instance(instance, earlier, from_period)
    if write_instance is not None:
        from optimizer.output.directories import why_not, write_file_atomically
        try:
            write_file_atomically(write_instance, rolled_yaml(rolled).encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"{write_instance}: cannot write the instance "
                             f"({why_not(exc)})") from None
    periods = list(instance.spec.horizon.periods)

    def make_plan(cancel: Any) -> Any:
        try:
            plan = solve_plan(today, time_limit=time_limit, mip_gap=mip_gap, threads=threads,
                              seed=seed, started_at=STARTED_AT, cancel=cancel)
        except InfeasibleError as exc:
            if getattr(exc, "plan", None) is not None:
                attach_changes(exc.plan, earlier, rolled, periods, previous)
            raise
        attach_changes(plan, earlier, rolled, periods, previous, today,
                       {"mip_gap": mip_gap, "threads": threads, "seed": seed})
        return plan
    _plan_and_write(make_plan, output, force, with_report, keep_on_interrupt, as_json)


def _write(plan: Any, output: str, force: bool, with_report: bool = False) -> None:
    """Write the results directory; on an output error, write the plan elsewhere and say
    where (a finished plan is never lost)."""
    from pathlib import Path

    from optimizer.output.directories import rescue_directory
    try:
        plan.write(output, force=force)
        if with_report:
            from optimizer.output.report import write_report
            write_report(output)
    except OSError as exc:
        rescue = rescue_directory(Path(output))
        plan.write(rescue)
        from optimizer.output.directories import why_not
        raise UsageError(f"{output}: cannot write the results ({why_not(exc)}); the "
                         f"plan was written to {rescue} instead") from None


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--vary", "varies", multiple=True, required=True, metavar="PATH=V1,V2,...",
              help="A field and its values (or START:STOP:STEP); repeat for a product.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), required=True,
              help="Sweep directory: sweep.csv and variants/NNNN/ results directories.")
@click.option("--force", is_flag=True, help="Replace an existing sweep directory.")
@click.option("--warm-start/--no-warm-start", default=True, show_default=True,
              help="Offer each variant's plan to the next as a MIP start.")
@click.option("--yes", is_flag=True, help="Run more than 100 variants without asking.")
@parallel_options
@instance_options
@solver_options
@guarded
def sweep(file: str, varies: tuple[str, ...], output: str, force: bool, warm_start: bool,
          yes: bool, workers: int | None,
          backend: str, scheduler: str | None, assignments: tuple[str, ...],
          override_files: tuple[str, ...], data_dir: str | None, max_input_mb: float | None,
          time_limit: float | None, mip_gap: float,
          threads: int | None, seed: int | None, as_json: bool) -> None:
    """Solve one variant of FILE per combination of --vary values; write sweep.csv."""
    from optimizer.studies.sweep import parse_vary, run_sweep, variant_grid
    variations = [parse_vary(text) for text in varies]
    base = parse_overrides(assignments)
    _load(file, assignments, override_files, data_dir, max_input_mb)   # valid before any work
    solver = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "seed": seed}
    total = len(variant_grid(variations))
    confirm_many(total, "variants", time_limit, yes)
    from optimizer.cancel import Cancel
    from optimizer.output.display import sweep_progress
    cancel = Cancel()
    stop_on_signals(cancel, output)
    with sweep_progress(total, enabled=not as_json) as advance:
        frame = run_sweep(file, variations, output, base_overrides=base,
                          override_files=override_files, solver=solver, workers=workers,
                          backend=backend, scheduler=scheduler, force=force, progress=advance,
                          data_dir=data_dir, max_bytes=None if max_input_mb is None
                          else int(max_input_mb * 2**20), warm_start=warm_start,
                          cancel=cancel)
    if as_json:
        click.echo(frame.to_json(orient="records"))
    else:
        from optimizer.output.display import print_sweep
        print_sweep(frame, [v.path for v in variations], output)
    finish_many(frame, "variant", cancel.is_set(), output)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--points", type=click.IntRange(min=2), default=5, show_default=True,
              help="Plans on the frontier, from the cheapest to the cleanest.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), required=True,
              help="Frontier directory: pareto.csv and points/NNNN/ results directories.")
@click.option("--force", is_flag=True, help="Replace an existing frontier directory.")
@click.option("--yes", is_flag=True, help="Run more than 100 points without asking.")
@click.option("--risk", is_flag=True,
              help="Expected NPV against CVaR instead of cost against carbon: the scenario "
                   "plan at cvar_weight 0 to 1 (evenly spaced).")
@parallel_options
@instance_options
@solver_options
@guarded
def pareto(file: str, points: int, output: str, force: bool, yes: bool, risk: bool,
           workers: int | None, backend: str,
           scheduler: str | None, assignments: tuple[str, ...], override_files: tuple[str, ...],
           data_dir: str | None, max_input_mb: float | None, time_limit: float | None,
           mip_gap: float, threads: int | None, seed: int | None, as_json: bool) -> None:
    """Cost against carbon: --points plans of FILE from the cheapest to the cleanest, the
    ones between under evenly spaced caps on total emissions; write pareto.csv."""
    from optimizer.studies.pareto import run_pareto
    from optimizer.studies.risk_frontier import run_risk_frontier
    _load(file, assignments, override_files, data_dir, max_input_mb)   # valid before any work
    run = run_risk_frontier if risk else run_pareto
    solver = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "seed": seed}
    confirm_many(points, "points", time_limit, yes)
    from optimizer.cancel import Cancel
    from optimizer.output.display import sweep_progress
    cancel = Cancel()
    stop_on_signals(cancel, output)
    with sweep_progress(points, enabled=not as_json, label="frontier") as advance:
        frame = run(file, points, output, overrides=parse_overrides(assignments),
                           override_files=override_files, solver=solver, workers=workers,
                           backend=backend, scheduler=scheduler, force=force, data_dir=data_dir,
                           max_bytes=None if max_input_mb is None else int(max_input_mb * 2**20),
                           progress=advance, cancel=cancel)
    if as_json:
        click.echo(frame.to_json(orient="records"))
    else:
        from optimizer.output.display import print_pareto
        print_pareto(frame, output)
    finish_many(frame, "point", cancel.is_set(), output)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--slack", "slacks", default="0.01,0.02,0.05", show_default=True,
              help="Slacks above the optimum's NPV, as fractions, comma-separated.")
@click.option("--by", "groups", default="vendor", show_default=True,
              help="Groups to range, comma-separated: vendor, site, cooling, accelerator.")
@click.option("--period", default=None, help="Period whose installed cards are ranged "
              "(default: the last).")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), required=True,
              help="Ranges directory: ranges.csv, optimum/ and ends/<end>/ results.")
@click.option("--force", is_flag=True, help="Replace an existing ranges directory.")
@click.option("--yes", is_flag=True, help="Run more than 100 range ends without asking.")
@click.option("--diverse", type=click.Choice(["vendor", "site"]), default=None,
              help="Also the most even plan within each slack: the smallest largest share of "
                   "installed cards in --period among vendors (or sites).")
@parallel_options
@instance_options
@solver_options
@guarded
def alternatives(file: str, slacks: str, groups: str, period: str | None, output: str,
                 force: bool, yes: bool, diverse: str | None, workers: int | None, backend: str,
                 scheduler: str | None, assignments: tuple[str, ...],
                 override_files: tuple[str, ...], data_dir: str | None,
                 max_input_mb: float | None, time_limit: float | None, mip_gap: float,
                 threads: int | None, seed: int | None, as_json: bool) -> None:
    """What else costs almost the same: for each slack and each member of each group, the
    least and the most cards installed in --period over every plan whose NPV is within the
    slack of the optimum's; write ranges.csv."""
    from optimizer.cancel import Cancel
    from optimizer.output.display import print_ranges, sweep_progress
    from optimizer.studies.alternatives import GROUPS, members, run_alternatives
    instance = _load(file, assignments, override_files, data_dir, max_input_mb)
    try:
        fractions = [float(x) for x in slacks.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--slack {slacks}: fractions, comma-separated (0.01,0.02)") from None
    chosen = [g.strip() for g in groups.split(",") if g.strip()]
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown or not chosen:
        raise UsageError(f"--by {groups}: groups are {', '.join(GROUPS)}")
    ends = 2 * len(fractions) * sum(len(members(instance.spec, g)) for g in chosen)
    confirm_many(ends, "range ends", time_limit, yes)
    solver = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "seed": seed}
    cancel = Cancel()
    stop_on_signals(cancel, output)
    with sweep_progress(ends + 1, enabled=not as_json, label="range ends") as advance:
        frame = run_alternatives(file, fractions, chosen, output, period=period,
                                 overrides=parse_overrides(assignments),
                                 override_files=override_files, solver=solver,
                                 workers=workers, backend=backend, scheduler=scheduler,
                                 force=force, data_dir=data_dir,
                                 max_bytes=None if max_input_mb is None
                                 else int(max_input_mb * 2**20), progress=advance,
                                 cancel=cancel, diverse=diverse)
    if as_json:
        click.echo(frame.to_json(orient="records"))
    else:
        print_ranges(frame, output)
    finish_many(frame, "member", cancel.is_set(), output)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--lose", "losses", multiple=True, metavar="vendor=NAME",
              help="A contingency: this vendor delivers nothing from --from on (repeatable: "
                   "one contingency each).")
@click.option("--each", type=click.Choice(["vendor"]), default=None,
              help="One contingency per vendor of the instance.")
@click.option("--from", "from_period", required=True,
              help="The period from which the vendor delivers nothing (decisions before it "
                   "stand).")
@click.option("--on-order", type=click.Choice(["arrive", "lost"]), default="arrive",
              show_default=True, help="Whether the vendor's cards already on order arrive.")
@click.option("--hedge", "hedge_probability", type=float, default=None, metavar="P",
              help="Also plan the periods before --from against the contingencies, each with "
                   "probability P (the rest: nothing lost); cards on order arrive.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), required=True,
              help="Directory: contingency.csv, optimum/, base-<from>/, lose-<vendor>-<from>/, "
                   "hedge/ and hedge.csv.")
@click.option("--force", is_flag=True, help="Replace an existing directory.")
@instance_options
@solver_options
@guarded
def contingency(file: str, losses: tuple[str, ...], each: str | None, from_period: str,
                on_order: str, hedge_probability: float | None, output: str, force: bool, assignments: tuple[str, ...],
                override_files: tuple[str, ...], data_dir: str | None,
                max_input_mb: float | None, time_limit: float | None, mip_gap: float,
                threads: int | None, seed: int | None, as_json: bool) -> None:
    """What losing a vendor would cost: the optimum's decisions before --from stand, the
    vendor delivers nothing from then on, the rest is re-optimised; write contingency.csv."""
    from optimizer.cancel import Cancel
    from optimizer.instance.loader import read_raw_instance
    from optimizer.studies.contingency import run_contingencies
    instance = _load(file, assignments, override_files, data_dir, max_input_mb)
    vendors = []
    for loss in losses:
        kind, _, name = loss.partition("=")
        if kind != "vendor" or not name:
            raise UsageError(f"--lose {loss}: give vendor=NAME")
        vendors.append(name)
    if each == "vendor":
        vendors += [v for v in sorted({a.vendor for a in instance.spec.accelerators.values()})
                    if v not in vendors]
    if not vendors:
        raise UsageError("name a contingency: --lose vendor=NAME or --each vendor")
    solver = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "seed": seed}
    cancel = Cancel()
    stop_on_signals(cancel, output)
    raw = read_raw_instance(file, override_files, data_dir).raw
    study = run_contingencies(instance, raw, vendors, from_period, on_order, hedge_probability,
                              output, force, solver, cancel)
    frame, hedge, spec = study.frame, study.hedge, instance.spec
    if as_json:
        click.echo(frame.to_json(orient="records"))
    else:
        from optimizer.output.display import print_contingencies, print_hedge
        print_contingencies(frame, spec.currency, output)
        if hedge is not None:
            print_hedge(hedge, spec.currency)
    if cancel.is_set():
        _fail(f"interrupted: written to {output}", EXIT_INTERRUPTED)
    finish(EXIT_OK)


MANY_SOLVES = 100
"""More solves than this in one sweep or frontier are confirmed first (or need --yes)."""


def confirm_many(count: int, what: str, time_limit: float | None, yes: bool) -> None:
    """Ask before an absurd count of solves (on a terminal), or refuse it without --yes."""
    if count <= MANY_SOLVES or yes:
        return
    each = f"up to {time_limit:g} s each" if time_limit else "no time limit on each"
    question = f"{count:,} {what} ({each}): run them all?"
    if sys.stdin.isatty() and sys.stderr.isatty():
        if click.confirm(question, default=False, err=True):
            return
        raise UsageError(f"{count:,} {what}: not run")
    raise UsageError(f"{count:,} {what} ({each}): more than {MANY_SOLVES}; pass --yes to run "
                     "them all")


def finish_many(frame: Any, what: str, interrupted: bool, output: str) -> None:
    """The exit code of a sweep or frontier: 130 when interrupted (the solves done are
    written), 1 when a solve failed or none has a plan, 0 otherwise; never 0 over a failure."""
    from optimizer.studies.sweep import FAILED, NOT_RUN
    status = frame["status"]
    if interrupted:
        done = int((status != NOT_RUN).sum())
        _fail(f"interrupted: {done} of {len(frame)} {what}s done, written to {output}",
              EXIT_INTERRUPTED)
    failed = frame[status.isin(FAILED)]
    if len(failed):
        first = failed.iloc[0]
        _fail(f"{len(failed)} {what}(s) failed, e.g. {what} {first[what]}: "
              f"{first.get('error', '')}", EXIT_NO_PLAN)
    finish(EXIT_OK if status.isin(["optimal", "feasible"]).any() else EXIT_NO_PLAN)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (the default serves this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True)
@click.option("--folder", type=click.Path(file_okay=False), default=".accelplan-studio",
              show_default=True, help="Where the studio keeps uploads and runs.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs solved at once.")
@guarded
def studio(files: tuple[str, ...], host: str, port: int, folder: str, workers: int) -> None:
    """Open the studio: what-ifs on FILES (default: the bundled instances) in a browser."""
    from pathlib import Path
    try:
        import uvicorn

        from optimizer.studio.app import create_app
    except ImportError as exc:
        raise UsageError(f"the studio needs its extra: pip install -e .[studio] ({exc})") from None
    chosen = list(files) or sorted(str(p) for p in (Path(__file__).resolve().parent
                                                   / "instances").glob("*.yaml"))
    app = create_app(chosen, folder, workers=workers)
    entries = app.state.catalog.all()
    uploaded = len(entries) - len(chosen)
    invalid = sum(1 for entry in entries if entry.error)
    click.echo(f"accelplan studio on http://{host}:{port}/ ({len(entries)} instances: "
               f"{len(chosen)} given, {uploaded} uploaded before"
               + (f", {invalid} invalid" if invalid else "") + f"; runs in {folder}/)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.argument("dir_a", type=click.Path(file_okay=False))
@click.argument("dir_b", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@guarded
def compare(dir_a: str, dir_b: str, as_json: bool) -> None:
    """What changed between two results directories: KPIs, purchases, sites."""
    from optimizer.studies.compare import compare_results
    comparison = compare_results(dir_a, dir_b)
    if as_json:
        from optimizer.output.results import summary_json
        click.echo(summary_json(comparison))
        return
    from optimizer.output.display import print_comparison
    print_comparison(comparison)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--format", "formats", type=click.Choice(["html", "xlsx", "both"]), default="html",
              show_default=True, help="report.html (plots), results.xlsx (a sheet per table), "
                                      "or both.")
@guarded
def report(directory: str, formats: str) -> None:
    """Write a self-contained report of a results (or sweep) DIRECTORY."""
    from optimizer.output.report import write_report, write_workbook
    if formats in ("html", "both"):
        click.echo(f"wrote {write_report(directory)}")
    if formats in ("xlsx", "both"):
        click.echo(f"wrote {write_workbook(directory)}")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--xlsx", is_flag=True, required=True, help="Write results.xlsx.")
@guarded
def export(directory: str, xlsx: bool) -> None:
    """Export a results DIRECTORY as one Excel workbook (a sheet per table)."""
    from optimizer.output.report import write_workbook
    click.echo(f"wrote {write_workbook(directory)}")


@main.command()
@click.option("--sites", type=click.IntRange(min=1), required=True, help="Number of sites.")
@click.option("--accelerators", type=click.IntRange(min=1), required=True,
              help="Number of accelerator SKUs.")
@click.option("--periods", type=click.IntRange(min=1), required=True,
              help="Number of periods (years up to 6, quarters beyond).")
@click.option("--workloads", type=click.IntRange(min=1), required=True,
              help="Number of workloads.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Instance file to write.")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option("--procurement", is_flag=True,
              help="Add lead times, deposits, memory fit, rentals, cards on order, a tariff "
                   "and a ban at realistic rates.")
@click.option("--energy", is_flag=True,
              help="Add grid carbon, water use and prices, supply contracts, a carbon price "
                   "and a loose carbon cap at realistic rates.")
@guarded
def generate(sites: int, accelerators: int, periods: int, workloads: int, seed: int,
             output: str, force: bool, procurement: bool, energy: bool) -> None:
    """Write a synthetic instance of a given size (for benchmarks and tests)."""
    from pathlib import Path

    from optimizer.instance.generator import generate_instance, instance_yaml
    target = Path(output)
    if target.exists() and not force:
        raise UsageError(f"{target}: exists; use --force to replace it")
    text = instance_yaml(generate_instance(sites, accelerators, periods, workloads, seed,
                                           procurement=procurement, energy=energy))
    staging = target.with_name(f".{target.name}.tmp")
    staging.write_text(text)
    staging.replace(target)
    click.echo(f"wrote {target} ({sites} sites, {accelerators} accelerators, {periods} periods, "
               f"{workloads} workloads, seed {seed})")


if __name__ == "__main__":  # pragma: no cover
    main()
