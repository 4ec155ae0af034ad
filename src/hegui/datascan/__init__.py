"""Training-data compliance scanner (Art. 7; TC260-003 §5, §9.2).

``scan(paths, out_dir, pipeline)`` reads a corpus in streams, runs every document through the
same detectors as `Guard`, finds near-duplicates, applies the TC260 sampling protocol and writes
annotations, a manual-review sample and a report. Steps (`steps.py`) are separate from executors
(`executors.py`: local processes or Ray Data), after Hugging Face datatrove.
"""

from hegui.datascan.manifest import Manifest, ManifestError, check_manifest, load_manifest
from hegui.datascan.pipeline import Pipeline, run_shard
from hegui.datascan.readers import Document, ReaderError, ReaderOptions, ReadIssue, Shard, read_shard
from hegui.datascan.report import build_report, write_scan_report
from hegui.datascan.scan import ScanOptions, ScanResult, scan
from hegui.datascan.steps import GuardStep, MinHashStep, Record, SignalsStep, Step, default_steps

__all__ = [
    "Document", "GuardStep", "Manifest", "ManifestError", "MinHashStep", "Pipeline", "ReadIssue", "ReaderError",
    "ReaderOptions", "Record", "ScanOptions", "ScanResult", "Shard", "SignalsStep", "Step", "build_report",
    "check_manifest", "default_steps", "load_manifest", "read_shard", "run_shard", "scan", "write_scan_report",
]
