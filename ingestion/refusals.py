"""Why a whole extract does not land: one `Refusal` per problem, with the French message the
collectivity reads. A refusal names the file, the column and the rule, never a value."""

from __future__ import annotations

from dataclasses import dataclass

from data_contracts import load_catalog


@dataclass(frozen=True)
class Refusal:
    rule: str
    file: str | None = None
    column: str | None = None
    detail: str | None = None
    found: int | None = None
    expected: int | None = None

    @property
    def message(self) -> str:
        template = load_catalog().refusals[self.rule]
        return template.format(
            file=self.file or "", column=self.column or "", detail=self.detail or "",
            found=self.found, expected=self.expected,
        )  # fmt: skip

    def as_dict(self) -> dict:
        return {"regle": self.rule, "fichier": self.file, "colonne": self.column,
                "detail": self.detail, "message": self.message}  # fmt: skip


class ExtractRefused(Exception):
    """Raised inside the landing of an extract; nothing of it lands."""

    def __init__(self, refusals: list[Refusal]):
        self.refusals = refusals
        super().__init__("; ".join(r.rule for r in refusals))
