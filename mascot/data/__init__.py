"""Dataset loaders: EmpatheticDialogues and QMSum → ``contexts`` rows, damage reported."""

from mascot.data.empathetic import detect_layout, load_empathetic_dialogues
from mascot.data.issues import DataError, DataIssue, IngestReport, contexts_frame
from mascot.data.qmsum import load_qmsum
from mascot.data.sampling import sample_contexts
from mascot.data.valence import VALENCE, UnknownEmotion, valence

__all__ = [
    "VALENCE",
    "DataError",
    "DataIssue",
    "IngestReport",
    "UnknownEmotion",
    "contexts_frame",
    "detect_layout",
    "load_empathetic_dialogues",
    "load_qmsum",
    "sample_contexts",
    "valence",
]
