"""Garbage collection of blobs that no version names.

Publishing writes the blob before the version row commits (so a crash never leaves a row
without its bytes); a publish that then fails leaves an unreferenced blob. Those are what this
removes. Young blobs are spared (``grace``) because a publish may be between its blob write and
its commit; each candidate's references are checked once more right before it is deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session, select

from hub_server.models import Version, utcnow
from hub_server.storage import BlobStorage

log = logging.getLogger("hub.gc")


@dataclass
class GcReport:
    scanned: int = 0
    referenced: int = 0
    young: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False


def collect_garbage(
    session: Session,
    storage: BlobStorage,
    *,
    grace: timedelta = timedelta(hours=1),
    dry_run: bool = False,
) -> GcReport:
    """Remove blobs older than ``grace`` that no version references.

    Args:
        session: a database session.
        storage: the blob store.
        grace: blobs younger than this are kept (a publish may be about to commit them).
        dry_run: report what would be removed, remove nothing.

    Returns:
        What was scanned, kept and removed.
    """
    referenced = set(session.exec(select(Version.digest).distinct()))
    cutoff = utcnow() - grace
    report = GcReport(dry_run=dry_run)
    for blob in storage.iter_blobs():
        report.scanned += 1
        if blob.digest in referenced:
            report.referenced += 1
            continue
        if blob.modified > cutoff:
            report.young += 1
            continue
        still_named = session.exec(
            select(Version.id).where(Version.digest == blob.digest).limit(1)
        ).first()
        if still_named is not None:
            report.referenced += 1
            continue
        if not dry_run:
            storage.delete(blob.digest)
            log.info("removed unreferenced blob %s (%d bytes)", blob.digest, blob.size)
        report.removed.append(blob.digest)
        report.bytes_freed += blob.size
    return report
