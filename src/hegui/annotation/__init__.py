"""Annotation quality assurance (Interim Measures Art. 8; TC260-003 §5.3).

Rules (versioned, functional vs safety, the 31 risks covered), annotators (roles, qualification,
retraining, exams), batches (sampling plans, review import, accuracy with Wilson intervals,
agreement, accept / re-annotate / discard) and a report through the shared renderer whose JSON
feeds the assessment report's §5.3 row and the Art. 17 disclosure. See docs/annotation.md.
"""

from hegui.annotation._io import AnnotationError
from hegui.annotation.agreement import agreement, cohen_kappa, fleiss_kappa, krippendorff_alpha_nominal
from hegui.annotation.issues import Issue
from hegui.annotation.roster import Annotator, grade_exam, load_roster
from hegui.annotation.rules import RuleSet, check_rules, load_rules, parse_rules, rules_in_force
from hegui.annotation.sampling import MIN_SAMPLE, SamplingPlan, sample_items, sampling_plan

__all__ = [
    "MIN_SAMPLE", "AnnotationError", "Annotator", "Issue", "RuleSet", "SamplingPlan", "agreement",
    "check_rules", "cohen_kappa", "fleiss_kappa", "grade_exam", "krippendorff_alpha_nominal", "load_roster",
    "load_rules", "parse_rules", "rules_in_force", "sample_items", "sampling_plan",
]
