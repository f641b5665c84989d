"""Compatibility: the lab's shared pieces, now in :mod:`.context`, :mod:`.recording`,
:mod:`.report` and :mod:`gan_atelier.viz` (figures). Kept for notebooks and scripts that
import ``gan_atelier.lab.common``; new code imports from those modules."""

from ..viz import compact_png, save_figure, save_grids_figure, show_grids, subplots
from .context import EVAL_SAMPLES, SCALES, TINY_IMAGES, LabContext, fixed_noise_images, sample_images
from .recording import BatchedStepRecorder, StepCpuClock, StepRecorder, gradient_norm, moving_average
from .report import LabResult, classify, fmt, markdown_table, metrics_notes, metrics_unavailable, score

__all__ = ["EVAL_SAMPLES", "SCALES", "TINY_IMAGES", "BatchedStepRecorder", "LabContext", "LabResult",
           "StepCpuClock", "StepRecorder", "classify", "compact_png", "fixed_noise_images", "fmt",
           "gradient_norm", "markdown_table", "metrics_notes", "metrics_unavailable", "moving_average",
           "sample_images", "save_figure", "save_grids_figure", "score", "show_grids", "subplots"]
