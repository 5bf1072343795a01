"""The audit log keeps who, what, when and why, but never a token or a UUID; the public
summary keeps counts per month and purpose category only."""

from __future__ import annotations

import json
import uuid

from sempervirens.admin import audit
from sempervirens.cli import main
from sempervirens.store import open_stores


def test_purposes_are_categorised_and_scrubbed():
    client_id = str(uuid.uuid4())
    assert audit.parse_purpose(None) == ("unspecified", None)
    assert audit.parse_purpose("Legal: court order 12") == ("legal", "Legal: court order 12")
    assert audit.parse_purpose("because I can") == ("other", "because I can")
    category, text = audit.parse_purpose(f"deletion: user {client_id} asked, token svt_0123456789ab_Zz-9_x\n")
    assert category == "deletion" and client_id not in text and "svt_" not in text and "\n" not in text
    assert client_id.replace("-", "") not in audit.parse_purpose(client_id.replace("-", ""))[1]
    assert len(audit.parse_purpose("x" * 10_000)[1]) == audit.MAX_PURPOSE
    # Printed by `admin audit`: no terminal escape (C0 or C1) and no reordering survives.
    scrubbed = audit.parse_purpose("legal: a\x1b[2Jb\x9b1mc\u202ed\u2066e")[1]
    assert scrubbed == "legal: a [2Jb 1mc d e"


def test_operator_reads_are_audited_and_summarised_without_names(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["init", *data]) == 0  # only init and serve create a store
    client_id = str(uuid.uuid4())
    assert main(["admin", "export", client_id, *data]) == 0
    assert json.loads(capsys.readouterr().out)["client_id"] == client_id
    assert main(["admin", "audit", "--purpose", "security: quarterly review by carol", *data]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["action"], e["category"], e["role"]) for e in entries] == [
        ("audit", "security", "admin"), ("export", "access-request", "admin")]
    assert entries[0]["holder"].startswith("cli:")
    assert client_id not in json.dumps(entries)

    stores = open_stores(tmp_path / "data")
    with stores.private.connect() as connection:
        summary = audit.public_summary(connection)
    stores.dispose()
    # The export is one person's request: audited above, not counted in public.
    assert [(r["purpose"], r["reads"]) for r in summary["private_reads"]] == [("security", 1)]
    assert "carol" not in json.dumps(summary) and "cli:" not in json.dumps(summary)
