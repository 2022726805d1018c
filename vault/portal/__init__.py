"""The organisation portal (``kluis portal``): a separate app that is an OAuth client of any
Kluis instance. Staff ask applicants for data from templates; the portal keeps what it receives
encrypted for the promised time, then deletes it and says so with a signed statement.

Nothing here touches a vault's storage: the portal has its own SQLCipher database under
``KLUIS_PORTAL_HOME`` and talks to instances only over their public OAuth endpoints.
"""
