"""A custom import-linter contract: a set of modules may reach a package only through allowed modules.

Used for "a workflow imports only activity adapters (``activities.<module>.activity``) and the shared
boundary", which no built-in contract expresses (they cannot forbid "every module but these").
Registered in ``[tool.importlinter] contract_types``; ``lint-imports`` runs from the repository root.
"""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils
from importlinter.domain import helpers


class OnlyThroughContract(Contract):
    """source_modules may import modules of ``package`` only when they match ``allowed_modules``."""

    type_name = "only_through"

    source_modules = fields.ListField(subfield=fields.ModuleExpressionField())
    package = fields.StringField()
    allowed_modules = fields.ListField(subfield=fields.ModuleExpressionField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph, ignore_imports=self.ignore_imports,
            unmatched_alerting=contract_utils.AlertLevel.ERROR)
        sources = {m.name for m in helpers.module_expressions_to_modules(
            graph=graph, expressions=self.source_modules, as_packages=True)}
        allowed = {m.name for m in helpers.module_expressions_to_modules(
            graph=graph, expressions=self.allowed_modules, as_packages=False)}
        prefix = f"{self.package}."
        illegal = sorted(
            (importer, imported)
            for importer in sources
            for imported in graph.find_modules_directly_imported_by(importer)
            if (imported == self.package or imported.startswith(prefix)) and imported not in allowed
        )
        return ContractCheck(kept=not illegal, warnings=list(removal.warnings), metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported in check.metadata["illegal"]:
            output.print_error(f"{importer} -> {imported} (not an allowed module of {self.package})")
        output.new_line()
