"""The finance overview: bank transactions categorised, and income and expenses per month.

Imports no Flask. ``rules`` holds the documented rule set, ``months`` the monthly
computation (pure functions over plain values), ``repository`` the SQL of what the
owner taught the categoriser (migration ``0006_finance``), and ``overview`` the
operations on an open vault: the overview, recategorising, and deriving the
``monthly-finances`` record. Amounts are integer euro cents throughout.
"""
