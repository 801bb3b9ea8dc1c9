"""Access control: users, roles, permission sets and the permission catalogue (pure)."""
