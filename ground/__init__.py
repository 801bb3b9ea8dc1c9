"""The ground every layer stands on: settings, the database engine, the Temporal client.

Any layer (``activities``, ``api``, ``workers``, tests) may import from here; this package imports
nothing of the bank's layers, so typed settings reach an activity without a back edge.
"""
