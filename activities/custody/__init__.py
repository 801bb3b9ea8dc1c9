"""Custody adapters: custodian clients (BitGo, Komainu, self-custody, manual, mock), the custodian
and wallet stores, webhook inbox and the wallet balance sync (custody-price-reports.md §1–§2)."""
