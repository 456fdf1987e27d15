"""Multi-label article classification: regulation, adoption, mining (docs/LABELS.md).

* :mod:`.rules`: the taxonomy's phrase rules (``config/taxonomy.yml``): features, evidence and a baseline;
* :mod:`.entities`: jurisdictions, regulators and assets named in an article (``config/entities.yml``);
* :mod:`.features`, :mod:`.model`, :mod:`.classifier`: the learned model and how an article is read;
* :mod:`.train`: ``make train``; :mod:`.evaluate`: figures, cross-validation and error kinds.
"""

from .classifier import Classifier, classifier_version, classify_rows, get_classifier
from .evaluate import classify_jsonl, evaluate, format_evaluation
from .model import ModelError
from .rules import LABELS, Classification, RuleScorer, split_sentences

__all__ = [
    "LABELS",
    "Classification",
    "Classifier",
    "ModelError",
    "RuleScorer",
    "classifier_version",
    "classify_jsonl",
    "classify_rows",
    "evaluate",
    "format_evaluation",
    "get_classifier",
    "split_sentences",
]
