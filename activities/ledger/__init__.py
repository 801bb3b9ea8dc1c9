"""The ledger's persistence: the only code that writes balances (design: docs/ledger.md).

Public API for other modules::

    from activities import ledger
    await ledger.create_account(conn, id=..., code=..., name=..., normal_balance="credit")
    await ledger.post(conn, "RECORD_DEPOSIT", {...}, idempotency_key=f"deposit:{id}:record")
    await ledger.post_many(conn, [ledger.Posting("TRANSFER", {...}, idempotency_key=...), ...])
    await ledger.balance(conn, account_id, "USD", as_of=None)
"""

from activities.ledger.accounts import (
    DEFAULT_JOURNAL_ID,
    AccountSpec,
    add_account_members,
    add_member,
    create_account,
    create_account_set,
    create_accounts,
    find_account_by_external_id,
    find_set_by_external_id,
    get_account,
    get_account_set,
    list_members,
    remove_member,
    set_account_status,
)
from activities.ledger.balances import (
    RangeBalance,
    account_balances,
    balance,
    current_balances,
    net_debits_as_of,
    net_debits_at,
    range_balances,
    set_balances,
)
from activities.ledger.history import entries, get_transaction
from activities.ledger.posting import PostedTransaction, Posting, PostingResult, post, post_many

__all__ = [
    "DEFAULT_JOURNAL_ID", "AccountSpec", "PostedTransaction", "Posting", "PostingResult", "RangeBalance",
    "account_balances", "add_account_members", "add_member", "balance", "create_account", "current_balances",
    "create_account_set", "create_accounts", "entries", "find_account_by_external_id",
    "find_set_by_external_id", "get_account", "get_account_set", "get_transaction", "list_members",
    "net_debits_as_of", "net_debits_at", "post", "post_many", "range_balances", "remove_member", "set_account_status",
    "set_balances",
]
