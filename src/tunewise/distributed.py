"""Several processes on the engines the field trusts: accelerate over torch.distributed.

Two things accelerate does not do for a CPU-only machine, handled here:

* ``accelerate launch --cpu --num_processes N`` starts ONE process (accelerate's CPU launcher
  only forks N processes through ``mpirun --mpirun_hostfile``; without it it runs the script
  once). :func:`accelerate_cpu_request` recognizes that situation from the parent
  ``accelerate launch`` command line (parsed with accelerate's own parser) and the CLI then
  starts the N processes with torch's launcher (``torch.distributed.run``, gloo), which is what
  ``torchrun --nproc_per_node N`` does.
* FSDP and DeepSpeed come through accelerate configs (``examples/accelerate/``); when the
  engine is missing or cannot run here, :func:`check_engine` says so in one line.
"""

from __future__ import annotations

import os
import sys

RELAUNCHED = "TUNEWISE_RELAUNCHED"
_DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def _true(name: str) -> bool:
    return os.environ.get(name, "false").lower() in ("1", "true", "yes")


def _launch_args(cmdline: list[str]):
    """accelerate's own parse of an ``accelerate launch ...`` command line, or None."""
    try:
        i = next(i for i, a in enumerate(cmdline) if a == "launch")
    except StopIteration:
        return None
    if not any(os.path.basename(a).startswith("accelerate") for a in cmdline[:i]):
        return None
    from accelerate.commands.launch import launch_command_parser

    try:
        args, _ = launch_command_parser().parse_known_args(cmdline[i + 1 :])
    except SystemExit:
        return None
    return args


def accelerate_cpu_request(parent_cmdline: list[str] | None = None) -> int | None:
    """How many processes an ``accelerate launch`` parent asked for when it started only this one.

    Returns N > 1 when this process runs alone (no torch.distributed/MPI rank in the
    environment) under an ``accelerate launch`` that asked for N processes on one machine;
    None otherwise (a real distributed launch, a plain run, or already relaunched).
    """
    if _true(RELAUNCHED) or any(k in os.environ for k in _DIST_ENV):
        return None
    if "ACCELERATE_MIXED_PRECISION" not in os.environ:  # set by every accelerate launcher
        return None
    if parent_cmdline is None:
        import psutil

        try:
            parent_cmdline = psutil.Process().parent().cmdline()
        except (psutil.Error, AttributeError):
            return None
    args = _launch_args(parent_cmdline)
    if args is None or getattr(args, "mpirun_hostfile", None):
        return None
    n = args.num_processes
    if n is None and getattr(args, "config_file", None):
        from accelerate.commands.config.config_args import load_config_from_file

        n = load_config_from_file(args.config_file).num_processes
    if not n or n < 2 or (args.num_machines or 1) > 1:
        return None
    if not args.cpu:
        import torch

        if torch.cuda.is_available():  # GPUs: accelerate's own launchers decide
            return None
    return int(n)


def torchrun_command(n: int, argv: list[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node N -m tunewise ARGV``."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(n),
        "-m",
        "tunewise",
        *argv,
    ]


def relaunch(n: int, argv: list[str]) -> None:
    """Replace this process by torch's launcher running ``tunewise ARGV`` in ``n`` processes."""
    print(
        f"note: `accelerate launch --cpu` starts one process without MPI; starting {n} with "
        f"torch.distributed.run (gloo), as `torchrun --nproc_per_node {n}` would",
        file=sys.stderr,
        flush=True,
    )
    os.environ[RELAUNCHED] = "1"
    cmd = torchrun_command(n, argv)
    os.execv(cmd[0], cmd)


def check_engine(has_gpu: bool) -> None:
    """Raise a UserError naming what to do when the launch asked for an engine unavailable here."""
    from importlib.util import find_spec

    from tunewise.errors import UserError

    if _true("ACCELERATE_USE_DEEPSPEED") and find_spec("deepspeed") is None:
        raise UserError(
            "this launch asked for DeepSpeed (accelerate config distributed_type: DEEPSPEED) but "
            "deepspeed is not installed; `pip install deepspeed` on a GPU machine, or launch "
            "with DDP: accelerate launch --num_processes N -m tunewise train ..."
        )
    if _true("ACCELERATE_USE_DEEPSPEED") and not has_gpu:
        raise UserError(
            "DeepSpeed needs GPUs and none is visible here; on CPU use DDP over gloo: "
            "accelerate launch --cpu --num_processes N -m tunewise train ..."
        )
    if _true("ACCELERATE_USE_FSDP") and not has_gpu:
        raise UserError(
            "FSDP (accelerate config distributed_type: FSDP) needs GPUs and none is visible "
            "here; on CPU use DDP over gloo: accelerate launch --cpu --num_processes N -m "
            "tunewise train ..."
        )
