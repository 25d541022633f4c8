"""Statements of reasons shaped like the EU DSA's (Art. 17 and 24(5)).

Every automated or human decision of the moderators' side leaves one statement whose fields
carry the names of the DSA Transparency Database API (``decision_visibility``,
``decision_ground``, ``category``, ``automated_detection``, ...), so the export can be
submitted after an operator's review without re-mapping. Fields the database does not have
but Art. 17 wants in the notice to the user (redress) and our own bookkeeping travel with a
``consentry_`` prefix. ``docs/compliance.md`` maps each field to the DSA, the UK OSA and
18 U.S.C. 2258A.
"""

from __future__ import annotations

import csv
import io
import json
import uuid as uuidlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from plugin.storage.review_store import ReviewStore

# EU member states and the EEA: refusing to serve a media applies everywhere we serve it.
EEA = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
       "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
       "IS", "LI", "NO")

# Consentry bank category -> (DSA category, keyword, ground, legal ground or ToS ground).
CATEGORY_MAP: dict[str, tuple[str, str | None, str, str]] = {
    "csam": ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
             "DECISION_GROUND_ILLEGAL_CONTENT",
             "Directive 2011/93/EU Art. 5 and national criminal law"),
    "ncii": ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
             "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "DECISION_GROUND_ILLEGAL_CONTENT",
             "Directive (EU) 2024/1385 Art. 5 and national criminal law"),
    "nonconsensual_ai_edit": ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
                              "KEYWORD_NON_CONSENSUAL_ITEMS_DEEPFAKE",
                              "DECISION_GROUND_INCOMPATIBLE_CONTENT",
                              "Instance rules: no AI edits of a person's pictures without "
                              "their consent"),
    "terror": ("STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", "KEYWORD_TERRORIST_CONTENT",
               "DECISION_GROUND_ILLEGAL_CONTENT", "Regulation (EU) 2021/784"),
    "spam": ("STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE", None,
             "DECISION_GROUND_INCOMPATIBLE_CONTENT", "Instance rules: spam"),
    "other": ("STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE", None,
              "DECISION_GROUND_INCOMPATIBLE_CONTENT", "Instance rules"),
}
REDRESS = ("Internal complaint to the instance's moderators (DSA Art. 20); out-of-court "
           "dispute settlement (Art. 21); judicial redress under national law.")
AUTOMATED = {"fully": "AUTOMATED_DECISION_FULLY", "partially": "AUTOMATED_DECISION_PARTIALLY",
             "no": "AUTOMATED_DECISION_NOT_AUTOMATED"}

#: Column order of the CSV export (DSA names first, then ours).
EXPORT_FIELDS = (
    "uuid", "decision_visibility", "decision_account", "decision_ground",
    "decision_ground_reference_url", "illegal_content_legal_ground",
    "illegal_content_explanation", "incompatible_content_ground",
    "incompatible_content_explanation", "category", "category_specification", "content_type",
    "content_date", "application_date", "territorial_scope", "source_type",
    "automated_detection", "automated_decision", "decision_facts", "puid",
    "consentry_decision", "consentry_restrictive", "consentry_redress", "consentry_subject",
    "consentry_created_at")


def build_statement(*, decision: str, category: str, facts: str, puid: str,
                    automated_detection: bool, automated_decision: str, restrictive: bool,
                    content_date: datetime | None, application_date: datetime,
                    source_type: str = "SOURCE_VOLUNTARY",
                    account_action: str | None = None) -> dict[str, Any]:
    """The DSA-named fields of one statement (without uuid/time: the store adds them)."""
    dsa_category, keyword, ground, legal = CATEGORY_MAP.get(category, CATEGORY_MAP["other"])
    fields: dict[str, Any] = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"] if restrictive else [],
        "decision_ground": ground,
        "category": dsa_category,
        "category_specification": [keyword] if keyword else [],
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "content_date": (content_date or application_date).date().isoformat(),
        "application_date": application_date.date().isoformat(),
        "territorial_scope": list(EEA),
        "source_type": source_type,
        "automated_detection": "Yes" if automated_detection else "No",
        "automated_decision": AUTOMATED[automated_decision],
        "decision_facts": facts[:5000],
        "puid": puid[:500],
        "consentry_decision": decision,
        "consentry_redress": REDRESS,
    }
    if account_action in ("suspend", "silence"):
        fields["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
    if ground == "DECISION_GROUND_ILLEGAL_CONTENT":
        fields["illegal_content_legal_ground"] = legal
        fields["illegal_content_explanation"] = facts[:2000]
    else:
        fields["incompatible_content_ground"] = legal
        fields["incompatible_content_explanation"] = facts[:2000]
    return fields


def record_statement(store: ReviewStore, fields: dict[str, Any], *, item_id: int | None,
                     subject: str | None, restrictive: bool) -> str:
    uuid = str(uuidlib.uuid4())
    store.statement_add(uuid, {**fields, "consentry_restrictive": restrictive},
                        item_id=item_id, subject=subject, restrictive=restrictive)
    return uuid


def export_rows(statements: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for st in statements:
        yield {"uuid": st["uuid"], **st["fields"], "consentry_subject": st["subject"],
               "consentry_created_at": st["at"].isoformat()}


def to_jsonl(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, sort_keys=True) + "\n"


def to_csv(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV with list fields as JSON arrays (the Transparency Database's CSV convention)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({k: json.dumps(v) if isinstance(v, list) else v
                         for k, v in row.items()})
        yield buffer.getvalue()
