"""Data contracts: the declarative description of what each collectivity sends (spec 1.0).

The YAML files in this package are the single source of truth: `canonical/` defines the shared
entities, code lists and validation rules once; `layouts/<layout>/` maps each layout's native
columns and codes onto them; `sources/` says which layout each collectivity sends. Python reads
them only through `load_catalog()`, and pandera schemas are built from them in `schemas`.
"""

from data_contracts.loader import ContractError, load_catalog
from data_contracts.models import Catalog, Contract

__all__ = ["Catalog", "Contract", "ContractError", "load_catalog"]
