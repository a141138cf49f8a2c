"""Jurisdiction compliance rules (calling hours, frequency, third parties, disclosures, impersonation,
record keeping) as data packs under `qa/compliance/packs/`, evaluated over a call and its account history."""

from qa.assess.compliance.packs import (
           RulePack,
           RulePackError,
           available_packs,
           load_pack,
)
from qa.assess.compliance.rules import (
           CallFacts,
           PriorCall,
           as_utc,
           check_call,
           debtor_zone,
)

__all__ = ["CallFacts", "PriorCall", "RulePack", "RulePackError", "as_utc", "available_packs", "check_call",
           "debtor_zone", "load_pack"]
