"""The project's exceptions, each with the exit code the CLI turns it into.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; the Python
API simply raises. The codes are documented in the README:

====  ===========================================================
 0    success
 1    unexpected error (a bug: please report it)
 2    bad usage or configuration (unknown key, bad value, bad name)
 3    invalid or missing data
 4    run folder conflict (exists, locked by another training)
 5    unusable checkpoint (corrupt, untrusted, wrong version)
 6    training stopped on a non-finite loss
 7    file system error while writing (disk full, unwritable folder)
 8    ``gan-atelier check``: the student's code has mistakes (each one named)
 9    data-parallel job failed: a rank died, hung, or could not join
130   interrupted by SIGINT (a checkpoint was written)
143   terminated by SIGTERM (a checkpoint was written)
====  ===========================================================
"""

from __future__ import annotations


class GanAtelierError(Exception):
    """Base class: every error the project raises on purpose."""

    exit_code = 1


class ConfigError(GanAtelierError, ValueError):
    """An unknown key, a value of the wrong type or outside its choices."""

    exit_code = 2


class DataError(GanAtelierError, ValueError):
    """A data file that is missing, malformed or not the file it claims to be."""

    exit_code = 3


class RunDirError(GanAtelierError):
    """A run folder that exists, escapes its parent, or is locked by another process."""

    exit_code = 4


class CheckpointError(GanAtelierError):
    """A checkpoint that cannot be trusted or loaded."""

    exit_code = 5


class NonFiniteLossError(GanAtelierError, FloatingPointError):
    """A loss became NaN or infinite; training stopped before the optimizer step."""

    exit_code = 6


class WriteError(GanAtelierError, OSError):
    """Writing an output failed (disk full, read-only or unwritable folder)."""

    exit_code = 7


class CheckFailed(GanAtelierError, AssertionError):
    """A student's code fails a check of :mod:`gan_atelier.checks`; the message names each mistake.

    In a notebook, IPython shows only the message (``_render_traceback_``), not the traceback
    through the checker's own code.
    """

    exit_code = 8

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


class DistributedError(GanAtelierError, RuntimeError):
    """Data-parallel training failed: a rank died or hung (collective timeout), or could not join."""

    exit_code = 9
